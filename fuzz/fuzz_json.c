/* libFuzzer target: arbitrary bytes as a JSON SubmitRecordRequest and as JSON Lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/json.h"
#include "cjx/v1/record_service.pb-c.h"

#define DESC (&cjx__v1__submit_record_request__descriptor)

/* An allocator that fails its Nth call and counts live blocks, so that
 * every out-of-memory path is reached and checked for leaks. */
struct failing_alloc {
    long live;
    long calls;
    long fail_at;
};

static void *
failing_alloc_alloc(void *data, size_t size)
{
    struct failing_alloc *a = data;
    void *p;

    if (++a->calls == a->fail_at)
        return NULL;
    if ((p = malloc(size)) != NULL)
        a->live++;
    return p;
}

static void
failing_alloc_free(void *data, void *p)
{
    struct failing_alloc *a = data;

    if (p != NULL) {
        a->live--;
        free(p);
    }
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf = malloc(protobuf_c_message_get_packed_size(m) + 1);

    if (buf == NULL)
        abort();
    *len = protobuf_c_message_pack(m, buf);
    return buf;
}

/* What we print we must read back: to the same bytes, except that dates
 * as strings drop zero dates. */
static void
check_reprint(const ProtobufCMessage *m, int flags)
{
    char *text = cjx_json_from_message(m, flags);
    ProtobufCMessage *back = NULL;
    struct cjx_errbuf eb;

    if (text == NULL)
        return;
    if (cjx_json_to_message(DESC, text, strlen(text), NULL, &back, &eb) != 0)
        abort();
    if (!(flags & CJX_JSON_DATES_AS_STRINGS)) {
        size_t la, lb;
        uint8_t *a = pack(m, &la);
        uint8_t *b = pack(back, &lb);
        if (la != lb || memcmp(a, b, la) != 0)
            abort();
        free(a);
        free(b);
    }
    protobuf_c_message_free_unpacked(back, NULL);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct cjx_errbuf eb;
    ProtobufCMessage *m = NULL;
    struct failing_alloc fa = {0, 0, (long)(size % 61) + 1};
    ProtobufCAllocator pa = {failing_alloc_alloc, failing_alloc_free, &fa};
    size_t offset = 0, doc_len;
    const char *doc;
    int line = 0, rc;
    size_t docs = 0;

    if (cjx_json_to_message(DESC, text, size, NULL, &m, &eb) == 0) {
        check_reprint(m, 0);
        check_reprint(m, CJX_JSON_PRETTY | CJX_JSON_EMIT_DEFAULTS);
        check_reprint(m, CJX_JSON_DATES_AS_STRINGS);
        protobuf_c_message_free_unpacked(m, NULL);
    }

    m = NULL;
    rc = cjx_json_to_message(DESC, text, size, &pa, &m, &eb);
    if (rc == 0)
        protobuf_c_message_free_unpacked(m, &pa);
    else if ((rc != CJX_EPARSE && rc != CJX_ENOMEM) || m != NULL)
        abort();
    if (fa.live != 0)
        abort();

    while ((rc = cjx_json_next_document(text, size, &offset, &doc, &doc_len,
                                        &line)) == 1) {
        if (doc < text || doc_len == 0 || doc_len > size ||
            (size_t)(doc - text) > size - doc_len || offset > size ||
            ++docs > size)
            abort();
    }
    if (rc != 0 && rc != CJX_EPARSE)
        abort();
    return 0;
}
