/* Unit tests for src/rules: rule-file loading, load errors, validate/decide, registry, allocation failures. */
#include "test_rules.h"
int test_rules_run_load(void) { return 0; }
