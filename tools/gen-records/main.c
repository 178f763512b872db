/* gen-records: writes synthetic DOJ-like records as JSON Lines or length-delimited protobuf. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrec.h"
#include "jsonw.h"

static void
usage(FILE *f)
{
    fputs(
        "usage: gen-records [-n COUNT] [-s SEED] [-f jsonl|pb] [-m "
        "query|record]\n"
        "                   [--dates-as-strings] [--counties A,B,...] [-o "
        "FILE]\n"
        "Writes COUNT (default 1000) synthetic cjx.v1.ReliefQuery messages "
        "(or\n"
        "their cjx.v1.ConvictionRecord with -m record), deterministic by SEED\n"
        "(default 1): JSON Lines in the proto3 JSON mapping, or protobuf\n"
        "messages each preceded by its length as a varint (-f pb).\n"
        "--counties draws the county of conviction from the named counties\n"
        "only (with their statewide weights).\n",
        f);
}

static int
write_varint(FILE *f, size_t v)
{
    unsigned char b[10];
    int n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return fwrite(b, 1, (size_t)n, f) == (size_t)n ? 0 : -1;
}

int
main(int argc, char **argv)
{
    unsigned long long count = 1000, seed = 1;
    int pb = 0, record_only = 0, flags = 0;
    const char *out = NULL, *counties = NULL;
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"message", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"dates-as-strings", no_argument, NULL, 'D'},
        {"counties", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:s:f:m:o:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n':
            errno = 0;
            count = strtoull(optarg, &end, 10);
            if (*end || errno) {
                fprintf(stderr, "gen-records: bad count %s\n", optarg);
                return 2;
            }
            break;
        case 's':
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (*end || errno) {
                fprintf(stderr, "gen-records: bad seed %s\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (strcmp(optarg, "pb") == 0)
                pb = 1;
            else if (strcmp(optarg, "jsonl") != 0) {
                fprintf(stderr, "gen-records: format is jsonl or pb\n");
                return 2;
            }
            break;
        case 'm':
            if (strcmp(optarg, "record") == 0)
                record_only = 1;
            else if (strcmp(optarg, "query") != 0) {
                fprintf(stderr, "gen-records: message is query or record\n");
                return 2;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'D':
            flags |= JSONW_DATES_AS_STRINGS;
            break;
        case 'C':
            counties = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    FILE *f = out != NULL ? fopen(out, "wb") : stdout;
    if (f == NULL) {
        fprintf(stderr, "gen-records: %s: %s\n", out, strerror(errno));
        return 1;
    }
    struct genrec g;
    genrec_init(&g, seed);
    if (counties != NULL) {
        char *copy = strdup(counties);
        const char *names[16];
        int n = 0;
        for (char *tok = strtok(copy, ","); tok != NULL && n < 16;
             tok = strtok(NULL, ","))
            names[n++] = tok;
        int bad = genrec_set_counties(&g, names, n);
        if (bad >= 0 || n == 0) {
            fprintf(stderr, "gen-records: unknown county '%s'\n",
                    n == 0 ? "" : names[bad]);
            free(copy);
            return 2;
        }
        free(copy);
    }
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    int rc = 0;
    for (unsigned long long i = 0; i < count && rc == 0; i++) {
        cjx_arena_reset(&a);
        Cjx__V1__ReliefQuery *q = genrec_next(&g, &a);
        if (q == NULL) {
            fprintf(stderr, "gen-records: out of memory\n");
            rc = 1;
            break;
        }
        const ProtobufCMessage *m = record_only ? &q->record->base : &q->base;
        if (pb) {
            size_t len = protobuf_c_message_get_packed_size(m);
            unsigned char *buf = cjx_arena_alloc(&a, len ? len : 1);
            if (buf == NULL) {
                rc = 1;
                break;
            }
            protobuf_c_message_pack(m, buf);
            if (write_varint(f, len) != 0 || fwrite(buf, 1, len, f) != len)
                rc = 1;
        } else {
            jsonw_message(f, m, flags);
            if (fputc('\n', f) == EOF)
                rc = 1;
        }
    }
    cjx_arena_fini(&a);
    if (fflush(f) != 0 || (out != NULL && fclose(f) != 0))
        rc = 1;
    if (rc != 0)
        fprintf(stderr, "gen-records: write failed\n");
    return rc;
}
