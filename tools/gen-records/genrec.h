/* Synthetic DOJ-like conviction records for benchmarks and exchange tests, deterministic by seed. */
#ifndef CJX_GENREC_H
#define CJX_GENREC_H

#include <stdint.h>

#include "cjx/arena.h"
#include "cjx/v1/determination.pb-c.h"

/* Generator state; one per thread. */
struct genrec {
    uint64_t s;      /* PRNG state */
    uint64_t serial; /* records made so far */
    /* Counties of conviction to draw from (indexes into the statewide
     * table), or none for the whole state. */
    int counties[16];
    int n_counties;
};

/* Starts the sequence for seed: the same seed always yields the same
 * records, on any machine. */
void genrec_init(struct genrec *g, uint64_t seed);
/* Restricts the counties of conviction to names (with their statewide
 * weights); histories stay statewide. Returns the index of the first name
 * the generator does not know, or -1 when all are known. */
int genrec_set_counties(struct genrec *g, const char *const *names, int n);
/* Returns the next query (count, statewide history, evaluation date), all
 * memory from arena; NULL when the arena is exhausted. */
Cjx__V1__ReliefQuery *genrec_next(struct genrec *g, struct cjx_arena *arena);

#endif
