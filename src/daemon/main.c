/* cjxd: the Criminal Justice eXchange daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "daemon.h"

/* The systemd watchdog: WATCHDOG=1 at half the interval systemd asks for,
 * but only while every server thread keeps coming back to its queue. A
 * daemon that pings while wedged would escape the restart that heals it. */
struct watchdog {
    int64_t interval_us; /* 0: systemd asked for none */
    int64_t next_us;     /* monotonic time of the next ping */
    int withheld;        /* the last check failed (said once in the log) */
};

static void
watchdog_init(struct watchdog *w)
{
    uint64_t usec = 0;
    memset(w, 0, sizeof(*w));
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        w->interval_us = (int64_t)usec;
        cjx_info("daemon",
                 "systemd watchdog every %lld ms: pinging at half that",
                 (long long)(w->interval_us / 1000));
    }
    w->next_us = cjx_clock_monotonic_us();
}

/* Pings if a ping is due and the server is responsive. */
static void
watchdog_tick(struct watchdog *w, struct cjx_daemon *d)
{
    if (w->interval_us == 0)
        return;
    int64_t now = cjx_clock_monotonic_us();
    if (now < w->next_us)
        return;
    /* Threads check in twice a second when idle; one that has been away
     * for half the watchdog interval is stuck in a handler or in gRPC. */
    int max_age_ms = (int)(w->interval_us / 2000);
    if (max_age_ms < 2000)
        max_age_ms = 2000;
    if (cjx_rpc_server_responsive(d->server, max_age_ms)) {
        sd_notify(0, "WATCHDOG=1");
        if (w->withheld)
            cjx_info("daemon", "server threads responsive again: watchdog "
                               "pings resume");
        w->withheld = 0;
    } else if (!w->withheld) {
        cjx_error("daemon",
                  "a server thread has not returned to its queue "
                  "for %d ms: withholding the watchdog ping",
                  max_age_ms);
        w->withheld = 1;
    }
    w->next_us = now + w->interval_us / 2;
}

/* Waits for one of signals, but no longer than until the next ping is due.
 * Returns the signal, or -1 when it is time to ping. */
static int
wait_signal(const sigset_t *signals, const struct watchdog *w)
{
    siginfo_t info;
    if (w->interval_us == 0)
        return sigwaitinfo(signals, &info);
    int64_t wait = w->next_us - cjx_clock_monotonic_us();
    if (wait < 0)
        wait = 0;
    struct timespec ts = {(time_t)(wait / 1000000),
                          (long)(wait % 1000000) * 1000};
    return sigtimedwait(signals, &info, &ts);
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: cjxd [-n] [-c FILE]\n"
            "  -c, --config FILE   configuration file (default "
            "/etc/cjxd/cjxd.yaml)\n"
            "  -n, --check         check the configuration, registry and\n"
            "                      certificates, then exit\n"
            "  -h, --help          this help\n"
            "Signals: SIGHUP reloads configuration and certificates, SIGTERM\n"
            "drains calls in progress and exits.\n");
}

int
main(int argc, char **argv)
{
    const char *path = "/etc/cjxd/cjxd.yaml";
    int check_only = 0;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:nh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (getenv("JOURNAL_STREAM") != NULL)
        cjx_log_set_journal(1);

    struct cjx_errbuf eb;
    struct daemon_loaded loaded;
    if (daemon_load(path, &loaded, &eb) != 0) {
        fprintf(stderr, "cjxd: %s\n", eb.msg);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration OK (agency %s, %zu registered agencies, "
               "%zu rule sets)\n",
               path, loaded.conf->agency, loaded.conf->registry.n,
               loaded.conf->rules ? cjx_rules_registry_count(loaded.conf->rules)
                                  : 0);
        daemon_loaded_free(&loaded);
        return 0;
    }
    daemon_apply_logging(loaded.conf);

    /* Blocked before any thread starts, so gRPC's threads inherit the mask
     * and only the wait below sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cjx_daemon d = {.conf_path = path};
    int err = daemon_start(&d, &loaded, &eb);
    daemon_loaded_free(&loaded);
    if (err != 0) {
        cjx_error("daemon", "cannot start: %s", eb.msg);
        return 1;
    }
    sd_notify(0, "READY=1");

    struct watchdog wd;
    watchdog_init(&wd);
    for (;;) {
        watchdog_tick(&wd, &d);
        int sig = wait_signal(&signals, &wd);
        if (sig < 0)
            continue; /* a ping is due, or EINTR */
        if (sig == SIGHUP) {
            cjx_info("daemon", "SIGHUP: reloading");
            daemon_reload(&d);
            continue;
        }
        cjx_info("daemon", "%s: shutting down", strsignal(sig));
        break;
    }
    daemon_stop(&d);
    cjx_rpc_wait_released();
    return 0;
}
