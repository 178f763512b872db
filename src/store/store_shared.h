/* What every backend shares: copying an audit event into a queued write
 * (writer.c), checking what a case's apply function returned (cases.c),
 * and copying what a read found (reader.c, cases_read.c). */
#ifndef CJX_STORE_SHARED_H
#define CJX_STORE_SHARED_H

#include <stddef.h>

#include "cjx/audit.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"

/* The room an event's text takes. */
size_t cjx_store_writer_event_size(const struct cjx_audit_event *ev);
/* Copies ev into dst, its text at *p (advanced past it). */
void cjx_store_writer_event_copy(struct cjx_audit_event *dst,
                                 const struct cjx_audit_event *ev, char **p);

/* Whether an apply function's next version can be stored: a body, a
 * county, a version, and outbox rows that all carry one message. */
int cjx_store_case_next_is_sane(const struct cjx_case_next *n);

/* Copies a borrowed record, or case (and its notice, may be NULL), into
 * one allocation that *out owns (its owned_). 0 or CJX_ENOMEM. */
int cjx_store_record_copy(const struct cjx_stored_record *src,
                          struct cjx_stored_record *out);
int cjx_store_case_copy(const struct cjx_stored_case *src, const void *notice,
                        size_t notice_len, struct cjx_stored_case *out);

#endif
