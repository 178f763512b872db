/* A subject's rows assembled into conviction records and a history, as
 * section 7.3 of the rules notes describes: the person from the first row,
 * one conviction per CNT_ORDER (sentence rows add parts), the case number
 * of each court event, PC 290 registrations and death. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "doj_internal.h"

#define COURT_EVENT_DIGITS 6 /* cycle and step of CNT_ORDER */

/* "SAN LUIS OBISPO" -> "San Luis Obispo", the way the agency registry
 * names counties. */
static char *
county_name(struct cjx_arena *a, const char *upper)
{
    char *s = cjx_arena_strndup(a, upper, strlen(upper));
    if (s == NULL)
        return NULL;
    int start = 1;
    for (char *c = s; *c; c++) {
        if (isalpha((unsigned char)*c))
            *c = (char)(start ? toupper((unsigned char)*c)
                              : tolower((unsigned char)*c));
        start = *c == ' ' || *c == '-';
    }
    return s;
}

/* "LAST,FIRST MIDDLE" into the person's name fields. */
static int
split_name(struct cjx_arena *a, const char *name, Cjx__V1__Person *p)
{
    const char *comma = strchr(name, ',');
    if (comma == NULL) {
        p->last_name = (char *)name;
        return 0;
    }
    p->last_name = cjx_arena_strndup(a, name, (size_t)(comma - name));
    const char *first = comma + 1;
    while (*first == ' ')
        first++;
    const char *sp = strchr(first, ' ');
    p->first_name =
        cjx_arena_strndup(a, first, sp ? (size_t)(sp - first) : strlen(first));
    p->middle_name = (char *)(sp ? sp + 1 : "");
    return p->last_name && p->first_name ? 0 : CJX_ENOMEM;
}

static int
person_build(const struct doj_row *rows, size_t n, struct cjx_arena *a,
             Cjx__V1__Person **out)
{
    Cjx__V1__Person *p = cjx_arena_alloc(a, sizeof(*p));
    if (p == NULL)
        return CJX_ENOMEM;
    cjx__v1__person__init(p);
    p->cii = (char *)rows[0].cii;
    p->fbi_number = (char *)rows[0].fbi;
    p->doj_subject_id = (char *)rows[0].subject_id;
    if (rows[0].dob.year != 0) {
        p->date_of_birth = cjx_arena_alloc(a, sizeof(*p->date_of_birth));
        if (p->date_of_birth == NULL)
            return CJX_ENOMEM;
        *p->date_of_birth = rows[0].dob;
    }
    for (size_t i = 0; i < n; i++)
        p->deceased |= rows[i].step == DOJ_STEP_DECEASED;
    *out = p;
    return split_name(a, rows[0].name, p);
}

static Cjx__V1__Date *
date_copy(struct cjx_arena *a, const Cjx__V1__Date *d)
{
    if (d->year == 0)
        return NULL;
    Cjx__V1__Date *c = cjx_arena_alloc(a, sizeof(*c));
    if (c != NULL)
        *c = *d;
    return c;
}

/* The case number of the court event of rows[i]: the first OFN any row
 * of the event carries, else its court case number, else one made of the
 * subject and the event's ordinal so that the record still has a key. */
static char *
case_number(const struct doj_row *rows, size_t n, size_t i, struct cjx_arena *a)
{
    const char *found = NULL;
    for (size_t j = 0; j < n && found == NULL; j++)
        if (strncmp(rows[j].cnt_order, rows[i].cnt_order, COURT_EVENT_DIGITS) ==
                0 &&
            rows[j].ofn[0] != '\0')
            found = rows[j].ofn;
    for (size_t j = 0; j < n && found == NULL; j++)
        if (strncmp(rows[j].cnt_order, rows[i].cnt_order, COURT_EVENT_DIGITS) ==
                0 &&
            rows[j].court_case[0] != '\0')
            found = rows[j].court_case;
    if (found != NULL)
        return (char *)found;
    size_t len = strlen(rows[i].subject_id) + 16;
    char *made = cjx_arena_alloc(a, len);
    if (made != NULL)
        snprintf(made, len, "DOJ-%s-%.6s", rows[i].subject_id,
                 rows[i].cnt_order);
    return made;
}

/* The record of the conviction first read at rows[i], with the sentence
 * parts of every row repeating its CNT_ORDER. */
static int
record_build(const struct doj_row *rows, size_t n, size_t i,
             Cjx__V1__Person *person, struct cjx_arena *a,
             Cjx__V1__ConvictionRecord **out)
{
    const struct doj_row *r = &rows[i];
    Cjx__V1__ConvictionRecord *rec = cjx_arena_alloc(a, sizeof(*rec));
    if (rec == NULL)
        return CJX_ENOMEM;
    cjx__v1__conviction_record__init(rec);
    rec->subject = person;
    rec->county = county_name(a, r->county);
    rec->court_ori = (char *)r->court_ori;
    rec->court_case_number = case_number(rows, n, i, a);
    rec->count_number = r->count_number;
    rec->offense_date = date_copy(a, &r->cycle_date);
    rec->conviction_date = date_copy(a, &r->event_date);
    rec->charge = r->statute;
    rec->level = r->level;
    rec->charge_level = r->charge_level;
    rec->disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    rec->cycle_age = r->cycle_age;
    size_t parts = 0;
    for (size_t j = i; j < n; j++)
        parts += rows[j].convicted && rows[j].has_sentence &&
                 strcmp(rows[j].cnt_order, r->cnt_order) == 0;
    rec->sentence = cjx_arena_alloc(a, (parts ? parts : 1) * sizeof(void *));
    if (rec->county == NULL || rec->court_case_number == NULL ||
        rec->sentence == NULL)
        return CJX_ENOMEM;
    for (size_t j = i; j < n; j++)
        if (rows[j].convicted && rows[j].has_sentence &&
            strcmp(rows[j].cnt_order, r->cnt_order) == 0)
            rec->sentence[rec->n_sentence++] =
                (Cjx__V1__SentencePart *)&rows[j].sentence;
    *out = rec;
    return 0;
}

/* Every count of the same case, by normalized statute, except the record's
 * own. */
static int
link_same_case(Cjx__V1__ConvictionRecord **recs, size_t n, struct cjx_arena *a)
{
    for (size_t i = 0; i < n; i++) {
        recs[i]->same_case_statutes =
            cjx_arena_alloc(a, (n ? n : 1) * sizeof(char *));
        if (recs[i]->same_case_statutes == NULL)
            return CJX_ENOMEM;
        for (size_t j = 0; j < n; j++)
            if (j != i && strcmp(recs[i]->court_case_number,
                                 recs[j]->court_case_number) == 0)
                recs[i]->same_case_statutes[recs[i]->n_same_case_statutes++] =
                    recs[j]->charge->normalized;
    }
    return 0;
}

static Cjx__V1__HistoryEvent *
event_new(struct cjx_arena *a, Cjx__V1__HistoryEventKind kind,
          Cjx__V1__Statute *st)
{
    Cjx__V1__HistoryEvent *e = cjx_arena_alloc(a, sizeof(*e));
    if (e != NULL) {
        cjx__v1__history_event__init(e);
        e->kind = kind;
        e->statute = st;
    }
    return e;
}

static int
is_pc290(const Cjx__V1__Statute *st)
{
    return strcmp(st->section, "290") == 0 && strcmp(st->code, "PC") == 0;
}

static int
events_build(const struct doj_row *rows, size_t n, struct cjx_arena *a,
             struct cjx_doj_subject *s)
{
    s->events = cjx_arena_alloc(a, (s->n_convictions + n + 1) * sizeof(void *));
    if (s->events == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < s->n_convictions; i++) {
        const Cjx__V1__ConvictionRecord *rec = s->convictions[i];
        Cjx__V1__HistoryEvent *e = event_new(
            a, CJX__V1__HISTORY_EVENT_KIND__HISTORY_EVENT_KIND_CONVICTION,
            rec->charge);
        if (e == NULL)
            return CJX_ENOMEM;
        e->offense_date = rec->offense_date;
        e->event_date = rec->conviction_date;
        e->court_case_number = rec->court_case_number;
        e->level =
            rec->level != CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_UNSPECIFIED
                ? rec->level
                : rec->charge_level;
        e->county = rec->county;
        s->events[s->n_events++] = e;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].step != DOJ_STEP_REGISTRATION || !is_pc290(rows[i].statute))
            continue;
        Cjx__V1__HistoryEvent *e = event_new(
            a, CJX__V1__HISTORY_EVENT_KIND__HISTORY_EVENT_KIND_REGISTRATION,
            rows[i].statute);
        if (e == NULL || (e->county = county_name(a, rows[i].county)) == NULL)
            return CJX_ENOMEM;
        e->event_date = date_copy(a, &rows[i].event_date);
        s->events[s->n_events++] = e;
    }
    return 0;
}

int
doj_subject_build(const struct doj_row *rows, size_t n, struct cjx_arena *a,
                  struct cjx_doj_subject *s, struct cjx_doj_error *err)
{
    memset(s, 0, sizeof(*s));
    s->subject_id = rows[0].subject_id;
    int rc = person_build(rows, n, a, &s->person);
    if (rc != 0)
        return rc;
    s->convictions = cjx_arena_alloc(a, n * sizeof(void *));
    s->conviction_lines = cjx_arena_alloc(a, n * sizeof(long));
    if (s->convictions == NULL || s->conviction_lines == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].convicted)
            continue;
        if (s->person->cii[0] == '\0') {
            doj_error_set(err, rows[0].line,
                          cjx_doj_column_name(CJX_DOJ_CII_NUMBER), "",
                          "a subject with convictions needs a CII number");
            return CJX_EPARSE;
        }
        /* A row repeating an earlier CNT_ORDER is a part of that count's
         * sentence, not another conviction. */
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = rows[j].convicted &&
                   strcmp(rows[j].cnt_order, rows[i].cnt_order) == 0;
        if (seen)
            continue;
        rc = record_build(rows, n, i, s->person, a,
                          &s->convictions[s->n_convictions]);
        if (rc != 0)
            return rc;
        s->conviction_lines[s->n_convictions++] = rows[i].line;
    }
    if ((rc = link_same_case(s->convictions, s->n_convictions, a)) != 0)
        return rc;
    return events_build(rows, n, a, s);
}

int
cjx_doj_is_prop64(const Cjx__V1__Statute *st)
{
    static const char *const current[] = {"11357", "11358", "11359", "11360"};
    static const char *const former[] = {"11530", "11530.5", "11531"};
    if (st == NULL)
        return 0;
    int hs_label = strcmp(st->code, "HS") == 0 || strcmp(st->code, "PC") == 0 ||
                   st->code[0] == '\0';
    for (size_t i = 0; i < 4; i++)
        if (hs_label && strcmp(st->section, current[i]) == 0)
            return 1;
    int hs_only = strcmp(st->code, "HS") == 0 || st->code[0] == '\0';
    for (size_t i = 0; i < 3; i++)
        if (hs_only && strcmp(st->section, former[i]) == 0)
            return 1;
    return 0;
}

int
cjx_doj_subject_query(const struct cjx_doj_subject *s, size_t i,
                      struct cjx_arena *arena, Cjx__V1__ReliefQuery **out)
{
    Cjx__V1__ReliefQuery *q = cjx_arena_alloc(arena, sizeof(*q));
    Cjx__V1__PersonHistory *h = cjx_arena_alloc(arena, sizeof(*h));
    Cjx__V1__HistoryEvent **ev =
        cjx_arena_alloc(arena, (s->n_events + 1) * sizeof(*ev));
    if (q == NULL || h == NULL || ev == NULL)
        return CJX_ENOMEM;
    cjx__v1__relief_query__init(q);
    cjx__v1__person_history__init(h);
    h->cii = s->person->cii;
    h->events = ev;
    /* Events 0..n_convictions-1 are the convictions in order: the count's
     * own is left out of its history. */
    for (size_t k = 0; k < s->n_events; k++)
        if (k != i)
            ev[h->n_events++] = s->events[k];
    q->record = s->convictions[i];
    q->history = h;
    *out = q;
    return 0;
}
