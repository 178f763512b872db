/* The `exchange` section of the daemon configuration: workflow deadlines,
 * peer delivery and the stand-in policies of the agencies' case systems. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/date.h"
#include "conf_internal.h"
#include "yaml_walk.h"

#define US_PER_SECOND INT64_C(1000000)
#define US_PER_DAY    (86400 * US_PER_SECOND)

void
cjx_conf_exchange_defaults(struct cjx_exchange_conf *x)
{
    memset(x, 0, sizeof(*x));
    x->statutory = 1;
    x->decision_grace_us = 7 * US_PER_DAY;
    x->max_clock_skew_us = 300 * US_PER_SECOND;
    x->delivery_batch = 500;
    x->delivery_streams = 2;
    x->delivery_timeout_ms = 30000;
    x->retry_initial_ms = 200;
    x->retry_max_ms = 60000;
}

void
cjx_conf_exchange_fini(struct cjx_exchange_conf *x)
{
    for (size_t i = 0; i < x->standin_n_challenge_flags; i++)
        free(x->standin_challenge_flags[i]);
    x->standin_n_challenge_flags = 0;
}

/* Day of the month of the n-th (1-based) Sunday of a month, or of the last
 * one with n = 0. */
static int
sunday_of(int year, int month, int n)
{
    /* 1970-01-01 was a Thursday: (days + 4) % 7 == 0 on Sundays. */
    if (n > 0) {
        int64_t first = cjx_date_to_days(year, month, 1);
        int dow = (int)(((first + 4) % 7 + 7) % 7);
        return 1 + (7 - dow) % 7 + 7 * (n - 1);
    }
    int last = cjx_date_days_in_month(year, month);
    int64_t d = cjx_date_to_days(year, month, last);
    int dow = (int)(((d + 4) % 7 + 7) % 7);
    return last - dow;
}

/* Whether 23:59 local time on the day is daylight time in California (US
 * rules: since 2007 from the second Sunday of March to the first Sunday of
 * November, before that from the first Sunday of April to the last Sunday
 * of October). */
static int
pacific_daylight(int year, int month, int day)
{
    int sm, sd, em, ed;
    if (year >= 2007) {
        sm = 3, sd = sunday_of(year, 3, 2), em = 11,
        ed = sunday_of(year, 11, 1);
    } else {
        sm = 4, sd = sunday_of(year, 4, 1), em = 10,
        ed = sunday_of(year, 10, 0);
    }
    int64_t d = cjx_date_to_days(year, month, day);
    return d >= cjx_date_to_days(year, sm, sd) &&
           d < cjx_date_to_days(year, em, ed);
}

int64_t
cjx_conf_end_of_day_pacific_us(int year, int month, int day)
{
    int offset_h = pacific_daylight(year, month, day) ? -7 : -8;
    int64_t next_midnight =
        (cjx_date_to_days(year, month, day) + 1) * US_PER_DAY;
    return next_midnight - offset_h * 3600 * US_PER_SECOND - 1;
}

/* Reads "YYYY-MM-DD" as the last microsecond of that day in California. */
static int
read_date(struct cjx_conf_yaml *y, yaml_node_t *node, const char *what,
          int64_t *out, struct cjx_errbuf *eb)
{
    char *s;
    int rc = cjx_conf_yaml_string(y, node, what, 0, &s, eb);
    if (rc != 0)
        return rc;
    int year, month, day, used = 0;
    int ok = sscanf(s, "%4d-%2d-%2d%n", &year, &month, &day, &used) == 3 &&
             used == 10 && s[10] == '\0' &&
             cjx_date_is_valid(year, month, day) && year >= 1970;
    free(s);
    if (!ok)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: expected a date YYYY-MM-DD (from "
                                  "1970)",
                                  what);
    *out = cjx_conf_end_of_day_pacific_us(year, month, day);
    return 0;
}

static int
parse_deadline(struct cjx_conf_yaml *y, yaml_node_t *node, const char *what,
               struct cjx_conf_deadline *d, struct cjx_errbuf *eb)
{
    enum { D_DAYS, D_HOURS, D_NOT_AFTER, D_N };
    struct cjx_conf_yaml_key keys[D_N] = {
        [D_DAYS] = {"days", 0, NULL, NULL},
        [D_HOURS] = {"hours", 0, NULL, NULL},
        [D_NOT_AFTER] = {"not_after", 0, NULL, NULL},
    };
    char name[96];
    memset(d, 0, sizeof(*d));
    int rc = cjx_conf_yaml_mapping(y, node, what, keys, D_N, eb);
    if (rc == 0 && keys[D_DAYS].value != NULL && keys[D_HOURS].value != NULL)
        return cjx_conf_yaml_errf(y, keys[D_HOURS].key, CJX_EPARSE, eb,
                                  "%s: give days or hours, not both", what);
    if (rc == 0 && keys[D_DAYS].value != NULL) {
        int days;
        snprintf(name, sizeof(name), "%s.days", what);
        rc =
            cjx_conf_yaml_int(y, keys[D_DAYS].value, name, 1, 36500, &days, eb);
        d->window_us = (int64_t)days * US_PER_DAY;
    }
    if (rc == 0 && keys[D_HOURS].value != NULL) {
        int hours;
        snprintf(name, sizeof(name), "%s.hours", what);
        rc = cjx_conf_yaml_int(y, keys[D_HOURS].value, name, 1, 876000, &hours,
                               eb);
        d->window_us = (int64_t)hours * 3600 * US_PER_SECOND;
    }
    if (rc == 0 && keys[D_NOT_AFTER].value != NULL) {
        snprintf(name, sizeof(name), "%s.not_after", what);
        rc = read_date(y, keys[D_NOT_AFTER].value, name, &d->not_after_us, eb);
    }
    return rc;
}

static int
parse_deadlines(struct cjx_conf_yaml *y, yaml_node_t *node,
                struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    static const char *const names[] = {"notice", "review",
                                        "order_unchallenged",
                                        "order_challenged", "history_update"};
    struct cjx_conf_deadline *dst[] = {
        &x->notice, &x->review, &x->order_unchallenged, &x->order_challenged,
        &x->history_update};
    struct cjx_conf_yaml_key keys[5];
    for (int i = 0; i < 5; i++)
        keys[i] = (struct cjx_conf_yaml_key){names[i], 0, NULL, NULL};
    int rc = cjx_conf_yaml_mapping(y, node, "exchange.deadlines", keys, 5, eb);
    for (int i = 0; rc == 0 && i < 5; i++) {
        char what[64];
        snprintf(what, sizeof(what), "exchange.deadlines.%s", names[i]);
        if (keys[i].value != NULL)
            rc = parse_deadline(y, keys[i].value, what, dst[i], eb);
    }
    x->statutory = 0;
    return rc;
}

/* Reads a scalar that must be one of words[0..n); *out is its index. */
static int
read_word(struct cjx_conf_yaml *y, yaml_node_t *node, const char *what,
          const char *const *words, int n, int *out, struct cjx_errbuf *eb)
{
    char *s;
    int rc = cjx_conf_yaml_string(y, node, what, 0, &s, eb);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n; i++) {
        if (strcmp(s, words[i]) == 0) {
            free(s);
            *out = i;
            return 0;
        }
    }
    char expected[200] = "";
    for (int i = 0; i < n; i++)
        snprintf(expected + strlen(expected),
                 sizeof(expected) - strlen(expected), "%s%s",
                 i == 0       ? ""
                 : i == n - 1 ? " or "
                              : ", ",
                 words[i]);
    char q[64];
    rc = cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                            "%s: unknown value '%s' (expected %s)", what,
                            cjx_conf_yaml_quote(node, q, sizeof(q)), expected);
    free(s);
    return rc;
}

/* A rule id: what a rule file may name a validation. */
static int
flag_name_valid(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

static int
parse_flags(struct cjx_conf_yaml *y, yaml_node_t *node,
            struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    const char *what = "exchange.stand_in.prosecutor.challenge_flags";
    int rc = cjx_conf_yaml_sequence(y, node, what, eb);
    if (rc != 0)
        return rc;
    size_t n = (size_t)(node->data.sequence.items.top -
                        node->data.sequence.items.start);
    if (n > CJX_STANDIN_MAX_FLAGS)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: at most %d flags", what,
                                  CJX_STANDIN_MAX_FLAGS);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item =
            cjx_conf_yaml_node(y, node->data.sequence.items.start[i]);
        char *s;
        if (item == NULL)
            return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                      "%s: malformed sequence", what);
        rc = cjx_conf_yaml_string(y, item, what, 0, &s, eb);
        if (rc != 0)
            return rc;
        if (!flag_name_valid(s)) {
            free(s);
            return cjx_conf_yaml_errf(y, item, CJX_EPARSE, eb,
                                      "%s: not a rule id (letters, digits, "
                                      "'_', '.', '-'; at most 64)",
                                      what);
        }
        x->standin_challenge_flags[x->standin_n_challenge_flags++] = s;
    }
    return 0;
}

static int
parse_prosecutor(struct cjx_conf_yaml *y, yaml_node_t *node,
                 struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    enum { P_ELIGIBLE, P_FLAGS, P_REVIEW, P_N };
    struct cjx_conf_yaml_key keys[P_N] = {
        [P_ELIGIBLE] = {"eligible", 0, NULL, NULL},
        [P_FLAGS] = {"challenge_flags", 0, NULL, NULL},
        [P_REVIEW] = {"human_review", 0, NULL, NULL},
    };
    static const char *const eligible[] = {"pending", "no_challenge"};
    static const char *const review[] = {"pending", "floor"};
    int rc = cjx_conf_yaml_mapping(y, node, "exchange.stand_in.prosecutor",
                                   keys, P_N, eb);
    int v;
    x->standin_prosecutor = 1;
    x->standin_eligible = CJX_STANDIN_NO_CHALLENGE;
    x->standin_human_review = CJX_STANDIN_PENDING;
    if (rc == 0 && keys[P_ELIGIBLE].value != NULL &&
        (rc = read_word(y, keys[P_ELIGIBLE].value,
                        "exchange.stand_in.prosecutor.eligible", eligible, 2,
                        &v, eb)) == 0)
        x->standin_eligible = (enum cjx_standin_review)v;
    if (rc == 0 && keys[P_REVIEW].value != NULL &&
        (rc = read_word(y, keys[P_REVIEW].value,
                        "exchange.stand_in.prosecutor.human_review", review, 2,
                        &v, eb)) == 0)
        x->standin_human_review = (enum cjx_standin_review)v;
    if (rc == 0 && keys[P_FLAGS].value != NULL)
        rc = parse_flags(y, keys[P_FLAGS].value, x, eb);
    return rc;
}

static int
parse_court(struct cjx_conf_yaml *y, yaml_node_t *node,
            struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    enum { C_UNCHALLENGED, C_CHALLENGED, C_N };
    struct cjx_conf_yaml_key keys[C_N] = {
        [C_UNCHALLENGED] = {"unchallenged", 0, NULL, NULL},
        [C_CHALLENGED] = {"challenged", 0, NULL, NULL},
    };
    /* Indexes are enum cjx_standin_order values. */
    static const char *const orders[] = {"pending", "accepted", "deny", "floor",
                                         "relief"};
    int rc = cjx_conf_yaml_mapping(y, node, "exchange.stand_in.court", keys,
                                   C_N, eb);
    int v;
    x->standin_court = 1;
    x->standin_unchallenged = CJX_STANDIN_ORDER_ACCEPTED;
    x->standin_challenged = CJX_STANDIN_ORDER_NONE;
    if (rc == 0 && keys[C_UNCHALLENGED].value != NULL &&
        (rc = read_word(y, keys[C_UNCHALLENGED].value,
                        "exchange.stand_in.court.unchallenged", orders, 5, &v,
                        eb)) == 0)
        x->standin_unchallenged = (enum cjx_standin_order)v;
    if (rc == 0 && keys[C_CHALLENGED].value != NULL) {
        rc = read_word(y, keys[C_CHALLENGED].value,
                       "exchange.stand_in.court.challenged", orders, 5, &v, eb);
        if (rc == 0 && v == CJX_STANDIN_ORDER_ACCEPTED)
            rc = cjx_conf_yaml_errf(y, keys[C_CHALLENGED].value, CJX_EPARSE, eb,
                                    "exchange.stand_in.court.challenged: a "
                                    "challenged case has no accepted relief "
                                    "(expected pending, deny, floor or "
                                    "relief)");
        if (rc == 0)
            x->standin_challenged = (enum cjx_standin_order)v;
    }
    return rc;
}

static int
parse_doj(struct cjx_conf_yaml *y, yaml_node_t *node,
          struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[1] = {{"history_update", 0, NULL, NULL}};
    static const char *const modes[] = {"pending", "acknowledge"};
    int rc =
        cjx_conf_yaml_mapping(y, node, "exchange.stand_in.doj", keys, 1, eb);
    int v = 1;
    if (rc == 0 && keys[0].value != NULL)
        rc = read_word(y, keys[0].value, "exchange.stand_in.doj.history_update",
                       modes, 2, &v, eb);
    x->standin_doj_acknowledge = v;
    return rc;
}

static int
parse_stand_in(struct cjx_conf_yaml *y, yaml_node_t *node,
               struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    enum { S_PROSECUTOR, S_COURT, S_DOJ, S_N };
    struct cjx_conf_yaml_key keys[S_N] = {
        [S_PROSECUTOR] = {"prosecutor", 0, NULL, NULL},
        [S_COURT] = {"court", 0, NULL, NULL},
        [S_DOJ] = {"doj", 0, NULL, NULL},
    };
    int rc = cjx_conf_yaml_mapping(y, node, "exchange.stand_in", keys, S_N, eb);
    if (rc == 0 && keys[S_PROSECUTOR].value != NULL)
        rc = parse_prosecutor(y, keys[S_PROSECUTOR].value, x, eb);
    if (rc == 0 && keys[S_COURT].value != NULL)
        rc = parse_court(y, keys[S_COURT].value, x, eb);
    if (rc == 0 && keys[S_DOJ].value != NULL)
        rc = parse_doj(y, keys[S_DOJ].value, x, eb);
    return rc;
}

static int
parse_delivery(struct cjx_conf_yaml *y, yaml_node_t *node,
               struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    static const struct {
        const char *key;
        size_t offset;
        long min, max;
    } specs[] = {
        {"batch", offsetof(struct cjx_exchange_conf, delivery_batch), 1, 5000},
        {"streams_per_peer",
         offsetof(struct cjx_exchange_conf, delivery_streams), 1, 16},
        {"timeout_ms", offsetof(struct cjx_exchange_conf, delivery_timeout_ms),
         100, 600000},
        {"retry_initial_ms",
         offsetof(struct cjx_exchange_conf, retry_initial_ms), 1, 600000},
        {"retry_max_ms", offsetof(struct cjx_exchange_conf, retry_max_ms), 1,
         86400000},
    };
    enum { N = sizeof(specs) / sizeof(specs[0]) };
    struct cjx_conf_yaml_key keys[N];
    for (size_t i = 0; i < N; i++)
        keys[i] = (struct cjx_conf_yaml_key){specs[i].key, 0, NULL, NULL};
    int rc = cjx_conf_yaml_mapping(y, node, "exchange.delivery", keys, N, eb);
    for (size_t i = 0; rc == 0 && i < N; i++) {
        if (keys[i].value == NULL)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "exchange.delivery.%s", specs[i].key);
        rc = cjx_conf_yaml_int(y, keys[i].value, what, specs[i].min,
                               specs[i].max,
                               (int *)((char *)x + specs[i].offset), eb);
    }
    if (rc == 0 && x->retry_max_ms < x->retry_initial_ms)
        rc = cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                "exchange.delivery: retry_max_ms (%d) is less "
                                "than retry_initial_ms (%d)",
                                x->retry_max_ms, x->retry_initial_ms);
    return rc;
}

int
cjx_conf_exchange_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                        struct cjx_exchange_conf *x, struct cjx_errbuf *eb)
{
    enum {
        X_DEADLINES,
        X_ABOVE_CEILING,
        X_REVIEW_LAPSE,
        X_GRACE,
        X_SKEW,
        X_DELIVERY,
        X_STAND_IN,
        X_N
    };
    struct cjx_conf_yaml_key keys[X_N] = {
        [X_DEADLINES] = {"deadlines", 0, NULL, NULL},
        [X_ABOVE_CEILING] = {"above_ceiling", 0, NULL, NULL},
        [X_REVIEW_LAPSE] = {"review_lapse", 0, NULL, NULL},
        [X_GRACE] = {"decision_grace_hours", 0, NULL, NULL},
        [X_SKEW] = {"max_clock_skew_seconds", 0, NULL, NULL},
        [X_DELIVERY] = {"delivery", 0, NULL, NULL},
        [X_STAND_IN] = {"stand_in", 0, NULL, NULL},
    };
    static const char *const ceiling[] = {"refuse", "flag"};
    static const char *const lapse[] = {"not_challenged", "wait"};
    int rc = cjx_conf_yaml_mapping(y, node, "exchange", keys, X_N, eb);
    int v;
    if (rc == 0 && keys[X_DEADLINES].value != NULL)
        rc = parse_deadlines(y, keys[X_DEADLINES].value, x, eb);
    if (rc == 0 && keys[X_ABOVE_CEILING].value != NULL &&
        (rc = read_word(y, keys[X_ABOVE_CEILING].value,
                        "exchange.above_ceiling", ceiling, 2, &v, eb)) == 0)
        x->above_ceiling_flag = v;
    if (rc == 0 && keys[X_REVIEW_LAPSE].value != NULL &&
        (rc = read_word(y, keys[X_REVIEW_LAPSE].value, "exchange.review_lapse",
                        lapse, 2, &v, eb)) == 0)
        x->review_lapse_wait = v;
    if (rc == 0 && keys[X_GRACE].value != NULL &&
        (rc = cjx_conf_yaml_int(y, keys[X_GRACE].value,
                                "exchange.decision_grace_hours", 0, 87600, &v,
                                eb)) == 0)
        x->decision_grace_us = (int64_t)v * 3600 * US_PER_SECOND;
    if (rc == 0 && keys[X_SKEW].value != NULL &&
        (rc = cjx_conf_yaml_int(y, keys[X_SKEW].value,
                                "exchange.max_clock_skew_seconds", 0, 86400, &v,
                                eb)) == 0)
        x->max_clock_skew_us = (int64_t)v * US_PER_SECOND;
    if (rc == 0 && keys[X_DELIVERY].value != NULL)
        rc = parse_delivery(y, keys[X_DELIVERY].value, x, eb);
    if (rc == 0 && keys[X_STAND_IN].value != NULL)
        rc = parse_stand_in(y, keys[X_STAND_IN].value, x, eb);
    return rc;
}
