/* Small helpers of the JSON mapping: paths, JSON names, element sizes, base64, UTF-8, dates. */
#include "cjx/date.h"
#include "json_internal.h"

#include <stdio.h>
#include <string.h>

static void
path_append(struct cjx_json_path *p, const char *s, size_t n)
{
    size_t room = sizeof(p->buf) - 1 - p->len;

    if (n > room)
        n = room;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

size_t
cjx_json_path_push_key(struct cjx_json_path *p, const char *key, size_t key_len)
{
    size_t saved = p->len;

    if (p->len > 0)
        path_append(p, ".", 1);
    for (size_t i = 0; i < key_len; i++) {
        /* A key is text the sender chose; keep error messages one line. */
        char c = (unsigned char)key[i] < 0x20 ? '?' : key[i];
        path_append(p, &c, 1);
    }
    return saved;
}

size_t
cjx_json_path_push_index(struct cjx_json_path *p, size_t index)
{
    size_t saved = p->len;
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "[%zu]", index);

    path_append(p, tmp, (size_t)n);
    return saved;
}

void
cjx_json_path_pop(struct cjx_json_path *p, size_t saved_len)
{
    p->len = saved_len;
    p->buf[p->len] = '\0';
}

size_t
cjx_json_element_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static char
ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int
cjx_json_name_equals(const char *proto_name, const char *key)
{
    int upper_next = 0;

    for (; *proto_name != '\0'; proto_name++) {
        char c = *proto_name;
        if (c == '_') {
            upper_next = 1;
            continue;
        }
        if (upper_next)
            c = ascii_upper(c);
        upper_next = 0;
        if (*key++ != c)
            return 0;
    }
    return *key == '\0';
}

void
cjx_json_name_format(const char *proto_name, char *out)
{
    int upper_next = 0;

    for (; *proto_name != '\0'; proto_name++) {
        if (*proto_name == '_') {
            upper_next = 1;
            continue;
        }
        *out++ = upper_next ? ascii_upper(*proto_name) : *proto_name;
        upper_next = 0;
    }
    *out = '\0';
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

size_t
cjx_json_base64_decoded_max(size_t len)
{
    return len / 4 * 3 + 3;
}

long
cjx_json_base64_decode(const char *text, size_t len, uint8_t *out)
{
    size_t pad = 0;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    /* Padding is optional, but where present it must complete the last
     * quantum exactly. */
    while (len > 0 && text[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad > 0 && (len + pad) % 4 != 0)
        return -1;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

void
cjx_json_base64_encode(const uint8_t *data, size_t len, char *out)
{
    size_t i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v =
            (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *out++ = b64_alphabet[v >> 18];
        *out++ = b64_alphabet[(v >> 12) & 63];
        *out++ = b64_alphabet[(v >> 6) & 63];
        *out++ = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *out++ = b64_alphabet[v >> 18];
        *out++ = b64_alphabet[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *out++ = b64_alphabet[v >> 18];
        *out++ = b64_alphabet[(v >> 12) & 63];
        *out++ = b64_alphabet[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '\0';
}

int
cjx_json_date_valid(long year, long month, long day)
{
    /* Out of int's range is out of the calendar's too. */
    return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
           day <= 31 && cjx_date_is_valid((int)year, (int)month, (int)day);
}

static int
digits_value(const char *s, size_t n, int32_t *out)
{
    int32_t v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int
cjx_json_date_parse(const char *s, size_t len, int32_t *year, int32_t *month,
                    int32_t *day)
{
    int32_t y, m, d;

    if (len != 10 || s[4] != '-' || s[7] != '-' || digits_value(s, 4, &y) < 0 ||
        digits_value(s + 5, 2, &m) < 0 || digits_value(s + 8, 2, &d) < 0 ||
        !cjx_json_date_valid(y, m, d))
        return -1;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}
