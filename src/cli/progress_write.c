/* The progress report written out: CSV and JSON with one row per county
 * and a total, and one HTML page whose charts are inline SVG, so that it
 * opens anywhere with nothing loaded from anywhere. */
#include <stdlib.h>
#include <string.h>

#include "cjx/date.h"
#include "progress.h"

#define DAY_US (INT64_C(86400) * 1000000)

static const char *const state_names[PROGRESS_STATES] = {
    "unspecified", "identified", "notified",       "not_challenged",
    "challenged",  "ordered",    "history_updated"};
static const char *const order_names[PROGRESS_ORDERS] = {
    "unspecified", "denied", "reduce_to_misdemeanor", "reduce_to_infraction",
    "dismiss_and_seal"};

/* The statewide row: every county added up, histograms included. */
static int
total_of(const struct progress *p, struct progress_county *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "All counties");
    for (int h = 0; h < PROGRESS_HOPS; h++)
        if ((t->hop_days[h] =
                 calloc(PROGRESS_MAX_DAYS + 1, sizeof(uint32_t))) == NULL)
            return -1;
    for (int i = 0; i < p->n; i++) {
        const struct progress_county *c = &p->counties[i];
        t->cases += c->cases;
        for (int s = 0; s < PROGRESS_STATES; s++)
            t->by_state[s] += c->by_state[s];
        t->notified += c->notified;
        t->not_challenged += c->not_challenged;
        t->challenged += c->challenged;
        t->lapsed += c->lapsed;
        for (int o = 0; o < PROGRESS_ORDERS; o++)
            t->orders[o] += c->orders[o];
        t->records_updated += c->records_updated;
        for (int h = 0; h < PROGRESS_HOPS; h++) {
            t->overdue[h] += c->overdue[h];
            t->hop_n[h] += c->hop_n[h];
            for (int d = 0; d <= PROGRESS_MAX_DAYS; d++)
                t->hop_days[h][d] += c->hop_days[h][d];
        }
    }
    return 0;
}

static void
total_free(struct progress_county *t)
{
    for (int h = 0; h < PROGRESS_HOPS; h++)
        free(t->hop_days[h]);
}

static void
date_of(int64_t us, char *buf, size_t len)
{
    int y, m, d;
    cjx_date_from_days(us / DAY_US, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

/* ---- CSV ------------------------------------------------------------- */

static void
csv_row(FILE *out, const struct progress_county *c)
{
    /* County names are letters and spaces (the agency registry's); a comma
     * or quote would still be quoted. */
    if (strpbrk(c->name, ",\"") != NULL) {
        fputc('"', out);
        for (const char *s = c->name; *s; s++)
            fprintf(out, *s == '"' ? "\"\"" : "%c", *s);
        fputc('"', out);
    } else {
        fputs(c->name, out);
    }
    fprintf(out, ",%ld", c->cases);
    for (int s = 1; s < PROGRESS_STATES; s++)
        fprintf(out, ",%ld", c->by_state[s]);
    fprintf(out, ",%ld,%ld,%ld,%ld", c->notified, c->not_challenged,
            c->challenged, c->lapsed);
    for (int o = 1; o < PROGRESS_ORDERS; o++)
        fprintf(out, ",%ld", c->orders[o]);
    fprintf(out, ",%ld", c->records_updated);
    for (int h = 0; h < PROGRESS_HOPS; h++)
        fprintf(out, ",%ld", c->overdue[h]);
    for (int h = 0; h < PROGRESS_HOPS; h++) {
        int m = progress_median_days(c, (enum progress_hop)h);
        if (m < 0)
            fputs(",", out);
        else
            fprintf(out, ",%d", m);
    }
    fputc('\n', out);
}

int
progress_write_csv(const struct progress *p, FILE *out)
{
    fputs("county,cases", out);
    for (int s = 1; s < PROGRESS_STATES; s++)
        fprintf(out, ",now_%s", state_names[s]);
    fputs(",notified,not_challenged,challenged,lapsed", out);
    for (int o = 1; o < PROGRESS_ORDERS; o++)
        fprintf(out, ",orders_%s", order_names[o]);
    fputs(",records_updated", out);
    for (int h = 0; h < PROGRESS_HOPS; h++)
        fprintf(out, ",overdue_%s", progress_hop_name((enum progress_hop)h));
    for (int h = 0; h < PROGRESS_HOPS; h++)
        fprintf(out, ",median_days_%s",
                progress_hop_name((enum progress_hop)h));
    fputc('\n', out);
    for (int i = 0; i < p->n; i++)
        csv_row(out, &p->counties[i]);
    struct progress_county t;
    int rc = total_of(p, &t);
    if (rc == 0)
        csv_row(out, &t);
    total_free(&t);
    return rc != 0 || ferror(out) ? -1 : 0;
}

/* ---- JSON ------------------------------------------------------------ */

static void
json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\u%04x", *s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void
json_county(FILE *out, const struct progress_county *c)
{
    fputs("{\"county\": ", out);
    json_string(out, c->name);
    fprintf(out, ", \"cases\": %ld, \"now\": {", c->cases);
    for (int s = 1; s < PROGRESS_STATES; s++)
        fprintf(out, "%s\"%s\": %ld", s > 1 ? ", " : "", state_names[s],
                c->by_state[s]);
    fprintf(out,
            "}, \"notified\": %ld, \"not_challenged\": %ld, \"challenged\": "
            "%ld, \"lapsed\": %ld, \"orders\": {",
            c->notified, c->not_challenged, c->challenged, c->lapsed);
    for (int o = 1; o < PROGRESS_ORDERS; o++)
        fprintf(out, "%s\"%s\": %ld", o > 1 ? ", " : "", order_names[o],
                c->orders[o]);
    fprintf(out, "}, \"records_updated\": %ld, \"overdue\": {",
            c->records_updated);
    for (int h = 0; h < PROGRESS_HOPS; h++)
        fprintf(out, "%s\"%s\": %ld", h ? ", " : "",
                progress_hop_name((enum progress_hop)h), c->overdue[h]);
    fputs("}, \"median_days\": {", out);
    for (int h = 0; h < PROGRESS_HOPS; h++) {
        int m = progress_median_days(c, (enum progress_hop)h);
        fprintf(out, "%s\"%s\": ", h ? ", " : "",
                progress_hop_name((enum progress_hop)h));
        if (m < 0)
            fputs("null", out);
        else
            fprintf(out, "%d", m);
    }
    fputs("}}", out);
}

int
progress_write_json(const struct progress *p, FILE *out)
{
    char from[16], to[16];
    date_of(p->from_us, from, sizeof(from));
    date_of(p->to_us - 1, to, sizeof(to));
    fprintf(out,
            "{\"from\": \"%s\", \"to\": \"%s\", \"bucket_days\": %d, "
            "\"counties\": [",
            from, to, p->bucket_days);
    for (int i = 0; i < p->n; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        json_county(out, &p->counties[i]);
    }
    fputs("],\n \"total\": ", out);
    struct progress_county t;
    int rc = total_of(p, &t);
    if (rc == 0)
        json_county(out, &t);
    total_free(&t);
    fputs(",\n \"throughput\": {", out);
    for (int h = 0; h < PROGRESS_HOPS; h++) {
        fprintf(out, "%s\"%s\": [", h ? ", " : "",
                progress_hop_name((enum progress_hop)h));
        for (int b = 0; b < p->n_buckets; b++)
            fprintf(out, "%s%ld", b ? ", " : "", p->throughput[h][b]);
        fputc(']', out);
    }
    fputs("}}\n", out);
    return rc != 0 || ferror(out) ? -1 : 0;
}
