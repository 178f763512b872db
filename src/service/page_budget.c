/* Byte budgets of listings and streams (page_budget.h). */
#include "page_budget.h"

/* A field tag and a length prefix take at most this much beside an entry. */
#define ENTRY_FRAMING 16

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
