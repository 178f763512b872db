/* Private state shared by the service handlers. */
#ifndef CJX_SERVICE_INTERNAL_H
#define CJX_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cjx/service.h"

struct watch;
struct case_hub;

/* Follow streams parked until the store commits a newer change. */
struct feed_hub {
    pthread_mutex_t mu;
    struct watch *parked; /* singly linked through watch->next_parked */
    struct watch *active; /* every open watch, for shutdown */
    int closed;
};

struct audit_stream;

/* Audit tail streams parked until the store commits a newer entry. */
struct audit_hub {
    pthread_mutex_t mu;
    struct audit_stream *parked; /* linked through next_parked */
    struct audit_stream *active; /* every open stream, for shutdown */
    int closed;
};

/* A rule registry shared by the calls that use it; the last user frees it. */
struct rules_ref {
    struct cjx_rules_registry *reg;
    atomic_int refs;
};

struct cjx_service {
    struct cjx_store *store;
    struct feed_hub hub;
    pthread_mutex_t rules_mu; /* guards the rules pointer, not the sets */
    struct rules_ref *rules;
    struct audit_hub audit_hub;
    atomic_int audit_closing; /* verifications in progress stop */
    struct case_hub *cases;   /* WatchCases streams (cases_feed.c) */
};

/* The current rule sets, referenced (NULL registry inside if none are
 * configured); release with service_rules_put(). */
struct rules_ref *service_rules_get(struct cjx_service *svc);
void service_rules_put(struct rules_ref *ref);

/* Handler tables of each service file. */
extern const struct cjx_handler cjx_records_handlers[];
extern const size_t cjx_records_handler_count;
extern const struct cjx_handler cjx_health_handlers[];
extern const size_t cjx_health_handler_count;
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

void audit_hub_init(struct audit_hub *hub);
void audit_hub_fini(struct audit_hub *hub);
/* Store audit hook: wakes parked tail streams. */
void audit_hub_on_commit(void *svc, int64_t last_seq);
/* Ends every parked tail with UNAVAILABLE and refuses new ones. */
void audit_hub_close(struct cjx_service *svc);

void feed_hub_init(struct feed_hub *hub);
void feed_hub_fini(struct feed_hub *hub);
/* Store commit hook: wakes parked follow streams. */
void feed_hub_on_commit(void *svc, int64_t last_seq);
/* Ends every open watch with UNAVAILABLE and refuses new ones. */
void feed_hub_close(struct cjx_service *svc);

/* Server-streaming handlers of RecordService/WatchRecords. */
void watch_records_start(struct cjx_call *c, const ProtobufCMessage *req);
void watch_records_on_sent(struct cjx_call *c, int ok);
void watch_records_on_cancel(struct cjx_call *c);

/* Builds the StoredRecord message for a stored record, decoding its bytes
 * into the arena. Returns 0, CJX_ENOMEM, or CJX_ESTORE for bytes that do not
 * decode (a corrupt row). */
struct cjx_stored_record;
struct Cjx__V1__StoredRecord;
int stored_record_message(struct cjx_arena *arena,
                          const struct cjx_stored_record *r,
                          struct Cjx__V1__StoredRecord *out);

#endif
