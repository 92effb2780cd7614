/* Per-worker packet buffers: see esp_pool.h. */
#include "esp/esp_pool.h"

#include <stdlib.h>
#include <sys/mman.h>

struct esp_pool {
    uint8_t *mem;
    size_t mem_len;
    unsigned n;
    unsigned n_free;
    uint32_t *free_idx; /* stack of free buffer indexes */
    uint8_t *out;       /* out[i]: buffer i is taken */
};

struct esp_pool *esp_pool_new(unsigned n)
{
    if (n == 0)
        return NULL;
    struct esp_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->n = n;
    p->mem_len = (size_t)n * ESP_POOL_BUF_SIZE;
    p->mem = mmap(NULL, p->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->mem == MAP_FAILED)
        p->mem = NULL;
    p->free_idx = calloc(n, sizeof(*p->free_idx));
    p->out = calloc(n, 1);
    if (!p->mem || !p->free_idx || !p->out) {
        esp_pool_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++)
        p->free_idx[i] = n - 1 - i; /* buffer 0 is taken first */
    p->n_free = n;
    return p;
}

void esp_pool_free(struct esp_pool *p)
{
    if (!p)
        return;
    if (p->mem)
        munmap(p->mem, p->mem_len);
    free(p->free_idx);
    free(p->out);
    free(p);
}

bool esp_pool_get(struct esp_pool *p, struct esp_buf *out)
{
    if (p->n_free == 0)
        return false;
    uint32_t i = p->free_idx[--p->n_free];
    p->out[i] = 1;
    out->base = p->mem + (size_t)i * ESP_POOL_BUF_SIZE;
    out->cap = ESP_POOL_BUF_SIZE;
    out->off = ESP_POOL_HEADROOM;
    out->len = 0;
    return true;
}

bool esp_pool_put(struct esp_pool *p, const struct esp_buf *b)
{
    if (!b->base || b->base < p->mem || b->base >= p->mem + p->mem_len)
        return false;
    size_t delta = (size_t)(b->base - p->mem);
    if (delta % ESP_POOL_BUF_SIZE)
        return false;
    size_t i = delta / ESP_POOL_BUF_SIZE;
    if (!p->out[i])
        return false; /* given back twice */
    p->out[i] = 0;
    p->free_idx[p->n_free++] = (uint32_t)i;
    return true;
}

unsigned esp_pool_available(const struct esp_pool *p)
{
    return p->n_free;
}

unsigned esp_pool_size(const struct esp_pool *p)
{
    return p->n;
}
