/*
 * req_call.c: the call requests (see request.h for the handler model and call.h for the
 * state machine): CallSignal, GetCallConfig, SetCallSettings.
 *
 * CallSignal{start} needs the store once (is this a private chat of the caller, who is the
 * peer); every other signal is answered on the network thread at once, because call state
 * is in memory only and a relayed ICE candidate must not wait for a disk commit.
 * GetCallConfig and SetCallSettings read/write the account's "always relay" setting and
 * hand out fresh TURN credentials (turn.c).
 */
#include "call.h"
#include "networking.h"
#include "request.h"
#include "turn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD PARLEY__ERROR_CODE__BAD_REQUEST
#define OK PARLEY__ERROR_CODE__OK

/* ---- CallSignal ---------------------------------------------------------------------------- */

static Parley__ErrorCode check_sdp(const Parley__CallSdp *s, const char **why)
{
    *why = "sdp must be 1-16384 bytes";
    size_t n = s->sdp ? strlen(s->sdp) : 0;
    return n >= 1 && n <= CALL_SDP_MAX ? OK : PARLEY__ERROR_CODE__TOO_LARGE;
}

static Parley__ErrorCode signal_validate(req_job *j, const char **why)
{
    const Parley__CallSignal *s = j->frame->call_signal;
    *why = "call_id is required";
    if (s->kind_case != PARLEY__CALL_SIGNAL__KIND_START && s->call_id == 0) return BAD;
    switch (s->kind_case) {
    case PARLEY__CALL_SIGNAL__KIND__NOT_SET:
        *why = "the signal has no kind";
        return BAD;
    case PARLEY__CALL_SIGNAL__KIND_START:
        *why = "start takes call_id 0 and a positive chat_id";
        return s->call_id == 0 && s->start->chat_id > 0 ? OK : BAD;
    case PARLEY__CALL_SIGNAL__KIND_OFFER:
        return check_sdp(s->offer, why);
    case PARLEY__CALL_SIGNAL__KIND_ANSWER:
        return check_sdp(s->answer, why);
    case PARLEY__CALL_SIGNAL__KIND_CANDIDATE:
        *why = "candidate over 1024 bytes or sdp_mid over 64";
        if (strlen(s->candidate->candidate) > CALL_CANDIDATE_MAX ||
            strlen(s->candidate->sdp_mid) > CALL_MID_MAX)
            return PARLEY__ERROR_CODE__TOO_LARGE;
        *why = "sdp_mline_index out of range";
        return s->candidate->sdp_mline_index < 64 ? OK : BAD;
    default:
        return OK;
    }
}

static void reply_empty(req_job *j, Parley__Response *r, wire_arena *a)
{
    r->empty = wire_alloc(a, sizeof *r->empty);
    if (!r->empty) return;
    parley__empty__init(r->empty);
    r->result_case = PARLEY__RESPONSE__RESULT_EMPTY;
}

static void reply_started(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__CallStarted *cs = wire_alloc(a, sizeof *cs);
    if (!cs) return;
    parley__call_started__init(cs);
    cs->call_id = (uint64_t)j->max_id;  /* call_start() left the id there */
    r->result_case = PARLEY__RESPONSE__RESULT_CALL_STARTED;
    r->call_started = cs;
}

static void signal_start(req_job *j)
{
    if (j->frame->call_signal->kind_case == PARLEY__CALL_SIGNAL__KIND_START) {
        req_submit_store(j, j->h);
        return;
    }
    conn *c = conn_find(j->srv, j->conn_id);
    const char *why = NULL;
    Parley__ErrorCode code = c ? call_signal(j->srv, c, j->frame->call_signal, &why)
                               : PARLEY__ERROR_CODE__CALL_NOT_FOUND;
    if (code != OK) req_fail(j, code, why, 0);
    else req_answer_now(j, reply_empty);
}

/* Store thread: the chat must be a private chat of the caller; learn the peer and names. */
static store_rc start_run(store *s, req_job *j)
{
    store_rc rc = store_chat_get(s, j->user_id, j->frame->call_signal->start->chat_id, &j->chat);
    if (rc != STORE_OK) return rc;
    j->has_chat = 1;
    if (j->chat.kind != STORE_CHAT_PRIVATE || j->chat.peer_user_id <= 0 ||
        j->chat.peer_user_id == j->user_id) {
        j->err = BAD;
        snprintf(j->err_msg, sizeof j->err_msg, "calls are 1:1: use a private chat");
        return STORE_ERR_INVALID;
    }
    rc = store_user_by_id(s, j->user_id, &j->user);
    if (rc == STORE_OK) j->has_user = 1;
    return rc == STORE_ERR_NO_USER ? STORE_ERR_INTERNAL : rc;
}

static void start_complete(req_job *j)
{
    if (j->sq.rc != STORE_OK) {
        req_finish(j);  /* the mapped error */
        return;
    }
    conn *c = conn_find(j->srv, j->conn_id);
    if (!c || c->state != CONN_READY || c->user_id != j->user_id) {
        req_job_free(j);  /* the caller left before the call could ring */
        return;
    }
    const char *why = NULL;
    uint64_t id = 0;
    uint32_t retry = 0;
    const Parley__CallStart *st = j->frame->call_signal->start;
    Parley__ErrorCode code = call_start(j->srv, c, st->chat_id, j->chat.peer_user_id,
                                        j->user.username, j->chat.title, st->video, &id, &why,
                                        &retry);
    if (code != OK) {
        req_fail(j, code, why, retry);
        return;
    }
    j->max_id = (int64_t)id;
    req_answer_now(j, reply_started);
}

/* ---- GetCallConfig / SetCallSettings ------------------------------------------------------ */

static store_rc get_config_run(store *s, req_job *j)
{
    return store_call_settings_get(s, j->user_id, &j->always_relay);
}

static store_rc set_settings_run(store *s, req_job *j)
{
    j->always_relay = j->frame->set_call_settings->always_relay;
    return store_call_settings_set(s, j->user_id, j->always_relay);
}

static char *arena_strndup(wire_arena *a, const char *s, size_t n)
{
    char *o = wire_alloc(a, n + 1);
    if (o) memcpy(o, s, n);
    return o;
}

/* The configured URLs (comma-separated) as one IceServer with this account's credential. */
static Parley__IceServer *ice_server(req_job *j, wire_arena *a, int64_t expires)
{
    const server_config *cfg = &j->srv->cfg;
    Parley__IceServer *is = wire_alloc(a, sizeof *is);
    if (!is) return NULL;
    parley__ice_server__init(is);
    size_t max = 1;
    for (const char *p = cfg->turn_urls; *p; p++) max += *p == ',';
    if (!(is->urls = wire_alloc(a, max * sizeof *is->urls))) return NULL;
    for (const char *p = cfg->turn_urls; *p;) {
        size_t n = strcspn(p, ",");
        if (n && !(is->urls[is->n_urls++] = arena_strndup(a, p, n))) return NULL;
        p += n + (p[n] == ',');
    }
    if (!cfg->turn_secret) return is;
    char user[TURN_USER_MAX], cred[TURN_CRED_MAX];
    if (turn_mint(cfg->turn_secret, j->user_id, expires, user, sizeof user, cred,
                  sizeof cred) != 0)
        return NULL;
    is->username = arena_strndup(a, user, strlen(user));
    is->credential = arena_strndup(a, cred, strlen(cred));
    return is->username && is->credential ? is : NULL;
}

static void reply_config(req_job *j, Parley__Response *r, wire_arena *a)
{
    const server_config *cfg = &j->srv->cfg;
    Parley__CallConfig *cc = wire_alloc(a, sizeof *cc);
    if (!cc) return;
    parley__call_config__init(cc);
    cc->always_relay = j->always_relay;
    cc->ring_timeout = cfg->call_ring_timeout;
    if (cfg->turn_urls) {
        cc->expires = j->now + cfg->turn_ttl;
        if (!(cc->ice_servers = wire_alloc(a, sizeof *cc->ice_servers))) return;
        if (!(cc->ice_servers[0] = ice_server(j, a, cc->expires))) {
            a->failed = 1;
            return;
        }
        cc->n_ice_servers = 1;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_CALL_CONFIG;
    r->call_config = cc;
}

/* ---- table ------------------------------------------------------------------------------ */

static const req_handler h_signal = {
    .validate = signal_validate, .start = signal_start, .run = start_run,
    .complete = start_complete,
};
static const req_handler h_get_config = { .run = get_config_run, .reply = reply_config };
static const req_handler h_set_settings = { .run = set_settings_run, .reply = reply_config };

const req_handler *req_call_handler(Parley__ClientFrame__RequestCase kind)
{
    switch (kind) {
    case PARLEY__CLIENT_FRAME__REQUEST_CALL_SIGNAL: return &h_signal;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_CALL_CONFIG: return &h_get_config;
    case PARLEY__CLIENT_FRAME__REQUEST_SET_CALL_SETTINGS: return &h_set_settings;
    default: return NULL;
    }
}
