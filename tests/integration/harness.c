/* Test harness: starts and stops real daemons with generated certificates. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cjx/tls.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/record_service.methods.h"
#include "grpc/health/v1/health.methods.h"

static const char *
env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s is not set (run the tests through ctest)\n", name);
        exit(1);
    }
    return v;
}

const char *
harness_certs(void)
{
    return env_or_die("CJX_TEST_CERTS");
}

/* A loopback port nobody listens on right now. */
static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void
write_conf(struct test_daemon *d)
{
    const char *certs = harness_certs();
    FILE *f = fopen(d->conf, "w");
    if (f == NULL) {
        perror(d->conf);
        exit(1);
    }
    fprintf(f,
            "agency: %s\n"
            "trust_domain: cjx.example\n"
            "listen: 127.0.0.1:%d\n"
            "local_socket: %s\n"
            "state_dir: %s/state\n"
            "registry: %s%s\n"
            "log_level: info\n"
            "tls:\n"
            "  ca: %s/ca.pem\n",
            d->ori, d->port, d->socket, d->dir,
            d->registry_file[0] != '\0' ? d->registry_file : certs,
            d->registry_file[0] != '\0' ? "" : "/agencies.yaml", certs);
    if (d->cert_file[0] != '\0')
        fprintf(f, "  cert: %s\n  key: %s\n", d->cert_file, d->key_file);
    else
        fprintf(f, "  cert: %s/%s.pem\n  key: %s/%s.key\n", certs, d->slug,
                certs, d->slug);
    if (d->tls_yaml != NULL)
        fputs(d->tls_yaml, f);
    if (d->max_message_bytes > 0 || d->limits_yaml != NULL)
        fputs("limits:\n", f);
    if (d->max_message_bytes > 0)
        fprintf(f, "  max_message_bytes: %d\n", d->max_message_bytes);
    if (d->limits_yaml != NULL)
        fputs(d->limits_yaml, f);
    /* The shipped rule sets, as a deployment runs them. */
    if (getenv("CJX_TEST_RULES") != NULL)
        fprintf(f, "rules: %s\n", getenv("CJX_TEST_RULES"));
    if (d->extra_yaml != NULL)
        fputs(d->extra_yaml, f);
    fclose(f);
}

void
harness_daemon_write_conf(struct test_daemon *d)
{
    write_conf(d);
}

void
harness_daemon_init(struct test_daemon *d, const char *slug, const char *ori)
{
    int max = d->max_message_bytes;
    const char *limits = d->limits_yaml, *tls = d->tls_yaml;
    const char *extra = d->extra_yaml;
    memset(d, 0, sizeof(*d));
    d->max_message_bytes = max;
    d->limits_yaml = limits;
    d->tls_yaml = tls;
    d->extra_yaml = extra;
    d->slug = slug;
    d->ori = ori;
    snprintf(d->dir, sizeof(d->dir), "/tmp/cjx-test-XXXXXX");
    if (mkdtemp(d->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(d->conf, sizeof(d->conf), "%s/cjxd.yaml", d->dir);
    snprintf(d->socket, sizeof(d->socket), "%s/cjxd.sock", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/cjxd.log", d->dir);
    d->port = free_port();
    write_conf(d);
}

static void
print_log(const struct test_daemon *d)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", d->log);
    harness_run(cmd);
}

/* A list response's next_page_token, found by name: every List
 * response of the schema has one. NULL for a message without it, which
 * is a test calling something that is not a List method. */
static const char *
next_page_token(const ProtobufCMessage *page)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(page->descriptor,
                                                        "next_page_token");
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
        return NULL;
    const char *v = *(char *const *)((const char *)page + f->offset);
    return v != NULL ? v : "";
}

int
harness_each_page(struct cjx_client *cl, const struct cjx_method *m,
                  ProtobufCMessage *req, char **page_token,
                  void (*visit)(void *arg, const ProtobufCMessage *page),
                  void *arg)
{
    char token[128] = "";
    do {
        *page_token = token;
        ProtobufCMessage *page = NULL;
        struct cjx_client_status st;
        if (cjx_client_unary(cl, m, req, 10000, &page, &st) != 0 ||
            st.code != 0) {
            if (page != NULL)
                protobuf_c_message_free_unpacked(page, NULL);
            return -1;
        }
        const char *next = next_page_token(page);
        if (next == NULL) {
            protobuf_c_message_free_unpacked(page, NULL);
            return -1;
        }
        visit(arg, page);
        snprintf(token, sizeof(token), "%s", next);
        protobuf_c_message_free_unpacked(page, NULL);
    } while (token[0] != '\0');
    return 0;
}

int
harness_health_code(struct cjx_client *cl, int timeout_ms)
{
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    if (cjx_client_unary(cl, &grpc__health__v1__health__methods[HEALTH_CHECK],
                         &req.base, timeout_ms, &resp, &st) != 0)
        return -1;
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    return st.code;
}

static int
healthy(const struct test_daemon *d)
{
    struct cjx_client *cl = harness_client_local(d);
    int ok = harness_health_code(cl, 1000) == 0;
    cjx_client_free(cl);
    return ok;
}

int
harness_daemon_start(struct test_daemon *d)
{
    const char *cjxd = env_or_die("CJX_CJXD");
    d->pid = fork();
    if (d->pid == 0) {
        /* A test that dies must not leave daemons behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        execl(cjxd, "cjxd", "-c", d->conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            fprintf(stderr, "cjxd exited during start-up:\n");
            print_log(d);
            d->pid = 0;
            return -1;
        }
        struct stat sb;
        if (stat(d->socket, &sb) == 0 && healthy(d))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "cjxd did not become healthy:\n");
    print_log(d);
    return -1;
}

int
harness_daemon_stop(struct test_daemon *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int status;
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    if (!WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

void
harness_daemon_kill9(struct test_daemon *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

void
harness_daemon_signal(struct test_daemon *d, int sig)
{
    if (d->pid > 0)
        kill(d->pid, sig);
}

void
harness_daemon_cleanup(struct test_daemon *d)
{
    if (d->pid > 0)
        harness_daemon_kill9(d);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    harness_run(cmd);
}

int
harness_log_contains(const struct test_daemon *d, const char *text)
{
    FILE *f = fopen(d->log, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

int
harness_log_line_with(const struct test_daemon *d, const char *const *texts)
{
    FILE *f = fopen(d->log, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = 1;
        for (const char *const *t = texts; found && *t != NULL; t++)
            found = strstr(line, *t) != NULL;
    }
    fclose(f);
    return found;
}

int
harness_log_count(const struct test_daemon *d, const char *text)
{
    FILE *f = fopen(d->log, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static char *
read_pem_path(const char *path)
{
    char *pem;
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(path, 0, &pem, &len, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        exit(1);
    }
    return pem;
}

struct cjx_client *
harness_client_tls_at(const struct test_daemon *d, const char *cert_path,
                      const char *key_path)
{
    char target[64], ca_path[512];
    snprintf(target, sizeof(target), "127.0.0.1:%d", d->port);
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", harness_certs());
    char *ca = read_pem_path(ca_path);
    char *cert = read_pem_path(cert_path);
    char *key = read_pem_path(key_path);
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_tls(target, ca, cert, key, &cl, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        exit(1);
    }
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
    return cl;
}

int
harness_rawpeer(const struct test_daemon *d, const char *mode,
                const char *certdir, const char *client, int timeout_s,
                char *out, size_t out_len)
{
    const char *python = getenv("CJX_PYTHON");
    const char *script = getenv("CJX_RAWPEER");
    if (python == NULL || script == NULL) {
        fprintf(stderr, "CJX_PYTHON or CJX_RAWPEER is not set (run the tests "
                        "through ctest)\n");
        exit(1);
    }
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s %s %s 127.0.0.1 %d %s %s %d 2>&1", python,
             script, mode, d->port, certdir ? certdir : harness_certs(), client,
             timeout_s);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        perror("popen");
        exit(1);
    }
    size_t n = 0;
    if (out_len > 0)
        out[0] = '\0';
    char line[1024];
    while (fgets(line, sizeof(line), p) != NULL) {
        fprintf(stderr, "  rawpeer %s: %s", mode, line);
        size_t l = strlen(line);
        if (out_len > 0 && n + l < out_len) {
            memcpy(out + n, line, l + 1);
            n += l;
        }
    }
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *
read_pem(const char *name, const char *ext)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.%s", harness_certs(), name, ext);
    char *pem;
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(path, 0, &pem, &len, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        exit(1);
    }
    return pem;
}

struct cjx_client *
harness_client_tls(const struct test_daemon *d, const char *cert_name)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", d->port);
    char *ca = read_pem("ca", "pem");
    char *cert = cert_name ? read_pem(cert_name, "pem") : NULL;
    char *key = cert_name ? read_pem(cert_name, "key") : NULL;
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_tls(target, ca, cert, key, &cl, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        exit(1);
    }
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, cert ? strlen(cert) : 0);
    cjx_tls_free_pem(key, key ? strlen(key) : 0);
    return cl;
}

struct cjx_client *
harness_client_local(const struct test_daemon *d)
{
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_local(d->socket, &cl, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        exit(1);
    }
    return cl;
}

int
harness_run(const char *cmdline)
{
    int status = system(cmdline);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
harness_run_capture(const char *cmdline, char *out, size_t len)
{
    FILE *p = popen(cmdline, "r");
    if (p == NULL) {
        out[0] = '\0';
        return -1;
    }
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One order with what it needs beside it, so that a batch is one
 * allocation per message. */
struct order_item {
    Cjx__V1__CaseMessage cm;
    Cjx__V1__ReliefOrder o;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__RecordKey key;
    char id[32];
};

static Cjx__V1__CaseMessages *
order_batch(int n, const char *prefix)
{
    Cjx__V1__CaseMessages *b = calloc(1, sizeof(*b));
    struct order_item *it = calloc((size_t)n, sizeof(*it));
    Cjx__V1__CaseMessage **items = calloc((size_t)n, sizeof(*items));
    if (b == NULL || it == NULL || items == NULL)
        abort();
    cjx__v1__case_messages__init(b);
    for (int i = 0; i < n; i++) {
        snprintf(it[i].id, sizeof(it[i].id), "%s%d", prefix, i);
        cjx__v1__request_meta__init(&it[i].meta);
        cjx__v1__record_key__init(&it[i].key);
        cjx__v1__relief_order__init(&it[i].o);
        cjx__v1__case_message__init(&it[i].cm);
        it[i].meta.request_id = it[i].id;
        it[i].key.cii = "A40000001";
        it[i].key.court_case_number = "SF-A1";
        it[i].key.count_number = 1;
        it[i].o.meta = &it[i].meta;
        it[i].o.key = &it[i].key;
        it[i].o.relief = CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
        it[i].cm.message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
        it[i].cm.order = &it[i].o;
        items[i] = &it[i].cm;
    }
    b->messages = items;
    b->n_messages = (size_t)n;
    return b;
}

static void
order_batch_free(Cjx__V1__CaseMessages *b)
{
    /* The first message is the start of the one array of items. */
    if (b->n_messages > 0)
        free(b->messages[0]);
    free(b->messages);
    free(b);
}

Cjx__V1__CaseResults *
harness_deliver_orders(const struct test_daemon *d, const char *cert, int n,
                       const char *prefix, struct cjx_client_status *st)
{
    Cjx__V1__CaseMessages *batch = order_batch(n, prefix);
    struct cjx_client *cl = harness_client_tls(d, cert);
    ProtobufCMessage *resp = NULL;
    memset(st, 0, sizeof(*st));
    cjx_client_unary(cl, &cjx__v1__case_service__methods[CASE_SERVICE_DELIVER],
                     &batch->base, 10000, &resp, st);
    cjx_client_free(cl);
    order_batch_free(batch);
    return (Cjx__V1__CaseResults *)resp;
}
