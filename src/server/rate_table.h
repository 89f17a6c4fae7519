/*
 * rate_table.h: token buckets keyed by a 64-bit id (an account), for limits that follow an
 * account across all its connections and devices: secret-chat sends and prekey-bundle
 * fetches per account (req_secret.c, issue 16).
 *
 * Unlike the per-connection flood bucket (throttle.h), a refused request is not charged:
 * an account that keeps asking while refused is simply refused, and waiting the time
 * given is always enough.
 *
 * Network thread only; time is an argument, so the table is unit-tested without clocks.
 * Memory: rate_table_new() returns a table the caller frees with rate_table_free(); it owns
 * its buckets. Buckets that have refilled completely are dropped when the table grows
 * (they are the same as no bucket), and the table never holds more than RATE_TABLE_MAX.
 */
#ifndef PARLEY_RATE_TABLE_H
#define PARLEY_RATE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define RATE_TABLE_MAX (1u << 20)

typedef struct rate_table rate_table;

rate_table *rate_table_new(void);
void rate_table_free(rate_table *t);

/* Takes one token of key's bucket (rate tokens per second, at most burst; a new key starts
 * full). 0 = allowed; otherwise nothing is taken and the result is the whole seconds to
 * wait (at least 1). Out of memory or a full table also answers 1 (wait). key != 0. */
uint32_t rate_table_take(rate_table *t, uint64_t key, double rate, double burst,
                         int64_t now_us);
/* Keys held (for tests). */
size_t rate_table_size(const rate_table *t);

#endif
