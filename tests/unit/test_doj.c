/* Unit tests for src/doj: the research-file parser, row by row and subject
 * by subject, including every kind of malformed input it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/doj.h"

/* A row under construction: every column "" until set. */
struct row {
    const char *v[CJX_DOJ_NCOLUMNS];
};

static void
row_init(struct row *r, const char *subject, const char *cii)
{
    for (int i = 0; i < CJX_DOJ_NCOLUMNS; i++)
        r->v[i] = "";
    r->v[CJX_DOJ_SUBJECT_ID] = subject;
    r->v[CJX_DOJ_CII_NUMBER] = cii;
    r->v[CJX_DOJ_PRI_NAME] = "DOE,JANE Q";
    r->v[CJX_DOJ_PRI_DOB] = "19800102";
}

/* A convicted count of a court event. */
static void
row_conviction(struct row *r, const char *subject, const char *cnt,
               const char *offense, const char *stat)
{
    row_init(r, subject, "A01234567");
    r->v[CJX_DOJ_STP_TYPE_DESCR] = "COURT ACTION";
    r->v[CJX_DOJ_STP_EVENT_DATE] = "20100315";
    r->v[CJX_DOJ_CYC_DATE] = "20100101";
    r->v[CJX_DOJ_STP_ORI_CNTY_NAME] = "SAN FRANCISCO";
    r->v[CJX_DOJ_STP_ORI_CODE] = "CA038013J";
    r->v[CJX_DOJ_CNT_ORDER] = cnt;
    r->v[CJX_DOJ_OFN] = "SF-1";
    r->v[CJX_DOJ_OFFENSE_DESCR] = offense;
    r->v[CJX_DOJ_OFFENSE_TOC] = "F";
    r->v[CJX_DOJ_DISP_DESCR] = "CONVICTED";
    r->v[CJX_DOJ_CONV_STAT_DESCR] = stat;
}

/* Appends the row as CSV (quoted where it must be) and a line end. */
static void
row_emit(char *out, size_t cap, const struct row *r, const char *eol)
{
    size_t k = strlen(out);
    for (int i = 0; i < CJX_DOJ_NCOLUMNS; i++) {
        const char *v = r->v[i];
        int quote = strpbrk(v, ",\"\n") != NULL;
        if (i > 0)
            out[k++] = ',';
        if (quote)
            out[k++] = '"';
        for (; *v; v++) {
            if (*v == '"')
                out[k++] = '"';
            out[k++] = *v;
        }
        if (quote)
            out[k++] = '"';
        assert_true(k + 8 < cap);
    }
    k += (size_t)snprintf(out + k, cap - k, "%s", eol);
    out[k] = '\0';
}

static void
header_emit(char *out, size_t cap)
{
    struct row h;
    for (int i = 0; i < CJX_DOJ_NCOLUMNS; i++)
        h.v[i] = cjx_doj_column_name((enum cjx_doj_column)i);
    row_emit(out, cap, &h, "\n");
}

/* What the parser delivered, as text the tests compare. */
struct seen {
    char text[8192];
    char errors[2048];
    int subjects, bad;
    int stop_after_error;
};

static const char *
level_letter(int level)
{
    return (const char *[]){"-", "F", "M", "I"}[level & 3];
}

static void
describe_record(char *out, size_t cap, const Cjx__V1__ConvictionRecord *r)
{
    size_t k = strlen(out);
    k += (size_t)snprintf(
        out + k, cap - k, " [%s %s #%d %s sub=%s%s%s lvl=%s/%s parts=%zu",
        r->county, r->court_case_number, r->count_number, r->charge->normalized,
        r->charge->subsection, r->charge->attempt ? " attempt" : "",
        r->charge->conspiracy ? " conspiracy" : "", level_letter(r->level),
        level_letter(r->charge_level), r->n_sentence);
    for (size_t i = 0; i < r->n_sentence; i++)
        k += (size_t)snprintf(out + k, cap - k, " %d/%d/%d",
                              r->sentence[i]->type, r->sentence[i]->length,
                              r->sentence[i]->unit);
    snprintf(out + k, cap - k, "]");
}

static int
on_subject(void *ctx, const struct cjx_doj_subject *s)
{
    struct seen *w = ctx;
    size_t k = strlen(w->text);
    const Cjx__V1__Person *p = s->person;
    k += (size_t)snprintf(
        w->text + k, sizeof(w->text) - k,
        "%s %s %s|%s|%s dob=%d lines=%ld-%ld%s", s->subject_id, p->cii,
        p->last_name, p->first_name, p->middle_name,
        p->date_of_birth ? p->date_of_birth->year : 0, s->first_line,
        s->last_line, p->deceased ? " deceased" : "");
    for (size_t i = 0; i < s->n_convictions; i++)
        describe_record(w->text, sizeof(w->text), s->convictions[i]);
    k = strlen(w->text);
    k += (size_t)snprintf(w->text + k, sizeof(w->text) - k, " events=");
    for (size_t i = 0; i < s->n_events; i++)
        k += (size_t)snprintf(w->text + k, sizeof(w->text) - k, "%c",
                              s->events[i]->kind == 1 ? 'C' : 'R');
    snprintf(w->text + k, sizeof(w->text) - k, "\n");
    w->subjects++;
    return 0;
}

static int
on_error(void *ctx, const struct cjx_doj_error *e)
{
    struct seen *w = ctx;
    char msg[512];
    cjx_doj_error_format(e, msg, sizeof(msg));
    size_t k = strlen(w->errors);
    snprintf(w->errors + k, sizeof(w->errors) - k, "%s: %s\n", e->subject_id,
             msg);
    w->bad++;
    return w->stop_after_error;
}

/* Parses text fed in pieces of step bytes (0: all at once). */
static int
parse(const char *text, size_t step, struct seen *w)
{
    memset(w, 0, sizeof(*w));
    struct cjx_doj_callbacks cb = {on_subject, on_error, w};
    struct cjx_doj_parser *p = cjx_doj_parser_new(&cb);
    assert_non_null(p);
    size_t len = strlen(text);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = step == 0 || step > len - off ? len - off : step;
        rc = cjx_doj_parser_feed(p, text + off, n);
        off += n;
    }
    if (rc == 0)
        rc = cjx_doj_parser_finish(p);
    cjx_doj_parser_free(p);
    return rc;
}

static char file[65536];

static void
test_doj__sentence_rows_extend_one_count(void **state)
{
    (void)state;
    struct row r;
    file[0] = '\0';
    row_conviction(&r, "S1", "001001001000", "11359 HS-POSSESS FOR SALE",
                   "FELONY");
    r.v[CJX_DOJ_SENT_LOC_DESCR] = "JAIL";
    r.v[CJX_DOJ_SENT_LENGTH] = "90";
    r.v[CJX_DOJ_SENT_TIME_CODE] = "D";
    row_emit(file, sizeof(file), &r, "\n");
    r.v[CJX_DOJ_SENT_LOC_DESCR] = "PROBATION";
    r.v[CJX_DOJ_SENT_LENGTH] = "3";
    r.v[CJX_DOJ_SENT_TIME_CODE] = "Y";
    row_emit(file, sizeof(file), &r, "\n");
    struct seen w;
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(
        w.text,
        "S1 A01234567 DOE|JANE|Q dob=1980 lines=1-2 [San Francisco "
        "SF-1 #1 HS 11359 sub= lvl=F/F parts=2 1/90/1 3/3/3] events=C\n");
    assert_string_equal(w.errors, "");
}

static void
test_doj__levels_charges_and_case_numbers(void **state)
{
    (void)state;
    struct row r;
    file[0] = '\0';
    /* Count 1 names the case; count 2 of the same court event does not. */
    row_conviction(&r, "S1", "001001001000", "11357(B) HS-POSSESS", "");
    r.v[CJX_DOJ_OFFENSE_TOC] = "M";
    row_emit(file, sizeof(file), &r, "\n");
    row_conviction(&r, "S1", "001001002000", "SEE COMMENT FOR CHARGE",
                   "MISDEMEANOR");
    r.v[CJX_DOJ_OFN] = "";
    r.v[CJX_DOJ_COMMENT_TEXT] = "11360(A)(2) HS-TRANSPORT";
    row_emit(file, sizeof(file), &r, "\n");
    /* Another court event without any case number. */
    row_conviction(&r, "S1", "002001001000", "664/11359 HS-ATTEMPT", "FELONY");
    r.v[CJX_DOJ_OFN] = "";
    row_emit(file, sizeof(file), &r, "\n");
    row_conviction(&r, "S1", "003001001000", "182(A)(1)/11360 HS-CONSPIRACY",
                   "INFRACTION");
    r.v[CJX_DOJ_STP_ORI_CNTY_NAME] = "SAN LUIS OBISPO";
    row_emit(file, sizeof(file), &r, "\n");
    struct seen w;
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(w.errors, "");
    assert_string_equal(
        w.text,
        "S1 A01234567 DOE|JANE|Q dob=1980 lines=1-4"
        " [San Francisco SF-1 #1 HS 11357(b) sub=(b) lvl=-/M parts=0]"
        " [San Francisco SF-1 #2 HS 11360(a)(2) sub=(a)(2) lvl=M/F parts=0]"
        " [San Francisco DOJ-S1-002001 #1 HS 11359 sub= attempt lvl=F/F "
        "parts=0]"
        " [San Luis Obispo SF-1 #1 HS 11360 sub= conspiracy lvl=I/F parts=0]"
        " events=CCCC\n");
}

static void
test_doj__registrations_death_and_other_steps(void **state)
{
    (void)state;
    struct row r;
    file[0] = '\0';
    row_init(&r, "S7", "A7");
    r.v[CJX_DOJ_STP_TYPE_DESCR] = "ARREST/DETAINED/CITED";
    r.v[CJX_DOJ_OFFENSE_DESCR] = "not read for an arrest";
    row_emit(file, sizeof(file), &r, "\n");
    row_init(&r, "S7", "A7");
    r.v[CJX_DOJ_STP_TYPE_DESCR] = "REGISTRATION";
    r.v[CJX_DOJ_STP_EVENT_DATE] = "19990101";
    r.v[CJX_DOJ_OFFENSE_DESCR] = "290 PC-REGISTRATION OF SEX OFFENDER";
    row_emit(file, sizeof(file), &r, "\n");
    r.v[CJX_DOJ_OFFENSE_DESCR] = "11590 HS-NARCOTICS REGISTRATION";
    row_emit(file, sizeof(file), &r, "\n");
    row_init(&r, "S7", "A7");
    r.v[CJX_DOJ_STP_TYPE_DESCR] = "DECEASED";
    r.v[CJX_DOJ_PRI_DOB] = "";
    row_emit(file, sizeof(file), &r, "\n");
    struct seen w;
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(w.text, "S7 A7 DOE|JANE|Q dob=1980 lines=1-4 deceased "
                                "events=R\n");
}

/* Builds the query of each Prop 64 count and notes its history. */
static int
on_subject_queries(void *ctx, const struct cjx_doj_subject *s)
{
    char *out = ctx;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    for (size_t i = 0; i < s->n_convictions; i++) {
        if (!cjx_doj_is_prop64(s->convictions[i]->charge))
            continue;
        Cjx__V1__ReliefQuery *q;
        assert_int_equal(cjx_doj_subject_query(s, i, &a, &q), 0);
        size_t k = strlen(out);
        k += (size_t)snprintf(out + k, 512 - k,
                              "%s:", q->record->charge->normalized);
        for (size_t j = 0; j < q->history->n_events; j++)
            k += (size_t)snprintf(out + k, 512 - k, " %s",
                                  q->history->events[j]->statute->normalized);
        snprintf(out + k, 512 - k, ";");
    }
    cjx_arena_fini(&a);
    return 0;
}

static void
test_doj__query_history_leaves_out_the_count_itself(void **state)
{
    (void)state;
    struct row r;
    file[0] = '\0';
    row_conviction(&r, "S1", "001001001000", "11359 HS-SALE", "FELONY");
    row_emit(file, sizeof(file), &r, "\n");
    row_conviction(&r, "S1", "002001001000", "459 PC-BURGLARY", "FELONY");
    r.v[CJX_DOJ_OFN] = "SF-2";
    row_emit(file, sizeof(file), &r, "\n");
    row_conviction(&r, "S1", "003001001000", "11357 HS-POSSESS", "FELONY");
    r.v[CJX_DOJ_OFN] = "SF-3";
    row_emit(file, sizeof(file), &r, "\n");
    char out[512] = "";
    struct cjx_doj_callbacks cb = {on_subject_queries, NULL, out};
    struct cjx_doj_parser *p = cjx_doj_parser_new(&cb);
    assert_int_equal(cjx_doj_parser_feed(p, file, strlen(file)), 0);
    assert_int_equal(cjx_doj_parser_finish(p), 0);
    cjx_doj_parser_free(p);
    assert_string_equal(out, "HS 11359: PC 459 HS 11357;"
                             "HS 11357: HS 11359 PC 459;");
}

static void
test_doj__prop64_sections_exactly(void **state)
{
    (void)state;
    static const struct {
        const char *code, *section;
        int prop64;
    } cases[] = {
        {"HS", "11357", 1}, {"PC", "11359", 1},   {"", "11360", 1},
        {"HS", "11358", 1}, {"HS", "11357.5", 0}, {"HS", "11361", 0},
        {"VC", "11357", 0}, {"HS", "11530", 1},   {"HS", "11530.5", 1},
        {"PC", "11531", 0}, {"HS", "1135", 0},    {"HS", "113570", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Cjx__V1__Statute st = CJX__V1__STATUTE__INIT;
        st.code = (char *)cases[i].code;
        st.section = (char *)cases[i].section;
        if (cjx_doj_is_prop64(&st) != cases[i].prop64)
            fail_msg("%s %s: want %d", cases[i].code, cases[i].section,
                     cases[i].prop64);
    }
}

static void
test_doj__header_maps_columns_by_name(void **state)
{
    (void)state;
    struct row r, h;
    for (int i = 0; i < CJX_DOJ_NCOLUMNS; i++)
        h.v[i] = cjx_doj_column_name((enum cjx_doj_column)i);
    /* A file whose header puts OFN and OFFENSE_DESCR the other way round. */
    h.v[CJX_DOJ_OFN] = "OFFENSE_DESCR";
    h.v[CJX_DOJ_OFFENSE_DESCR] = "OFN";
    file[0] = '\0';
    row_emit(file, sizeof(file), &h, "\n");
    row_conviction(&r, "S1", "001001001000", "11358 HS-CULTIVATE", "FELONY");
    r.v[CJX_DOJ_OFN] = "11358 HS-CULTIVATE";
    r.v[CJX_DOJ_OFFENSE_DESCR] = "SF-9";
    row_emit(file, sizeof(file), &r, "\n");
    struct seen w;
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(w.errors, "");
    assert_non_null(
        strstr(w.text, "lines=2-2 [San Francisco SF-9 #1 HS 11358"));
    /* A header without a column the reader needs refuses the file. */
    h.v[CJX_DOJ_OFN] = "OFN";
    h.v[CJX_DOJ_CNT_ORDER] = "COUNT";
    file[0] = '\0';
    row_emit(file, sizeof(file), &h, "\n");
    row_emit(file, sizeof(file), &r, "\n");
    assert_int_equal(parse(file, 0, &w), CJX_EPARSE);
    assert_string_equal(
        w.errors, ": line 1, column CNT_ORDER, value \"\": the header row "
                  "has no such column\n");
    assert_int_equal(w.subjects, 0);
}

/* Each bad value is refused with its line, column and value. */
static void
test_doj__bad_values_name_line_column_and_value(void **state)
{
    (void)state;
    static const struct {
        enum cjx_doj_column col;
        const char *value;
        const char *error;
    } cases[] = {
        {CJX_DOJ_STP_EVENT_DATE, "20190231",
         "line 2, column STP_EVENT_DATE, value \"20190231\": not a date "
         "(YYYYMMDD)"},
        {CJX_DOJ_STP_EVENT_DATE, "",
         "line 2, column STP_EVENT_DATE, value \"\": a conviction or "
         "registration needs its date"},
        {CJX_DOJ_PRI_DOB, "1980-01-02",
         "line 2, column PRI_DOB, value \"1980-01-02\": not a date (YYYYMMDD)"},
        {CJX_DOJ_CNT_ORDER, "00100100100",
         "line 2, column CNT_ORDER, value \"00100100100\": not a count order "
         "of 12 digits"},
        {CJX_DOJ_CNT_ORDER, "001001000000",
         "line 2, column CNT_ORDER, value \"001001000000\": count number "
         "(digits 7-9) is 0"},
        {CJX_DOJ_OFFENSE_DESCR, "HS 11357-POSSESS",
         "line 2, column OFFENSE_DESCR, value \"HS 11357-POSSESS\": not an "
         "offense \"SECTION CODE-TEXT\": the code is not 2 or 3 letters"},
        {CJX_DOJ_OFFENSE_DESCR, "11357(B HS-X",
         "line 2, column OFFENSE_DESCR, value \"11357(B HS-X\": not an offense "
         "\"SECTION CODE-TEXT\": an unclosed or empty subdivision"},
        {CJX_DOJ_OFFENSE_DESCR, "999/11359 HS-X",
         "line 2, column OFFENSE_DESCR, value \"999/11359 HS-X\": not an "
         "offense \"SECTION CODE-TEXT\": a prefix before '/' other than 664 "
         "or 182"},
        {CJX_DOJ_CONV_STAT_DESCR, "FELONEY",
         "line 2, column CONV_STAT_DESCR, value \"FELONEY\": not FELONY, "
         "MISDEMEANOR, INFRACTION or empty"},
        {CJX_DOJ_OFFENSE_TOC, "X",
         "line 2, column OFFENSE_TOC, value \"X\": not F, M, I or empty"},
        {CJX_DOJ_SENT_LENGTH, "3.5",
         "line 2, column SENT_LENGTH, value \"3.5\": not a sentence length (0 "
         "to 9999)"},
        {CJX_DOJ_SENT_TIME_CODE, "W",
         "line 2, column SENT_TIME_CODE, value \"W\": not a time code (D, M or "
         "Y)"},
        {CJX_DOJ_CYC_AGE, "-4",
         "line 2, column CYC_AGE, value \"-4\": not an age in years"},
        {CJX_DOJ_CII_NUMBER, "",
         "line 1, column CII_NUMBER, value \"\": a subject with convictions "
         "needs a CII number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct row r;
        file[0] = '\0';
        row_conviction(&r, "S1", "001001001000", "11359 HS-SALE", "FELONY");
        if (cases[i].col == CJX_DOJ_CII_NUMBER)
            r.v[CJX_DOJ_CII_NUMBER] = "";
        row_emit(file, sizeof(file), &r, "\n");
        r.v[CJX_DOJ_CNT_ORDER] = "001001002000";
        r.v[cases[i].col] = cases[i].value;
        row_emit(file, sizeof(file), &r, "\n");
        /* The next subject is read as if nothing had happened. */
        row_conviction(&r, "S2", "001001001000", "11359 HS-SALE", "FELONY");
        row_emit(file, sizeof(file), &r, "\n");
        struct seen w;
        assert_int_equal(parse(file, 0, &w), 0);
        char want[512];
        snprintf(want, sizeof(want), "S1: %s\n", cases[i].error);
        if (strcmp(w.errors, want) != 0)
            fail_msg("case %zu:\n got %s want %s", i, w.errors, want);
        assert_int_equal(w.subjects, 1);
        assert_true(strncmp(w.text, "S2 ", 3) == 0);
    }
}

/* The rows of a refused subject travel with its error, exactly as read. */
static int
on_error_keep_raw(void *ctx, const struct cjx_doj_error *e)
{
    char *out = ctx;
    snprintf(out, 4096, "%s|%.*s", e->subject_id, (int)e->raw_len, e->raw);
    return 7; /* stop */
}

static void
test_doj__refused_subject_carries_its_rows_and_can_stop(void **state)
{
    (void)state;
    char raw[4096] = "";
    struct cjx_doj_callbacks cb = {NULL, on_error_keep_raw, raw};
    struct cjx_doj_parser *p = cjx_doj_parser_new(&cb);
    const char *text = "h,i,S9,too short\r\nh,i,S9,again\nh,i,S10,x\n";
    assert_int_equal(cjx_doj_parser_feed(p, text, strlen(text)), 7);
    /* Once stopped, the parser takes no more. */
    assert_int_equal(cjx_doj_parser_feed(p, "x\n", 2), 7);
    assert_int_equal(cjx_doj_parser_finish(p), 7);
    cjx_doj_parser_free(p);
    assert_string_equal(raw, "S9|h,i,S9,too short\nh,i,S9,again\n");
}

static void
test_doj__short_and_long_rows(void **state)
{
    (void)state;
    struct seen w;
    assert_int_equal(parse("1,2,S1,4,5\n", 0, &w), 0);
    assert_string_equal(w.errors,
                        "S1: line 1, column REQ_NAME, value \"\": missing: "
                        "the row has 5 fields, 95 expected\n");
    struct row r;
    file[0] = '\0';
    row_conviction(&r, "S1", "001001001000", "11359 HS-SALE", "FELONY");
    r.v[CJX_DOJ_END_OF_REC] = "x,y";
    row_emit(file, sizeof(file), &r, "\n");
    char *q = strrchr(file, '"');
    /* Unquote the last field: the row now has 96 fields. */
    memmove(q, q + 1, strlen(q));
    q = strrchr(file, '"');
    memmove(q, q + 1, strlen(q));
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(w.errors,
                        "S1: line 1: the row has 96 fields, 95 expected\n");
    /* A row beyond the bound is refused without being kept. */
    static char big[CJX_DOJ_MAX_ROW_BYTES + 64];
    memset(big, 'x', sizeof(big) - 2);
    memcpy(big, "a,b,S3,", 7);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big, 4096, &w), 0);
    assert_string_equal(w.errors,
                        "S3: line 1: the row is longer than 65536 bytes\n");
}

static void
test_doj__bom_crlf_latin1_quotes_and_split_input(void **state)
{
    (void)state;
    struct row r;
    strcpy(file, "\xEF\xBB\xBF");
    header_emit(file, sizeof(file));
    row_conviction(&r, "S1", "001001001000", "11359 HS-SALE", "FELONY");
    r.v[CJX_DOJ_PRI_NAME] = "MU\xD1OZ,JOS\xC9";            /* Latin-1 */
    r.v[CJX_DOJ_COMMENT_TEXT] = "SAID \"NO\",\nTHEN LEFT"; /* quoted, 2 lines */
    row_emit(file, sizeof(file), &r, "\r\n");
    row_conviction(&r, "S2", "001001001000", "11360 HS-SALE", "FELONY");
    r.v[CJX_DOJ_PRI_NAME] = "N\xC3\xBA\xC3\xB1"
                            "EZ,ANA"; /* UTF-8 already */
    row_emit(file, sizeof(file), &r, "\r\n");
    /* The last row has no line end. */
    file[strlen(file) - 2] = '\0';
    struct seen whole, w;
    assert_int_equal(parse(file, 0, &whole), 0);
    assert_string_equal(whole.errors, "");
    assert_non_null(strstr(whole.text, "S1 A01234567 MU\xC3\x91OZ|JOS\xC3\x89|"
                                       " dob=1980 lines=2-3"));
    assert_non_null(strstr(whole.text, "S2 A01234567 N\xC3\xBA\xC3\xB1"
                                       "EZ|ANA|"
                                       " dob=1980 lines=4-4"));
    /* Any split of the input reads the same. */
    static const size_t steps[] = {1, 2, 3, 7, 100, 4096};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(parse(file, steps[i], &w), 0);
        assert_string_equal(w.text, whole.text);
        assert_string_equal(w.errors, "");
    }
    /* A quote left open at the end refuses the subject it is in. */
    strcat(file, "\r\n1,2,S2,\"open");
    assert_int_equal(parse(file, 0, &w), 0);
    assert_string_equal(w.errors, "S2: line 5: a quote is not closed at the "
                                  "end of the file\n");
    assert_int_equal(w.subjects, 1);
}

/* Large subjects: the parser's buffers grow for 600 rows; past 4096 rows
 * the subject is refused and the next one is read. */
static void
test_doj__large_subjects_grow_then_hit_the_bound(void **state)
{
    (void)state;
    static char big[2 << 20];
    struct row r;
    big[0] = '\0';
    row_conviction(&r, "S1", "001001001000", "11359 HS-SALE", "FELONY");
    r.v[CJX_DOJ_SENT_LOC_DESCR] = "JAIL";
    r.v[CJX_DOJ_SENT_LENGTH] = "1";
    r.v[CJX_DOJ_SENT_TIME_CODE] = "D";
    for (int i = 0; i < 600; i++)
        row_emit(big, sizeof(big), &r, "\n");
    struct seen w;
    assert_int_equal(parse(big, 65536, &w), 0);
    assert_string_equal(w.errors, "");
    assert_non_null(strstr(w.text, "lines=1-600 [San Francisco SF-1 #1 "
                                   "HS 11359 sub= lvl=F/F parts=600 "));
    /* 4097 arrest rows of one subject, then another subject. */
    big[0] = '\0';
    row_init(&r, "S2", "A2");
    r.v[CJX_DOJ_STP_TYPE_DESCR] = "ARREST/DETAINED/CITED";
    for (int i = 0; i < 4097; i++)
        row_emit(big, sizeof(big), &r, "\n");
    row_conviction(&r, "S3", "001001001000", "11359 HS-SALE", "FELONY");
    row_emit(big, sizeof(big), &r, "\n");
    assert_int_equal(parse(big, 0, &w), 0);
    assert_string_equal(w.errors,
                        "S2: line 4097: the subject has more than 4096 rows\n");
    assert_int_equal(w.subjects, 1);
    assert_true(strncmp(w.text, "S3 ", 3) == 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doj__sentence_rows_extend_one_count),
        cmocka_unit_test(test_doj__levels_charges_and_case_numbers),
        cmocka_unit_test(test_doj__registrations_death_and_other_steps),
        cmocka_unit_test(test_doj__query_history_leaves_out_the_count_itself),
        cmocka_unit_test(test_doj__prop64_sections_exactly),
        cmocka_unit_test(test_doj__header_maps_columns_by_name),
        cmocka_unit_test(test_doj__bad_values_name_line_column_and_value),
        cmocka_unit_test(
            test_doj__refused_subject_carries_its_rows_and_can_stop),
        cmocka_unit_test(test_doj__short_and_long_rows),
        cmocka_unit_test(test_doj__bom_crlf_latin1_quotes_and_split_input),
        cmocka_unit_test(test_doj__large_subjects_grow_then_hit_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
