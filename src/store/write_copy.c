/* What both backends' writers do alike with a queued write: copy the
 * caller's record write and audit event into memory the queue owns, and
 * complete the event from what the write did. */
#include <limits.h>
#include <string.h>

#include "store_shared.h"

const char cjx_store_conflict_detail[] =
    "request id already used by this sender with a different request";
static const char replayed_note[] =
    "replay: answered from the first request with this id";
static const char unchanged_note[] =
    "unchanged: the same record is already stored";

void
cjx_store_complete_event(struct cjx_audit_event *ev,
                         const struct cjx_record_write_result *r)
{
    ev->outcome_code = cjx_err_status_code(r->err);
    ev->change_seq = r->seq;
    ev->record_version = r->version;
    ev->type = CJX_AUDIT_CALL;
    if (r->err == CJX_ECONFLICT)
        ev->outcome_message = cjx_store_conflict_detail;
    else if (r->replayed)
        ev->outcome_message = replayed_note;
    else if (r->unchanged)
        ev->outcome_message = unchanged_note;
    else
        ev->type = CJX_AUDIT_STATE_CHANGE;
}

static int
nonempty(const char *v)
{
    return v != NULL && v[0] != '\0';
}

enum { EVENT_STRINGS = 8 };

/* The text fields of an event, so that they can be measured and copied in
 * one loop. */
static void
event_strings(struct cjx_audit_event *ev, const char **field[EVENT_STRINGS])
{
    field[0] = &ev->agency_ori;
    field[1] = &ev->cert_fingerprint;
    field[2] = &ev->peer;
    field[3] = &ev->method;
    field[4] = &ev->request_id;
    field[5] = &ev->cii;
    field[6] = &ev->court_case_number;
    field[7] = &ev->outcome_message;
}

size_t
cjx_store_writer_event_size(const struct cjx_audit_event *ev)
{
    struct cjx_audit_event copy = *ev;
    const char **field[EVENT_STRINGS];
    event_strings(&copy, field);
    size_t total = 0;
    for (int i = 0; i < EVENT_STRINGS; i++)
        if (*field[i] != NULL)
            total += strlen(*field[i]) + 1;
    return total;
}

void
cjx_store_writer_event_copy(struct cjx_audit_event *dst,
                            const struct cjx_audit_event *ev, char **p)
{
    *dst = *ev;
    const char **field[EVENT_STRINGS];
    event_strings(dst, field);
    for (int i = 0; i < EVENT_STRINGS; i++) {
        if (*field[i] == NULL)
            continue;
        size_t n = strlen(*field[i]) + 1;
        memcpy(*p, *field[i], n);
        *field[i] = *p;
        *p += n;
    }
}

/* The record write's text: the strings a copy holds, in order. */
static void
record_write_strings(const struct cjx_record_write *w, const char *strs[6])
{
    strs[0] = w->sender_ori;
    strs[1] = w->request_id;
    strs[2] = w->cii;
    strs[3] = w->court_case_number;
    strs[4] = w->county;
    strs[5] = w->flags != NULL ? w->flags : "";
}

size_t
cjx_store_record_write_size(const struct cjx_record_write *w)
{
    if (w == NULL || !nonempty(w->sender_ori) || !nonempty(w->request_id) ||
        !nonempty(w->cii) || !nonempty(w->court_case_number) ||
        !nonempty(w->county) || (w->record == NULL && w->record_len > 0) ||
        w->record_len > INT_MAX)
        return 0;
    const char *strs[6];
    record_write_strings(w, strs);
    size_t total = w->record_len;
    for (int i = 0; i < 6; i++)
        total += strlen(strs[i]) + 1;
    if (w->audit != NULL)
        total += cjx_store_writer_event_size(w->audit);
    return total;
}

int
cjx_store_record_write_copy(struct cjx_record_write *dst,
                            struct cjx_audit_event *ev,
                            const struct cjx_record_write *w, char *p)
{
    /* The record goes first, ahead of the strings. */
    if (w->record_len > 0)
        memcpy(p, w->record, w->record_len);
    *dst = *w;
    dst->record = p;
    dst->audit = NULL;
    p += w->record_len;
    const char *strs[6];
    record_write_strings(w, strs);
    const char **field[] = {&dst->sender_ori, &dst->request_id,
                            &dst->cii,        &dst->court_case_number,
                            &dst->county,     &dst->flags};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(strs[i]) + 1;
        *field[i] = memcpy(p, strs[i], n);
        p += n;
    }
    if (w->audit == NULL)
        return 0;
    cjx_store_writer_event_copy(ev, w->audit, &p);
    return 1;
}
