/* The screen of `cjxctl status`, laid out like `systemctl status`: a title
 * line, then one labelled line (or block) per part of the daemon. */
#include "status_print.h"

#include <inttypes.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/v1/agency.pb-c.h"
#include "cli.h"

/* "3d 4h", "2h 5m", "7m 12s", "42s": the two largest units. */
static const char *
span_text(int64_t seconds, char *buf, size_t len)
{
    static const struct {
        int64_t s;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    int64_t s = seconds < 0 ? -seconds : seconds;
    size_t i = 0;
    while (i < 3 && s < units[i].s)
        i++;
    int64_t big = s / units[i].s, rest = s % units[i].s;
    if (i < 3 && rest / units[i + 1].s > 0)
        snprintf(buf, len, "%" PRId64 "%s %" PRId64 "%s", big, units[i].unit,
                 rest / units[i + 1].s, units[i + 1].unit);
    else
        snprintf(buf, len, "%" PRId64 "%s", big, units[i].unit);
    return buf;
}

/* "1.5 MiB": sizes as people read them. */
static const char *
size_text(int64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRId64 " B", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

/* The label column, right-aligned as systemctl does; an empty name
 * continues the block above. */
static void
label(FILE *out, const char *name)
{
    if (name[0] != '\0')
        fprintf(out, "%12s: ", name);
    else
        fprintf(out, "%14s", "");
}

static int
print_peers(FILE *out, const Cjx__V1__DaemonStatus *st, int64_t now_s)
{
    int warnings = 0;
    if (st->n_peers == 0) {
        label(out, "Peers");
        fprintf(out, "none\n");
    }
    for (size_t i = 0; i < st->n_peers; i++) {
        const Cjx__V1__PeerStatus *p = st->peers[i];
        char reach[64], outbox[128], age[32];
        if (p->reachable)
            snprintf(reach, sizeof(reach), "reachable");
        else
            snprintf(reach, sizeof(reach), "UNREACHABLE (%d failed calls)",
                     p->failed_calls);
        int n = snprintf(outbox, sizeof(outbox), "outbox %" PRId64,
                         p->outbox_pending);
        if (p->outbox_pending > 0 && p->oldest_pending_unix_us > 0)
            n +=
                snprintf(outbox + n, sizeof(outbox) - (size_t)n, " (oldest %s)",
                         span_text(now_s - p->oldest_pending_unix_us / 1000000,
                                   age, sizeof(age)));
        if (p->outbox_parked > 0)
            snprintf(outbox + n, sizeof(outbox) - (size_t)n,
                     ", %" PRId64 " parked", p->outbox_parked);
        label(out, i == 0 ? "Peers" : "");
        fprintf(out, "%s %-24s %s, %s\n", p->ori, p->endpoint, reach, outbox);
        warnings += !p->reachable + (p->outbox_parked > 0);
    }
    return warnings;
}

static int
print_expiries(FILE *out, const Cjx__V1__DaemonStatus *st, int64_t now_s)
{
    int warnings = 0;
    if (st->n_expiries == 0) {
        label(out, "Expiries");
        fprintf(out, "none found\n");
    }
    for (size_t i = 0; i < st->n_expiries; i++) {
        const Cjx__V1__ExpiryStatus *e = st->expiries[i];
        char when[40], left[32];
        cjx_clock_format_utc(e->not_after_unix_s * 1000000, when, sizeof(when));
        when[10] = '\0'; /* the date is enough */
        int64_t in = e->not_after_unix_s - now_s;
        label(out, i == 0 ? "Expiries" : "");
        fprintf(out, "%-4s %s %s (%s %s%s)", e->kind, when, e->subject,
                in < 0 ? "expired" : "in", span_text(in, left, sizeof(left)),
                in < 0 ? " ago" : "");
        if (in < (int64_t)STATUS_EXPIRY_WARN_DAYS * 86400) {
            fprintf(out, "  WARNING: %s", in < 0 ? "expired" : "renew soon");
            warnings++;
        }
        fprintf(out, "\n");
    }
    return warnings;
}

int
status_print(FILE *out, const Cjx__V1__DaemonStatus *st)
{
    int64_t now_s = st->now_unix_us / 1000000;
    const Cjx__V1__Agency *a = st->agency;
    char buf[64], since[40];
    if (a != NULL)
        fprintf(out, "* cjxd %s - %s (%s%s%s)\n", a->ori, a->display_name,
                cli_enum_short(&cjx__v1__agency_role__descriptor, a->role),
                a->county[0] != '\0' ? ", " : "", a->county);
    label(out, "Version");
    fprintf(out, "%s\n", st->version);
    cjx_clock_format_utc(st->started_unix_us, since, sizeof(since));
    label(out, "Uptime");
    fprintf(out, "%s, since %s\n",
            span_text(now_s - st->started_unix_us / 1000000, buf, sizeof(buf)),
            since);
    label(out, "Rule sets");
    if (st->n_rule_sets == 0)
        fprintf(out, "none (structural checks only)\n");
    for (size_t i = 0; i < st->n_rule_sets; i++) {
        if (i > 0)
            label(out, "");
        fprintf(out, "%s %s (%s)\n", st->rule_sets[i]->name,
                st->rule_sets[i]->version, st->rule_sets[i]->message_type);
    }
    int warnings = print_peers(out, st, now_s);
    warnings += print_expiries(out, st, now_s);
    label(out, "Store");
    fprintf(out, "%s\n", size_text(st->store_bytes, buf, sizeof(buf)));
    label(out, "Audit");
    fprintf(out, "head %" PRId64 ", ", st->audit_last_seq);
    if (st->audit_checkpoint_seq == 0)
        fprintf(out, "no checkpoint yet\n");
    else
        fprintf(out, "last checkpoint at %" PRId64 ", %s ago\n",
                st->audit_checkpoint_seq,
                span_text(now_s - st->audit_checkpoint_unix_us / 1000000, buf,
                          sizeof(buf)));
    return warnings;
}
