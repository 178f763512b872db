/* grpc.reflection.v1.ServerReflection and its v1alpha twin: lets a client
 * that has no .proto file list the services, fetch the descriptors of every
 * file cjxd serves (embedded at build time, include/cjx/descriptor_set.h)
 * and so build and call any method, as grpcurl does.
 *
 * A bidirectional stream: each request is answered by one response, sent
 * before the next request is read, so a client that does not read holds
 * one response at most. A request that cannot be answered gets an
 * ErrorResponse in the stream (as the protocol says) naming the field, and
 * the stream goes on. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/descriptor_set.h"
#include "cjx/utf8.h"
#include "grpc/reflection/v1/reflection.methods.h"
#include "grpc/reflection/v1alpha/reflection.methods.h"
#include "service_internal.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest reflection_request;
typedef Grpc__Reflection__V1__ServerReflectionResponse reflection_response;

/* ---- the descriptor set ----------------------------------------------- */

static int
symbol_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct cjx_descriptor_symbol *)elem)->name);
}

static const struct cjx_descriptor_symbol *
find_symbol(const char *name)
{
    return bsearch(name, cjx_descriptor_symbols, cjx_descriptor_symbol_count,
                   sizeof(cjx_descriptor_symbols[0]), symbol_cmp);
}

static int
find_file(const char *name)
{
    for (size_t i = 0; i < cjx_descriptor_file_count; i++)
        if (strcmp(cjx_descriptor_files[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Appends file i, then what it imports, each once (seen marks them). */
static void
collect_file(int i, unsigned char *seen, ProtobufCBinaryData *out, size_t *n)
{
    if (seen[i])
        return;
    seen[i] = 1;
    const struct cjx_descriptor_file *f = &cjx_descriptor_files[i];
    out[*n].data = (uint8_t *)f->data;
    out[(*n)++].len = f->len;
    for (size_t d = 0; d < f->n_deps; d++)
        collect_file(f->deps[d], seen, out, n);
}

/* ---- answers ---------------------------------------------------------- */

static int answer_error(reflection_response *resp, struct cjx_arena *arena,
                        int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
answer_error(reflection_response *resp, struct cjx_arena *arena, int err,
             const char *fmt, ...)
{
    Grpc__Reflection__V1__ErrorResponse *e = cjx_arena_alloc(arena, sizeof(*e));
    char *text = cjx_arena_alloc(arena, 512);
    if (e == NULL || text == NULL)
        return CJX_ENOMEM;
    grpc__reflection__v1__error_response__init(e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, 512, fmt, ap);
    va_end(ap);
    /* A name cut at its bound may end inside a character: the message
     * must stay valid UTF-8, or the answer could not be sent. */
    text[cjx_utf8_invalid_at(text, strlen(text))] = '\0';
    e->error_code = cjx_err_status_code(err);
    e->error_message = text;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = e;
    return 0;
}

/* A file, with everything it imports: the protocol's answer to both
 * file_by_filename and file_containing_symbol, so that the client can
 * build the file's descriptors without asking again. */
static int
answer_file(reflection_response *resp, struct cjx_arena *arena, int file)
{
    Grpc__Reflection__V1__FileDescriptorResponse *fd =
        cjx_arena_alloc(arena, sizeof(*fd));
    unsigned char *seen = cjx_arena_alloc(arena, cjx_descriptor_file_count);
    ProtobufCBinaryData *files =
        cjx_arena_alloc(arena, cjx_descriptor_file_count * sizeof(*files));
    if (fd == NULL || seen == NULL || files == NULL)
        return CJX_ENOMEM;
    grpc__reflection__v1__file_descriptor_response__init(fd);
    memset(seen, 0, cjx_descriptor_file_count);
    size_t n = 0;
    collect_file(file, seen, files, &n);
    fd->n_file_descriptor_proto = n;
    fd->file_descriptor_proto = files;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp->file_descriptor_response = fd;
    return 0;
}

/* The services of the handler table, each once, in its order: what cjxd
 * really serves. */
static int
answer_services(reflection_response *resp, struct cjx_arena *arena)
{
    size_t max = cjx_service_handler_count();
    Grpc__Reflection__V1__ListServiceResponse *list =
        cjx_arena_alloc(arena, sizeof(*list));
    Grpc__Reflection__V1__ServiceResponse *items =
        cjx_arena_alloc(arena, max * sizeof(*items));
    Grpc__Reflection__V1__ServiceResponse **ptrs =
        cjx_arena_alloc(arena, max * sizeof(*ptrs));
    if (list == NULL || items == NULL || ptrs == NULL)
        return CJX_ENOMEM;
    grpc__reflection__v1__list_service_response__init(list);
    size_t n = 0;
    for (size_t i = 0; i < max; i++) {
        const char *path = cjx_service_handler(i)->method->path + 1;
        size_t len = (size_t)(strchr(path, '/') - path);
        int listed = 0;
        for (size_t j = 0; j < n && !listed; j++)
            listed = strlen(items[j].name) == len &&
                     strncmp(items[j].name, path, len) == 0;
        if (listed)
            continue;
        grpc__reflection__v1__service_response__init(&items[n]);
        items[n].name = cjx_arena_strndup(arena, path, len);
        if (items[n].name == NULL)
            return CJX_ENOMEM;
        ptrs[n] = &items[n];
        n++;
    }
    list->n_service = n;
    list->service = ptrs;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp->list_services_response = list;
    return 0;
}

/* No file cjxd serves declares an extension: a message type has none, and
 * anything else is not a message type. */
static int
answer_extension_numbers(reflection_response *resp, struct cjx_arena *arena,
                         const char *type)
{
    const struct cjx_descriptor_symbol *s = find_symbol(type);
    if (s == NULL || s->kind != CJX_SYMBOL_MESSAGE)
        return answer_error(resp, arena, CJX_ENOTFOUND,
                            "all_extension_numbers_of_type: no message type "
                            "%.200s",
                            type);
    Grpc__Reflection__V1__ExtensionNumberResponse *ext =
        cjx_arena_alloc(arena, sizeof(*ext));
    if (ext == NULL)
        return CJX_ENOMEM;
    grpc__reflection__v1__extension_number_response__init(ext);
    ext->base_type_name = (char *)s->name;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    resp->all_extension_numbers_response = ext;
    return 0;
}

static int
answer_extension(reflection_response *resp, struct cjx_arena *arena,
                 const Grpc__Reflection__V1__ExtensionRequest *ext)
{
    const struct cjx_descriptor_symbol *s =
        ext != NULL ? find_symbol(ext->containing_type) : NULL;
    if (s == NULL || s->kind != CJX_SYMBOL_MESSAGE)
        return answer_error(
            resp, arena, CJX_ENOTFOUND,
            "file_containing_extension.containing_type: no message type "
            "%.200s",
            ext != NULL ? ext->containing_type : "");
    return answer_error(resp, arena, CJX_ENOTFOUND,
                        "file_containing_extension.extension_number: %.200s "
                        "has no extensions",
                        s->name);
}

/* Fills resp (whose memory comes from arena) with the answer to req.
 * Returns 0, or CJX_ENOMEM when the arena is spent. */
static int
answer(const reflection_request *req, reflection_response *resp,
       struct cjx_arena *arena)
{
    resp->valid_host = req->host;
    resp->original_request = (reflection_request *)req;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME: {
        int file = find_file(req->file_by_filename);
        if (file < 0)
            return answer_error(resp, arena, CJX_ENOTFOUND,
                                "file_by_filename: no file %.200s",
                                req->file_by_filename);
        return answer_file(resp, arena, file);
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL: {
        const struct cjx_descriptor_symbol *s =
            find_symbol(req->file_containing_symbol);
        if (s == NULL)
            return answer_error(resp, arena, CJX_ENOTFOUND,
                                "file_containing_symbol: no symbol %.200s",
                                req->file_containing_symbol);
        return answer_file(resp, arena, s->file);
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        return answer_extension(resp, arena, req->file_containing_extension);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        return answer_extension_numbers(resp, arena,
                                        req->all_extension_numbers_of_type);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        return answer_services(resp, arena);
    default:
        return answer_error(resp, arena, CJX_EINVAL,
                            "message_request: none set (file_by_filename, "
                            "file_containing_symbol, "
                            "file_containing_extension, "
                            "all_extension_numbers_of_type or list_services)");
    }
}

/* ---- the stream ------------------------------------------------------- */

/* v1alpha's messages are v1's under another package name, field for field
 * (the protocol was renamed, not changed), so one engine answers both: a
 * v1alpha message is carried across by its bytes. Returns the message in
 * the other version's type, in arena, or NULL. */
static ProtobufCMessage *
convert(const ProtobufCMessage *msg, const ProtobufCMessageDescriptor *to,
        struct cjx_arena *arena)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = cjx_arena_alloc(arena, len ? len : 1);
    if (buf == NULL)
        return NULL;
    protobuf_c_message_pack(msg, buf);
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(arena);
    return protobuf_c_message_unpack(to, &alloc, len, buf);
}

/* Each request after the first is one more message against the agency's
 * rate limit, like the messages of a batch. */
static int
message_admitted(struct cjx_call *c)
{
    if (c->state == NULL) {
        c->state = c; /* the call itself took the first token */
        return 1;
    }
    int64_t retry_ms = 0;
    if (c->ops->take_token(c, &retry_ms))
        return 1;
    char detail[160];
    snprintf(detail, sizeof(detail),
             "over the agency's rate limit; retry after %lld ms",
             (long long)retry_ms);
    c->ops->fail(c, CJX_ELIMIT, detail);
    return 0;
}

static void
reflection_begin(struct cjx_call *c)
{
    c->ops->request_next(c);
}

static void
reflection_on_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    if (!message_admitted(c))
        return;
    int alpha = msg->descriptor !=
                &grpc__reflection__v1__server_reflection_request__descriptor;
    struct cjx_arena arena;
    cjx_arena_init(&arena, NULL, 0, 0);
    const reflection_request *req =
        alpha
            ? (const reflection_request *)convert(
                  msg,
                  &grpc__reflection__v1__server_reflection_request__descriptor,
                  &arena)
            : (const reflection_request *)msg;
    reflection_response resp =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    const ProtobufCMessage *out = &resp.base;
    int err = req != NULL ? answer(req, &resp, &arena) : CJX_ENOMEM;
    if (err == 0 && alpha)
        out = convert(
            &resp.base,
            &grpc__reflection__v1alpha__server_reflection_response__descriptor,
            &arena);
    if (err != 0 || out == NULL)
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
    else
        c->ops->send(c, out); /* packed before it returns */
    cjx_arena_fini(&arena);
}

static void
reflection_on_sent(struct cjx_call *c, int ok)
{
    /* The next request is read once the answer has gone out. */
    if (ok)
        c->ops->request_next(c);
}

static void
reflection_on_end(struct cjx_call *c)
{
    c->ops->finish(c);
}

const struct cjx_handler cjx_reflection_handlers[] = {
    {.method = &grpc__reflection__v1__server_reflection__methods
                   [SERVER_REFLECTION_SERVER_REFLECTION_INFO],
     .stream_begin = reflection_begin,
     .on_message = reflection_on_message,
     .on_end = reflection_on_end,
     .on_sent = reflection_on_sent},
    {.method = &grpc__reflection__v1alpha__server_reflection__methods
                   [SERVER_REFLECTION_SERVER_REFLECTION_INFO],
     .stream_begin = reflection_begin,
     .on_message = reflection_on_message,
     .on_end = reflection_on_end,
     .on_sent = reflection_on_sent},
};
const size_t cjx_reflection_handler_count =
    sizeof(cjx_reflection_handlers) / sizeof(cjx_reflection_handlers[0]);
