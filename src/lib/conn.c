/*
 * conn.c: the network side of libparley. A parley_loop is one lws_context (client only, no
 * listener) with one vhost per distinct trusted CA, so a thousand clients trusting the same
 * certificate share one TLS context. Each client has at most one WebSocket connection; its
 * outgoing frames wait in a queue that is written only from LWS_CALLBACK_CLIENT_WRITEABLE,
 * and incoming frames are reassembled and handed to rpc.c (responses), sync.c (updates) or
 * handled here (Goodbye). After the WebSocket opens, the Hello/Resume handshake runs as a
 * chain of asynchronous calls, so blocking and asynchronous users share one code path.
 *
 * The loop is libuv's (epoll) run by lws as a "foreign" loop: lws's own loop poll()s every
 * socket on each wake-up, which is nothing for one client but was most of the time of a
 * program driving hundreds of clients on one loop (parley-bench).
 *
 * lws calls back with a wsi; its opaque user data points to the client, and is cleared as
 * soon as the client lets go of that wsi, so a late callback never reaches a freed client.
 */
#include <stdio.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <uv.h>

#include "lib.h"
#include "secret_rpc.h"
#include "lws_uv.h"

#define CONNECT_TIMEOUT_S 10

int64_t pl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pl_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len);

const struct lws_protocols pl_protocols[] = {
    { "parley.v1", pl_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Idle connections are pinged so a dead peer is noticed; lws hangs up if nothing at all
 * arrives for a while. */
static const lws_retry_bo_t pl_retry = {
    .secs_since_valid_ping = 30,
    .secs_since_valid_hangup = 70,
};

/* ---- loop -------------------------------------------------------------------------------- */

static void silent_log(int level, const char *line)
{
    (void)level;
    (void)line;
}

/* The loop and the timer that bounds a wait. The timer is libuv's own: an lws timer
 * (lws_sul_schedule) set outside an lws callback is not seen by the libuv loop until lws
 * next runs, so it could not end a wait that nothing else interrupts. */
struct pl_uv {
    uv_loop_t loop;
    uv_timer_t deadline;
};

static int open_uv(parley_loop *l)
{
    l->uv = calloc(1, sizeof *l->uv);
    if (!l->uv)
        return -1;
    if (uv_loop_init(&l->uv->loop) != 0) {
        free(l->uv);
        l->uv = NULL;
        return -1;
    }
    uv_timer_init(&l->uv->loop, &l->uv->deadline);
    return 0;
}

/* Destroys the lws context, then the loop (lws_uv.h). */
static void close_uv(parley_loop *l)
{
    uv_close((uv_handle_t *)&l->uv->deadline, NULL);
    lws_uv_destroy(&l->ctx, &l->uv->loop);
    free(l->uv);
    l->uv = NULL;
}

parley_loop *parley_loop_new(parley_error *err)
{
    if (sodium_init() < 0) {
        pl_err(err, PARLEY_E_INTERNAL, "libsodium cannot be initialised");
        return NULL;
    }
    parley_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        pl_err(err, PARLEY_E_NOMEM, "out of memory");
        return NULL;
    }
    /* Global state, on purpose: lws 4.1 has only a process-wide logger and a library must
     * not print, so lws's messages go nowhere. Programs that use lws themselves and want
     * its logs can set their own level after creating a loop. */
    lws_set_log_level(0, silent_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.protocols = pl_protocols;
    info.user = l;
    info.timeout_secs = 15;
    info.connect_timeout_secs = CONNECT_TIMEOUT_S;
    if (open_uv(l) != 0) {
        free(l);
        pl_err(err, PARLEY_E_INTERNAL, "cannot create the event loop");
        return NULL;
    }
    if (!lws_uv_create(&info, &l->uv->loop, &l->ctx)) {
        close_uv(l);
        free(l);
        pl_err(err, PARLEY_E_INTERNAL, "cannot create the network context");
        return NULL;
    }
    return l;
}

void parley_loop_free(parley_loop *l)
{
    if (!l)
        return;
    /* Destroying the context closes any connection still open; their callbacks find no
     * client (opaque data cleared by parley_close) and do nothing. */
    close_uv(l);
    for (pl_vhost *v = l->vhosts, *next; v; v = next) {
        next = v->next;
        SSL_CTX_free(v->tls);       /* ours (provided_client_ssl_ctx): lws does not free it */
        free(v);
    }
    free(l);
}

/* Ends the wait of pl_loop_wait().
 * WHY uv_stop and not just firing: uv_run(UV_RUN_ONCE) runs the timers that are due BEFORE
 * it polls, and then still blocks in the poll until the next I/O or the next timer. When the
 * deadline was already due as uv_run started (the thread lost the CPU for a millisecond
 * between uv_timer_start and uv_run, common on a loaded machine), this callback ran first and
 * the poll slept until lws's next timer, up to about 30 s later, unless I/O came. A client
 * with nothing in flight has no I/O to come: parley-bench's shards stood still like that for
 * 10-25 s, and their send lag looked like a server stall (issue 15, part 3). With the stop
 * flag set the poll does not block; uv_run clears the flag before it returns. */
static void wake_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

int pl_loop_wait(parley_loop *l, int64_t wait_ms)
{
    if (wait_ms >= 0) {
        uv_update_time(&l->uv->loop);   /* the timer counts from the loop's cached time */
        uv_timer_start(&l->uv->deadline, wake_cb, (uint64_t)wait_ms, 0);
    }
    l->in_service = 1;
    /* ONCE waits for the next socket event or the deadline timer above. */
    uv_run(&l->uv->loop, UV_RUN_ONCE);
    l->in_service = 0;
    uv_timer_stop(&l->uv->deadline);
    return 0;
}

int pl_loop_service(parley_loop *l, int64_t deadline_ms)
{
    int64_t now = pl_now_ms();
    if (deadline_ms == 0 || (deadline_ms > 0 && deadline_ms <= now)) {
        /* NOWAIT only handles what is ready. */
        l->in_service = 1;
        uv_run(&l->uv->loop, UV_RUN_NOWAIT);
        l->in_service = 0;
        return 0;
    }
    return pl_loop_wait(l, deadline_ms > 0 ? deadline_ms - now : -1);
}

int parley_loop_run(parley_loop *l, int timeout_ms)
{
    if (!l || l->in_service)
        return -PARLEY_E_ARGUMENT;
    return pl_loop_service(l, timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0
                                                  : pl_now_ms() + timeout_ms);
}

void parley_loop_wakeup(parley_loop *l)
{
    if (l)
        lws_cancel_service(l->ctx);
}

/* A client TLS context trusting exactly the certificates in pem (NULL: the system store).
 * libparley makes it itself, rather than letting lws build one from client_ssl_ca_mem,
 * so that it owns it and frees it after the lws context: lws 4.1 leaks its own client
 * contexts when several lws contexts live in one process and one is destroyed early. */
static SSL_CTX *make_tls_ctx(const char *pem, size_t len, parley_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        pl_err(err, PARLEY_E_NOMEM, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int n = 0;
    if (pem) {
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509 *x;
        while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
            if (X509_STORE_add_cert(store, x) == 1)
                n++;
            X509_free(x);
        }
        BIO_free(bio);
        ERR_clear_error();          /* the end of the PEM data reads as an error */
    } else if (SSL_CTX_set_default_verify_paths(ctx) == 1) {
        n = 1;
    }
    if (!n) {
        SSL_CTX_free(ctx);
        pl_err(err, PARLEY_E_ARGUMENT, "no usable certificate to trust");
        return NULL;
    }
    return ctx;
}

/* The vhost trusting exactly this CA (NULL = the system store), created on first use. */
static struct lws_vhost *vhost_for(parley_loop *l, const char *pem, size_t len,
                                   parley_error *err)
{
    unsigned char key[32] = { 0 };
    if (pem)
        crypto_hash_sha256(key, (const unsigned char *)pem, len);
    for (pl_vhost *v = l->vhosts; v; v = v->next)
        if (memcmp(v->key, key, sizeof(key)) == 0)
            return v->vh;
    pl_vhost *v = calloc(1, sizeof(*v));
    if (!v) {
        pl_err(err, PARLEY_E_NOMEM, "out of memory");
        return NULL;
    }
    v->tls = make_tls_ctx(pem, len, err);
    if (!v->tls) {
        free(v);
        return NULL;
    }
    char name[32];
    snprintf(name, sizeof(name), "parley-ca-%d", l->n_vhosts);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.protocols = pl_protocols;
    info.vhost_name = name;
    info.retry_and_idle_policy = &pl_retry;
    info.provided_client_ssl_ctx = v->tls;
    v->vh = lws_create_vhost(l->ctx, &info);
    if (!v->vh) {
        SSL_CTX_free(v->tls);
        free(v);
        pl_err(err, PARLEY_E_INTERNAL, "cannot create a TLS client context");
        return NULL;
    }
    memcpy(v->key, key, sizeof(key));
    v->next = l->vhosts;
    l->vhosts = v;
    l->n_vhosts++;
    return v->vh;
}

/* ---- connection lifetime ----------------------------------------------------------------- */

static void free_frames(pl_out **head, pl_out **tail)
{
    for (pl_out *o = *head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    *head = *tail = NULL;
}

/* Forgets the current connection (without closing the socket) and fails its calls. */
static void conn_lost(parley_client *c, const parley_error *err)
{
    if (c->wsi)
        lws_set_opaque_user_data(c->wsi, NULL);
    c->wsi = NULL;
    c->state = CONN_IDLE;
    c->authed = 0;
    free_frames(&c->out_head, &c->out_tail);
    free_frames(&c->held_head, &c->held_tail);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    c->conn_err = *err;
    c->failed_gen = c->conn_gen;
    pl_rpc_fail_all(c, err, 1);
}

void pl_conn_drop(parley_client *c, const parley_error *err)
{
    struct lws *w = c->wsi;
    if (c->state == CONN_IDLE && !w)
        return;
    conn_lost(c, err);
    if (w)
        lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void pl_forget_session(parley_client *c)
{
    /* Another process sharing the profile may have logged in again meanwhile: only a
     * stored token that is still ours is removed. */
    uint8_t stored[32];
    if (c->has_session &&
        pl_profile_get_blob(&c->prof, PK_TOKEN, stored, sizeof(stored), NULL) == 0 &&
        sodium_memcmp(stored, c->token, sizeof(stored)) == 0)
        pl_profile_forget_session(&c->prof, NULL);
    sodium_memzero(stored, sizeof(stored));
    c->has_session = 0;
    c->authed = 0;
    sodium_memzero(c->token, sizeof(c->token));
    c->session_id = 0;
    c->sync.pts = 0;
    c->saved_pts = 0;
    c->pts_known = 0;
    pl_sync_clear(&c->sync);
    pl_err(&c->hs_err, PARLEY_E_SESSION_TERMINATED, "this device was logged out; log in again");
}

int pl_conn_start(parley_client *c, parley_error *err)
{
    if (c->state != CONN_IDLE)
        return 0;
    if (!c->url)
        return pl_err(err, PARLEY_E_ARGUMENT,
                      "no server given (and none remembered by this profile)");
    parley_error e;
    struct lws_vhost *vh = vhost_for(c->loop, c->ca_pem, c->ca_len, &e);
    if (!vh)
        return pl_err_copy(err, &e);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = c->loop->ctx;
    ci.vhost = vh;
    ci.address = c->host;
    ci.port = c->port;
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.path = "/ws";
    ci.host = c->host;
    ci.protocol = "parley.v1";
    ci.local_protocol_name = "parley.v1";
    ci.opaque_user_data = c;
    ci.retry_and_idle_policy = &pl_retry;

    c->conn_gen++;
    c->connect_started_ms = pl_now_ms();
    c->state = CONN_CONNECTING;
    c->wsi = NULL;
    c->tls_failed = 0;
    c->fingerprint[0] = '\0';
    c->goodbye_code = 0;
    c->goodbye_reason[0] = '\0';
    struct lws *w = lws_client_connect_via_info(&ci);
    if (c->failed_gen == c->conn_gen)          /* failed inside the call, via a callback */
        return pl_err_copy(err, &c->conn_err);
    if (!w) {
        /* lws gives no reason here; a name that does not resolve is the usual one. */
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
        int unknown = getaddrinfo(c->host, NULL, &hints, &res) != 0;
        if (res)
            freeaddrinfo(res);
        pl_err(&e, PARLEY_E_CONNECT, "cannot reach %s: %s", c->url,
               unknown ? "unknown host" : "connection failed");
        conn_lost(c, &e);
        return pl_err_copy(err, &e);
    }
    c->wsi = w;
    return 0;
}

/* The client a callback's wsi belongs to, or NULL if that connection was let go. */
static parley_client *client_of(struct lws *wsi)
{
    parley_client *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return NULL;
    /* Callbacks can run inside lws_client_connect_via_info, before it returned the wsi. */
    if (!c->wsi && c->state == CONN_CONNECTING)
        c->wsi = wsi;
    return c->wsi == wsi ? c : NULL;
}

int pl_conn_queue(parley_client *c, const Parley__ClientFrame *f, int held)
{
    size_t n = parley__client_frame__get_packed_size(f);
    if (n > PL_MAX_FRAME)
        return -PARLEY_E_TOO_LARGE;
    pl_out *o = malloc(sizeof(*o) + LWS_PRE + n);
    if (!o)
        return -PARLEY_E_NOMEM;
    o->next = NULL;
    o->len = parley__client_frame__pack(f, o->buf + LWS_PRE);
    pl_out **head = held ? &c->held_head : &c->out_head;
    pl_out **tail = held ? &c->held_tail : &c->out_tail;
    if (*tail)
        (*tail)->next = o;
    else
        *head = o;
    *tail = o;
    if (!held && c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- handshake --------------------------------------------------------------------------- */

static void send_resume(parley_client *c);

static void hs_fail(parley_client *c, const parley_error *err)
{
    pl_conn_drop(c, err);
}

static void resume_done(parley_client *c, pl_call *call, const Parley__Response *resp,
                        const parley_error *err)
{
    if (err && !resp)
        return;                       /* the connection went away; already handled */
    if (err) {
        if (err->code == PARLEY_E_SESSION_TERMINATED) {
            /* The server's one answer for a token that names no live session (ended, or
             * never issued: it keeps only hashes of live tokens and cannot tell): the token
             * is dead for good. Forget it, keep the connection for a new login. */
            pl_forget_session(c);
            c->state = CONN_OPEN;
            free_frames(&c->held_head, &c->held_tail);
            pl_rpc_fail_held(c, &c->hs_err);
        } else {
            hs_fail(c, err);
        }
        return;
    }
    if (resp->result_case != PARLEY__RESPONSE__RESULT_AUTH || !resp->auth || !resp->auth->user) {
        parley_error e;
        pl_err(&e, PARLEY_E_PROTOCOL, "unexpected answer to Resume from %s", c->url);
        hs_fail(c, &e);
        return;
    }
    const Parley__AuthResult *a = resp->auth;
    if (a->user->username && (!c->me.username || strcmp(c->me.username, a->user->username))) {
        char *name = pl_strdup(a->user->username);
        if (name) {
            free(c->me.username);
            c->me.username = name;
        }
    }
    c->me.id = a->user->id;
    c->session_id = a->session_id;
    c->server_pts = a->pts;
    if (c->pts_known && a->pts < c->sync.pts) {
        /* The server's log is behind ours (its data was restored or reset): trust it, or
         * every later update would look like an old duplicate. */
        c->sync.pts = a->pts;
    }
    if (!c->pts_known) {
        /* A session without a stored position (an ephemeral client given a token) starts
         * from now, like a fresh login, instead of replaying the account's whole log. */
        c->sync.pts = c->saved_pts = a->pts;
        c->pts_known = 1;
    }
    c->state = CONN_OPEN;
    pl_conn_authed(c);
}

void pl_conn_resume(parley_client *c)
{
    if (c->state == CONN_OPEN && c->has_session && !c->authed)
        send_resume(c);
}

static void send_resume(parley_client *c)
{
    pl_call *call = calloc(1, sizeof(*call));
    parley_error e;
    if (!call) {
        hs_fail(c, (pl_err(&e, PARLEY_E_NOMEM, "out of memory"), &e));
        return;
    }
    call->heap = 1;
    call->done = resume_done;
    Parley__ResumeRequest req = PARLEY__RESUME_REQUEST__INIT;
    req.token.data = c->token;
    req.token.len = sizeof(c->token);
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_RESUME;
    f.resume = &req;
    c->state = CONN_AUTH;
    if (pl_rpc_start(c, call, &f, 0) < 0)
        hs_fail(c, (pl_err(&e, PARLEY_E_NOMEM, "out of memory"), &e));
}

static void hello_done(parley_client *c, pl_call *call, const Parley__Response *resp,
                       const parley_error *err)
{
    if (err && !resp)
        return;
    if (err) {
        hs_fail(c, err);
        return;
    }
    if (resp->result_case != PARLEY__RESPONSE__RESULT_HELLO) {
        parley_error e;
        pl_err(&e, PARLEY_E_PROTOCOL, "unexpected answer to Hello from %s", c->url);
        hs_fail(c, &e);
        return;
    }
    if (c->has_session)
        send_resume(c);
    else
        c->state = CONN_OPEN;
}

static void start_hello(parley_client *c)
{
    pl_call *call = calloc(1, sizeof(*call));
    parley_error e;
    if (!call) {
        hs_fail(c, (pl_err(&e, PARLEY_E_NOMEM, "out of memory"), &e));
        return;
    }
    call->heap = 1;
    call->done = hello_done;
    Parley__Hello req = PARLEY__HELLO__INIT;
    req.protocol_version = PL_PROTOCOL_VERSION;
    req.client = c->client_name;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_HELLO;
    f.hello = &req;
    c->state = CONN_HELLO;
    if (pl_rpc_start(c, call, &f, 0) < 0)
        hs_fail(c, (pl_err(&e, PARLEY_E_NOMEM, "out of memory"), &e));
}

void pl_conn_authed(parley_client *c)
{
    c->authed = 1;
    memset(&c->hs_err, 0, sizeof(c->hs_err));
    /* Calls made before authentication go out now, in the order they were made. */
    if (c->held_head) {
        if (c->out_tail)
            c->out_tail->next = c->held_head;
        else
            c->out_head = c->held_head;
        c->out_tail = c->held_tail;
        c->held_head = c->held_tail = NULL;
        if (c->wsi)
            lws_callback_on_writable(c->wsi);
    }
    pl_rpc_release_held(c);
    pl_sync_on_authed(c);
}

int pl_conn_ready(parley_client *c, int need_auth, int64_t deadline, parley_error *err)
{
    int started = 0;
    unsigned gen = 0;
    for (;;) {
        if (need_auth && !c->has_session)
            return c->hs_err.code ? pl_err_copy(err, &c->hs_err)
                                  : pl_err(err, PARLEY_E_NO_SESSION,
                                           "not logged in (this profile has no session)");
        if (c->state == CONN_OPEN) {
            if (!need_auth || c->authed)
                return 0;
            send_resume(c);     /* a token set after the connection opened */
            continue;
        }
        if (c->state == CONN_IDLE) {
            if (started && c->failed_gen == gen)
                return pl_err_copy(err, &c->conn_err);
            int rc = pl_conn_start(c, err);
            if (rc < 0)
                return rc;
            started = 1;
            gen = c->conn_gen;
            continue;
        }
        if (pl_now_ms() >= deadline) {
            parley_error e;
            pl_err(&e, PARLEY_E_TIMEOUT, "timed out connecting to %s", c->url);
            pl_conn_drop(c, &e);
            return pl_err_copy(err, &e);
        }
        pl_loop_service(c->loop, deadline);
    }
}

/* ---- callbacks --------------------------------------------------------------------------- */

static void note_untrusted(parley_client *c, X509_STORE_CTX *x)
{
    if (c->tls_failed)
        return;
    X509 *cert = X509_STORE_CTX_get0_cert(x);     /* the server's own (leaf) certificate */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    c->tls_failed = 1;
    c->fingerprint[0] = '\0';
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return;
    size_t off = 0;
    for (unsigned int i = 0; i < n && off + 3 < sizeof(c->fingerprint); i++)
        off += (size_t)snprintf(c->fingerprint + off, sizeof(c->fingerprint) - off,
                                i ? ":%02X" : "%02X", md[i]);
}

static void connect_failed(parley_client *c, const char *why)
{
    parley_error e;
    if (c->tls_failed) {
        pl_err(&e, PARLEY_E_TLS_UNTRUSTED, "server certificate not trusted (SHA-256 %s)",
               c->fingerprint[0] ? c->fingerprint : "unknown");
        snprintf(e.fingerprint, sizeof(e.fingerprint), "%s", c->fingerprint);
    } else {
        /* lws says "Unable to connect" both when the peer refused and when its connect
         * timer ran out; a refusal (or an unreachable network) is answered at once, a
         * silent peer only after the timer, so the elapsed time tells them apart. */
        const char *reason = why && why[0] ? why : "connection failed";
        if (why && strstr(why, "Unable to connect"))
            reason = pl_now_ms() - c->connect_started_ms < (CONNECT_TIMEOUT_S - 1) * 1000
                         ? "connection refused" : "timed out";
        else if (why && (strstr(why, "getaddrinfo") || strstr(why, "DNS")))
            reason = "unknown host";
        else if (why && !strncmp(why, "HS:", 3))
            reason = "no Parley server there (WebSocket handshake refused)";
        pl_err(&e, PARLEY_E_CONNECT, "cannot reach %s: %s", c->url, reason);
    }
    conn_lost(c, &e);
}

static void on_closed(parley_client *c)
{
    parley_error e;
    if (c->goodbye_code)
        pl_err(&e, c->goodbye_code, "%s",
               c->goodbye_reason[0] ? c->goodbye_reason : parley_code_name(c->goodbye_code));
    else
        pl_err(&e, PARLEY_E_CONNECT, "connection to %s lost", c->url);
    conn_lost(c, &e);
}

static void protocol_fail(parley_client *c, const char *what)
{
    parley_error e;
    pl_err(&e, PARLEY_E_PROTOCOL, "%s sent %s", c->url, what);
    pl_conn_drop(c, &e);
}

static void on_goodbye(parley_client *c, const Parley__Goodbye *g)
{
    c->goodbye_code = g->code > 0 ? (int)g->code : PARLEY_E_CONNECT;
    snprintf(c->goodbye_reason, sizeof(c->goodbye_reason), "%s", g->reason ? g->reason : "");
    if (c->goodbye_code == PARLEY_E_SESSION_TERMINATED)
        pl_forget_session(c);
    /* The server closes right after; fail the waiting calls now with its reason. */
    on_closed(c);
}

static void dispatch(parley_client *c, const unsigned char *buf, size_t len)
{
    Parley__ServerFrame *f = parley__server_frame__unpack(NULL, len, buf);
    if (!f) {
        protocol_fail(c, "a frame this library cannot decode");
        return;
    }
    switch (f->frame_case) {
    case PARLEY__SERVER_FRAME__FRAME_RESPONSE:
        if (f->response) {
            pl_rpc_on_response(c, f);      /* takes f */
            return;
        }
        break;
    case PARLEY__SERVER_FRAME__FRAME_UPDATE:
        if (f->update)
            pl_sync_on_update(c, f->update);
        break;
    case PARLEY__SERVER_FRAME__FRAME_GOODBYE:
        if (f->goodbye)
            on_goodbye(c, f->goodbye);
        break;
    case PARLEY__SERVER_FRAME__FRAME_SECRET:
        if (f->secret)
            pl_secret_on_push(c, f->secret);
        break;
    default:
        break;                             /* a frame kind newer than this library */
    }
    parley__server_frame__free_unpacked(f, NULL);
}

static int on_receive(parley_client *c, struct lws *wsi, const unsigned char *in, size_t len)
{
    if (!lws_frame_is_binary(wsi)) {
        protocol_fail(c, "a text frame");
        return -1;
    }
    int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (c->rx_len == 0 && final) {
        dispatch(c, in, len);              /* the common case: no copy */
    } else {
        if (c->rx_len + len > PL_MAX_RX_FRAME) {
            protocol_fail(c, "a frame over 16 MiB");
            return -1;
        }
        if (c->rx_len + len > c->rx_cap) {
            size_t cap = c->rx_cap ? c->rx_cap : 8192;
            while (cap < c->rx_len + len)
                cap *= 2;
            unsigned char *nb = realloc(c->rx, cap);
            if (!nb) {
                parley_error e;
                pl_err(&e, PARLEY_E_NOMEM, "out of memory");
                pl_conn_drop(c, &e);
                return -1;
            }
            c->rx = nb;
            c->rx_cap = cap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (final) {
            size_t n = c->rx_len;
            c->rx_len = 0;
            dispatch(c, c->rx, n);
        }
    }
    /* Dispatching may have dropped this connection (Goodbye, bad frame). */
    return c->wsi == wsi ? 0 : -1;
}

/* Frames written per WRITEABLE callback at most: enough that a burst costs one poll round
 * instead of one per frame, small enough that one busy client does not starve the others
 * sharing the loop. */
#define WRITE_BATCH 32

static int on_writeable(parley_client *c, struct lws *wsi)
{
    /* Keep writing while the kernel takes the bytes; lws buffers a partial write itself
     * and then reports the pipe as choked, which ends the batch. */
    for (int i = 0; i < WRITE_BATCH && c->out_head && !lws_send_pipe_choked(wsi); i++) {
        pl_out *o = c->out_head;
        int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_BINARY);
        if (n < (int)o->len)
            return -1;                     /* lws closes; CLIENT_CLOSED reports it */
        c->out_head = o->next;
        if (!c->out_head)
            c->out_tail = NULL;
        free(o);
    }
    if (c->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int pl_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len)
{
    parley_client *c;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* len is OpenSSL's preverify_ok; returning 0 keeps OpenSSL's verdict. */
        if (wsi && !len && (c = client_of(wsi)))
            note_untrusted(c, (X509_STORE_CTX *)user);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if ((c = client_of(wsi)))
            connect_failed(c, in ? (const char *)in : NULL);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if ((c = client_of(wsi)))
            start_hello(c);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!(c = client_of(wsi)))
            return -1;
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!(c = client_of(wsi)))
            return -1;
        return on_writeable(c, wsi);
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if ((c = client_of(wsi)))
            on_closed(c);
        return 0;
    default:
        return 0;
    }
}
