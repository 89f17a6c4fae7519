/*
 * sync.c: keeps this client's view of the account's update log in order. Pushed updates
 * are applied when contiguous (pts == local+1), dropped when already seen, and a gap makes
 * the client page through GetDifference(since = local) instead. Updates are delivered to the
 * program's callback, or queued for parley_next_update. The first half of the file is pure
 * bookkeeping (sync.h, unit-tested); the second half talks to the connection.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib.h"

/* ---- pure part ------------------------------------------------------------------------- */

static int own_find(const pl_sync *s, uint64_t pts)
{
    for (size_t i = 0; i < s->n_own; i++)
        if (s->own[i].lo <= pts && pts <= s->own[i].hi)
            return (int)i;
    return -1;
}

static void own_remove_at(pl_sync *s, size_t i)
{
    s->own[i] = s->own[--s->n_own];
    s->own_changes++;
}

/* After the position moved: forget own ranges it passed, and pass the own ranges that now
 * follow it directly or that it reached into (nobody will send those to this client again). */
static void own_settle(pl_sync *s)
{
    int moved;
    do {
        moved = 0;
        for (size_t i = 0; i < s->n_own;) {
            if (s->own[i].hi <= s->pts) {
                own_remove_at(s, i);
            } else if (s->own[i].lo <= s->pts + 1) {
                s->pts = s->own[i].hi;
                own_remove_at(s, i);
                moved = 1;
            } else {
                i++;
            }
        }
    } while (moved);
}

/* Adds lo..hi to `own`, merged with the ranges it touches. */
static void own_add(pl_sync *s, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < s->n_own;) {
        if (s->own[i].lo <= hi + 1 && lo <= s->own[i].hi + 1) {
            if (s->own[i].lo < lo)
                lo = s->own[i].lo;
            if (s->own[i].hi > hi)
                hi = s->own[i].hi;
            own_remove_at(s, i);
        } else {
            i++;
        }
    }
    if (s->n_own == PL_OWN_MAX) {
        /* Full: give up the lowest range (its entries will show up as ordinary updates). */
        size_t low = 0;
        for (size_t i = 1; i < s->n_own; i++)
            if (s->own[i].lo < s->own[low].lo)
                low = i;
        if (s->own[low].lo > lo)
            return;
        own_remove_at(s, low);
    }
    s->own[s->n_own++] = (pl_own_range){lo, hi};
    s->own_changes++;
}

pl_sync_verdict pl_sync_push(pl_sync *s, uint64_t pts)
{
    if (pts <= s->pts)
        return SYNC_DUPLICATE;
    if (pts == s->pts + 1) {
        int own = own_find(s, pts) >= 0;
        s->pts = pts;
        own_settle(s);
        return own ? SYNC_OWN : SYNC_APPLY;
    }
    return SYNC_GAP;
}

int pl_sync_diff_entry(pl_sync *s, uint64_t pts)
{
    if (pts <= s->pts)
        return 0;
    int own = own_find(s, pts) >= 0;
    s->pts = pts;
    own_settle(s);
    return !own;
}

int pl_sync_diff_end(pl_sync *s, uint64_t page_pts, int more)
{
    if (page_pts > s->pts) {
        s->pts = page_pts;
        own_settle(s);
    }
    int again = more || s->diff_again;
    s->diff_again = 0;
    return again;
}

int pl_sync_result(pl_sync *s, uint64_t pts, uint32_t count)
{
    if (count == 0 || pts <= s->pts)
        return 0;
    uint64_t lo = count > pts ? 1 : pts - count + 1;
    if (lo <= s->pts + 1) {
        s->pts = pts;
        own_settle(s);
        return 0;
    }
    own_add(s, lo, pts);
    return 1;
}

void pl_sync_own_format(const pl_sync *s, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_own && off < len; i++) {
        const pl_own_range *r = &s->own[i];
        int n = r->lo == r->hi
                    ? snprintf(buf + off, len - off, i ? " %llu" : "%llu",
                               (unsigned long long)r->hi)
                    : snprintf(buf + off, len - off, i ? " %llu-%llu" : "%llu-%llu",
                               (unsigned long long)r->lo, (unsigned long long)r->hi);
        if (n < 0 || (size_t)n >= len - off) {
            buf[off] = '\0';     /* cut at a whole entry: a dropped one only shows again */
            break;
        }
        off += (size_t)n;
    }
}

/* One decimal number at *p; 0 if there is none or it does not fit. */
static int parse_u64(const char **p, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(*p, &end, 10);
    if (end == *p || errno || **p == '-')
        return 0;
    *v = x;
    *p = end;
    return 1;
}

void pl_sync_own_parse(pl_sync *s, const char *text)
{
    const char *p = text;
    while (p && *p) {
        uint64_t lo, hi;
        if (!parse_u64(&p, &lo))
            break;                  /* not ours or damaged: forget the rest */
        hi = lo;
        if (*p == '-') {
            p++;
            if (!parse_u64(&p, &hi) || hi < lo || hi - lo >= UINT32_MAX)
                break;
        }
        pl_sync_result(s, hi, (uint32_t)(hi - lo + 1));
        while (*p == ' ')
            p++;
    }
}

int pl_sync_enqueue(pl_sync *s, parley_update *u)
{
    pl_qnode *n = malloc(sizeof(*n));
    if (!n)
        return -PARLEY_E_NOMEM;
    n->next = NULL;
    n->u = u;
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
    s->n++;
    return 0;
}

parley_update *pl_sync_dequeue(pl_sync *s)
{
    pl_qnode *n = s->head;
    if (!n)
        return NULL;
    s->head = n->next;
    if (!s->head)
        s->tail = NULL;
    s->n--;
    parley_update *u = n->u;
    free(n);
    return u;
}

uint64_t pl_sync_safe_position(const pl_sync *s)
{
    /* Queued updates were not seen by the program yet: stop just before the first one. */
    if (s->head && s->head->u->pts > 0)
        return s->head->u->pts - 1;
    return s->pts;
}

int pl_sync_save_due(const pl_sync *s, unsigned unsaved)
{
    return !s->head || unsaved >= PL_SAVE_EVERY;
}

void pl_sync_clear(pl_sync *s)
{
    parley_update *u;
    while ((u = pl_sync_dequeue(s)))
        parley_update_free(u);
    if (s->n_own)
        s->own_changes++;
    s->n_own = 0;
}

/* ---- glue -------------------------------------------------------------------------------- */

static void deliver(parley_client *c, const Parley__Update *pu)
{
    parley_update *u = pl_conv_update(pu);
    if (!u)
        return;      /* out of memory or a kind this library does not know: skip it */
    if (c->upd_cb) {
        c->upd_cb(c, c->upd_ud, u);
        parley_update_free(u);
    } else if (pl_sync_enqueue(&c->sync, u) < 0) {
        parley_update_free(u);
    }
}

void pl_sync_on_update(parley_client *c, const Parley__Update *u)
{
    /* A program that never asks for updates does not move its position with pushes, so a
     * later reader of the same profile still gets them from the difference. */
    if (!c->sync.want)
        return;
    switch (pl_sync_push(&c->sync, u->pts)) {
    case SYNC_APPLY:
        deliver(c, u);
        break;
    case SYNC_DUPLICATE:
    case SYNC_OWN:
        break;
    case SYNC_GAP:
        if (c->sync.diff_in_flight)
            c->sync.diff_again = 1;
        else
            pl_sync_fetch_difference(c);
        break;
    }
}

static void difference_done(parley_client *c, pl_call *call, const Parley__Response *resp,
                            const parley_error *err)
{
    c->sync.diff_in_flight = 0;
    if (err || resp->result_case != PARLEY__RESPONSE__RESULT_DIFFERENCE) {
        /* Connection trouble: the next successful resume fetches again. A server refusal is
         * not retried in a loop. */
        c->sync.diff_again = 0;
        return;
    }
    const Parley__Difference *d = resp->difference;
    for (size_t i = 0; i < d->n_updates; i++)
        if (pl_sync_diff_entry(&c->sync, d->updates[i]->pts))
            deliver(c, d->updates[i]);
    if (pl_sync_diff_end(&c->sync, d->pts, d->more))
        pl_sync_fetch_difference(c);
}

void pl_sync_fetch_difference(parley_client *c)
{
    if (c->sync.diff_in_flight || c->state != CONN_OPEN || !c->authed)
        return;
    pl_call *call = calloc(1, sizeof(*call));
    if (!call)
        return;
    call->heap = 1;
    call->done = difference_done;
    Parley__GetDifferenceRequest req = PARLEY__GET_DIFFERENCE_REQUEST__INIT;
    req.since_pts = c->sync.pts;
    req.limit = 500;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_DIFFERENCE;
    f.get_difference = &req;
    c->sync.diff_in_flight = 1;
    if (pl_rpc_start(c, call, &f, 0) < 0)
        c->sync.diff_in_flight = 0;   /* pl_rpc_start freed the call */
}

void pl_sync_on_result(parley_client *c, uint64_t pts, uint32_t count)
{
    if (!pl_sync_result(&c->sync, pts, count) || !c->sync.want)
        return;
    /* Entries before this request's are missing: fetch them (this request's own entries
     * come back in the difference and are passed as own). */
    if (c->sync.diff_in_flight)
        c->sync.diff_again = 1;
    else
        pl_sync_fetch_difference(c);
}

void pl_sync_on_authed(parley_client *c)
{
    if (c->sync.want && c->server_pts > c->sync.pts)
        pl_sync_fetch_difference(c);
}

void pl_sync_save(parley_client *c)
{
    if (!c->has_session)
        return;
    uint64_t pos = pl_sync_safe_position(&c->sync);
    if (pos == c->saved_pts && c->sync.own_changes == c->saved_own_changes)
        return;
    /* The own positions are saved too, so that `parley send` in one process and `parley
     * receive` in another still keep this device's own messages out of the updates. */
    char own[PL_OWN_TEXT];
    pl_sync_own_format(&c->sync, own, sizeof(own));
    /* Only what moved is written: another process sharing the profile may have saved a
     * later position meanwhile. */
    int rc = pos == c->saved_pts ? pl_profile_set_text(&c->prof, PK_OWN, own[0] ? own : NULL, NULL)
                                 : pl_profile_set_position(&c->prof, pos, own, NULL);
    if (rc == 0) {
        c->saved_pts = pos;
        c->saved_own_changes = c->sync.own_changes;
    }
}
