/* The agency registry: which ORI is which agency, with its role and county. */
#include <stdlib.h>
#include <string.h>

#include "cjx/conf.h"
#include "conf_internal.h"
#include "yaml_walk.h"

static const char *const role_names[] = {
    [CJX_ROLE_UNSPECIFIED] = "UNSPECIFIED",
    [CJX_ROLE_DOJ] = "DOJ",
    [CJX_ROLE_PROSECUTOR] = "PROSECUTOR",
    [CJX_ROLE_DEFENDER] = "DEFENDER",
    [CJX_ROLE_COURT] = "COURT",
};

const char *
cjx_role_name(enum cjx_role role)
{
    if (role > CJX_ROLE_UNSPECIFIED && role <= CJX_ROLE_COURT)
        return role_names[role];
    return role_names[CJX_ROLE_UNSPECIFIED];
}

int
cjx_role_parse(const char *name, enum cjx_role *out)
{
    if (name == NULL)
        return CJX_EINVAL;
    for (int r = CJX_ROLE_DOJ; r <= CJX_ROLE_COURT; r++) {
        if (strcmp(name, role_names[r]) == 0) {
            *out = (enum cjx_role)r;
            return 0;
        }
    }
    return CJX_EINVAL;
}

int
cjx_conf_ori_valid(const char *s)
{
    size_t i;
    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return i == CJX_ORI_LEN;
}

static int
host_char(char c, int bracketed)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z') || c == '.')
        return 1;
    return bracketed ? c == ':' : (c == '-' || c == '_');
}

int
cjx_conf_address_valid(const char *s, int allow_port_zero)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return 0;

    const char *h = s, *hend = colon;
    int bracketed = s[0] == '[';
    if (bracketed) {
        if (hend[-1] != ']' || hend - s < 3)
            return 0;
        h++;
        hend--;
    }
    for (const char *p = h; p < hend; p++)
        if (!host_char(*p, bracketed))
            return 0;

    long port = 0;
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port <= 65535 && (port > 0 || allow_port_zero);
}

const struct cjx_agency *
cjx_registry_find(const struct cjx_registry *reg, const char *ori)
{
    if (reg == NULL || ori == NULL)
        return NULL;
    size_t lo = 0, hi = reg->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ori, reg->agencies[mid].ori);
        if (c == 0)
            return &reg->agencies[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static void
agency_fini(struct cjx_agency *a)
{
    free(a->county);
    free(a->endpoint);
    free(a->tls_name);
    free(a->name);
    a->county = a->endpoint = a->tls_name = a->name = NULL;
}

void
cjx_registry_fini(struct cjx_registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n; i++)
        agency_fini(&reg->agencies[i]);
    free(reg->agencies);
    reg->agencies = NULL;
    reg->n = 0;
}

/* An agency while the file is read: where its ORI was written, so that a
 * duplicate can be reported at the second occurrence. */
struct entry {
    struct cjx_agency agency;
    const yaml_node_t *ori_node;
    size_t index;
};

static int
entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->agency.ori, y->agency.ori);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* `prosecutes: [FELONY, MISDEMEANOR, INFRACTION]`: the offense levels a
 * prosecuting agency prosecutes, so that a county with a District Attorney
 * and a City Attorney still has one default prosecutor (the one prosecuting
 * felonies) for counts that name none. */
static int
parse_prosecutes(struct cjx_conf_yaml *y, yaml_node_t *node,
                 struct cjx_agency *a, struct cjx_errbuf *eb)
{
    static const struct {
        const char *name;
        unsigned bit;
    } levels[] = {{"FELONY", CJX_PROSECUTES_FELONY},
                  {"MISDEMEANOR", CJX_PROSECUTES_MISDEMEANOR},
                  {"INFRACTION", CJX_PROSECUTES_INFRACTION}};
    if (a->role != CJX_ROLE_PROSECUTOR)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "prosecutes: only a PROSECUTOR prosecutes");
    int rc = cjx_conf_yaml_sequence(y, node, "prosecutes", eb);
    if (rc != 0)
        return rc;
    unsigned bits = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = cjx_conf_yaml_node(y, *it);
        char *level = NULL;
        if (item == NULL)
            return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                      "prosecutes: malformed sequence");
        rc = cjx_conf_yaml_string(y, item, "prosecutes", 0, &level, eb);
        if (rc != 0)
            return rc;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
            if (strcmp(level, levels[i].name) == 0)
                bit = levels[i].bit;
        free(level);
        if (bit == 0) {
            char q[64];
            return cjx_conf_yaml_errf(y, item, CJX_EPARSE, eb,
                                      "prosecutes: unknown level '%s' "
                                      "(expected FELONY, MISDEMEANOR or "
                                      "INFRACTION)",
                                      cjx_conf_yaml_quote(item, q, sizeof(q)));
        }
        if (bits & bit)
            return cjx_conf_yaml_errf(y, item, CJX_EPARSE, eb,
                                      "prosecutes: level listed twice");
        bits |= bit;
    }
    if (bits == 0)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "prosecutes: list at least one level");
    a->prosecutes = bits;
    return 0;
}

static int
parse_agency(struct cjx_conf_yaml *y, yaml_node_t *node, struct entry *e,
             struct cjx_errbuf *eb)
{
    enum {
        K_ORI,
        K_ROLE,
        K_COUNTY,
        K_ENDPOINT,
        K_TLS_NAME,
        K_NAME,
        K_PROSECUTES,
        K_N
    };
    struct cjx_conf_yaml_key keys[K_N] = {
        [K_ORI] = {"ori", 1, NULL, NULL},
        [K_ROLE] = {"role", 1, NULL, NULL},
        [K_COUNTY] = {"county", 0, NULL, NULL},
        [K_ENDPOINT] = {"endpoint", 0, NULL, NULL},
        [K_TLS_NAME] = {"tls_name", 0, NULL, NULL},
        [K_NAME] = {"name", 1, NULL, NULL},
        [K_PROSECUTES] = {"prosecutes", 0, NULL, NULL},
    };
    char *ori = NULL, *role = NULL;
    char q[64];
    int rc = cjx_conf_yaml_mapping(y, node, "agency", keys, K_N, eb);
    if (rc != 0)
        return rc;

    rc = cjx_conf_yaml_string(y, keys[K_ORI].value, "ori", 0, &ori, eb);
    if (rc != 0)
        goto out;
    if (!cjx_conf_ori_valid(ori)) {
        rc = cjx_conf_yaml_errf(
            y, keys[K_ORI].value, CJX_EPARSE, eb,
            "ori: '%s' is not an ORI (exactly 9 "
            "characters A-Z or 0-9)",
            cjx_conf_yaml_quote(keys[K_ORI].value, q, sizeof(q)));
        goto out;
    }
    memcpy(e->agency.ori, ori, CJX_ORI_LEN + 1);
    e->ori_node = keys[K_ORI].value;

    rc = cjx_conf_yaml_string(y, keys[K_ROLE].value, "role", 0, &role, eb);
    if (rc != 0)
        goto out;
    if (cjx_role_parse(role, &e->agency.role) != 0) {
        rc = cjx_conf_yaml_errf(
            y, keys[K_ROLE].value, CJX_EPARSE, eb,
            "role: unknown role '%s' (expected DOJ, "
            "PROSECUTOR, DEFENDER or COURT)",
            cjx_conf_yaml_quote(keys[K_ROLE].value, q, sizeof(q)));
        goto out;
    }

    if (keys[K_COUNTY].value != NULL) {
        rc = cjx_conf_yaml_string(y, keys[K_COUNTY].value, "county", 1,
                                  &e->agency.county, eb);
    } else {
        e->agency.county = strdup("");
        if (e->agency.county == NULL)
            rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    if (rc != 0)
        goto out;
    /* County scope in authorization compares these strings, so a statewide
     * agency with a county, or a local one without, would be mis-scoped. */
    if (e->agency.role == CJX_ROLE_DOJ && e->agency.county[0] != '\0') {
        rc = cjx_conf_yaml_errf(y, keys[K_COUNTY].value, CJX_EPARSE, eb,
                                "county: DOJ is statewide and must not have a "
                                "county");
        goto out;
    }
    if (e->agency.role != CJX_ROLE_DOJ && e->agency.county[0] == '\0') {
        const yaml_node_t *at =
            keys[K_COUNTY].value != NULL ? keys[K_COUNTY].value : node;
        rc = cjx_conf_yaml_errf(y, at, CJX_EPARSE, eb,
                                "county: a %s must have a county",
                                cjx_role_name(e->agency.role));
        goto out;
    }

    rc = cjx_conf_endpoint_parse(y, keys[K_ENDPOINT].value, &e->agency.endpoint,
                                 eb);
    if (rc == 0)
        rc = cjx_conf_tls_name_parse(y, keys[K_TLS_NAME].value,
                                     e->agency.endpoint, node,
                                     &e->agency.tls_name, eb);
    if (rc != 0)
        goto out;

    rc = cjx_conf_yaml_string(y, keys[K_NAME].value, "name", 0, &e->agency.name,
                              eb);
    if (rc != 0)
        goto out;

    if (e->agency.role == CJX_ROLE_PROSECUTOR)
        e->agency.prosecutes = CJX_PROSECUTES_ALL;
    if (keys[K_PROSECUTES].value != NULL)
        rc = parse_prosecutes(y, keys[K_PROSECUTES].value, &e->agency, eb);
out:
    free(ori);
    free(role);
    return rc;
}

int
cjx_registry_parse(const char *text, size_t len, const char *name,
                   struct cjx_registry *out, struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml y;
    int rc = cjx_conf_yaml_parse(&y, name, text, len, eb);
    if (rc != 0)
        return rc;

    struct entry *entries = NULL;
    size_t n = 0;
    struct cjx_conf_yaml_key keys[] = {{"agencies", 1, NULL, NULL}};
    rc = cjx_conf_yaml_mapping(&y, cjx_conf_yaml_root(&y), NULL, keys, 1, eb);
    if (rc == 0)
        rc = cjx_conf_yaml_sequence(&y, keys[0].value, "agencies", eb);
    if (rc != 0)
        goto out;

    yaml_node_t *seq = keys[0].value;
    size_t count =
        (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    entries = calloc(count > 0 ? count : 1, sizeof(*entries));
    if (entries == NULL) {
        rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    for (; n < count; n++) {
        yaml_node_t *item =
            cjx_conf_yaml_node(&y, seq->data.sequence.items.start[n]);
        entries[n].index = n;
        if (item == NULL) {
            rc = cjx_conf_yaml_errf(&y, seq, CJX_EPARSE, eb,
                                    "malformed sequence");
            goto out;
        }
        rc = parse_agency(&y, item, &entries[n], eb);
        if (rc != 0) {
            n++; /* so that its partly filled strings are freed */
            goto out;
        }
    }

    qsort(entries, n, sizeof(*entries), entry_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(entries[i - 1].agency.ori, entries[i].agency.ori) == 0) {
            rc = cjx_conf_yaml_errf(&y, entries[i].ori_node, CJX_EPARSE, eb,
                                    "ori: duplicate ORI %s (first at line %zu)",
                                    entries[i].agency.ori,
                                    entries[i - 1].ori_node->start_mark.line +
                                        1);
            goto out;
        }
    }

    struct cjx_agency *agencies = calloc(n > 0 ? n : 1, sizeof(*agencies));
    if (agencies == NULL) {
        rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        agencies[i] = entries[i].agency;
    free(entries);
    entries = NULL;
    out->agencies = agencies;
    out->n = n;
out:
    if (entries != NULL) {
        for (size_t i = 0; i < n; i++)
            agency_fini(&entries[i].agency);
        free(entries);
    }
    cjx_conf_yaml_fini(&y);
    return rc;
}

int
cjx_registry_load(const char *path, struct cjx_registry *out,
                  struct cjx_errbuf *eb)
{
    char *text;
    size_t len;
    int rc = cjx_conf_yaml_read_file(path, &text, &len, eb);
    if (rc != 0)
        return rc;
    rc = cjx_registry_parse(text, len, path, out, eb);
    free(text);
    return rc;
}
