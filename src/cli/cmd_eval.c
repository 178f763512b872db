/* cjxctl eval: what the rule sets decide for counts, without a daemon. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/doj.h"
#include "cjx/evaluate.h"
#include "cjx/json.h"
#include "cli.h"
#include "research_file.h"
#include "result_files.h"

/* Tallies for the closing summary, by relief. */
struct eval_totals {
    long by_relief[8];
    long errors, total;
};

static const char *
enum_name(const ProtobufCEnumDescriptor *d, int value, size_t strip)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(d, value);
    if (v == NULL)
        return "?";
    return strlen(v->name) > strip ? v->name + strip : v->name;
}

static const char *
relief_name(int value)
{
    return enum_name(&cjx__v1__relief__descriptor, value, strlen("RELIEF_"));
}

static void
print_list(const char *label, char **items, size_t n, const char *sep)
{
    if (n == 0)
        return;
    printf("  %-12s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? sep : "", items[i]);
    printf("\n");
}

/* One count's determination, laid out for a person. */
static void
print_determination(const char *where, const Cjx__V1__ReliefQuery *q,
                    const Cjx__V1__EvaluateResponse *r)
{
    const Cjx__V1__ConvictionRecord *rec = q->record;
    const Cjx__V1__Determination *d = r->determination;
    char statute[128];
    printf(
        "%s  %s %s count %d  %s\n", where,
        rec && rec->subject ? rec->subject->cii : "-",
        rec ? rec->court_case_number : "-", rec ? (int)rec->count_number : 0,
        cli_statute_text(rec ? rec->charge : NULL, statute, sizeof(statute)));
    printf("  %-12s%s\n", "relief", relief_name(d->relief));
    if (d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW)
        printf("  %-12s%s .. %s\n", "floor..ceil", relief_name(d->floor),
               relief_name(d->ceiling));
    printf("  %-12s%s\n", "procedure",
           enum_name(&cjx__v1__procedure__descriptor, d->procedure,
                     strlen("PROCEDURE_")));
    print_list("reasons", d->reason_codes, d->n_reason_codes, ", ");
    print_list("citations", d->citations, d->n_citations, "; ");
    print_list("missing", d->missing_facts, d->n_missing_facts, ", ");
    print_list("flags", d->flags, d->n_flags, ", ");
    printf("  %-12s%s (%s %s)\n", "decided by", d->decision_id, d->rule_set,
           d->rule_set_version);
}

static void
today(Cjx__V1__Date *d)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    d->year = tm.tm_year + 1900;
    d->month = tm.tm_mon + 1;
    d->day = tm.tm_mday;
}

/* Parses one input document: a ReliefQuery ({"record": ..., "history": ...,
 * "asOf": ...}) or a bare ConvictionRecord, which is evaluated with no prior
 * history. Returns a new query (free with free_query) or NULL with a reason. */
static Cjx__V1__ReliefQuery *
parse_query(const char *doc, size_t len, int *bare, struct cjx_errbuf *eb)
{
    ProtobufCMessage *msg;
    struct cjx_errbuf first;
    *bare = 0;
    if (cjx_json_to_message(&cjx__v1__relief_query__descriptor, doc, len, NULL,
                            &msg, &first) == 0)
        return (Cjx__V1__ReliefQuery *)msg;
    if (cjx_json_to_message(&cjx__v1__conviction_record__descriptor, doc, len,
                            NULL, &msg, eb) != 0) {
        /* Neither reads. A query's own top-level field names are not in a
         * record, so an "unknown field" at the top of the query reading
         * means the document meant to be a record: say what is wrong with
         * it as a record. Otherwise the query's complaint is the one. */
        if (strstr(first.msg, "unknown field") == NULL ||
            strstr(first.msg, "in cjx.v1.ReliefQuery") == NULL)
            *eb = first;
        return NULL;
    }
    Cjx__V1__ReliefQuery *q = malloc(sizeof(*q));
    if (q == NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
        cjx_errf(eb, CJX_ENOMEM, "out of memory");
        return NULL;
    }
    cjx__v1__relief_query__init(q);
    q->record = (Cjx__V1__ConvictionRecord *)msg;
    *bare = 1;
    return q;
}

static void
free_query(Cjx__V1__ReliefQuery *q, int bare)
{
    if (q == NULL)
        return;
    if (bare) {
        protobuf_c_message_free_unpacked(&q->record->base, NULL);
        free(q);
    } else {
        protobuf_c_message_free_unpacked(&q->base, NULL);
    }
}

struct eval_options {
    const char *rules;
    const char *rule_set;
    Cjx__V1__Date as_of;
    int have_as_of;
    int doj;                 /* --format doj: a DOJ research file */
    const char *out_dir;     /* --out: per-county result files */
    const char *reject_file; /* --reject-file: refused subjects' rows */
};

static int
parse_options(int argc, char **argv, struct eval_options *o)
{
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"rule-set", required_argument, NULL, 's'},
        {"as-of", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"reject-file", required_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    o->rules = getenv("CJX_RULES");
    if (o->rules == NULL)
        o->rules = "rules";
    cjx__v1__date__init(&o->as_of);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            o->rules = optarg;
            break;
        case 's':
            o->rule_set = optarg;
            break;
        case 'a':
            if (cli_parse_as_of(optarg, &o->as_of) != 0)
                return 2;
            o->have_as_of = 1;
            break;
        case 'f':
            if (strcmp(optarg, "jsonl") != 0 && strcmp(optarg, "doj") != 0) {
                fprintf(stderr, "cjxctl: --format is jsonl or doj\n");
                return 2;
            }
            o->doj = strcmp(optarg, "doj") == 0;
            break;
        case 'o':
            o->out_dir = optarg;
            break;
        case 'j':
            o->reject_file = optarg;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1 || (!o->doj && (o->out_dir || o->reject_file))) {
        fprintf(stderr,
                "usage: cjxctl eval [--rules DIR] [--rule-set NAME] "
                "[--as-of YYYY-MM-DD]\n"
                "                   [--format jsonl | --format doj [--out DIR] "
                "[--reject-file F]] FILE|-\n");
        return 2;
    }
    if (!o->have_as_of)
        today(&o->as_of);
    return 0;
}

/* What evaluating counts needs besides each count. */
struct eval_run {
    struct cli *cli;
    const struct eval_options *o;
    const struct cjx_rules_registry *reg;
    struct eval_totals t;
    struct result_files *results; /* --out, or NULL */
    int status;
};

/* Evaluates one query and prints its result (and adds it to the result
 * files); returns 0 or 1 (error). */
static int
eval_query(struct eval_run *run, const char *where, Cjx__V1__ReliefQuery *q)
{
    const struct eval_options *o = run->o;
    struct eval_totals *t = &run->t;
    struct cjx_errbuf eb;
    if (q->as_of == NULL || q->as_of->year == 0)
        q->as_of = (Cjx__V1__Date *)&o->as_of; /* borrowed; cleared below */
    struct cjx_arena arena;
    cjx_arena_init(&arena, NULL, 0, 0);
    Cjx__V1__EvaluateResponse resp;
    int err = CJX_ENOTFOUND;
    const struct cjx_rules_set *set =
        cjx_evaluate_pick_set(run->reg, o->rule_set, q, &eb);
    if (set != NULL)
        err = cjx_evaluate_query(set, q, &arena, &resp, &eb);
    if (err != 0) {
        fprintf(stderr, "%s: %s\n", where, eb.msg);
        t->errors++;
    } else if (run->cli->json) {
        cli_print_json_line(stdout, &resp.base);
    } else if (run->results == NULL) {
        print_determination(where, q, &resp);
    }
    if (run->results != NULL &&
        result_files_add(run->results, q, err == 0 ? &resp : NULL, eb.msg) != 0)
        err = CJX_EIO;
    if (err == 0 && resp.determination->relief >= 0 &&
        resp.determination->relief < 8)
        t->by_relief[resp.determination->relief]++;
    t->total++;
    cjx_arena_fini(&arena);
    if (q->as_of == &o->as_of)
        q->as_of = NULL;
    return err != 0;
}

/* Evaluates one JSON document; returns 0 or 1 (error). */
static int
eval_document(struct eval_run *run, const char *where, const char *doc,
              size_t len)
{
    struct cjx_errbuf eb;
    int bare;
    Cjx__V1__ReliefQuery *q = parse_query(doc, len, &bare, &eb);
    if (q == NULL) {
        fprintf(stderr, "%s: %s\n", where, eb.msg);
        return 1;
    }
    int status = eval_query(run, where, q);
    free_query(q, bare);
    return status;
}

static int
eval_json_file(struct eval_run *run, const char *path)
{
    size_t len;
    char *buf = cli_read_file(path, &len);
    if (buf == NULL) {
        fprintf(stderr, "cjxctl: cannot read %s\n", path);
        return 1;
    }
    size_t off = 0;
    const char *doc;
    size_t doc_len;
    int line = 0, r, status = 0;
    while ((r = cjx_json_next_document(buf, len, &off, &doc, &doc_len,
                                       &line)) == 1) {
        char where[512];
        snprintf(where, sizeof(where), "%s:%d", path, line);
        status |= eval_document(run, where, doc, doc_len);
    }
    if (r < 0) {
        fprintf(stderr, "%s:%d: not JSON\n", path, line);
        status = 1;
    }
    free(buf);
    return status;
}

/* The callbacks' context: rejects first, so that research_rejects_note
 * reads it as its own. */
struct eval_doj_ctx {
    struct research_rejects rej;
    struct eval_run *run;
    const char *path;
};

/* One Prop 64 count of a research file, evaluated. */
static int
eval_count(void *ctx, const char *where, Cjx__V1__ReliefQuery *q)
{
    struct eval_doj_ctx *c = ctx;
    c->run->status |= eval_query(c->run, where, q);
    return 0;
}

/* Every Prop 64 count of one subject of a research file. */
static int
eval_subject(void *ctx, const struct cjx_doj_subject *s)
{
    struct eval_doj_ctx *c = ctx;
    return research_subject_counts(s, c->path, eval_count, c);
}

/* A DOJ research file, read one subject at a time: every Prop 64 count is
 * evaluated; a subject that cannot be read is reported and, with
 * --reject-file, set aside there. */
static int
eval_research_file(struct eval_run *run, const char *path)
{
    struct eval_doj_ctx ctx = {.run = run, .path = path};
    struct research_rejects *rej = &ctx.rej;
    if (research_rejects_open(rej, path, run->o->reject_file) != 0)
        return 1;
    struct cjx_doj_callbacks cb = {eval_subject, research_rejects_note, &ctx};
    struct cjx_doj_counts counts;
    struct cjx_errbuf eb;
    int status = 0;
    if (cjx_doj_read_file(path, &cb, &counts, &eb) != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        status = 1;
    }
    if (research_rejects_close(rej) != 0 ||
        (rej->refused > 0 && run->o->reject_file == NULL))
        status = 1;
    fprintf(stderr, "%s: %ld row(s), %ld subject(s), %ld refused\n", path,
            counts.rows, counts.subjects, rej->refused);
    return status;
}

int
cmd_eval(struct cli *cli, int argc, char **argv)
{
    struct eval_options o = {0};
    int status = parse_options(argc, argv, &o);
    if (status != 0)
        return status;
    const char *path = argv[optind];
    struct cjx_errbuf eb;
    struct cjx_rules_registry *reg;
    if (cjx_rules_registry_load_dir(o.rules, cjx_evaluate_types(), &reg, &eb) !=
        0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    struct eval_run run = {.cli = cli, .o = &o, .reg = reg};
    if (o.out_dir != NULL &&
        (run.results = result_files_open(o.out_dir)) == NULL) {
        cjx_rules_registry_free(reg);
        return 1;
    }
    status =
        o.doj ? eval_research_file(&run, path) : eval_json_file(&run, path);
    status |= run.status;
    if (result_files_close(run.results) != 0)
        status = 1;
    if (!cli->json) {
        struct eval_totals *t = &run.t;
        printf("\n%ld count(s):", t->total);
        for (int i = 1; i < 8; i++)
            if (t->by_relief[i] > 0)
                printf(" %s %ld,", relief_name(i), t->by_relief[i]);
        printf(" errors %ld\n", t->errors);
    }
    cjx_rules_registry_free(reg);
    return status;
}
