/* Case messages on the wire and the workflow's structs: kinds, keys,
 * structural checks and conversions (cases_convert.c). Built as a library of
 * its own, cjx_case_convert, so that cjxctl's dry run reads a case and
 * builds an event exactly as the daemon does; it needs the schema and the
 * workflow, nothing of the service. */
#ifndef CJX_CASES_CONVERT_H
#define CJX_CASES_CONVERT_H

#include "cjx/arena.h"
#include "cjx/call.h"
#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/workflow.h"

/* The event kind a case message carries (IDENTIFY for a held notice), or
 * CJX_CASE_EV_UNSPECIFIED for another message or an empty decision. */
enum cjx_case_event_kind case_kind_of(const ProtobufCMessage *msg);

/* The request id and case key a message names, as far as it names them
 * (pointers into msg). */
void case_ids_of(const ProtobufCMessage *msg, struct cjx_call_audit *ids);

/* Checks what the service itself requires of a case message (request id,
 * key, the parts its kind needs) before the rule sets and the workflow
 * see it. 0 or CJX_EINVAL naming the field. */
int case_check_message(const ProtobufCMessage *msg, struct cjx_errbuf *eb);

/* Fills ev from msg (pointers into msg) for a sender. */
void case_event_of(const ProtobufCMessage *msg, const struct cjx_agency *sender,
                   struct cjx_case_event *ev);

/* The time field of msg (when its step was taken), and a way to set it. */
int64_t case_time_of(const ProtobufCMessage *msg);
void case_set_time(ProtobufCMessage *msg, int64_t at_us);

/* A stored case into the workflow's struct. CJX_ESTORE for a stored case
 * that does not fit it (a corrupt row). */
int case_from_message(const Cjx__V1__Case *m, struct cjx_case *out);

/* The workflow's case into a wire message. Strings point into c, which
 * must outlive out; flag names come from the arena. 0 or CJX_ENOMEM. */
int case_to_message(const struct cjx_case *c, struct cjx_arena *a,
                    Cjx__V1__Case *out);

/* The deadline of the step the case waits for in its state, 0 if none. */
int64_t case_due_us(const struct cjx_case *c);

/* Packs msg into the arena; NULL when out of memory. */
uint8_t *case_pack(struct cjx_arena *a, const ProtobufCMessage *msg,
                   size_t *len);

#endif
