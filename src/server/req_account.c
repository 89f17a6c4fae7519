/*
 * req_account.c: requests about accounts and sessions: Register, Login, Resume, Logout,
 * ListSessions, TerminateSession, ResolveUser (see request.h for the handler model).
 *
 * Register: validate -> registration open? -> a password-job slot of the source -> the
 *           source's registrations per hour -> Argon2 hash (pool) -> store: user + session.
 * Login:    validate -> a password-job slot of the source -> login throttle (the attempt is
 *           charged here, before any hashing) -> store: look the user up -> Argon2 verify
 *           against the user's hash or the dummy hash (same cost: no timing oracle for
 *           unknown usernames) -> the attempt is given back if the password was right ->
 *           store: session. See throttle.h for the limits per (username, source).
 * Resume:   store: session by SHA-256(token), touched at most once a minute. No limit of
 *           this file applies: devices already logged in are never locked out.
 *
 * A source is source_key() of the connection's address: the same for a WebSocket client
 * and for the browser's POST /api/register|login (web_auth.c runs them through here), so
 * both paths share one policy. Limits answer FLOOD_WAIT (over a window, retry_after = the
 * seconds to wait) or BUSY (this source has too many password jobs in progress, retry_after
 * 1); a full Argon2 queue answers BUSY too.
 * A successful auth links the connection into the push registry; ending a session closes
 * its other connections with Goodbye{SESSION_TERMINATED}.
 */
#include "log.h"
#include "networking.h"
#include "push.h"
#include "request.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TOUCH_INTERVAL_S 60
#define REQ_OF_AJ(p) ((req_job *)((char *)(p) - offsetof(req_job, aj)))

static const char *device_or_default(const char *d)
{
    return d[0] ? d : "unknown";
}

static void set_auth_user(req_job *j, int64_t id, const char *username)
{
    j->auth_user_id = id;
    snprintf(j->auth_username, sizeof j->auth_username, "%s", username);
}

/* ---- shared pieces ------------------------------------------------------------------------ */

static void aj_discard(auth_job *aj)
{
    req_job_free(REQ_OF_AJ(aj));
}

static void submit_auth(req_job *j, auth_kind kind, const char *password,
                        void (*done)(auth_job *))
{
    j->aj.kind = kind;
    j->aj.password = password;
    j->aj.done = done;
    j->aj.discard = aj_discard;
    if (j->srv->shutting_down || auth_pool_submit(j->srv->auth, &j->aj) != 0) {
        req_fail(j, PARLEY__ERROR_CODE__BUSY, "server busy, try again", 1);
        return;
    }
    /* The abuse tests count these lines: how many password checks reached Argon2. */
    log_debug("auth: %s job queued for source %s", kind == AUTH_VERIFY ? "verify" : "hash",
              j->src);
}

/* Takes one of the source's password-job slots (j->src is set here). 0, or -1 after
 * answering BUSY: this source alone is over its share of the Argon2 pool. */
static int take_pw_job(req_job *j)
{
    source_key(j->ip, j->src, sizeof j->src);
    if (key_counts_take(j->srv->pw_jobs, j->src, j->srv->cfg.pw_jobs_per_source) != 0) {
        req_fail(j, PARLEY__ERROR_CODE__BUSY,
                 "too many password checks from your address in progress", 1);
        return -1;
    }
    j->holds_pw_job = 1;
    return 0;
}

static void give_pw_job(req_job *j)
{
    if (!j->holds_pw_job) return;
    key_counts_give(j->srv->pw_jobs, j->src);
    j->holds_pw_job = 0;
}

static void end_login(req_job *j, login_outcome outcome)
{
    if (!j->holds_login) return;
    login_throttle_end(j->srv->throttle, j->frame->login->username, j->src, outcome);
    j->holds_login = 0;
}

void req_account_release(req_job *j)
{
    give_pw_job(j);
    end_login(j, LOGIN_UNCHECKED);  /* still held: the password was never checked */
}

static void new_token(req_job *j)
{
    auth_token_new(j->token);
    auth_token_hash(j->token, sizeof j->token, j->token_hash);
    j->has_token = 1;
}

static void reply_auth(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__AuthResult *ar = wire_alloc(a, sizeof *ar);
    if (!ar) return;
    parley__auth_result__init(ar);
    ar->user = wire_user(a, j->auth_user_id, j->auth_username);
    ar->session_id = j->out_session_id;
    if (j->has_token) {
        ar->token.data = j->token;
        ar->token.len = sizeof j->token;
    }
    ar->pts = j->pts;
    r->result_case = PARLEY__RESPONSE__RESULT_AUTH;
    r->auth = ar;
}

/* Links the requester's connection to its new session. */
static void after_auth(req_job *j, conn *c)
{
    if (!c || c->state != CONN_READY) return;
    c->user_id = j->auth_user_id;
    c->session_id = j->out_session_id;
    if (push_add(j->srv, c) != 0) {
        c->user_id = c->session_id = 0;
        conn_goodbye(c, PARLEY__ERROR_CODE__INTERNAL, "out of memory", LWS_CLOSE_STATUS_GOINGAWAY,
                     0);
        return;
    }
    log_debug("conn %llu: authenticated as account %lld", (unsigned long long)c->id,
              (long long)c->user_id);
}

static store_rc create_session(store *s, req_job *j, const char *device)
{
    store_rc rc = store_session_create(s, j->auth_user_id, j->token_hash, device, j->now,
                                       &j->out_session_id);
    return rc == STORE_OK ? store_current_pts(s, j->auth_user_id, &j->pts) : rc;
}

/* ---- Register ----------------------------------------------------------------------------- */

static Parley__ErrorCode check_credentials(char *username, const char *password,
                                           const char *device, const char **why)
{
    *why = "username must be 5-32 characters of a-z, 0-9 and _, starting with a letter";
    if (!valid_username(username)) return PARLEY__ERROR_CODE__USERNAME_INVALID;
    *why = "password must be 8-1024 bytes";
    if (!valid_password(password)) return PARLEY__ERROR_CODE__PASSWORD_INVALID;
    *why = "device name must be 1-64 characters of UTF-8";
    if (!valid_device(device)) return PARLEY__ERROR_CODE__BAD_REQUEST;
    return PARLEY__ERROR_CODE__OK;
}

#define INVITE_MAX 64

static Parley__ErrorCode register_validate(req_job *j, const char **why)
{
    Parley__RegisterRequest *r = j->frame->register_;
    Parley__ErrorCode code = check_credentials(r->username, r->password, r->device, why);
    if (code != PARLEY__ERROR_CODE__OK || j->srv->cfg.registration != REGISTRATION_INVITE)
        return code;
    size_t n = strlen(r->invite);
    *why = "an invite code is needed to register on this server";
    if (n == 0) return PARLEY__ERROR_CODE__FORBIDDEN;
    *why = "invite code must be 1-64 characters";
    if (n > INVITE_MAX) return PARLEY__ERROR_CODE__BAD_REQUEST;
    auth_token_hash((const uint8_t *)r->invite, n, j->invite_hash);  /* SHA-256 */
    j->has_invite = 1;
    return PARLEY__ERROR_CODE__OK;
}

static store_rc register_run(store *s, req_job *j)
{
    Parley__RegisterRequest *r = j->frame->register_;
    int64_t id;
    store_rc rc = STORE_OK;
    /* In the same savepoint as the account: if creating it fails, the code stays unused. */
    if (j->has_invite && (rc = store_invite_use(s, j->invite_hash)) != STORE_OK) {
        if (rc == STORE_ERR_FORBIDDEN) {
            j->err = PARLEY__ERROR_CODE__FORBIDDEN;
            snprintf(j->err_msg, sizeof j->err_msg, "unknown or already used invite code");
        }
        return rc;
    }
    rc = store_user_create(s, r->username, j->aj.hash, j->now, &id);
    if (rc != STORE_OK) return rc;
    set_auth_user(j, id, r->username);
    return create_session(s, j, device_or_default(r->device));
}

static const req_handler register_store = {
    .run = register_run, .reply = reply_auth, .after = after_auth,
};

static void register_hashed(auth_job *aj)
{
    req_job *j = REQ_OF_AJ(aj);
    give_pw_job(j);
    if (!aj->ok) {
        log_error("register: password hashing failed (out of memory?)");
        req_fail(j, PARLEY__ERROR_CODE__INTERNAL, "could not hash the password", 0);
        return;
    }
    if (!conn_find(j->srv, j->conn_id)) {  /* nobody would learn the account exists */
        req_job_free(j);
        return;
    }
    new_token(j);
    req_submit_store(j, &register_store);
}

static void register_start(req_job *j)
{
    if (j->srv->cfg.registration == REGISTRATION_CLOSED) {
        req_fail(j, PARLEY__ERROR_CODE__FORBIDDEN, "registration is closed on this server", 0);
        return;
    }
    if (take_pw_job(j) != 0) return;
    /* Charged before hashing and never given back (not even for USERNAME_TAKEN): each
     * attempt costs the server a hash. */
    uint32_t wait = j->srv->reg_limit ? rate_window_take(j->srv->reg_limit, j->src, server_now())
                                      : 0;
    if (wait) {
        req_fail(j, PARLEY__ERROR_CODE__FLOOD_WAIT, "too many registrations from your address",
                 wait);
        return;
    }
    submit_auth(j, AUTH_HASH, j->frame->register_->password, register_hashed);
}

/* ---- Login -------------------------------------------------------------------------------- */

static Parley__ErrorCode login_validate(req_job *j, const char **why)
{
    Parley__LoginRequest *r = j->frame->login;
    Parley__ErrorCode code = check_credentials(r->username, r->password, r->device, why);
    if (code == PARLEY__ERROR_CODE__PASSWORD_INVALID) {
        /* No account can have such a password: a plain wrong-credentials answer. */
        *why = "wrong username or password";
        return PARLEY__ERROR_CODE__INVALID_CREDENTIALS;
    }
    return code;
}

static store_rc login_session_run(store *s, req_job *j)
{
    return create_session(s, j, device_or_default(j->frame->login->device));
}

static const req_handler login_session = {
    .run = login_session_run, .reply = reply_auth, .after = after_auth,
};

static void login_verified(auth_job *aj)
{
    req_job *j = REQ_OF_AJ(aj);
    give_pw_job(j);
    if (!aj->ok || !j->has_user) {
        end_login(j, LOGIN_FAILED);
        req_fail(j, PARLEY__ERROR_CODE__INVALID_CREDENTIALS, "wrong username or password", 0);
        return;
    }
    end_login(j, LOGIN_OK);
    if (!conn_find(j->srv, j->conn_id)) {  /* nobody to give a session to */
        req_job_free(j);
        return;
    }
    set_auth_user(j, j->user.id, j->user.username);
    new_token(j);
    req_submit_store(j, &login_session);
}

static void login_looked_up(req_job *j)
{
    if (j->sq.rc != STORE_OK) {
        req_finish(j);
        return;
    }
    const char *hash = j->has_user && j->user.pwhash ? j->user.pwhash
                                                     : auth_pool_dummy_hash(j->srv->auth);
    if (strlen(hash) >= sizeof j->aj.hash) {
        log_error("login: stored password hash of account %lld is malformed",
                  (long long)j->user.id);
        hash = auth_pool_dummy_hash(j->srv->auth);
        j->has_user = 0;
        store_user_free(&j->user);
    }
    memcpy(j->aj.hash, hash, strlen(hash) + 1);
    submit_auth(j, AUTH_VERIFY, j->frame->login->password, login_verified);
}

/* An unknown username is not an error here: it continues to the dummy verification. */
static store_rc login_lookup_run(store *s, req_job *j)
{
    store_rc rc = store_user_by_name(s, j->frame->login->username, &j->user);
    if (rc == STORE_OK) j->has_user = 1;
    return rc == STORE_ERR_NO_USER ? STORE_OK : rc;
}

static const req_handler login_lookup = {
    .run = login_lookup_run, .complete = login_looked_up,
};

static void login_start(req_job *j)
{
    if (take_pw_job(j) != 0) return;
    uint32_t wait = login_throttle_begin(j->srv->throttle, j->frame->login->username, j->src,
                                         server_now());
    if (wait) {
        req_fail(j, PARLEY__ERROR_CODE__FLOOD_WAIT, "too many failed logins", wait);
        return;
    }
    j->holds_login = 1;
    req_submit_store(j, &login_lookup);
}

/* ---- Resume ------------------------------------------------------------------------------- */

static Parley__ErrorCode resume_validate(req_job *j, const char **why)
{
    ProtobufCBinaryData *t = &j->frame->resume->token;
    if (t->len == 0) {  /* a browser: the session of its HttpOnly cookie (web_auth.c) */
        const conn *c = conn_find(j->srv, j->conn_id);
        *why = "token must be 32 bytes (or the connection must carry a session cookie)";
        if (!c || !c->cookie) return PARLEY__ERROR_CODE__BAD_REQUEST;
        auth_token_hash(c->cookie, AUTH_TOKEN_BYTES, j->token_hash);
        return PARLEY__ERROR_CODE__OK;
    }
    *why = "token must be 32 bytes";
    if (t->len != AUTH_TOKEN_BYTES) return PARLEY__ERROR_CODE__BAD_REQUEST;
    auth_token_hash(t->data, t->len, j->token_hash);
    return PARLEY__ERROR_CODE__OK;
}

static store_rc resume_run(store *s, req_job *j)
{
    store_session sess;
    store_rc rc = store_session_by_token(s, j->token_hash, &sess);
    if (rc != STORE_OK) return rc;
    j->out_session_id = sess.id;
    /* last_active needs minute precision at most: spare the disk a write per reconnect. */
    if (j->now - sess.last_active >= TOUCH_INTERVAL_S)
        rc = store_session_touch(s, sess.id, j->now);
    if (rc == STORE_OK) rc = store_user_by_id(s, sess.user_id, &j->user);
    store_session_free(&sess);
    if (rc != STORE_OK) return rc == STORE_ERR_NO_USER ? STORE_ERR_NO_SESSION : rc;
    j->has_user = 1;
    set_auth_user(j, j->user.id, j->user.username);
    return store_current_pts(s, j->user.id, &j->pts);
}

/* ---- Logout and sessions ------------------------------------------------------------------ */

static store_rc logout_run(store *s, req_job *j)
{
    j->sq.scrub = 1;  /* the session's pending secret envelopes go with it (store_secret.h) */
    return store_session_delete(s, j->user_id, j->session_id, 0, j->now, &j->ids, &j->n_ids,
                                &j->fo);
}

static void reply_empty(req_job *j, Parley__Response *r, wire_arena *a)
{
    r->empty = wire_alloc(a, sizeof *r->empty);
    if (!r->empty) return;
    parley__empty__init(r->empty);
    r->result_case = PARLEY__RESPONSE__RESULT_EMPTY;
}

/* The requester stays connected, unauthenticated; other connections of the session go. */
static void after_logout(req_job *j, conn *c)
{
    if (c && c->session_id == j->session_id) {
        push_remove(j->srv, c);
        c->user_id = c->session_id = 0;
    }
    push_terminate_sessions(j->srv, &j->session_id, 1, j->conn_id);
}

static store_rc list_sessions_run(store *s, req_job *j)
{
    return store_session_list(s, j->user_id, &j->sessions, &j->n_sessions);
}

static void reply_sessions(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__SessionList *l = wire_alloc(a, sizeof *l);
    if (!l) return;
    parley__session_list__init(l);
    l->sessions = wire_alloc(a, (j->n_sessions + 1) * sizeof *l->sessions);
    if (!l->sessions) return;
    for (size_t i = 0; i < j->n_sessions; i++)
        if ((l->sessions[l->n_sessions] = wire_session(a, &j->sessions[i], j->session_id)))
            l->n_sessions++;
    r->result_case = PARLEY__RESPONSE__RESULT_SESSIONS;
    r->sessions = l;
}

static Parley__ErrorCode terminate_validate(req_job *j, const char **why)
{
    Parley__TerminateSessionRequest *r = j->frame->terminate_session;
    *why = "give a session id, or others = true";
    if (r->session_id < 0 || (r->session_id == 0 && !r->others))
        return PARLEY__ERROR_CODE__BAD_REQUEST;
    return PARLEY__ERROR_CODE__OK;
}

static store_rc terminate_run(store *s, req_job *j)
{
    Parley__TerminateSessionRequest *r = j->frame->terminate_session;
    int64_t one = r->session_id, keep = r->session_id ? 0 : j->session_id;
    j->sq.scrub = 1;  /* the sessions' pending secret envelopes go with them */
    store_rc rc = store_session_delete(s, j->user_id, one, keep, j->now, &j->ids, &j->n_ids,
                                       &j->fo);
    if (rc == STORE_ERR_NO_SESSION) {
        /* Not SESSION_TERMINATED: that would tell the client its own session ended. */
        j->err = PARLEY__ERROR_CODE__BAD_REQUEST;
        snprintf(j->err_msg, sizeof j->err_msg, "no such session");
    }
    return rc;
}

static void reply_terminated(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__TerminateResult *t = wire_alloc(a, sizeof *t);
    if (!t) return;
    parley__terminate_result__init(t);
    t->terminated = j->ids;  /* borrowed until the answer is packed */
    t->n_terminated = j->n_ids;
    /* The session_ended entries are this connection's own change, not pushed to it. */
    push_range_for(&j->fo, j->user_id, &t->pts, &t->pts_count);
    r->result_case = PARLEY__RESPONSE__RESULT_TERMINATED;
    r->terminated = t;
}

static void after_terminate(req_job *j, conn *c)
{
    push_terminate_sessions(j->srv, j->ids, j->n_ids, 0);
}

/* ---- ResolveUser -------------------------------------------------------------------------- */

static Parley__ErrorCode resolve_validate(req_job *j, const char **why)
{
    *why = "username must be 5-32 characters of a-z, 0-9 and _, starting with a letter";
    return valid_username(j->frame->resolve_user->username)
               ? PARLEY__ERROR_CODE__OK : PARLEY__ERROR_CODE__USERNAME_INVALID;
}

static store_rc resolve_run(store *s, req_job *j)
{
    store_rc rc = store_user_by_name(s, j->frame->resolve_user->username, &j->user);
    if (rc == STORE_OK) j->has_user = 1;
    return rc;
}

static void reply_user(req_job *j, Parley__Response *r, wire_arena *a)
{
    r->user = wire_user(a, j->user.id, j->user.username);
    r->result_case = PARLEY__RESPONSE__RESULT_USER;
}

/* ---- table -------------------------------------------------------------------------------- */

static const req_handler h_register = {
    .validate = register_validate, .start = register_start,
};
static const req_handler h_login = { .validate = login_validate, .start = login_start };
static const req_handler h_resume = {
    .validate = resume_validate, .run = resume_run, .reply = reply_auth, .after = after_auth,
};
static const req_handler h_logout = {
    .run = logout_run, .reply = reply_empty, .after = after_logout,
};
static const req_handler h_list_sessions = { .run = list_sessions_run, .reply = reply_sessions };
static const req_handler h_terminate = {
    .validate = terminate_validate, .run = terminate_run, .reply = reply_terminated,
    .after = after_terminate,
};
static const req_handler h_resolve = {
    .validate = resolve_validate, .run = resolve_run, .reply = reply_user,
};

const req_handler *req_account_handler(Parley__ClientFrame__RequestCase kind)
{
    switch (kind) {
    case PARLEY__CLIENT_FRAME__REQUEST_REGISTER: return &h_register;
    case PARLEY__CLIENT_FRAME__REQUEST_LOGIN: return &h_login;
    case PARLEY__CLIENT_FRAME__REQUEST_RESUME: return &h_resume;
    case PARLEY__CLIENT_FRAME__REQUEST_LOGOUT: return &h_logout;
    case PARLEY__CLIENT_FRAME__REQUEST_LIST_SESSIONS: return &h_list_sessions;
    case PARLEY__CLIENT_FRAME__REQUEST_TERMINATE_SESSION: return &h_terminate;
    case PARLEY__CLIENT_FRAME__REQUEST_RESOLVE_USER: return &h_resolve;
    default: return NULL;
    }
}
