/* Unit tests for rules/prop64.yaml: the data-driven case table. */
#include "test_rules.h"
int test_rules_run_prop64(void) { return 0; }
