/* What a read found, copied for the caller to keep, in one allocation
 * (the owned_ of the copy): the same for both backends (store_shared.h). */
#include <stdlib.h>
#include <string.h>

#include "store_shared.h"

/* Allocates *owned: bytes for the caller to fill (returned), then a copy
 * of each text *texts[i] points at, which then points at its copy. NULL
 * when out of memory. */
static char *
block_new(void **owned, size_t bytes, const char **const texts[], size_t n)
{
    size_t total = bytes;
    for (size_t i = 0; i < n; i++)
        total += strlen(*texts[i]) + 1;
    char *block = malloc(total);
    if (block == NULL)
        return NULL;
    char *p = block + bytes;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(*texts[i]) + 1;
        *texts[i] = memcpy(p, *texts[i], len);
        p += len;
    }
    *owned = block;
    return block;
}

/* Copies len bytes (src may be NULL when len is 0) to *p; advances *p. */
static const void *
put_bytes(char **p, const void *src, size_t len)
{
    char *dst = *p;
    if (len > 0)
        memcpy(dst, src, len);
    *p += len;
    return dst;
}

int
cjx_store_record_copy(const struct cjx_stored_record *src,
                      struct cjx_stored_record *out)
{
    *out = *src;
    const char **const texts[] = {&out->cii, &out->court_case_number,
                                  &out->county, &out->submitted_by,
                                  &out->flags};
    char *p = block_new(&out->owned_, src->record_len, texts,
                        sizeof(texts) / sizeof(texts[0]));
    if (p == NULL)
        return CJX_ENOMEM;
    out->record = put_bytes(&p, src->record, src->record_len);
    return 0;
}

int
cjx_store_case_copy(const struct cjx_stored_case *src, const void *notice,
                    size_t notice_len, struct cjx_stored_case *out)
{
    *out = *src;
    const char **const texts[] = {&out->cii, &out->court_case_number,
                                  &out->county, &out->sender_ori};
    char *p = block_new(&out->owned_, src->body_len + notice_len, texts,
                        sizeof(texts) / sizeof(texts[0]));
    if (p == NULL)
        return CJX_ENOMEM;
    out->body = put_bytes(&p, src->body, src->body_len);
    out->notice = NULL;
    out->notice_len = 0;
    if (notice != NULL) {
        out->notice = put_bytes(&p, notice, notice_len);
        out->notice_len = notice_len;
    }
    return 0;
}

/* Frees what a copy owns and clears the copy (size bytes at copy). */
static void
copy_fini(void *owned, void *copy, size_t size)
{
    free(owned);
    memset(copy, 0, size);
}

void
cjx_store_reader_fini_record(struct cjx_stored_record *rec)
{
    if (rec != NULL)
        copy_fini(rec->owned_, rec, sizeof(*rec));
}

void
cjx_store_cases_fini(struct cjx_stored_case *c)
{
    if (c != NULL)
        copy_fini(c->owned_, c, sizeof(*c));
}
