/*
 * networking.c: the libwebsockets side of parleyd (see networking.h).
 *
 * Two lws protocols share the listener: "http" (protocols[0], plain HTTP: /healthz, 404 for
 * the rest, and it refuses WebSocket upgrades without our subprotocol) and "parley.v1" (the
 * WebSocket endpoint). Everything here runs on the lws service thread; the store and Argon2
 * threads reach it only through net_wake() -> LWS_CALLBACK_EVENT_WAIT_CANCELLED, where their
 * completions are drained.
 *
 * The loop is libuv's (epoll), handed to lws as a "foreign" loop. WHY: lws's built-in loop
 * calls poll() over every socket on each wake-up, so with a thousand connections each small
 * event cost a scan of a thousand descriptors; epoll costs in proportion to the sockets that
 * are ready. Owning the loop (rather than letting lws make one) is what lets net_run() check
 * the stop flag between rounds and net_stop() close it cleanly.
 */
#include "networking.h"
#include "dispatch.h"
#include "listener.h"
#include "log.h"
#include "lws_uv.h"
#include "push.h"
#include "watchdog.h"
#include "web.h"
#include "wire.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define WS_PATH "/ws"
#define SUBPROTOCOL "parley.v1"
/* lws's per-connection receive buffer: small, because every idle connection keeps one
 * (512 instead of 2048 saves 1.5 KiB per connection); bigger messages arrive in several
 * callbacks and are assembled in conn->rx. */
#define RX_BUFFER_SIZE 512
/* Bounds on reading the rest of an oversized message before closing. */
#define DISCARD_MAX (4u << 20)
#define DISCARD_TIMEOUT_S 10
/* How long a connection waits for the client's answer to our close frame. */
#define CLOSE_ACK_TIMEOUT_S 5
/* How long a connection may take from its Goodbye to being closed, whatever the client does:
 * one that reads nothing would otherwise keep the Goodbye, the close frame and the socket
 * forever (the close-ack timeout starts only once the close frame is written). */
#define GOODBYE_TIMEOUT_S 10
/* lws_write()'s protocol for a close frame: lws keeps LWS_WRITE_CLOSE (4) in a private header
 * (its public enum skips 4) but handles it like PING and PONG (opcode 8, no extensions). */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

typedef struct {
    conn *c;
} ws_session;

typedef struct {
    int healthz;               /* the /healthz body is still to be written */
    web_req web;               /* everything else (web.h) */
} http_session;

int64_t server_now(void)
{
    return (int64_t)time(NULL);
}

static server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

conn *conn_find(server *srv, uint64_t id)
{
    return idmap_get(&srv->conns, id);
}

/* ---- back-pressure: the pacer ------------------------------------------------------------ */

/* WHY nothing here pauses a socket from inside lws's receive path: lws 4.1, asked to stop
 * reading (lws_rx_flow_control) in the middle of a TLS record, stores the rest of the
 * record in its buffer list and then loops forever inside one service call: OpenSSL still
 * holds plaintext, so lws goes back to read, finds its buffer list non-empty, hands it to the
 * parser, which (flow-controlled) stores it again. 145 requests pipelined in one record hung
 * the whole server that way, SIGTERM included.
 *
 * So lws always delivers everything it has read, and a message that arrives while its
 * connection is over a bound (requests in flight, queued output, the server-wide pause)
 * goes to the connection's backlog instead of being dispatched. Between two rounds of the
 * event loop (a uv_idle callback, which also keeps the next poll from blocking) the pacer
 * visits each connection whose state changed: it dispatches backlog messages while the
 * bounds allow, and pauses the socket while anything is left, so a client that pipelines
 * meets back-pressure at the TCP level and nothing within its flood budget is refused.
 * One service round reads at most one TLS record (16 KiB) per socket, so the backlog
 * exceeds the pause point by at most that much; BACKLOG_MAX_BYTES only guards that reasoning. */
#define BACKLOG_MAX_BYTES (1u << 20)
/* The heartbeat that tells the watchdog the loop turns. A heartbeat later than
 * STALL_LOG_MS past its time means the loop stood still that long: logged, with the phase
 * the loop was in (the slow phases also log themselves, with what they were doing). */
#define HEARTBEAT_MS 250
#define STALL_LOG_MS 100
/* The watchdog's name for where the loop is between our own phases. */
#define PHASE_LWS "libwebsockets service"

typedef struct net_pacer {
    uv_idle_t idle;            /* active while ids is not empty */
    uv_timer_t heartbeat;
    uint64_t *ids;             /* connections to visit (by id: one may close meanwhile) */
    size_t n, cap;
    uint64_t last_beat_ns;     /* uv_hrtime() of the previous heartbeat */
} net_pacer;

static void on_pacer_idle(uv_idle_t *h);

/* Whether c may start another request now. */
static int may_dispatch(const conn *c)
{
    return c->inflight < CONN_MAX_INFLIGHT && c->out_bytes <= CONN_PAUSE_OUT_BYTES &&
           !(c->srv->inflight_paused && c->inflight > 0);
}

/* A closing connection keeps reading (and ignoring) input: unread bytes at close() would
 * make the kernel reset the connection and the client could lose our Goodbye. */
static int wants_pause(const conn *c)
{
    return c->state != CONN_CLOSING && (c->bl_head || !may_dispatch(c));
}

static void backlog_free(conn *c)
{
    while (c->bl_head) {
        in_frame *f = c->bl_head;
        c->bl_head = f->next;
        sodium_memzero(f->data, f->len);  /* may hold a password */
        free(f);
    }
    c->bl_tail = NULL;
    c->bl_bytes = 0;
}

static int backlog_push(conn *c, const void *data, size_t len)
{
    if (c->bl_bytes + len > BACKLOG_MAX_BYTES) return -1;
    in_frame *f = malloc(sizeof *f + len);
    if (!f) return -1;
    f->next = NULL;
    f->len = len;
    memcpy(f->data, data, len);
    if (c->bl_tail) c->bl_tail->next = f;
    else c->bl_head = f;
    c->bl_tail = f;
    c->bl_bytes += len;
    return 0;
}

/* Puts c on the pacer's list if its socket's flow or its backlog needs a visit. */
static void pace_later(conn *c)
{
    net_pacer *p = c->srv->pacer;
    if (c->paced || !p || (wants_pause(c) == (int)c->rx_paused && !c->bl_head)) return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        uint64_t *ids = realloc(p->ids, cap * sizeof *ids);
        if (!ids) {
            /* Without the visit the flow state lags until the next change: never wrong
             * for long, and memory is short anyway. */
            log_error("pacer: out of memory");
            return;
        }
        p->ids = ids;
        p->cap = cap;
    }
    p->ids[p->n++] = c->id;
    c->paced = 1;
    if (p->n == 1) uv_idle_start(&p->idle, on_pacer_idle);
}

static void set_rx_flow(conn *c, int pause)
{
    if (pause == (int)c->rx_paused || !c->websocket) return;
    c->rx_paused = (unsigned)pause;
    lws_rx_flow_control(c->wsi, !pause);
}

/* Dispatches c's backlog while its bounds allow, then pauses or resumes its socket. */
static void pace(conn *c)
{
    while (c->bl_head && c->state != CONN_CLOSING && may_dispatch(c)) {
        in_frame *f = c->bl_head;
        c->bl_head = f->next;
        if (!c->bl_head) c->bl_tail = NULL;
        c->bl_bytes -= f->len;
        dispatch_frame(c, f->data, f->len);
        sodium_memzero(f->data, f->len);
        free(f);
    }
    if (c->state == CONN_CLOSING) backlog_free(c);
    set_rx_flow(c, wants_pause(c));
}

/* Logs a phase of the loop that took longer than STALL_LOG_MS. */
static void log_if_slow(const char *what, uint64_t since_ns)
{
    uint64_t ms = (uv_hrtime() - since_ns) / 1000000;
    if (ms > STALL_LOG_MS) log_warn("network loop: %s took %llu ms", what, (unsigned long long)ms);
}

/* Visits the connections listed before this round; those a visit lists again wait for the
 * next round, so one busy connection cannot keep the loop from polling. */
static void on_pacer_idle(uv_idle_t *h)
{
    server *srv = h->data;
    net_pacer *p = srv->pacer;
    watchdog_where(srv->watchdog, "dispatching backlogged requests");
    uint64_t t0 = uv_hrtime();
    size_t n = p->n;
    for (size_t i = 0; i < n; i++) {
        conn *c = conn_find(srv, p->ids[i]);
        if (!c) continue;
        c->paced = 0;
        pace(c);
    }
    memmove(p->ids, p->ids + n, (p->n - n) * sizeof *p->ids);
    p->n -= n;
    if (p->n == 0) uv_idle_stop(h);
    log_if_slow("dispatching backlogs", t0);
    watchdog_where(srv->watchdog, PHASE_LWS);
}

static void on_heartbeat(uv_timer_t *t)
{
    server *srv = t->data;
    net_pacer *p = srv->pacer;
    uint64_t now = uv_hrtime();
    uint64_t late_ms = (now - p->last_beat_ns) / 1000000;
    late_ms = late_ms > HEARTBEAT_MS ? late_ms - HEARTBEAT_MS : 0;
    if (p->last_beat_ns && late_ms > STALL_LOG_MS)
        log_warn("network loop: stalled for %llu ms", (unsigned long long)late_ms);
    p->last_beat_ns = now;
    watchdog_beat(srv->watchdog);
}

static void pacer_close_cb(uv_handle_t *h)
{
    (void)h;
}

static int pacer_start(server *srv)
{
    net_pacer *p = calloc(1, sizeof *p);
    if (!p) return -1;
    uv_idle_init(srv->uv, &p->idle);
    uv_timer_init(srv->uv, &p->heartbeat);
    p->idle.data = p->heartbeat.data = srv;
    p->last_beat_ns = uv_hrtime();
    uv_timer_start(&p->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
    srv->pacer = p;
    return 0;
}

/* Closes the handles; the loop's final run (lws_uv_destroy) completes the close, after
 * which pacer_free() may release the memory. */
static void pacer_close(server *srv)
{
    net_pacer *p = srv->pacer;
    if (!p) return;
    uv_close((uv_handle_t *)&p->idle, pacer_close_cb);
    uv_close((uv_handle_t *)&p->heartbeat, pacer_close_cb);
}

static void pacer_free(server *srv)
{
    if (!srv->pacer) return;
    free(srv->pacer->ids);
    free(srv->pacer);
    srv->pacer = NULL;
}

/* ---- outbound queue --------------------------------------------------------------------- */

static void free_out_queue(conn *c)
{
    while (c->out_head) {
        out_frame *f = c->out_head;
        c->out_head = f->next;
        free(f);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
    c->out_frames = 0;
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

/* WHY write at once when nothing is queued: waiting for WRITEABLE cost two epoll_ctl
 * calls per frame (lws adds POLLOUT, then takes it off again) and a trip through the event
 * loop, about a fifth of the network thread's time at a few thousand messages per second.
 * A socket with room takes the frame now; lws_send_pipe_choked() (a poll() of this one
 * socket, and true while lws holds a partly sent frame) sends everything else to the queue,
 * which the WRITEABLE callback drains in order. A failed write cannot close the connection
 * from here (we may be inside another connection's callback): write_failed makes the next
 * WRITEABLE do it. */
static void enqueue(conn *c, out_frame *f)
{
    if (c->websocket && !c->out_head && c->state != CONN_CLOSING && !c->write_failed &&
        !lws_send_pipe_choked(c->wsi)) {
        int n = lws_write(c->wsi, f->data + LWS_PRE, f->len, LWS_WRITE_BINARY);
        if (n < (int)f->len) {
            c->write_failed = 1;
            lws_callback_on_writable(c->wsi);
        }
        free(f);
        return;
    }
    f->next = NULL;
    if (c->out_tail) c->out_tail->next = f;
    else c->out_head = f;
    c->out_tail = f;
    c->out_bytes += f->len;
    c->out_frames++;
    lws_callback_on_writable(c->wsi);
}

static out_frame *pack_frame(const Parley__ServerFrame *f)
{
    size_t n = parley__server_frame__get_packed_size(f);
    out_frame *o = malloc(sizeof *o + LWS_PRE + n);
    if (!o) return NULL;
    o->len = parley__server_frame__pack(f, o->data + LWS_PRE);
    return o;
}

/* Refuses frames for closing conns and closes conns whose queue is over its bounds. */
static int queue_admits(conn *c, size_t len)
{
    if (c->state == CONN_CLOSING) return 0;
    if (c->out_bytes + len > CONN_MAX_OUT_BYTES || c->out_frames + 1 > CONN_MAX_OUT_FRAMES) {
        log_info("conn %llu: outbound queue full, disconnecting", (unsigned long long)c->id);
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
    pace_later(c);
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
    pace_later(c);
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
    if (c->websocket) lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, GOODBYE_TIMEOUT_S);
    if (o) enqueue(c, o);
    else lws_callback_on_writable(c->wsi);  /* no Goodbye, but still close */
    pace_later(c);
}

/* Leaving the server-wide pause: every paused connection re-checks its own limits. */
static void resume_all(server *srv)
{
    for (size_t i = 0; i < srv->conns.cap; i++)
        if (srv->conns.slots[i].key) pace_later(srv->conns.slots[i].value);
}

/* During the server-wide pause a connection with nothing in flight still reads: it adds
 * one request and then pauses itself, so quiet clients are not starved by the busy ones. */
void conn_request_begin(conn *c)
{
    c->inflight++;
    server *srv = c->srv;
    if (++srv->inflight_total >= NET_INFLIGHT_HIGH && !srv->inflight_paused) {
        log_info("%zu requests in flight: pausing input", srv->inflight_total);
        srv->inflight_paused = 1;
    }
    pace_later(c);
}

void conn_request_end(conn *c)
{
    server *srv = c->srv;
    if (c->inflight > 0) {
        c->inflight--;
        if (srv->inflight_total > 0) srv->inflight_total--;
    }
    if (srv->inflight_paused && srv->inflight_total <= NET_INFLIGHT_LOW) {
        srv->inflight_paused = 0;
        resume_all(srv);
    }
    pace_later(c);
}

/* ---- connection lifecycle ----------------------------------------------------------------- */

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
    listener_peer_ip(wsi, c->ip, sizeof c->ip);  /* the client's, also behind a proxy */
    flood_init(&c->flood, srv->cfg.flood_burst, lws_now_usecs());
    srv->n_conns++;
    return c;
}

void net_conn_close(server *srv, conn *c)
{
    push_remove(srv, c);
    idmap_del(&srv->conns, c->id);
    /* Its jobs still finish, but req_job_free() no longer finds the conn to count them. */
    srv->inflight_total -= c->inflight < srv->inflight_total ? c->inflight : srv->inflight_total;
    free_out_queue(c);
    backlog_free(c);
    if (c->rx) sodium_memzero(c->rx, c->rx_cap);  /* may hold a password */
    free(c->rx);
    if (c->cookie) sodium_memzero(c->cookie, AUTH_TOKEN_BYTES);
    free(c->cookie);
    srv->n_conns--;
    free(c);
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* `want` is the size the message is known to reach (this frame's remaining payload):
 * single-frame messages, the usual case, get one allocation of the exact size. */
static int rx_append(conn *c, const void *in, size_t len, size_t want, size_t max)
{
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 1024;
        if (cap < want) cap = want;
        while (cap < c->rx_len + len) cap *= 2;
        if (cap > max) cap = max;
        unsigned char *p = malloc(cap);
        if (!p) return -1;
        /* Not realloc: the old buffer is wiped, not left to the allocator with its bytes. */
        if (c->rx) {
            memcpy(p, c->rx, c->rx_len);
            sodium_memzero(c->rx, c->rx_cap);
            free(c->rx);
        }
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    return 0;
}

static void rx_reset(conn *c)
{
    if (c->rx) sodium_memzero(c->rx, c->rx_len);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
}

/* Goodbye{TOO_LARGE}. The rest of the oversized message is still read and dropped before
 * the close (bounded in bytes and time), so a client busy sending it is not reset by the
 * kernel and gets to read the Goodbye. */
static void too_large(conn *c, struct lws *wsi)
{
    rx_reset(c);
    c->discarding = !lws_is_final_fragment(wsi);
    if (c->discarding) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, DISCARD_TIMEOUT_S);
    conn_goodbye(c, PARLEY__ERROR_CODE__TOO_LARGE, "frame too large",
                 LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, 0);
}

static void discard_input(conn *c, size_t len, int final)
{
    c->rx_len += len;  /* rx is NULL while discarding; rx_len counts the dropped bytes */
    if (final || c->rx_len > DISCARD_MAX) {
        c->discarding = 0;
        c->rx_len = 0;
        lws_callback_on_writable(c->wsi);  /* now the close may happen */
    }
}

/* A complete message: dispatched now, or kept in order behind those already waiting. */
static void deliver(conn *c, const uint8_t *data, size_t len)
{
    if (c->bl_head || !may_dispatch(c)) {
        if (backlog_push(c, data, len) != 0) {
            log_error("conn %llu: backlog over %u bytes despite the pause, disconnecting",
                      (unsigned long long)c->id, BACKLOG_MAX_BYTES);
            conn_goodbye(c, PARLEY__ERROR_CODE__BUSY, "too many queued requests",
                         LWS_CLOSE_STATUS_POLICY_VIOLATION, 0);
            return;
        }
        pace_later(c);
        return;
    }
    watchdog_where(c->srv->watchdog, "dispatching a request");
    dispatch_frame(c, data, len);
    watchdog_where(c->srv->watchdog, PHASE_LWS);
}

static void on_receive(conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->state == CONN_CLOSING) {
        if (c->discarding) discard_input(c, len, lws_is_final_fragment(wsi));
        return;
    }
    if (!lws_frame_is_binary(wsi)) {
        rx_reset(c);
        conn_goodbye(c, PARLEY__ERROR_CODE__BAD_REQUEST, "text frames are not accepted",
                     LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, 0);
        return;
    }
    size_t max = c->srv->cfg.max_frame;
    size_t remaining = lws_remaining_packet_payload(wsi);
    if (c->rx_len + len + remaining > max) {
        too_large(c, wsi);
        return;
    }
    int final = lws_is_final_fragment(wsi);
    if (final && c->rx_len == 0) {  /* the whole message arrived in one piece */
        deliver(c, in, len);
        return;
    }
    if (rx_append(c, in, len, c->rx_len + len + remaining, max) != 0) {
        rx_reset(c);
        conn_goodbye(c, PARLEY__ERROR_CODE__BUSY, "out of memory", LWS_CLOSE_STATUS_GOINGAWAY,
                     0);
        return;
    }
    if (final) {
        deliver(c, c->rx, c->rx_len);
        rx_reset(c);
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes queued frames until the socket would block, up to a bound per callback.
 *
 * WHY a loop: one frame per WRITEABLE made every frame cost a full poll() round over all
 * sockets. lws_write() never leaves a frame half sent from our point of view: when the
 * kernel (or SSL_write) takes only part of it, lws keeps the rest itself and from then on
 * lws_send_pipe_choked() is true, so we stop and lws flushes its copy before the next
 * WRITEABLE. The bounds keep one busy connection from starving the others.
 * -1 closes the connection. */
#define WRITE_BATCH_FRAMES 64
#define WRITE_BATCH_BYTES (256u << 10)

/* The WebSocket close frame (status c->close_status) after the Goodbye; close_status is 0
 * from then on. The connection then waits for the client's close frame
 * (LWS_CALLBACK_WS_PEER_INITIATED_CLOSE), at most CLOSE_ACK_TIMEOUT_S, so that the client
 * has read everything before the TCP connection goes.
 *
 * WHY written by hand instead of lws_close_reason() and returning -1 from WRITEABLE: that
 * only arms lws's close, which sends the frame at the next WRITEABLE; but Debian's lws
 * 4.1.6 is built without NDEBUG, and with a libuv loop lws_service_fd_tsi() then closes
 * every connection a callback asked to close a second time at once (its "uv repeat test"),
 * which finds the close armed and drops the socket: clients saw 1006, no close frame. */
static int send_close_frame(conn *c, struct lws *wsi)
{
    unsigned char frame[LWS_PRE + 2];
    frame[LWS_PRE] = (unsigned char)(c->close_status >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(c->close_status & 0xff);
    c->close_status = 0;
    if (lws_write(wsi, frame + LWS_PRE, 2, WS_WRITE_CLOSE) < 2) return -1;
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_TIMEOUT_S);
    return 0;
}

static int on_writeable(conn *c, struct lws *wsi)
{
    if (c->write_failed) return -1;
    size_t frames = 0, bytes = 0;
    while (c->out_head && frames < WRITE_BATCH_FRAMES && bytes < WRITE_BATCH_BYTES) {
        if (frames > 0 && lws_send_pipe_choked(wsi)) break;
        out_frame *f = c->out_head;
        c->out_head = f->next;
        if (!c->out_head) c->out_tail = NULL;
        c->out_bytes -= f->len;
        c->out_frames--;
        int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_BINARY);
        int short_write = n < (int)f->len;
        bytes += f->len;
        frames++;
        free(f);
        if (short_write) return -1;
    }
    if (c->out_head) {
        lws_callback_on_writable(wsi);
    } else if (c->state == CONN_CLOSING && !c->discarding && c->close_status) {
        /* lws queues the close frame behind any part of the Goodbye it still holds. */
        return send_close_frame(c, wsi);
    }
    pace_later(c);
    return 0;
}

/* ---- lws callbacks ------------------------------------------------------------------------ */

static int uri_is(struct lws *wsi, const char *path)
{
    char uri[64];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) return 0;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0) return 0;
    return strcmp(uri, path) == 0;
}

static void drain_completions(server *srv)
{
    if (srv->shutting_down) return;
    watchdog_where(srv->watchdog, "store and Argon2 completions");
    uint64_t t0 = uv_hrtime();
    storeq_drain(srv->sq);
    auth_pool_drain(srv->auth);
    log_if_slow("store and Argon2 completions", t0);
    watchdog_where(srv->watchdog, PHASE_LWS);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ws_session *pss = user;
    server *srv = server_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!uri_is(wsi, WS_PATH) || web_ws_filter(wsi) != 0) return -1;
        if (srv->n_conns >= srv->cfg.max_connections || srv->shutting_down) {
            log_warn("refusing a connection: %zu connections open", srv->n_conns);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        pss->c = net_conn_open(srv, wsi);
        if (!pss->c) return -1;
        pss->c->websocket = 1;
        listener_ws_established(wsi, pss->c);
        web_ws_attach(pss->c, wsi);
        log_debug("conn %llu: open from %s", (unsigned long long)pss->c->id, pss->c->ip);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (pss->c) on_receive(pss->c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->c ? on_writeable(pss->c, wsi) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The answer to our close frame: done (-1 closes without a second close frame).
         * A close the client starts is answered by lws (0). */
        return pss->c && pss->c->state == CONN_CLOSING && pss->c->close_status == 0 ? -1 : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->c) {
            log_debug("conn %llu: closed", (unsigned long long)pss->c->id);
            net_conn_close(srv, pss->c);
            pss->c = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_completions(srv);
        return 0;
    default:
        return 0;
    }
}

/* TLS 1.2 is the floor, 1.3 is negotiated whenever the client has it; idle connections
 * give their OpenSSL read/write buffers back (SSL_MODE_RELEASE_BUFFERS). One TLS 1.3
 * session ticket instead of OpenSSL's default two: a client resumes once per reconnect, and
 * each ticket issued cost about 900 bytes of every idle connection's memory (measured with
 * parley-bench --idle 3000: 15,824 -> 14,947 bytes per connection). */
static void tune_ssl_ctx(SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_num_tickets(ctx, 1);
}

static int http_request(struct lws *wsi, http_session *hs, const char *path)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 && strcmp(path, "/healthz") == 0) {
        unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                      *end = buf + sizeof buf - 1;
        if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain", 3, &p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"strict-transport-security:",
                                        (const unsigned char *)HSTS, (int)strlen(HSTS), &p,
                                        end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        hs->healthz = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    return web_http_begin(server_of(wsi), wsi, &hs->web, path);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    http_session *hs = user;
    int rc;
    /* protocols[0] hears of every wsi's end, WebSockets' included. */
    if (reason == LWS_CALLBACK_WSI_DESTROY) listener_wsi_destroyed(wsi);
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        tune_ssl_ctx(user);
        log_debug("tls: TLS 1.2 minimum, buffer release on");
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1;  /* a WebSocket without subprotocol parley.v1 */
    case LWS_CALLBACK_HTTP:
        listener_http_request(wsi);
        return http_request(wsi, hs, in);
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (hs && !hs->healthz && web_http_event(server_of(wsi), wsi, reason, &hs->web, in, len,
                                                 &rc))
            return rc;
        if (!hs || !hs->healthz) break;
        unsigned char body[LWS_PRE + 3];
        memcpy(body + LWS_PRE, "ok\n", 3);
        hs->healthz = 0;
        if (lws_write(wsi, body + LWS_PRE, 3, LWS_WRITE_HTTP_FINAL) != 3) return 1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    default:
        if (hs && web_http_event(server_of(wsi), wsi, reason, &hs->web, in, len, &rc)) return rc;
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    { "http", http_callback, sizeof(http_session), 0, 0, NULL, 0 },
    { SUBPROTOCOL, ws_callback, sizeof(ws_session), RX_BUFFER_SIZE, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Routes lws's own log lines into ours (lws only logs errors and warnings here). */
static void lws_log_bridge(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws: %.*s", (int)n, line);
}

/* Sets the soft RLIMIT_NOFILE to exactly what we need (raising or LOWERING it) and returns
 * it for info.fd_limit_per_thread.
 * WHY set it exactly: lws sizes its fd tables by the limit, and when fd_limit_per_thread is
 * below the process limit it switches wsi_from_fd() to a linear scan over all its slots on
 * every socket event (that was ~8% of the service thread with 1000 clients). With the two
 * equal the lookup is a direct index and the tables are no bigger than needed. */
static unsigned fd_limit(unsigned max_connections)
{
    /* Room for the connections plus listener, pipes, database and log files. */
    unsigned want = max_connections + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        log_warn("file descriptor limit %llu is below max_connections + 64",
                 (unsigned long long)rl.rlim_cur);
        want = (unsigned)rl.rlim_cur;
    }
    return want;
}

/* Destroys the lws context, then the loop (lws_uv.h). */
static void close_loop(server *srv)
{
    if (!srv->uv) {
        listener_free(srv);
        return;
    }
    pacer_close(srv);
    listener_close(srv);
    lws_uv_destroy(&srv->lws, srv->uv);
    pacer_free(srv);
    listener_free(srv);  /* after lws destroyed its wsis, which released their records */
    free(srv->uv);
    srv->uv = NULL;
}

int net_start(server *srv, const char *cert_path, const char *key_path, char *err,
              size_t errlen)
{
    unsigned fds = fd_limit(srv->cfg.max_connections);
    /* Sockets in any phase: the descriptor limit less room for everything else. */
    if (listener_open(srv, fds > 64 ? fds - 32 : fds / 2, err, errlen) != 0) return -1;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;  /* TLS, but listener.c accepts */
    info.protocols = protocols;
    info.user = srv;
    info.server_string = "parleyd";
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cert_path;
    info.ssl_private_key_filepath = key_path;
    info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                           SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                           SSL_OP_CIPHER_SERVER_PREFERENCE;
    info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                           "ECDHE-ECDSA-CHACHA20-POLY1305";
    info.alpn = "http/1.1";
    info.fd_limit_per_thread = fds;
    info.timeout_secs = 20;
    srv->uv = malloc(sizeof *srv->uv);
    if (!srv->uv || uv_loop_init(srv->uv) != 0) {
        free(srv->uv);
        srv->uv = NULL;
        listener_free(srv);
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    if (pacer_start(srv) != 0) {
        close_loop(srv);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!lws_uv_create(&info, srv->uv, &srv->lws)) {
        close_loop(srv);
        snprintf(err, errlen, "cannot start libwebsockets (TLS setup failed)");
        return -1;
    }
    /* lws 4.1 may return a context without the vhost it was asked for. The context is left
     * to the exiting process: destroying one whose vhost failed crashes inside lws's libuv
     * glue. */
    struct lws_vhost *vh = lws_get_vhost_by_name(srv->lws, "default");
    if (!vh) {
        snprintf(err, errlen, "cannot start libwebsockets (no vhost)");
        listener_free(srv);
        srv->lws = NULL;
        srv->uv = NULL;
        return -1;
    }
    listener_start(srv, vh);
    int v6 = strchr(srv->cfg.listen_host, ':') != NULL;
    log_info("listening on https://%s%s%s:%d (WebSocket %s, subprotocol %s)", v6 ? "[" : "",
             srv->cfg.listen_host, v6 ? "]" : "", listener_port(srv), WS_PATH, SUBPROTOCOL);
    return 0;
}

void net_run(server *srv)
{
    /* One round per call: the stop flag is seen after the wake-up net_wake() causes. */
    watchdog_where(srv->watchdog, PHASE_LWS);
    while (!atomic_load(&srv->stop))
        uv_run(srv->uv, UV_RUN_ONCE);
}

void net_stop(server *srv)
{
    close_loop(srv);           /* destroys the lws context first */
}

void net_wake(void *arg)
{
    server *srv = arg;
    if (srv->lws) lws_cancel_service(srv->lws);
}
