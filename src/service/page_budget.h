/* Pages of listings and byte budgets of listings and streams: a listing
 * request names its page by a size and a token; a page of a listing, or the
 * batch a follow stream reads ahead of its reader, ends when the next item
 * would spend more than its budget, whatever its count allows. */
#ifndef CJX_PAGE_BUDGET_H
#define CJX_PAGE_BUDGET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/conf.h"
#include "cjx/error.h"

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

/* ---- Pages of listings --------------------------------------------------- */

/* Room for a next_page_token: a row id in decimal. */
#define PAGE_TOKEN_LEN 24

/* Reads a listing request's page_size and page_token: *limit is the number
 * of rows the page may hold (page_size, or 100 for 0) and *after the row id
 * the page starts after (0 for the first page). CJX_EINVAL naming the field
 * for a size outside 0..1000 or a token this server did not issue. */
int page_request_parse(int32_t size, const char *token, int *limit,
                       int64_t *after, struct cjx_errbuf *eb);

/* What a listing's store visitor keeps while it fills one reply page. */
struct page_fill {
    struct page_budget budget;
    size_t n;    /* items on the page */
    int visited; /* rows the store handed over, kept or skipped */
    int full;    /* stopped at an item the byte budget has no room for */
};

/* Starts an empty reply page under conf (page_budget_for_reply). */
void page_fill_init(struct page_fill *f, const struct cjx_conf *conf);

/* Spends the budget on item, an entry of the page's repeated field: 1 when
 * it joins the page (the caller stores it at index f->n and counts it), or
 * 0 when the page is full: the visit stops and the store leaves the row for
 * the next page. */
int page_fill_admit(struct page_fill *f, const ProtobufCMessage *item);

/* Writes the next_page_token of page f, which ended at row last_id, into
 * token (PAGE_TOKEN_LEN bytes): the row id when the page may have a
 * successor, that is when it stopped at the byte budget or the store handed
 * over as many rows as the limit (rows skipped for the caller's scope
 * included); else "", the last page. */
void page_next_token(char *token, const struct page_fill *f, int limit,
                     int64_t last_id);

#endif
