/* The AB 1706 progress report (HS 11361.9 as amended; docs/report.md): per
 * county, what happened to the cases in a period, and how long each hop
 * took. Tallies are pure (cases in, numbers out); the writers render them
 * as CSV, JSON or one self-contained HTML page with SVG charts. */
#ifndef CJX_CLI_PROGRESS_H
#define CJX_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "cjx/v1/exchange.pb-c.h"

/* The hops of a case, each ending with the step that names it. */
enum progress_hop {
    PROGRESS_HOP_NOTICE,  /* identified -> prosecutor notified */
    PROGRESS_HOP_REVIEW,  /* notified -> decided (or lapsed) */
    PROGRESS_HOP_ORDER,   /* decided -> court's order */
    PROGRESS_HOP_HISTORY, /* order -> DOJ's history updated */
    PROGRESS_HOPS
};

#define PROGRESS_STATES       7    /* CaseState values */
#define PROGRESS_ORDERS       5    /* OrderRelief values */
#define PROGRESS_MAX_DAYS     3650 /* longer hops count as this many days */
#define PROGRESS_MAX_BUCKETS  53
#define PROGRESS_MAX_COUNTIES 64

struct progress_county {
    char name[64];
    long cases;
    long by_state[PROGRESS_STATES]; /* now, whatever the period */
    /* Steps taken in the period. */
    long notified, not_challenged, challenged, lapsed;
    long orders[PROGRESS_ORDERS];
    long records_updated;
    /* At the period's end: deadlines passed with their step not taken by
     * the deadline, one count per hop's deadline. */
    long overdue[PROGRESS_HOPS];
    /* Days each hop took, for hops ending in the period. */
    uint32_t *hop_days[PROGRESS_HOPS]; /* PROGRESS_MAX_DAYS + 1 each */
    long hop_n[PROGRESS_HOPS];
};

struct progress {
    int64_t from_us, to_us; /* the period, [from, to) */
    int64_t at_us;          /* when deadlines are judged: min(to, now) */
    int bucket_days, n_buckets;
    /* Statewide hops ending in each bucket of the period. */
    long throughput[PROGRESS_HOPS][PROGRESS_MAX_BUCKETS];
    struct progress_county counties[PROGRESS_MAX_COUNTIES];
    int n;
};

/* The hop's name for people ("notice", "review", "order", "history"). */
const char *progress_hop_name(enum progress_hop h);

/* Prepares p for the period [from_us, to_us) judged at now_us. */
void progress_init(struct progress *p, int64_t from_us, int64_t to_us,
                   int64_t now_us);
void progress_fini(struct progress *p);

/* Counts one case. Returns 0, or -1 when a county more than the report
 * holds or memory is missing. */
int progress_add(struct progress *p, const Cjx__V1__Case *c);

/* The median days of a county's hop (the lower middle), or -1 when no
 * hop ended in the period. */
int progress_median_days(const struct progress_county *c, enum progress_hop h);

/* The last full calendar quarter before now: [*from, *to). */
void progress_last_quarter(int64_t now_us, int64_t *from_us, int64_t *to_us);

/* The report, one row per county (and a total row); each returns 0 or -1
 * when out cannot be written. */
int progress_write_csv(const struct progress *p, FILE *out);
int progress_write_json(const struct progress *p, FILE *out);
int progress_write_html(const struct progress *p, const char *title, FILE *out);

#endif
