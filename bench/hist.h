/*
 * hist.h: a latency histogram for parley-bench, in the spirit of HdrHistogram (log-linear
 * buckets, fixed relative precision, constant-time record, mergeable).
 *
 * Values are nanoseconds. Buckets are exact up to 255 ns; above that each power of two is split
 * into 128 equal sub-buckets, so any recorded value is reported within 1/128 (< 0.8%) of the
 * truth. Values above HIST_MAX_NS (60 s) are clamped to it and counted in `clamped`.
 *
 * Memory: a bench_hist is a plain struct of fixed size (about 30 KiB); the caller owns it
 * (stack, static or malloc). No function allocates. Not thread-safe: give each thread its own
 * histogram and merge them at the end with hist_merge().
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_MAX_NS 60000000000ULL      /* 60 s */
/* 256 exact buckets for 0..255, then 128 per power of two from 2^8 up to 2^36 > 60 s. */
#define HIST_BUCKETS (256 + 28 * 128 + 128)

typedef struct {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t clamped;       /* values above HIST_MAX_NS */
    uint64_t min, max;      /* exact, in ns (max after clamping) */
    double sum;             /* for the mean */
} bench_hist;

void hist_init(bench_hist *h);
void hist_record(bench_hist *h, uint64_t ns);
/* dst += src. */
void hist_merge(bench_hist *dst, const bench_hist *src);
/* The value at quantile q (0..1): the highest value of the bucket holding the ceil(q*total)-th
 * smallest recording, never above max. 0 if empty. */
uint64_t hist_quantile(const bench_hist *h, double q);
double hist_mean(const bench_hist *h);

#endif
