/* A reload reaches every module or none (DESIGN.md invariant 5): a daemon
 * run in this process, on loopback with real mTLS, its configuration file
 * rewritten while a reload is under way, and a reload whose second half
 * fails. The daemon's reload_hook runs when every module has prepared its
 * part and none has changed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/delivery.h"
#include "cjx/standin.h"
#include "cjx/v1/audit.pb-c.h"
#include "daemon.h"
#include "harness.h"

#define DOJ_ORI "CA0000001"

/* Every module the daemon runs: the stand-in (DOJ's acknowledgements) and
 * the metrics are on, so that each holds a configuration. */
#define EXTRA_YAML                             \
    "exchange:\n"                              \
    "  stand_in:\n"                            \
    "    doj: {history_update: acknowledge}\n" \
    "metrics:\n"                               \
    "  listen: 127.0.0.1:0\n"

struct fixture {
    struct test_daemon td;
    struct cjx_daemon d;
};

static int
start_daemon(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.td.extra_yaml = EXTRA_YAML;
    harness_daemon_init(&f.td, "doj", DOJ_ORI);
    struct daemon_loaded l;
    struct cjx_errbuf eb;
    if (daemon_load(f.td.conf, &l, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    f.d.conf_path = f.td.conf;
    int err = daemon_start(&f.d, &l, &eb);
    daemon_loaded_free(&l);
    if (err != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    *state = &f;
    return 0;
}

static int
stop_daemon(void **state)
{
    struct fixture *f = *state;
    daemon_stop(&f->d);
    harness_daemon_cleanup(&f->td);
    return 0;
}

/* Fails unless the server, the services, the delivery worker, the stand-in
 * and the metrics all run on want: the very object, not an equal copy. */
static void
assert_every_module_on(struct cjx_daemon *d, const struct cjx_conf *want)
{
    assert_non_null(d->delivery);
    assert_non_null(d->standin);
    assert_non_null(d->metrics);
    const char *const names[] = {"server", "services", "delivery", "stand-in",
                                 "metrics"};
    const struct cjx_conf *seen[] = {
        cjx_rpc_server_conf(d->server), cjx_service_conf(d->service),
        cjx_delivery_conf(d->delivery), cjx_standin_conf(d->standin),
        daemon_metrics_conf(d)};
    char wrong[512] = "";
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
        if (seen[i] != want)
            snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
                     " %s (generation %llu)", names[i],
                     seen[i] ? (unsigned long long)seen[i]->generation : 0ULL);
        cjx_conf_unref(seen[i]);
    }
    if (wrong[0] != '\0')
        fail_msg("not on generation %llu:%s",
                 (unsigned long long)want->generation, wrong);
}

/* Rewrites the file the reload has just loaded. */
static int
rewrite_file(void *arg, struct cjx_errbuf *eb)
{
    (void)eb;
    struct test_daemon *td = arg;
    td->limits_yaml = "  rate_limit_per_agency: 77\n";
    harness_daemon_write_conf(td);
    return 0;
}

static void
test_reload__file_rewritten_during_reload__one_load_everywhere(void **state)
{
    struct fixture *f = *state;
    const struct cjx_conf *before = f->d.conf;
    uint64_t started = before->generation;
    assert_int_equal(before->limits.rate_limit_per_agency, 0);
    assert_every_module_on(&f->d, before);

    f->d.reload_hook = rewrite_file;
    f->d.reload_hook_arg = &f->td;
    assert_int_equal(daemon_reload(&f->d), 0);
    f->d.reload_hook = NULL;
    /* Every module took the one load, made before the file changed. */
    assert_true(f->d.conf->generation > started);
    assert_int_equal(f->d.conf->limits.rate_limit_per_agency, 0);
    assert_every_module_on(&f->d, f->d.conf);

    /* The next reload finds the rewritten file, and again all of it
     * reaches every module. */
    uint64_t first = f->d.conf->generation;
    assert_int_equal(daemon_reload(&f->d), 0);
    assert_true(f->d.conf->generation > first);
    assert_int_equal(f->d.conf->limits.rate_limit_per_agency, 77);
    assert_every_module_on(&f->d, f->d.conf);
}

/* The second half of a reload failing: every module is prepared, then one
 * more preparation refuses. */
static int
refuse_after_prepare(void *arg, struct cjx_errbuf *eb)
{
    (void)arg;
    return cjx_errf(eb, CJX_EINVAL,
                    "injected: a module refused the configuration");
}

struct committed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static void
on_committed(void *arg, const struct cjx_record_write_result *r)
{
    (void)r;
    struct committed *c = arg;
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until the audit entries queued so far are committed: the store
 * writes in order, so an entry of ours committed means they are. */
static void
await_audit(struct cjx_store *store)
{
    struct committed c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                          0};
    struct cjx_audit_event ev = {
        .type = CJX_AUDIT_ADMIN,
        .time_us = cjx_clock_now_us(),
        .agency_ori = DOJ_ORI,
        .peer = "local",
        .method = "test/marker",
        .outcome_message = "",
    };
    assert_int_equal(cjx_store_append_audit(store, &ev, on_committed, &c), 0);
    pthread_mutex_lock(&c.mu);
    while (!c.done)
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
}

struct reload_entries {
    int refused, accepted;
    char last_message[256];
};

static int
keep_reload_entry(void *arg, const struct cjx_stored_audit *a)
{
    struct reload_entries *r = arg;
    Cjx__V1__AuditEntry *e =
        cjx__v1__audit_entry__unpack(NULL, a->body_len, a->body);
    if (e == NULL)
        return 0;
    if (strcmp(e->method, "cjxd/reload") == 0) {
        if (e->outcome_code == 0)
            r->accepted++;
        else
            r->refused++;
        snprintf(r->last_message, sizeof(r->last_message), "%s",
                 e->outcome_message);
    }
    cjx__v1__audit_entry__free_unpacked(e, NULL);
    return 0;
}

static struct reload_entries
reload_entries(struct cjx_store *store)
{
    struct reload_entries r = {0};
    struct cjx_errbuf eb;
    await_audit(store);
    if (cjx_store_read_audit(store, 0, 100000, keep_reload_entry, &r, &eb) != 0)
        fail_msg("%s", eb.msg);
    return r;
}

static void
test_reload__second_half_fails__every_module_keeps_the_old(void **state)
{
    struct fixture *f = *state;
    const struct cjx_conf *before = f->d.conf;
    uint64_t generation = before->generation;
    struct reload_entries was = reload_entries(f->d.store);

    /* A configuration that differs, refused after every module prepared
     * its part. */
    f->td.limits_yaml = "  rate_limit_per_agency: 55\n";
    harness_daemon_write_conf(&f->td);
    f->d.reload_hook = refuse_after_prepare;
    assert_int_equal(daemon_reload(&f->d), CJX_EINVAL);
    f->d.reload_hook = NULL;

    assert_ptr_equal(f->d.conf, before);
    assert_int_equal(f->d.conf->generation, generation);
    assert_int_not_equal(f->d.conf->limits.rate_limit_per_agency, 55);
    assert_every_module_on(&f->d, before);
    struct reload_entries now = reload_entries(f->d.store);
    assert_int_equal(now.accepted, was.accepted);
    assert_int_equal(now.refused, was.refused + 1);
    assert_non_null(strstr(now.last_message, "injected: a module refused"));

    /* Nothing was left half done: the same file reloads cleanly after. */
    assert_int_equal(daemon_reload(&f->d), 0);
    assert_int_equal(f->d.conf->limits.rate_limit_per_agency, 55);
    assert_every_module_on(&f->d, f->d.conf);
    now = reload_entries(f->d.store);
    assert_int_equal(now.accepted, was.accepted + 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_reload__file_rewritten_during_reload__one_load_everywhere,
            start_daemon, stop_daemon),
        cmocka_unit_test_setup_teardown(
            test_reload__second_half_fails__every_module_keeps_the_old,
            start_daemon, stop_daemon),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cjx_rpc_wait_released();
    return failed;
}
