/* Benchmark: importing a DOJ research file of 1 M and 5 M rows, rows/s and
 * MB/s and peak memory, against the time to read the same file (the I/O
 * floor) measured in the same run. Two stages are timed: reading (parse
 * and assemble every subject and its queries) and reading with every
 * Prop 64 count evaluated. Each measurement runs in a child process, so
 * that its peak resident size and CPU time are its own. Medians of 3 runs;
 * rates by wall time and by CPU time (the machine may be shared).
 * Usage: bench_doj [ROWS...]   (default 1000000 5000000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cjx/doj.h"
#include "cjx/evaluate.h"

#ifndef CJX_SOURCE_DIR
#define CJX_SOURCE_DIR "."
#endif

#define REPEATS 3

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes a file of at least rows rows: the sample research file's rows
 * again and again, each copy's subjects renamed so that every subject is
 * new. Returns the rows written. */
static long
make_file(const char *path, long rows, long *bytes)
{
    FILE *in = fopen(CJX_SOURCE_DIR "/tests/data/doj/small.csv", "r");
    FILE *out = fopen(path, "w");
    if (in == NULL || out == NULL) {
        perror("bench_doj: the sample or the output");
        exit(1);
    }
    char **lines = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        if (strncmp(line, "RECORD_ID,", 10) == 0)
            continue;
        lines = realloc(lines, (n + 1) * sizeof(*lines));
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(in);
    long written = 0;
    for (long copy = 0; written < rows; copy++) {
        for (size_t i = 0; i < n; i++) {
            /* RECORD_ID and SUBJECT_STATUS are plain; SUBJECT_ID is the
             * third field. */
            const char *c1 = strchr(lines[i], ',');
            const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
            if (c2 == NULL)
                continue;
            fprintf(out, "%.*s%ld-%s", (int)(c2 - lines[i] + 1), lines[i], copy,
                    c2 + 1);
            written++;
        }
    }
    *bytes = ftell(out);
    fclose(out);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return written;
}

enum stage { STAGE_FLOOR, STAGE_READ, STAGE_EVALUATE };

struct run {
    const struct cjx_rules_registry *reg;
    Cjx__V1__Date as_of;
    long counts, evaluated;
};

static int
on_subject(void *ctx, const struct cjx_doj_subject *s)
{
    struct run *r = ctx;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    for (size_t i = 0; i < s->n_convictions; i++) {
        if (!cjx_doj_is_prop64(s->convictions[i]->charge))
            continue;
        Cjx__V1__ReliefQuery *q;
        if (cjx_doj_subject_query(s, i, &a, &q) != 0)
            exit(1);
        r->counts++;
        if (r->reg == NULL)
            continue;
        q->as_of = &r->as_of;
        struct cjx_errbuf eb;
        Cjx__V1__EvaluateResponse resp;
        const struct cjx_rules_set *set =
            cjx_evaluate_pick_set(r->reg, NULL, q, &eb);
        if (set != NULL && cjx_evaluate_query(set, q, &a, &resp, &eb) == 0)
            r->evaluated++;
    }
    cjx_arena_fini(&a);
    return 0;
}

/* The I/O floor: the same pieces read and every line end counted. */
static long
read_floor(const char *path)
{
    FILE *f = fopen(path, "r");
    static char piece[256 << 10];
    size_t n;
    long lines = 0;
    while ((n = fread(piece, 1, sizeof(piece), f)) > 0)
        for (const char *p = piece;
             (p = memchr(p, '\n', n - (size_t)(p - piece))); p++)
            lines++;
    fclose(f);
    return lines;
}

/* One measurement in a child: wall and CPU seconds, peak resident KiB. */
static void
measure(const char *path, enum stage stage,
        const struct cjx_rules_registry *reg, double *secs, double *cpu,
        long *rss_kib, long *counts)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct run r = {.reg = stage == STAGE_EVALUATE ? reg : NULL};
        cjx__v1__date__init(&r.as_of);
        r.as_of.year = 2026;
        r.as_of.month = 1;
        r.as_of.day = 1;
        double t0 = now_s();
        if (stage == STAGE_FLOOR) {
            r.counts = read_floor(path);
        } else {
            struct cjx_doj_callbacks cb = {on_subject, NULL, &r};
            struct cjx_errbuf eb;
            if (cjx_doj_read_file(path, &cb, NULL, &eb) != 0) {
                fprintf(stderr, "bench_doj: %s\n", eb.msg);
                _exit(1);
            }
        }
        double result[2] = {now_s() - t0, (double)r.counts};
        if (write(fds[1], result, sizeof(result)) != sizeof(result))
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    double result[2];
    if (read(fds[0], result, sizeof(result)) != sizeof(result))
        exit(1);
    close(fds[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    *secs = result[0];
    *counts = (long)result[1];
    *rss_kib = ru.ru_maxrss;
    /* The machine may be shared: CPU time is what one core spent. */
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    long sizes[8] = {1000000, 5000000};
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = atol(argv[i]);
    }
    struct cjx_rules_registry *reg;
    struct cjx_errbuf eb;
    if (cjx_rules_registry_load_dir(CJX_SOURCE_DIR "/rules",
                                    cjx_evaluate_types(), &reg, &eb) != 0) {
        fprintf(stderr, "bench_doj: %s\n", eb.msg);
        return 1;
    }
    char path[] = "/tmp/bench_doj_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    static const char *const names[] = {"read (I/O floor)", "parse+assemble",
                                        "parse+evaluate"};
    /* x_floor: CPU time against reading the same file in the same run. */
    printf("%-9s %-16s %8s %8s %11s %11s %8s %8s %8s %8s\n", "rows", "stage",
           "wall_s", "cpu_s", "rows/s", "rows/cpu_s", "MB/cpu_s", "x_floor",
           "peak_MiB", "counts");
    for (int s = 0; s < nsizes; s++) {
        long bytes;
        long rows = make_file(path, sizes[s], &bytes);
        double floor_cpu = 0;
        for (int stage = STAGE_FLOOR; stage <= STAGE_EVALUATE; stage++) {
            double t[REPEATS], c[REPEATS];
            long rss = 0, counts = 0;
            for (int k = 0; k < REPEATS; k++) {
                long r;
                measure(path, (enum stage)stage, reg, &t[k], &c[k], &r,
                        &counts);
                if (r > rss)
                    rss = r;
            }
            qsort(t, REPEATS, sizeof(t[0]), cmp_double);
            qsort(c, REPEATS, sizeof(c[0]), cmp_double);
            double wall = t[REPEATS / 2], cpu = c[REPEATS / 2];
            if (cpu <= 0)
                cpu = 1e-3;
            if (stage == STAGE_FLOOR)
                floor_cpu = cpu;
            printf("%-9ld %-16s %8.2f %8.2f %11.0f %11.0f %8.1f %8.1f %8.1f "
                   "%8ld\n",
                   rows, names[stage], wall, cpu, rows / wall, rows / cpu,
                   bytes / cpu / 1e6, cpu / floor_cpu, rss / 1024.0, counts);
            fflush(stdout);
        }
    }
    unlink(path);
    cjx_rules_registry_free(reg);
    return 0;
}
