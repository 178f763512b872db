/* Arena allocator: chunks grow geometrically and are freed together. */
#include "cjx/arena.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cjx_arena_chunk {
    struct cjx_arena_chunk *next;
    size_t size;
    alignas(max_align_t) char data[];
};

enum { ARENA_ALIGN = alignof(max_align_t), ARENA_MIN_CHUNK = 4096 };

static atomic_long fail_countdown;

void
cjx_arena_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

static int
injected_failure(void)
{
    long n = atomic_load(&fail_countdown);
    if (n <= 0)
        return 0;
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}

void
cjx_arena_init(struct cjx_arena *a, void *buf, size_t size, size_t limit)
{
    memset(a, 0, sizeof(*a));
    a->limit = limit;
    if (buf != NULL && size >= ARENA_ALIGN) {
        /* Align the borrowed buffer's start. */
        uintptr_t p =
            ((uintptr_t)buf + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
        a->initial = (char *)p;
        a->initial_size = size - (p - (uintptr_t)buf);
        a->cur = a->initial;
        a->end = a->initial + a->initial_size;
    }
}

void
cjx_arena_fini(struct cjx_arena *a)
{
    struct cjx_arena_chunk *c = a->chunks;
    while (c != NULL) {
        struct cjx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(a, 0, sizeof(*a));
}

void
cjx_arena_reset(struct cjx_arena *a)
{
    /* Keep the newest (largest) chunk when there is no borrowed buffer, so a
     * reused arena settles at the size its calls need. */
    struct cjx_arena_chunk *keep = NULL;
    struct cjx_arena_chunk *c = a->chunks;
    if (a->initial == NULL && c != NULL) {
        keep = c;
        c = c->next;
        keep->next = NULL;
    }
    while (c != NULL) {
        struct cjx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = keep;
    if (a->initial != NULL) {
        a->cur = a->initial;
        a->end = a->initial + a->initial_size;
    } else if (keep != NULL) {
        a->cur = keep->data;
        a->end = keep->data + keep->size;
    } else {
        a->cur = a->end = NULL;
    }
    a->used = 0;
    a->failed = 0;
}

void *
cjx_arena_alloc(struct cjx_arena *a, size_t size)
{
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size || injected_failure() ||
        (a->limit != 0 && (need > a->limit || a->used > a->limit - need))) {
        a->failed = 1;
        return NULL;
    }
    if (a->cur == NULL || (size_t)(a->end - a->cur) < need) {
        size_t chunk = ARENA_MIN_CHUNK;
        if (a->chunks != NULL && a->chunks->size * 2 > chunk)
            chunk = a->chunks->size * 2;
        if (chunk < need)
            chunk = need;
        struct cjx_arena_chunk *c = malloc(sizeof(*c) + chunk);
        if (c == NULL) {
            a->failed = 1;
            return NULL;
        }
        c->size = chunk;
        c->next = a->chunks;
        a->chunks = c;
        a->cur = c->data;
        a->end = c->data + chunk;
    }
    void *p = a->cur;
    a->cur += need;
    a->used += need;
    return p;
}

char *
cjx_arena_strndup(struct cjx_arena *a, const char *s, size_t len)
{
    char *p = cjx_arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void *
pb_alloc(void *data, size_t size)
{
    return cjx_arena_alloc(data, size);
}

static void
pb_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCAllocator
cjx_arena_pb_allocator(struct cjx_arena *a)
{
    return (ProtobufCAllocator){
        .alloc = pb_alloc, .free = pb_free, .allocator_data = a};
}
