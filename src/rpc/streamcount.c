/* Open streams counted by key (streamcount.h). A key's slot exists while it
 * has a stream open, so the table is as large as the open streams at most
 * and is searched linearly. */
#include "streamcount.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key;
    int open;
};

struct streamcount {
    pthread_mutex_t mu;
    struct slot *slots;
    size_t n, cap;
};

struct streamcount *
streamcount_new(void)
{
    struct streamcount *t = calloc(1, sizeof(*t));
    if (t != NULL)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

void
streamcount_free(struct streamcount *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->slots[i].key);
    free(t->slots);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct slot *
find_locked(struct streamcount *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
    return NULL;
}

static struct slot *
add_locked(struct streamcount *t, const char *key)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct slot *s = realloc(t->slots, cap * sizeof(*s));
        if (s == NULL)
            return NULL;
        t->slots = s;
        t->cap = cap;
    }
    char *copy = strdup(key);
    if (copy == NULL)
        return NULL;
    t->slots[t->n] = (struct slot){copy, 0};
    return &t->slots[t->n++];
}

int
streamcount_take(struct streamcount *t, const char *key, int max, int *open)
{
    pthread_mutex_lock(&t->mu);
    struct slot *s = find_locked(t, key);
    int ok = 0;
    *open = s != NULL ? s->open : 0;
    if (*open < max) {
        if (s == NULL)
            s = add_locked(t, key);
        if (s != NULL) {
            s->open++;
            ok = 1;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void
streamcount_give(struct streamcount *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    struct slot *s = find_locked(t, key);
    if (s != NULL && --s->open == 0) {
        free(s->key);
        *s = t->slots[--t->n];
    }
    pthread_mutex_unlock(&t->mu);
}

int
streamcount_open(struct streamcount *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    struct slot *s = find_locked(t, key);
    int n = s != NULL ? s->open : 0;
    pthread_mutex_unlock(&t->mu);
    return n;
}
