/* Synthetic record distribution: counties, Prop 64 and other sections, levels, ages, facts, priors and gaps. */
#include "genrec.h"

#include <stdio.h>
#include <string.h>

/* splitmix64: small, fast and the same everywhere. */
static uint64_t
next_u64(struct genrec *g)
{
    uint64_t z = (g->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t
rnd(struct genrec *g, uint32_t n)
{
    return (uint32_t)(((next_u64(g) >> 32) * (uint64_t)n) >> 32);
}

/* True with probability pct percent (0.1 steps: per-mille). */
static int
chance(struct genrec *g, unsigned per_mille)
{
    return rnd(g, 1000) < per_mille;
}

void
genrec_init(struct genrec *g, uint64_t seed)
{
    g->s = seed * UINT64_C(0xD1B54A32D192ED03) + 1;
    g->serial = 0;
    g->n_counties = 0;
}

struct weighted {
    const char *name;
    unsigned weight;
};

static const char *
pick(struct genrec *g, const struct weighted *w, size_t n)
{
    unsigned total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i].weight;
    unsigned r = rnd(g, total);
    for (size_t i = 0; i < n; i++) {
        if (r < w[i].weight)
            return w[i].name;
        r -= w[i].weight;
    }
    return w[n - 1].name;
}

#define PICK(g, table) pick((g), (table), sizeof(table) / sizeof(*(table)))

/* Roughly the share of the 2019 statewide caseload. */
static const struct weighted counties[] = {
    {"Los Angeles", 300}, {"San Diego", 90},      {"Orange", 70},
    {"Riverside", 80},    {"San Bernardino", 70}, {"Sacramento", 50},
    {"Alameda", 40},      {"San Francisco", 40},  {"Santa Clara", 40},
    {"Fresno", 35},       {"Kern", 35},           {"Humboldt", 25},
    {"Mendocino", 20},    {"San Joaquin", 25},    {"Contra Costa", 30},
    {"Yolo", 10},
};

int
genrec_set_counties(struct genrec *g, const char *const *names, int n)
{
    g->n_counties = 0;
    for (int i = 0; i < n && i < 16; i++) {
        int found = -1;
        for (size_t k = 0; k < sizeof(counties) / sizeof(*counties); k++)
            if (strcmp(counties[k].name, names[i]) == 0)
                found = (int)k;
        if (found < 0)
            return i;
        g->counties[g->n_counties++] = found;
    }
    return -1;
}

/* The county of conviction: statewide, or among the chosen ones. */
static const char *
pick_county(struct genrec *g)
{
    if (g->n_counties == 0)
        return PICK(g, counties);
    unsigned total = 0;
    for (int i = 0; i < g->n_counties; i++)
        total += counties[g->counties[i]].weight;
    unsigned r = rnd(g, total);
    for (int i = 0; i < g->n_counties; i++) {
        unsigned w = counties[g->counties[i]].weight;
        if (r < w)
            return counties[g->counties[i]].name;
        r -= w;
    }
    return counties[g->counties[g->n_counties - 1]].name;
}

static const struct weighted p64_sections[] = {
    {"11357", 380}, {"11358", 90}, {"11359", 300}, {"11360", 190},
    {"11357.5", 5}, {"11361", 5},  {"11364", 10},  {"4060", 10},
    {"4573.6", 5},  {"11530", 5},
};

/* Other offenses seen in histories. */
static const struct weighted other_sections[] = {
    {"HS 11350", 120}, {"HS 11377", 120},   {"HS 11364", 60},
    {"PC 459", 80},    {"PC 488", 90},      {"PC 484", 60},
    {"VC 23152", 120}, {"PC 273.5", 40},    {"PC 245", 40},
    {"PC 148", 40},    {"PC 647", 40},      {"PC 211", 20},
    {"HS 11359", 40},  {"HS 11357", 40},    {"HS 11358", 10},
    {"HS 11360", 25},  {"PC 261.5", 5},     {"PC 288(a)", 3},
    {"PC 187(a)", 2},  {"PC 261(a)(2)", 2}, {"PC 314(1)", 2},
    {"PC 290", 2},
};

static char *
str(struct cjx_arena *a, const char *s)
{
    return cjx_arena_strndup(a, s, strlen(s));
}

static Cjx__V1__Date *
mkdate(struct cjx_arena *a, int y, int m, int d)
{
    Cjx__V1__Date *dt = cjx_arena_alloc(a, sizeof(*dt));
    if (dt == NULL)
        return NULL;
    cjx__v1__date__init(dt);
    dt->year = y;
    dt->month = m;
    dt->day = d;
    return dt;
}

/* Days to civil date (proleptic Gregorian), for spreading dates evenly. */
static void
civil(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int64_t
days_of(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy =
        (153 * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static Cjx__V1__Date *
date_of_days(struct cjx_arena *a, int64_t days)
{
    int y, m, d;
    civil(days, &y, &m, &d);
    return mkdate(a, y, m, d);
}

static Cjx__V1__Statute *
statute(struct cjx_arena *a, const char *code, const char *section,
        const char *sub, const char *descr)
{
    Cjx__V1__Statute *s = cjx_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    cjx__v1__statute__init(s);
    char buf[96];
    s->code = str(a, code);
    s->section = str(a, section);
    s->subsection = str(a, sub);
    snprintf(buf, sizeof(buf), "%s %s%s", code, section, sub);
    s->normalized = str(a, buf);
    snprintf(buf, sizeof(buf), "%s%s %s-%s", section, sub, code, descr);
    s->code_raw = str(a, buf);
    s->description = str(a, descr);
    return s;
}

/* Splits "PC 288(a)" into code, section and subdivision. */
static Cjx__V1__Statute *
statute_of(struct cjx_arena *a, const char *text)
{
    char code[8] = "", rest[32] = "", section[32] = "", sub[32] = "";
    sscanf(text, "%7s %31s", code, rest);
    size_t k = strcspn(rest, "(");
    memcpy(section, rest, k);
    section[k] = '\0';
    snprintf(sub, sizeof(sub), "%s", rest + k);
    return statute(a, code, section, sub, "OFFENSE");
}

static const char *
p64_description(const char *section)
{
    if (strcmp(section, "11357") == 0)
        return "POSSESS MARIJUANA";
    if (strcmp(section, "11358") == 0)
        return "CULTIVATE MARIJUANA";
    if (strcmp(section, "11359") == 0)
        return "POSSESS MARIJUANA FOR SALE";
    if (strcmp(section, "11360") == 0)
        return "TRANSPORT/SELL MARIJUANA";
    return "OTHER";
}

static Cjx__V1__OffenseLevel
level_for(struct genrec *g, const char *section, const char *sub, int year)
{
    if (strcmp(section, "11357") == 0) {
        if (strcmp(sub, "(b)") == 0)
            return year >= 2011
                       ? CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_INFRACTION
                       : CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
        if (strcmp(sub, "(a)") == 0 || sub[0] == '\0')
            return chance(g, 550)
                       ? CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY
                       : CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
        return CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
    }
    if (strcmp(section, "11360") == 0 && strcmp(sub, "(b)") == 0)
        return CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
    return chance(g, 850) ? CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY
                          : CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
}

static Cjx__V1__OffenseFacts *
facts_for(struct genrec *g, struct cjx_arena *a, const char *section,
          const char *sub)
{
    Cjx__V1__OffenseFacts *f = cjx_arena_alloc(a, sizeof(*f));
    if (f == NULL)
        return NULL;
    cjx__v1__offense_facts__init(f);
    if (chance(g, 420)) {
        f->has_grams = 1;
        int concentrate =
            strcmp(section, "11357") == 0 && strcmp(sub, "(a)") == 0;
        f->grams = concentrate ? (double)(1 + rnd(g, 300)) / 10.0
                               : (double)(5 + rnd(g, 2000)) / 10.0 *
                                     (chance(g, 200) ? 20 : 1);
        if (concentrate) {
            f->has_concentrated = 1;
            f->concentrated = 1;
        }
    }
    if (strcmp(section, "11358") == 0 && chance(g, 500)) {
        f->has_plants = 1;
        f->plants = chance(g, 400) ? (int32_t)(1 + rnd(g, 6))
                                   : (int32_t)(7 + rnd(g, 200));
    }
    if (strcmp(section, "11360") == 0 && chance(g, 500)) {
        f->has_sale_involved = 1;
        f->sale_involved = chance(g, 650);
        if (!f->sale_involved) {
            f->has_transport_only = 1;
            f->transport_only = chance(g, 700);
        }
    }
    if ((strcmp(section, "11359") == 0 || strcmp(section, "11360") == 0) &&
        chance(g, 30)) {
        f->has_recipient_age = 1;
        f->recipient_age = (int32_t)(14 + rnd(g, 40));
        f->has_sold_to_minor = 1;
        f->sold_to_minor = f->recipient_age < 18;
    }
    if (strcmp(section, "11359") == 0 && chance(g, 10)) {
        f->has_hired_minor_age = 1;
        f->hired_minor_age = (int32_t)(15 + rnd(g, 10));
    }
    if (strcmp(section, "11360") == 0 && chance(g, 10)) {
        f->has_import_export_grams = 1;
        f->import_export_grams = (double)(10 + rnd(g, 5000));
    }
    if (strcmp(section, "11358") == 0 && chance(g, 20)) {
        f->has_environmental_violation = 1;
        f->environmental_violation = 1;
    }
    return f;
}

static int
add_sentence(struct genrec *g, struct cjx_arena *a,
             Cjx__V1__ConvictionRecord *r, int felony)
{
    if (chance(g, 50))
        return 0; /* no sentence data */
    size_t n = 1 + rnd(g, 3);
    r->sentence = cjx_arena_alloc(a, n * sizeof(*r->sentence));
    if (r->sentence == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        Cjx__V1__SentencePart *p = cjx_arena_alloc(a, sizeof(*p));
        if (p == NULL)
            return -1;
        cjx__v1__sentence_part__init(p);
        switch (rnd(g, 4)) {
        case 0:
            p->type = CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_JAIL;
            p->length = (int32_t)(1 + rnd(g, 365));
            p->unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_DAYS;
            break;
        case 1:
            p->type = CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_PROBATION;
            p->length = (int32_t)(1 + rnd(g, 5));
            p->unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_YEARS;
            break;
        case 2:
            p->type = felony ? CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_PRISON
                             : CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_JAIL;
            p->length = (int32_t)(1 + rnd(g, felony ? 48 : 6));
            p->unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_MONTHS;
            break;
        default:
            p->type = CJX__V1__SENTENCE_TYPE__SENTENCE_TYPE_FINE;
            p->fine_cents = (int64_t)(10000 + rnd(g, 100000));
            break;
        }
        r->sentence[i] = p;
    }
    r->n_sentence = n;
    return 0;
}

static int
add_history(struct genrec *g, struct cjx_arena *a, Cjx__V1__PersonHistory *h,
            int64_t birth, int64_t offense, const char *county)
{
    static const unsigned counts[] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 6};
    size_t n = counts[rnd(g, sizeof(counts) / sizeof(*counts))];
    if (n == 0)
        return 0;
    h->events = cjx_arena_alloc(a, n * sizeof(*h->events));
    if (h->events == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        Cjx__V1__HistoryEvent *e = cjx_arena_alloc(a, sizeof(*e));
        if (e == NULL)
            return -1;
        cjx__v1__history_event__init(e);
        const char *text = PICK(g, other_sections);
        int registration = strcmp(text, "PC 290") == 0 && chance(g, 700);
        e->kind =
            registration
                ? CJX__V1__HISTORY_EVENT_KIND__HISTORY_EVENT_KIND_REGISTRATION
                : CJX__V1__HISTORY_EVENT_KIND__HISTORY_EVENT_KIND_CONVICTION;
        e->statute = statute_of(a, text);
        /* Anywhere from age 18 to ten years after this offense. */
        int64_t lo = birth + 18 * 365, hi = offense + 3650;
        int64_t when =
            lo + (hi > lo ? (int64_t)rnd(g, (uint32_t)(hi - lo)) : 0);
        if (!chance(g, 40))
            e->offense_date = date_of_days(a, when);
        if (!chance(g, 20))
            e->event_date = date_of_days(a, when + 20 + rnd(g, 300));
        char cn[32];
        snprintf(cn, sizeof(cn), "%c%02d-%06u", county[0],
                 (int)((when / 365 + 70) % 100), rnd(g, 1000000));
        e->court_case_number = str(a, cn);
        e->level = chance(g, 500)
                       ? CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY
                       : CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
        e->county = str(a, chance(g, 800) ? county : PICK(g, counties));
        h->events[i] = e;
    }
    h->n_events = n;
    return 0;
}

Cjx__V1__ReliefQuery *
genrec_next(struct genrec *g, struct cjx_arena *a)
{
    Cjx__V1__ReliefQuery *q = cjx_arena_alloc(a, sizeof(*q));
    Cjx__V1__ConvictionRecord *r = cjx_arena_alloc(a, sizeof(*r));
    Cjx__V1__Person *p = cjx_arena_alloc(a, sizeof(*p));
    Cjx__V1__PersonHistory *h = cjx_arena_alloc(a, sizeof(*h));
    if (q == NULL || r == NULL || p == NULL || h == NULL)
        return NULL;
    cjx__v1__relief_query__init(q);
    cjx__v1__conviction_record__init(r);
    cjx__v1__person__init(p);
    cjx__v1__person_history__init(h);
    g->serial++;
    q->record = r;
    q->history = h;
    r->subject = p;
    q->as_of = mkdate(a, 2019, 7, 1);

    char buf[64];
    snprintf(buf, sizeof(buf), "A%08u", (unsigned)(rnd(g, 100000000)));
    p->cii = str(a, buf);
    h->cii = p->cii;
    static const char *const last[] = {"GARCIA",  "SMITH", "NGUYEN",
                                       "JOHNSON", "LOPEZ", "WILLIAMS",
                                       "KIM",     "BROWN"};
    static const char *const first[] = {"JOSE",  "MARIA", "JAMES",   "LINDA",
                                        "DAVID", "ANA",   "MICHAEL", "TAN"};
    p->last_name = str(a, last[rnd(g, 8)]);
    p->first_name = str(a, first[rnd(g, 8)]);
    p->deceased = chance(g, 15);

    const char *county = pick_county(g);
    r->county = str(a, county);
    /* An NCIC ORI is nine characters. */
    snprintf(buf, sizeof(buf), "CA0%02u000J", 1 + rnd(g, 58));
    r->court_ori = str(a, buf);
    r->prosecuting_agency_ori = str(a, buf);

    /* Offense dates from 1975 to 2019, denser after 1990; about 7% after
     * the Act. */
    int64_t base = days_of(1975, 1, 1), act = days_of(2016, 11, 9);
    int64_t offense = chance(g, 70)
                          ? act + rnd(g, 960)
                          : base + (int64_t)rnd(g, (uint32_t)(act - base));
    if (offense < days_of(1990, 1, 1) && chance(g, 500))
        offense += 15 * 365;
    int age = chance(g, 120)   ? 15 + (int)rnd(g, 3)
              : chance(g, 250) ? 18 + (int)rnd(g, 3)
                               : 21 + (int)rnd(g, 35);
    int64_t birth = offense - age * 365 - (int64_t)rnd(g, 365);
    int64_t conviction = offense + 20 + rnd(g, 400);
    int oy, om, od;
    civil(offense, &oy, &om, &od);

    if (!chance(g, 40))
        p->date_of_birth = date_of_days(a, birth);
    if (!chance(g, 30))
        r->offense_date = date_of_days(a, offense);
    if (!chance(g, 10))
        r->conviction_date = date_of_days(a, conviction);
    if (chance(g, 300))
        r->cycle_age = age;
    snprintf(buf, sizeof(buf), "%c%02d-F-%06u", county[0], oy % 100,
             rnd(g, 1000000));
    r->court_case_number = str(a, buf);
    r->count_number = (int32_t)(1 + rnd(g, 3));

    const char *section = PICK(g, p64_sections);
    const char *sub = "";
    const char *code = "HS";
    if (strcmp(section, "11357") == 0) {
        static const struct weighted s[] = {{"(a)", 220}, {"(b)", 480},
                                            {"(c)", 200}, {"(d)", 30},
                                            {"(e)", 20},  {"", 50}};
        sub = PICK(g, s);
    } else if (strcmp(section, "11360") == 0) {
        static const struct weighted s[] = {
            {"(a)", 800}, {"(b)", 150}, {"", 50}};
        sub = PICK(g, s);
    } else if (strcmp(section, "4060") == 0) {
        code = "BP";
    } else if (strcmp(section, "4573.6") == 0) {
        code = "PC";
    }
    if (offense >= act && chance(g, 600)) {
        /* Post-Act lettering on post-Act offenses. */
        if (strcmp(section, "11357") == 0)
            sub = chance(g, 500) ? "(a)(2)" : "(b)(2)";
        else if (strcmp(section, "11359") == 0)
            sub = "(b)";
        else if (strcmp(section, "11360") == 0)
            sub = "(a)(2)";
    }
    if (strcmp(code, "HS") == 0 && chance(g, 15))
        code = "PC"; /* DOJ mislabels */
    r->charge = statute(a, code, section, sub, p64_description(section));
    if (r->charge == NULL)
        return NULL;
    r->charge->attempt = chance(g, 20);
    r->charge->conspiracy = chance(g, 8);
    if (chance(g, 5))
        r->charge->comment_text = str(a, "SEE COMMENT FOR CHARGE 11359 HS");

    r->level = level_for(g, section, sub, oy);
    if (chance(g, 30)) {
        r->charge_level = chance(g, 500) ? r->level : 0;
        r->level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_UNSPECIFIED;
    }
    r->disposition = chance(g, 970)
                         ? CJX__V1__DISPOSITION__DISPOSITION_CONVICTED
                         : CJX__V1__DISPOSITION__DISPOSITION_DISMISSED;
    r->facts = facts_for(g, a, section, sub);
    if (r->facts == NULL ||
        add_sentence(g, a, r,
                     r->level ==
                         CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY) != 0 ||
        add_history(g, a, h, birth, offense, county) != 0)
        return NULL;
    if (chance(g, 30)) {
        r->prior_relief = cjx_arena_alloc(a, sizeof(*r->prior_relief));
        if (r->prior_relief == NULL)
            return NULL;
        r->prior_relief[0] =
            chance(g, 700)
                ? CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED
                : CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PC1203_4_DISMISSED;
        r->n_prior_relief = 1;
    }
    if (strcmp(section, "11358") == 0 && chance(g, 30)) {
        r->same_case_statutes = cjx_arena_alloc(a, sizeof(char *));
        if (r->same_case_statutes == NULL)
            return NULL;
        r->same_case_statutes[0] = str(a, "FG 1602");
        r->n_same_case_statutes = 1;
    }
    return q;
}
