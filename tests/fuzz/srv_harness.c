/*
 * srv_harness.c: see srv_harness.h. The second half of this file is the in-memory stand-in
 * for networking.c's conn API and web_http.c's response writer; it mirrors their queue
 * bounds and state changes (CLOSING refuses frames, an over-full queue says Goodbye) but
 * writes nothing anywhere: frames stay queued until a target drains them.
 *
 * Memory: the harness owns the server and every conn it opens; queued frames belong to the
 * conn until srv_h_drain() frees them.
 */
#include "srv_harness.h"

#include "call.h"
#include "dispatch.h"
#include "expiry.h"
#include "groupcall.h"
#include "log.h"
#include "networking.h"
#include "push.h"
#include "sfu_link.h"
#include "web.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SETTLE_DEADLINE_S 60

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static unsigned long wakes;

static void on_wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wake_mu);
    wakes++;
    pthread_cond_signal(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

static void die(const char *what)
{
    fprintf(stderr, "srv_harness: %s\n", what);
    abort();
}

void srv_h_settle(srv_h *h)
{
    server *srv = h->srv;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pthread_mutex_lock(&wake_mu);
        unsigned long seen = wakes;
        pthread_mutex_unlock(&wake_mu);
        storeq_drain(srv->sq);
        auth_pool_drain(srv->auth);
        if (srv->inflight_total == 0) return;
        struct timespec now, until;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > SETTLE_DEADLINE_S)
            die("a request never completed (hang)");
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&wake_mu);
        while (wakes == seen &&
               pthread_cond_timedwait(&wake_cv, &wake_mu, &until) == 0) {}
        pthread_mutex_unlock(&wake_mu);
    }
}

void srv_h_dispatch(srv_h *h, conn *c, const uint8_t *data, size_t len)
{
    dispatch_frame(c, data, len);
    srv_h_settle(h);
}

void srv_h_drain(conn *c, uint64_t req_id, unsigned *answers, unsigned *goodbyes)
{
    out_frame *o;
    while ((o = conn_pop_frame(c)) != NULL) {
        Parley__ServerFrame *f = parley__server_frame__unpack(NULL, o->len, o->data + LWS_PRE);
        if (!f) die("the server queued a frame that does not decode");
        if (f->frame_case == PARLEY__SERVER_FRAME__FRAME_RESPONSE && f->response->id == req_id &&
            answers)
            (*answers)++;
        if (f->frame_case == PARLEY__SERVER_FRAME__FRAME_GOODBYE && goodbyes) (*goodbyes)++;
        parley__server_frame__free_unpacked(f, NULL);
        free(o);
    }
}

void srv_h_drain_all(srv_h *h)
{
    idmap *m = &h->srv->conns;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) srv_h_drain(m->slots[i].value, 0, NULL, NULL);
}

/* Sends f on c, settles, and returns the Response to it (caller frees), or NULL. */
static Parley__Response *call(srv_h *h, conn *c, Parley__ClientFrame *f)
{
    uint8_t buf[4096];
    size_t n = parley__client_frame__get_packed_size(f);
    if (n > sizeof buf) die("setup frame too large");
    parley__client_frame__pack(f, buf);
    srv_h_dispatch(h, c, buf, n);
    Parley__Response *got = NULL;
    out_frame *o;
    while ((o = conn_pop_frame(c)) != NULL) {
        Parley__ServerFrame *sf = parley__server_frame__unpack(NULL, o->len, o->data + LWS_PRE);
        free(o);
        if (sf && sf->frame_case == PARLEY__SERVER_FRAME__FRAME_RESPONSE &&
            sf->response->id == f->id && !got) {
            got = sf->response;
            sf->response = NULL;
            sf->frame_case = PARLEY__SERVER_FRAME__FRAME__NOT_SET;
        }
        if (sf) parley__server_frame__free_unpacked(sf, NULL);
    }
    return got;
}

conn *srv_h_conn(srv_h *h)
{
    conn *c = net_conn_open(h->srv, NULL);
    if (!c) die("out of memory");
    c->websocket = 1;
    c->state = CONN_READY;
    return c;
}

static conn *auth_conn(srv_h *h, int who, int reg)
{
    conn *c = srv_h_conn(h);
    Parley__RegisterRequest rr = PARLEY__REGISTER_REQUEST__INIT;
    Parley__LoginRequest lr = PARLEY__LOGIN_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.id = 1;
    if (reg) {
        rr.username = h->user[who];
        rr.password = h->password;
        rr.device = "fuzz";
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_REGISTER;
        f.register_ = &rr;
    } else {
        lr.username = h->user[who];
        lr.password = h->password;
        lr.device = "fuzz";
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_LOGIN;
        f.login = &lr;
    }
    Parley__Response *r = call(h, c, &f);
    int ok = r && r->result_case == PARLEY__RESPONSE__RESULT_AUTH && c->user_id;
    if (ok) h->user_id[who] = r->auth->user->id;
    if (r) parley__response__free_unpacked(r, NULL);
    if (!ok) {
        net_conn_close(h->srv, c);
        return NULL;
    }
    return c;
}

conn *srv_h_login(srv_h *h, int who)
{
    return auth_conn(h, who, 0);
}

static int64_t chat_of(Parley__Response *r)
{
    int64_t id = 0;
    if (r && r->result_case == PARLEY__RESPONSE__RESULT_CHAT_RESULT && r->chat_result->chat)
        id = r->chat_result->chat->id;
    else if (r && r->result_case == PARLEY__RESPONSE__RESULT_CHAT)
        id = r->chat->id;
    if (r) parley__response__free_unpacked(r, NULL);
    return id;
}

static void make_world(srv_h *h)
{
    snprintf(h->user[0], sizeof h->user[0], "fuzza");
    snprintf(h->user[1], sizeof h->user[1], "fuzzb");
    snprintf(h->password, sizeof h->password, "fuzz-password-1");
    conn *a = auth_conn(h, 0, 1), *b = auth_conn(h, 1, 1);
    if (!a || !b) die("cannot register the fuzz accounts");
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    Parley__OpenPrivateChatRequest op = PARLEY__OPEN_PRIVATE_CHAT_REQUEST__INIT;
    op.username = h->user[1];
    f.id = 2;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_OPEN_PRIVATE_CHAT;
    f.open_private_chat = &op;
    h->private_chat = chat_of(call(h, a, &f));
    Parley__CreateGroupRequest cg = PARLEY__CREATE_GROUP_REQUEST__INIT;
    char *names[] = { h->user[1] };
    cg.title = "fuzz group";
    cg.n_usernames = 1;
    cg.usernames = names;
    f.id = 3;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_CREATE_GROUP;
    f.create_group = &cg;
    h->group_chat = chat_of(call(h, a, &f));
    if (!h->private_chat || !h->group_chat) die("cannot make the fuzz chats");
    net_conn_close(h->srv, a);
    net_conn_close(h->srv, b);
}

static char *make_dir(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char *d = malloc(64);
    if (!d) die("out of memory");
    snprintf(d, 64, "%s/parley-fuzz-XXXXXX", base);
    if (!mkdtemp(d)) die("mkdtemp failed");
    return d;
}

/* The data directory is removed at exit: the fuzzer may run for hours, and /dev/shm is
 * memory. */
static char *data_dir;
static void remove_dir(void)
{
    if (!data_dir) return;
    const char *names[] = { "parley.db", "parley.db-wal", "parley.db-shm", "parley.db-journal" };
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", data_dir, names[i]);
        unlink(p);
    }
    rmdir(data_dir);
}

static void configure(server *srv)
{
    if (config_defaults(&srv->cfg) != 0) die("out of memory");
    free(srv->cfg.data_dir);
    srv->cfg.data_dir = strdup(data_dir);
    srv->cfg.argon2_ops = crypto_pwhash_OPSLIMIT_MIN;
    srv->cfg.argon2_mem = crypto_pwhash_MEMLIMIT_MIN;
    srv->cfg.flood_rate = 1e9;  /* one conn carries a whole fuzzing run */
    srv->cfg.flood_burst = 1e9;
    srv->cfg.login_fail_user = 1000000;  /* keep the login path reachable */
    srv->cfg.login_fail_ip = 1000000;
    srv->cfg.sfu = 0;           /* no parley-sfu child: group calls answer "unavailable" */
    srv->cfg.watchdog_seconds = 0;
}

srv_h *srv_h_get(void)
{
    static srv_h *h;
    if (h) return h;
    static uv_loop_t loop;
    log_set_level(LOG_ERROR);
    lws_set_log_level(0, NULL);
    if (sodium_init() < 0) die("sodium_init failed");
    h = calloc(1, sizeof *h);
    server *srv = calloc(1, sizeof *srv);
    if (!h || !srv) die("out of memory");
    h->srv = srv;
    data_dir = make_dir();
    atexit(remove_dir);
    configure(srv);
    idmap_init(&srv->conns);
    idmap_init(&srv->push_accounts);
    idmap_init(&srv->push_sessions);
    if (uv_loop_init(&loop) != 0) die("uv_loop_init failed");
    srv->uv = &loop;
    /* A context without a listener: call.c, expiry.c and dispatch.c schedule their timers
     * on it (lws_sul). The harness never services it, so no timer fires. */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = srv;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) die("lws_create_context failed");
    char err[256];
    store *st = store_open(data_dir, err, sizeof err);
    if (!st) die(err);
    srv->throttle = login_throttle_new(srv->cfg.login_fail_user, srv->cfg.login_fail_ip,
                                       srv->cfg.login_fail_window);
    srv->auth = auth_pool_start(srv->cfg.argon2_ops, srv->cfg.argon2_mem, on_wake, srv);
    srv->sq = storeq_start(st, on_wake, srv);
    /* The per-source registration window and password-job counts, as main.c's startup(). */
    if (srv->cfg.reg_per_hour) srv->reg_limit = rate_window_new(srv->cfg.reg_per_hour, 3600);
    srv->pw_jobs = key_counts_new();
    if (!srv->pw_jobs || (srv->cfg.reg_per_hour && !srv->reg_limit)) die("out of memory");
    if (!srv->throttle || !srv->auth || !srv->sq) die("cannot start the server's threads");
    if (groupcall_start(srv) != 0 || sfu_link_start(srv) != 0 || calls_start(srv) != 0)
        die("out of memory");
    dispatch_start(srv);
    expiry_start(srv);
    make_world(h);
    return h;
}

/* ---- the stand-in for networking.c's conn API ------------------------------------------- */

int64_t server_now(void)
{
    return (int64_t)time(NULL);
}

conn *conn_find(server *srv, uint64_t id)
{
    return idmap_get(&srv->conns, id);
}

static void free_out_queue(conn *c)
{
    out_frame *f;
    while ((f = conn_pop_frame(c)) != NULL) free(f);
}

conn *net_conn_open(server *srv, struct lws *wsi)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++srv->next_conn_id;
    c->wsi = wsi;
    c->srv = srv;
    if (idmap_put(&srv->conns, c->id, c) != 0) {
        free(c);
        return NULL;
    }
    snprintf(c->ip, sizeof c->ip, "127.0.0.1");
    flood_init(&c->flood, srv->cfg.flood_burst, lws_now_usecs());
    srv->n_conns++;
    return c;
}

void net_conn_close(server *srv, conn *c)
{
    push_remove(srv, c);
    idmap_del(&srv->conns, c->id);
    srv->inflight_total -= c->inflight < srv->inflight_total ? c->inflight : srv->inflight_total;
    free_out_queue(c);
    free(c->rx);
    if (c->cookie) sodium_memzero(c->cookie, AUTH_TOKEN_BYTES);
    free(c->cookie);
    srv->n_conns--;
    free(c);
}

out_frame *conn_pop_frame(conn *c)
{
    out_frame *f = c->out_head;
    if (!f) return NULL;
    c->out_head = f->next;
    if (!c->out_head) c->out_tail = NULL;
    c->out_bytes -= f->len;
    c->out_frames--;
    return f;
}

static void enqueue(conn *c, out_frame *f)
{
    f->next = NULL;
    if (c->out_tail) c->out_tail->next = f;
    else c->out_head = f;
    c->out_tail = f;
    c->out_bytes += f->len;
    c->out_frames++;
}

static out_frame *pack_frame(const Parley__ServerFrame *f)
{
    size_t n = parley__server_frame__get_packed_size(f);
    out_frame *o = malloc(sizeof *o + LWS_PRE + n);
    if (!o) return NULL;
    o->len = parley__server_frame__pack(f, o->data + LWS_PRE);
    return o;
}

static int queue_admits(conn *c, size_t len)
{
    if (c->state == CONN_CLOSING) return 0;
    if (c->out_bytes + len > CONN_MAX_OUT_BYTES || c->out_frames + 1 > CONN_MAX_OUT_FRAMES) {
        conn_goodbye(c, PARLEY__ERROR_CODE__BUSY, "too slow", LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     1);
        return 0;
    }
    return 1;
}

int conn_send(conn *c, const Parley__ServerFrame *f)
{
    if (!queue_admits(c, parley__server_frame__get_packed_size(f))) return -1;
    out_frame *o = pack_frame(f);
    if (!o) return -1;
    enqueue(c, o);
    return 0;
}

int conn_send_packed(conn *c, const uint8_t *data, size_t len)
{
    if (!queue_admits(c, len)) return -1;
    out_frame *o = malloc(sizeof *o + LWS_PRE + len);
    if (!o) return -1;
    o->len = len;
    memcpy(o->data + LWS_PRE, data, len);
    enqueue(c, o);
    return 0;
}

void conn_goodbye(conn *c, Parley__ErrorCode code, const char *reason, unsigned close_status,
                  int drop_queue)
{
    if (c->state == CONN_CLOSING) return;
    if (drop_queue) free_out_queue(c);
    Parley__Goodbye g = PARLEY__GOODBYE__INIT;
    g.code = code;
    g.reason = (char *)reason;
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_GOODBYE;
    f.goodbye = &g;
    out_frame *o = pack_frame(&f);
    c->state = CONN_CLOSING;
    c->close_status = close_status;
    if (o) enqueue(c, o);
}

void conn_request_begin(conn *c)
{
    c->inflight++;
    c->srv->inflight_total++;
}

void conn_request_end(conn *c)
{
    if (c->inflight > 0) {
        c->inflight--;
        if (c->srv->inflight_total > 0) c->srv->inflight_total--;
    }
}

/* ---- the stand-in for web_http.c's response writer ------------------------------------- */

int web_respond(struct lws *wsi, web_req *r)
{
    (void)wsi;
    r->responding = 1;
    r->headers_sent = 0;
    r->out_off = 0;
    return 0;
}
