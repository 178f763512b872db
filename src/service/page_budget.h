/* Byte budgets of listings and streams: a page of a listing, or the batch
 * a follow stream reads ahead of its reader, ends when the next item would
 * spend more than its budget, whatever its count allows. */
#ifndef CJX_PAGE_BUDGET_H
#define CJX_PAGE_BUDGET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cjx/conf.h"

struct page_budget {
    size_t limit; /* bytes */
    size_t used;
};

/* The budget of one reply page under conf: half the message size limit, so
 * the page, its token and any counts beside it fit what gRPC may send. */
void page_budget_for_reply(struct page_budget *b, const struct cjx_conf *conf);
/* The budget of one follow stream's read-ahead: limits.stream_buffer_bytes. */
void page_budget_for_stream(struct page_budget *b, const struct cjx_conf *conf);

/* Takes n bytes for one more item: 1 if they fit, or if nothing was taken
 * yet (a page always holds its first item, so paging makes progress); 0
 * when the item does not fit, and the budget is unchanged. */
int page_budget_take(struct page_budget *b, size_t n);

/* The bytes item adds to a reply as an entry of a repeated field: its packed
 * size, its tag and its length prefix. */
size_t page_budget_entry_size(const ProtobufCMessage *item);

#endif
