/* Security suite: every cell of the authorization matrix against a real
 * daemon over real mTLS. Each agency's certificate calls each method; a
 * denied cell must answer PERMISSION_DENIED and leave an audit entry, an
 * allowed one must get past authorization; and no refused call may change
 * the store. The table itself is checked against the design's matrix by
 * tests/unit/test_authz.c; here the daemon is checked against the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/authz.h"
#include "cjx/service.h"
#include "cjx/v1/record_service.methods.h"
#include "harness.h"

enum { PERMISSION_DENIED = 7 };

static const struct {
    const char *slug;
    enum cjx_role role;
} callers[] = {
    {"doj", CJX_ROLE_DOJ},
    {"sf-da", CJX_ROLE_PROSECUTOR},
    {"sf-court", CJX_ROLE_COURT},
    {"sf-pd", CJX_ROLE_DEFENDER},
    {"alameda-da", CJX_ROLE_PROSECUTOR},
    {"alameda-court", CJX_ROLE_COURT},
};

static int64_t
record_feed_length(struct test_daemon *d)
{
    struct cjx_client *cl = harness_client_local(d);
    Cjx__V1__WatchRecordsRequest req = CJX__V1__WATCH_RECORDS_REQUEST__INIT;
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(
            cl, &cjx__v1__record_service__methods[RECORD_SERVICE_WATCH_RECORDS],
            &req.base, 10000, &s),
        0);
    ProtobufCMessage *m;
    int64_t n = 0;
    while (cjx_client_stream_read(s, &m) == 1) {
        n++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    struct cjx_client_status st;
    cjx_client_stream_finish(s, NULL, &st);
    cjx_client_stream_free(s);
    cjx_client_free(cl);
    return n;
}

/* Audit entries of the daemon whose outcome is PERMISSION_DENIED. */
static int
denied_audit_entries(struct test_daemon *d)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "CJX_SOCKET=%s %s --json audit export %s/audit.jsonl >/dev/null",
             d->socket, getenv("CJX_CJXCTL"), d->dir);
    assert_int_equal(harness_run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/audit.jsonl", d->dir);
    FILE *f = fopen(cmd, "r");
    assert_non_null(f);
    static char line[65536];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, "\"outcomeCode\":7") != NULL &&
             strstr(line, "may not call") != NULL;
    fclose(f);
    return n;
}

static void
test_authz_matrix__every_cell_is_enforced_audited_and_changes_nothing(
    void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", "CA0000001");
    assert_int_equal(harness_daemon_start(&d), 0);
    int64_t feed_before = record_feed_length(&d);

    int denied = 0, allowed = 0;
    for (size_t c = 0; c < sizeof(callers) / sizeof(callers[0]); c++) {
        struct cjx_client *cl = harness_client_tls(&d, callers[c].slug);
        for (int m = 0; m < cjx_authz_table_len; m++) {
            const char *path = cjx_authz_table[m].method_path;
            enum cjx_access access = cjx_authz_remote(callers[c].role, path);
            void *resp = NULL;
            size_t len;
            struct cjx_client_status st;
            /* An empty message is a valid request of every type; an allowed
             * caller gets past authorization to the request's own checks.
             * A stream that follows (Health/Watch) never ends by itself:
             * a refusal comes at once, so a short deadline tells them
             * apart. */
            const struct cjx_handler *h = cjx_service_find(path);
            int deadline_ms =
                h != NULL && h->method->server_streaming ? 1000 : 10000;
            assert_int_equal(cjx_client_unary_raw(cl, path, "", 0, deadline_ms,
                                                  &resp, &len, &st),
                             0);
            free(resp);
            int refused = st.code == PERMISSION_DENIED &&
                          strstr(st.message, "may not call") != NULL;
            if (access == CJX_ACCESS_DENY) {
                if (!refused)
                    fail_msg(
                        "%s calling %s: want PERMISSION_DENIED, got %s: %s",
                        callers[c].slug, path, cjx_client_code_name(st.code),
                        st.message);
                denied++;
            } else {
                if (refused)
                    fail_msg("%s calling %s: allowed by the table, refused: %s",
                             callers[c].slug, path, st.message);
                allowed++;
            }
        }
        cjx_client_free(cl);
    }
    assert_true(denied > 0 && allowed > 0);
    /* Every refusal is in the audit log, and none of them wrote anything. */
    assert_int_equal(denied_audit_entries(&d), denied);
    assert_int_equal(record_feed_length(&d), feed_before);
    assert_int_equal(harness_daemon_stop(&d), 0);
    harness_daemon_cleanup(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_authz_matrix__every_cell_is_enforced_audited_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
