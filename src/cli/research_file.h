/* What `cjxctl eval` and `cjxctl notify` share to read a DOJ research file:
 * reporting its bad rows, setting bad subjects aside, and the check of the
 * whole file made before anything is sent. */
#ifndef CJX_CLI_RESEARCH_FILE_H
#define CJX_CLI_RESEARCH_FILE_H

#include <stdio.h>

#include "cjx/doj.h"

/* Where a research file's refused subjects go. */
struct research_rejects {
    const char *path; /* the file being read, for messages */
    FILE *reject;     /* --reject-file, or NULL */
    long refused;     /* subjects refused */
    int reported;     /* errors printed (at most a few dozen) */
};

/* Opens reject_path (NULL: none) for r. 0, or 1 after printing why. */
int research_rejects_open(struct research_rejects *r, const char *path,
                          const char *reject_path);
/* Closes the reject file. 0, or 1 after printing why. */
int research_rejects_close(struct research_rejects *r);

/* An on_error callback (ctx: struct research_rejects): prints
 * "FILE: line N, column C, value "V": why (subject S)" for the first few,
 * writes the subject's rows to the reject file, and goes on. */
int research_rejects_note(void *ctx, const struct cjx_doj_error *e);

/* Reads the whole file only to check it, noting every refused subject in
 * r. Returns 0 when the file reads (refused subjects allowed only with a
 * reject file), else 1 after printing why. */
int research_file_check(const char *path, struct research_rejects *r);

/* Called for each Prop 64 count of a subject with its relief query (memory
 * the callback borrows until it returns) and where, "FILE:LINE" of the
 * count's row. Returns 0 to go on; anything else stops the visit. */
typedef int (*research_count_fn)(void *ctx, const char *where,
                                 Cjx__V1__ReliefQuery *q);

/* Visits every Prop 64 count of subject s of the research file path, in
 * order. Returns 0, CJX_ENOMEM, or the first non-zero return of visit. */
int research_subject_counts(const struct cjx_doj_subject *s, const char *path,
                            research_count_fn visit, void *ctx);

#endif
