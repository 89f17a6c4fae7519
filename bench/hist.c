/*
 * hist.c: the log-linear latency histogram of hist.h. parley-bench records every delivery and
 * every send acknowledgement here (one histogram per loop thread, merged for the report), so
 * recording must be cheap and exact enough for p99.9 without keeping the samples.
 */
#include "hist.h"

#include <string.h>

#define SUB_BITS 7                      /* 128 sub-buckets per power of two above 255 */
#define SUB_COUNT (1u << SUB_BITS)

static int msb64(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB_COUNT)
        return (unsigned)v;
    /* For msb >= 8, shift so the top 8 bits remain: m in [128, 255]. */
    int e = msb64(v) - SUB_BITS;
    unsigned m = (unsigned)(v >> e);
    return 2 * SUB_COUNT + (unsigned)(e - 1) * SUB_COUNT + (m - SUB_COUNT);
}

/* Highest value that falls into bucket b. */
static uint64_t bucket_high(unsigned b)
{
    if (b < 2 * SUB_COUNT)
        return b;
    unsigned e = (b - 2 * SUB_COUNT) / SUB_COUNT + 1;
    uint64_t m = (b - 2 * SUB_COUNT) % SUB_COUNT + SUB_COUNT;
    return ((m + 1) << e) - 1;
}

void hist_init(bench_hist *h)
{
    memset(h, 0, sizeof *h);
}

void hist_record(bench_hist *h, uint64_t ns)
{
    if (ns > HIST_MAX_NS) {
        ns = HIST_MAX_NS;
        h->clamped++;
    }
    unsigned b = bucket_of(ns);
    if (b >= HIST_BUCKETS)              /* cannot happen for ns <= HIST_MAX_NS; be safe */
        b = HIST_BUCKETS - 1;
    h->counts[b]++;
    if (h->total == 0 || ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    h->total++;
    h->sum += (double)ns;
}

void hist_merge(bench_hist *dst, const bench_hist *src)
{
    if (src->total == 0)
        return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
}

uint64_t hist_quantile(const bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double hist_mean(const bench_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
