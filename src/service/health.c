/* grpc.health.v1.Health/Check: SERVING for the whole server and RecordService. */
#include "service_internal.h"

#include <string.h>

#include "grpc/health/v1/health.methods.h"

static void
health_check(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    /* The empty name asks about the server as a whole. */
    if (req->service[0] != '\0' &&
        strcmp(req->service, "cjx.v1.RecordService") != 0) {
        c->ops->fail(c, CJX_ENOTFOUND, "unknown service");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    c->ops->reply(c, &resp.base);
}

const struct cjx_handler cjx_health_handlers[] = {
    {.method = &grpc__health__v1__health__methods[HEALTH_CHECK],
     .unary = health_check},
};
const size_t cjx_health_handler_count =
    sizeof(cjx_health_handlers) / sizeof(cjx_health_handlers[0]);
