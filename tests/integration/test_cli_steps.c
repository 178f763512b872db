/* cjxctl's exchange steps against real daemons: DOJ, a District Attorney,
 * a court and a public defender of San Francisco on loopback, delivering
 * to each other over mTLS, with no stand-ins: every step is taken by
 * cjxctl as a person would. DOJ loads its stored records (notify
 * --from-store), the prosecutor reviews and decides, the court orders in
 * bulk, DOJ acknowledges, the public defender records the notice to the
 * person; and each refusal (wrong role, wrong county, wrong state, relief
 * above the ceiling, the review deadline passed, a bad line in a file, a
 * dry run) changes nothing and says why. The tests run in order, each on
 * the cases the ones before left. Waits poll for a state with a bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "cjx/client.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/exchange.pb-c.h"
#include "harness.h"

enum { DOJ, DA, COURT, PD, N_DAEMONS };

static const struct {
    const char *slug, *ori, *role;
} agencies[N_DAEMONS] = {
    [DOJ] = {"doj", "CA0000001", "DOJ"},
    [DA] = {"sf-da", "CA038013A", "PROSECUTOR"},
    [COURT] = {"sf-court", "CA038033J", "COURT"},
    [PD] = {"sf-pd", "CA038023P", "DEFENDER"},
};

#define DELIVERY                 \
    "  delivery:\n"              \
    "    batch: 40\n"            \
    "    streams_per_peer: 1\n"  \
    "    timeout_ms: 5000\n"     \
    "    retry_initial_ms: 50\n" \
    "    retry_max_ms: 400\n"

static const char exchange_yaml[] = "exchange:\n"
                                    "  deadlines:\n"
                                    "    review: {days: 365}\n"
                                    "    order_unchallenged: {days: 365}\n"
                                    "    history_update: {days: 90}\n" DELIVERY;

/* The prosecutor's configuration once the review period is over. */
static const char review_over_yaml[] =
    "exchange:\n"
    "  deadlines:\n"
    "    review: {not_after: 2020-07-01}\n"
    "    order_unchallenged: {days: 365}\n"
    "    history_update: {days: 90}\n" DELIVERY;

struct net {
    struct test_daemon d[N_DAEMONS];
    char registry[300];
};

static struct net *net;

/* ---- running cjxctl ---------------------------------------------------------- */

/* Runs cjxctl with args on daemon i's local socket; stdout and stderr go
 * to out. Returns the exit status. */
static int
ctl(int i, const char *args, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "cd %s && %s -s %s %s 2>&1", net->d[DA].dir,
             getenv("CJX_CJXCTL"), net->d[i].socket, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    fprintf(stderr, "$ cjxctl %s\n%s", args, out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* As ctl, over mTLS to daemon i presenting the certificate of agency
 * slug. */
static int
ctl_remote(int i, const char *slug, const char *args, char *out, size_t len)
{
    char remote[1200];
    const char *certs = harness_certs();
    snprintf(remote, sizeof(remote),
             "--remote 127.0.0.1:%d --ca %s/ca.pem --cert %s/%s.pem --key "
             "%s/%s.key %s",
             net->d[i].port, certs, certs, slug, certs, slug, args);
    return ctl(i, remote, out, len);
}

/* Writes text to a file in the prosecutor's directory (where ctl runs). */
static void
write_input(const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", net->d[DA].dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- reading cases ------------------------------------------------------------- */

/* Daemon i's case, or NULL when it holds none (or the call failed). */
static Cjx__V1__Case *
get_case(int i, const char *cii, const char *ccn, int count, int notice)
{
    struct cjx_client *cl = harness_client_local(&net->d[i]);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = (char *)ccn;
    key.count_number = count;
    Cjx__V1__GetCaseRequest req = CJX__V1__GET_CASE_REQUEST__INIT;
    req.key = &key;
    req.include_notice = notice;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    int err = cjx_client_unary(
        cl, &cjx__v1__case_service__methods[CASE_SERVICE_GET_CASE], &req.base,
        10000, &resp, &st);
    cjx_client_free(cl);
    if (err != 0 || st.code != 0) {
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        return NULL;
    }
    return (Cjx__V1__Case *)resp;
}

/* The case's state and version at daemon i (0, 0 when it holds none). */
static int
state_of(int i, const char *cii, const char *ccn, int64_t *version)
{
    Cjx__V1__Case *c = get_case(i, cii, ccn, 1, 0);
    int state = c != NULL ? (int)c->state : 0;
    if (version != NULL)
        *version = c != NULL ? c->version : 0;
    if (c != NULL)
        protobuf_c_message_free_unpacked(&c->base, NULL);
    return state;
}

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits (at most a minute) until daemon i holds the case in state. */
static void
wait_state(int i, const char *cii, const char *ccn, int state)
{
    int now = 0;
    for (int tries = 0; tries < 600; tries++) {
        if ((now = state_of(i, cii, ccn, NULL)) == state)
            return;
        nap_ms(100);
    }
    fail_msg("%s: case %s %s is in state %d, not %d", agencies[i].slug, cii,
             ccn, now, state);
}

#define NOTIFIED       CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED
#define NOT_CHALLENGED CJX__V1__CASE_STATE__CASE_STATE_NOT_CHALLENGED
#define CHALLENGED     CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED
#define ORDERED        CJX__V1__CASE_STATE__CASE_STATE_ORDERED
#define UPDATED        CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED

/* ---- the network ----------------------------------------------------------------- */

static void
write_registry(void)
{
    snprintf(net->registry, sizeof(net->registry), "%s/agencies.yaml",
             net->d[DOJ].dir);
    FILE *f = fopen(net->registry, "w");
    assert_non_null(f);
    fprintf(f, "agencies:\n");
    for (int i = 0; i < N_DAEMONS; i++)
        fprintf(f,
                "  - ori: %s\n    role: %s\n%s    endpoint: 127.0.0.1:%d\n"
                "    name: test %s\n",
                agencies[i].ori, agencies[i].role,
                i == DOJ ? "" : "    county: San Francisco\n", net->d[i].port,
                agencies[i].slug);
    /* Alameda's court runs no daemon here: it is known, and must not act
     * on a case of San Francisco. */
    fprintf(f, "  - ori: CA001033J\n    role: COURT\n    county: Alameda\n"
               "    name: test alameda-court\n");
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    net = calloc(1, sizeof(*net));
    for (int i = 0; i < N_DAEMONS; i++) {
        net->d[i].extra_yaml = exchange_yaml;
        harness_daemon_init(&net->d[i], agencies[i].slug, agencies[i].ori);
    }
    write_registry();
    for (int i = 0; i < N_DAEMONS; i++) {
        snprintf(net->d[i].registry_file, sizeof(net->d[i].registry_file), "%s",
                 net->registry);
        harness_daemon_write_conf(&net->d[i]);
        if (harness_daemon_start(&net->d[i]) != 0)
            return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    int failed = 0;
    for (int i = N_DAEMONS - 1; i >= 0; i--) {
        if (net->d[i].pid > 0 && harness_daemon_stop(&net->d[i]) != 0)
            failed = 1;
        harness_daemon_cleanup(&net->d[i]);
    }
    free(net);
    return failed ? -1 : 0;
}

/* ---- DOJ: candidates from its store ----------------------------------------------- */

static void
test_notify__from_store__notifies_the_candidates_of_the_county(void **state)
{
    (void)state;
    char out[16384], args[1024];
    snprintf(args, sizeof(args), "submit %s/tests/data/cli/steps_records.jsonl",
             getenv("CJX_SOURCE_DIR"));
    assert_int_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    snprintf(args, sizeof(args),
             "notify --from-store --county 'San Francisco' --rules %s "
             "--as-of 2026-01-01",
             getenv("CJX_TEST_RULES"));
    assert_int_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    /* Six counts of San Francisco, five of them candidates; Alameda's
     * record is not read. */
    assert_non_null(strstr(out, "6 count(s) read, 5 candidate(s)"));
    assert_non_null(strstr(out, "5 accepted, 0 rejected"));
    assert_null(get_case(DOJ, "B20000007", "ALA-7", 1, 0));
    /* The history of a count is the person's other records. */
    Cjx__V1__Case *c = get_case(DOJ, "B20000004", "SF-4", 1, 1);
    assert_non_null(c);
    assert_non_null(c->notice);
    assert_non_null(c->notice->history);
    assert_int_equal(c->notice->history->n_events, 1);
    assert_string_equal(c->notice->history->events[0]->court_case_number,
                        "SF-9");
    protobuf_c_message_free_unpacked(&c->base, NULL);
    /* Loading the store again is a retry: nothing changes. */
    assert_int_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    int64_t version;
    assert_int_equal(state_of(DOJ, "B20000001", "SF-1", &version), NOTIFIED);
    assert_int_equal(version, 1);
    static const char *const ccn[] = {"SF-1", "SF-2", "SF-3", "SF-4", "SF-6"};
    static const char *const cii[] = {"B20000001", "B20000002", "B20000003",
                                      "B20000004", "B20000006"};
    for (int k = 0; k < 5; k++)
        for (int i = DA; i <= PD; i++)
            wait_state(i, cii[k], ccn[k], NOTIFIED);
}

/* ---- DOJ: candidates from its research file -------------------------------------- */

/* The total of DOJ's cases, as `cjxctl cases stats` counts them. */
static long
doj_case_total(void)
{
    char out[16384];
    assert_int_equal(ctl(DOJ, "cases stats", out, sizeof(out)), 0);
    long total = -1;
    const char *p = strstr(out, " case(s)");
    while (p > out && p[-1] >= '0' && p[-1] <= '9')
        p--;
    assert_int_equal(sscanf(p, "%ld", &total), 1);
    return total;
}

static void
test_notify__research_file__refused_whole_then_loaded(void **state)
{
    (void)state;
    char out[16384], cmd[2048];
    /* A research file of San Francisco from the generator, and a copy with
     * one subject whose row is cut short. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && /usr/bin/python3 "
             "%s/tools/gen-research-file/gen-research-file --rows 300 "
             "--seed 11 --counties 'SAN FRANCISCO' -o rf.csv && "
             "cp rf.csv bad.csv && echo '1,ACTIVE,999999999,,X' >>bad.csv",
             net->d[DA].dir, getenv("CJX_SOURCE_DIR"));
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/rf.csv", net->d[DA].dir);
    FILE *f = fopen(cmd, "r");
    assert_non_null(f);
    int c, bad_line = 1;
    while ((c = fgetc(f)) != EOF)
        bad_line += c == '\n';
    fclose(f);
    char want[256];
    snprintf(want, sizeof(want),
             "bad.csv: line %d, column REQ_NAME, value \"\": missing: the row "
             "has 5 fields, 95 expected (subject 999999999)",
             bad_line);
    long before = doj_case_total();
    char args[1024];
    snprintf(args, sizeof(args),
             "notify --format doj --rules %s --as-of 2026-01-01 bad.csv",
             getenv("CJX_TEST_RULES"));
    assert_int_not_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "nothing was sent"));
    assert_int_equal(doj_case_total(), before);
    /* Set aside, the bad subject does not stop the others. */
    snprintf(args, sizeof(args),
             "notify --format doj --rules %s --as-of 2026-01-01 "
             "--reject-file rejected.csv bad.csv",
             getenv("CJX_TEST_RULES"));
    assert_int_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "1 subject(s) set aside in rejected.csv"));
    long read = 0, candidates = 0, accepted = -1, rejected = -1;
    const char *p = strstr(out, "count(s) read");
    assert_non_null(p);
    while (p > out && p[-1] != '\n')
        p--;
    assert_int_equal(
        sscanf(p, "%ld count(s) read, %ld candidate(s)", &read, &candidates),
        2);
    p = strstr(out, "notices: ");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "notices: %ld accepted, %ld rejected", &accepted, &rejected),
        2);
    assert_true(candidates > 10 && candidates <= read);
    assert_int_equal(accepted, candidates);
    assert_int_equal(rejected, 0);
    assert_int_equal(doj_case_total(), before + candidates);
    /* notify says what DOJ holds, not only what this run was answered (a
     * run cut short may have stored more than it counted). */
    char holds[96];
    snprintf(holds, sizeof(holds), "the daemon holds %ld case(s) in all\n",
             before + candidates);
    assert_non_null(strstr(out, holds));
    char rej[1024];
    snprintf(cmd, sizeof(cmd), "%s/rejected.csv", net->d[DA].dir);
    f = fopen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(rej, sizeof(rej), f));
    assert_null(fgets(rej + 512, 512, f));
    fclose(f);
    assert_string_equal(rej, "1,ACTIVE,999999999,,X\n");
    /* The same file again is a retry: no new case. */
    assert_int_equal(ctl(DOJ, args, out, sizeof(out)), 0);
    assert_int_equal(doj_case_total(), before + candidates);
}

/* ---- the prosecutor's review --------------------------------------------------------- */

static void
test_review__human_review_first_with_missing_facts(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(ctl(DA, "review", out, sizeof(out)), 0);
    /* The first row after the header is the one case for a person. */
    const char *row = strchr(out, '\n');
    assert_non_null(row);
    row++;
    assert_true(strncmp(row, "B20000003 SF-3 #1", 17) == 0);
    const char *eol = strchr(row, '\n');
    char first[1024];
    snprintf(first, sizeof(first), "%.*s", (int)(eol - row), row);
    assert_non_null(strstr(first, "HUMAN_REVIEW"));
    assert_non_null(strstr(first, "REDUCE_TO_MISDEMEANOR"));
    assert_non_null(strstr(first, "record.facts.sale_involved"));
    assert_non_null(strstr(out, "5 case(s) waiting for a decision"));
}

static void
test_review__facts__reevaluate_the_record_on_the_daemon(void **state)
{
    (void)state;
    char out[16384];
    write_input("facts.csv", "cii,court_case_number,count,grams,"
                             "sale_involved,recipient_age\n"
                             "B20000003,SF-3,1,10,false,30\n");
    assert_int_equal(ctl(DA, "review --facts facts.csv --as-of 2026-01-01", out,
                         sizeof(out)),
                     0);
    /* The row of line 2 of the file: DOJ's determination, then the new
     * one. Ten grams, not sold: the count is now a definite grant. */
    const char *row = strstr(out, "\n2     B20000003 SF-3 #1");
    assert_non_null(row);
    assert_non_null(strstr(row, "\"saleInvolved\":false"));
    assert_non_null(strstr(row, "HUMAN_REVIEW (REDUCE_TO_MISDEMEANOR.."
                                "DISMISS_AND_SEAL)  DISMISS_AND_SEAL  "
                                "LEGAL_ADULT_TRANSPORT_GIFT"));

    /* A decision made from it carries the facts. */
    assert_int_equal(ctl(DA,
                         "--json decide --dry-run B20000003 SF-3 1 --relief "
                         "dismiss_and_seal --facts facts.csv",
                         out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "\"result\":\"would be sent\""));
    assert_non_null(strstr(out, "\"facts\":{\"grams\":"));
    assert_non_null(strstr(out, "\"saleInvolved\":false,\"recipientAge\":30}"));

    /* A bad cell names the file, the line and the column. */
    write_input("facts_bad.csv", "cii,court_case_number,count,grams\n"
                                 "B20000003,SF-3,1,lots\n");
    assert_int_equal(ctl(DA, "review --facts facts_bad.csv", out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "facts_bad.csv:2: column grams: 'lots' is "
                                "not a number"));
}

/* Several lines go to the daemon in one batch: each row still comes in
 * the order of the file with its own outcome, and a line naming no case
 * says so without taking the others down. */
static void
test_review__facts__a_batch_keeps_the_file_order_and_each_outcome(void **state)
{
    (void)state;
    char out[16384];
    write_input("facts_batch.csv", "cii,court_case_number,count,grams,"
                                   "sale_involved,recipient_age\n"
                                   "B20000003,SF-3,1,10,false,30\n"
                                   "B20000099,SF-99,1,10,false,30\n"
                                   "B20000003,SF-3,1,900,true,16\n");
    assert_int_equal(ctl(DA,
                         "--json review --facts facts_batch.csv --as-of "
                         "2026-01-01",
                         out, sizeof(out)),
                     1);
    const char *l2 = strstr(out, "{\"line\":2,");
    const char *l3 = strstr(out, "{\"line\":3,");
    const char *l4 = strstr(out, "{\"line\":4,");
    assert_non_null(l2);
    assert_non_null(l3);
    assert_non_null(l4);
    assert_true(l2 < l3 && l3 < l4);
    /* Ten grams, not sold: a grant; sold to a minor: none. */
    assert_true(strstr(l2, "\"relief\":\"RELIEF_DISMISS_AND_SEAL\"") < l3);
    assert_non_null(strstr(l3, "\"determination\":null}"));
    assert_true(strstr(l3, "\"determination\":null}") < l4);
    assert_non_null(strstr(l4, "\"relief\":\"RELIEF_NOT_ELIGIBLE\""));
}

/* ---- the prosecutor's decisions ------------------------------------------------------- */

static void
test_decide__a_bad_line__changes_nothing_and_names_file_line_field(void **state)
{
    (void)state;
    char out[16384];
    write_input("decisions_bad.csv", "cii,court_case_number,count,relief\n"
                                     "B20000001,SF-1,1,dismiss_and_seal\n"
                                     "B20000002,SF-2,1,dismis_and_seal\n");
    assert_int_equal(
        ctl(DA, "decide --file decisions_bad.csv", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "decisions_bad.csv:3: column relief: unknown "
                                "value 'dismis_and_seal'"));
    assert_non_null(strstr(out, "nothing sent"));
    assert_int_equal(state_of(DA, "B20000001", "SF-1", NULL), NOTIFIED);

    /* JSON Lines: the parser names the field path. */
    write_input("decisions_bad.jsonl",
                "{\"key\":{\"cii\":\"B20000001\",\"courtCaseNumber\":\"SF-1\","
                "\"countNumber\":1},\"noChallenge\":{\"relief\":"
                "\"RELIEF_DISMISS_AND_SEAL\"}}\n"
                "{\"key\":{\"cii\":\"B20000002\",\"courtCaseNumber\":\"SF-2\","
                "\"countNumber\":1},\"challenge\":{}}\n");
    assert_int_equal(
        ctl(DA, "decide --file decisions_bad.jsonl", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "decisions_bad.jsonl:2: challenge.ground: "
                                "required"));
    assert_int_equal(state_of(DA, "B20000001", "SF-1", NULL), NOTIFIED);
}

static void
test_decide__dry_run__sends_nothing_and_says_which_would_be_refused(
    void **state)
{
    (void)state;
    char out[16384];
    write_input("decisions_try.csv", "cii,court_case_number,count,relief\n"
                                     "B20000001,SF-1,1,dismiss_and_seal\n"
                                     "B20000004,SF-4,1,dismiss_and_seal\n"
                                     "B20000099,SF-99,1,dismiss_and_seal\n");
    assert_int_equal(
        ctl(DA, "decide --dry-run --file decisions_try.csv", out, sizeof(out)),
        1);
    /* Same output as the golden file. */
    char path[512], golden[4096];
    snprintf(path, sizeof(path), "%s/tests/data/cli/decide_dry_run.out",
             getenv("CJX_SOURCE_DIR"));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(golden, 1, sizeof(golden) - 1, f);
    golden[n] = '\0';
    fclose(f);
    assert_string_equal(out, golden);
    int64_t version;
    assert_int_equal(state_of(DA, "B20000001", "SF-1", &version), NOTIFIED);
    assert_int_equal(version, 1);
}

static void
test_decide__relief_above_the_ceiling__is_refused(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(ctl(DA,
                         "decide B20000004 SF-4 1 --relief dismiss_and_seal",
                         out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "FAILED_PRECONDITION"));
    assert_non_null(strstr(out, "ceiling"));
    assert_int_equal(state_of(DA, "B20000004", "SF-4", NULL), NOTIFIED);
}

static void
test_decide__by_a_court__is_permission_denied(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(ctl_remote(DA, "sf-court",
                                "decide B20000001 SF-1 1 --relief "
                                "dismiss_and_seal",
                                out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "PERMISSION_DENIED"));
    assert_int_equal(state_of(DA, "B20000001", "SF-1", NULL), NOTIFIED);
}

static void
test_decide__a_file__decides_every_line_and_a_rerun_changes_nothing(
    void **state)
{
    (void)state;
    char out[16384];
    write_input("decisions.csv",
                "cii,court_case_number,count,relief,ground,reason_code,plants\n"
                "B20000001,SF-1,1,dismiss_and_seal,,,\n"
                "B20000002,SF-2,1,dismiss_and_seal,,,4\n"
                "B20000004,SF-4,1,,criteria_not_met,PRIOR_SUPERSTRIKE,\n");
    assert_int_equal(ctl(DA, "decide --file decisions.csv", out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "3 decide step(s)"));
    int64_t v1, v2, v4;
    assert_int_equal(state_of(DA, "B20000001", "SF-1", &v1), NOT_CHALLENGED);
    assert_int_equal(state_of(DA, "B20000002", "SF-2", &v2), NOT_CHALLENGED);
    assert_int_equal(state_of(DA, "B20000004", "SF-4", &v4), CHALLENGED);
    /* The same file again: the same request ids, answered from the inbox. */
    assert_int_equal(ctl(DA, "decide --file decisions.csv", out, sizeof(out)),
                     0);
    int64_t again;
    state_of(DA, "B20000001", "SF-1", &again);
    assert_int_equal(again, v1);
    state_of(DA, "B20000004", "SF-4", &again);
    assert_int_equal(again, v4);
}

/* ---- the court's orders ----------------------------------------------------------------- */

static void
test_order__an_undecided_case__is_refused(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(ctl(COURT,
                         "order B20000003 SF-3 1 --relief dismiss_and_seal "
                         "--judge 'Hon. A. Judge'",
                         out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "FAILED_PRECONDITION"));
    assert_int_equal(state_of(COURT, "B20000003", "SF-3", NULL), NOTIFIED);
}

static void
test_order__by_another_county_court__is_permission_denied(void **state)
{
    (void)state;
    char out[16384];
    wait_state(COURT, "B20000001", "SF-1", NOT_CHALLENGED);
    assert_int_equal(ctl_remote(COURT, "alameda-court",
                                "order B20000001 SF-1 1 --relief "
                                "dismiss_and_seal --judge 'Hon. A. Judge'",
                                out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "PERMISSION_DENIED"));
    assert_int_equal(state_of(COURT, "B20000001", "SF-1", NULL),
                     NOT_CHALLENGED);
}

static void
test_order__bulk__orders_every_unchallenged_case_under_one_id(void **state)
{
    (void)state;
    char out[16384];
    wait_state(COURT, "B20000002", "SF-2", NOT_CHALLENGED);
    wait_state(COURT, "B20000004", "SF-4", CHALLENGED);
    static const char bulk[] =
        "order --bulk --county 'San Francisco' --state not_challenged "
        "--judge 'Hon. A. Judge' --bulk-order-id BO-2026-1";
    char args[512];
    snprintf(args, sizeof(args), "%s --dry-run", bulk);
    assert_int_equal(ctl(COURT, args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "would be sent  2"));
    assert_int_equal(state_of(COURT, "B20000001", "SF-1", NULL),
                     NOT_CHALLENGED);

    assert_int_equal(ctl(COURT, bulk, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "accepted  2"));
    int64_t v1, v2;
    assert_int_equal(state_of(COURT, "B20000001", "SF-1", &v1), ORDERED);
    assert_int_equal(state_of(COURT, "B20000002", "SF-2", &v2), ORDERED);
    Cjx__V1__Case *c = get_case(COURT, "B20000002", "SF-2", 1, 0);
    assert_non_null(c);
    assert_int_equal(c->order,
                     CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    /* The challenged case was not covered. */
    assert_int_equal(state_of(COURT, "B20000004", "SF-4", NULL), CHALLENGED);

    /* The same bulk order over the cases it ordered is a retry. */
    snprintf(args, sizeof(args),
             "order --bulk --county 'San Francisco' --state ordered "
             "--judge 'Hon. A. Judge' --bulk-order-id BO-2026-1");
    assert_int_equal(ctl(COURT, args, out, sizeof(out)), 0);
    int64_t again;
    state_of(COURT, "B20000001", "SF-1", &again);
    assert_int_equal(again, v1);
}

/* ---- DOJ's acknowledgement ---------------------------------------------------------------- */

static void
test_ack__applies_only_the_order_the_court_made(void **state)
{
    (void)state;
    char out[16384];
    wait_state(DOJ, "B20000001", "SF-1", ORDERED);
    assert_int_equal(
        ctl(DOJ, "ack B20000001 SF-1 1 --applied denied", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "FAILED_PRECONDITION"));
    assert_int_equal(state_of(DOJ, "B20000001", "SF-1", NULL), ORDERED);
    assert_int_equal(ctl(DOJ,
                         "--json ack B20000001 SF-1 1 --applied "
                         "dismiss_and_seal",
                         out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "\"result\":\"accepted\""));
    assert_int_equal(state_of(DOJ, "B20000001", "SF-1", NULL), UPDATED);
}

/* ---- the public defender's notice to the person ----------------------------------------------- */

static void
test_notify_person__records_the_effort_on_the_case(void **state)
{
    (void)state;
    char out[16384];
    wait_state(PD, "B20000004", "SF-4", CHALLENGED);
    /* A case without a challenge has nothing to tell the person of. */
    assert_int_equal(ctl(PD,
                         "notify-person --dry-run B20000002 SF-2 1 "
                         "--contact-date 2026-01-05 --method mail "
                         "--outcome no_response",
                         out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "would be refused"));
    assert_non_null(strstr(out, "FAILED_PRECONDITION"));

    assert_int_equal(ctl(PD,
                         "notify-person B20000004 SF-4 1 --contact-date "
                         "2026-01-05 --method mail --outcome no_response "
                         "--note 'letter sent to the last known address'",
                         out, sizeof(out)),
                     0);
    Cjx__V1__Case *c = get_case(PD, "B20000004", "SF-4", 1, 0);
    assert_non_null(c);
    assert_int_equal(c->n_contacts, 1);
    assert_int_equal(c->contacts[0]->method,
                     CJX__V1__CONTACT_METHOD__CONTACT_METHOD_MAIL);
    assert_int_equal(c->contacts[0]->outcome,
                     CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_NO_RESPONSE);
    protobuf_c_message_free_unpacked(&c->base, NULL);
}

/* ---- the review deadline ------------------------------------------------------------------- */

static void
test_decide__after_the_review_deadline__is_refused(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(harness_daemon_stop(&net->d[DA]), 0);
    net->d[DA].extra_yaml = review_over_yaml;
    harness_daemon_write_conf(&net->d[DA]);
    assert_int_equal(harness_daemon_start(&net->d[DA]), 0);
    assert_int_equal(
        ctl(DA, "decide B20000006 SF-6 1 --relief dismiss", out, sizeof(out)),
        1);
    assert_non_null(strstr(out, "FAILED_PRECONDITION"));
    assert_non_null(strstr(out, "review deadline"));
    assert_int_equal(state_of(DA, "B20000006", "SF-6", NULL), NOTIFIED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_notify__from_store__notifies_the_candidates_of_the_county),
        cmocka_unit_test(test_review__human_review_first_with_missing_facts),
        cmocka_unit_test(
            test_review__facts__reevaluate_the_record_on_the_daemon),
        cmocka_unit_test(
            test_review__facts__a_batch_keeps_the_file_order_and_each_outcome),
        cmocka_unit_test(
            test_decide__a_bad_line__changes_nothing_and_names_file_line_field),
        cmocka_unit_test(
            test_decide__dry_run__sends_nothing_and_says_which_would_be_refused),
        cmocka_unit_test(test_decide__relief_above_the_ceiling__is_refused),
        cmocka_unit_test(test_decide__by_a_court__is_permission_denied),
        cmocka_unit_test(
            test_decide__a_file__decides_every_line_and_a_rerun_changes_nothing),
        cmocka_unit_test(test_order__an_undecided_case__is_refused),
        cmocka_unit_test(
            test_order__by_another_county_court__is_permission_denied),
        cmocka_unit_test(
            test_order__bulk__orders_every_unchallenged_case_under_one_id),
        cmocka_unit_test(test_ack__applies_only_the_order_the_court_made),
        cmocka_unit_test(test_notify_person__records_the_effort_on_the_case),
        cmocka_unit_test(test_decide__after_the_review_deadline__is_refused),
        /* Last: the research file's cases would change the counts above. */
        cmocka_unit_test(test_notify__research_file__refused_whole_then_loaded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
