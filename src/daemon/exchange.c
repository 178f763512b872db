/* The daemon's relief-exchange workers: the outbox delivery and the
 * configured stand-in, each holding the daemon's configuration. */
#include <stdlib.h>

#include "cjx/delivery.h"
#include "cjx/log.h"
#include "cjx/standin.h"
#include "daemon.h"

static struct cjx_delivery_tls
client_tls(const struct cjx_rpc_tls *tls)
{
    return (struct cjx_delivery_tls){.ca_pem = tls->ca_pem,
                                     .cert_pem = tls->cert_pem,
                                     .key_pem = tls->key_pem};
}

int
daemon_exchange_start(struct cjx_daemon *d, const struct cjx_rpc_tls *tls,
                      struct cjx_errbuf *eb)
{
    struct cjx_delivery_tls ctls = client_tls(tls);
    int err = cjx_delivery_start(d->store, d->conf, &ctls, &d->delivery, eb);
    if (err == 0) {
        err = cjx_standin_start(d->service, d->store, d->conf, &d->standin, eb);
        if (err != 0) {
            cjx_delivery_stop(d->delivery);
            d->delivery = NULL;
        }
    }
    return err;
}

int
daemon_exchange_prepare_reload(struct cjx_daemon *d,
                               const struct cjx_conf *conf,
                               const struct cjx_rpc_tls *tls,
                               struct cjx_delivery_reload **out,
                               struct cjx_errbuf *eb)
{
    *out = NULL;
    if (d->delivery == NULL)
        return 0;
    struct cjx_delivery_tls ctls = client_tls(tls);
    return cjx_delivery_prepare_reload(d->delivery, conf, &ctls, out, eb);
}

void
daemon_exchange_commit_reload(struct cjx_daemon *d, const struct cjx_conf *conf,
                              struct cjx_delivery_reload *r)
{
    if (r != NULL)
        cjx_delivery_commit_reload(d->delivery, r);
    /* A stand-in is started or stopped only by a restart. */
    cjx_standin_reload(d->standin, conf);
}

void
daemon_exchange_cancel_reload(struct cjx_delivery_reload *r)
{
    cjx_delivery_cancel_reload(r);
}

void
daemon_exchange_stop(struct cjx_daemon *d)
{
    cjx_standin_stop(d->standin);
    d->standin = NULL;
    cjx_delivery_stop(d->delivery);
    d->delivery = NULL;
}
