/* The files prosecutors review: per county of conviction, a CSV with one
 * row per Prop 64 count and its determination, and a JSON summary
 * (docs/result-files.md documents every column). */
#ifndef CJX_CLI_RESULT_FILES_H
#define CJX_CLI_RESULT_FILES_H

#include "cjx/v1/rules_service.pb-c.h"

struct result_files;

/* Opens the writer for directory dir (made if missing). Returns NULL after
 * printing why. */
struct result_files *result_files_open(const char *dir);

/* Adds one count: its query (record and subject) and either its
 * determination or the error that stopped its evaluation (resp NULL). The
 * county's file is created on its first count. Returns 0, or -1 after
 * printing why. */
int result_files_add(struct result_files *rf, const Cjx__V1__ReliefQuery *q,
                     const Cjx__V1__EvaluateResponse *resp, const char *error);

/* Writes the summaries, closes every file and frees rf. Returns 0, or -1
 * after printing why. NULL is accepted. */
int result_files_close(struct result_files *rf);

#endif
