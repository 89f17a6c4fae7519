/*
 * push.c: the registry of online accounts and sessions, and update delivery (see push.h).
 *
 * Each account (and each session) has a doubly linked list of its connections, threaded
 * through the conns themselves (acc_prev/acc_next, ses_prev/ses_next); the idmaps hold the
 * list heads. Adding or removing a connection is O(1) and needs no allocation beyond the
 * map slot.
 *
 * Updates are encoded once per receiving account (the content can differ per viewer: a
 * message's random_id is shown only to its sender, a chat's unread count is per account)
 * and the same bytes are queued to each of that account's connections.
 */
#include "push.h"
#include "call.h"
#include "groupcall.h"
#include "log.h"
#include "networking.h"
#include "wire.h"

#include <stdlib.h>

/* Which list a link operation works on. */
typedef struct {
    idmap *heads;
    conn **(*prev)(conn *);
    conn **(*next)(conn *);
} list_kind;

static conn **acc_prev(conn *c) { return &c->acc_prev; }
static conn **acc_next(conn *c) { return &c->acc_next; }
static conn **ses_prev(conn *c) { return &c->ses_prev; }
static conn **ses_next(conn *c) { return &c->ses_next; }

static int link_conn(const list_kind *k, uint64_t key, conn *c)
{
    conn *head = idmap_get(k->heads, key);
    if (idmap_put(k->heads, key, c) != 0) return -1;
    *k->prev(c) = NULL;
    *k->next(c) = head;
    if (head) *k->prev(head) = c;
    return 0;
}

static void unlink_conn(const list_kind *k, uint64_t key, conn *c)
{
    conn *prev = *k->prev(c), *next = *k->next(c);
    if (prev) *k->next(prev) = next;
    else if (next) idmap_put(k->heads, key, next);  /* replaces a slot: cannot fail */
    else idmap_del(k->heads, key);
    if (next) *k->prev(next) = prev;
    *k->prev(c) = *k->next(c) = NULL;
}

static list_kind accounts_of(server *srv)
{
    return (list_kind){ &srv->push_accounts, acc_prev, acc_next };
}

static list_kind sessions_of(server *srv)
{
    return (list_kind){ &srv->push_sessions, ses_prev, ses_next };
}

int push_add(server *srv, conn *c)
{
    list_kind acc = accounts_of(srv), ses = sessions_of(srv);
    if (link_conn(&acc, (uint64_t)c->user_id, c) != 0) return -1;
    if (link_conn(&ses, (uint64_t)c->session_id, c) != 0) {
        unlink_conn(&acc, (uint64_t)c->user_id, c);
        return -1;
    }
    return 0;
}

void push_remove(server *srv, conn *c)
{
    if (c->user_id == 0) return;
    call_conn_gone(srv, c);  /* a call bound to this device ends with its authentication */
    groupcall_conn_gone(srv, c);
    list_kind acc = accounts_of(srv), ses = sessions_of(srv);
    unlink_conn(&acc, (uint64_t)c->user_id, c);
    unlink_conn(&ses, (uint64_t)c->session_id, c);
}

/* Does account have a connection other than `except`? Saves encoding for offline users. */
static int has_listener(server *srv, int64_t account, uint64_t except)
{
    for (conn *c = idmap_get(&srv->push_accounts, (uint64_t)account); c; c = c->acc_next)
        if (c->id != except) return 1;
    return 0;
}

static void deliver(server *srv, const store_update *u, int64_t account, uint64_t pts,
                    uint64_t except)
{
    if (!has_listener(srv, account, except)) return;
    wire_arena a;
    wire_arena_init(&a);
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_UPDATE;
    f.update = wire_update(&a, u, pts, account);
    size_t len = 0;
    uint8_t *buf = f.update ? wire_pack(&f, 0, &len) : NULL;
    wire_arena_free(&a);
    if (!buf) {
        /* The client notices the pts gap and asks GetDifference: nothing is lost. */
        log_warn("push: could not encode an update for account %lld", (long long)account);
        return;
    }
    conn *c = idmap_get(&srv->push_accounts, (uint64_t)account);
    while (c) {
        /* conn_send_packed may close c (too slow) but never unlinks it synchronously. */
        conn *next = c->acc_next;
        if (c->id != except && c->state == CONN_READY) conn_send_packed(c, buf, len);
        c = next;
    }
    free(buf);
}

void push_fanouts(server *srv, const store_fanouts *fo, uint64_t except)
{
    for (size_t i = 0; i < fo->n; i++) {
        const store_fanout *f = &fo->items[i];
        for (size_t k = 0; k < f->n_accounts; k++) {
            const store_update *u = f->per_account ? &f->per_account[k] : &f->update;
            deliver(srv, u, f->accounts[k], f->pts[k], except);
            /* Removed from a chat (or left it): out of its group call too. */
            if (u->kind == STORE_UPD_CHAT_REMOVED)
                groupcall_member_removed(srv, u->chat_id, f->accounts[k]);
        }
    }
}

void push_terminate_sessions(server *srv, const int64_t *ids, size_t n, uint64_t except)
{
    list_kind acc = accounts_of(srv), ses = sessions_of(srv);
    for (size_t i = 0; i < n; i++) {
        conn *c;
        while ((c = idmap_get(&srv->push_sessions, (uint64_t)ids[i])) != NULL) {
            /* Unlink first: the conn is no longer authenticated, whatever happens next. */
            call_conn_gone(srv, c);
            groupcall_conn_gone(srv, c);
            unlink_conn(&acc, (uint64_t)c->user_id, c);
            unlink_conn(&ses, (uint64_t)c->session_id, c);
            c->user_id = c->session_id = 0;
            if (c->id != except)
                conn_goodbye(c, PARLEY__ERROR_CODE__SESSION_TERMINATED, "session terminated",
                             LWS_CLOSE_STATUS_NORMAL, 0);
        }
    }
}

void push_range_for(const store_fanouts *fo, int64_t account, uint64_t *pts, uint32_t *count)
{
    uint64_t lo = 0, hi = 0;
    uint32_t n = 0;
    for (size_t i = 0; i < fo->n; i++)
        for (size_t k = 0; k < fo->items[i].n_accounts; k++) {
            if (fo->items[i].accounts[k] != account) continue;
            uint64_t p = fo->items[i].pts[k];
            if (n == 0 || p < lo) lo = p;
            if (p > hi) hi = p;
            n++;
        }
    /* One job's entries for one account are consecutive: the store thread runs one job at
     * a time and is the only writer of the log. Anything else is a bug worth seeing. */
    if (n && hi - lo + 1 != n)
        log_error("push: entries %llu..%llu of account %lld are not %u consecutive ones",
                  (unsigned long long)lo, (unsigned long long)hi, (long long)account, n);
    *pts = hi;
    *count = n;
}

Parley__Update **push_updates_for(wire_arena *a, const store_fanouts *fo, int64_t account,
                                  size_t *n)
{
    *n = 0;
    Parley__Update **v = wire_alloc(a, (fo->n + 1) * sizeof *v);
    if (!v) return NULL;
    /* Fan-outs are in log order, and each names an account at most once. */
    for (size_t i = 0; i < fo->n; i++) {
        const store_fanout *f = &fo->items[i];
        for (size_t k = 0; k < f->n_accounts; k++) {
            if (f->accounts[k] != account) continue;
            const store_update *u = f->per_account ? &f->per_account[k] : &f->update;
            if (!(v[*n] = wire_update(a, u, f->pts[k], account))) {
                a->failed = 1;
                return NULL;
            }
            (*n)++;
        }
    }
    return v;
}

void push_session_frame(server *srv, int64_t session_id, const Parley__ServerFrame *f)
{
    conn *c = idmap_get(&srv->push_sessions, (uint64_t)session_id);
    if (!c) return;  /* offline: the device asks GetSecretInbox when it is back */
    size_t len = 0;
    uint8_t *buf = wire_pack(f, 0, &len);
    if (!buf) {
        log_warn("push: could not encode a frame for session %lld", (long long)session_id);
        return;
    }
    while (c) {
        conn *next = c->ses_next;  /* as in deliver(): c may close, but stays linked */
        if (c->state == CONN_READY) conn_send_packed(c, buf, len);
        c = next;
    }
    free(buf);
}
