/* Unit tests for src/audit: the hash chain, checkpoints and verification,
 * against every way of tampering with a stored log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/json.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.pb-c.h"

#define DOJ_ORI      "CA0000001"
#define SF_DA_ORI    "CA038013A"
#define TRUST_DOMAIN "cjx.example"
#define N_ENTRIES    50
#define INTERVAL     10

/* ---- certificates, made once for the whole run ---------------------------- */

static char certs[128];

static char *
cert_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", certs, name);
    char *pem;
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(path, 0, &pem, &len, &eb) != 0)
        fail_msg("%s", eb.msg);
    return pem;
}

static struct cjx_audit_signer *
signer_of(const char *name)
{
    char key[64], pem[64];
    snprintf(key, sizeof(key), "%s.key", name);
    snprintf(pem, sizeof(pem), "%s.pem", name);
    char *k = cert_file(key), *c = cert_file(pem);
    struct cjx_audit_signer *s;
    struct cjx_errbuf eb;
    if (cjx_audit_signer_new(k, c, &s, &eb) != 0)
        fail_msg("signer %s: %s", name, eb.msg);
    cjx_tls_free_pem(k, strlen(k));
    cjx_tls_free_pem(c, strlen(c));
    return s;
}

static int
run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The development CA and agencies, plus an Ed25519 certificate for DOJ
 * issued by the same CA (the daemon accepts any EVP key). */
static int
make_certs(void **state)
{
    (void)state;
    snprintf(certs, sizeof(certs), "/tmp/cjx-audit-XXXXXX");
    if (mkdtemp(certs) == NULL)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/certs/make-dev-certs.sh %s >/dev/null",
             CJX_SOURCE_DIR, certs);
    if (run(cmd) != 0)
        return -1;
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && openssl genpkey -algorithm ed25519 -out ed.key 2>/dev/null"
        " && openssl req -new -key ed.key -subj /CN=doj-ed25519 -out ed.csr"
        " && printf 'subjectAltName=URI:spiffe://%s/agency/%s\\n' > ed.ext"
        " && openssl x509 -req -in ed.csr -CA ca.pem -CAkey ca.key"
        " -set_serial 777 -days 30 -extfile ed.ext -out ed.pem 2>/dev/null",
        certs, TRUST_DOMAIN, DOJ_ORI);
    return run(cmd) == 0 ? 0 : -1;
}

static int
remove_certs(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
    return run(cmd) == 0 ? 0 : -1;
}

/* ---- a log as a store would hold it ------------------------------------------ */

enum item_kind { ENTRY, CHECKPOINT };

struct item {
    enum item_kind kind;
    int64_t seq;
    uint8_t *body;
    size_t len;
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    size_t hash_len;
};

struct log {
    struct item item[N_ENTRIES * 2 + 16];
    int n;
};

/* Every entry and checkpoint is dated now: the certificates made for the
 * run are valid from now on, and a checkpoint's signer must have been
 * valid when it signed. */
static int64_t fake_now;

static void
add_entry(struct log *l, const struct cjx_audit_event *ev, int64_t seq,
          const uint8_t prev[CJX_AUDIT_HASH_LEN])
{
    struct item *it = &l->item[l->n++];
    it->kind = ENTRY;
    it->seq = seq;
    it->len = cjx_audit_entry_pack(ev, seq, prev, fake_now, NULL, 0);
    it->body = malloc(it->len);
    assert_non_null(it->body);
    assert_int_equal(
        cjx_audit_entry_pack(ev, seq, prev, fake_now, it->body, it->len),
        it->len);
    assert_int_equal(cjx_audit_hash(it->body, it->len, it->hash), 0);
    it->hash_len = CJX_AUDIT_HASH_LEN;
}

static void
add_checkpoint(struct log *l, struct cjx_audit_signer *s, int64_t seq,
               const uint8_t hash[CJX_AUDIT_HASH_LEN], int interval)
{
    struct item *it = &l->item[l->n++];
    struct cjx_errbuf eb;
    it->kind = CHECKPOINT;
    it->seq = seq;
    if (cjx_audit_checkpoint_make(s, seq, hash, fake_now, interval, &it->body,
                                  &it->len, &eb) != 0)
        fail_msg("checkpoint: %s", eb.msg);
    it->hash_len = 0;
}

static void
event_for(struct cjx_audit_event *ev, int i, char *cii, size_t cii_len)
{
    static const char *const methods[] = {"/cjx.v1.RecordService/SubmitRecord",
                                          "/cjx.v1.RecordService/GetRecord",
                                          "cjxd/reload"};
    snprintf(cii, cii_len, "A%08d", i);
    memset(ev, 0, sizeof(*ev));
    ev->type = (enum cjx_audit_type)(1 + i % 3);
    ev->agency_ori = i % 2 ? "CA038033J" : DOJ_ORI;
    ev->cert_fingerprint = i % 2 ? "ab12cd34" : "";
    ev->peer = i % 2 ? "ipv4:127.0.0.1:40000" : "local";
    ev->method = methods[i % 3];
    ev->cii = cii;
    ev->court_case_number = "SF-1";
    ev->count_number = i;
    ev->outcome_code = i % 4 == 0 ? 7 : 0;
    ev->outcome_message = i % 4 == 0 ? "may not call" : "";
    ev->bytes_in = 100 + i;
    ev->bytes_out = 50 + i;
    ev->change_seq = i;
    ev->record_version = 1;
}

/* A valid log of n entries with a checkpoint every `interval`, signed by
 * signer; the last entry always gets one. With names, entry i names the
 * replica names[i % n_names] (NULL: none, as before replicas were named). */
static void
build_named_log(struct log *l, struct cjx_audit_signer *signer, int n,
                int interval, const char *const *names, int n_names)
{
    memset(l, 0, sizeof(*l));
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0};
    for (int i = 1; i <= n; i++) {
        struct cjx_audit_event ev;
        char cii[16];
        event_for(&ev, i, cii, sizeof(cii));
        if (names != NULL)
            ev.replica = names[i % n_names];
        add_entry(l, &ev, i, prev);
        memcpy(prev, l->item[l->n - 1].hash, CJX_AUDIT_HASH_LEN);
        if (i % interval == 0 || i == n)
            add_checkpoint(l, signer, i, prev, interval);
    }
}

static void
build_log(struct log *l, struct cjx_audit_signer *signer, int n, int interval)
{
    build_named_log(l, signer, n, interval, NULL, 0);
}

static void
free_log(struct log *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->item[i].body);
    l->n = 0;
}

static void
copy_log(struct log *dst, const struct log *src)
{
    *dst = *src;
    for (int i = 0; i < src->n; i++) {
        dst->item[i].body = malloc(src->item[i].len ? src->item[i].len : 1);
        memcpy(dst->item[i].body, src->item[i].body, src->item[i].len);
    }
}

static void
remove_item(struct log *l, int i)
{
    free(l->item[i].body);
    memmove(&l->item[i], &l->item[i + 1],
            (size_t)(l->n - i - 1) * sizeof(l->item[0]));
    l->n--;
}

static int
index_of(const struct log *l, enum item_kind kind, int64_t seq)
{
    for (int i = 0; i < l->n; i++)
        if (l->item[i].kind == kind && l->item[i].seq == seq)
            return i;
    fail_msg("no item %d/%lld", (int)kind, (long long)seq);
    return -1;
}

static struct cjx_audit_trust
doj_trust(const char *ca)
{
    struct cjx_audit_trust t = {ca, TRUST_DOMAIN, DOJ_ORI};
    return t;
}

static struct cjx_audit_report
verify_with(const struct log *l, const struct cjx_audit_trust *trust)
{
    struct cjx_audit_verifier *v;
    struct cjx_errbuf eb;
    if (cjx_audit_verifier_new(trust, &v, &eb) != 0)
        fail_msg("verifier: %s", eb.msg);
    for (int i = 0; i < l->n && cjx_audit_verifier_ok(v); i++) {
        const struct item *it = &l->item[i];
        if (it->kind == ENTRY)
            cjx_audit_verifier_entry(v, it->seq, it->body, it->len, it->hash,
                                     it->hash_len);
        else
            cjx_audit_verifier_checkpoint(v, it->seq, it->body, it->len);
    }
    struct cjx_audit_report r;
    cjx_audit_verifier_finish(v, &r);
    cjx_audit_verifier_free(v);
    return r;
}

static char *ca_pem;
static struct cjx_audit_signer *doj_signer;
static struct log good;

static struct cjx_audit_report
verify(const struct log *l)
{
    struct cjx_audit_trust t = doj_trust(ca_pem);
    return verify_with(l, &t);
}

static void
assert_bad_at(const struct cjx_audit_report *r, int64_t seq, const char *why)
{
    if (r->ok || r->first_bad_seq != seq ||
        (why != NULL && strstr(r->reason, why) == NULL))
        fail_msg("expected a finding at %lld (\"%s\"), got ok=%d at %lld: %s",
                 (long long)seq, why ? why : "", r->ok,
                 (long long)r->first_bad_seq, r->reason);
}

static int
setup_log(void **state)
{
    if (make_certs(state) != 0) {
        fprintf(stderr, "cannot make test certificates\n");
        return -1;
    }
    fake_now = cjx_clock_now_us();
    ca_pem = cert_file("ca.pem");
    doj_signer = signer_of("doj");
    build_log(&good, doj_signer, N_ENTRIES, INTERVAL);
    return 0;
}

static int
teardown_log(void **state)
{
    free_log(&good);
    cjx_audit_signer_free(doj_signer);
    free(ca_pem);
    return remove_certs(state);
}

/* ---- a valid log -------------------------------------------------------------- */

static void
test_audit__valid_chain__verifies_with_every_checkpoint(void **state)
{
    (void)state;
    struct cjx_audit_report r = verify(&good);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.entries, N_ENTRIES);
    assert_int_equal(r.checkpoints, N_ENTRIES / INTERVAL);
    assert_int_equal(r.last_seq, N_ENTRIES);
    assert_int_equal(r.last_checkpoint_seq, N_ENTRIES);
    assert_int_equal(r.first_bad_seq, 0);
    assert_string_equal(r.reason, "");
}

static void
test_audit__empty_log__verifies(void **state)
{
    (void)state;
    struct log empty = {.n = 0};
    struct cjx_audit_report r = verify(&empty);
    assert_true(r.ok);
    assert_int_equal(r.entries, 0);
    assert_int_equal(r.last_seq, 0);
}

static void
test_audit__entries_of_several_replicas__counted_per_replica(void **state)
{
    (void)state;
    static const char *const names[] = {NULL, "doj-a", "doj-b"};
    struct log l;
    build_named_log(&l, doj_signer, 9, 9, names, 3);
    struct cjx_audit_report r = verify(&l);
    if (!r.ok)
        fail_msg("%s", r.reason);
    /* In the order first seen: entry 1 is doj-a's, 2 doj-b's, 3 unnamed. */
    assert_int_equal(r.n_replicas, 3);
    assert_string_equal(r.replicas[0].name, "doj-a");
    assert_string_equal(r.replicas[1].name, "doj-b");
    assert_string_equal(r.replicas[2].name, "");
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.replicas[i].entries, 3);
    free_log(&l);
}

static void
test_audit__unnamed_entry__packs_as_before_replicas_were_named(void **state)
{
    (void)state;
    /* An entry with no replica leaves the field out, so the bytes (and
     * hash) of entries written before it existed are what a writer makes
     * today without a name: old logs verify unchanged. */
    struct cjx_audit_event ev;
    char cii[16];
    event_for(&ev, 5, cii, sizeof(cii));
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0}, unnamed[1024], named[1024];
    size_t n = cjx_audit_entry_pack(&ev, 5, prev, 1, unnamed, sizeof(unnamed));
    ev.replica = "doj-a";
    size_t m = cjx_audit_entry_pack(&ev, 5, prev, 1, named, sizeof(named));
    /* Field 19, length-delimited: tag bytes 0x9a 0x01, then the length. */
    assert_int_equal(m, n + 3 + strlen("doj-a"));
    assert_memory_equal(named, unnamed, n);
    assert_memory_equal(named + n,
                        "\x9a\x01\x05"
                        "doj-a",
                        8);
}

static void
test_audit__more_replicas_than_a_report_holds__rest_counted_together(
    void **state)
{
    (void)state;
    static const char *const names[] = {
        "r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09",
        "r10", "r11", "r12", "r13", "r14", "r15", "r16", "r17", "r18", "r19"};
    struct log l;
    build_named_log(&l, doj_signer, 40, 40, names, 20);
    struct cjx_audit_report r = verify(&l);
    assert_true(r.ok);
    assert_int_equal(r.n_replicas, CJX_AUDIT_MAX_REPLICAS);
    assert_string_equal(r.replicas[CJX_AUDIT_MAX_REPLICAS - 1].name,
                        CJX_AUDIT_OTHER_REPLICAS);
    int64_t total = 0;
    for (int i = 0; i < r.n_replicas; i++)
        total += r.replicas[i].entries;
    assert_int_equal(total, 40);
    free_log(&l);
}

static void
test_audit__entry__packs_every_field_and_chains_to_prev(void **state)
{
    (void)state;
    const struct item *first = &good.item[0];
    Cjx__V1__AuditEntry *e =
        cjx__v1__audit_entry__unpack(NULL, first->len, first->body);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    assert_int_equal(e->time_unix_us, fake_now);
    assert_int_equal(e->type,
                     CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_STATE_CHANGE);
    assert_string_equal(e->agency_ori, "CA038033J");
    assert_string_equal(e->cert_fingerprint, "ab12cd34");
    assert_string_equal(e->peer, "ipv4:127.0.0.1:40000");
    assert_string_equal(e->method, "/cjx.v1.RecordService/GetRecord");
    assert_string_equal(e->cii, "A00000001");
    assert_string_equal(e->court_case_number, "SF-1");
    assert_int_equal(e->count_number, 1);
    assert_int_equal(e->bytes_in, 101);
    assert_int_equal(e->bytes_out, 51);
    assert_int_equal(e->prev_hash.len, CJX_AUDIT_HASH_LEN);
    static const uint8_t zeros[CJX_AUDIT_HASH_LEN];
    assert_memory_equal(e->prev_hash.data, zeros, CJX_AUDIT_HASH_LEN);
    cjx__v1__audit_entry__free_unpacked(e, NULL);

    e = cjx__v1__audit_entry__unpack(NULL, good.item[1].len, good.item[1].body);
    assert_non_null(e);
    assert_memory_equal(e->prev_hash.data, first->hash, CJX_AUDIT_HASH_LEN);
    cjx__v1__audit_entry__free_unpacked(e, NULL);
}

static void
test_audit__event_time__used_when_given(void **state)
{
    (void)state;
    struct cjx_audit_event ev = {
        .type = CJX_AUDIT_ADMIN, .time_us = 42, .method = "cjxd/start"};
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0}, buf[256];
    size_t n = cjx_audit_entry_pack(&ev, 7, prev, fake_now, buf, sizeof(buf));
    assert_true(n <= sizeof(buf));
    Cjx__V1__AuditEntry *e = cjx__v1__audit_entry__unpack(NULL, n, buf);
    assert_int_equal(e->time_unix_us, 42);
    assert_int_equal(e->seq, 7);
    assert_string_equal(e->agency_ori, ""); /* NULL is recorded as "" */
    cjx__v1__audit_entry__free_unpacked(e, NULL);
}

static void
test_audit__bad_utf8_and_long_text__are_made_safe(void **state)
{
    (void)state;
    char long_msg[CJX_AUDIT_TEXT_MAX * 2];
    /* 'é' is two bytes: cutting must not split one. */
    for (size_t i = 0; i + 2 < sizeof(long_msg); i += 2)
        memcpy(long_msg + i, "\xc3\xa9", 2);
    long_msg[sizeof(long_msg) - 2] = '\0';
    struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL,
                                 .method = "/bad/\xff\xfe/path\xc3",
                                 .outcome_message = long_msg,
                                 .cii = "caf\xc3\xa9"};
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0};
    size_t n = cjx_audit_entry_pack(&ev, 1, prev, fake_now, NULL, 0);
    uint8_t *buf = malloc(n);
    assert_int_equal(cjx_audit_entry_pack(&ev, 1, prev, fake_now, buf, n), n);
    Cjx__V1__AuditEntry *e = cjx__v1__audit_entry__unpack(NULL, n, buf);
    assert_non_null(e);
    assert_string_equal(e->method, "/bad/?"
                                   "?/path?");
    assert_string_equal(e->cii, "caf\xc3\xa9");
    assert_int_equal(strlen(e->outcome_message), CJX_AUDIT_TEXT_MAX);
    cjx__v1__audit_entry__free_unpacked(e, NULL);
    free(buf);
}

static void
test_audit__entry_pack__reports_size_when_buffer_is_small(void **state)
{
    (void)state;
    struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL, .method = "/x/y"};
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0}, small[4] = {1, 2, 3, 4};
    size_t n =
        cjx_audit_entry_pack(&ev, 1, prev, fake_now, small, sizeof(small));
    assert_true(n > sizeof(small));
    static const uint8_t untouched[4] = {1, 2, 3, 4};
    assert_memory_equal(small, untouched, sizeof(small));
}

/* ---- changed bytes ----------------------------------------------------------- */

static void
test_audit__every_changed_byte_of_every_entry_body__names_that_entry(
    void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    for (int i = 0; i < l.n; i++) {
        struct item *it = &l.item[i];
        if (it->kind != ENTRY)
            continue;
        for (size_t b = 0; b < it->len; b++) {
            it->body[b] ^= 0xff;
            struct cjx_audit_report r = verify(&l);
            assert_bad_at(&r, it->seq, "hash does not match its content");
            it->body[b] ^= 0xff;
        }
    }
    free_log(&l);
}

static void
test_audit__every_changed_byte_of_every_stored_hash__names_that_entry(
    void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    for (int i = 0; i < l.n; i++) {
        struct item *it = &l.item[i];
        if (it->kind != ENTRY)
            continue;
        for (size_t b = 0; b < it->hash_len; b++) {
            it->hash[b] ^= 0x01;
            struct cjx_audit_report r = verify(&l);
            assert_bad_at(&r, it->seq, "hash does not match its content");
            it->hash[b] ^= 0x01;
        }
    }
    free_log(&l);
}

static void
test_audit__truncated_stored_hash__names_that_entry(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    l.item[index_of(&l, ENTRY, 33)].hash_len = 31;
    struct cjx_audit_report r = verify(&l);
    assert_bad_at(&r, 33, "32");
    free_log(&l);
}

/* An attacker without the key recomputes hash and chain after a change:
 * the next checkpoint no longer matches. */
static void
test_audit__rehashed_change__caught_by_the_next_checkpoint(void **state)
{
    (void)state;
    for (int k = 1; k <= N_ENTRIES; k++) {
        struct log l;
        copy_log(&l, &good);
        uint8_t prev[CJX_AUDIT_HASH_LEN] = {0};
        for (int i = 0; i < l.n; i++) {
            struct item *it = &l.item[i];
            if (it->kind != ENTRY)
                continue;
            if (it->seq >= k) {
                struct cjx_audit_event ev;
                char cii[16];
                event_for(&ev, (int)it->seq, cii, sizeof(cii));
                if (it->seq == k)
                    ev.outcome_code = 99;
                free(it->body);
                struct log one = {.n = 0};
                add_entry(&one, &ev, it->seq, prev);
                *it = one.item[0];
            }
            memcpy(prev, it->hash, CJX_AUDIT_HASH_LEN);
        }
        int64_t cp = ((k + INTERVAL - 1) / INTERVAL) * INTERVAL;
        struct cjx_audit_report r = verify(&l);
        assert_bad_at(&r, cp, "differs from the signed one");
        free_log(&l);
    }
}

/* ---- deleted, inserted, reordered, truncated --------------------------------- */

static void
test_audit__each_deleted_entry__is_named(void **state)
{
    (void)state;
    for (int k = 1; k <= N_ENTRIES; k++) {
        struct log l;
        copy_log(&l, &good);
        remove_item(&l, index_of(&l, ENTRY, k));
        struct cjx_audit_report r = verify(&l);
        assert_bad_at(&r, k, "missing");
        free_log(&l);
    }
}

/* A forged entry slipped in before entry k, the rows after it moved up by
 * one, as an INSERT with renumbering would leave them. */
static void
test_audit__inserted_entry__is_found_where_it_was_inserted(void **state)
{
    (void)state;
    for (int k = 1; k <= N_ENTRIES; k++) {
        struct log l;
        copy_log(&l, &good);
        int at = index_of(&l, ENTRY, k);
        uint8_t prev[CJX_AUDIT_HASH_LEN] = {0};
        if (k > 1)
            memcpy(prev, l.item[index_of(&l, ENTRY, k - 1)].hash,
                   CJX_AUDIT_HASH_LEN);
        struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL,
                                     .agency_ori = SF_DA_ORI,
                                     .method = "/cjx.v1.RecordService/"
                                               "GetRecord"};
        struct log one = {.n = 0};
        add_entry(&one, &ev, k, prev);
        for (int i = at; i < l.n; i++)
            if (l.item[i].kind == ENTRY)
                l.item[i].seq++;
        memmove(&l.item[at + 1], &l.item[at],
                (size_t)(l.n - at) * sizeof(l.item[0]));
        l.item[at] = one.item[0];
        l.n++;
        struct cjx_audit_report r = verify(&l);
        /* The forged entry itself chains correctly; the one after it does
         * not say its new seq. */
        assert_bad_at(&r, k + 1, "content says it is entry");
        free_log(&l);
    }
}

static void
test_audit__adjacent_entries_swapped__first_of_the_pair_is_named(void **state)
{
    (void)state;
    for (int k = 1; k < N_ENTRIES; k++) {
        /* The two rows read back in the other order, each under its own
         * seq. */
        struct log l;
        copy_log(&l, &good);
        int a = index_of(&l, ENTRY, k), b = index_of(&l, ENTRY, k + 1);
        struct item t = l.item[a];
        l.item[a] = l.item[b];
        l.item[b] = t;
        struct cjx_audit_report r = verify(&l);
        assert_bad_at(&r, k, "entry");
        free_log(&l);

        /* The two rows' contents exchanged, the seqs left in place. */
        copy_log(&l, &good);
        t = l.item[a];
        l.item[a].body = l.item[b].body;
        l.item[a].len = l.item[b].len;
        memcpy(l.item[a].hash, l.item[b].hash, CJX_AUDIT_HASH_LEN);
        l.item[b].body = t.body;
        l.item[b].len = t.len;
        memcpy(l.item[b].hash, t.hash, CJX_AUDIT_HASH_LEN);
        r = verify(&l);
        assert_bad_at(&r, k, "content says it is entry");
        free_log(&l);
    }
}

static void
test_audit__truncated_log__first_missing_entry_is_named(void **state)
{
    (void)state;
    for (int keep = 0; keep < N_ENTRIES; keep++) {
        struct log l;
        copy_log(&l, &good);
        /* The entries after `keep` go; the checkpoints stay. */
        for (int i = l.n - 1; i >= 0; i--)
            if (l.item[i].kind == ENTRY && l.item[i].seq > keep)
                remove_item(&l, i);
        struct cjx_audit_report r = verify(&l);
        assert_bad_at(&r, keep + 1, "missing");
        free_log(&l);
    }
}

static void
test_audit__log_not_starting_at_1__is_refused(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    remove_item(&l, 0);
    remove_item(&l, 0);
    struct cjx_audit_report r = verify(&l);
    assert_bad_at(&r, 1, "entry 1 is missing");
    free_log(&l);
}

/* ---- checkpoints --------------------------------------------------------------- */

static void
test_audit__every_changed_byte_of_a_checkpoint__is_detected(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    struct item *cp = &l.item[index_of(&l, CHECKPOINT, 20)];
    for (size_t b = 0; b < cp->len; b++) {
        cp->body[b] ^= 0xff;
        struct cjx_audit_report r = verify(&l);
        if (r.ok || r.first_bad_seq != 20)
            fail_msg("byte %zu: ok=%d at %lld: %s", b, r.ok,
                     (long long)r.first_bad_seq, r.reason);
        cp->body[b] ^= 0xff;
    }
    free_log(&l);
}

static void
test_audit__forged_signature__is_invalid(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    struct item *it = &l.item[index_of(&l, CHECKPOINT, 30)];
    Cjx__V1__AuditCheckpoint *cp =
        cjx__v1__audit_checkpoint__unpack(NULL, it->len, it->body);
    assert_non_null(cp);
    for (size_t b = 0; b < cp->signature.len; b++) {
        cp->signature.data[b] ^= 0x10;
        size_t n = protobuf_c_message_get_packed_size(&cp->base);
        free(it->body);
        it->body = malloc(n);
        it->len = protobuf_c_message_pack(&cp->base, it->body);
        struct cjx_audit_report r = verify(&l);
        assert_bad_at(&r, 30, "signature invalid");
        cp->signature.data[b] ^= 0x10;
    }
    cjx__v1__audit_checkpoint__free_unpacked(cp, NULL);
    free_log(&l);
}

static void
test_audit__checkpoint_signed_by_another_agency__is_refused(void **state)
{
    (void)state;
    struct cjx_audit_signer *da = signer_of("sf-da");
    struct log l;
    copy_log(&l, &good);
    int i = index_of(&l, CHECKPOINT, 20);
    const uint8_t *hash = l.item[index_of(&l, ENTRY, 20)].hash;
    struct log one = {.n = 0};
    add_checkpoint(&one, da, 20, hash, INTERVAL);
    free(l.item[i].body);
    l.item[i] = one.item[0];
    struct cjx_audit_report r = verify(&l);
    assert_bad_at(&r, 20, "signed by agency " SF_DA_ORI ", not by " DOJ_ORI);
    free_log(&l);
    cjx_audit_signer_free(da);
}

static void
test_audit__checkpoint_from_another_ca__does_not_chain(void **state)
{
    (void)state;
    /* otherca.pem names the San Francisco DA but comes from a CA outside
     * the bundle: verify a DA's log signed with it. */
    struct cjx_audit_signer *other = signer_of("otherca");
    struct log l;
    build_log(&l, other, 12, INTERVAL);
    struct cjx_audit_trust t = {ca_pem, TRUST_DOMAIN, SF_DA_ORI};
    struct cjx_audit_report r = verify_with(&l, &t);
    assert_bad_at(&r, 10, "does not chain to the CA bundle");
    free_log(&l);
    cjx_audit_signer_free(other);
}

static void
test_audit__removed_checkpoint__is_named(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    remove_item(&l, index_of(&l, CHECKPOINT, 20));
    struct cjx_audit_report r = verify(&l);
    assert_bad_at(&r, 20, "checkpoint at 20 is missing");
    free_log(&l);

    /* The last one: its entries are now an unsigned tail as long as the
     * interval, which the writer never leaves. */
    copy_log(&l, &good);
    remove_item(&l, index_of(&l, CHECKPOINT, 50));
    r = verify(&l);
    assert_bad_at(&r, 50, "checkpoint at 50 is missing");
    free_log(&l);
}

static void
test_audit__unsigned_tail_shorter_than_interval__verifies(void **state)
{
    (void)state;
    struct log l;
    build_log(&l, doj_signer, 29, INTERVAL);
    /* build_log signs the last entry; a daemon that crashed would not
     * have. */
    remove_item(&l, index_of(&l, CHECKPOINT, 29));
    struct cjx_audit_report r = verify(&l);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.last_checkpoint_seq, 20);
    assert_int_equal(r.last_seq, 29);
    free_log(&l);
}

static void
test_audit__checkpoint_with_other_hash__is_refused(void **state)
{
    (void)state;
    struct log l;
    copy_log(&l, &good);
    int i = index_of(&l, CHECKPOINT, 40);
    /* Validly signed, but over entry 39's hash. */
    struct log one = {.n = 0};
    add_checkpoint(&one, doj_signer, 40, l.item[index_of(&l, ENTRY, 39)].hash,
                   INTERVAL);
    free(l.item[i].body);
    l.item[i] = one.item[0];
    struct cjx_audit_report r = verify(&l);
    assert_bad_at(&r, 40, "differs from the signed one");
    free_log(&l);
}

static void
test_audit__ed25519_key__signs_checkpoints_that_verify(void **state)
{
    (void)state;
    struct cjx_audit_signer *ed = signer_of("ed");
    struct log l;
    build_log(&l, ed, 25, INTERVAL);
    struct cjx_audit_report r = verify(&l);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.checkpoints, 3);
    free_log(&l);
    cjx_audit_signer_free(ed);
}

/* ---- refusals of the API ---------------------------------------------------- */

static void
test_audit__signer_with_bad_key_or_cert__is_refused(void **state)
{
    (void)state;
    char *doj_key = cert_file("doj.key"), *da_pem = cert_file("sf-da.pem");
    struct cjx_audit_signer *s = (struct cjx_audit_signer *)&s;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_audit_signer_new(doj_key, da_pem, &s, &eb), CJX_ETLS);
    assert_non_null(strstr(eb.msg, "does not belong"));
    assert_int_equal(cjx_audit_signer_new("not a key", da_pem, &s, &eb),
                     CJX_ETLS);
    assert_int_equal(cjx_audit_signer_new(doj_key, "not a cert", &s, &eb),
                     CJX_ETLS);
    assert_int_equal(cjx_audit_signer_new(NULL, da_pem, &s, &eb), CJX_EINVAL);
    assert_ptr_equal(s, (struct cjx_audit_signer *)&s);
    cjx_audit_signer_free(NULL);
    cjx_tls_free_pem(doj_key, strlen(doj_key));
    free(da_pem);
}

static void
test_audit__verifier_without_trust__is_refused(void **state)
{
    (void)state;
    struct cjx_audit_verifier *v = NULL;
    struct cjx_errbuf eb;
    struct cjx_audit_trust t = {ca_pem, NULL, DOJ_ORI};
    assert_int_equal(cjx_audit_verifier_new(&t, &v, &eb), CJX_EINVAL);
    t = (struct cjx_audit_trust){ca_pem, TRUST_DOMAIN, "SHORT"};
    assert_int_equal(cjx_audit_verifier_new(&t, &v, &eb), CJX_EINVAL);
    t = (struct cjx_audit_trust){"no certificates here", TRUST_DOMAIN, DOJ_ORI};
    assert_int_equal(cjx_audit_verifier_new(&t, &v, &eb), CJX_ETLS);
    assert_null(v);
    cjx_audit_verifier_free(NULL);
}

/* ---- export files ------------------------------------------------------------ */

/* The log as `cjxctl audit export` writes it. */
static char *
export_text(const struct log *l)
{
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int i = 0; i < l->n; i++) {
        const struct item *it = &l->item[i];
        Cjx__V1__AuditRecord rec = CJX__V1__AUDIT_RECORD__INIT;
        rec.seq = it->seq;
        rec.body.data = it->body;
        rec.body.len = it->len;
        ProtobufCMessage *readable;
        if (it->kind == ENTRY) {
            rec.hash.data = (uint8_t *)it->hash;
            rec.hash.len = it->hash_len;
            rec.item_case = CJX__V1__AUDIT_RECORD__ITEM_ENTRY;
            rec.entry = cjx__v1__audit_entry__unpack(NULL, it->len, it->body);
            readable = &rec.entry->base;
        } else {
            rec.item_case = CJX__V1__AUDIT_RECORD__ITEM_CHECKPOINT;
            rec.checkpoint =
                cjx__v1__audit_checkpoint__unpack(NULL, it->len, it->body);
            readable = &rec.checkpoint->base;
        }
        char *line = cjx_json_from_message(&rec.base, 0);
        assert_non_null(line);
        size_t len = strlen(line);
        assert_true(n + len + 2 < cap);
        memcpy(out + n, line, len);
        n += len;
        out[n++] = '\n';
        out[n] = '\0';
        free(line);
        protobuf_c_message_free_unpacked(readable, NULL);
    }
    return out;
}

static struct cjx_audit_report
verify_export(const char *text)
{
    struct cjx_audit_trust t = doj_trust(ca_pem);
    struct cjx_audit_report r;
    struct cjx_errbuf eb;
    if (cjx_audit_verify_export(text, strlen(text), &t, &r, &eb) != 0)
        fail_msg("%s", eb.msg);
    return r;
}

static void
test_audit__export__verifies_offline(void **state)
{
    (void)state;
    char *text = export_text(&good);
    struct cjx_audit_report r = verify_export(text);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.entries, N_ENTRIES);
    assert_int_equal(r.checkpoints, N_ENTRIES / INTERVAL);
    free(text);
}

static void
test_audit__export_with_changed_readable_field__is_refused(void **state)
{
    (void)state;
    /* Entry 8 was refused with PERMISSION_DENIED (7); the line is edited
     * to say it succeeded, leaving the stored bytes alone. */
    char *text = export_text(&good);
    char *line = text;
    for (int i = 0; i < index_of(&good, ENTRY, 8); i++)
        line = strchr(line, '\n') + 1;
    char *code = strstr(line, "\"outcomeCode\":7");
    assert_non_null(code);
    assert_true(code < strchr(line, '\n'));
    memcpy(code, "\"outcomeCode\":0", 15);
    struct cjx_audit_report r = verify_export(text);
    assert_bad_at(&r, 8, "readable fields differ");
    free(text);
}

static void
test_audit__export_with_broken_line__names_the_line(void **state)
{
    (void)state;
    char *text = export_text(&good);
    char *line = text;
    for (int i = 0; i < 3; i++)
        line = strchr(line, '\n') + 1;
    line[0] = '#';
    struct cjx_audit_report r = verify_export(text);
    assert_false(r.ok);
    assert_int_equal(r.first_bad_seq, 4); /* after the 3 good entries */
    assert_non_null(strstr(r.reason, "line 4"));
    free(text);
}

static void
test_audit__export_with_deleted_line__names_the_entry(void **state)
{
    (void)state;
    char *text = export_text(&good);
    char *start = text;
    for (int i = 0; i < index_of(&good, ENTRY, 17); i++)
        start = strchr(start, '\n') + 1;
    char *end = strchr(start, '\n') + 1;
    memmove(start, end, strlen(end) + 1);
    struct cjx_audit_report r = verify_export(text);
    assert_bad_at(&r, 17, "entry 17 is missing");
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_audit__valid_chain__verifies_with_every_checkpoint),
        cmocka_unit_test(test_audit__empty_log__verifies),
        cmocka_unit_test(
            test_audit__entries_of_several_replicas__counted_per_replica),
        cmocka_unit_test(
            test_audit__unnamed_entry__packs_as_before_replicas_were_named),
        cmocka_unit_test(
            test_audit__more_replicas_than_a_report_holds__rest_counted_together),
        cmocka_unit_test(
            test_audit__entry__packs_every_field_and_chains_to_prev),
        cmocka_unit_test(test_audit__event_time__used_when_given),
        cmocka_unit_test(test_audit__bad_utf8_and_long_text__are_made_safe),
        cmocka_unit_test(
            test_audit__entry_pack__reports_size_when_buffer_is_small),
        cmocka_unit_test(
            test_audit__every_changed_byte_of_every_entry_body__names_that_entry),
        cmocka_unit_test(
            test_audit__every_changed_byte_of_every_stored_hash__names_that_entry),
        cmocka_unit_test(test_audit__truncated_stored_hash__names_that_entry),
        cmocka_unit_test(
            test_audit__rehashed_change__caught_by_the_next_checkpoint),
        cmocka_unit_test(test_audit__each_deleted_entry__is_named),
        cmocka_unit_test(
            test_audit__inserted_entry__is_found_where_it_was_inserted),
        cmocka_unit_test(
            test_audit__adjacent_entries_swapped__first_of_the_pair_is_named),
        cmocka_unit_test(
            test_audit__truncated_log__first_missing_entry_is_named),
        cmocka_unit_test(test_audit__log_not_starting_at_1__is_refused),
        cmocka_unit_test(
            test_audit__every_changed_byte_of_a_checkpoint__is_detected),
        cmocka_unit_test(test_audit__forged_signature__is_invalid),
        cmocka_unit_test(
            test_audit__checkpoint_signed_by_another_agency__is_refused),
        cmocka_unit_test(
            test_audit__checkpoint_from_another_ca__does_not_chain),
        cmocka_unit_test(test_audit__removed_checkpoint__is_named),
        cmocka_unit_test(
            test_audit__unsigned_tail_shorter_than_interval__verifies),
        cmocka_unit_test(test_audit__checkpoint_with_other_hash__is_refused),
        cmocka_unit_test(
            test_audit__ed25519_key__signs_checkpoints_that_verify),
        cmocka_unit_test(test_audit__signer_with_bad_key_or_cert__is_refused),
        cmocka_unit_test(test_audit__verifier_without_trust__is_refused),
        cmocka_unit_test(test_audit__export__verifies_offline),
        cmocka_unit_test(
            test_audit__export_with_changed_readable_field__is_refused),
        cmocka_unit_test(test_audit__export_with_broken_line__names_the_line),
        cmocka_unit_test(test_audit__export_with_deleted_line__names_the_entry),
    };
    return cmocka_run_group_tests(tests, setup_log, teardown_log);
}
