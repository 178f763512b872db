/* proto3 JSON mapping for protobuf-c messages, driven by descriptors. */
#ifndef CJX_JSON_H
#define CJX_JSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cjx/error.h"

/* Parses one JSON object into a new message of type desc, following the
 * proto3 JSON mapping: field names in lowerCamelCase or as in the .proto,
 * enums by name or number, 64-bit integers as strings or numbers, bytes as
 * standard or URL-safe base64 (padding optional), floats as numbers or
 * "NaN"/"Infinity"/"-Infinity", null meaning absent. Extension: a
 * cjx.v1.Date may also be given as "YYYY-MM-DD" (a real calendar day).
 * Unknown fields, duplicate keys, two members of one oneof, wrong types,
 * non-integral or out-of-range numbers, unknown enum names, invalid UTF-8
 * and JSON syntax errors are CJX_EPARSE, whose detail names the field path
 * ("record.sentence[1].unit: unknown enum value \"WEEKS\" for
 * cjx.v1.DurationUnit") or, for syntax, the byte offset. An integer literal
 * beyond 64 bits is refused even for a double field (write 1e20). json
 * need not be NUL-terminated; a NUL byte within len is an error.
 * Every part of the result is allocated through allocator, which may be NULL
 * (malloc); on success *out is a new message, free it with
 * protobuf_c_message_free_unpacked(msg, allocator). On failure (CJX_EPARSE,
 * CJX_ENOMEM, CJX_EINVAL) *out is untouched and nothing stays allocated. */
int cjx_json_to_message(const ProtobufCMessageDescriptor *desc,
                        const char *json, size_t len,
                        ProtobufCAllocator *allocator, ProtobufCMessage **out,
                        struct cjx_errbuf *eb);

enum {
    CJX_JSON_PRETTY = 1,          /* indented output */
    CJX_JSON_EMIT_DEFAULTS = 2,   /* also print fields at their default */
    CJX_JSON_DATES_AS_STRINGS = 4 /* print cjx.v1.Date as "YYYY-MM-DD" */
};

/* Prints msg as proto3 JSON: fields in field-number order under their
 * lowerCamelCase names, enums by name (unknown numbers as numbers), 64-bit
 * integers as strings, bytes as padded standard base64, floats and doubles
 * in their shortest round-trip form ("NaN", "Infinity" as strings). Fields
 * at their default are left out; with CJX_JSON_EMIT_DEFAULTS, proto3
 * scalars print their default, empty repeated fields print [], and unset
 * fields with presence (sub-messages, proto2 optional, oneof members)
 * print null, which reads back as unset. With CJX_JSON_DATES_AS_STRINGS a
 * cjx.v1.Date that is a real day prints as "YYYY-MM-DD" and a zero date
 * (year 0) counts as absent. Strings that are not valid UTF-8 print with
 * U+FFFD in place of the bad bytes. Returns a new NUL-terminated string
 * (free()), or NULL when out of memory or msg is NULL. */
char *cjx_json_from_message(const ProtobufCMessage *msg, int flags);

/* Yields the documents of a file that holds either one JSON value (which
 * may be pretty-printed over several lines) or JSON Lines (one value per
 * line; blank lines are skipped). A UTF-8 byte-order mark at the start is
 * skipped. *offset and *line are the cursor: set *offset to 0 before the
 * first call (*line is then ignored) and pass both back unchanged. Returns
 * 1 with *doc (borrowed from buf, not NUL-terminated), *doc_len and *line
 * (the 1-based line where the value starts); 0 at the end of buf;
 * CJX_EPARSE when the text at the cursor is not a complete JSON value, when
 * anything but blanks follows a value on its last line, or when a value
 * spanning several lines is followed by another: then nothing is yielded,
 * *offset is unchanged and *line is the line of the offending text. Only
 * the extent of each value is found here; cjx_json_to_message() checks it
 * in full and gives the detail. */
int cjx_json_next_document(const char *buf, size_t len, size_t *offset,
                           const char **doc, size_t *doc_len, int *line);

#endif
