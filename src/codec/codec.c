/* Byte-buffer codec: one contiguous slice per message both ways. */
#include "codec.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/error.h"
#include "cjx/wire.h"

grpc_byte_buffer *
codec_encode(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

int
codec_encode_checked(const ProtobufCMessage *msg, grpc_byte_buffer **out,
                     struct cjx_errbuf *eb)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    int err = cjx_wire_check(msg->descriptor, GRPC_SLICE_START_PTR(s), n, eb);
    if (err == 0) {
        *out = grpc_raw_byte_buffer_create(&s, 1);
        if (*out == NULL)
            err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    grpc_slice_unref(s);
    return err;
}

grpc_byte_buffer *
codec_encode_raw(const void *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Calls fn with the buffer's bytes, contiguous, without copying when the
 * buffer is one slice (the usual case for small messages). */
static int
with_bytes(grpc_byte_buffer *bb, int (*fn)(void *, const uint8_t *, size_t),
           void *arg)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return CJX_EPARSE; /* compressed data that does not inflate */
    int err;
    grpc_slice *peek;
    if (bb->type == GRPC_BB_RAW &&
        bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1 &&
        grpc_byte_buffer_reader_peek(&r, &peek)) {
        err = fn(arg, GRPC_SLICE_START_PTR(*peek), GRPC_SLICE_LENGTH(*peek));
    } else {
        grpc_slice all = grpc_byte_buffer_reader_readall(&r);
        err = fn(arg, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
        grpc_slice_unref(all);
    }
    grpc_byte_buffer_reader_destroy(&r);
    return err;
}

struct decode_args {
    const ProtobufCMessageDescriptor *desc;
    struct cjx_arena *arena;
    ProtobufCMessage *msg;
    struct cjx_errbuf *eb;
};

static int
decode_bytes(void *arg, const uint8_t *data, size_t len)
{
    struct decode_args *d = arg;
    return cjx_wire_decode(d->desc, data, len, d->arena, &d->msg, d->eb);
}

int
codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
             struct cjx_arena *arena, ProtobufCMessage **out,
             struct cjx_errbuf *eb)
{
    struct decode_args d = {.desc = desc, .arena = arena, .eb = eb};
    /* What a compressed buffer that does not inflate is told. */
    cjx_errf(eb, CJX_EPARSE, "request is not a valid %s message", desc->name);
    int err = with_bytes(bb, decode_bytes, &d);
    if (err == 0)
        *out = d.msg;
    return err;
}

struct copy_args {
    void *data;
    size_t len;
};

static int
copy_bytes(void *arg, const uint8_t *data, size_t len)
{
    struct copy_args *c = arg;
    c->data = malloc(len ? len : 1);
    if (c->data == NULL)
        return CJX_ENOMEM;
    memcpy(c->data, data, len);
    c->len = len;
    return 0;
}

int
codec_read_all(grpc_byte_buffer *bb, void **data, size_t *len)
{
    struct copy_args c = {0};
    int err = with_bytes(bb, copy_bytes, &c);
    if (err == 0) {
        *data = c.data;
        *len = c.len;
    }
    return err;
}
