/* Bump-pointer arena for per-call and per-evaluation memory. */
#ifndef CJX_ARENA_H
#define CJX_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct cjx_arena_chunk;

/* Allocations are freed all at once by cjx_arena_reset() or _fini(). The
 * first chunk can be caller-provided (a stack buffer) so that small calls
 * never touch malloc. Not thread-safe: one arena belongs to one call. */
struct cjx_arena {
    char *cur;
    char *end;
    struct cjx_arena_chunk *chunks; /* malloc'd chunks, newest first */
    char *initial;                  /* borrowed first buffer, or NULL */
    size_t initial_size;
    size_t limit; /* total bytes allowed; 0 = unlimited */
    size_t used;  /* bytes handed out since the last reset */
    int failed;   /* an allocation failed since the last reset */
};

/* Prepares an arena. buf/size may be NULL/0. limit caps the total handed out
 * (0 = no cap): a decoder bounded by it cannot be made to allocate without
 * end by a hostile message. */
void cjx_arena_init(struct cjx_arena *a, void *buf, size_t size, size_t limit);
/* Frees every chunk. The arena may be initialised again afterwards. */
void cjx_arena_fini(struct cjx_arena *a);
/* Forgets every allocation but keeps the first chunk for reuse. */
void cjx_arena_reset(struct cjx_arena *a);

/* Returns size bytes aligned for any type, or NULL when out of memory or
 * over the limit (and sets a->failed). */
void *cjx_arena_alloc(struct cjx_arena *a, size_t size);
/* Copies len bytes and appends a NUL. */
char *cjx_arena_strndup(struct cjx_arena *a, const char *s, size_t len);

/* A protobuf-c allocator drawing from the arena; its free is a no-op, so
 * messages unpacked with it must not be passed to
 * protobuf_c_message_free_unpacked with another allocator. */
ProtobufCAllocator cjx_arena_pb_allocator(struct cjx_arena *a);

/* Test hook: makes the Nth allocation from now (1-based) fail, 0 disables.
 * Process-wide; used for allocation-failure injection in parser tests. */
void cjx_arena_fail_after(long n);

#endif
