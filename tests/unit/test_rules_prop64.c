/* Unit tests for rules/prop64.yaml: the data-driven case table of tests/data/rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/determination.pb-c.h"
#include "test_rules.h"

static struct cjx_rules_set *prop64;

static int
setup(void **state)
{
    (void)state;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_rules_set_load_file(test_rules_prop64_path(),
                                     &test_rules_types, &prop64, &eb);
    if (rc != 0)
        fprintf(stderr, "prop64.yaml: %s\n", eb.msg);
    return rc;
}

static int
teardown(void **state)
{
    (void)state;
    cjx_rules_set_free(prop64);
    return 0;
}

static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
         p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static const char *
enum_name(const ProtobufCEnumDescriptor *en, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(en, v);
    return ev != NULL ? ev->name : "?";
}

/* Compares "DISMISS_AND_SEAL" with RELIEF_DISMISS_AND_SEAL. */
static int
enum_is(const ProtobufCEnumDescriptor *en, int v, const char *want)
{
    const char *name = enum_name(en, v);
    size_t n = strlen(name), w = strlen(want);
    return strcmp(name, want) == 0 ||
           (n > w && strcmp(name + n - w, want) == 0 && name[n - w - 1] == '_');
}

static int
contains(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void
describe(char *buf, size_t len, const Cjx__V1__Determination *d)
{
    int o = snprintf(
        buf, len,
        "relief=%s floor=%s ceiling=%s procedure=%s decision=%s reasons=[",
        enum_name(&cjx__v1__relief__descriptor, d->relief),
        enum_name(&cjx__v1__relief__descriptor, d->floor),
        enum_name(&cjx__v1__relief__descriptor, d->ceiling),
        enum_name(&cjx__v1__procedure__descriptor, d->procedure),
        d->decision_id);
    for (size_t i = 0; i < d->n_reason_codes && o > 0 && (size_t)o < len; i++)
        o += snprintf(buf + o, len - (size_t)o, "%s%s", i ? " " : "",
                      d->reason_codes[i]);
    if (o > 0 && (size_t)o < len)
        snprintf(buf + o, len - (size_t)o, "]");
}

/* Checks one row; returns a failure description or NULL. */
static const char *
check_case(yaml_document_t *doc, yaml_node_t *defaults, yaml_node_t *c,
           char *why, size_t why_len)
{
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    ProtobufCMessage *q = NULL;
    char err[256];
    yaml_node_t *query = map_get(doc, c, "query");
    yaml_node_t *expect = map_get(doc, c, "expect");
    const char *res = NULL;
    if (query == NULL || expect == NULL) {
        snprintf(why, why_len, "row needs query and expect");
        res = why;
        goto out;
    }
    if ((defaults != NULL &&
         test_rules_msg_from_node(doc, defaults,
                                  &cjx__v1__relief_query__descriptor, &a, &q,
                                  err, sizeof(err)) != 0) ||
        test_rules_msg_from_node(doc, query, &cjx__v1__relief_query__descriptor,
                                 &a, &q, err, sizeof(err)) != 0) {
        snprintf(why, why_len, "bad query: %s", err);
        res = why;
        goto out;
    }
    ProtobufCMessage *out = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_rules_decide(prop64, q, &a, &out, &eb);
    if (rc != 0) {
        snprintf(why, why_len, "decide failed: %s", eb.msg);
        res = why;
        goto out;
    }
    if (!test_rules_same_decision(prop64, q, why, why_len)) {
        res = why;
        goto out;
    }
    const Cjx__V1__Determination *d = (const Cjx__V1__Determination *)out;
    char got[1024];
    describe(got, sizeof(got), d);
    static const struct {
        const char *key;
        size_t off;
        const ProtobufCEnumDescriptor *en;
    } enums[] = {
        {"relief", offsetof(Cjx__V1__Determination, relief),
         &cjx__v1__relief__descriptor},
        {"floor", offsetof(Cjx__V1__Determination, floor),
         &cjx__v1__relief__descriptor},
        {"ceiling", offsetof(Cjx__V1__Determination, ceiling),
         &cjx__v1__relief__descriptor},
        {"procedure", offsetof(Cjx__V1__Determination, procedure),
         &cjx__v1__procedure__descriptor},
    };
    for (size_t i = 0; i < sizeof(enums) / sizeof(*enums); i++) {
        yaml_node_t *w = map_get(doc, expect, enums[i].key);
        if (w == NULL)
            continue;
        int v = *(const int *)((const char *)d + enums[i].off);
        if (!enum_is(enums[i].en, v, (const char *)w->data.scalar.value)) {
            snprintf(why, why_len, "%s: want %s; got %s", enums[i].key,
                     w->data.scalar.value, got);
            res = why;
            goto out;
        }
    }
    yaml_node_t *w = map_get(doc, expect, "decision");
    if (w != NULL &&
        strcmp(d->decision_id, (const char *)w->data.scalar.value) != 0) {
        snprintf(why, why_len, "decision: want %s; got %s",
                 w->data.scalar.value, got);
        res = why;
        goto out;
    }
    static const char *const lists[] = {"reasons", "missing"};
    for (int l = 0; l < 2; l++) {
        w = map_get(doc, expect, lists[l]);
        if (w == NULL)
            continue;
        for (yaml_node_item_t *it = w->data.sequence.items.start;
             it < w->data.sequence.items.top; it++) {
            const char *s = (const char *)yaml_document_get_node(doc, *it)
                                ->data.scalar.value;
            int ok = l == 0 ? contains(d->reason_codes, d->n_reason_codes, s)
                            : contains(d->missing_facts, d->n_missing_facts, s);
            if (!ok) {
                snprintf(why, why_len, "%s: want %s among them; got %s",
                         lists[l], s, got);
                res = why;
                goto out;
            }
        }
    }
out:
    cjx_arena_fini(&a);
    return res;
}

static void
test_rules_prop64__case_table(void **state)
{
    (void)state;
    const char *path = test_rules_data_path("rules/prop64_cases.yaml");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    assert_true(yaml_parser_load(&p, &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *defaults = map_get(&doc, root, "defaults");
    yaml_node_t *cases = map_get(&doc, root, "cases");
    assert_non_null(cases);
    int failures = 0, n = 0;
    for (yaml_node_item_t *it = cases->data.sequence.items.start;
         it < cases->data.sequence.items.top; it++) {
        yaml_node_t *c = yaml_document_get_node(&doc, *it);
        yaml_node_t *id = map_get(&doc, c, "id");
        char why[1536];
        const char *r = check_case(&doc, defaults, c, why, sizeof(why));
        n++;
        if (r != NULL) {
            failures++;
            yaml_node_t *facts = map_get(&doc, c, "facts");
            fprintf(stderr, "case %s (%s): %s\n",
                    id != NULL ? (const char *)id->data.scalar.value : "?",
                    facts != NULL ? (const char *)facts->data.scalar.value : "",
                    r);
        }
    }
    fprintf(stderr, "prop64 case table: %d cases, %d failed\n", n, failures);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    fclose(f);
    assert_int_equal(failures, 0);
    assert_true(n >= 60);
}

static const struct CMUnitTest prop64_tests[] = {
    cmocka_unit_test(test_rules_prop64__case_table),
};

int
test_rules_run_prop64(void)
{
    return cmocka_run_group_tests_name("rules_prop64", prop64_tests, setup,
                                       teardown);
}
