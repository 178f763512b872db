/* The screen of cjxctl status: a status message printed against golden
 * text. Every time on the screen is reckoned from the message's own "now",
 * so the text does not depend on when the test runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status_print.h"

/* 2026-12-06T18:00:00Z */
#define NOW_S INT64_C(1796580000)

static char *
print_to_string(const Cjx__V1__DaemonStatus *st, int *warnings)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *warnings = status_print(f, st);
    fclose(f);
    return text;
}

static void
test_cli_status__full_status__golden_screen(void **state)
{
    (void)state;
    Cjx__V1__Agency agency = CJX__V1__AGENCY__INIT;
    agency.ori = "CA038013A";
    agency.role = CJX__V1__AGENCY_ROLE__AGENCY_ROLE_PROSECUTOR;
    agency.county = "San Francisco";
    agency.display_name = "San Francisco District Attorney";

    Cjx__V1__RuleSetStatus r1 = CJX__V1__RULE_SET_STATUS__INIT,
                           r2 = CJX__V1__RULE_SET_STATUS__INIT;
    r1.name = "prop64";
    r1.version = "2026.1";
    r1.message_type = "cjx.v1.ReliefQuery";
    r2.name = "records";
    r2.version = "1";
    r2.message_type = "cjx.v1.ConvictionRecord";
    Cjx__V1__RuleSetStatus *sets[] = {&r1, &r2};

    Cjx__V1__PeerStatus p1 = CJX__V1__PEER_STATUS__INIT,
                        p2 = CJX__V1__PEER_STATUS__INIT;
    p1.ori = "CA0000001";
    p1.endpoint = "doj.cjx.example:7443";
    p1.reachable = 1;
    p2.ori = "CA038033J";
    p2.endpoint = "court.cjx.example:7443";
    p2.failed_calls = 3;
    p2.outbox_pending = 12;
    p2.oldest_pending_unix_us = (NOW_S - 754) * 1000000; /* 12m 34s */
    p2.outbox_parked = 1;
    Cjx__V1__PeerStatus *peers[] = {&p1, &p2};

    Cjx__V1__ExpiryStatus e1 = CJX__V1__EXPIRY_STATUS__INIT,
                          e2 = CJX__V1__EXPIRY_STATUS__INIT,
                          e3 = CJX__V1__EXPIRY_STATUS__INIT;
    e1.kind = "cert";
    e1.subject = "/CN=CA038013A";
    e1.not_after_unix_s = NOW_S + 200 * 86400;
    e2.kind = "ca";
    e2.subject = "/CN=exchange CA";
    e2.not_after_unix_s = NOW_S + 12 * 86400 + 3 * 3600;
    e3.kind = "crl";
    e3.subject = "/CN=exchange CA";
    e3.not_after_unix_s = NOW_S - 3600;
    Cjx__V1__ExpiryStatus *expiries[] = {&e1, &e2, &e3};

    Cjx__V1__DaemonStatus st = CJX__V1__DAEMON_STATUS__INIT;
    st.agency = &agency;
    st.version = "0.1.0";
    st.started_unix_us = (NOW_S - 2 * 86400 - 5 * 3600 - 7) * 1000000;
    st.now_unix_us = NOW_S * 1000000;
    st.n_rule_sets = 2;
    st.rule_sets = sets;
    st.n_peers = 2;
    st.peers = peers;
    st.n_expiries = 3;
    st.expiries = expiries;
    st.store_bytes = 3 * 1024 * 1024 + 512 * 1024;
    st.audit_last_seq = 10234;
    st.audit_checkpoint_seq = 10000;
    st.audit_checkpoint_unix_us = (NOW_S - 42) * 1000000;

    int warnings;
    char *text = print_to_string(&st, &warnings);
    assert_string_equal(
        text,
        "* cjxd CA038013A - San Francisco District Attorney (PROSECUTOR, "
        "San Francisco)\n"
        "     Version: 0.1.0\n"
        "      Uptime: 2d 5h, since 2026-12-04T12:59:53.000000Z\n"
        "   Rule sets: prop64 2026.1 (cjx.v1.ReliefQuery)\n"
        "              records 1 (cjx.v1.ConvictionRecord)\n"
        "       Peers: CA0000001 doj.cjx.example:7443     reachable, outbox 0\n"
        "              CA038033J court.cjx.example:7443   UNREACHABLE (3 "
        "failed calls), outbox 12 (oldest 12m 34s), 1 parked\n"
        "    Expiries: cert 2027-06-24 /CN=CA038013A (in 200d)\n"
        "              ca   2026-12-18 /CN=exchange CA (in 12d 3h)  WARNING: "
        "renew soon\n"
        "              crl  2026-12-06 /CN=exchange CA (expired 1h ago)  "
        "WARNING: expired\n"
        "       Store: 3.5 MiB\n"
        "       Audit: head 10234, last checkpoint at 10000, 42s ago\n");
    /* The unreachable peer, its parked hand-off and two expiries. */
    assert_int_equal(warnings, 4);
    free(text);
}

static void
test_cli_status__fresh_daemon__says_what_is_missing(void **state)
{
    (void)state;
    Cjx__V1__Agency agency = CJX__V1__AGENCY__INIT;
    agency.ori = "CA0000001";
    agency.role = CJX__V1__AGENCY_ROLE__AGENCY_ROLE_DOJ;
    agency.display_name = "California Department of Justice";
    Cjx__V1__DaemonStatus st = CJX__V1__DAEMON_STATUS__INIT;
    st.agency = &agency;
    st.version = "0.1.0";
    st.started_unix_us = (NOW_S - 5) * 1000000;
    st.now_unix_us = NOW_S * 1000000;
    st.store_bytes = 4096;
    int warnings;
    char *text = print_to_string(&st, &warnings);
    assert_string_equal(
        text, "* cjxd CA0000001 - California Department of Justice (DOJ)\n"
              "     Version: 0.1.0\n"
              "      Uptime: 5s, since 2026-12-06T17:59:55.000000Z\n"
              "   Rule sets: none (structural checks only)\n"
              "       Peers: none\n"
              "    Expiries: none found\n"
              "       Store: 4.0 KiB\n"
              "       Audit: head 0, no checkpoint yet\n");
    assert_int_equal(warnings, 0);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_status__full_status__golden_screen),
        cmocka_unit_test(test_cli_status__fresh_daemon__says_what_is_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
