/* Helpers shared by the JSON parser, printer, strict checker and splitter. */
#ifndef CJX_JSON_INTERNAL_H
#define CJX_JSON_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"
#include "cjx/utf8.h"

/* Flags every json-c tokener in this module uses. json-c's strict mode still
 * lets through some non-JSON (single quotes, NaN, "1.", raw control
 * characters, surrogate code points); cjx_json_check_strict() closes those
 * gaps. */
#define CJX_JSON_TOKENER_FLAGS \
    (JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
/* Nesting allowed in a document; cjx messages nest far less deeply. */
#define CJX_JSON_MAX_DEPTH 64

/* The place of a value in a document, "record.sentence[1].unit", for error
 * messages. Too long a path is cut short rather than failing. */
struct cjx_json_path {
    char buf[256];
    size_t len;
};

/* Appends ".key" (or "key" at the root) and returns the previous length for
 * cjx_json_path_pop(). Control characters in key are shown as '?'. */
size_t cjx_json_path_push_key(struct cjx_json_path *p, const char *key,
                              size_t key_len);
/* Appends "[index]" and returns the previous length. */
size_t cjx_json_path_push_index(struct cjx_json_path *p, size_t index);
void cjx_json_path_pop(struct cjx_json_path *p, size_t saved_len);

/* Size of one element of a repeated field of f's type, as protobuf-c lays
 * it out. */
size_t cjx_json_element_size(const ProtobufCFieldDescriptor *f);

/* Whether key is the lowerCamelCase JSON name protoc derives from
 * proto_name: underscores dropped, the letter after each one capitalised. */
int cjx_json_name_equals(const char *proto_name, const char *key);
/* Writes the JSON name of proto_name into out, which must hold
 * strlen(proto_name) + 1 bytes (a JSON name is never longer). */
void cjx_json_name_format(const char *proto_name, char *out);

/* Number of bytes a base64 text of len characters decodes to at most. */
size_t cjx_json_base64_decoded_max(size_t len);
/* Decodes standard or URL-safe base64, padding optional, into out (which
 * holds cjx_json_base64_decoded_max(len) bytes). Returns the decoded length,
 * or -1 when the text is not base64. */
long cjx_json_base64_decode(const char *text, size_t len, uint8_t *out);
/* Encodes len bytes as padded standard base64 into out, which must hold
 * 4 * ((len + 2) / 3) + 1 bytes; NUL-terminates. */
void cjx_json_base64_encode(const uint8_t *data, size_t len, char *out);

/* Whether year-month-day names a real calendar day in years 1..9999. */
int cjx_json_date_valid(long year, long month, long day);
/* Parses exactly "YYYY-MM-DD" naming a real day. Returns 0 or -1. */
int cjx_json_date_parse(const char *s, size_t len, int32_t *year,
                        int32_t *month, int32_t *day);
/* Full name of the message type printed and parsed as "YYYY-MM-DD". */
#define CJX_JSON_DATE_TYPE "cjx.v1.Date"

/* Checks what json-c accepted against RFC 8259 and the mapping's extra
 * rules: no duplicate keys, no NaN/Infinity literals, no integer literal
 * beyond 64 bits, strict UTF-8, no unpaired surrogate escapes, no \u0000.
 * Returns 0, CJX_EPARSE or CJX_ENOMEM with the path and byte offset in eb. */
int cjx_json_check_strict(const char *json, size_t len, struct cjx_errbuf *eb);

#endif
