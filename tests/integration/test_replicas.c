/* DOJ as two cjxd replicas on one PostgreSQL database, over real mTLS on
 * loopback: a court's record sent to both at once is stored once, each
 * replica serves what the other stored, and `cjxctl audit verify` on
 * either vouches for one log holding both replicas' entries. Runs under
 * tests/support/with-postgres. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define DOJ_ORI "CA0000001"

static struct test_daemon replica[2];
static char store_yaml[2][1024];

static int
start_replicas(void **state)
{
    (void)state;
    const char *dsn = getenv("CJX_TEST_PG_DSN");
    if (dsn == NULL) {
        fprintf(stderr, "run under tests/support/with-postgres\n");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(store_yaml[i], sizeof(store_yaml[i]),
                 "store:\n  backend: postgresql\n  dsn: \"%s\"\n"
                 "  replica: doj-%c\n",
                 dsn, 'a' + i);
        replica[i].extra_yaml = store_yaml[i];
        harness_daemon_init(&replica[i], "doj", DOJ_ORI);
        if (harness_daemon_start(&replica[i]) != 0)
            return -1;
    }
    return 0;
}

static int
stop_replicas(void **state)
{
    (void)state;
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        failed |= harness_daemon_stop(&replica[i]) != 0;
        harness_daemon_cleanup(&replica[i]);
    }
    return failed ? -1 : 0;
}

/* cjxctl as the San Francisco court, over mTLS to one replica. */
static void
as_court(char *cmd, size_t len, int i, const char *args)
{
    const char *certs = harness_certs();
    snprintf(cmd, len,
             "%s --remote 127.0.0.1:%d --ca %s/ca.pem --cert %s/sf-court.pem"
             " --key %s/sf-court.key %s",
             getenv("CJX_CJXCTL"), replica[i].port, certs, certs, certs, args);
}

/* cjxctl as the operator, on one replica's local socket. */
static int
operator(int i, const char *args, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", getenv("CJX_CJXCTL"),
             replica[i].socket, args);
    return harness_run_capture(cmd, out, len);
}

static int
count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static void
test_replicas__same_record_sent_to_both_at_once__stored_once(void **state)
{
    (void)state;
    char a[1024], b[1024], cmd[2300], out[4096];
    char record[512];
    snprintf(record, sizeof(record), "%s/../examples/record.json",
             getenv("CJX_TEST_RULES"));
    char args[700];
    snprintf(args, sizeof(args), "submit --request-id twice-1 %s", record);
    as_court(a, sizeof(a), 0, args);
    as_court(b, sizeof(b), 1, args);
    /* Both calls are in flight together: a sender retrying at another
     * address of the agency before the first answer came. */
    snprintf(cmd, sizeof(cmd), "(%s & %s & wait) 2>&1", a, b);
    assert_int_equal(harness_run_capture(cmd, out, sizeof(out)), 0);
    /* Both are answered with the one version stored. */
    const char *first = strstr(out, ": version 1\n");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, ": version 1\n"));
    assert_null(strstr(out, "version 2"));
    /* Each replica's feed holds the one change, whichever stored it. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(operator(i, "--json watch --after 0", out,
                                  sizeof(out)),
                         0);
        if (count_lines(out) != 1)
            fail_msg("replica %d's feed: %s", i, out);
        assert_int_equal(operator(i, "get A10000009 SF-2010-000123 1", out,
                                  sizeof(out)),
                         0);
        assert_non_null(strstr(out, "A10000009"));
    }
}

static void
test_replicas__audit_log__one_verified_chain_from_either(void **state)
{
    (void)state;
    char cmd[1024], out[4096], args[700];
    snprintf(args, sizeof(args),
             "submit --request-id audit-%%d %s/../examples/record.json",
             getenv("CJX_TEST_RULES"));
    /* Calls to both replicas, each recorded by the replica that took it. */
    for (int i = 0; i < 6; i++) {
        char one[700];
        snprintf(one, sizeof(one), args, i);
        as_court(cmd, sizeof(cmd), i % 2, one);
        assert_int_equal(harness_run_capture(cmd, out, sizeof(out)), 0);
    }
    for (int i = 0; i < 2; i++) {
        if (operator(i, "audit verify", out, sizeof(out)) != 0)
            fail_msg("replica %d: %s", i, out);
        /* Every call of the test, to either replica, is in the log. */
        int entries = 0;
        if (sscanf(out, "audit log OK: %d entries", &entries) != 1)
            fail_msg("replica %d: %s", i, out);
        assert_true(entries >= 6);
        /* ... and says which replica wrote what. */
        for (int k = 0; k < 2; k++) {
            char name[32];
            int n = 0;
            snprintf(name, sizeof(name), "  replica doj-%c: ", 'a' + k);
            const char *line = strstr(out, name);
            if (line == NULL || sscanf(line + strlen(name), "%d", &n) != 1 ||
                n < 3)
                fail_msg("replica %d does not report doj-%c's entries: %s", i,
                         'a' + k, out);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_replicas__same_record_sent_to_both_at_once__stored_once),
        cmocka_unit_test(
            test_replicas__audit_log__one_verified_chain_from_either),
    };
    return cmocka_run_group_tests(tests, start_replicas, stop_replicas);
}
