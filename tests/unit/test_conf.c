/* Unit tests for src/conf: the daemon configuration and the agency registry. */
#include <dirent.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/conf.h"
#include "cjx/error.h"

/* ---- Allocation-failure injection ------------------------------------
 *
 * The test binary replaces malloc and friends (glibc routes its own and
 * libyaml's allocations through them), so it can fail the Nth allocation
 * and count blocks that were not freed. Sanitizers replace malloc
 * themselves, so there the injection tests are skipped.
 *
 * libyaml 0.2.5's composer (yaml_parser_load) leaks a node's item stack
 * when a later allocation inside it fails; that is not ours to fix, so the
 * leak count is only required to be zero when the failed allocation was
 * not made from inside libyaml. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FAULT_INJECTION 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer)
#define FAULT_INJECTION 0
#endif
#endif
#ifndef FAULT_INJECTION
#define FAULT_INJECTION 1
#endif

#if FAULT_INJECTION
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static struct {
    int counting;       /* count live blocks */
    long fail_at;       /* 1-based allocation to fail; 0 = none */
    int persistent;     /* keep failing after fail_at */
    long calls;         /* allocations seen while counting */
    long live;          /* blocks allocated minus freed while counting */
    long failed;        /* allocations refused */
    int failed_in_yaml; /* the first refused one was libyaml's */
} fault;

/* Whether the allocation being made comes from libyaml (directly or through
 * strdup), judged by the nearest frames of the call stack. */
static int
called_from_libyaml(void)
{
    void *frames[6];
    int n = backtrace(frames, 6);
    for (int i = 1; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) != 0 && info.dli_fname != NULL &&
            strstr(info.dli_fname, "libyaml") != NULL)
            return 1;
    }
    return 0;
}

static int
fault_fail_now(void)
{
    if (!fault.counting)
        return 0;
    fault.calls++;
    if (fault.fail_at > 0 &&
        (fault.calls == fault.fail_at ||
         (fault.persistent && fault.calls > fault.fail_at))) {
        if (fault.failed++ == 0) {
            fault.counting = 0;
            fault.failed_in_yaml = called_from_libyaml();
            fault.counting = 1;
        }
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *
malloc(size_t n)
{
    if (fault_fail_now())
        return NULL;
    void *p = __libc_malloc(n);
    if (p != NULL && fault.counting)
        fault.live++;
    return p;
}

void *
calloc(size_t n, size_t size)
{
    if (fault_fail_now())
        return NULL;
    void *p = __libc_calloc(n, size);
    if (p != NULL && fault.counting)
        fault.live++;
    return p;
}

void *
realloc(void *old, size_t n)
{
    if (fault_fail_now())
        return NULL;
    void *p = __libc_realloc(old, n);
    if (fault.counting) {
        if (old == NULL && p != NULL)
            fault.live++;
        else if (old != NULL && n == 0)
            fault.live--;
    }
    return p;
}

void
free(void *p)
{
    if (p != NULL && fault.counting)
        fault.live--;
    __libc_free(p);
}
#endif

/* ---- Helpers ---------------------------------------------------------- */

static const char *
data_dir(void)
{
    const char *d = getenv("CJX_TEST_DATA");
    if (d == NULL)
        fail_msg("CJX_TEST_DATA is not set (run the test through ctest)");
    return d;
}

static void
data_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/conf/%s", data_dir(), rel);
}

static char *
read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* Replaces every occurrence of pat in s (in place, into cap bytes). */
static void
substitute(char *s, size_t cap, const char *pat, const char *with)
{
    char out[2048];
    size_t n = 0, pl = strlen(pat), wl = strlen(with);
    for (const char *p = s; *p != '\0';) {
        if (strncmp(p, pat, pl) == 0) {
            assert_true(n + wl < sizeof(out));
            memcpy(out + n, with, wl);
            n += wl;
            p += pl;
        } else {
            assert_true(n + 1 < sizeof(out));
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    assert_true(n < cap);
    memcpy(s, out, n + 1);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs certs/make-dev-certs.sh into a new temporary directory. */
static char *
make_dev_certs(void)
{
    char script[PATH_MAX];
    snprintf(script, sizeof(script), "%s/../../certs/make-dev-certs.sh",
             data_dir());
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(PATH_MAX);
    assert_non_null(dir);
    snprintf(dir, PATH_MAX, "%s/cjx-test-conf-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execl("/bin/bash", "bash", script, dir, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s %s failed", script, dir);
    return dir;
}

/* Checks every file in a directory of broken inputs against the error its
 * first line announces: "# expect: CJX_ECODE message", where @FILE@ stands
 * for the path passed to the loader and @DIR@ for its directory. */
static void
check_expectations(const char *sub, int as_registry)
{
    char dir[PATH_MAX];
    data_path(dir, sizeof(dir), sub);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n > 0);

    int checked = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 5, ".yaml") != 0) {
            free(names[i]);
            continue;
        }
        char path[2 * PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        free(names[i]);

        size_t len;
        char *text = read_text(path, &len);
        char code[64], want[1024];
        if (sscanf(text, "# expect: %63s %1023[^\n]", code, want) != 2)
            fail_msg("%s: no '# expect:' line", path);
        free(text);
        substitute(want, sizeof(want), "@FILE@", path);
        substitute(want, sizeof(want), "@DIR@", dir);

        struct cjx_errbuf eb = {{0}};
        int rc;
        if (as_registry) {
            struct cjx_registry reg = {NULL, 0};
            rc = cjx_registry_load(path, &reg, &eb);
            if (rc == 0)
                cjx_registry_fini(&reg);
        } else {
            struct cjx_conf *c = NULL;
            rc = cjx_conf_load(path, &c, &eb);
            if (rc == 0)
                cjx_conf_unref(c);
        }
        if (strcmp(cjx_err_name(rc), code) != 0 || strcmp(eb.msg, want) != 0) {
            print_error("%s:\n  want %s %s\n  got  %s %s\n", path, code, want,
                        cjx_err_name(rc), eb.msg);
            wrong++;
        }
        checked++;
    }
    free(names);
    assert_true(checked > 0);
    if (wrong > 0)
        fail_msg("%d of %d files in %s gave another result", wrong, checked,
                 sub);
}

/* ---- Valid files ---------------------------------------------------------- */

static void
test_conf__every_key_set__values_read_and_paths_resolved(void **state)
{
    (void)state;
    char path[PATH_MAX], dir[PATH_MAX], want[PATH_MAX + 64];
    data_path(path, sizeof(path), "valid.yaml");
    data_path(dir, sizeof(dir), "");
    dir[strlen(dir) - 1] = '\0'; /* drop the trailing slash */

    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_conf_load(path, &c, &eb);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(c->path, path);
    assert_string_equal(c->agency, "CA038013A");
    assert_string_equal(c->trust_domain, "cjx.example");
    assert_string_equal(c->listen, "127.0.0.1:7442");
    assert_string_equal(c->local_socket, "/run/cjx/cjxd.sock");
    snprintf(want, sizeof(want), "%s/state", dir);
    assert_string_equal(c->state_dir, want);
    snprintf(want, sizeof(want), "%s/agencies.yaml", dir);
    assert_string_equal(c->registry_path, want);
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->log_format, CJX_LOG_JSON);
    assert_string_equal(c->metrics_listen, "[::1]:9464");
    snprintf(want, sizeof(want), "%s/certs/ca.pem", dir);
    assert_string_equal(c->tls.ca, want);
    snprintf(want, sizeof(want), "%s/certs/sf-da.pem", dir);
    assert_string_equal(c->tls.cert, want);
    assert_string_equal(c->tls.key, "/etc/cjx/sf-da.key");
    snprintf(want, sizeof(want), "%s/certs/crl", dir);
    assert_string_equal(c->tls.crl_dir, want);
    assert_int_equal(c->limits.max_message_bytes, 1048576);
    assert_int_equal(c->limits.max_concurrent_streams, 50);
    assert_int_equal(c->limits.handshake_timeout_ms, 5000);
    assert_int_equal(c->limits.idle_timeout_ms, 3600000);
    assert_int_equal(c->limits.keepalive_time_ms, 30000);
    assert_int_equal(c->limits.keepalive_timeout_ms, 10000);
    assert_int_equal(c->limits.rate_limit_per_agency, 200);
    assert_int_equal(c->registry.n, 7);
    cjx_conf_unref(c);
}

static void
test_conf__only_required_keys__defaults_apply(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "minimal.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_conf_load(path, &c, &eb);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(c->listen, "[::]:7441");
    assert_string_equal(c->local_socket, "/var/lib/cjx/cjxd.sock");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->log_format, CJX_LOG_TEXT);
    assert_null(c->metrics_listen);
    assert_string_equal(c->tls.crl_dir, "");
    /* The defaults documented in include/cjx/conf.h. */
    assert_int_equal(c->limits.max_message_bytes, 4 * 1024 * 1024);
    assert_int_equal(c->limits.max_concurrent_streams, 100);
    assert_int_equal(c->limits.handshake_timeout_ms, 10000);
    assert_int_equal(c->limits.idle_timeout_ms, 600000);
    assert_int_equal(c->limits.keepalive_time_ms, 60000);
    assert_int_equal(c->limits.keepalive_timeout_ms, 20000);
    assert_int_equal(c->limits.rate_limit_per_agency, 0);
    cjx_conf_unref(c);
}

static void
test_conf__store__sqlite_unless_set(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "minimal.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(c->store.backend, CJX_STORE_SQLITE);
    assert_string_equal(c->store.dsn, "");
    assert_string_equal(c->store.password_file, "");
    cjx_conf_unref(c);
}

static void
test_conf__store_postgresql__dsn_and_password_file_read(void **state)
{
    (void)state;
    char path[PATH_MAX], want[PATH_MAX + 32];
    data_path(path, sizeof(path), "store-postgresql.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(c->store.backend, CJX_STORE_POSTGRESQL);
    assert_string_equal(c->store.dsn, "host=db.example port=5432 dbname=cjx "
                                      "user=cjxd sslmode=verify-full");
    /* Resolved against the file's directory, like every path. */
    data_path(want, sizeof(want), "secrets/pg.pass");
    assert_string_equal(c->store.password_file, want);
    assert_int_equal(c->store.outbox_lease_seconds, 30);
    assert_string_equal(c->store.replica, "doj-a");
    cjx_conf_unref(c);
}

static void
test_conf__relative_config_path__made_absolute(void **state)
{
    (void)state;
    char dir[PATH_MAX], cwd[PATH_MAX], here[PATH_MAX], want[PATH_MAX + 32];
    data_path(dir, sizeof(dir), "");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_non_null(getcwd(here, sizeof(here)));

    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_conf_load("valid.yaml", &c, &eb);
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    snprintf(want, sizeof(want), "%s/valid.yaml", here);
    assert_string_equal(c->path, want);
    snprintf(want, sizeof(want), "%s/certs/ca.pem", here);
    assert_string_equal(c->tls.ca, want);
    cjx_conf_unref(c);
}

/* "%d/" stands for systemd's credentials directory, as it does in units. */
static void
test_conf__credentials_paths__resolved_from_the_environment(void **state)
{
    (void)state;
    static const char text[] =
        "agency: CA038013A\ntrust_domain: cjx.example\nlisten: 127.0.0.1:1\n"
        "state_dir: s\nregistry: agencies.yaml\n"
        "tls: {ca: a, cert: '%d/cjxd.pem', key: \"%d/tls.key\"}\n";
    char path[PATH_MAX], want[PATH_MAX + 8];
    data_path(path, sizeof(path), "inline.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cjxd.service", 1);
    int rc = cjx_conf_parse(text, sizeof(text) - 1, path, &c, &eb);
    unsetenv("CREDENTIALS_DIRECTORY");
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(c->tls.key, "/run/credentials/cjxd.service/tls.key");
    assert_string_equal(c->tls.cert, "/run/credentials/cjxd.service/cjxd.pem");
    data_path(want, sizeof(want), "a");
    assert_string_equal(c->tls.ca, want); /* others stay beside the file */
    cjx_conf_unref(c);

    /* Outside systemd there is no such directory: said at the key. */
    c = NULL;
    assert_int_equal(cjx_conf_parse(text, sizeof(text) - 1, path, &c, &eb),
                     CJX_EPARSE);
    assert_null(c);
    if (strstr(eb.msg, "inline.yaml:6:") == NULL ||
        strstr(eb.msg, "tls.cert: a path starting with %d/ needs "
                       "$CREDENTIALS_DIRECTORY") == NULL)
        fail_msg("unexpected message: %s", eb.msg);
}

/* An endpoint may list the addresses of an agency's replicas; they are
 * read into the one string the gRPC client takes. */
static void
test_conf__registry__endpoint_lists_replicas(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "agencies-replicas.yaml");
    struct cjx_registry reg = {NULL, 0};
    struct cjx_errbuf eb = {{0}};
    if (cjx_registry_load(path, &reg, &eb) != 0)
        fail_msg("%s", eb.msg);
    const struct cjx_agency *doj = cjx_registry_find(&reg, "CA0000001");
    assert_string_equal(doj->endpoint,
                        "10.0.0.1:7443,10.0.0.2:7443,10.0.0.3:7444");
    assert_string_equal(doj->tls_name, "cjx.doj.example");
    const struct cjx_agency *da = cjx_registry_find(&reg, "CA038013A");
    assert_string_equal(da->endpoint, "[2001:db8::1]:7443,[2001:db8::2]:7443");
    assert_string_equal(da->tls_name, "cjx.sfda.example");
    /* A list of one is one address, and needs no name. */
    const struct cjx_agency *court = cjx_registry_find(&reg, "CA038033J");
    assert_string_equal(court->endpoint, "127.0.0.1:7445");
    assert_string_equal(court->tls_name, "");
    const struct cjx_agency *pd = cjx_registry_find(&reg, "CA038023P");
    assert_string_equal(pd->endpoint, "cjx.sfpd.example:7443");
    assert_string_equal(pd->tls_name, "pd.sf.example");
    cjx_registry_fini(&reg);
}

static void
test_conf__registry__sorted_and_found_by_ori(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "agencies.yaml");
    struct cjx_registry reg = {NULL, 0};
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_registry_load(path, &reg, &eb);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(reg.n, 7);
    for (size_t i = 1; i < reg.n; i++)
        assert_true(strcmp(reg.agencies[i - 1].ori, reg.agencies[i].ori) < 0);

    const struct cjx_agency *doj = cjx_registry_find(&reg, "CA0000001");
    assert_non_null(doj);
    assert_int_equal(doj->role, CJX_ROLE_DOJ);
    assert_string_equal(doj->county, "");
    assert_string_equal(doj->endpoint, "doj.cjx.example:7443");
    assert_string_equal(doj->name, "California Department of Justice");

    const struct cjx_agency *pd = cjx_registry_find(&reg, "CA038023P");
    assert_non_null(pd);
    assert_int_equal(pd->role, CJX_ROLE_DEFENDER);
    assert_string_equal(pd->county, "San Francisco");
    assert_string_equal(pd->endpoint, "[::1]:7444");

    const struct cjx_agency *la = cjx_registry_find(&reg, "CA019013A");
    assert_non_null(la);
    assert_string_equal(la->endpoint, "");
    assert_string_equal(la->tls_name, "");
    assert_string_equal(la->county, "Los Angeles");

    /* Every registered ORI is found, and only those. */
    for (size_t i = 0; i < reg.n; i++)
        assert_ptr_equal(cjx_registry_find(&reg, reg.agencies[i].ori),
                         &reg.agencies[i]);
    assert_null(cjx_registry_find(&reg, "CA099999X"));
    assert_null(cjx_registry_find(&reg, "CA000000"));
    assert_null(cjx_registry_find(&reg, ""));
    assert_null(cjx_registry_find(&reg, NULL));
    assert_null(cjx_registry_find(NULL, "CA0000001"));
    cjx_registry_fini(&reg);
    assert_int_equal(reg.n, 0);
    cjx_registry_fini(&reg); /* twice is harmless */
}

static void
test_conf__role_names__round_trip(void **state)
{
    (void)state;
    static const struct {
        enum cjx_role role;
        const char *name;
    } roles[] = {{CJX_ROLE_DOJ, "DOJ"},
                 {CJX_ROLE_PROSECUTOR, "PROSECUTOR"},
                 {CJX_ROLE_DEFENDER, "DEFENDER"},
                 {CJX_ROLE_COURT, "COURT"}};
    for (size_t i = 0; i < 4; i++) {
        enum cjx_role r = CJX_ROLE_UNSPECIFIED;
        assert_string_equal(cjx_role_name(roles[i].role), roles[i].name);
        assert_int_equal(cjx_role_parse(roles[i].name, &r), 0);
        assert_int_equal(r, roles[i].role);
    }
    enum cjx_role r = CJX_ROLE_COURT;
    assert_int_equal(cjx_role_parse("doj", &r), CJX_EINVAL);
    assert_int_equal(cjx_role_parse("UNSPECIFIED", &r), CJX_EINVAL);
    assert_int_equal(cjx_role_parse("", &r), CJX_EINVAL);
    assert_int_equal(cjx_role_parse(NULL, &r), CJX_EINVAL);
    assert_int_equal(r, CJX_ROLE_COURT);
    assert_string_equal(cjx_role_name(CJX_ROLE_UNSPECIFIED), "UNSPECIFIED");
    assert_string_equal(cjx_role_name((enum cjx_role)77), "UNSPECIFIED");
}

static void
test_conf__unref__accepts_null(void **state)
{
    (void)state;
    cjx_conf_unref(NULL);
    cjx_registry_fini(NULL);
    struct cjx_registry empty = {NULL, 0};
    cjx_registry_fini(&empty);
}

/* ---- Sharing: references and generations ----------------------------------- */

struct ref_churn {
    const struct cjx_conf *conf;
    long rounds;
    long mismatches; /* cjx_conf_ref returned another pointer */
};

static void *
churn_references(void *arg)
{
    struct ref_churn *r = arg;
    for (long i = 0; i < r->rounds; i++) {
        const struct cjx_conf *mine = cjx_conf_ref(r->conf);
        if (mine != r->conf || mine->registry.n == 0)
            r->mismatches++;
        cjx_conf_unref(mine);
    }
    return NULL;
}

/* The contract of include/cjx/conf.h: a load holds one reference, each
 * cjx_conf_ref one more (the same object), an unref that is not the last
 * frees nothing, and the last frees all the load allocated, however many
 * threads took and gave back references meanwhile. */
static void
test_conf__references__only_the_last_unref_frees(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "minimal.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
#if FAULT_INJECTION
    memset(&fault, 0, sizeof(fault));
    fault.counting = 1;
#endif
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
#if FAULT_INJECTION
    fault.counting = 0;
    long held = fault.live; /* the blocks the configuration holds */
    assert_true(held > 0);
#endif
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_ptr_equal(cjx_conf_ref(c), c);
    assert_ptr_equal(cjx_conf_ref(c), c);
    assert_int_equal(atomic_load(&c->refs), 3);

    struct ref_churn churn[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        churn[i] = (struct ref_churn){.conf = c, .rounds = 20000};
        assert_int_equal(
            pthread_create(&threads[i], NULL, churn_references, &churn[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(churn[i].mismatches, 0);
    }
    assert_int_equal(atomic_load(&c->refs), 3);

#if FAULT_INJECTION
    fault.counting = 1;
#endif
    cjx_conf_unref(c);
    cjx_conf_unref(c);
#if FAULT_INJECTION
    assert_int_equal(fault.live, held); /* nothing freed yet */
#endif
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_string_equal(c->listen, "[::]:7441"); /* still whole */
    cjx_conf_unref(c);
#if FAULT_INJECTION
    fault.counting = 0;
    assert_int_equal(fault.live, 0); /* everything the load made */
#endif
    cjx_conf_ref(NULL);
    cjx_conf_unref(NULL);
}

/* Each load is a configuration of its own, told apart by its generation:
 * distinct and increasing, also for the same file read twice. */
static void
test_conf__generation__new_for_every_load(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "minimal.yaml");
    struct cjx_conf *a = NULL, *b = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &a, &eb) != 0 || cjx_conf_load(path, &b, &eb) != 0)
        fail_msg("%s", eb.msg);
    struct cjx_conf *by_hand = cjx_conf_new();
    assert_non_null(by_hand);
    assert_true(a->generation > 0);
    assert_true(b->generation > a->generation);
    assert_true(by_hand->generation > b->generation);
    assert_int_equal(atomic_load(&by_hand->refs), 1);
    cjx_conf_unref(a);
    cjx_conf_unref(b);
    cjx_conf_unref(by_hand);
}

/* A slot holds one reference; setting it gives that one back, and those
 * who took the old configuration from it keep theirs. */
static void
test_conf__slot__set_replaces_and_holders_keep_theirs(void **state)
{
    (void)state;
    struct cjx_conf *a = cjx_conf_new(), *b = cjx_conf_new();
    assert_non_null(a);
    assert_non_null(b);
    struct cjx_conf_slot slot;
    cjx_conf_slot_init(&slot, a);
    assert_int_equal(atomic_load(&a->refs), 2);
    const struct cjx_conf *held = cjx_conf_slot_get(&slot);
    assert_ptr_equal(held, a);
    assert_int_equal(atomic_load(&a->refs), 3);

    cjx_conf_slot_set(&slot, b);
    assert_int_equal(atomic_load(&a->refs), 2); /* ours and held */
    assert_int_equal(atomic_load(&b->refs), 2);
    const struct cjx_conf *now = cjx_conf_slot_get(&slot);
    assert_ptr_equal(now, b);
    cjx_conf_unref(now);
    cjx_conf_unref(held);
    assert_int_equal(atomic_load(&a->refs), 1);

    cjx_conf_slot_fini(&slot);
    assert_int_equal(atomic_load(&b->refs), 1);
    cjx_conf_slot_init(&slot, NULL);
    assert_null(cjx_conf_slot_get(&slot));
    cjx_conf_slot_fini(&slot);
    cjx_conf_unref(a);
    cjx_conf_unref(b);
}

/* ---- Refusals ------------------------------------------------------------- */

static void
test_conf__broken_configs__refused_at_the_right_place(void **state)
{
    (void)state;
    check_expectations("bad", 0);
}

static void
test_conf__broken_registries__refused_at_the_right_place(void **state)
{
    (void)state;
    check_expectations("bad-registry", 1);
}

static void
test_conf__failed_load__leaves_output_untouched(void **state)
{
    (void)state;
    char path[PATH_MAX];
    struct cjx_errbuf eb = {{0}};
    struct cjx_conf *sentinel = (struct cjx_conf *)&eb;
    struct cjx_conf *c = sentinel;

    data_path(path, sizeof(path), "bad/duplicate_key.yaml");
    assert_int_equal(cjx_conf_load(path, &c, &eb), CJX_EPARSE);
    assert_ptr_equal(c, sentinel);
    data_path(path, sizeof(path), "bad/agency_not_registered.yaml");
    assert_int_equal(cjx_conf_load(path, &c, &eb), CJX_EPARSE);
    assert_ptr_equal(c, sentinel);
    data_path(path, sizeof(path), "no-such-file.yaml");
    assert_int_equal(cjx_conf_load(path, &c, &eb), CJX_EIO);
    assert_ptr_equal(c, sentinel);

    struct cjx_agency a;
    struct cjx_registry reg = {&a, 42};
    data_path(path, sizeof(path), "bad-registry/duplicate_ori.yaml");
    assert_int_equal(cjx_registry_load(path, &reg, &eb), CJX_EPARSE);
    assert_ptr_equal(reg.agencies, &a);
    assert_int_equal(reg.n, 42);

    /* A NULL error buffer is allowed. */
    assert_int_equal(cjx_registry_load(path, &reg, NULL), CJX_EPARSE);
    assert_int_equal(cjx_conf_load(path, &c, NULL), CJX_EPARSE);
}

static void
test_conf__unreadable_files__refused_with_the_file_named(void **state)
{
    (void)state;
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_conf_load("/nonexistent/cjxd.yaml", &c, &eb), CJX_EIO);
    assert_string_equal(eb.msg,
                        "/nonexistent/cjxd.yaml: No such file or directory");
    char dir[PATH_MAX];
    data_path(dir, sizeof(dir), "bad");
    assert_int_equal(cjx_conf_load(dir, &c, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, "not a regular file"));

    /* A (sparse) file over the 4 MiB cap is refused before it is read. */
    const char *tmp = getenv("TMPDIR");
    char big[PATH_MAX];
    snprintf(big, sizeof(big), "%s/cjx-test-conf-big-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    int fd = mkstemp(big);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (4 << 20) + 1), 0);
    close(fd);
    struct cjx_registry reg = {NULL, 0};
    assert_int_equal(cjx_conf_load(big, &c, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, ": larger than 4194304 bytes"));
    assert_int_equal(cjx_registry_load(big, &reg, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, ": larger than 4194304 bytes"));
    unlink(big);
    assert_null(c);
}

/* Text of a configuration given inline; it resolves its registry against
 * tests/data/conf. */
static int
parse_inline(const char *text, size_t len, struct cjx_errbuf *eb)
{
    char path[PATH_MAX];
    data_path(path, sizeof(path), "inline.yaml");
    struct cjx_conf *c = NULL;
    int rc = cjx_conf_parse(text, len, path, &c, eb);
    if (rc == 0) {
        assert_non_null(c);
        cjx_conf_unref(c);
    }
    return rc;
}

#define INLINE_HEAD                                                       \
    "agency: CA038013A\ntrust_domain: cjx.example\nlisten: 127.0.0.1:1\n" \
    "state_dir: s\nregistry: agencies.yaml\n"                             \
    "tls: {ca: a, cert: b, key: c}\n"

static void
test_conf__metrics_without_listen__loopback_only(void **state)
{
    (void)state;
    static const char text[] = INLINE_HEAD "metrics: {}\n";
    char path[PATH_MAX];
    data_path(path, sizeof(path), "inline.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb;
    if (cjx_conf_parse(text, sizeof(text) - 1, path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
    cjx_conf_unref(c);
}

static void
test_conf__limits__bounds_are_inclusive(void **state)
{
    (void)state;
    /* The ranges documented in docs/config.md, written out independently. */
    static const struct {
        const char *key;
        long min, max;
    } ranges[] = {
        {"max_message_bytes", 65536, 67108864},
        {"max_concurrent_streams", 1, 10000},
        {"handshake_timeout_ms", 100, 120000},
        {"idle_timeout_ms", 1000, 3600000},
        {"keepalive_time_ms", 10000, 7200000},
        {"keepalive_timeout_ms", 1000, 600000},
        {"rate_limit_per_agency", 0, 1000000},
        {"stream_buffer_bytes", 65536, 67108864},
        {"max_streams_per_connection", 1, 10000},
        {"max_streams_per_agency", 1, 100000},
        {"stream_idle_timeout_s", 1, 86400},
        {"bulk_max_messages", 1, 10000},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        const long values[] = {ranges[i].min, ranges[i].max, ranges[i].min - 1,
                               ranges[i].max + 1};
        for (size_t v = 0; v < 4; v++) {
            char text[512];
            struct cjx_errbuf eb = {{0}};
            int n =
                snprintf(text, sizeof(text), INLINE_HEAD "limits:\n  %s: %ld\n",
                         ranges[i].key, values[v]);
            int rc = parse_inline(text, (size_t)n, &eb);
            if ((v < 2) != (rc == 0))
                fail_msg("%s: %ld gave %s (%s)", ranges[i].key, values[v],
                         cjx_err_name(rc), eb.msg);
            if (rc != 0)
                assert_non_null(strstr(eb.msg, "is out of range"));
        }
    }
}

static void
test_conf__invalid_utf8__refused_with_position(void **state)
{
    (void)state;
    static const char text[] = INLINE_HEAD "log_level: \"in\xff\"\n";
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(parse_inline(text, sizeof(text) - 1, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, "inline.yaml:7:15: "));
    assert_non_null(strstr(eb.msg, "(byte 0xff)"));
}

static void
test_conf__nul_byte_in_text__refused(void **state)
{
    (void)state;
    static const char text[] = INLINE_HEAD "log_level: in\0fo\n";
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(parse_inline(text, sizeof(text) - 1, &eb), CJX_EPARSE);
}

static void
test_conf__control_characters_in_values__not_echoed(void **state)
{
    (void)state;
    static const char text[] = INLINE_HEAD "\"evil\\nkey\\e[2J\": 1\n";
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(parse_inline(text, sizeof(text) - 1, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, "unknown key 'evil?key?[2J'"));
    assert_null(strchr(eb.msg, '\n'));
    assert_null(strchr(eb.msg, '\x1b'));
}

static void
test_conf__aliases__are_not_expanded(void **state)
{
    (void)state;
    /* Aliases are references, not copies, and the walker descends only as
     * deep as the schema, so neither fan-out nor a cycle can hold it. */
    static const char fanout[] =
        INLINE_HEAD "limits: &a {idle_timeout_ms: 5000}\n"
                    "x: [*a, *a, *a, *a, *a, *a, *a, *a]\n";
    static const char cycle[] = INLINE_HEAD "limits: &b [*b, *b]\n";
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(parse_inline(fanout, sizeof(fanout) - 1, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, "unknown key 'x'"));
    assert_int_equal(parse_inline(cycle, sizeof(cycle) - 1, &eb), CJX_EPARSE);
    assert_non_null(
        strstr(eb.msg, "limits: expected a mapping, found a sequence"));
}

/* ---- Robustness ----------------------------------------------------------- */

static void
check_survivor(int rc, const struct cjx_errbuf *eb)
{
    if (rc == 0)
        return;
    if (rc != CJX_EPARSE && rc != CJX_EIO)
        fail_msg("unexpected %s: %s", cjx_err_name(rc), eb->msg);
    assert_true(eb->msg[0] != '\0');
    assert_null(strchr(eb->msg, '\n'));
}

/* Truncations and single-byte corruptions of valid files: each must load
 * or fail with a message, never crash or leak (ASan and valgrind watch). */
static void
test_conf__garbled_variants__never_crash(void **state)
{
    (void)state;
    static const unsigned char junk[] = {
        '\0', ':',  ' ', '\n', '-', '[', '{', '}', '&',  '*',  '!', '"',
        '\'', '\t', '#', '|',  '>', '%', '?', ',', 0xff, 0xc3, '9', 'A'};
    static const char *const files[] = {"valid.yaml", "agencies.yaml"};

    for (size_t f = 0; f < 2; f++) {
        char path[PATH_MAX];
        size_t len;
        data_path(path, sizeof(path), files[f]);
        char *orig = read_text(path, &len);
        char *text = malloc(len + 1);
        assert_non_null(text);
        long loaded = 0, refused = 0;

        for (size_t cut = 0; cut <= len; cut++) {
            struct cjx_errbuf eb = {{0}};
            int rc;
            memcpy(text, orig, len);
            if (f == 0) {
                struct cjx_conf *c = NULL;
                rc = cjx_conf_parse(text, cut, path, &c, &eb);
                cjx_conf_unref(c);
            } else {
                struct cjx_registry reg = {NULL, 0};
                rc = cjx_registry_parse(text, cut, path, &reg, &eb);
                cjx_registry_fini(&reg);
            }
            check_survivor(rc, &eb);
            rc == 0 ? loaded++ : refused++;
        }
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t j = 0; j < sizeof(junk); j++) {
                struct cjx_errbuf eb = {{0}};
                int rc;
                memcpy(text, orig, len);
                text[pos] = (char)junk[j];
                if (f == 0) {
                    struct cjx_conf *c = NULL;
                    rc = cjx_conf_parse(text, len, path, &c, &eb);
                    cjx_conf_unref(c);
                } else {
                    struct cjx_registry reg = {NULL, 0};
                    rc = cjx_registry_parse(text, len, path, &reg, &eb);
                    cjx_registry_fini(&reg);
                }
                check_survivor(rc, &eb);
                rc == 0 ? loaded++ : refused++;
            }
        }
        /* Both outcomes occur, or the variants were not exercising much. */
        assert_true(loaded > 0);
        assert_true(refused > 0);
        free(text);
        free(orig);
    }
}

#if FAULT_INJECTION
/* Fails the Nth allocation for N = 1, 2, ... until a load needs fewer than
 * N; every failure must come back as CJX_ENOMEM with nothing leaked.
 * Returns 0 if the replacement allocator was bypassed (valgrind replaces
 * malloc everywhere, including here), so that nothing could be injected. */
static int
run_with_allocation_failures(int (*load)(const char *), const char *path)
{
    for (int persistent = 0; persistent < 2; persistent++) {
        long ours = 0;
        for (long n = 1;; n++) {
            memset(&fault, 0, sizeof(fault));
            fault.fail_at = n;
            fault.persistent = persistent;
            fault.counting = 1;
            int rc = load(path);
            fault.counting = 0;
            if (fault.calls == 0)
                return 0;
            if (fault.live != 0 && !fault.failed_in_yaml)
                fail_msg("%s: %ld blocks leaked after failing allocation %ld",
                         path, fault.live, n);
            if (fault.failed == 0) {
                assert_int_equal(rc, 0);
                /* Failures were injected into cjx's own allocations too. */
                assert_true(ours > 5);
                break;
            }
            ours += !fault.failed_in_yaml;
            if (rc != CJX_ENOMEM && rc != 0)
                fail_msg("%s: allocation %ld failed but got %s", path, n,
                         cjx_err_name(rc));
        }
    }
    return 1;
}

static int
load_conf(const char *path)
{
    struct cjx_conf *c = NULL;
    int rc = cjx_conf_load(path, &c, NULL);
    cjx_conf_unref(c);
    return rc;
}

static int
load_registry(const char *path)
{
    struct cjx_registry reg = {NULL, 0};
    int rc = cjx_registry_load(path, &reg, NULL);
    cjx_registry_fini(&reg);
    return rc;
}
#endif

static void
test_conf__allocation_failures__enomem_without_leaks(void **state)
{
    (void)state;
#if FAULT_INJECTION
    char path[PATH_MAX];
    void *warm[2];
    backtrace(warm, 2); /* its first call loads a library, and allocates */
    data_path(path, sizeof(path), "valid.yaml");
    if (!run_with_allocation_failures(load_conf, path))
        skip();
    data_path(path, sizeof(path), "agencies.yaml");
    assert_true(run_with_allocation_failures(load_registry, path));
#else
    skip();
#endif
}

/* ---- The development configurations --------------------------------------- */

static void
test_conf__dev_cert_script_configs__all_load(void **state)
{
    (void)state;
    static const struct {
        const char *slug, *ori;
        enum cjx_role role;
        const char *county;
        const char *listen;
    } agencies[] = {
        {"doj", "CA0000001", CJX_ROLE_DOJ, "", "127.0.0.1:7441"},
        {"sf-da", "CA038013A", CJX_ROLE_PROSECUTOR, "San Francisco",
         "127.0.0.1:7442"},
        {"sf-court", "CA038033J", CJX_ROLE_COURT, "San Francisco",
         "127.0.0.1:7443"},
        {"sf-pd", "CA038023P", CJX_ROLE_DEFENDER, "San Francisco",
         "127.0.0.1:7444"},
        {"alameda-da", "CA001013A", CJX_ROLE_PROSECUTOR, "Alameda",
         "127.0.0.1:7445"},
        {"alameda-court", "CA001033J", CJX_ROLE_COURT, "Alameda",
         "127.0.0.1:7446"},
        {"alameda-pd", "CA001023P", CJX_ROLE_DEFENDER, "Alameda",
         "127.0.0.1:7447"},
    };
    char *out = make_dev_certs();
    for (size_t i = 0; i < sizeof(agencies) / sizeof(agencies[0]); i++) {
        char path[PATH_MAX], want[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s.yaml", out, agencies[i].slug);
        struct cjx_conf *c = NULL;
        struct cjx_errbuf eb = {{0}};
        if (cjx_conf_load(path, &c, &eb) != 0)
            fail_msg("%s", eb.msg);
        assert_string_equal(c->agency, agencies[i].ori);
        assert_string_equal(c->trust_domain, "cjx.example");
        assert_string_equal(c->listen, agencies[i].listen);
        snprintf(want, sizeof(want), "%s/%s.pem", out, agencies[i].slug);
        assert_string_equal(c->tls.cert, want);
        snprintf(want, sizeof(want), "%s/%s.key", out, agencies[i].slug);
        assert_string_equal(c->tls.key, want);
        snprintf(want, sizeof(want), "%s/ca.pem", out);
        assert_string_equal(c->tls.ca, want);
        snprintf(want, sizeof(want), "%s/crl", out);
        assert_string_equal(c->tls.crl_dir, want);
        snprintf(want, sizeof(want), "%s/run/%s", out, agencies[i].slug);
        assert_string_equal(c->state_dir, want);
        snprintf(want, sizeof(want), "%s/run/%s/cjxd.sock", out,
                 agencies[i].slug);
        assert_string_equal(c->local_socket, want);
        assert_int_equal(c->registry.n, 7);
        for (size_t j = 0; j < sizeof(agencies) / sizeof(agencies[0]); j++) {
            const struct cjx_agency *a =
                cjx_registry_find(&c->registry, agencies[j].ori);
            assert_non_null(a);
            assert_int_equal(a->role, agencies[j].role);
            assert_string_equal(a->county, agencies[j].county);
            assert_string_equal(a->endpoint, agencies[j].listen);
        }
        cjx_conf_unref(c);
    }
    remove_tree(out);
    free(out);
}

/* ---- The exchange section and the registry's prosecutes ------------------ */

#define US_DAY (INT64_C(86400) * 1000000)

static void
test_conf__exchange_section__every_key_read(void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "exchange.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    const struct cjx_exchange_conf *x = &c->exchange;
    assert_false(x->statutory);
    assert_int_equal(x->notice.window_us, 30 * US_DAY);
    assert_int_equal(x->notice.not_after_us, 0);
    assert_int_equal(x->review.window_us, 90 * US_DAY);
    /* 1 July 2020 ends at 23:59:59.999999 Pacific daylight time. */
    assert_int_equal(x->review.not_after_us, INT64_C(1593673199999999));
    assert_int_equal(x->order_unchallenged.window_us,
                     48 * 3600 * INT64_C(1000000));
    /* 1 March 2023 ends in Pacific standard time. */
    assert_int_equal(x->order_unchallenged.not_after_us,
                     INT64_C(1677743999999999));
    assert_int_equal(x->order_challenged.window_us, 0);
    assert_int_equal(x->history_update.window_us, 0);
    assert_int_equal(x->above_ceiling_flag, 1);
    assert_int_equal(x->review_lapse_wait, 1);
    assert_int_equal(x->decision_grace_us, 24 * 3600 * INT64_C(1000000));
    assert_int_equal(x->max_clock_skew_us, 60 * INT64_C(1000000));
    assert_int_equal(x->delivery_batch, 100);
    assert_int_equal(x->delivery_streams, 3);
    assert_int_equal(x->delivery_timeout_ms, 5000);
    assert_int_equal(x->retry_initial_ms, 50);
    assert_int_equal(x->retry_max_ms, 2000);
    assert_true(x->standin_prosecutor);
    assert_int_equal(x->standin_eligible, CJX_STANDIN_PENDING);
    assert_int_equal(x->standin_human_review, CJX_STANDIN_NO_CHALLENGE);
    assert_int_equal(x->standin_n_challenge_flags, 2);
    assert_string_equal(x->standin_challenge_flags[1],
                        "possible_other_p64_charge");
    assert_true(x->standin_court);
    assert_int_equal(x->standin_unchallenged, CJX_STANDIN_ORDER_ACCEPTED);
    assert_int_equal(x->standin_challenged, CJX_STANDIN_ORDER_FLOOR);
    assert_int_equal(x->standin_doj_acknowledge, 0);
    /* The registry's prosecutes: all levels unless it says otherwise. */
    const struct cjx_agency *da = cjx_registry_find(&c->registry, "CA019013A");
    const struct cjx_agency *ca = cjx_registry_find(&c->registry, "CA019423A");
    assert_int_equal(da->prosecutes, CJX_PROSECUTES_ALL);
    assert_int_equal(ca->prosecutes,
                     CJX_PROSECUTES_MISDEMEANOR | CJX_PROSECUTES_INFRACTION);
    cjx_conf_unref(c);
}

static void
test_conf__no_exchange_section__statutory_schedule_and_no_stand_ins(
    void **state)
{
    (void)state;
    char path[PATH_MAX];
    data_path(path, sizeof(path), "valid.yaml");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    const struct cjx_exchange_conf *x = &c->exchange;
    assert_true(x->statutory);
    assert_false(x->standin_prosecutor);
    assert_false(x->standin_court);
    assert_false(x->standin_doj_acknowledge);
    assert_int_equal(x->delivery_batch, 500);
    assert_int_equal(x->delivery_streams, 2);
    assert_int_equal(x->decision_grace_us, 7 * US_DAY);
    const struct cjx_agency *court =
        cjx_registry_find(&c->registry, "CA038033J");
    assert_int_equal(court->prosecutes, 0);
    cjx_conf_unref(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf__exchange_section__every_key_read),
        cmocka_unit_test(
            test_conf__no_exchange_section__statutory_schedule_and_no_stand_ins),
        cmocka_unit_test(
            test_conf__every_key_set__values_read_and_paths_resolved),
        cmocka_unit_test(test_conf__only_required_keys__defaults_apply),
        cmocka_unit_test(test_conf__store__sqlite_unless_set),
        cmocka_unit_test(
            test_conf__store_postgresql__dsn_and_password_file_read),
        cmocka_unit_test(test_conf__relative_config_path__made_absolute),
        cmocka_unit_test(
            test_conf__credentials_paths__resolved_from_the_environment),
        cmocka_unit_test(test_conf__registry__sorted_and_found_by_ori),
        cmocka_unit_test(test_conf__registry__endpoint_lists_replicas),
        cmocka_unit_test(test_conf__role_names__round_trip),
        cmocka_unit_test(test_conf__unref__accepts_null),
        cmocka_unit_test(test_conf__references__only_the_last_unref_frees),
        cmocka_unit_test(test_conf__generation__new_for_every_load),
        cmocka_unit_test(test_conf__slot__set_replaces_and_holders_keep_theirs),
        cmocka_unit_test(test_conf__broken_configs__refused_at_the_right_place),
        cmocka_unit_test(
            test_conf__broken_registries__refused_at_the_right_place),
        cmocka_unit_test(test_conf__failed_load__leaves_output_untouched),
        cmocka_unit_test(
            test_conf__unreadable_files__refused_with_the_file_named),
        cmocka_unit_test(test_conf__metrics_without_listen__loopback_only),
        cmocka_unit_test(test_conf__limits__bounds_are_inclusive),
        cmocka_unit_test(test_conf__invalid_utf8__refused_with_position),
        cmocka_unit_test(test_conf__nul_byte_in_text__refused),
        cmocka_unit_test(test_conf__control_characters_in_values__not_echoed),
        cmocka_unit_test(test_conf__aliases__are_not_expanded),
        cmocka_unit_test(test_conf__garbled_variants__never_crash),
        cmocka_unit_test(test_conf__allocation_failures__enomem_without_leaks),
        cmocka_unit_test(test_conf__dev_cert_script_configs__all_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
