/* Audit entries: their canonical packed form and their hash in the chain. */
#include "cjx/audit.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "cjx/utf8.h"
#include "cjx/v1/audit.pb-c.h"

/* Text as an entry may hold it. Most text is already fine and is used as
 * it is; otherwise a copy in scratch (CJX_AUDIT_TEXT_MAX + 1 bytes) has
 * each byte of a malformed sequence replaced by '?' and is cut to the
 * maximum at a character boundary. The JSON mapping would otherwise
 * replace bad bytes itself, and an exported entry would no longer match
 * its hash. */
static char *
clean_text(const char *s, char *scratch)
{
    if (s == NULL)
        return "";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    while (i < len && i <= CJX_AUDIT_TEXT_MAX) {
        size_t n = cjx_utf8_seq_len(p + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    if (i == len && len <= CJX_AUDIT_TEXT_MAX)
        return (char *)s;
    size_t out = 0;
    i = 0;
    while (i < len) {
        size_t n = cjx_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            n = 1;
            if (out + 1 > CJX_AUDIT_TEXT_MAX)
                break;
            scratch[out++] = '?';
        } else {
            if (out + n > CJX_AUDIT_TEXT_MAX)
                break;
            memcpy(scratch + out, p + i, n);
            out += n;
        }
        i += n;
    }
    scratch[out] = '\0';
    return scratch;
}

enum { TEXT_FIELDS = 9 };

size_t
cjx_audit_entry_pack(const struct cjx_audit_event *ev, int64_t seq,
                     const uint8_t prev_hash[CJX_AUDIT_HASH_LEN],
                     int64_t now_us, uint8_t *buf, size_t cap)
{
    char scratch[TEXT_FIELDS][CJX_AUDIT_TEXT_MAX + 1];
    Cjx__V1__AuditEntry e = CJX__V1__AUDIT_ENTRY__INIT;
    e.seq = seq;
    e.time_unix_us = ev->time_us != 0 ? ev->time_us : now_us;
    e.type = (Cjx__V1__AuditEventType)ev->type;
    e.agency_ori = clean_text(ev->agency_ori, scratch[0]);
    e.cert_fingerprint = clean_text(ev->cert_fingerprint, scratch[1]);
    e.peer = clean_text(ev->peer, scratch[2]);
    e.method = clean_text(ev->method, scratch[3]);
    e.cii = clean_text(ev->cii, scratch[4]);
    e.court_case_number = clean_text(ev->court_case_number, scratch[5]);
    e.count_number = ev->count_number;
    e.outcome_code = ev->outcome_code;
    e.outcome_message = clean_text(ev->outcome_message, scratch[6]);
    e.bytes_in = ev->bytes_in;
    e.bytes_out = ev->bytes_out;
    e.prev_hash.data = (uint8_t *)prev_hash;
    e.prev_hash.len = CJX_AUDIT_HASH_LEN;
    e.change_seq = ev->change_seq;
    e.record_version = ev->record_version;
    e.request_id = clean_text(ev->request_id, scratch[7]);
    e.replica = clean_text(ev->replica, scratch[8]);
    size_t n = protobuf_c_message_get_packed_size(&e.base);
    if (n <= cap)
        protobuf_c_message_pack(&e.base, buf);
    return n;
}

static const EVP_MD *sha256;

static void
fetch_sha256(void)
{
    /* Fetched once: an implicit fetch on every digest costs more than
     * hashing a short entry. */
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
cjx_audit_hash(const void *body, size_t len, uint8_t out[CJX_AUDIT_HASH_LEN])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fetch_sha256);
    if (sha256 == NULL || EVP_Digest(body, len, out, NULL, sha256, NULL) != 1)
        return CJX_EINTERNAL;
    return 0;
}
