/* cjxd: the Criminal Justice eXchange daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cjx/log.h"
#include "daemon.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: cjxd [-n] [-c FILE]\n"
            "  -c, --config FILE   configuration file (default /etc/cjxd/cjxd.yaml)\n"
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
               loaded.rules ? cjx_rules_registry_count(loaded.rules) : 0);
        daemon_loaded_free(&loaded);
        return 0;
    }
    enum cjx_log_level level;
    if (cjx_log_level_parse(loaded.conf->log_level, &level) == 0)
        cjx_log_set_level(level);

    /* Blocked before any thread starts, so gRPC's threads inherit the mask
     * and only sigwait below sees them. */
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

    for (;;) {
        int sig;
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            cjx_info("daemon", "SIGHUP: reloading");
            daemon_reload(&d);
            continue;
        }
        cjx_info("daemon", "%s: shutting down", strsignal(sig));
        break;
    }
    daemon_stop(&d);
    return 0;
}
