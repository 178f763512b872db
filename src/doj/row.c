/* One research-file row read exactly: dates, CNT_ORDER, offense text,
 * levels and sentence parts. Anything that does not read is an error naming
 * the column and the value; nothing is guessed. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cjx/date.h"
#include "doj_internal.h"

void
doj_error_set(struct cjx_doj_error *err, long line, const char *column,
              const char *value, const char *fmt, ...)
{
    err->line = line;
    err->column = column != NULL ? column : "";
    /* The value is shown as printable ASCII so that a bad byte in the file
     * cannot garble the terminal reading the error. */
    size_t k = 0;
    for (const char *v = value ? value : ""; *v && k + 4 < sizeof(err->value);
         v++)
        err->value[k++] = (*v >= 0x20 && *v < 0x7f) ? *v : '?';
    if (value != NULL && strlen(value) >= sizeof(err->value) - 4) {
        memcpy(err->value + k, "...", 3);
        k += 3;
    }
    err->value[k] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

#define COL(c) cjx_doj_column_name(CJX_DOJ_##c)

/* YYYYMMDD, a real calendar date; "" is no date (year 0). */
static int
parse_date(const char *v, Cjx__V1__Date *d)
{
    cjx__v1__date__init(d);
    if (v[0] == '\0')
        return 0;
    if (strlen(v) != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)v[i]))
            return -1;
    int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
            (v[3] - '0');
    int m = (v[4] - '0') * 10 + (v[5] - '0');
    int day = (v[6] - '0') * 10 + (v[7] - '0');
    if (y < 1850 || !cjx_date_is_valid(y, m, day))
        return -1;
    d->year = y;
    d->month = m;
    d->day = day;
    return 0;
}

static int
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

/* "1" .. "999": a small non-negative number; "" is 0. */
static int
parse_small_number(const char *v, int *out)
{
    size_t n = strlen(v);
    *out = 0;
    if (n == 0)
        return 0;
    if (n > 4 || !all_digits(v, n))
        return -1;
    for (size_t i = 0; i < n; i++)
        *out = *out * 10 + (v[i] - '0');
    return 0;
}

static const char *
trimmed(struct cjx_arena *a, const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return cjx_arena_strndup(a, s, n);
}

/* Reads "664/11359(A) HS" (what precedes the '-' of an offense text) into
 * st: prefixes 664 (attempt) and 182 (conspiracy), the section, its
 * subdivisions and the code. Returns 0 or -1 with why in *why. */
static int
parse_charge_head(const char *h, struct cjx_arena *a, Cjx__V1__Statute *st,
                  const char **why)
{
    const char *sp = strrchr(h, ' ');
    if (sp == NULL) {
        *why = "no code after the section (e.g. \"11357 HS\")";
        return -1;
    }
    const char *code = sp + 1;
    size_t code_len = strlen(code);
    if (code_len < 2 || code_len > 3) {
        *why = "the code is not 2 or 3 letters";
        return -1;
    }
    for (size_t i = 0; i < code_len; i++)
        if (!isupper((unsigned char)code[i])) {
            *why = "the code is not 2 or 3 letters";
            return -1;
        }
    const char *spec = h;
    const char *slash;
    while ((slash = memchr(spec, '/', (size_t)(sp - spec))) != NULL) {
        if (strncmp(spec, "664", 3) == 0 && !isdigit((unsigned char)spec[3]))
            st->attempt = 1;
        else if (strncmp(spec, "182", 3) == 0 &&
                 !isdigit((unsigned char)spec[3]))
            st->conspiracy = 1;
        else {
            *why = "a prefix before '/' other than 664 or 182";
            return -1;
        }
        spec = slash + 1;
    }
    const char *p = spec;
    while (p < sp && isdigit((unsigned char)*p))
        p++;
    if (p == spec) {
        *why = "no section number";
        return -1;
    }
    if (p < sp && *p == '.') {
        const char *q = ++p;
        while (p < sp && isdigit((unsigned char)*p))
            p++;
        if (p == q) {
            *why = "a '.' with no digits after it";
            return -1;
        }
    }
    /* Penal Code sections such as 273A carry a letter. */
    if (p < sp && isupper((unsigned char)*p))
        p++;
    const char *sub = p;
    while (p < sp && *p == '(') {
        const char *q = ++p;
        while (p < sp && isalnum((unsigned char)*p))
            p++;
        if (p == q || p >= sp || *p != ')') {
            *why = "an unclosed or empty subdivision";
            return -1;
        }
        p++;
    }
    if (p != sp) {
        *why = "unexpected text after the section";
        return -1;
    }
    st->code = cjx_arena_strndup(a, code, code_len);
    st->section = cjx_arena_strndup(a, spec, (size_t)(sub - spec));
    char *lower = cjx_arena_strndup(a, sub, (size_t)(sp - sub));
    if (st->code == NULL || st->section == NULL || lower == NULL)
        return -1;
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    st->subsection = lower;
    size_t n = strlen(st->code) + strlen(st->section) + strlen(lower) + 2;
    st->normalized = cjx_arena_alloc(a, n);
    if (st->normalized == NULL)
        return -1;
    snprintf(st->normalized, n, "%s %s%s", st->code, st->section, lower);
    return 0;
}

static int
is_comment_charge(const char *descr)
{
    return descr[0] == '\0' || strcmp(descr, "SEE COMMENT FOR CHARGE") == 0;
}

/* The charge of a row: OFFENSE_DESCR ("11358 HS-CULTIVATE CANNABIS"), or
 * COMMENT_TEXT where the description sends the reader there. A comment
 * that names no readable charge leaves the section empty (the rules send
 * such a count to review); a description that does not read is an error. */
static int
parse_statute(const char *const *col, long line, struct cjx_arena *a,
              Cjx__V1__Statute **out, struct cjx_doj_error *err)
{
    Cjx__V1__Statute *st = cjx_arena_alloc(a, sizeof(*st));
    if (st == NULL)
        return CJX_ENOMEM;
    cjx__v1__statute__init(st);
    const char *raw = col[CJX_DOJ_OFFENSE_DESCR];
    const char *descr = trimmed(a, raw, strlen(raw));
    const char *comment = col[CJX_DOJ_COMMENT_TEXT];
    if (descr == NULL)
        return CJX_ENOMEM;
    int from_comment = is_comment_charge(descr);
    const char *text = from_comment ? comment : descr;
    const char *dash = strchr(text, '-');
    size_t head_len = dash ? (size_t)(dash - text) : strlen(text);
    const char *head = trimmed(a, text, head_len);
    const char *rest = dash ? trimmed(a, dash + 1, strlen(dash + 1)) : "";
    if (head == NULL || rest == NULL)
        return CJX_ENOMEM;
    st->code_raw = (char *)raw;
    st->comment_text = (char *)comment;
    st->description = (char *)(from_comment ? descr : rest);
    st->code = st->section = st->subsection = st->normalized = "";
    const char *why = NULL;
    if (parse_charge_head(head, a, st, &why) != 0) {
        if (why == NULL)
            return CJX_ENOMEM;
        if (!from_comment) {
            doj_error_set(err, line, COL(OFFENSE_DESCR), raw,
                          "not an offense \"SECTION CODE-TEXT\": %s", why);
            return CJX_EPARSE;
        }
        st->code = st->section = st->subsection = st->normalized = "";
        st->attempt = st->conspiracy = 0;
    }
    *out = st;
    return 0;
}

static int
parse_level(const char *v, int toc, Cjx__V1__OffenseLevel *out)
{
    static const char *const names[] = {"", "FELONY", "MISDEMEANOR",
                                        "INFRACTION"};
    static const char *const codes[] = {"", "F", "M", "I"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, toc ? codes[i] : names[i]) == 0) {
            *out = (Cjx__V1__OffenseLevel)i;
            return 0;
        }
    return -1;
}

/* SENT_LOC_DESCR, SENT_LENGTH and SENT_TIME_CODE: one part of a sentence. */
static int
parse_sentence(const char *const *col, long line, struct doj_row *row,
               struct cjx_doj_error *err)
{
    static const struct {
        const char *name;
        Cjx__V1__SentenceType type;
    } places[] = {
        {"JAIL", CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_JAIL},
        {"PRISON", CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_PRISON},
        {"PROBATION", CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_PROBATION},
        {"PAROLE", CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_PAROLE},
        {"FINE", CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_FINE},
    };
    const char *loc = col[CJX_DOJ_SENT_LOC_DESCR];
    const char *len = col[CJX_DOJ_SENT_LENGTH];
    const char *unit = col[CJX_DOJ_SENT_TIME_CODE];
    cjx__v1__sentence_part__init(&row->sentence);
    if (loc[0] == '\0' && len[0] == '\0' && unit[0] == '\0')
        return 0;
    row->has_sentence = 1;
    row->sentence.type = CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_OTHER;
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
        if (strcmp(loc, places[i].name) == 0)
            row->sentence.type = places[i].type;
    int n;
    if (parse_small_number(len, &n) != 0) {
        doj_error_set(err, line, COL(SENT_LENGTH), len,
                      "not a sentence length (0 to 9999)");
        return CJX_EPARSE;
    }
    row->sentence.length = n;
    if (strcmp(unit, "D") == 0)
        row->sentence.unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_DAYS;
    else if (strcmp(unit, "M") == 0)
        row->sentence.unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_MONTHS;
    else if (strcmp(unit, "Y") == 0)
        row->sentence.unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_YEARS;
    else if (unit[0] != '\0' || len[0] != '\0') {
        doj_error_set(err, line, COL(SENT_TIME_CODE), unit,
                      "not a time code (D, M or Y)");
        return CJX_EPARSE;
    }
    return 0;
}

static enum doj_step
step_of(const char *descr)
{
    if (strcmp(descr, "COURT ACTION") == 0)
        return DOJ_STEP_COURT;
    if (strcmp(descr, "REGISTRATION") == 0)
        return DOJ_STEP_REGISTRATION;
    if (strcmp(descr, "DECEASED") == 0)
        return DOJ_STEP_DECEASED;
    return DOJ_STEP_OTHER;
}

/* The dates of a row; STP_EVENT_DATE is required where it dates a
 * conviction or a registration. */
static int
parse_dates(const char *const *col, long line, struct doj_row *row,
            struct cjx_doj_error *err)
{
    static const struct {
        enum cjx_doj_column col;
        size_t off;
    } dates[] = {
        {CJX_DOJ_PRI_DOB, offsetof(struct doj_row, dob)},
        {CJX_DOJ_CYC_DATE, offsetof(struct doj_row, cycle_date)},
        {CJX_DOJ_STP_EVENT_DATE, offsetof(struct doj_row, event_date)},
    };
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        const char *v = col[dates[i].col];
        if (parse_date(v, (Cjx__V1__Date *)((char *)row + dates[i].off)) != 0) {
            doj_error_set(err, line, cjx_doj_column_name(dates[i].col), v,
                          "not a date (YYYYMMDD)");
            return CJX_EPARSE;
        }
    }
    int dated = row->convicted || row->step == DOJ_STEP_REGISTRATION;
    if (dated && row->event_date.year == 0) {
        doj_error_set(err, line, COL(STP_EVENT_DATE), "",
                      "a conviction or registration needs its date");
        return CJX_EPARSE;
    }
    return 0;
}

/* CNT_ORDER: 12 digits (cycle 3, step 3, count 3, part 3). */
static int
parse_cnt_order(const char *v, long line, struct doj_row *row,
                struct cjx_doj_error *err)
{
    size_t n = strlen(v);
    if (n == 0 && !row->convicted)
        return 0;
    if (n != 12 || !all_digits(v, 12)) {
        doj_error_set(err, line, COL(CNT_ORDER), v,
                      "not a count order of 12 digits");
        return CJX_EPARSE;
    }
    memcpy(row->cnt_order, v, 13);
    row->count_number = (v[6] - '0') * 100 + (v[7] - '0') * 10 + (v[8] - '0');
    if (row->convicted && row->count_number == 0) {
        doj_error_set(err, line, COL(CNT_ORDER), v,
                      "count number (digits 7-9) is 0");
        return CJX_EPARSE;
    }
    return 0;
}

int
doj_row_parse(const char *const *col, long line, struct cjx_arena *a,
              struct doj_row *row, struct cjx_doj_error *err)
{
    memset(row, 0, sizeof(*row));
    row->line = line;
    row->subject_id = col[CJX_DOJ_SUBJECT_ID];
    row->cii = col[CJX_DOJ_CII_NUMBER];
    row->name = col[CJX_DOJ_PRI_NAME];
    row->fbi = col[CJX_DOJ_FBI_NUMBER];
    row->county = col[CJX_DOJ_STP_ORI_CNTY_NAME];
    row->court_ori = col[CJX_DOJ_STP_ORI_CODE];
    row->ofn = col[CJX_DOJ_OFN];
    row->court_case = col[CJX_DOJ_FE_NUM_CRT_CASE];
    if (row->subject_id[0] == '\0') {
        doj_error_set(err, line, COL(SUBJECT_ID), "", "the row has no subject");
        return CJX_EPARSE;
    }
    row->step = step_of(col[CJX_DOJ_STP_TYPE_DESCR]);
    row->convicted = row->step == DOJ_STEP_COURT &&
                     strncmp(col[CJX_DOJ_DISP_DESCR], "CONVICTED", 9) == 0;
    int err_code;
    if ((err_code = parse_dates(col, line, row, err)) != 0 ||
        (err_code = parse_cnt_order(col[CJX_DOJ_CNT_ORDER], line, row, err)) !=
            0)
        return err_code;
    if (parse_small_number(col[CJX_DOJ_CYC_AGE], &row->cycle_age) != 0 ||
        row->cycle_age > 150) {
        doj_error_set(err, line, COL(CYC_AGE), col[CJX_DOJ_CYC_AGE],
                      "not an age in years");
        return CJX_EPARSE;
    }
    if (!row->convicted && row->step != DOJ_STEP_REGISTRATION)
        return 0;
    if ((err_code = parse_statute(col, line, a, &row->statute, err)) != 0)
        return err_code;
    if (!row->convicted)
        return 0;
    if (parse_level(col[CJX_DOJ_CONV_STAT_DESCR], 0, &row->level) != 0) {
        doj_error_set(err, line, COL(CONV_STAT_DESCR),
                      col[CJX_DOJ_CONV_STAT_DESCR],
                      "not FELONY, MISDEMEANOR, INFRACTION or empty");
        return CJX_EPARSE;
    }
    if (parse_level(col[CJX_DOJ_OFFENSE_TOC], 1, &row->charge_level) != 0) {
        doj_error_set(err, line, COL(OFFENSE_TOC), col[CJX_DOJ_OFFENSE_TOC],
                      "not F, M, I or empty");
        return CJX_EPARSE;
    }
    return parse_sentence(col, line, row, err);
}
