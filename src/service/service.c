/* The service table: which handler answers which method, and who may call it. */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

int
cjx_service_new(struct cjx_store *store, struct cjx_service **out)
{
    struct cjx_service *svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return CJX_ENOMEM;
    svc->store = store;
    feed_hub_init(&svc->hub);
    cjx_store_set_commit_hook(store, feed_hub_on_commit, svc);
    *out = svc;
    return 0;
}

void
cjx_service_shutdown(struct cjx_service *svc)
{
    feed_hub_close(svc);
}

void
cjx_service_free(struct cjx_service *svc)
{
    if (svc == NULL)
        return;
    cjx_store_set_commit_hook(svc->store, NULL, NULL);
    feed_hub_fini(&svc->hub);
    free(svc);
}

size_t
cjx_service_handler_count(void)
{
    return cjx_records_handler_count + cjx_health_handler_count;
}

const struct cjx_handler *
cjx_service_handler(size_t i)
{
    if (i < cjx_records_handler_count)
        return &cjx_records_handlers[i];
    i -= cjx_records_handler_count;
    if (i < cjx_health_handler_count)
        return &cjx_health_handlers[i];
    return NULL;
}

const struct cjx_handler *
cjx_service_find(const char *path)
{
    for (size_t i = 0; i < cjx_service_handler_count(); i++) {
        const struct cjx_handler *h = cjx_service_handler(i);
        if (strcmp(h->method->path, path) == 0)
            return h;
    }
    return NULL;
}

enum cjx_access
cjx_service_authorize(const struct cjx_call *c)
{
    const char *path = c->method->path;
    if (c->caller.local)
        return cjx_authz_local(path) ? CJX_ACCESS_ALLOW : CJX_ACCESS_DENY;
    if (c->caller.agency == NULL)
        return CJX_ACCESS_DENY;
    return cjx_authz_remote(c->caller.agency->role, path);
}
