/* The audit log: entries, their SHA-256 hash chain, signed checkpoints and
 * verification.
 *
 * Pure: nothing here touches a file, a socket or the database. The store
 * calls it to make entries and checkpoints inside its own transactions;
 * the audit service and cjxctl call it to verify what the store (or an
 * export file) holds. The wire form is cjx.v1.AuditEntry and
 * cjx.v1.AuditCheckpoint (proto/cjx/v1/audit.proto). */
#ifndef CJX_AUDIT_H
#define CJX_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"

#define CJX_AUDIT_HASH_LEN 32 /* SHA-256 */
/* Longest text kept in one field of an entry, in bytes; longer text (an
 * outcome message, a path chosen by a peer) is cut at a character
 * boundary. */
#define CJX_AUDIT_TEXT_MAX 512

/* Numeric values equal cjx.v1.AuditEventType. */
enum cjx_audit_type {
    CJX_AUDIT_CALL = 1,         /* a call that changed no stored state */
    CJX_AUDIT_STATE_CHANGE = 2, /* a call whose write changed stored state */
    CJX_AUDIT_ADMIN = 3,        /* daemon start, stop, reload */
};

/* One event as its recorder knows it. Strings are borrowed and may be NULL
 * (recorded as ""); text that is not valid UTF-8 is recorded with '?' in
 * place of the bad bytes, so that an entry always survives a trip through
 * JSON unchanged. */
struct cjx_audit_event {
    enum cjx_audit_type type;
    int64_t time_us; /* UTC microseconds; 0 = when the entry is made */
    const char *agency_ori;
    const char *cert_fingerprint;
    const char *peer;
    const char *method; /* RPC path, or "cjxd/start", "cjxd/reload"... */
    const char *request_id;
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    int outcome_code; /* gRPC status code */
    const char *outcome_message;
    int64_t bytes_in;
    int64_t bytes_out;
    int64_t change_seq;     /* change-feed position a write committed */
    int64_t record_version; /* record version a write produced or found */
    /* The replica that writes the entry: set by a store that several
     * replicas share (PostgreSQL), NULL from a lone daemon's. */
    const char *replica;
};

/* Packs the entry that records ev as entry seq, chained to prev_hash (32
 * zero bytes for seq 1), into buf; now_us stamps an event whose time_us is
 * 0. Returns the packed size. When that exceeds cap, buf holds nothing
 * useful: call again with a buffer of that size. */
size_t cjx_audit_entry_pack(const struct cjx_audit_event *ev, int64_t seq,
                            const uint8_t prev_hash[CJX_AUDIT_HASH_LEN],
                            int64_t now_us, uint8_t *buf, size_t cap);

/* SHA-256 of an entry's packed bytes: its hash in the chain. Returns 0 or
 * CJX_EINTERNAL if the digest is unavailable. Safe from any thread. */
int cjx_audit_hash(const void *body, size_t len,
                   uint8_t out[CJX_AUDIT_HASH_LEN]);

/* ---- checkpoints ---------------------------------------------------- */

struct cjx_audit_signer;

/* Parses the daemon's private key and certificate chain (PEM text, both
 * borrowed). Returns 0 with a new signer (free with cjx_audit_signer_free,
 * which releases the key), CJX_ETLS when either does not parse or the key
 * is not the certificate's, CJX_EINVAL for NULL arguments. Any EVP key
 * type works: EdDSA keys sign without a separate digest, all others with
 * SHA-256. */
int cjx_audit_signer_new(const char *key_pem, const char *cert_pem,
                         struct cjx_audit_signer **out, struct cjx_errbuf *eb);

/* Accepts NULL. */
void cjx_audit_signer_free(struct cjx_audit_signer *s);

/* Makes a signed checkpoint over entry seq with hash entry_hash, dated
 * time_us, declaring interval_entries (the most entries the writer lets
 * pass between two checkpoints). On success *out is a new buffer holding
 * the packed cjx.v1.AuditCheckpoint (free()) of *len bytes. Returns 0,
 * CJX_ENOMEM, or CJX_ETLS when signing fails. A signer may be used by one
 * thread at a time. */
int cjx_audit_checkpoint_make(struct cjx_audit_signer *s, int64_t seq,
                              const uint8_t entry_hash[CJX_AUDIT_HASH_LEN],
                              int64_t time_us, int interval_entries,
                              uint8_t **out, size_t *len,
                              struct cjx_errbuf *eb);

/* ---- verification --------------------------------------------------- */

/* Whom checkpoints must come from. Borrowed; copied by the verifier. */
struct cjx_audit_trust {
    const char *ca_pem;       /* CA bundle the signer's certificate chains to */
    const char *trust_domain; /* SPIFFE trust domain of agency identities */
    const char *agency_ori;   /* the daemon whose log this is */
};

/* Replicas a report tells apart; the entries of any more are counted
 * under the last one's slot, named CJX_AUDIT_OTHER_REPLICAS. */
#define CJX_AUDIT_MAX_REPLICAS   16
#define CJX_AUDIT_REPLICA_MAX    63
#define CJX_AUDIT_OTHER_REPLICAS "(other replicas)"

/* The outcome of a verification. */
struct cjx_audit_report {
    int ok;
    int64_t entries;             /* entries checked */
    int64_t checkpoints;         /* valid checkpoints */
    int64_t last_seq;            /* newest entry seen */
    int64_t last_checkpoint_seq; /* newest valid checkpoint, 0 if none */
    int64_t first_bad_seq;       /* 0 when ok */
    char reason[320];            /* why first_bad_seq is bad; "" when ok */
    /* The entries checked, by the replica that wrote them ("" for a lone
     * daemon and entries that name none), in the order first seen. */
    struct {
        char name[CJX_AUDIT_REPLICA_MAX + 1];
        int64_t entries;
    } replicas[CJX_AUDIT_MAX_REPLICAS];
    int n_replicas;
};

struct cjx_audit_verifier;

/* Starts a verification of a log from seq 1 on. Returns 0 with a new
 * verifier (free with cjx_audit_verifier_free), CJX_EINVAL when trust
 * misses a part, CJX_ETLS when the CA bundle holds no certificate, or
 * CJX_ENOMEM. */
int cjx_audit_verifier_new(const struct cjx_audit_trust *trust,
                           struct cjx_audit_verifier **out,
                           struct cjx_errbuf *eb);

/* Accepts NULL. */
void cjx_audit_verifier_free(struct cjx_audit_verifier *v);

/* Feeds the entry stored under seq: its stored bytes and stored hash. The
 * items of a log are fed in order: entries by ascending seq, the checkpoint
 * over entry S right after entry S. It is checked for seq continuity, its
 * hash, its link to the entry before, and that its content names the seq it
 * is stored under. After the first problem the verifier ignores everything
 * fed to it. */
void cjx_audit_verifier_entry(struct cjx_audit_verifier *v, int64_t seq,
                              const void *body, size_t body_len,
                              const void *hash, size_t hash_len);

/* Feeds the checkpoint stored under seq (its stored bytes). Checked: it
 * names entry seq, which was fed last, with that entry's hash; its
 * signature verifies with its certificate, which chains to the CA bundle
 * (at the checkpoint's time) and names trust->agency_ori; and it is no
 * further from the checkpoint before it than the interval the daemon
 * declared. */
void cjx_audit_verifier_checkpoint(struct cjx_audit_verifier *v, int64_t seq,
                                   const void *body, size_t body_len);

/* Whether everything fed so far verified. */
int cjx_audit_verifier_ok(const struct cjx_audit_verifier *v);

/* Ends the verification: checks what only the end can show (a checkpoint
 * beyond the last entry, an unsigned tail longer than the interval) and
 * fills *out. */
void cjx_audit_verifier_finish(struct cjx_audit_verifier *v,
                               struct cjx_audit_report *out);

/* Feeds one line of an export file (see below) to a verifier: an entry or a
 * checkpoint, with its readable fields, which must equal its stored bytes.
 * line need not be NUL-terminated; line_no names it in findings. A line
 * that is not an audit record is a finding. Blank lines are skipped. */
void cjx_audit_verifier_export_line(struct cjx_audit_verifier *v,
                                    const char *line, size_t len, int line_no);

/* Verifies an export file (JSON Lines, one cjx.v1.AuditRecord per line, as
 * `cjxctl audit export` writes it) given as text, without a daemon. Besides
 * what the verifier checks, the readable fields of each line must equal its
 * stored bytes. A line that is not an audit record is a finding, reported
 * with its line number. Returns 0 with *out filled, or what
 * cjx_audit_verifier_new returns. */
int cjx_audit_verify_export(const char *text, size_t len,
                            const struct cjx_audit_trust *trust,
                            struct cjx_audit_report *out,
                            struct cjx_errbuf *eb);

#endif
