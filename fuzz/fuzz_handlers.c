/* libFuzzer target: the request path of every service handler in process:
 * bytes in -> decode -> authorize -> validate -> apply, against a temporary
 * SQLite store and the shipped rule sets, without a network.
 *
 * Input: byte 0 picks the method (modulo the handler table), byte 1 the
 * caller (the local operator or one of the registry's agencies), the rest is
 * the request message's wire bytes. For a client-streaming method the rest
 * is split into up to 8 messages at 0xFF 0xFF 0xFF markers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/evaluate.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/v1/record_service.pb-c.h"
#include "mem_call.h"

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
    cjx_service_set_rules(svc, rules);
    return 0;
}

/* Splits data into messages of desc at 0xFF 0xFF 0xFF; a part that does not
 * decode is dropped, as the transport would refuse it. */
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
        req = protobuf_c_message_unpack(h->method->input, NULL, size, data);
        if (req == NULL) {
            mem_call_fini(&mc);
            return 0; /* the transport answers INVALID_ARGUMENT */
        }
        /* A follow stream would wait for commits that never come. */
        if (req->descriptor == &cjx__v1__watch_records_request__descriptor)
            ((Cjx__V1__WatchRecordsRequest *)req)->follow = 0;
    }
    mem_call_run(&mc, req);
    mem_call_fini(&mc);
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(msgs[i], NULL);
    if (req != NULL)
        protobuf_c_message_free_unpacked(req, NULL);
    return 0;
}
