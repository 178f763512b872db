/* The store backend a unit test runs against, so that one test source
 * checks both (store_backend.c). CJX_TEST_STORE=postgresql, with the
 * server in CJX_TEST_PG_DSN (tests/support/with-postgres sets it), picks
 * PostgreSQL; anything else SQLite. */
#ifndef CJX_TEST_STORE_BACKEND_H
#define CJX_TEST_STORE_BACKEND_H

#include <stdint.h>

#include "cjx/store.h"

/* Whether the tests run against PostgreSQL. */
int test_backend_is_pg(void);

/* Makes the next open start from an empty store: for PostgreSQL, drops
 * every table of the test database (a SQLite test uses a new file).
 * Returns 0, or -1 with the reason on stderr. */
int test_backend_reset(void);

/* Opens the store: SQLite at sqlite_path, or the test's PostgreSQL
 * database, with the options of o (may be NULL) that both backends have. */
int test_backend_open(const char *sqlite_path,
                      const struct cjx_store_sqlite_options *o,
                      struct cjx_store **out, struct cjx_errbuf *eb);

/* Runs one SQL statement on the PostgreSQL test database; fails the test
 * when it fails. */
void test_backend_pg_exec(const char *sql);

/* The number of rows of a table of the PostgreSQL test database. */
int64_t test_backend_pg_count(const char *table);

#endif
