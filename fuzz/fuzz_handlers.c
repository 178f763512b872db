/* libFuzzer target: the request path of every service handler in process:
 * bytes in -> decode -> authorize -> validate -> apply, against a temporary
 * SQLite store and the shipped rule sets, without a network.
 *
 * Input: byte 0 picks the method (modulo the handler table), byte 1 the
 * caller (the local operator or one of the registry's agencies), the rest is
 * the request message's wire bytes. For a client-streaming method the rest
 * is split into up to 8 messages at 0xFF 0xFF 0xFF markers.
 *
 * Besides libFuzzer's byte mutations, a structured mutator unpacks the
 * request, spoils one field the way a hostile peer would (a NUL or an
 * invalid UTF-8 sequence in a string, an enum number the schema does not
 * define, a negative number) and packs it again, so that the wire checker
 * and the size and range checks behind it are reached with messages that
 * are otherwise valid. Each run checks that a request the wire checker
 * refuses ends with exactly its INVALID_ARGUMENT, and that no reply
 * carries what the checker refuses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/evaluate.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/v1/record_service.pb-c.h"
#include "cjx/wire.h"
#include "mem_call.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static struct cjx_store *store;
static struct cjx_service *svc;
static struct cjx_conf *conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/cjx-fuzz-handlers-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    char path[512];
    struct cjx_errbuf eb;
    /* A whole development configuration: registry, certificates, key. */
    snprintf(path, sizeof(path), "%s/certs/make-dev-certs.sh %s >/dev/null",
             CJX_SOURCE_DIR, dir);
    if (system(path) != 0)
        abort();
    snprintf(path, sizeof(path), "%s/doj.yaml", dir);
    if (cjx_conf_load(path, &conf, &eb) != 0)
        abort();
    snprintf(path, sizeof(path), "%s/fuzz.db", dir);
    if (cjx_store_sqlite_open(path, NULL, &store, &eb) != 0 ||
        cjx_service_new(store, &svc) != 0)
        abort();
    struct cjx_rules_registry *rules;
    snprintf(path, sizeof(path), "%s/rules", CJX_SOURCE_DIR);
    if (cjx_rules_registry_load_dir(path, cjx_evaluate_types(), &rules, &eb) !=
        0)
        abort();
    conf->rules = rules; /* released with the configuration */
    cjx_service_set_conf(svc, conf);
    return 0;
}

/* Splits data into messages of desc at 0xFF 0xFF 0xFF; a part that does not
 * decode or fails the wire check is dropped, as the transport would refuse
 * it. */
static size_t
split_stream(const uint8_t *data, size_t size,
             const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
             size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++) {
        int marker = i + 3 <= size && data[i] == 0xFF && data[i + 1] == 0xFF &&
                     data[i + 2] == 0xFF;
        if (i == size || marker) {
            ProtobufCMessage *m =
                protobuf_c_message_unpack(desc, NULL, i - start, data + start);
            if (m != NULL &&
                cjx_wire_check(desc, data + start, i - start, NULL) != 0) {
                protobuf_c_message_free_unpacked(m, NULL);
                m = NULL;
            }
            if (m != NULL)
                out[n++] = m;
            start = i + 3;
            i += 2;
        }
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct cjx_handler *h =
        cjx_service_handler(data[0] % cjx_service_handler_count());
    const struct cjx_agency *caller = NULL;
    if (data[1] % (conf->registry.n + 1) != 0)
        caller = &conf->registry.agencies[data[1] % (conf->registry.n + 1) - 1];
    data += 2;
    size -= 2;

    struct mem_call mc;
    mem_call_init(&mc, svc, conf, h, caller);
    ProtobufCMessage *msgs[8];
    size_t n = 0;
    ProtobufCMessage *req = NULL;
    if (h->method->client_streaming) {
        n = split_stream(data, size, h->method->input, msgs, 8);
        mc.stream = msgs;
        mc.n_stream = n;
    } else {
        /* A follow stream would wait for commits that never come, and a
         * health Watch always follows. */
        if (strcmp(h->method->path, "/grpc.health.v1.Health/Watch") == 0) {
            mem_call_fini(&mc);
            return 0;
        }
        if (h->method->input == &cjx__v1__watch_records_request__descriptor) {
            ProtobufCMessage *w =
                protobuf_c_message_unpack(h->method->input, NULL, size, data);
            int follow =
                w != NULL && ((Cjx__V1__WatchRecordsRequest *)w)->follow;
            protobuf_c_message_free_unpacked(w, NULL);
            if (follow) {
                mem_call_fini(&mc);
                return 0;
            }
        }
        /* As the transport: decode and check, then the handler. */
        struct cjx_errbuf eb;
        ProtobufCMessage *u =
            protobuf_c_message_unpack(h->method->input, NULL, size, data);
        int check =
            u != NULL ? cjx_wire_check(h->method->input, data, size, &eb) : 0;
        int fault = check != 0;
        /* Bytes protobuf-c tolerates but the checker cannot walk (a field
         * number 0, say) are refused as any undecodable request is. */
        if (check == CJX_EPARSE)
            snprintf(eb.msg, sizeof(eb.msg),
                     "request is not a valid %s message",
                     h->method->input->name);
        protobuf_c_message_free_unpacked(u, NULL);
        int status = mem_call_run_wire(&mc, data, size);
        /* 3 INVALID_ARGUMENT with the checker's words, unless the caller
         * was denied (7) before the request was decoded. */
        if (fault && status != 7 &&
            (status != 3 || strcmp(mc.message, eb.msg) != 0))
            abort();
        if (status == 0 && mc.reply != NULL &&
            cjx_wire_check(h->method->output, mc.reply, mc.reply_len, NULL) !=
                0)
            abort();
        mem_call_fini(&mc);
        return 0;
    }
    mem_call_run(&mc, req);
    mem_call_fini(&mc);
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(msgs[i], NULL);
    if (req != NULL)
        protobuf_c_message_free_unpacked(req, NULL);
    return 0;
}

/* ---- the structured mutator -------------------------------------------- */

/* A field of some message inside the request, to spoil. */
struct spot {
    ProtobufCMessage *msg;
    const ProtobufCFieldDescriptor *field;
};

/* Collects up to max spots of msg and its sub-messages (singular ones,
 * and the first element of repeated ones). */
static size_t
collect_spots(ProtobufCMessage *msg, struct spot *out, size_t n, size_t max,
              int depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields && n < max && depth < 8; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->quantifier_offset != 0 && f->label == PROTOBUF_C_LABEL_NONE &&
            *(uint32_t *)((char *)msg + f->quantifier_offset) != f->id)
            continue; /* a oneof member that is not the one set */
        void *p = (char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (*(size_t *)((char *)msg + f->quantifier_offset) == 0)
                continue;
            p = *(void **)p;
        }
        out[n++] = (struct spot){msg, f};
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)p)
            n = collect_spots(*(ProtobufCMessage **)p, out, n, max, depth + 1);
    }
    return n;
}

/* Where a spot's (first) value lives. */
static void *
spot_value(const struct spot *s)
{
    void *p = (char *)s->msg + s->field->offset;
    return s->field->label == PROTOBUF_C_LABEL_REPEATED ? *(void **)p : p;
}

/* Bytes a packed string can carry that proto3 does not allow; the NUL is
 * written as a marker and put in place after packing (protobuf-c packs C
 * strings). */
static const char nul_marker[] = "\x7f\x01NUL\x01";
static const char *const bad_strings[] = {
    nul_marker,     "San Francisco\xff", "\xc0\xaf",
    "\xed\xa0\x80", "\xf4\x90\x80\x80",  "ab\xe4",
};

/* Bytes of the value spoil() may overwrite. */
static size_t
value_width(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return 8;
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return 4;
    default:
        return 0;
    }
}

static void
spoil(const struct spot *s, unsigned r)
{
    void *v = spot_value(s);
    switch (s->field->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(const char **)v =
            bad_strings[r % (sizeof(bad_strings) / sizeof(bad_strings[0]))];
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        static const int32_t values[] = {99, 77, -1, 1000000, INT32_MIN};
        *(int32_t *)v = values[r % 5];
        break;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)v = r % 2 ? -1 : INT32_MIN;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)v = r % 2 ? -1 : INT64_MIN;
        break;
    default:
        break;
    }
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                        unsigned int seed)
{
    /* Half the time, libFuzzer's own byte mutations. */
    if (seed % 2 == 0 || size < 3)
        return LLVMFuzzerMutate(data, size, max_size);
    const struct cjx_handler *h =
        cjx_service_handler(data[0] % cjx_service_handler_count());
    ProtobufCMessage *m =
        protobuf_c_message_unpack(h->method->input, NULL, size - 2, data + 2);
    if (m == NULL)
        return LLVMFuzzerMutate(data, size, max_size);
    struct spot spots[64];
    size_t n = collect_spots(m, spots, 0, 64, 0);
    size_t out = size;
    if (n > 0) {
        const struct spot *s = &spots[(seed / 2) % n];
        /* The spoiled value is static; unpacked memory is freed with the
         * message, so the original pointer is put back before that. */
        void *v = spot_value(s);
        unsigned char saved[8];
        size_t width = value_width(s->field);
        memcpy(saved, v, width);
        spoil(s, seed / 128);
        size_t len = protobuf_c_message_get_packed_size(m);
        if (len + 2 <= max_size) {
            protobuf_c_message_pack(m, data + 2);
            uint8_t *at =
                memmem(data + 2, len, nul_marker, sizeof(nul_marker) - 1);
            if (at != NULL)
                at[0] = 0;
            out = len + 2;
        }
        memcpy(v, saved, width);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}
