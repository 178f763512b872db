/* cjxctl decide, order, ack and notify-person: the people's steps of the
 * relief exchange. Each takes one case on the command line or many from a
 * CSV or JSON Lines file, checks every line before anything is sent, and
 * either sends them (the court's bulk order in one OrderBulk stream under
 * one bulk-order id) or, with --dry-run, shows what would be sent and which
 * cases the workflow would refuse, and why, without sending anything.
 *
 * One engine serves the four steps; a step is a row of the table below:
 * its message, method, role and the columns of its input. */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cases_convert.h"
#include "cjx/clock.h"
#include "cjx/v1/exchange.methods.h"
#include "record_check.h"
#include "step_run.h"

static int
check_decision(const ProtobufCMessage *msg, struct cjx_errbuf *eb)
{
    const Cjx__V1__ProsecutorDecision *d = (const void *)msg;
    if (d->decision_case ==
            CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE &&
        d->no_challenge->relief == CJX__V1__RELIEF__RELIEF_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "no_challenge.relief: required");
    if (d->decision_case == CJX__V1__PROSECUTOR_DECISION__DECISION_CHALLENGE &&
        d->challenge->ground ==
            CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "challenge.ground: required");
    return case_check_message(msg, eb);
}

static int
check_order(const ProtobufCMessage *msg, struct cjx_errbuf *eb)
{
    const Cjx__V1__ReliefOrder *o = (const void *)msg;
    if (o->relief == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "relief: required");
    return case_check_message(msg, eb);
}

static int
check_ack(const ProtobufCMessage *msg, struct cjx_errbuf *eb)
{
    const Cjx__V1__HistoryUpdated *h = (const void *)msg;
    if (h->applied == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "applied: required");
    return case_check_message(msg, eb);
}

/* The service's structural check knows the four workflow steps; the
 * public defender's notice to the person is checked here field by field. */
static int
check_person_notified(const ProtobufCMessage *msg, struct cjx_errbuf *eb)
{
    const Cjx__V1__PersonNotified *p = (const void *)msg;
    int err = record_check_request_id(p->meta, eb);
    if (err != 0)
        return err;
    if (p->key == NULL)
        return cjx_errf(eb, CJX_EINVAL, "key: required");
    if ((err = record_check_key(p->key, eb)) != 0)
        return err;
    if (p->contact_date == NULL || p->contact_date->year == 0)
        return cjx_errf(eb, CJX_EINVAL, "contact_date: required");
    if (p->method == CJX__V1__CONTACT_METHOD__CONTACT_METHOD_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "method: required");
    if (p->outcome == CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "outcome: required");
    return 0;
}

static const struct step_column decide_columns[] = {
    STEP_KEY_COLUMNS,
    {"relief", "no_challenge.relief", STEP_ENUM, &cjx__v1__relief__descriptor,
     0},
    {"statutory_reason", "no_challenge.statutory_reason", STEP_TEXT, NULL, 0},
    {"ground", "challenge.ground", STEP_ENUM,
     &cjx__v1__challenge_ground__descriptor, 0},
    {"reason_code", "challenge.reason_code", STEP_TEXT, NULL, 0},
    {"supporting_facts_ref", "challenge.supporting_facts_ref", STEP_TEXT, NULL,
     0},
    STEP_FACT_COLUMNS,
    {NULL, NULL, 0, NULL, 0}};

static const struct step_column order_columns[] = {
    STEP_KEY_COLUMNS,
    {"relief", "relief", STEP_ENUM, &cjx__v1__order_relief__descriptor, 0},
    {"new_level", "new_level", STEP_ENUM, &cjx__v1__offense_level__descriptor,
     0},
    {"sealed", "sealed", STEP_BOOL, NULL, 0},
    {"effective_date", "effective_date", STEP_DATE, NULL, 0},
    {"judge", "judge", STEP_TEXT, NULL, 0},
    {"bulk_order_id", "bulk_order_id", STEP_TEXT, NULL, 0},
    {NULL, NULL, 0, NULL, 0}};

static const struct step_column ack_columns[] = {
    STEP_KEY_COLUMNS,
    {"applied", "applied", STEP_ENUM, &cjx__v1__order_relief__descriptor, 0},
    {NULL, NULL, 0, NULL, 0}};

static const struct step_column person_columns[] = {
    STEP_KEY_COLUMNS,
    {"contact_date", "contact_date", STEP_DATE, NULL, 0},
    {"method", "method", STEP_ENUM, &cjx__v1__contact_method__descriptor, 0},
    {"outcome", "outcome", STEP_ENUM, &cjx__v1__contact_outcome__descriptor, 0},
    {"note", "note", STEP_TEXT, NULL, 0},
    {NULL, NULL, 0, NULL, 0}};

static const struct step_kind step_kinds[] = {
    {"decide", "decide", &cjx__v1__prosecutor_decision__descriptor,
     CASE_SERVICE_DECIDE, CJX_ROLE_PROSECUTOR, decide_columns,
     "cjxctl decide [--dry-run] (CII CASE COUNT (--relief R | --ground G "
     "[--reason-code C]) [--FACT V ...] | --file FILE) [--facts FILE]",
     check_decision},
    {"order", "order", &cjx__v1__relief_order__descriptor, CASE_SERVICE_ORDER,
     CJX_ROLE_COURT, order_columns,
     "cjxctl order [--dry-run] (CII CASE COUNT --relief R [--judge J] "
     "[--effective-date D] [--bulk-order-id ID] | --file FILE |\n"
     "       --bulk --county X --state S --judge J --bulk-order-id ID "
     "[--relief accepted|R] [--effective-date D])",
     check_order},
    {"ack", "ack", &cjx__v1__history_updated__descriptor,
     CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, CJX_ROLE_DOJ, ack_columns,
     "cjxctl ack [--dry-run] (CII CASE COUNT --applied R | --file FILE)",
     check_ack},
    {"notify-person", "person", &cjx__v1__person_notified__descriptor,
     CASE_SERVICE_NOTIFY_PERSON, CJX_ROLE_DEFENDER, person_columns,
     "cjxctl notify-person [--dry-run] (CII CASE COUNT --contact-date D "
     "--method M --outcome O [--note TEXT] | --file FILE)",
     check_person_notified},
};

/* ---- shared with review -------------------------------------------------- */

const Cjx__V1__RecordKey *
steps_key_of(const ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "key");
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(const Cjx__V1__RecordKey *const *)((const char *)msg + f->offset);
}

const char *
steps_case_label(const Cjx__V1__RecordKey *key, char *buf, size_t len)
{
    if (key == NULL)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%s %s #%d", key->cii, key->court_case_number,
                 (int)key->count_number);
    return buf;
}

int
steps_get_case(struct cli *cli, const Cjx__V1__RecordKey *key,
               int include_notice, Cjx__V1__Case **out,
               struct cjx_client_status *st)
{
    Cjx__V1__GetCaseRequest req = CJX__V1__GET_CASE_REQUEST__INIT;
    req.key = (Cjx__V1__RecordKey *)key;
    req.include_notice = include_notice;
    ProtobufCMessage *resp = NULL;
    *out = NULL;
    int err = cjx_client_unary(
        cli->client, &cjx__v1__case_service__methods[CASE_SERVICE_GET_CASE],
        &req.base, cli->timeout_ms, &resp, st);
    if (err == 0 && st->code == 0)
        *out = (Cjx__V1__Case *)resp;
    else if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

void
steps_progress(const char *what, size_t done, size_t total)
{
    if (total < 2 || !isatty(STDERR_FILENO))
        return;
    char bar[41];
    size_t fill = done * 40 / total;
    for (size_t i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r%s [%s] %zu/%zu", what, bar, done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* ---- checking a line ------------------------------------------------------ */

/* The request id of a step comes from its content (the message without
 * its id and time): sending the same file again is a retry that the
 * daemon answers from its inbox and that changes nothing. */
static int
set_content_id(const struct step_kind *k, ProtobufCMessage *msg,
               struct cjx_arena *a)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                        "meta");
    Cjx__V1__RequestMeta **meta = (void *)((char *)msg + f->offset);
    *meta = NULL;
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *bytes = cjx_arena_alloc(a, n ? n : 1);
    Cjx__V1__RequestMeta *m = cjx_arena_alloc(a, sizeof(*m));
    char *id = cjx_arena_alloc(a, strlen(k->id_prefix) + 34);
    unsigned char md[32];
    if (bytes == NULL || m == NULL || id == NULL)
        return CJX_ENOMEM;
    protobuf_c_message_pack(msg, bytes);
    if (EVP_Digest(bytes, n, md, NULL, EVP_sha256(), NULL) != 1)
        return CJX_EINTERNAL;
    size_t p = (size_t)sprintf(id, "%s.", k->id_prefix);
    for (int i = 0; i < 16; i++)
        p += (size_t)sprintf(id + p, "%02x", md[i]);
    cjx__v1__request_meta__init(m);
    m->request_id = id;
    *meta = m;
    return 0;
}

/* When the step was taken. The local daemon dates a step its operator
 * takes; a daemon reached with --remote takes the caller for a peer and
 * needs the sender's time. */
static void
set_step_time(ProtobufCMessage *msg, int64_t at_us)
{
    if (msg->descriptor == &cjx__v1__person_notified__descriptor)
        ((Cjx__V1__PersonNotified *)msg)->notified_at_unix_us = at_us;
    else
        case_set_time(msg, at_us);
}

static int
same_key(const Cjx__V1__RecordKey *a, const Cjx__V1__RecordKey *b)
{
    return a != NULL && b != NULL && strcmp(a->cii, b->cii) == 0 &&
           strcmp(a->court_case_number, b->court_case_number) == 0 &&
           a->count_number == b->count_number;
}

/* A decision rests on the facts found for its case, unless its own line
 * names some (which then win). The facts stay in their input's arena. */
static void
attach_facts(const struct step_input *facts, Cjx__V1__ProsecutorDecision *d)
{
    if (d->facts != NULL)
        return;
    for (size_t i = 0; i < facts->n; i++) {
        Cjx__V1__ProsecutorDecision *f = (void *)facts->lines[i].msg;
        if (same_key(f->key, d->key)) {
            d->facts = f->facts;
            return;
        }
    }
}

static int
check_line(void *arg, ProtobufCMessage *msg, struct cjx_arena *a,
           struct cjx_errbuf *eb)
{
    const struct run *run = arg;
    const struct step_kind *k = run->kind;
    /* The time is part of the content the id comes from: a rerun over
     * --remote is a new message that repeats a step already taken, which
     * the workflow answers as a resend, changing nothing. */
    if (run->cli->remote != NULL)
        set_step_time(msg, run->now_us);
    if (run->facts != NULL)
        attach_facts(run->facts, (Cjx__V1__ProsecutorDecision *)msg);
    int err = set_content_id(k, msg, a);
    if (err != 0)
        return cjx_errf(eb, err, "%s", cjx_strerror(err));
    return k->check(msg, eb);
}

/* ---- the bulk order ------------------------------------------------------------ */

struct bulk_order {
    const char *county;
    int state;
    int relief; /* 0: the relief the prosecutor accepted */
    const char *judge, *bulk_order_id, *effective_date;
};

static char *
arena_strdup(struct cjx_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cjx_arena_alloc(a, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* One order of the bulk order for case c, checked as a line of a file. */
static int
add_bulk_line(struct run *run, const struct bulk_order *b,
              const Cjx__V1__Case *c, int line)
{
    struct step_input *in = run->in;
    struct cjx_arena *a = &in->arena;
    char label[128];
    steps_case_label(c->key, label, sizeof(label));
    int relief = b->relief;
    if (relief == 0)
        relief =
            c->decision == CJX__V1__DECISION_KIND__DECISION_KIND_NO_CHALLENGE
                ? (int)c->accepted_relief
                : 0;
    if (relief == 0) {
        fprintf(stderr,
                "cjxctl: case %s: relief: the prosecutor accepted none "
                "(state %s); name the order with --relief\n",
                label,
                cli_enum_short(&cjx__v1__case_state__descriptor, c->state));
        return 1;
    }
    Cjx__V1__ReliefOrder *o = cjx_arena_alloc(a, sizeof(*o));
    Cjx__V1__RecordKey *key = cjx_arena_alloc(a, sizeof(*key));
    if (o == NULL || key == NULL)
        return 1;
    cjx__v1__relief_order__init(o);
    cjx__v1__record_key__init(key);
    key->cii = arena_strdup(a, c->key->cii);
    key->court_case_number = arena_strdup(a, c->key->court_case_number);
    key->count_number = c->key->count_number;
    o->key = key;
    o->relief = (Cjx__V1__OrderRelief)relief;
    o->judge = (char *)b->judge;
    o->bulk_order_id = (char *)b->bulk_order_id;
    if (b->effective_date != NULL) {
        Cjx__V1__Date *d = cjx_arena_alloc(a, sizeof(*d));
        int y, m, day;
        if (d == NULL)
            return 1;
        cjx__v1__date__init(d);
        sscanf(b->effective_date, "%4d-%2d-%2d", &y, &m, &day);
        d->year = y;
        d->month = m;
        d->day = day;
        o->effective_date = d;
    }
    struct cjx_errbuf eb;
    if (key->cii == NULL || key->court_case_number == NULL ||
        check_line(run, &o->base, a, &eb) != 0) {
        fprintf(stderr, "cjxctl: case %s: %s\n", label, eb.msg);
        return 1;
    }
    return step_input_add(in, &o->base, line) != 0;
}

/* Lists the cases the bulk order covers (paged ListCases) into run->in.
 * 0, or 1 after reporting why nothing will be sent. */
static int
collect_bulk(struct run *run, const struct bulk_order *b)
{
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_CASES_REQUEST__FILTER_COUNTY;
    req.county = (char *)b->county;
    req.state = b->state;
    req.page_size = 1000;
    char token[64] = "";
    int bad = 0, line = 0;
    do {
        req.page_token = token;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        if (cjx_client_unary(
                run->cli->client,
                &cjx__v1__case_service__methods[CASE_SERVICE_LIST_CASES],
                &req.base, run->cli->timeout_ms, &resp, &st) != 0 ||
            st.code != 0)
            return cli_report_status("cases", &st);
        const Cjx__V1__ListCasesResponse *r = (const void *)resp;
        for (size_t i = 0; i < r->n_cases; i++)
            bad += add_bulk_line(run, b, r->cases[i], ++line);
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0');
    if (bad > 0) {
        fprintf(stderr,
                "cjxctl: %d case(s) cannot be ordered so, nothing "
                "sent\n",
                bad);
        return 1;
    }
    if (run->in->n == 0) {
        fprintf(stderr, "cjxctl: no %s case of %s to order\n",
                cli_enum_short(&cjx__v1__case_state__descriptor, b->state),
                b->county);
        return 1;
    }
    return 0;
}

/* Takes (or tries) every step of run->in and prints what came of them;
 * 1 when any was refused. */
static int
run_and_print(struct run *run)
{
    run->results = calloc(run->in->n, sizeof(*run->results));
    if (run->results == NULL)
        return 1;
    step_run_lines(run);
    if (run->cli->json)
        step_print_json(run);
    else
        step_print_table(run);
    int status = 0;
    for (size_t i = 0; i < run->in->n; i++)
        status |= run->results[i].code != 0;
    free(run->results);
    run->results = NULL;
    return status;
}

/* ---- the command ----------------------------------------------------------------- */

/* "court_case_number" -> "court-case-number" for the option name. */
static const char *
option_name(const char *column, char *buf, size_t len)
{
    snprintf(buf, len, "%s", column);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '_')
            *p = '-';
    return buf;
}

enum {
    OPT_FILE = 1000,
    OPT_DRY_RUN,
    OPT_BULK,
    OPT_COUNTY,
    OPT_STATE,
    OPT_FACTS,
    OPT_COLUMN, /* + the column's index */
};

#define MAX_OPTIONS 40

/* The value given for a column by name (NULL if none). */
static const char *
value_of(const struct step_kind *k, const char *const *values,
         const char *column)
{
    for (int c = 0; k->columns[c].name != NULL; c++)
        if (strcmp(k->columns[c].name, column) == 0)
            return values[c];
    return NULL;
}

static int
run_step(struct cli *cli, const struct step_kind *k, int argc, char **argv)
{
    struct option opts[MAX_OPTIONS];
    char names[MAX_OPTIONS][40];
    const char *values[MAX_OPTIONS] = {0};
    int n = 0, ncols = 0;
    opts[n++] = (struct option){"file", required_argument, NULL, OPT_FILE};
    opts[n++] = (struct option){"dry-run", no_argument, NULL, OPT_DRY_RUN};
    if (k->method == CASE_SERVICE_DECIDE)
        opts[n++] =
            (struct option){"facts", required_argument, NULL, OPT_FACTS};
    if (k->method == CASE_SERVICE_ORDER) {
        opts[n++] = (struct option){"bulk", no_argument, NULL, OPT_BULK};
        opts[n++] =
            (struct option){"county", required_argument, NULL, OPT_COUNTY};
        opts[n++] =
            (struct option){"state", required_argument, NULL, OPT_STATE};
    }
    /* Every column but the key's is an option of the one-case form. */
    for (; k->columns[ncols].name != NULL; ncols++) {
        if (ncols < 3 || n >= MAX_OPTIONS - 1)
            continue;
        opts[n] = (struct option){
            option_name(k->columns[ncols].name, names[n], sizeof(names[n])),
            required_argument, NULL, OPT_COLUMN + ncols};
        n++;
    }
    opts[n] = (struct option){NULL, 0, NULL, 0};

    const char *file = NULL, *facts_file = NULL;
    int dry_run = 0, bulk = 0, ch, v;
    struct bulk_order b = {.state =
                               CJX__V1__CASE_STATE__CASE_STATE_NOT_CHALLENGED};
    /* 0, not 1: GNU getopt starts afresh, so that options may follow the
     * operands here although cjxctl's own options stop at the command. */
    optind = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_FILE:
            file = optarg;
            break;
        case OPT_DRY_RUN:
            dry_run = 1;
            break;
        case OPT_BULK:
            bulk = 1;
            break;
        case OPT_COUNTY:
            b.county = optarg;
            break;
        case OPT_FACTS:
            facts_file = optarg;
            break;
        case OPT_STATE:
            if (step_enum_parse(&cjx__v1__case_state__descriptor, optarg, &v) !=
                0) {
                fprintf(stderr, "cjxctl: --state: unknown state '%s'\n",
                        optarg);
                return 2;
            }
            b.state = v;
            break;
        default:
            if (ch < OPT_COLUMN || ch >= OPT_COLUMN + ncols) {
                fprintf(stderr, "usage: %s\n", k->usage);
                return 2;
            }
            values[ch - OPT_COLUMN] = optarg;
            break;
        }
    }
    int positional = argc - optind, given = 0;
    for (int c = 3; c < ncols; c++)
        given += values[c] != NULL;
    /* Exactly one of the three forms. */
    int forms = (file != NULL) + bulk + (positional > 0);
    if (forms != 1 || (positional != 0 && positional != 3) ||
        (file != NULL && given > 0) ||
        (bulk && (b.county == NULL || value_of(k, values, "judge") == NULL ||
                  value_of(k, values, "bulk_order_id") == NULL)) ||
        (!bulk && (b.county != NULL))) {
        fprintf(stderr, "usage: %s\n", k->usage);
        return 2;
    }
    if (cli_connect(cli) != 0)
        return 1;

    struct step_input in;
    struct run run = {.cli = cli,
                      .kind = k,
                      .in = &in,
                      .dry_run = dry_run,
                      .bulk = bulk,
                      .now_us = cjx_clock_now_us()};
    int status = 0;
    struct step_input facts;
    if (facts_file != NULL) {
        if (steps_read_facts(&facts, facts_file) != 0) {
            step_input_fini(&facts);
            return 1;
        }
        run.facts = &facts;
    }
    if (file != NULL) {
        status =
            step_input_read(&in, file, k->desc, k->columns, check_line, &run);
    } else if (bulk) {
        step_input_init(&in, "bulk order");
        const char *relief = value_of(k, values, "relief");
        b.judge = value_of(k, values, "judge");
        b.bulk_order_id = value_of(k, values, "bulk_order_id");
        b.effective_date = value_of(k, values, "effective_date");
        if (relief != NULL && strcasecmp(relief, "accepted") != 0 &&
            step_enum_parse(&cjx__v1__order_relief__descriptor, relief,
                            &b.relief) != 0) {
            fprintf(stderr, "cjxctl: --relief: unknown order '%s'\n", relief);
            status = 2;
        } else {
            status = collect_bulk(&run, &b);
        }
    } else {
        step_input_init(&in, "command line");
        values[0] = argv[optind];
        values[1] = argv[optind + 1];
        values[2] = argv[optind + 2];
        status = step_input_add_values(&in, "command line", k->desc, k->columns,
                                       values, check_line, &run);
    }
    if (status == 0)
        status = run_and_print(&run);
    step_input_fini(&in);
    if (run.facts != NULL)
        step_input_fini(&facts);
    return status;
}

static int
run_named(struct cli *cli, const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(step_kinds) / sizeof(step_kinds[0]); i++)
        if (strcmp(step_kinds[i].name, name) == 0)
            return run_step(cli, &step_kinds[i], argc, argv);
    return 2;
}

int
cmd_decide(struct cli *cli, int argc, char **argv)
{
    return run_named(cli, "decide", argc, argv);
}

int
cmd_order(struct cli *cli, int argc, char **argv)
{
    return run_named(cli, "order", argc, argv);
}

int
cmd_ack(struct cli *cli, int argc, char **argv)
{
    return run_named(cli, "ack", argc, argv);
}

int
cmd_notify_person(struct cli *cli, int argc, char **argv)
{
    return run_named(cli, "notify-person", argc, argv);
}
