/* Taking cjxctl's exchange steps once they are read and checked: sending
 * each (a bulk order in OrderBulk streams), or the dry run that asks the
 * workflow what each would come to, and the table or JSON Lines of what
 * came of them. cmd_steps.c reads the steps; this file runs them. */
#ifndef CJX_CLI_STEP_RUN_H
#define CJX_CLI_STEP_RUN_H

#include "cjx/conf.h"
#include "steps.h"

/* One of the people's steps: its message, method, role and the columns of
 * its input (the table is in cmd_steps.c). */
struct step_kind {
    const char *name;
    const char *id_prefix; /* of the request ids derived from content */
    const ProtobufCMessageDescriptor *desc;
    int method;         /* CASE_SERVICE_* */
    enum cjx_role role; /* who takes the step, for the dry run */
    const struct step_column *columns;
    const char *usage;
    /* Fields the step needs beyond the service's structural checks, so
     * that a line missing them is refused before anything is sent. */
    int (*check)(const ProtobufCMessage *msg, struct cjx_errbuf *eb);
};

struct step_result {
    int code; /* gRPC status code */
    char message[512];
    int unchanged;
    int state; /* the case's state after the step, or before (dry run) */
};

struct run {
    struct cli *cli;
    const struct step_kind *kind;
    struct step_input *in;
    struct step_result *results;
    int dry_run;
    int bulk;       /* one bulk order: list refusals only */
    int64_t now_us; /* when the steps are taken (sent with --remote) */
    /* decide --facts: facts a reviewer found, by case (lines of
     * cjx.v1.ProsecutorDecision with key and facts), or NULL. */
    const struct step_input *facts;
};

/* Takes (or, with dry_run, tries) every step of run->in into
 * run->results, with a progress bar. */
void step_run_lines(struct run *run);

/* What came of the steps: JSON Lines (one object per line with the request
 * and its status) or a table of the lines and a summary by result. */
void step_print_json(const struct run *run);
void step_print_table(const struct run *run);

#endif
