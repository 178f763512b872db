/* DOJ's bulk "research file": one CSV row per RAP-sheet step and count,
 * subjects contiguous (docs/research-file.md). A pure parser fed bytes in
 * any pieces calls back once per subject with the subject's conviction
 * records and history; a file reader sits on top. Only one subject is held
 * in memory at a time. */
#ifndef CJX_DOJ_H
#define CJX_DOJ_H

#include <stddef.h>

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/v1/rules_service.pb-c.h"

/* The 95 columns in file order, as the header row names them. */
/* clang-format off */
#define CJX_DOJ_COLUMNS(XX) \
    XX(RECORD_ID) XX(SUBJECT_STATUS) XX(SUBJECT_ID) XX(REQ_SEG_SEP) \
    XX(REQ_CII_NUMBER) XX(REQ_NAME) XX(REQ_GENDER) XX(REQ_DOB) XX(REQ_CDL) \
    XX(REQ_SSN) XX(PII_SEG_SEP) XX(CII_NUMBER) XX(PRI_NAME) XX(GENDER) \
    XX(PRI_DOB) XX(PRI_SSN) XX(PRI_CDL) XX(PRI_IDN) XX(PRI_INN) \
    XX(FBI_NUMBER) XX(PDR_SEG_SEP) XX(RACE_CODE) XX(RACE_DESCR) \
    XX(EYE_COLOR_CODE) XX(EYE_COLOR_DESCR) XX(HAIR_COLOR_CODE) \
    XX(HAIR_COLOR_DESCR) XX(HEIGHT) XX(WEIGHT) XX(SINGLE_SOURCE) \
    XX(MULTI_SOURCE) XX(POB_CODE) XX(POB_NAME) XX(POB_TYPE) \
    XX(CITIZENSHIP_LIST) XX(CYC_SEG_SEP) XX(CYC_ORDER) XX(CYC_DATE) \
    XX(STP_SEG_SEP) XX(STP_ORDER) XX(STP_EVENT_DATE) XX(STP_TYPE_CODE) \
    XX(STP_TYPE_DESCR) XX(STP_ORI_TYPE) XX(STP_ORI_TYPE_DESCR) \
    XX(STP_ORI_CODE) XX(STP_ORI_DESCR) XX(STP_ORI_CNTY_CODE) \
    XX(STP_ORI_CNTY_NAME) XX(CNT_SEG_SEP) XX(CNT_ORDER) XX(DISP_DATE) \
    XX(OFN) XX(OFFENSE_CODE) XX(OFFENSE_DESCR) XX(OFFENSE_TOC) \
    XX(OFFENSE_QUAL_LST) XX(DISP_OFFENSE_CODE) XX(DISP_OFFENSE_DESCR) \
    XX(DISP_OFFENSE_TOC) XX(DISP_OFFENSE_QUAL_LST) XX(CONV_OFFENSE_ORDER) \
    XX(CONV_OFFENSE_CODE) XX(CONV_OFFENSE_DESCR) XX(CONV_OFFENSE_TOC) \
    XX(CONV_OFFENSE_QUAL_LST) XX(FE_NUM_ORDER) XX(FE_NUM_ARR_AGY) \
    XX(FE_NUM_BNCH_WARR) XX(FE_NUM_CITE) XX(FE_NUM_DOCKET) \
    XX(FE_NUM_INCIDENT) XX(FE_NUM_BOOKING) XX(FE_NUM_NUMBER) \
    XX(FE_NUM_REMAND) XX(FE_NUM_OOS_INN) XX(FE_NUM_CRT_CASE) \
    XX(FE_NUM_WARRANT) XX(DISP_ORDER) XX(DISP_CODE) XX(DISP_DESCR) \
    XX(CONV_STAT_CODE) XX(CONV_STAT_DESCR) XX(SENT_SEG_SEP) XX(SENT_ORDER) \
    XX(SENT_LOC_CODE) XX(SENT_LOC_DESCR) XX(SENT_LENGTH) XX(SENT_TIME_CODE) \
    XX(SENT_TIME_DESCR) XX(CYC_AGE) XX(CII_TYPE) XX(CII_TYPE_ALPHA) \
    XX(COMMENT_TEXT) XX(END_OF_REC)
/* clang-format on */

enum cjx_doj_column {
#define CJX_DOJ_COLUMN_ENUM_(name) CJX_DOJ_##name,
    CJX_DOJ_COLUMNS(CJX_DOJ_COLUMN_ENUM_)
#undef CJX_DOJ_COLUMN_ENUM_
        CJX_DOJ_NCOLUMNS
};

/* The header name of a column ("CNT_ORDER"). */
const char *cjx_doj_column_name(enum cjx_doj_column c);

/* Bounds that keep one subject's memory small whatever the file holds. */
#define CJX_DOJ_MAX_ROW_BYTES     65536
#define CJX_DOJ_MAX_SUBJECT_ROWS  4096
#define CJX_DOJ_MAX_SUBJECT_BYTES (4u << 20)

/* One subject (person) as the file describes them. Everything is memory of
 * the parser, borrowed until the callback returns. */
struct cjx_doj_subject {
    const char *subject_id;
    long first_line, last_line; /* 1-based physical lines of its rows */
    Cjx__V1__Person *person;
    /* Convicted counts, one per CNT_ORDER, in file order; sentence rows
     * repeating a CNT_ORDER add parts to its sentence. */
    Cjx__V1__ConvictionRecord **convictions;
    long *conviction_lines; /* the line each conviction is first read on */
    size_t n_convictions;
    /* Every conviction (same order as convictions) then every PC 290
     * registration. */
    Cjx__V1__HistoryEvent **events;
    size_t n_events;
    /* The subject's rows exactly as read (for a reject file). */
    const char *raw;
    size_t raw_len;
};

/* Why a row (and so its subject) could not be read. */
struct cjx_doj_error {
    long line;          /* physical line where the row starts */
    const char *column; /* header name, or "" when no one column is at fault */
    char value[80];     /* the value, printable, cut to fit */
    char message[160];
    const char *subject_id; /* "" when the row has none; borrowed */
    const char *raw;        /* the subject's rows read so far; borrowed */
    size_t raw_len;
};

/* Formats "line 12, column STP_EVENT_DATE, value \"2019-13-01\": not a
 * date (YYYYMMDD)" into buf. */
void cjx_doj_error_format(const struct cjx_doj_error *e, char *buf, size_t len);

/* Callbacks return 0 to go on and non-zero to stop reading: the parser
 * then refuses more input and returns that value from feed/finish. A
 * subject with a bad row is not passed to on_subject: on_error gets the
 * first bad row's error once the subject's rows end. */
struct cjx_doj_callbacks {
    int (*on_subject)(void *ctx, const struct cjx_doj_subject *s);
    int (*on_error)(void *ctx, const struct cjx_doj_error *e);
    void *ctx;
};

struct cjx_doj_parser;

/* A new parser (free with cjx_doj_parser_free), or NULL without memory. */
struct cjx_doj_parser *cjx_doj_parser_new(const struct cjx_doj_callbacks *cb);
void cjx_doj_parser_free(struct cjx_doj_parser *p);

/* Feeds the next len bytes of the file. Returns 0, a callback's non-zero
 * value, or CJX_ENOMEM. */
int cjx_doj_parser_feed(struct cjx_doj_parser *p, const char *data, size_t len);
/* The end of the file: a last row without a newline is read, and the last
 * subject is delivered. Returns as feed does. */
int cjx_doj_parser_finish(struct cjx_doj_parser *p);

/* Tallies so far. */
struct cjx_doj_counts {
    long lines, rows, subjects, bad_subjects, convictions;
};
void cjx_doj_parser_counts(const struct cjx_doj_parser *p,
                           struct cjx_doj_counts *out);

/* Reads the file at path ("-" = standard input) through a parser with cb.
 * Returns as feed does, or CJX_EIO with the reason in eb. */
int cjx_doj_read_file(const char *path, const struct cjx_doj_callbacks *cb,
                      struct cjx_doj_counts *counts, struct cjx_errbuf *eb);

/* 1 when st names a count Proposition 64 reaches: HS 11357-11360 (also
 * labelled PC, or unlabelled, as DOJ files do) or the pre-1973 sections
 * recodified as them. */
int cjx_doj_is_prop64(const Cjx__V1__Statute *st);

/* The relief query for the subject's conviction i: the count, and as its
 * history every other event of the subject. Arena memory. Returns 0 or
 * CJX_ENOMEM. */
int cjx_doj_subject_query(const struct cjx_doj_subject *s, size_t i,
                          struct cjx_arena *arena, Cjx__V1__ReliefQuery **out);

#endif
