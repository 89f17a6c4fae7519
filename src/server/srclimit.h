/*
 * srclimit.h: how many connections each source holds (a source is a source_key(), see
 * source.h), for max_connections_per_source.
 *
 * Used on the network thread only. Memory: srclimit_new() allocates the table,
 * srclimit_free() releases it and every entry; an entry lives while its count is above 0.
 */
#ifndef PARLEY_SRCLIMIT_H
#define PARLEY_SRCLIMIT_H

#include <stddef.h>

typedef struct srclimit srclimit;

srclimit *srclimit_new(void);
void srclimit_free(srclimit *t);

/* Counts one more connection of `key` if that keeps it at or below `limit`: 0, or -1 when
 * the source is at its limit (or memory ran out) and nothing was counted. */
int srclimit_take(srclimit *t, const char *key, unsigned limit);
/* Gives back one connection of `key` (taken before). */
void srclimit_release(srclimit *t, const char *key);
/* The connections `key` holds now. */
unsigned srclimit_count(const srclimit *t, const char *key);
/* Number of sources holding at least one connection. */
size_t srclimit_sources(const srclimit *t);

#endif
