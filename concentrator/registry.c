/* The session registry: see registry.h. */
#define _GNU_SOURCE
#include "concentrator/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHARDS 256

struct shard {
    pthread_mutex_t lock;  /* guards v, n, cap */
    struct reg_session *v; /* sorted by id */
    size_t n, cap;
};

struct registry {
    struct shard s[SHARDS];
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 0;
}

static size_t shard_of(const char *id)
{
    if (!id[0] || !id[1])
        return 0;
    return (size_t)(hexval(id[0]) << 4 | hexval(id[1]));
}

struct registry *registry_new(void)
{
    struct registry *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&r->s[i].lock, NULL);
    return r;
}

void registry_free(struct registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_destroy(&r->s[i].lock);
        free(r->s[i].v);
    }
    free(r);
}

/* Index of id in the shard, or where it would go (*found false). */
static size_t find(const struct shard *sh, const char *id, bool *found)
{
    size_t lo = 0, hi = sh->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sh->v[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void registry_put(struct registry *r, const struct reg_session *s)
{
    struct shard *sh = &r->s[shard_of(s->id)];
    pthread_mutex_lock(&sh->lock);
    bool found;
    size_t i = find(sh, s->id, &found);
    if (found) {
        sh->v[i] = *s;
    } else {
        if (sh->n == sh->cap) {
            size_t cap = sh->cap ? sh->cap * 2 : 8;
            struct reg_session *nv = realloc(sh->v, cap * sizeof(*nv));
            if (!nv) {
                pthread_mutex_unlock(&sh->lock);
                return;
            }
            sh->v = nv;
            sh->cap = cap;
        }
        memmove(&sh->v[i + 1], &sh->v[i], (sh->n - i) * sizeof(*sh->v));
        sh->v[i] = *s;
        sh->n++;
    }
    pthread_mutex_unlock(&sh->lock);
}

void registry_remove(struct registry *r, const char *id)
{
    struct shard *sh = &r->s[shard_of(id)];
    pthread_mutex_lock(&sh->lock);
    bool found;
    size_t i = find(sh, id, &found);
    if (found) {
        memmove(&sh->v[i], &sh->v[i + 1], (sh->n - i - 1) * sizeof(*sh->v));
        sh->n--;
    }
    pthread_mutex_unlock(&sh->lock);
}

bool registry_get(struct registry *r, const char *id, struct reg_session *out)
{
    struct shard *sh = &r->s[shard_of(id)];
    pthread_mutex_lock(&sh->lock);
    bool found;
    size_t i = find(sh, id, &found);
    if (found)
        *out = sh->v[i];
    pthread_mutex_unlock(&sh->lock);
    return found;
}

static bool matches(const struct reg_session *s, const struct reg_filter *f)
{
    if (!f)
        return true;
    if (f->tenant && strcmp(s->tenant, f->tenant) != 0)
        return false;
    if (f->user && strcasecmp(s->identity, f->user) != 0 && strcasecmp(s->username, f->user) != 0)
        return false;
    if (f->client_addr && strcmp(s->client_addr, f->client_addr) != 0)
        return false;
    if (f->vip && strcmp(s->vip4, f->vip) != 0 && strcasecmp(s->vip6, f->vip) != 0)
        return false;
    return true;
}

size_t registry_list(struct registry *r, const struct reg_filter *f, const char *after,
                     struct reg_session *out, size_t max, bool *more)
{
    size_t n = 0;
    *more = false;
    size_t first = after ? shard_of(after) : 0;
    for (size_t si = first; si < SHARDS; si++) {
        struct shard *sh = &r->s[si];
        pthread_mutex_lock(&sh->lock);
        size_t i = 0;
        if (after && si == first) {
            bool found;
            i = find(sh, after, &found);
            if (found)
                i++;
        }
        for (; i < sh->n; i++) {
            if (!matches(&sh->v[i], f))
                continue;
            if (n == max) {
                *more = true;
                break;
            }
            out[n++] = sh->v[i];
        }
        pthread_mutex_unlock(&sh->lock);
        if (*more)
            break;
    }
    return n;
}

void registry_fold(struct registry *r, const char *tenant,
                   void (*fn)(const struct reg_session *s, void *arg), void *arg)
{
    for (size_t si = 0; si < SHARDS; si++) {
        struct shard *sh = &r->s[si];
        pthread_mutex_lock(&sh->lock);
        for (size_t i = 0; i < sh->n; i++)
            if (!tenant || strcmp(sh->v[i].tenant, tenant) == 0)
                fn(&sh->v[i], arg);
        pthread_mutex_unlock(&sh->lock);
    }
}

size_t registry_count(struct registry *r, const char *tenant)
{
    size_t n = 0;
    for (size_t si = 0; si < SHARDS; si++) {
        struct shard *sh = &r->s[si];
        pthread_mutex_lock(&sh->lock);
        if (!tenant) {
            n += sh->n;
        } else {
            for (size_t i = 0; i < sh->n; i++)
                if (strcmp(sh->v[i].tenant, tenant) == 0)
                    n++;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    return n;
}
