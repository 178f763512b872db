/* Real cjxd processes on loopback for integration tests. */
#ifndef CJX_TEST_HARNESS_H
#define CJX_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "cjx/client.h"
#include "cjx/v1/exchange.pb-c.h"

/* One daemon under test: its own directory, configuration, socket and
 * database, serving mTLS on a free loopback port. */
struct test_daemon {
    const char *slug; /* certificate name in the test certificate directory */
    const char *ori;
    char dir[256];
    char conf[320];
    char socket[320];
    char log[320];
    int port;
    pid_t pid;
    int max_message_bytes; /* 0 = default */
    /* Set before harness_daemon_init (which keeps them): more YAML lines
     * for the configuration, each "  key: value\n", under tls: and limits:. */
    const char *tls_yaml;
    const char *limits_yaml;
    /* Top-level YAML appended to the configuration (e.g. "exchange:
     * ..."), kept by harness_daemon_init. */
    const char *extra_yaml;
    /* Set after init, then harness_daemon_write_conf: the daemon's own
     * certificate and key files ("" = the slug's in the certificate
     * directory). */
    char cert_file[320];
    char key_file[320];
    /* Set after init, then harness_daemon_write_conf: the agency registry
     * ("" = the test certificate directory's agencies.yaml). */
    char registry_file[320];
};

/* Directory of certificates made by certs/make-dev-certs.sh for the tests. */
const char *harness_certs(void);

/* Prepares a daemon for agency slug/ori in a new temporary directory and
 * writes its configuration. Does not start it. */
void harness_daemon_init(struct test_daemon *d, const char *slug,
                         const char *ori);
/* Writes d's configuration again, after its fields changed. */
void harness_daemon_write_conf(struct test_daemon *d);
/* Starts cjxd and waits until it answers a health check on its socket.
 * Returns 0, or -1 (the log is printed to stderr). */
int harness_daemon_start(struct test_daemon *d);
/* SIGTERM and wait; returns the exit status (or -1 if killed by a signal). */
int harness_daemon_stop(struct test_daemon *d);
/* SIGKILL and reap: a crash. */
void harness_daemon_kill9(struct test_daemon *d);
/* Sends a signal to the running daemon. */
void harness_daemon_signal(struct test_daemon *d, int sig);
/* Removes the daemon's directory (stop it first). */
void harness_daemon_cleanup(struct test_daemon *d);
/* Calls the List method m on cl page after page, with *page_token (a
 * field of req) set to the token the page before returned ("" first), and
 * hands each response to visit in order, until one comes back with an
 * empty next_page_token. Returns 0, or -1 if a call failed (visit then sees
 * no more pages). */
int harness_each_page(struct cjx_client *cl, const struct cjx_method *m,
                      ProtobufCMessage *req, char **page_token,
                      void (*visit)(void *arg, const ProtobufCMessage *page),
                      void *arg);

/* 1 if the daemon's log contains text. */
int harness_log_contains(const struct test_daemon *d, const char *text);
/* 1 if one line of the daemon's log contains every text of the
 * NULL-terminated list texts. */
int harness_log_line_with(const struct test_daemon *d,
                          const char *const *texts);
/* Number of lines of the daemon's log that contain text. */
int harness_log_count(const struct test_daemon *d, const char *text);

/* A client of d over mTLS presenting the certificate cert_name (e.g. "sf-da",
 * "expired"); NULL cert_name presents none. ca_name NULL = the trusted CA. */
struct cjx_client *harness_client_tls(const struct test_daemon *d,
                                      const char *cert_name);
/* As harness_client_tls, presenting the certificate and key at these paths. */
struct cjx_client *harness_client_tls_at(const struct test_daemon *d,
                                         const char *cert_path,
                                         const char *key_path);
/* Runs tests/integration/rawpeer.py MODE against d as client (the name of a
 * certificate in certdir, NULL = the test certificate directory), echoing its
 * output to stderr and keeping it in out. Returns its exit status (0 = the
 * daemon behaved). Needs CJX_PYTHON and CJX_RAWPEER (set by ctest). */
int harness_rawpeer(const struct test_daemon *d, const char *mode,
                    const char *certdir, const char *client, int timeout_s,
                    char *out, size_t out_len);
/* The gRPC status of a grpc.health.v1 check through cl, or -1 when the
 * call could not be made. */
int harness_health_code(struct cjx_client *cl, int timeout_ms);
/* A client on d's local operator socket. */
struct cjx_client *harness_client_local(const struct test_daemon *d);

/* Runs a command line through /bin/sh; returns its exit status. */
int harness_run(const char *cmdline);
/* As harness_run, keeping what it prints on stdout in out (NUL-ended). */
int harness_run_capture(const char *cmdline, char *out, size_t len);

/* Delivers to d, presenting certificate cert, a batch of n court orders
 * for one case with request ids "<prefix>0", "<prefix>1"...: orders are the
 * court's to send, so a prosecutor's are all refused. Returns the results
 * (free with protobuf_c_message_free_unpacked), or NULL when the call
 * failed; the call's status is in *st. */
Cjx__V1__CaseResults *harness_deliver_orders(const struct test_daemon *d,
                                             const char *cert, int n,
                                             const char *prefix,
                                             struct cjx_client_status *st);

#endif
