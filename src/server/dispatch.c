/*
 * dispatch.c: the front door for every ClientFrame and the generic request lifecycle (see
 * dispatch.h and request.h).
 *
 * Order of checks for one frame: decode (malformed -> Goodbye), flood bucket, Hello state,
 * request type known, authentication state, then the handler's validation. Only a request
 * that passed all of them costs a store or Argon2 job. The request-specific parts live in
 * req_account.c (accounts, sessions), req_chat.c (chats, messages, sync) and req_secret.c
 * (secret chats: device keys, envelopes).
 */
#include "dispatch.h"

#include "log.h"
#include "networking.h"
#include "pbstrings.h"
#include "push.h"
#include "request.h"

#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PROTOCOL_VERSION 1
#define SERVER_NAME "parleyd/0.1"
#define HOUSEKEEPING_US (60 * LWS_US_PER_SEC)

#define REQ_OF(ptr, member) ((req_job *)((char *)(ptr) - offsetof(req_job, member)))

/* ---- job lifecycle ---------------------------------------------------------------------- */

static void wipe_string(char *s)
{
    if (s) sodium_memzero(s, strlen(s));
}

/* Passwords and tokens must not outlive a request in freed memory. */
static void frame_free(Parley__ClientFrame *f)
{
    if (f->request_case == PARLEY__CLIENT_FRAME__REQUEST_REGISTER && f->register_)
        wipe_string(f->register_->password);
    if (f->request_case == PARLEY__CLIENT_FRAME__REQUEST_LOGIN && f->login)
        wipe_string(f->login->password);
    if (f->request_case == PARLEY__CLIENT_FRAME__REQUEST_RESUME && f->resume &&
        f->resume->token.data)
        sodium_memzero(f->resume->token.data, f->resume->token.len);
    parley__client_frame__free_unpacked(f, NULL);
}

static void wipe_secrets(req_job *j)
{
    sodium_memzero(j->token, sizeof j->token);
    sodium_memzero(j->token_hash, sizeof j->token_hash);
    if (j->has_user && j->user.pwhash) wipe_string(j->user.pwhash);
    sodium_memzero(j->aj.hash, sizeof j->aj.hash);
}

static void free_outputs(req_job *j)
{
    if (j->has_user) store_user_free(&j->user);
    if (j->has_chat) store_chat_free(&j->chat);
    if (j->chats) store_chats_free(j->chats, j->n_chats);
    if (j->has_msg) store_msg_free(&j->msg);
    if (j->msgs) store_msgs_free(j->msgs, j->n_msgs);
    if (j->members) store_members_free(j->members, j->n_members);
    if (j->sessions) store_sessions_free(j->sessions, j->n_sessions);
    if (j->updates) store_updates_free(j->updates, j->n_updates);
    free(j->ids);
    free(j->user_ids);
    store_fanouts_free(&j->fo);
    if (j->ext_free) j->ext_free(j->ext);
    free(j->gc_answer);
}

void req_answer_now(req_job *j, void (*fill)(req_job *, Parley__Response *, wire_arena *))
{
    conn *c = conn_find(j->srv, j->conn_id);
    if (c && c->state == CONN_READY) {
        wire_arena a;
        wire_arena_init(&a);
        Parley__Response r = PARLEY__RESPONSE__INIT;
        r.id = j->req_id;
        fill(j, &r, &a);
        if (a.failed || r.result_case == PARLEY__RESPONSE__RESULT__NOT_SET)
            conn_respond_error(c, j->req_id, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        else conn_respond(c, &r);
        wire_arena_free(&a);
    }
    req_job_free(j);
}

void req_job_free(req_job *j)
{
    conn *c = conn_find(j->srv, j->conn_id);
    if (c) {
        conn_request_end(c);
        if (j->auth_request) c->auth_pending = 0;
    }
    req_account_release(j);
    wipe_secrets(j);
    free_outputs(j);
    if (j->frame) frame_free(j->frame);
    free(j);
}

static store_rc sq_run(store *s, storeq_job *sq)
{
    req_job *j = REQ_OF(sq, sq);
    return j->h->run(s, j);
}

static void sq_done(storeq_job *sq)
{
    req_job *j = REQ_OF(sq, sq);
    if (j->h->complete) j->h->complete(j);
    else req_finish(j);
}

static void sq_discard(storeq_job *sq)
{
    req_job_free(REQ_OF(sq, sq));
}

void req_submit_store(req_job *j, const req_handler *h)
{
    j->h = h;
    j->sq.run = sq_run;
    j->sq.done = sq_done;
    j->sq.discard = sq_discard;
    j->now = server_now();
    if (j->srv->shutting_down || storeq_submit(j->srv->sq, &j->sq) != 0)
        req_fail(j, PARLEY__ERROR_CODE__BUSY, "server busy, try again", 1);
}

static const char *default_message(Parley__ErrorCode code)
{
    switch (code) {
    case PARLEY__ERROR_CODE__USERNAME_TAKEN: return "username is taken";
    case PARLEY__ERROR_CODE__USER_NOT_FOUND: return "user not found";
    case PARLEY__ERROR_CODE__CHAT_NOT_FOUND: return "chat not found";
    case PARLEY__ERROR_CODE__MESSAGE_NOT_FOUND: return "message not found";
    case PARLEY__ERROR_CODE__FORBIDDEN: return "not allowed";
    case PARLEY__ERROR_CODE__LIMIT_REACHED: return "limit reached";
    case PARLEY__ERROR_CODE__BAD_REQUEST: return "invalid request";
    case PARLEY__ERROR_CODE__SESSION_TERMINATED: return "session terminated";
    case PARLEY__ERROR_CODE__INVALID_CREDENTIALS: return "wrong username or password";
    case PARLEY__ERROR_CODE__BUSY: return "server busy, try again";
    default: return "internal error";
    }
}

void req_fail(req_job *j, Parley__ErrorCode code, const char *message, uint32_t retry_after)
{
    conn *c = conn_find(j->srv, j->conn_id);
    if (c) conn_respond_error(c, j->req_id, code, message ? message : default_message(code),
                              retry_after);
    req_job_free(j);
}

static void answer(req_job *j, conn *c)
{
    wire_arena a;
    wire_arena_init(&a);
    Parley__Response r = PARLEY__RESPONSE__INIT;
    r.id = j->req_id;
    j->h->reply(j, &r, &a);
    if (a.failed) {
        log_error("request %llu: out of memory encoding the answer",
                  (unsigned long long)j->req_id);
        conn_respond_error(c, j->req_id, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
    } else {
        conn_respond(c, &r);
    }
    wire_arena_free(&a);
}

/* A full disk is BUSY (nothing was written, it may pass) with its own words and a longer
 * retry time than a full queue's. */
#define DISK_FULL_RETRY_S 5

void req_finish(req_job *j)
{
    if (j->sq.rc == STORE_ERR_FULL && !j->err) {
        req_fail(j, PARLEY__ERROR_CODE__BUSY,
                 "the server's disk is full; nothing was stored, try again later",
                 DISK_FULL_RETRY_S);
        return;
    }
    if (j->sq.rc != STORE_OK) {
        Parley__ErrorCode code = j->err ? j->err : wire_store_error(j->sq.rc);
        req_fail(j, code, j->err_msg[0] ? j->err_msg : NULL,
                 code == PARLEY__ERROR_CODE__BUSY ? 1 : 0);
        return;
    }
    conn *c = conn_find(j->srv, j->conn_id);
    if (c && c->state != CONN_CLOSING) answer(j, c);
    push_fanouts(j->srv, &j->fo, j->conn_id);
    if (j->h->after) j->h->after(j, c);
    req_job_free(j);
}

/* ---- immediate answers ---------------------------------------------------------------- */

static void respond_hello(conn *c, uint64_t id)
{
    Parley__HelloResult h = PARLEY__HELLO_RESULT__INIT;
    h.protocol_version = PROTOCOL_VERSION;
    h.server = SERVER_NAME;
    h.server_time = server_now();
    Parley__Response r = PARLEY__RESPONSE__INIT;
    r.id = id;
    r.result_case = PARLEY__RESPONSE__RESULT_HELLO;
    r.hello = &h;
    conn_respond(c, &r);
}

static void respond_pong(conn *c, uint64_t id, uint64_t nonce)
{
    Parley__Ping p = PARLEY__PING__INIT;
    p.nonce = nonce;
    Parley__Response r = PARLEY__RESPONSE__INIT;
    r.id = id;
    r.result_case = PARLEY__RESPONSE__RESULT_PONG;
    r.pong = &p;
    conn_respond(c, &r);
}

/* The first frame must be Hello{protocol_version=1}; anything else ends the connection. */
static void handle_first(conn *c, const Parley__ClientFrame *f)
{
    if (f->request_case != PARLEY__CLIENT_FRAME__REQUEST_HELLO) {
        conn_respond_error(c, f->id, PARLEY__ERROR_CODE__BAD_REQUEST,
                           "the first request must be Hello", 0);
        conn_goodbye(c, PARLEY__ERROR_CODE__BAD_REQUEST, "expected Hello",
                     LWS_CLOSE_STATUS_POLICY_VIOLATION, 0);
        return;
    }
    if (f->hello->protocol_version != PROTOCOL_VERSION) {
        conn_respond_error(c, f->id, PARLEY__ERROR_CODE__UNSUPPORTED_VERSION,
                           "this server speaks protocol version 1", 0);
        conn_goodbye(c, PARLEY__ERROR_CODE__UNSUPPORTED_VERSION, "unsupported version",
                     LWS_CLOSE_STATUS_POLICY_VIOLATION, 0);
        return;
    }
    c->state = CONN_READY;
    respond_hello(c, f->id);
}

/* 1 if the request may proceed; otherwise it has been answered (or the conn is closing). */
static int charge_flood(conn *c, uint64_t req_id)
{
    uint32_t retry = 0;
    server_config *cfg = &c->srv->cfg;
    switch (flood_take(&c->flood, cfg->flood_rate, cfg->flood_burst, lws_now_usecs(), &retry)) {
    case FLOOD_ALLOW:
        return 1;
    case FLOOD_WAIT:
        conn_respond_error(c, req_id, PARLEY__ERROR_CODE__FLOOD_WAIT, "too many requests",
                           retry);
        return 0;
    case FLOOD_DISCONNECT:
        log_info("conn %llu (%s): sustained flood, disconnecting", (unsigned long long)c->id,
                 c->ip);
        conn_goodbye(c, PARLEY__ERROR_CODE__FLOOD_WAIT, "flood",
                     LWS_CLOSE_STATUS_POLICY_VIOLATION, 0);
        return 0;
    }
    return 0;
}

static int is_auth_request(Parley__ClientFrame__RequestCase k)
{
    return k == PARLEY__CLIENT_FRAME__REQUEST_REGISTER ||
           k == PARLEY__CLIENT_FRAME__REQUEST_LOGIN || k == PARLEY__CLIENT_FRAME__REQUEST_RESUME;
}

/* Authentication gate. Returns OK or the error for this connection's state. */
static Parley__ErrorCode auth_gate(const conn *c, Parley__ClientFrame__RequestCase k,
                                   const char **why)
{
    if (is_auth_request(k)) {
        *why = "already authenticated";
        if (c->user_id) return PARLEY__ERROR_CODE__ALREADY_AUTHENTICATED;
        *why = "another authentication request is in progress";
        if (c->auth_pending) return PARLEY__ERROR_CODE__BAD_REQUEST;
        return PARLEY__ERROR_CODE__OK;
    }
    *why = "log in first";
    return c->user_id ? PARLEY__ERROR_CODE__OK : PARLEY__ERROR_CODE__NOT_AUTHENTICATED;
}

static req_job *job_new(conn *c, Parley__ClientFrame *f, const req_handler *h)
{
    req_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->srv = c->srv;
    j->h = h;
    j->conn_id = c->id;
    j->req_id = f->id;
    j->user_id = c->user_id;
    j->session_id = c->session_id;
    j->now = server_now();
    j->frame = f;
    j->auth_request = is_auth_request(f->request_case);
    memcpy(j->ip, c->ip, sizeof j->ip);
    if (j->auth_request) c->auth_pending = 1;
    conn_request_begin(c);
    return j;
}

/* A request that needs a job: gate, validate, start. Takes ownership of f. */
static void start_request(conn *c, Parley__ClientFrame *f, const req_handler *h)
{
    const char *why = NULL;
    Parley__ErrorCode code = auth_gate(c, f->request_case, &why);
    if (code != PARLEY__ERROR_CODE__OK) {
        conn_respond_error(c, f->id, code, why, 0);
        frame_free(f);
        return;
    }
    req_job *j = job_new(c, f, h);
    if (!j) {
        conn_respond_error(c, f->id, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        frame_free(f);
        return;
    }
    if (h->validate && (code = h->validate(j, &why)) != PARLEY__ERROR_CODE__OK) {
        req_fail(j, code, why, 0);
        return;
    }
    if (h->start) h->start(j);
    else req_submit_store(j, h);
}

/* The typed error for a string field that is not strict UTF-8 or holds a NUL, by the
 * field's name: the same codes the length checks of each request give. */
static Parley__ErrorCode bad_string_code(const char *field)
{
    if (!strcmp(field, "text")) return PARLEY__ERROR_CODE__TEXT_INVALID;
    if (!strcmp(field, "title")) return PARLEY__ERROR_CODE__TITLE_INVALID;
    if (!strcmp(field, "username") || !strcmp(field, "usernames"))
        return PARLEY__ERROR_CODE__USERNAME_INVALID;
    if (!strcmp(field, "password")) return PARLEY__ERROR_CODE__PASSWORD_INVALID;
    return PARLEY__ERROR_CODE__BAD_REQUEST;
}

static void respond_bad_string(conn *c, uint64_t id, const ProtobufCFieldDescriptor *f)
{
    char why[96];
    snprintf(why, sizeof why, "%s is not valid UTF-8 or contains a NUL", f->name);
    conn_respond_error(c, id, bad_string_code(f->name), why, 0);
}

void dispatch_frame(conn *c, const uint8_t *data, size_t len)
{
    Parley__ClientFrame *f = parley__client_frame__unpack(NULL, len, data);
    if (!f) {
        conn_goodbye(c, PARLEY__ERROR_CODE__BAD_REQUEST, "malformed frame",
                     LWS_CLOSE_STATUS_INVALID_PAYLOAD, 0);
        return;
    }
    const req_handler *h = NULL;
    const ProtobufCFieldDescriptor *bad = NULL;
    if (!charge_flood(c, f->id)) {
        /* answered or closing */
    } else if ((bad = pb_find_bad_string(&parley__client_frame__descriptor, data, len))) {
        respond_bad_string(c, f->id, bad);
    } else if (c->state == CONN_HELLO) {
        handle_first(c, f);
    } else if (f->request_case == PARLEY__CLIENT_FRAME__REQUEST_HELLO) {
        conn_respond_error(c, f->id, PARLEY__ERROR_CODE__BAD_REQUEST, "Hello was already sent",
                           0);
    } else if (f->request_case == PARLEY__CLIENT_FRAME__REQUEST_PING) {
        respond_pong(c, f->id, f->ping->nonce);
    } else if ((h = req_account_handler(f->request_case)) != NULL ||
               (h = req_chat_handler(f->request_case)) != NULL ||
               (h = req_secret_handler(f->request_case)) != NULL ||
               (h = req_call_handler(f->request_case)) != NULL ||
               (h = req_groupcall_handler(f->request_case)) != NULL) {
        start_request(c, f, h);
        return;  /* f now belongs to the request */
    } else {
        conn_respond_error(c, f->id, PARLEY__ERROR_CODE__UNKNOWN_REQUEST,
                           "unknown request type", 0);
    }
    frame_free(f);
}

/* ---- housekeeping ------------------------------------------------------------------------- */

static void housekeeping(lws_sorted_usec_list_t *sul)
{
    server *srv = (server *)((char *)sul - offsetof(server, housekeeping));
    login_throttle_sweep(srv->throttle, server_now());
    if (srv->reg_limit) rate_window_sweep(srv->reg_limit, server_now());
    lws_sul_schedule(srv->lws, 0, &srv->housekeeping, housekeeping, HOUSEKEEPING_US);
}

void dispatch_start(server *srv)
{
    lws_sul_schedule(srv->lws, 0, &srv->housekeeping, housekeeping, HOUSEKEEPING_US);
}

void dispatch_stop(server *srv)
{
    lws_sul_cancel(&srv->housekeeping);
}
