/*
 * sync.h: the pure part of update ordering (no network), used by sync.c and unit-tested on
 * its own.
 *
 * `pts` is the client's position: every update with a pts at or below it was either
 * delivered (queued for parley_next_update or given to the update callback) or was caused by
 * this client's own request (its result carried that pts). The queue holds delivered updates
 * that parley_next_update has not returned yet; the queue owns them.
 */
#ifndef PARLEY_SYNC_H
#define PARLEY_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "parley.h"

typedef struct pl_qnode {
    struct pl_qnode *next;
    parley_update *u;
} pl_qnode;

typedef struct pl_sync {
    uint64_t pts;
    int want;                /* the program consumes updates (next_update or a callback) */
    int diff_in_flight;      /* a GetDifference request is outstanding */
    int diff_again;          /* a gap was seen while it was outstanding */
    pl_qnode *head, *tail;
    size_t n;
} pl_sync;

typedef enum { SYNC_DUPLICATE = 0, SYNC_APPLY = 1, SYNC_GAP = 2 } pl_sync_verdict;

/* A live push: APPLY (pts == local+1; the position advances), DUPLICATE (pts <= local) or
 * GAP (the caller fetches the difference; the push itself is dropped). */
pl_sync_verdict pl_sync_push(pl_sync *s, uint64_t pts);
/* An entry of a Difference page: 1 = deliver it (pts > local; the position advances),
 * 0 = already seen. Difference pages may skip pts of vanished content, so any pts above the
 * position is accepted here. */
int pl_sync_diff_entry(pl_sync *s, uint64_t pts);
/* End of a Difference page: the position moves to the page's pts if that is ahead. Returns
 * 1 if another page must be fetched (more, or a gap was seen meanwhile). */
int pl_sync_diff_end(pl_sync *s, uint64_t page_pts, int more);
/* A result of this client's own request (SendResult.pts...): advances only if contiguous. */
void pl_sync_result(pl_sync *s, uint64_t pts);

/* Queue: takes ownership of u / gives it back to the caller. */
int pl_sync_enqueue(pl_sync *s, parley_update *u);
parley_update *pl_sync_dequeue(pl_sync *s);
/* The position that may be stored: nothing the program has not received lies at or below
 * it. */
uint64_t pl_sync_safe_position(const pl_sync *s);
/* Frees queued updates. */
void pl_sync_clear(pl_sync *s);

#endif
