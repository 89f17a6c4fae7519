/*
 * rate_table.c: per-account token buckets (see rate_table.h).
 *
 * The buckets live in an idmap (id -> malloc'd bucket). When the map reaches the next
 * sweep size, every bucket that would be full at that moment is dropped, and the next
 * sweep size doubles from what remains, so sweeping costs amortised O(1) per insert.
 */
#include "rate_table.h"

#include "idmap.h"

#include <math.h>
#include <stdlib.h>

#define SWEEP_MIN 1024

typedef struct {
    double tokens;
    int64_t last_us;
} bucket;

struct rate_table {
    idmap map;
    size_t sweep_at;
    double last_rate, last_burst;  /* of the latest take: what "full" means when sweeping */
};

rate_table *rate_table_new(void)
{
    rate_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    idmap_init(&t->map);
    t->sweep_at = SWEEP_MIN;
    return t;
}

void rate_table_free(rate_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->map.cap; i++)
        if (t->map.slots[i].key) free(t->map.slots[i].value);
    idmap_free(&t->map);
    free(t);
}

static void refill(bucket *b, double rate, double burst, int64_t now_us)
{
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) / 1e6 * rate;
        b->last_us = now_us;
    }
    if (b->tokens > burst) b->tokens = burst;
}

/* Drops the buckets that are full by now (collected first: deletion moves slots). */
static void sweep(rate_table *t, int64_t now_us)
{
    uint64_t *gone = malloc(t->map.n * sizeof *gone);
    size_t n = 0;
    if (!gone) return;
    for (size_t i = 0; i < t->map.cap; i++) {
        bucket *b = t->map.slots[i].value;
        if (!t->map.slots[i].key) continue;
        refill(b, t->last_rate, t->last_burst, now_us);
        if (b->tokens >= t->last_burst) gone[n++] = t->map.slots[i].key;
    }
    for (size_t i = 0; i < n; i++) free(idmap_del(&t->map, gone[i]));
    free(gone);
    t->sweep_at = t->map.n * 2 > SWEEP_MIN ? t->map.n * 2 : SWEEP_MIN;
}

uint32_t rate_table_take(rate_table *t, uint64_t key, double rate, double burst,
                         int64_t now_us)
{
    t->last_rate = rate;
    t->last_burst = burst;
    bucket *b = idmap_get(&t->map, key);
    if (!b) {
        if (t->map.n >= t->sweep_at) sweep(t, now_us);
        if (t->map.n >= RATE_TABLE_MAX || !(b = malloc(sizeof *b))) return 1;
        b->tokens = burst;
        b->last_us = now_us;
        if (idmap_put(&t->map, key, b) != 0) {
            free(b);
            return 1;
        }
    }
    refill(b, rate, burst, now_us);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    double wait = (1 - b->tokens) / rate;
    return wait < 1 ? 1 : (uint32_t)ceil(wait);
}

size_t rate_table_size(const rate_table *t)
{
    return t->map.n;
}
