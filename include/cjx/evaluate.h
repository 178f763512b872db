/* Evaluating a count with the configured rule sets: validations, then the
 * ordered decisions. Shared by cjxd's RulesService and `cjxctl eval`. */
#ifndef CJX_EVALUATE_H
#define CJX_EVALUATE_H

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/rules.h"
#include "cjx/v1/rules_service.pb-c.h"

/* The message types rule files may name: cjx.v1's records, queries and
 * determinations. */
const struct cjx_rules_types *cjx_evaluate_types(void);

/* The rule set for a query: the one named (NULL or "" for the set in effect
 * on the query's as_of date for cjx.v1.ReliefQuery). Returns NULL and a
 * message in eb when there is none. Borrowed from reg. */
const struct cjx_rules_set *
cjx_evaluate_pick_set(const struct cjx_rules_registry *reg, const char *name,
                      const Cjx__V1__ReliefQuery *query, struct cjx_errbuf *eb);

/* Validates query with set's validation rules and, unless one rejects it,
 * runs the decisions. *out is filled with arena memory (strings borrowed
 * from set): the determination, with the flags of failed FLAG rules, and
 * every failed validation. Returns 0; CJX_ERULE when a rule rejects the
 * query (out->failures says which; detail names the first rule and field);
 * CJX_EINVAL when no decision applies or one cannot be evaluated;
 * CJX_ENOMEM when the arena is exhausted. */
int cjx_evaluate_query(const struct cjx_rules_set *set,
                       const Cjx__V1__ReliefQuery *query,
                       struct cjx_arena *arena, Cjx__V1__EvaluateResponse *out,
                       struct cjx_errbuf *eb);

/* Runs every rule set of reg whose message type is desc's on msg (e.g. the
 * record checks of each incoming ConvictionRecord). Rejections are errors:
 * returns CJX_ERULE with "rule ID: message (field PATH)" in eb for the first
 * rejecting rule. Flags are returned as a comma-separated list of rule ids
 * in *flags (arena memory, "" if none). reg may be NULL (nothing to check).
 * Returns 0, CJX_ERULE or CJX_ENOMEM. */
int cjx_evaluate_validate(const struct cjx_rules_registry *reg,
                          const ProtobufCMessage *msg, struct cjx_arena *arena,
                          const char **flags, struct cjx_errbuf *eb);

#endif
