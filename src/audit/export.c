/* Offline verification of a JSON Lines audit export. */
#include "audit_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/json.h"

/* Whether the readable form of a record packs to exactly its stored bytes:
 * an auditor reads the readable fields, while the chain vouches only for
 * the bytes. */
static int
readable_matches(const ProtobufCMessage *readable,
                 const ProtobufCBinaryData *body)
{
    size_t n = protobuf_c_message_get_packed_size(readable);
    if (n != body->len)
        return 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return 0;
    protobuf_c_message_pack(readable, buf);
    int same = n == 0 || memcmp(buf, body->data, n) == 0;
    free(buf);
    return same;
}

static void
check_record(struct cjx_audit_verifier *v, const Cjx__V1__AuditRecord *rec,
             int line)
{
    const ProtobufCMessage *readable = NULL;
    const char *what = "entry";
    switch (rec->item_case) {
    case CJX__V1__AUDIT_RECORD__ITEM_ENTRY:
        cjx_audit_verifier_entry(v, rec->seq, rec->body.data, rec->body.len,
                                 rec->hash.data, rec->hash.len);
        readable = &rec->entry->base;
        break;
    case CJX__V1__AUDIT_RECORD__ITEM_CHECKPOINT:
        cjx_audit_verifier_checkpoint(v, rec->seq, rec->body.data,
                                      rec->body.len);
        readable = &rec->checkpoint->base;
        what = "checkpoint at";
        break;
    default:
        audit_verifier_fail(v, audit_verifier_last_seq(v) + 1,
                            "line %d: neither an entry nor a checkpoint", line);
        return;
    }
    if (cjx_audit_verifier_ok(v) && !readable_matches(readable, &rec->body))
        audit_verifier_fail(v, rec->seq,
                            "%s %" PRId64 ": its readable fields differ from "
                            "its stored bytes (line %d)",
                            what, rec->seq, line);
}

void
cjx_audit_verifier_export_line(struct cjx_audit_verifier *v, const char *line,
                               size_t len, int line_no)
{
    if (!cjx_audit_verifier_ok(v))
        return;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t' ||
                           line[start] == '\r' || line[start] == '\n'))
        start++;
    if (start == len)
        return;
    ProtobufCMessage *msg = NULL;
    struct cjx_errbuf why;
    if (cjx_json_to_message(&cjx__v1__audit_record__descriptor, line + start,
                            len - start, NULL, &msg, &why) != 0) {
        audit_verifier_fail(v, audit_verifier_last_seq(v) + 1,
                            "line %d: not an audit record: %s", line_no,
                            why.msg);
        return;
    }
    check_record(v, (const Cjx__V1__AuditRecord *)msg, line_no);
    protobuf_c_message_free_unpacked(msg, NULL);
}

int
cjx_audit_verify_export(const char *text, size_t len,
                        const struct cjx_audit_trust *trust,
                        struct cjx_audit_report *out, struct cjx_errbuf *eb)
{
    struct cjx_audit_verifier *v;
    int err = cjx_audit_verifier_new(trust, &v, eb);
    if (err != 0)
        return err;
    size_t off = 0;
    for (int line_no = 1; off < len && cjx_audit_verifier_ok(v); line_no++) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        cjx_audit_verifier_export_line(v, text + off, end - off, line_no);
        off = end + 1;
    }
    cjx_audit_verifier_finish(v, out);
    cjx_audit_verifier_free(v);
    return 0;
}
