/* Token buckets per agency, counted in millionths of a token so that the
 * arithmetic stays in integers. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HEADS 64
#define MICRO 1000000LL

/* Only agencies of the registry reach the limiter, so this bounds nothing
 * but a bug; past it new keys go unlimited rather than fail. */
#define MAX_KEYS 100000

struct bucket {
    struct bucket *next;
    int64_t micro_tokens;
    int64_t last_us;
    char key[];
};

struct ratelimit {
    pthread_mutex_t mu;
    struct bucket *heads[HEADS];
    int n;
};

struct ratelimit *
ratelimit_new(void)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl != NULL)
        pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < HEADS; i++) {
        struct bucket *b = rl->heads[i];
        while (b != NULL) {
            struct bucket *next = b->next;
            free(b);
            b = next;
        }
    }
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static unsigned
head_of(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % HEADS;
}

static struct bucket *
find_or_add(struct ratelimit *rl, const char *key, int64_t full, int64_t now)
{
    unsigned h = head_of(key);
    for (struct bucket *b = rl->heads[h]; b != NULL; b = b->next)
        if (strcmp(b->key, key) == 0)
            return b;
    if (rl->n >= MAX_KEYS)
        return NULL;
    size_t len = strlen(key);
    struct bucket *b = malloc(sizeof(*b) + len + 1);
    if (b == NULL)
        return NULL;
    memcpy(b->key, key, len + 1);
    b->micro_tokens = full; /* a new agency starts with its whole burst */
    b->last_us = now;
    b->next = rl->heads[h];
    rl->heads[h] = b;
    rl->n++;
    return b;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int rate, int burst,
               int64_t now_us, int64_t *retry_after_ms)
{
    if (rate <= 0)
        return 1;
    if (burst < 1)
        burst = 1;
    int64_t full = (int64_t)burst * MICRO;
    int ok = 1;
    pthread_mutex_lock(&rl->mu);
    struct bucket *b = find_or_add(rl, key, full, now_us);
    if (b != NULL) {
        /* A clock that steps back refills nothing; one that jumps far ahead
         * fills the bucket without overflowing the product below. */
        int64_t elapsed = now_us > b->last_us ? now_us - b->last_us : 0;
        if (now_us > b->last_us)
            b->last_us = now_us;
        if (elapsed >= full / rate + 1)
            b->micro_tokens = full;
        else
            b->micro_tokens += elapsed * rate;
        if (b->micro_tokens > full)
            b->micro_tokens = full; /* a lowered burst applies at once */
        if (b->micro_tokens >= MICRO) {
            b->micro_tokens -= MICRO;
        } else {
            int64_t wait_us = (MICRO - b->micro_tokens + rate - 1) / rate;
            int64_t ms = (wait_us + 999) / 1000;
            *retry_after_ms = ms > 0 ? ms : 1;
            ok = 0;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

int
ratelimit_keys(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->mu);
    int n = rl->n;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
