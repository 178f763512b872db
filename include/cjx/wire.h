/* What proto3 says a message is, checked on its wire bytes.
 *
 * protobuf-c hands strings to C as NUL-terminated char *, so a string that
 * holds a NUL would be cut silently after unpacking, and it stores invalid
 * UTF-8 and enum numbers its schema does not define as they came. Other
 * agencies' clients (Python, C++, Java, Go) refuse such a message when they
 * read it back. The checker looks at the length-delimited bytes themselves,
 * driven by the message's descriptors (sub-messages, repeated and packed
 * fields, oneofs), so a field added to the schema is covered without code
 * naming it. Pure: no I/O, no allocation. */
#ifndef CJX_WIRE_H
#define CJX_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/arena.h"
#include "cjx/error.h"

/* Checks the packed message data[0..len) of type desc. Returns 0 when every
 * string field is valid UTF-8 without NUL and every enum field holds a value
 * its enum defines; CJX_EINVAL for the first one that does not, with eb
 * naming it by field path and saying what is wrong:
 *   "record.subject.cii: holds a NUL byte (byte 5)"
 *   "messages[3].order.judge: is not valid UTF-8 (byte 2)"
 *   "record.level: 99 is not a value of cjx.v1.OffenseLevel"
 * CJX_EPARSE when the bytes are not a protobuf message at all (which
 * protobuf-c's unpack refuses as well). Fields the schema does not know are
 * skipped: their type is unknown. */
int cjx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                   size_t len, struct cjx_errbuf *eb);

/* Decodes data[0..len) as desc into arena and checks it with
 * cjx_wire_check: the one way a request enters cjx, for the gRPC transport
 * and for in-process calls alike. Returns 0 with *out (arena memory);
 * CJX_EPARSE ("request is not a valid cjx.v1.X message" in eb); CJX_EINVAL
 * (the checker's message in eb); or CJX_ENOMEM when the arena's limit is
 * reached. */
int cjx_wire_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                    size_t len, struct cjx_arena *arena, ProtobufCMessage **out,
                    struct cjx_errbuf *eb);

/* Finds the bytes of the length-delimited field number (a sub-message, a
 * string or bytes) in the packed message data[0..len): its last occurrence
 * (protobuf-c packs a field once; a message from elsewhere may repeat one,
 * and a repeated sub-message is then merged on unpacking, so only bytes
 * this process packed are to be read this way). Returns 0 with
 * [*val, *val + *val_len) inside data, or -1 when the field is absent or
 * the bytes are not a message. protobuf-c packs a sub-message inside its
 * parent exactly as it packs it alone, so a packed message's part is taken
 * without unpacking and packing it again. */
int cjx_wire_field(const uint8_t *data, size_t len, uint32_t number,
                   const uint8_t **val, size_t *val_len);

#endif
