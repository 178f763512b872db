/* Pages of listings and byte budgets of listings and streams
 * (page_budget.h). */
#include "page_budget.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* A field tag and a length prefix take at most this much beside an entry. */
#define ENTRY_FRAMING 16

#define PAGE_DEFAULT_SIZE 100
#define PAGE_MAX_SIZE     1000

int
page_request_parse(int32_t size, const char *token, int *limit, int64_t *after,
                   struct cjx_errbuf *eb)
{
    if (size < 0 || size > PAGE_MAX_SIZE)
        return cjx_errf(eb, CJX_EINVAL, "page_size: must be 0..1000");
    *limit = size > 0 ? size : PAGE_DEFAULT_SIZE;
    *after = 0;
    if (token[0] == '\0')
        return 0;
    char *end;
    long long v = strtoll(token, &end, 10);
    if (*end != '\0' || v <= 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "page_token: not a token from this server");
    *after = v;
    return 0;
}

void
page_fill_init(struct page_fill *f, const struct cjx_conf *conf)
{
    page_budget_for_reply(&f->budget, conf);
    f->n = 0;
    f->visited = 0;
    f->full = 0;
}

int
page_fill_admit(struct page_fill *f, const ProtobufCMessage *item)
{
    if (!page_budget_take(&f->budget, page_budget_entry_size(item))) {
        f->full = 1;
        return 0;
    }
    return 1;
}

void
page_next_token(char *token, const struct page_fill *f, int limit,
                int64_t last_id)
{
    token[0] = '\0';
    if ((f->full || f->visited == limit) && last_id != 0)
        snprintf(token, PAGE_TOKEN_LEN, "%" PRId64, last_id);
}

void
page_budget_for_reply(struct page_budget *b, const struct cjx_conf *conf)
{
    b->limit = (size_t)conf->limits.max_message_bytes / 2;
    b->used = 0;
}

void
page_budget_for_stream(struct page_budget *b, const struct cjx_conf *conf)
{
    b->limit = (size_t)conf->limits.stream_buffer_bytes;
    b->used = 0;
}

int
page_budget_take(struct page_budget *b, size_t n)
{
    if (b->used > 0 && n > b->limit - b->used)
        return 0;
    b->used = n > b->limit - b->used ? b->limit : b->used + n;
    return 1;
}

size_t
page_budget_entry_size(const ProtobufCMessage *item)
{
    return protobuf_c_message_get_packed_size(item) + ENTRY_FRAMING;
}
