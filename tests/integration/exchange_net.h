/* The relief exchange on real daemons, for the integration tests that run
 * it (test_exchange.c, test_exchange_replicas.c): DOJ, a District
 * Attorney, a court and a public defender on loopback with their stand-in
 * policies, optionally a second DOJ replica on the same PostgreSQL
 * database; test notices sent to DOJ, and what every daemon holds, read
 * back and compared. Waits poll for a condition with a bound; nothing
 * asserts on time. */
#ifndef CJX_TEST_EXCHANGE_NET_H
#define CJX_TEST_EXCHANGE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/client.h"
#include "cjx/v1/exchange.pb-c.h"
#include "harness.h"

/* DOJ_B is DOJ's second replica, used only by the replica tests: a net
 * without it leaves its daemon unprepared (d[DOJ_B].dir empty). */
enum { DOJ, DA, COURT, PD, N_DAEMONS, DOJ_B = N_DAEMONS, N_NET };

struct net_agency {
    const char *slug, *ori;
};
extern const struct net_agency agencies[N_NET];

#define EXCHANGE_HEAD                       \
    "exchange:\n"                           \
    "  deadlines:\n"                        \
    "    review: {days: 365}\n"             \
    "    order_unchallenged: {days: 365}\n" \
    "    history_update: {days: 90}\n"      \
    "  delivery:\n"                         \
    "    batch: 40\n"                       \
    "    streams_per_peer: 2\n"             \
    "    timeout_ms: 5000\n"

/* Short retries, so that a peer back from a crash is reached soon. */
#define EXCHANGE_COMMON                        \
    EXCHANGE_HEAD "    retry_initial_ms: 50\n" \
                  "    retry_max_ms: 400\n"

/* A hand-off that failed is tried again after ten minutes, or five at the
 * least with jitter: longer than any test waits, so what arrives sooner
 * was brought forward when its peer came back. */
#define EXCHANGE_SLOW_RETRY                        \
    EXCHANGE_HEAD "    retry_initial_ms: 600000\n" \
                  "    retry_max_ms: 600000\n"

/* Each agency's exchange section, stand-in policies included. */
extern const char *const exchange_yaml[N_NET];

struct net {
    struct test_daemon d[N_NET];
    char registry[300];
};

/* Whether daemon i is part of the net (prepared by the test's setup). */
int net_has(const struct net *n, int i);

const struct cjx_method *method(int i);
void nap_ms(int ms);
/* Starts daemon i; fails the test when it does not start. */
void start(struct net *n, int i);
/* Starts DOJ, the prosecutor, the court and the defender. */
void start_all(struct net *n);

/* Test notice i: relief by i, every seventh flagged for a challenge, every
 * eleventh for human review (left pending by the prosecutor). */
struct test_notice {
    Cjx__V1__CandidateNotice n;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Determination det;
    char id[32], cii[16], ccn[32];
    char *flags[1];
};

struct case_row {
    char cii[16];
    int state, decision, order;
    int64_t version;
    int64_t notified, decided, ordered, updated;
};

struct table {
    struct case_row *rows;
    size_t n;
};

/* How far the exchange is: cases at DOJ, of them decided, of those
 * history-updated, and whether every running daemon's outbox is empty. */
struct progress {
    int64_t cases, decided, updated;
    int quiet;
};

struct notifier {
    struct net *net;
    int from, to;
    int result;
};

void make_notice(struct test_notice *t, int i, const char *id_prefix);
/* Sends notices [from, to) to DOJ's local API in one stream. Returns how
 * many DOJ accepted, or -1 when the stream failed (DOJ died). */
int notify(struct net *n, int from, int to);
/* notify() on a thread of its own: t->result. */
void *notify_thread(void *arg);

/* Every case of daemon i, sorted by CII; 0, or -1 if it cannot be read. */
int read_cases(struct net *n, int i, struct table *t);
/* Outbox rows of daemon i: pending, parked and delivered. */
void outbox_counts(struct net *n, int i, int64_t *pending, int64_t *parked,
                   int64_t *delivered);
struct progress progress(struct net *n);
/* Waits (at most about two minutes) until the n_cases cases are at DOJ,
 * every decided one is history-updated, and no outbox holds anything. */
void wait_until_settled(struct net *n, int64_t n_cases, int64_t want_decided);
/* wait_until_settled, giving up also at deadline_ms (monotonic_ms()). */
void wait_until_settled_by(struct net *n, int64_t n_cases, int64_t want_decided,
                           int64_t deadline_ms);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t monotonic_ms(void);
/* How many of notices [0, n) the prosecutor's policy decides. */
int64_t decided_among(int n);
/* Every daemon of the net holds every case with the same content, each
 * step applied once, relief on every record once, nothing parked. */
void compare_all(struct net *n, int64_t n_cases);

int64_t cases_at(struct net *n, int i);
int64_t decided_at(struct net *n, int i);
/* Waits until f(n, i) reaches at least want, or gives up quietly. */
void wait_for(struct net *n, int i, int64_t (*f)(struct net *, int),
              int64_t want);
/* Kills daemon i (kill -9), saying how far it had come. */
void crash(struct net *n, int i);

#endif
