/* Private state shared by the service handlers. */
#ifndef CJX_SERVICE_INTERNAL_H
#define CJX_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cjx/service.h"
#include "follow.h"

struct case_hub;
struct health;

struct cjx_service {
    struct cjx_store *store;
    struct follow_hub hub; /* WatchRecords streams (feed.c) */
    /* The configuration the services run on, with its rule sets; none
     * until cjx_service_set_conf. */
    struct cjx_conf_slot conf;
    struct follow_hub audit_hub; /* TailAudit and ExportAudit streams */
    atomic_int audit_closing;    /* verifications in progress stop */
    struct case_hub *cases;      /* WatchCases streams (cases_feed.c) */
    struct health *health;       /* the serving status (health.c) */
    /* For GetStatus (status.c). */
    const char *version;
    int64_t started_us;
    pthread_mutex_t peers_mu; /* guards the source below */
    cjx_service_peers_fn peers;
    void *peers_arg;
};

/* The service's configuration is taken with cjx_service_conf(); whoever
 * uses its rule sets holds it until done with strings borrowed from them.
 * conf's rule sets; NULL when none are configured (or conf is NULL). */
static inline struct cjx_rules_registry *
service_conf_rules(const struct cjx_conf *conf)
{
    return conf != NULL ? conf->rules : NULL;
}

/* Handler tables of each service file. */
extern const struct cjx_handler cjx_records_handlers[];
extern const size_t cjx_records_handler_count;
extern const struct cjx_handler cjx_health_handlers[];
extern const size_t cjx_health_handler_count;
extern const struct cjx_handler cjx_reflection_handlers[];
extern const size_t cjx_reflection_handler_count;
extern const struct cjx_handler cjx_status_handlers[];
extern const size_t cjx_status_handler_count;
extern const struct cjx_handler cjx_rules_handlers[];
extern const size_t cjx_rules_handler_count;
extern const struct cjx_handler cjx_audit_handlers[];
extern const size_t cjx_audit_handler_count;
extern const struct cjx_handler cjx_cases_handlers[];
extern const size_t cjx_cases_handler_count;

/* The case service's state in svc (cases_feed.c): set up, ending its
 * streams at shutdown, released. */
int cases_service_init(struct cjx_service *svc);
void cases_service_shutdown(struct cjx_service *svc);
void cases_service_fini(struct cjx_service *svc);

/* Fills ev with what the call knows: its caller, method, the object ids
 * its handler set, and the bytes received so far. ev borrows from c. */
struct cjx_audit_event;
void service_call_event(const struct cjx_call *c, struct cjx_audit_event *ev);

/* Server-streaming start of RecordService/WatchRecords; its on_sent and
 * on_cancel are follow_on_sent and follow_on_cancel. */
void watch_records_start(struct cjx_call *c, const ProtobufCMessage *req);

/* Whether a stored record may be sent to anyone: its bytes pass the wire
 * check (include/cjx/wire.h). A record stored before the check existed, or
 * damaged since, could hold a NUL, invalid UTF-8 or an undefined enum that
 * breaks the reader's client. Such a record is withheld, with an error in
 * the log naming it and the field: Get answers that it cannot be read, and
 * a page or a watch goes on without it, so that one bad row never hides the
 * others. */
struct cjx_stored_record;
int stored_record_servable(const struct cjx_stored_record *r);

/* Builds the StoredRecord message for a stored record, decoding its bytes
 * into the arena. Returns 0, CJX_ENOMEM, or CJX_ESTORE for bytes that do not
 * decode or are not servable (a corrupt row). */
struct Cjx__V1__StoredRecord;
int stored_record_message(struct cjx_arena *arena,
                          const struct cjx_stored_record *r,
                          struct Cjx__V1__StoredRecord *out);

#endif
