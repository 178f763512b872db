/* Rules evaluator: a CEL-subset expression language over protobuf-c messages and YAML rule sets. */
#ifndef CJX_RULES_H
#define CJX_RULES_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cjx/arena.h"
#include "cjx/error.h"

/* The message types a rule file may name (its `message` and `output`).
 * The loader resolves names only through this list, so a rule file can never
 * reach a type the caller did not offer. Enumerations are found through the
 * fields of the listed messages. Borrowed for the duration of the call. */
struct cjx_rules_types {
    const ProtobufCMessageDescriptor *const *messages;
    size_t n_messages;
};

/* A compiled rule set. Immutable after load: any number of threads may
 * validate and decide with one set at the same time, each with its own
 * arena. */
struct cjx_rules_set;

/* Loads and compiles a rule file. Every expression is parsed, resolved and
 * type-checked here: an unknown field, identifier or function, a type
 * mismatch, a wrong arity, a bad regular expression or date literal, a
 * cycle between lets, a duplicate id or an unknown YAML key is a load error
 * (CJX_EPARSE) whose detail reads "file:line:col: message" followed by the
 * source line and a caret under the column. CJX_ENOMEM when out of memory,
 * CJX_EIO when the file cannot be read. Returns a new set in *out; free with
 * cjx_rules_set_free(). */
int cjx_rules_set_load_file(const char *path,
                            const struct cjx_rules_types *types,
                            struct cjx_rules_set **out, struct cjx_errbuf *eb);
/* Same from a buffer; name is the file name shown in messages. */
int cjx_rules_set_load_buffer(const char *name, const char *buf, size_t len,
                              const struct cjx_rules_types *types,
                              struct cjx_rules_set **out,
                              struct cjx_errbuf *eb);
void cjx_rules_set_free(struct cjx_rules_set *set);

/* Borrowed; valid until the set is freed. */
const char *cjx_rules_set_name(const struct cjx_rules_set *set);
const char *cjx_rules_set_version(const struct cjx_rules_set *set);
const ProtobufCMessageDescriptor *
cjx_rules_set_message(const struct cjx_rules_set *set);
/* NULL when the set has no decisions. */
const ProtobufCMessageDescriptor *
cjx_rules_set_output(const struct cjx_rules_set *set);
/* 1 when the date lies in the set's `effective` interval [from, until). */
int cjx_rules_set_in_effect(const struct cjx_rules_set *set, int year,
                            int month, int day);

enum cjx_rules_severity {
    CJX_RULES_REJECT = 1, /* the message must be refused */
    CJX_RULES_FLAG = 2,   /* accepted, with the rule id recorded */
};

/* One validation rule that did not hold. Strings borrowed from the set
 * (valid until it is freed) except detail, which is in the arena. */
struct cjx_rules_failure {
    const char *id;
    const char *message;
    const char *field; /* field path the rule concerns; "" if none */
    enum cjx_rules_severity severity;
    const char *detail; /* evaluation error when the rule errored, else NULL */
};

struct cjx_rules_report {
    struct cjx_rules_failure *failures; /* in the arena */
    size_t n_failures;
    int rejected; /* at least one failure has severity REJECT */
};

/* Runs every validation of set on msg (which must be of the set's message
 * type). A rule whose expression evaluates to an error counts as failed,
 * with the error in detail. Memory comes from arena only. Returns 0 (even
 * when rules failed: see out->rejected), CJX_EINVAL for a message of the
 * wrong type, CJX_ENOMEM when the arena is exhausted. */
int cjx_rules_validate(const struct cjx_rules_set *set,
                       const ProtobufCMessage *msg, struct cjx_arena *arena,
                       struct cjx_rules_report *out, struct cjx_errbuf *eb);

/* Runs the ordered decisions of set on msg: the first whose `when` holds
 * decides. Facts declared unknown are enumerated (each possible value is
 * tried) and, when the outcomes differ, the set's review relief is returned
 * with floor and ceiling. Returns in *out a new message of the set's output
 * type allocated in arena; its strings, and its repeated fields' arrays
 * when one decision decides alone, are borrowed from the set (valid until
 * the set is freed, and not to be written). Returns 0, CJX_EINVAL for a message of the wrong
 * type, for a decision whose condition evaluates to an error, or when no
 * decision matched (detail names the rule and position), CJX_ENOMEM when
 * the arena is exhausted. */
int cjx_rules_decide(const struct cjx_rules_set *set,
                     const ProtobufCMessage *msg, struct cjx_arena *arena,
                     ProtobufCMessage **out, struct cjx_errbuf *eb);

/* The same decision by the flat evaluator: the set's expressions and
 * decision list compiled at load to register-machine code. Its output is
 * the tree walker's byte for byte (tests and bench_rules check it); on the
 * Prop 64 set it is not faster (docs/performance.md), so cjx_rules_decide
 * stays on the tree. */
int cjx_rules_decide_compiled(const struct cjx_rules_set *set,
                              const ProtobufCMessage *msg,
                              struct cjx_arena *arena, ProtobufCMessage **out,
                              struct cjx_errbuf *eb);

/* A standalone expression over a message type, for tools and tests. */
struct cjx_rules_expr;

/* Compiles src against root (the top-level fields of root are the
 * variables). Errors as for rule files, with file "<expr>". Returns a new
 * expression; free with cjx_rules_expr_free(). */
int cjx_rules_expr_compile(const char *src,
                           const ProtobufCMessageDescriptor *root,
                           struct cjx_rules_expr **out, struct cjx_errbuf *eb);
void cjx_rules_expr_free(struct cjx_rules_expr *e);
/* Evaluates e on msg (NULL: the default instance) and formats the result
 * as CEL-like text in the arena: `true`, `42`, `1.5`, `"abc"`,
 * `date("2016-11-09")`, `[1, 2]`, `OFFENSE_LEVEL_FELONY`, or
 * `error: <message>` for an error value. Returns 0 or CJX_ENOMEM. */
int cjx_rules_expr_eval(const struct cjx_rules_expr *e,
                        const ProtobufCMessage *msg, struct cjx_arena *arena,
                        const char **text);
/* The same by the flat evaluator (see cjx_rules_decide_compiled). */
int cjx_rules_expr_eval_compiled(const struct cjx_rules_expr *e,
                                 const ProtobufCMessage *msg,
                                 struct cjx_arena *arena, const char **text);

/* Several rule sets, e.g. every file of a directory. Immutable once loaded:
 * a daemon reloads by loading a new registry and swapping its pointer,
 * freeing the old one when no call uses it any more. */
struct cjx_rules_registry;

/* Loads every *.yaml / *.yml file of dir in name order. Fails as a whole
 * (nothing is returned) if any file fails; detail names the file. Two sets
 * with the same name are an error. Returns a new registry; free with
 * cjx_rules_registry_free(). */
int cjx_rules_registry_load_dir(const char *dir,
                                const struct cjx_rules_types *types,
                                struct cjx_rules_registry **out,
                                struct cjx_errbuf *eb);
int cjx_rules_registry_load_files(const char *const *paths, size_t n,
                                  const struct cjx_rules_types *types,
                                  struct cjx_rules_registry **out,
                                  struct cjx_errbuf *eb);
void cjx_rules_registry_free(struct cjx_rules_registry *reg);
size_t cjx_rules_registry_count(const struct cjx_rules_registry *reg);
/* Borrowed; valid until the registry is freed. */
const struct cjx_rules_set *
cjx_rules_registry_at(const struct cjx_rules_registry *reg, size_t i);
/* The first set (in load order) for messages of type full_name (e.g.
 * "cjx.v1.ReliefQuery") in effect on the date; year 0 ignores dates.
 * NULL when there is none. */
const struct cjx_rules_set *
cjx_rules_registry_find(const struct cjx_rules_registry *reg,
                        const char *full_name, int year, int month, int day);

#endif
