/*
 * store_sqlite_pts.c: the accounts' update positions (pts), kept in memory by the writer.
 *
 * An account's pts is the position of the last entry of its update log, so the log itself is
 * the durable record: pts = max(updates.pts) of the account, one lookup in the log's primary
 * key. Keeping a copy in a users column (as migration 1 did) cost an UPDATE of every member's
 * users row per logged change: two random b-tree pages written to the WAL for each private
 * message, a third of the pages a send dirtied. Now the writer (the store thread, the only
 * connection that writes) reads a position once, bumps it in memory and writes only the log
 * row.
 *
 * The cache must never run ahead of the database: a bump inside a savepoint or transaction
 * that is later rolled back has to be undone. Every change is recorded in an undo log; each
 * savepoint level remembers where the log stood when it began (pts_mark) and a rollback
 * replays the log back to that point (pts_undo). When the outermost transaction commits, the
 * changes are final and the log is emptied (pts_settle). Nothing here touches the disk except
 * the lookup of a position not yet cached.
 *
 * Memory: the table and the log belong to the store (store_close -> pts_cache_free). The table
 * holds one slot per account seen since start, 16 bytes each, and grows by doubling.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#define PTS_MIN_SLOTS 1024

static size_t slot_of(const pts_cache *c, int64_t acc)
{
    uint64_t h = (uint64_t)acc * 0x9E3779B97F4A7C15ull;   /* Fibonacci hashing */
    return (size_t)(h >> 20) & (c->cap - 1);
}

/* Returns the slot holding acc, or the empty slot where it would go. */
static pts_slot *find(pts_cache *c, int64_t acc)
{
    size_t i = slot_of(c, acc);
    while (c->slots[i].acc != 0 && c->slots[i].acc != acc) i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

static int grow(pts_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : PTS_MIN_SLOTS;
    pts_slot *old = c->slots;
    size_t old_cap = c->cap;
    pts_slot *v = calloc(cap, sizeof *v);
    if (!v) return -1;
    c->slots = v;
    c->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].acc != 0) *find(c, old[i].acc) = old[i];
    free(old);
    return 0;
}

static int undo_push(pts_cache *c, int64_t acc, uint64_t before)
{
    if (c->n_undo == c->cap_undo) {
        size_t cap = c->cap_undo ? c->cap_undo * 2 : 256;
        pts_undo_entry *v = realloc(c->undo, cap * sizeof *v);
        if (!v) return -1;
        c->undo = v;
        c->cap_undo = cap;
    }
    c->undo[c->n_undo++] = (pts_undo_entry){acc, before};
    return 0;
}

/* The account's position from the log: 0 for an account with no entry yet. */
static store_rc load(store *s, int64_t acc, uint64_t *pts)
{
    sqlite3_stmt *st = sq_get(s, Q_LOG_TOP);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, acc);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *pts = (uint64_t)sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_ERR_INTERNAL;
}

/* The account's slot, loading its position from the log on a miss. *out is NULL (with the
 * position still in *pts) when the table could not grow to hold it. */
static store_rc slot_get(store *s, int64_t acc, pts_slot **out, uint64_t *pts)
{
    pts_cache *c = &s->pts;
    *out = NULL;
    if (acc == 0) return STORE_ERR_INTERNAL;      /* 0 marks an empty slot */
    if (c->cap) {
        pts_slot *sl = find(c, acc);
        if (sl->acc == acc) {
            *out = sl;
            *pts = sl->pts;
            return STORE_OK;
        }
    }
    store_rc r = load(s, acc, pts);
    if (r != STORE_OK) return r;
    /* Keep the table at most half full, so probes stay short. */
    if ((c->used + 1) * 2 > c->cap && grow(c)) return STORE_OK;   /* uncached, still right */
    pts_slot *sl = find(c, acc);
    *sl = (pts_slot){acc, *pts};
    c->used++;
    *out = sl;
    return STORE_OK;
}

store_rc pts_get(store *s, int64_t acc, uint64_t *pts)
{
    pts_slot *sl;
    return slot_get(s, acc, &sl, pts);
}

store_rc pts_bump(store *s, int64_t acc, uint64_t *pts)
{
    uint64_t cur;
    pts_slot *sl;
    store_rc r = slot_get(s, acc, &sl, &cur);
    if (r != STORE_OK) return r;
    /* No slot (the table could not grow): the bump cannot be remembered, so refuse it
     * rather than hand out the same position twice. */
    if (!sl || undo_push(&s->pts, acc, cur)) return STORE_ERR_INTERNAL;
    sl->pts = cur + 1;
    *pts = cur + 1;
    return STORE_OK;
}

size_t pts_mark(const store *s)
{
    return s->pts.n_undo;
}

void pts_undo(store *s, size_t mark)
{
    pts_cache *c = &s->pts;
    while (c->n_undo > mark) {
        pts_undo_entry *u = &c->undo[--c->n_undo];
        pts_slot *sl = find(c, u->acc);
        if (sl->acc == u->acc) sl->pts = u->before;
    }
}

void pts_settle(store *s)
{
    s->pts.n_undo = 0;
}

void pts_cache_free(pts_cache *c)
{
    free(c->slots);
    free(c->undo);
    memset(c, 0, sizeof *c);
}
