/* UTF-8 validation and encoding (RFC 3629), the one definition every
 * module uses. */
#ifndef CJX_UTF8_H
#define CJX_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at s (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if there is none. avail >= 1 is
 * how many bytes may be read at s. */
size_t cjx_utf8_seq_len(const unsigned char *s, size_t avail);

/* Offset of the first byte of s[0..len) that does not start a well-formed
 * sequence, or len when all of it is valid UTF-8. */
size_t cjx_utf8_invalid_at(const char *s, size_t len);

/* 1 when s[0..len) is valid UTF-8, else 0. */
int cjx_utf8_valid(const char *s, size_t len);

/* Writes code point cp (at most U+10FFFF) as UTF-8 into out, which has
 * room for 4 bytes. Returns the bytes written, 1 to 4. */
size_t cjx_utf8_encode(uint32_t cp, char *out);

#endif
