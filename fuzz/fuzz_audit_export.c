/* libFuzzer target: arbitrary bytes as an audit export file, the input an
 * auditor verifies offline. The verifier must name a finding or pass, never
 * crash. The trust anchor is a development CA made once per process. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/audit.h"
#include "cjx/tls.h"

static char *ca_pem;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/cjx-fuzz-audit-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/certs/make-dev-certs.sh %s >/dev/null",
             CJX_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        abort();
    snprintf(cmd, sizeof(cmd), "%s/ca.pem", dir);
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(cmd, 0, &ca_pem, &len, &eb) != 0)
        abort();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cjx_audit_trust trust = {.ca_pem = ca_pem,
                                    .trust_domain = "cjx.example",
                                    .agency_ori = "CA0000001"};
    struct cjx_audit_report report;
    struct cjx_errbuf eb;
    if (cjx_audit_verify_export((const char *)data, size, &trust, &report,
                                &eb) == 0 &&
        report.ok && report.first_bad_seq != 0)
        abort(); /* a passing report names no bad entry */
    return 0;
}
