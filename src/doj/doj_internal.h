/* Pieces of the research-file parser shared between its files. */
#ifndef CJX_DOJ_INTERNAL_H
#define CJX_DOJ_INTERNAL_H

#include "cjx/doj.h"

/* What a step row is. Other steps (arrests, custody, probation...) carry
 * nothing the evaluation reads. */
enum doj_step {
    DOJ_STEP_OTHER,
    DOJ_STEP_COURT,
    DOJ_STEP_REGISTRATION,
    DOJ_STEP_DECEASED,
};

/* One row, read exactly. Strings are arena memory, "" when empty. */
struct doj_row {
    long line;
    const char *subject_id, *cii, *name, *fbi, *county, *court_ori, *ofn,
        *court_case;
    Cjx__V1__Date dob, cycle_date, event_date; /* year 0 when empty */
    enum doj_step step;
    int convicted;
    char cnt_order[13];        /* "" when empty */
    int count_number;          /* digits 7-9 of CNT_ORDER */
    Cjx__V1__Statute *statute; /* convictions and registrations; else NULL */
    Cjx__V1__OffenseLevel level, charge_level;
    int has_sentence;
    Cjx__V1__SentencePart sentence;
    int cycle_age;
};

/* Splits one CSV record (no line end) into *n fields (RFC 4180 quoting),
 * each NUL-terminated valid UTF-8 in arena memory: a field that is not
 * UTF-8 is read as Latin-1. Returns 0, CJX_EPARSE with err filled (line
 * and message) or CJX_ENOMEM. */
int doj_csv_split(const char *rec, size_t len, long line, struct cjx_arena *a,
                  char ***fields, size_t *n, struct cjx_doj_error *err);

/* Reads one row from its values by column (every column present, "" when
 * empty). Returns 0 or CJX_EPARSE with err naming the column and value, or
 * CJX_ENOMEM. */
int doj_row_parse(const char *const *col, long line, struct cjx_arena *a,
                  struct doj_row *row, struct cjx_doj_error *err);

/* Assembles a subject from its rows (section 7.3 of the rules notes).
 * Returns 0, CJX_EPARSE with err filled, or CJX_ENOMEM. */
int doj_subject_build(const struct doj_row *rows, size_t n, struct cjx_arena *a,
                      struct cjx_doj_subject *s, struct cjx_doj_error *err);

/* Fills err's line, column, value and message. */
void doj_error_set(struct cjx_doj_error *err, long line, const char *column,
                   const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
