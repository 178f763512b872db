/* Shared helpers of the rules unit tests. */
#ifndef CJX_TEST_RULES_H
#define CJX_TEST_RULES_H

#include <protobuf-c/protobuf-c.h>
#include <yaml.h>

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/rules.h"

/* Builds a message of type desc from a YAML mapping node, field by field
 * through descriptors: scalars by their text, enums by name (with or
 * without the enum's prefix), dates as "YYYY-MM-DD", repeated fields as
 * sequences. Memory comes from arena. Returns 0 or -1 with a message. */
int test_rules_msg_from_node(yaml_document_t *doc, yaml_node_t *node,
                             const ProtobufCMessageDescriptor *desc,
                             struct cjx_arena *arena, ProtobufCMessage **inout,
                             char *err, size_t err_len);
/* Same from YAML text (a flow or block mapping). */
ProtobufCMessage *test_rules_msg(const char *yaml,
                                 const ProtobufCMessageDescriptor *desc,
                                 struct cjx_arena *arena);

/* The message types the tests offer to the loader. */
extern const struct cjx_rules_types test_rules_types;

/* Path of a file under $CJX_TEST_DATA (static buffer). */
const char *test_rules_data_path(const char *rel);
/* Path of the repository's rules/prop64.yaml (static buffer). */
const char *test_rules_prop64_path(void);

/* Whether the flat evaluator decides q as the tree walker does: the same
 * status and message, or the same determination packed byte for byte.
 * Says how they differ in why. */
int test_rules_same_decision(const struct cjx_rules_set *set,
                             const ProtobufCMessage *q, char *why,
                             size_t why_len);

int test_rules_run_lang(void);
int test_rules_run_load(void);
int test_rules_run_prop64(void);
int test_rules_run_records(void);
int test_rules_run_compiled(void);

#endif
