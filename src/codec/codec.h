/* Protobuf messages to and from gRPC byte buffers. */
#ifndef CJX_RPC_CODEC_H
#define CJX_RPC_CODEC_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

#include "cjx/arena.h"
#include "cjx/error.h"

/* Packs msg into a new byte buffer (destroy with grpc_byte_buffer_destroy),
 * or NULL when out of memory. */
grpc_byte_buffer *codec_encode(const ProtobufCMessage *msg);

/* Packs msg as codec_encode does and checks the bytes with cjx_wire_check
 * (include/cjx/wire.h): what cjxd sends must not break another agency's
 * client. Returns 0 with *out, CJX_EINVAL (eb names the field) or
 * CJX_ENOMEM. */
int codec_encode_checked(const ProtobufCMessage *msg, grpc_byte_buffer **out,
                         struct cjx_errbuf *eb);

/* Raw bytes into a new byte buffer. */
grpc_byte_buffer *codec_encode_raw(const void *data, size_t len);

/* Decodes bb as desc into the arena with cjx_wire_decode (include/cjx/wire.h),
 * so that every request of every method is checked once, here. Returns 0,
 * CJX_EPARSE for bytes that are not such a message (or a compressed buffer
 * that does not inflate), CJX_EINVAL for a string or enum field that is not
 * what proto3 says (eb names it), or CJX_ENOMEM when the arena's limit is
 * reached. *out is arena memory. */
int codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                 struct cjx_arena *arena, ProtobufCMessage **out,
                 struct cjx_errbuf *eb);

/* Copies bb's bytes into a new malloc'd buffer. 0 or CJX_ENOMEM/CJX_EPARSE. */
int codec_read_all(grpc_byte_buffer *bb, void **data, size_t *len);

#endif
