/*
 * sync.h: the pure part of update ordering (no network), used by sync.c and unit-tested on
 * its own.
 *
 * `pts` is the client's position: every update with a pts at or below it was either
 * delivered (queued for parley_next_update or given to the update callback) or was caused by
 * this client's own request (its result carried that pts). The queue holds delivered updates
 * that parley_next_update has not returned yet; the queue owns them.
 *
 * A result of this client's own request carries the range of positions the request added
 * (pts - pts_count + 1 .. pts; the connection is not pushed them). `own` holds such ranges
 * whose result arrived while earlier updates were still missing. When the gap fills, the
 * position passes them silently: the program made those changes itself and already has
 * their results. The set is bounded; if it overflows, the lowest range is dropped and those
 * entries merely come back as ordinary updates (never lost).
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

#define PL_OWN_MAX 64

typedef struct {
    uint64_t lo, hi;           /* lo <= hi */
} pl_own_range;

typedef struct pl_sync {
    uint64_t pts;
    pl_own_range own[PL_OWN_MAX];  /* unordered, disjoint, not adjacent; all above pts */
    size_t n_own;
    unsigned own_changes;      /* bumped whenever `own` changes (tells when to save it) */
    int want;                /* the program consumes updates (next_update or a callback) */
    int diff_in_flight;      /* a GetDifference request is outstanding */
    int diff_again;          /* a gap was seen while it was outstanding */
    pl_qnode *head, *tail;
    size_t n;
} pl_sync;

typedef enum { SYNC_DUPLICATE = 0, SYNC_APPLY = 1, SYNC_GAP = 2, SYNC_OWN = 3 } pl_sync_verdict;

/* A live push: APPLY (pts == local+1; the position advances), OWN (likewise, but it is one
 * of this client's own actions: not delivered), DUPLICATE (pts <= local) or GAP (the caller
 * fetches the difference; the push itself is dropped). */
pl_sync_verdict pl_sync_push(pl_sync *s, uint64_t pts);
/* An entry of a Difference page: 1 = deliver it (pts > local; the position advances),
 * 0 = already seen or one of this client's own actions (the position advances). Difference pages may skip pts of vanished content, so any pts above the
 * position is accepted here. */
int pl_sync_diff_entry(pl_sync *s, uint64_t pts);
/* End of a Difference page: the position moves to the page's pts if that is ahead. Returns
 * 1 if another page must be fetched (more, or a gap was seen meanwhile). */
int pl_sync_diff_end(pl_sync *s, uint64_t page_pts, int more);
/* A result of this client's own request: it added the `count` positions ending at pts
 * (count 0: none). Advances the position over them if nothing before them is missing;
 * otherwise remembers them in `own` and returns 1: entries before them are missing, the
 * caller fetches the difference. */
int pl_sync_result(pl_sync *s, uint64_t pts, uint32_t count);

/* The own ranges as text for the profile ("17 23-25 40", "" if none; fits PL_OWN_TEXT
 * bytes), and back. Parsing skips malformed or stale (<= pts) entries; single numbers are
 * what versions before ranges saved. */
#define PL_OWN_TEXT (PL_OWN_MAX * 42 + 1)
void pl_sync_own_format(const pl_sync *s, char *buf, size_t len);
void pl_sync_own_parse(pl_sync *s, const char *text);

/* Queue: takes ownership of u / gives it back to the caller. */
int pl_sync_enqueue(pl_sync *s, parley_update *u);
parley_update *pl_sync_dequeue(pl_sync *s);
/* The position that may be stored: nothing the program has not received lies at or below
 * it. */
uint64_t pl_sync_safe_position(const pl_sync *s);
/* Whether parley_next_update should write the position now, `unsaved` updates after the
 * last write: when nothing is ready (the program is idle) or every PL_SAVE_EVERY. */
#define PL_SAVE_EVERY 100
int pl_sync_save_due(const pl_sync *s, unsigned unsaved);
/* Frees queued updates and forgets the own positions. */
void pl_sync_clear(pl_sync *s);

#endif
