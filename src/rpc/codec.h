/* Protobuf messages to and from gRPC byte buffers. */
#ifndef CJX_RPC_CODEC_H
#define CJX_RPC_CODEC_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

#include "cjx/arena.h"

/* Packs msg into a new byte buffer (destroy with grpc_byte_buffer_destroy),
 * or NULL when out of memory. */
grpc_byte_buffer *codec_encode(const ProtobufCMessage *msg);

/* Raw bytes into a new byte buffer. */
grpc_byte_buffer *codec_encode_raw(const void *data, size_t len);

/* Decodes bb as desc into the arena. Returns 0, CJX_EPARSE for bytes that
 * are not such a message (or a compressed buffer that does not inflate), or
 * CJX_ENOMEM when the arena's limit is reached. *out is arena memory. */
int codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                 struct cjx_arena *arena, ProtobufCMessage **out);

/* Copies bb's bytes into a new malloc'd buffer. 0 or CJX_ENOMEM/CJX_EPARSE. */
int codec_read_all(grpc_byte_buffer *bb, void **data, size_t *len);

#endif
