/*
 * api_update.c: parley_next_update and the live-update callback. next_update returns the
 * queue that sync.c fills (difference pages first, then live pushes), keeps the connection
 * up by itself (reconnecting with a growing pause, resuming, fetching what was missed), and
 * saves the position of the updates it returned (in batches, see parley_next_update): an
 * update is never skipped, at worst shown again after a crash.
 */
#include <stdlib.h>

#include "lib.h"
#include "secret_store.h"

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 5000

/* Failures worth retrying; anything else (untrusted certificate, dead session, bad
 * arguments) will not heal by waiting. */
static int transient(int code)
{
    return code == PARLEY_E_CONNECT || code == PARLEY_E_TIMEOUT || code == PARLEY_E_BUSY ||
           code == PARLEY_E_INTERNAL || code == PARLEY_E_FLOOD_WAIT;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* One step of keeping the connection up. Returns <0 on a fatal error. */
static int keep_connected(parley_client *c, int *started, unsigned *gen, int *backoff,
                          int64_t *next_attempt, parley_error *err)
{
    if (c->state == CONN_OPEN) {
        if (!c->authed)
            pl_conn_resume(c);
        return 0;
    }
    if (c->state != CONN_IDLE)
        return 0;                               /* handshake in progress */
    if (*started && c->failed_gen == *gen) {
        if (!transient(c->conn_err.code))
            return pl_err_copy(err, &c->conn_err);
        *started = 0;
        *next_attempt = pl_now_ms() + *backoff;
        *backoff = *backoff ? (*backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2)
                            : BACKOFF_FIRST_MS;
    }
    if (pl_now_ms() < *next_attempt)
        return 0;
    parley_error e;
    int rc = pl_conn_start(c, &e);
    if (rc < 0 && !transient(e.code))
        return pl_err_copy(err, &e);
    *started = 1;
    *gen = c->conn_gen;
    return 0;
}

/* timeout 0 asks only for what is pending: done once the connection is authenticated and
 * no difference page is on its way (a page in flight holds updates that are pending). */
static int caught_up(const parley_client *c)
{
    return c->state == CONN_OPEN && c->authed && !c->sync.diff_in_flight;
}

int parley_next_update(parley_client *c, int timeout_ms, parley_update **out,
                       parley_error *err)
{
    if (!c || !out)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    int rc = pl_check_not_in_service(c, err);
    if (rc < 0)
        return rc;
    /* The updates returned so far have been seen. Writing the position costs an fsync, so
     * it is written every PL_SAVE_EVERY updates and whenever the ready queue runs dry
     * (and at close): after a crash at most that many updates are shown again. */
    if (pl_sync_save_due(&c->sync, c->unsaved)) {
        pl_sync_save(c);
        c->unsaved = 0;
    }
    if (!c->sync.want) {
        c->sync.want = 1;
        pl_sync_fetch_difference(c);            /* no-op unless authenticated already */
    }
    int pending_only = timeout_ms == 0;
    if (pending_only)
        timeout_ms = c->timeout_ms;             /* bounds the wait for the catch-up */
    int64_t deadline = timeout_ms < 0 ? -1 : pl_now_ms() + timeout_ms;
    int started = 0, backoff = 0, polled = 0;
    unsigned gen = 0;
    int64_t next_attempt = 0;
    for (;;) {
        parley_update *u = pl_sync_dequeue(&c->sync);
        if (!u)
            u = pl_sc_next_update(c);           /* secret chats: envelopes, timers */
        if (u) {
            c->unsaved++;
            *out = u;
            return 0;
        }
        if (!c->has_session)
            return c->hs_err.code ? pl_err_copy(err, &c->hs_err)
                                  : pl_err(err, PARLEY_E_NO_SESSION,
                                           "not logged in (this profile has no session)");
        if (pending_only) {
            if (caught_up(c)) {
                if (polled)
                    return pl_err(err, PARLEY_E_TIMEOUT, "no update pending");
                /* One round without waiting reads pushes that have already arrived. */
                pl_loop_service(c->loop, 0);
                polled = 1;
                continue;
            }
            /* Without a connection nothing more is pending that can be fetched now. */
            if (started && c->failed_gen == gen && c->state == CONN_IDLE)
                return pl_err_copy(err, &c->conn_err);
        }
        rc = keep_connected(c, &started, &gen, &backoff, &next_attempt, err);
        if (rc < 0)
            return rc;
        if (c->state == CONN_OPEN && c->authed)
            backoff = 0;
        int64_t now = pl_now_ms();
        if (deadline >= 0 && now >= deadline)
            return pending_only ? pl_err(err, PARLEY_E_TIMEOUT, "catching up took over %d ms",
                                         timeout_ms)
                                : pl_err(err, PARLEY_E_TIMEOUT, "no update within %d ms",
                                         timeout_ms);
        int64_t until = deadline;
        if (c->state == CONN_IDLE && !started)
            until = min_deadline(deadline, next_attempt > now ? next_attempt : now);
        pl_loop_service(c->loop, until == now ? 0 : until);
    }
}

void parley_set_update_handler(parley_client *c, parley_update_cb cb, void *ud)
{
    if (!c)
        return;
    c->upd_cb = cb;
    c->upd_ud = ud;
    if (cb && !c->sync.want) {
        c->sync.want = 1;
        pl_sync_fetch_difference(c);
    }
    /* Updates queued before the handler existed go to it now, in order. */
    parley_update *u;
    while (cb && (u = pl_sync_dequeue(&c->sync))) {
        cb(c, ud, u);
        parley_update_free(u);
    }
}
