/* The daemon's relief-exchange workers: the outbox delivery and the
 * configured stand-in, each with its own copy of the configuration. */
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
    /* The server owns the configuration it was given; the workers read
     * the file again, which daemon_load has just checked. */
    struct cjx_conf *conf = NULL, *standin_conf = NULL;
    int err = cjx_conf_load(d->conf_path, &conf, eb);
    if (err == 0)
        err = cjx_conf_load(d->conf_path, &standin_conf, eb);
    struct cjx_delivery_tls ctls = client_tls(tls);
    if (err == 0)
        err = cjx_delivery_start(d->store, conf, &ctls, &d->delivery, eb);
    cjx_conf_free(conf);
    if (err == 0) {
        err = cjx_standin_start(d->service, d->store, standin_conf, &d->standin,
                                eb);
        standin_conf = NULL; /* taken over */
        if (err != 0) {
            cjx_delivery_stop(d->delivery);
            d->delivery = NULL;
        }
    }
    cjx_conf_free(standin_conf);
    return err;
}

void
daemon_exchange_reload(struct cjx_daemon *d, const struct cjx_rpc_tls *tls)
{
    struct cjx_errbuf eb;
    struct cjx_conf *conf = NULL, *standin_conf = NULL;
    if (cjx_conf_load(d->conf_path, &conf, &eb) != 0 ||
        cjx_conf_load(d->conf_path, &standin_conf, &eb) != 0) {
        cjx_error("daemon", "exchange workers keep their configuration: %s",
                  eb.msg);
        cjx_conf_free(conf);
        return;
    }
    struct cjx_delivery_tls ctls = client_tls(tls);
    if (d->delivery != NULL)
        cjx_delivery_reload(d->delivery, conf, &ctls, &eb);
    cjx_conf_free(conf);
    /* A stand-in is started or stopped only by a restart. */
    cjx_standin_reload(d->standin, standin_conf);
}

void
daemon_exchange_stop(struct cjx_daemon *d)
{
    cjx_standin_stop(d->standin);
    d->standin = NULL;
    cjx_delivery_stop(d->delivery);
    d->delivery = NULL;
}
