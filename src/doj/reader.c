/* Reading a research file from disk through the parser, in fixed pieces so
 * that memory does not grow with the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/doj.h"

#define PIECE (256u << 10)

int
cjx_doj_read_file(const char *path, const struct cjx_doj_callbacks *cb,
                  struct cjx_doj_counts *counts, struct cjx_errbuf *eb)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
    struct cjx_doj_parser *p = cjx_doj_parser_new(cb);
    char *piece = malloc(PIECE);
    int rc = 0;
    if (p == NULL || piece == NULL) {
        rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path);
    } else {
        size_t n;
        while (rc == 0 && (n = fread(piece, 1, PIECE, f)) > 0)
            rc = cjx_doj_parser_feed(p, piece, n);
        if (rc == 0 && ferror(f))
            rc = cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
        if (rc == 0)
            rc = cjx_doj_parser_finish(p);
        if (rc == CJX_ENOMEM)
            cjx_errf(eb, rc, "%s: out of memory", path);
        else if (rc != 0 && rc != CJX_EIO)
            cjx_errf(eb, rc, "%s: reading stopped", path);
        if (counts != NULL)
            cjx_doj_parser_counts(p, counts);
    }
    cjx_doj_parser_free(p);
    free(piece);
    if (f != stdin)
        fclose(f);
    return rc;
}
