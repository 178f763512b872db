/* A registry of rule sets loaded together from a directory or a list of files. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

struct cjx_rules_registry {
    struct cjx_rules_set **sets;
    size_t n;
};

void
cjx_rules_registry_free(struct cjx_rules_registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n; i++)
        cjx_rules_set_free(reg->sets[i]);
    free(reg->sets);
    free(reg);
}

int
cjx_rules_registry_load_files(const char *const *paths, size_t n,
                              const struct cjx_rules_types *types,
                              struct cjx_rules_registry **out,
                              struct cjx_errbuf *eb)
{
    struct cjx_rules_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    reg->sets = calloc(n ? n : 1, sizeof(*reg->sets));
    if (reg->sets == NULL) {
        free(reg);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int rc = cjx_rules_set_load_file(paths[i], types, &reg->sets[i], eb);
        if (rc != 0) {
            cjx_rules_registry_free(reg);
            return rc;
        }
        reg->n = i + 1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(reg->sets[j]->name, reg->sets[i]->name) == 0) {
                rc = cjx_errf(eb, CJX_EEXIST,
                              "%s: rule set '%s' is already loaded from %s",
                              paths[i], reg->sets[i]->name, paths[j]);
                cjx_rules_registry_free(reg);
                return rc;
            }
        }
    }
    *out = reg;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_rule_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return 0;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

int
cjx_rules_registry_load_dir(const char *dir,
                            const struct cjx_rules_types *types,
                            struct cjx_rules_registry **out,
                            struct cjx_errbuf *eb)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return cjx_errf(eb, CJX_EIO, "%s: cannot open directory: %m", dir);
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_rule_file(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **np = realloc(paths, cap * sizeof(*paths));
            if (np == NULL) {
                rc = CJX_ENOMEM;
                break;
            }
            paths = np;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        paths[n] = malloc(len);
        if (paths[n] == NULL) {
            rc = CJX_ENOMEM;
            break;
        }
        snprintf(paths[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (rc == 0) {
        if (n > 0)
            qsort(paths, n, sizeof(*paths), cmp_str);
        rc = cjx_rules_registry_load_files((const char *const *)paths, n, types,
                                           out, eb);
    } else {
        cjx_errf(eb, rc, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

size_t
cjx_rules_registry_count(const struct cjx_rules_registry *reg)
{
    return reg->n;
}

const struct cjx_rules_set *
cjx_rules_registry_at(const struct cjx_rules_registry *reg, size_t i)
{
    return i < reg->n ? reg->sets[i] : NULL;
}

const struct cjx_rules_set *
cjx_rules_registry_find(const struct cjx_rules_registry *reg,
                        const char *full_name, int year, int month, int day)
{
    for (size_t i = 0; i < reg->n; i++) {
        const struct cjx_rules_set *s = reg->sets[i];
        if (strcmp(s->message->name, full_name) != 0)
            continue;
        if (year == 0 || cjx_rules_set_in_effect(s, year, month, day))
            return s;
    }
    return NULL;
}
