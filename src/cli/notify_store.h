/* DOJ's candidates from the records already in its store: the extract that
 * `cjxctl notify --from-store` evaluates, built from ListRecords. */
#ifndef CJX_CLI_NOTIFY_STORE_H
#define CJX_CLI_NOTIFY_STORE_H

#include <stddef.h>

#include "cli.h"

/* Lists the records of county (every county of the agency registry at
 * registry_path when county is NULL) and writes one cjx.v1.ReliefQuery per
 * count, its person history made of the person's other records (ListRecords
 * by CII), length-delimited as `cjxctl notify --format pb` reads them.
 * *buf is new (free()). 0, or 1 after reporting why. */
int notify_store_extract(struct cli *cli, const char *county,
                         const char *registry_path, char **buf, size_t *len);

#endif
