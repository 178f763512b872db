/* What cjxctl's exchange steps (decide, order, ack, notify-person) and the
 * prosecutor's review share: the columns that name a case and the facts of
 * an offense, and reading one case from the daemon. */
#ifndef CJX_CLI_STEPS_H
#define CJX_CLI_STEPS_H

#include "cjx/v1/exchange.pb-c.h"
#include "cli.h"
#include "step_input.h"

/* The case a line is about (every step message has a RecordKey "key"). */
#define STEP_KEY_COLUMNS                                                    \
    {"cii", "key.cii", STEP_TEXT, NULL, 1},                                 \
        {"court_case_number", "key.court_case_number", STEP_TEXT, NULL, 1}, \
    {                                                                       \
        "count", "key.count_number", STEP_INT, NULL, 1                      \
    }

/* Facts a person found in the file (cjx.v1.OffenseFacts, field "facts"). */
#define STEP_FACT_COLUMNS                                                 \
    {"grams", "facts.grams", STEP_NUMBER, NULL, 0},                       \
        {"concentrated", "facts.concentrated", STEP_BOOL, NULL, 0},       \
        {"plants", "facts.plants", STEP_INT, NULL, 0},                    \
        {"sale_involved", "facts.sale_involved", STEP_BOOL, NULL, 0},     \
        {"recipient_age", "facts.recipient_age", STEP_INT, NULL, 0},      \
        {"compensation", "facts.compensation", STEP_BOOL, NULL, 0},       \
        {"sold_to_minor", "facts.sold_to_minor", STEP_BOOL, NULL, 0},     \
        {"hired_minor_age", "facts.hired_minor_age", STEP_INT, NULL, 0},  \
        {"import_export_grams", "facts.import_export_grams", STEP_NUMBER, \
         NULL, 0},                                                        \
        {"environmental_violation", "facts.environmental_violation",      \
         STEP_BOOL, NULL, 0},                                             \
        {"school_grounds", "facts.school_grounds", STEP_BOOL, NULL, 0},   \
    {                                                                     \
        "transport_only", "facts.transport_only", STEP_BOOL, NULL, 0      \
    }

/* The key of a step message (its field "key"), or NULL. Borrowed from msg. */
const Cjx__V1__RecordKey *steps_key_of(const ProtobufCMessage *msg);

/* "A1234567 SF-1 #2" into buf. */
const char *steps_case_label(const Cjx__V1__RecordKey *key, char *buf,
                             size_t len);

/* GetCase for key; *out is a new message (protobuf_c_message_free_unpacked)
 * when 0 is returned and st->code is 0. Returns a CJX code when the call
 * could not be made (st then says why too). */
int steps_get_case(struct cli *cli, const Cjx__V1__RecordKey *key,
                   int include_notice, Cjx__V1__Case **out,
                   struct cjx_client_status *st);

/* Reads a facts file (CSV with cii, court_case_number, count and fact
 * columns, or JSON Lines of cjx.v1.ProsecutorDecision with key and facts):
 * every line must name a case and at least one fact. 0, or 1 after
 * reporting the bad lines; free in with step_input_fini() either way. */
int steps_read_facts(struct step_input *in, const char *path);

/* A progress bar on stderr when it is a terminal: "[####....] done/total". */
void steps_progress(const char *what, size_t done, size_t total);

#endif
