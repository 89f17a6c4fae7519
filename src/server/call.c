/*
 * call.c: the call state machine and signalling relay (see call.h for the model).
 *
 * Lookups: calls by id (idmap), and each account's current call (idmap; an account is in at
 * most one call, which is what makes busy detection O(1)). Both maps hold borrowed pointers
 * to calls this file allocated; call_free() unlinks from both before freeing.
 *
 * Who may send what is decided by the sender's role in the call, never by ids the client
 * claims: the caller is the one connection that started it; the callee is any connection of
 * the callee account while ringing and exactly the accepting connection afterwards. Anyone
 * else, including the caller's own other devices, gets CALL_NOT_FOUND, the same answer as
 * for an id that does not exist, so call ids of other people cannot be probed.
 */
#include "call.h"

#include "log.h"
#include "networking.h"
#include "push.h"
#include "storeq.h"
#include "validate.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CALL_RINGING = 1, CALL_ACTIVE } call_phase;
typedef enum { ROLE_NONE = 0, ROLE_CALLER, ROLE_CALLEE } call_role;

typedef struct call {
    uint64_t id;
    server *srv;
    int64_t chat_id;
    int64_t caller, callee;                     /* accounts */
    char caller_name[USERNAME_MAX + 1], callee_name[USERNAME_MAX + 1];
    uint64_t caller_conn, callee_conn;          /* callee_conn: 0 while ringing */
    int video;
    call_phase phase;
    int64_t accepted_at;                        /* unix seconds */
    uint64_t offer_from;                        /* conn with an unanswered offer, 0 = none */
    unsigned n_offers;
    unsigned n_media;
    unsigned n_candidates[2];                   /* [0] caller, [1] callee */
    lws_sorted_usec_list_t ring;                /* the unanswered-call timeout */
} call;

struct calls {
    idmap by_id;
    idmap by_account;
    idmap starts;              /* account -> start_window: how many calls it started lately */
};

/* Calls an account started in the current minute: each one rings every device of the callee
 * and leaves a history entry, so a loop of start+cancel must not be free. */
typedef struct {
    int64_t minute;
    unsigned n;
} start_window;

/* ---- registry ------------------------------------------------------------------------- */

int calls_start(server *srv)
{
    srv->calls = calloc(1, sizeof *srv->calls);
    if (!srv->calls) return -1;
    idmap_init(&srv->calls->by_id);
    idmap_init(&srv->calls->by_account);
    idmap_init(&srv->calls->starts);
    return 0;
}

/* Frees every start window, or only those older than `minute` (0 = all). */
static void starts_sweep(struct calls *r, int64_t minute)
{
    for (size_t i = 0; i < r->starts.cap; i++) {
        start_window *w = r->starts.slots[i].value;
        if (r->starts.slots[i].key && (minute == 0 || w->minute < minute)) {
            idmap_del(&r->starts, r->starts.slots[i].key);
            free(w);
            i = (size_t)-1;  /* deletion shifts slots: start over (rare: see starts_charge) */
        }
    }
}

/* 1 if `account` may start another call now; else *retry_after is set. */
static int starts_charge(struct calls *r, int64_t account, uint32_t *retry_after)
{
    int64_t now = server_now(), minute = now / 60;
    if (r->starts.n >= CALL_START_ACCOUNTS_SWEEP) starts_sweep(r, minute);
    start_window *w = idmap_get(&r->starts, (uint64_t)account);
    if (!w) {
        if (!(w = calloc(1, sizeof *w))) return 0;
        if (idmap_put(&r->starts, (uint64_t)account, w) != 0) {
            free(w);
            return 0;
        }
    }
    if (w->minute != minute) {
        w->minute = minute;
        w->n = 0;
    }
    if (w->n >= CALL_MAX_STARTS_PER_MINUTE) {
        *retry_after = (uint32_t)(60 - now % 60);
        return 0;
    }
    w->n++;
    return 1;
}

static void call_free(server *srv, call *k)
{
    lws_sul_cancel(&k->ring);
    idmap_del(&srv->calls->by_id, k->id);
    if (idmap_get(&srv->calls->by_account, (uint64_t)k->caller) == k)
        idmap_del(&srv->calls->by_account, (uint64_t)k->caller);
    if (idmap_get(&srv->calls->by_account, (uint64_t)k->callee) == k)
        idmap_del(&srv->calls->by_account, (uint64_t)k->callee);
    free(k);
}

void calls_stop(server *srv)
{
    if (!srv->calls) return;
    idmap *m = &srv->calls->by_id;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            call_free(srv, m->slots[i].value);
            i = (size_t)-1;  /* deletion shifts slots: start over (shutdown only) */
        }
    starts_sweep(srv->calls, 0);
    idmap_free(&srv->calls->by_id);
    idmap_free(&srv->calls->by_account);
    idmap_free(&srv->calls->starts);
    free(srv->calls);
    srv->calls = NULL;
}

/* ---- history entries ------------------------------------------------------------------ */

typedef struct {
    storeq_job sq;
    server *srv;
    int64_t chat_id, caller, now;
    int outcome, video;
    uint32_t duration;
    store_fanouts fo;
} log_job;

static store_rc log_run(store *s, storeq_job *sq)
{
    log_job *j = (log_job *)sq;
    if (j->outcome == PARLEY__CALL_OUTCOME__GROUP_CALL_STARTED ||
        j->outcome == PARLEY__CALL_OUTCOME__GROUP_CALL_ENDED)
        return store_group_call_record(s, j->chat_id, j->caller, j->outcome, j->duration, j->now,
                                       &j->fo);
    return store_call_record(s, j->chat_id, j->caller, j->outcome, j->duration, j->video,
                             j->now, &j->fo);
}

static void log_discard(storeq_job *sq)
{
    log_job *j = (log_job *)sq;
    store_fanouts_free(&j->fo);
    free(j);
}

static void log_done(storeq_job *sq)
{
    log_job *j = (log_job *)sq;
    if (j->sq.rc == STORE_OK) push_fanouts(j->srv, &j->fo, 0);
    else log_warn("call entry for chat %lld not stored (%d)", (long long)j->chat_id, j->sq.rc);
    log_discard(sq);
}

void call_log_entry(server *srv, int64_t chat_id, int64_t caller, int outcome, int video,
                    uint32_t duration)
{
    log_job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->sq.run = log_run;
    j->sq.done = log_done;
    j->sq.discard = log_discard;
    j->srv = srv;
    j->chat_id = chat_id;
    j->caller = caller;
    j->outcome = outcome;
    j->video = video;
    j->duration = duration;
    j->now = server_now();
    if (srv->shutting_down || storeq_submit(srv->sq, &j->sq) != 0) {
        log_warn("call entry for chat %lld dropped: store queue full", (long long)chat_id);
        free(j);
    }
}

/* ---- events --------------------------------------------------------------------------- */

/* Sends sig about call k to connection c, naming the other party of `to_caller`'s side. */
static void send_event(call *k, conn *c, int to_caller, Parley__CallSignal *sig)
{
    if (!c || c->state != CONN_READY) return;
    Parley__User peer = PARLEY__USER__INIT;
    peer.id = to_caller ? k->callee : k->caller;
    peer.username = to_caller ? k->callee_name : k->caller_name;
    Parley__CallEvent ev = PARLEY__CALL_EVENT__INIT;
    ev.call_id = k->id;
    ev.chat_id = k->chat_id;
    ev.peer = &peer;
    ev.video = k->video;
    ev.signal = sig;
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_CALL;
    f.call = &ev;
    conn_send(c, &f);
}

/* A server-made signal of one of the Empty kinds. */
typedef struct {
    Parley__CallSignal sig;
    Parley__Empty empty;
} simple_signal;

static void simple_init(simple_signal *s, call *k, Parley__CallSignal__KindCase kind)
{
    parley__call_signal__init(&s->sig);
    parley__empty__init(&s->empty);
    s->sig.call_id = k->id;
    s->sig.kind_case = kind;
    switch (kind) {
    case PARLEY__CALL_SIGNAL__KIND_RINGING: s->sig.ringing = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_ACCEPT: s->sig.accept = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_DECLINE: s->sig.decline = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_BUSY: s->sig.busy = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_CANCEL: s->sig.cancel = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_HANGUP: s->sig.hangup = &s->empty; break;
    case PARLEY__CALL_SIGNAL__KIND_ANSWERED_ELSEWHERE: s->sig.answered_elsewhere = &s->empty;
        break;
    case PARLEY__CALL_SIGNAL__KIND_TIMEOUT: s->sig.timeout = &s->empty; break;
    default: break;
    }
}

/* Every connection of the callee account except `except` (0 = all). */
static void tell_callee_devices(call *k, uint64_t except, Parley__CallSignal *sig)
{
    conn *c = idmap_get(&k->srv->push_accounts, (uint64_t)k->callee);
    while (c) {
        conn *next = c->acc_next;
        if (c->id != except) send_event(k, c, 0, sig);
        c = next;
    }
}

static void tell_caller(call *k, Parley__CallSignal *sig)
{
    send_event(k, conn_find(k->srv, k->caller_conn), 1, sig);
}

/* Ends k: tells `notify_caller` / the callee side (all its devices while ringing, the bound
 * one afterwards, except `except`) with `kind`, records the outcome and frees k. */
static void call_end(call *k, int outcome, Parley__CallSignal__KindCase kind, int notify_caller,
                     int notify_callee, uint64_t except)
{
    simple_signal s;
    simple_init(&s, k, kind);
    if (notify_caller) tell_caller(k, &s.sig);
    if (notify_callee && k->phase == CALL_RINGING) tell_callee_devices(k, except, &s.sig);
    else if (notify_callee && k->callee_conn != except)
        send_event(k, conn_find(k->srv, k->callee_conn), 0, &s.sig);
    int64_t dur = k->phase == CALL_ACTIVE ? server_now() - k->accepted_at : 0;
    call_log_entry(k->srv, k->chat_id, k->caller, outcome, k->video,
             (uint32_t)(dur < 0 ? 0 : dur > UINT32_MAX ? UINT32_MAX : dur));
    log_info("call %016llx ended (outcome %d)", (unsigned long long)k->id, outcome);
    call_free(k->srv, k);
}

static void ring_expired(lws_sorted_usec_list_t *sul)
{
    call *k = (call *)((char *)sul - offsetof(call, ring));
    if (k->phase != CALL_RINGING) return;
    call_end(k, PARLEY__CALL_OUTCOME__CALL_MISSED, PARLEY__CALL_SIGNAL__KIND_TIMEOUT, 1, 1, 0);
}

/* ---- start ---------------------------------------------------------------------------- */

static call *call_new(server *srv, conn *c, int64_t chat_id, int64_t callee,
                      const char *caller_name, const char *callee_name, int video)
{
    call *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    do randombytes_buf(&k->id, sizeof k->id);
    while (k->id == 0 || idmap_get(&srv->calls->by_id, k->id));
    k->srv = srv;
    k->chat_id = chat_id;
    k->caller = c->user_id;
    k->callee = callee;
    snprintf(k->caller_name, sizeof k->caller_name, "%s", caller_name);
    snprintf(k->callee_name, sizeof k->callee_name, "%s", callee_name);
    k->caller_conn = c->id;
    k->video = video;
    k->phase = CALL_RINGING;
    if (idmap_put(&srv->calls->by_id, k->id, k) != 0) goto fail;
    if (idmap_put(&srv->calls->by_account, (uint64_t)k->caller, k) != 0) goto fail;
    if (idmap_put(&srv->calls->by_account, (uint64_t)k->callee, k) != 0) goto fail;
    return k;
fail:
    call_free(srv, k);
    return NULL;
}

Parley__ErrorCode call_start(server *srv, conn *c, int64_t chat_id, int64_t callee,
                             const char *caller_name, const char *callee_name, int video,
                             uint64_t *call_id, const char **why, uint32_t *retry_after)
{
    *why = "too many calls started; try again later";
    if (!starts_charge(srv->calls, c->user_id, retry_after)) return PARLEY__ERROR_CODE__FLOOD_WAIT;
    *why = "you are already in a call";
    if (idmap_get(&srv->calls->by_account, (uint64_t)c->user_id))
        return PARLEY__ERROR_CODE__CALL_BUSY;
    *why = "the other side is in another call";
    if (idmap_get(&srv->calls->by_account, (uint64_t)callee)) {
        call_log_entry(srv, chat_id, c->user_id, PARLEY__CALL_OUTCOME__CALL_BUSY_OUTCOME, video, 0);
        return PARLEY__ERROR_CODE__CALL_BUSY;
    }
    *why = "out of memory";
    call *k = call_new(srv, c, chat_id, callee, caller_name, callee_name, video);
    if (!k) return PARLEY__ERROR_CODE__INTERNAL;
    lws_sul_schedule(srv->lws, 0, &k->ring, ring_expired,
                     (lws_usec_t)srv->cfg.call_ring_timeout * LWS_US_PER_SEC);
    Parley__CallStart st = PARLEY__CALL_START__INIT;
    st.chat_id = chat_id;
    st.video = video;
    Parley__CallSignal sig = PARLEY__CALL_SIGNAL__INIT;
    sig.call_id = k->id;
    sig.kind_case = PARLEY__CALL_SIGNAL__KIND_START;
    sig.start = &st;
    tell_callee_devices(k, 0, &sig);
    *call_id = k->id;
    log_info("call %016llx: %lld -> %lld ringing", (unsigned long long)k->id,
             (long long)k->caller, (long long)callee);
    return PARLEY__ERROR_CODE__OK;
}

/* ---- signals -------------------------------------------------------------------------- */

static call_role role_of(const call *k, const conn *c)
{
    if (c->id == k->caller_conn) return ROLE_CALLER;
    if (k->phase == CALL_ACTIVE) return c->id == k->callee_conn ? ROLE_CALLEE : ROLE_NONE;
    return c->user_id == k->callee ? ROLE_CALLEE : ROLE_NONE;
}

/* The other bound connection of an active call. */
static conn *other_side(call *k, call_role r)
{
    return conn_find(k->srv, r == ROLE_CALLER ? k->callee_conn : k->caller_conn);
}

static Parley__ErrorCode on_accept(call *k, conn *c)
{
    lws_sul_cancel(&k->ring);
    k->phase = CALL_ACTIVE;
    k->callee_conn = c->id;
    k->accepted_at = server_now();
    simple_signal s;
    simple_init(&s, k, PARLEY__CALL_SIGNAL__KIND_ACCEPT);
    tell_caller(k, &s.sig);
    simple_init(&s, k, PARLEY__CALL_SIGNAL__KIND_ANSWERED_ELSEWHERE);
    tell_callee_devices(k, c->id, &s.sig);
    return PARLEY__ERROR_CODE__OK;
}

static Parley__ErrorCode on_hangup(call *k, conn *c, call_role r)
{
    if (k->phase == CALL_RINGING && r == ROLE_CALLER)
        call_end(k, PARLEY__CALL_OUTCOME__CALL_CANCELLED, PARLEY__CALL_SIGNAL__KIND_CANCEL, 0,
                 1, 0);
    else if (k->phase == CALL_RINGING)
        call_end(k, PARLEY__CALL_OUTCOME__CALL_DECLINED, PARLEY__CALL_SIGNAL__KIND_DECLINE, 1,
                 1, c->id);
    else
        call_end(k, PARLEY__CALL_OUTCOME__CALL_ENDED, PARLEY__CALL_SIGNAL__KIND_HANGUP,
                 r == ROLE_CALLEE, r == ROLE_CALLER, c->id);
    return PARLEY__ERROR_CODE__OK;
}

/* offer / answer / candidate / media: only between the two bound connections. */
static Parley__ErrorCode on_media_signal(call *k, conn *c, call_role r,
                                         const Parley__CallSignal *sig, const char **why)
{
    *why = "the call has not been accepted";
    if (k->phase != CALL_ACTIVE) return PARLEY__ERROR_CODE__CALL_STATE;
    switch (sig->kind_case) {
    case PARLEY__CALL_SIGNAL__KIND_OFFER:
        *why = "an offer is already waiting for its answer";
        if (k->offer_from) return PARLEY__ERROR_CODE__CALL_STATE;
        *why = "too many renegotiations in this call";
        if (k->n_offers >= CALL_MAX_OFFERS) return PARLEY__ERROR_CODE__CALL_LIMIT;
        k->n_offers++;
        k->offer_from = c->id;
        break;
    case PARLEY__CALL_SIGNAL__KIND_ANSWER:
        *why = "there is no offer to answer";
        if (!k->offer_from || k->offer_from == c->id) return PARLEY__ERROR_CODE__CALL_STATE;
        k->offer_from = 0;
        break;
    case PARLEY__CALL_SIGNAL__KIND_CANDIDATE:
        *why = "too many candidates in this call";
        if (k->n_candidates[r == ROLE_CALLEE] >= CALL_MAX_CANDIDATES)
            return PARLEY__ERROR_CODE__CALL_LIMIT;
        k->n_candidates[r == ROLE_CALLEE]++;
        break;
    default:  /* media */
        *why = "too many media signals in this call";
        if (k->n_media >= CALL_MAX_MEDIA) return PARLEY__ERROR_CODE__CALL_LIMIT;
        k->n_media++;
        break;
    }
    send_event(k, other_side(k, r), r == ROLE_CALLEE, (Parley__CallSignal *)sig);
    return PARLEY__ERROR_CODE__OK;
}

Parley__ErrorCode call_signal(server *srv, conn *c, const Parley__CallSignal *sig,
                              const char **why)
{
    call *k = idmap_get(&srv->calls->by_id, sig->call_id);
    call_role r = k ? role_of(k, c) : ROLE_NONE;
    *why = "no such call";
    if (r == ROLE_NONE) return PARLEY__ERROR_CODE__CALL_NOT_FOUND;
    int ringing = k->phase == CALL_RINGING;
    *why = "not valid in this state of the call";
    switch (sig->kind_case) {
    case PARLEY__CALL_SIGNAL__KIND_RINGING: {
        if (!ringing || r != ROLE_CALLEE) return PARLEY__ERROR_CODE__CALL_STATE;
        simple_signal s;
        simple_init(&s, k, PARLEY__CALL_SIGNAL__KIND_RINGING);
        tell_caller(k, &s.sig);
        return PARLEY__ERROR_CODE__OK;
    }
    case PARLEY__CALL_SIGNAL__KIND_ACCEPT:
        if (!ringing || r != ROLE_CALLEE) return PARLEY__ERROR_CODE__CALL_STATE;
        return on_accept(k, c);
    case PARLEY__CALL_SIGNAL__KIND_DECLINE:
    case PARLEY__CALL_SIGNAL__KIND_BUSY: {
        if (!ringing || r != ROLE_CALLEE) return PARLEY__ERROR_CODE__CALL_STATE;
        int busy = sig->kind_case == PARLEY__CALL_SIGNAL__KIND_BUSY;
        call_end(k, busy ? PARLEY__CALL_OUTCOME__CALL_BUSY_OUTCOME
                         : PARLEY__CALL_OUTCOME__CALL_DECLINED,
                 sig->kind_case, 1, 1, c->id);
        return PARLEY__ERROR_CODE__OK;
    }
    case PARLEY__CALL_SIGNAL__KIND_CANCEL:
        if (!ringing || r != ROLE_CALLER) return PARLEY__ERROR_CODE__CALL_STATE;
        return on_hangup(k, c, r);
    case PARLEY__CALL_SIGNAL__KIND_HANGUP:
        return on_hangup(k, c, r);
    case PARLEY__CALL_SIGNAL__KIND_OFFER:
    case PARLEY__CALL_SIGNAL__KIND_ANSWER:
    case PARLEY__CALL_SIGNAL__KIND_CANDIDATE:
    case PARLEY__CALL_SIGNAL__KIND_MEDIA:
        return on_media_signal(k, c, r, sig, why);
    default:
        *why = "this signal is not sent by clients";
        return PARLEY__ERROR_CODE__BAD_REQUEST;
    }
}

void call_conn_gone(server *srv, conn *c)
{
    if (!srv->calls || c->user_id == 0) return;
    call *k = idmap_get(&srv->calls->by_account, (uint64_t)c->user_id);
    if (!k) return;
    if (c->id == k->caller_conn || (k->phase == CALL_ACTIVE && c->id == k->callee_conn))
        on_hangup(k, c, c->id == k->caller_conn ? ROLE_CALLER : ROLE_CALLEE);
}
