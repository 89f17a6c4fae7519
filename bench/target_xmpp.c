/*
 * target_xmpp.c: an XMPP server (ejabberd, Prosody) as a parley-bench target (see target.h),
 * through libstrophe.
 *
 * Client i logs in as bench<i>@DOMAIN (password benchpw<i>; bench/run-peers registers the
 * accounts beforehand with in-band registration), sends initial presence (without it the
 * server would treat messages to the bare JID as offline and store them instead) and sends
 * its messages as <message type='chat'> to its peer's bare JID. A delivery is such a message
 * arriving with a body that starts with this run's prefix ("R<run>:"), so messages stored
 * offline by an earlier run are not counted.
 *
 * Fan-out mode: every client joins the MUC room "f<run>@conference.DOMAIN" as "n<i>"
 * (XEP-0045, no history), and is ready once the room sent its own presence back; client 0
 * sends <message type='groupchat'> to the room, every other occupant receives it (client 0's
 * own echo is not a delivery). The configs in bench/peers/ broadcast only moderators'
 * presence, so joining costs O(n) stanzas, not O(n^2).
 *
 * Acknowledgement: XEP-0198 stream management when the server offers it (both ejabberd and
 * Prosody do). libstrophe 0.12 implements XEP-0198 itself but does not tell its user which
 * stanza was acknowledged, so its own handling is switched off (XMPP_CONN_FLAG_DISABLE_SM)
 * and this file speaks the few elements itself: <enable/>, then after each poll round in
 * which a client sent, one <r/>; the server's <a h='N'/> acknowledges the first N stanzas
 * sent since <enable/>. With mod_mam the server archives before it handles the next stanza,
 * but neither server promises the archive write is durable when it answers. Without
 * XEP-0198 a send counts as acknowledged at the next poll (no ack latency).
 *
 * libstrophe's event loop uses select(), so a process can hold at most FD_SETSIZE (1024)
 * descriptors: this target refuses more than 960 clients.
 *
 * Memory: the shard owns its libstrophe context, connections and pending FIFOs.
 */
#include "target.h"

#include "peerutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>

#define XMPP_MAX_CLIENTS 960
#define SM_NS "urn:xmpp:sm:3"

enum { XC_NONE, XC_CONNECTING, XC_READY, XC_FAILED };

typedef struct xclient {
    xmpp_conn_t *conn;
    struct bench_shard *s;
    int index;
    int state;
    int bound;                    /* XMPP_CONN_CONNECT seen: session bound */
    int presence_back;            /* the server echoed our initial presence */
    int joined;                   /* fan-out: the room echoed our presence */
    int sm;                       /* 0 asked, 1 enabled, -1 not available */
    uint32_t out_count;           /* stanzas sent since <enable/> */
    uint32_t in_count;            /* stanzas received since <enabled/> */
    int dirty;                    /* sent since the last <r/> */
    pending_fifo pending;         /* (stanza number, payload head) awaiting <a h/> */
    char peer_jid[160];
} xclient;

struct bench_target {
    bench_url url;
    char ca_file[512];
    char domain[128];
    char run_id[16];
    char prefix[24];              /* "R<run>:" at the start of every body */
    size_t prefix_len;
    char room[160];               /* fan-out: the MUC room's bare JID */
    int n_clients;
    int tls;
    int fanout;
};

struct bench_shard {
    bench_target *t;
    xmpp_ctx_t *ctx;
    int first, count, started;
    xclient *cl;
    int *dirty;                   /* local indexes with dirty set */
    int n_dirty;
    bench_callbacks cb;
    ack_list acks;                /* no XEP-0198: acknowledged at the next poll */
    uint64_t error_msgs, sm_failed, disconnects;
};

static bench_target *xmpp_create(const bench_target_config *cfg, char *err, size_t errlen)
{
    bench_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (bench_url_parse(cfg->server_url, 5222, &t->url) != 0 ||
        (strcmp(t->url.scheme, "xmpp") && strcmp(t->url.scheme, "xmpp+starttls"))) {
        snprintf(err, errlen, "xmpp target: --server must be xmpp://HOST:PORT or "
                              "xmpp+starttls://HOST:PORT");
        free(t);
        return NULL;
    }
    if (cfg->n_clients > XMPP_MAX_CLIENTS) {
        snprintf(err, errlen, "xmpp target: at most %d clients (libstrophe uses select())",
                 XMPP_MAX_CLIENTS);
        free(t);
        return NULL;
    }
    t->tls = !strcmp(t->url.scheme, "xmpp+starttls");
    snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    snprintf(t->domain, sizeof t->domain, "%s", cfg->xmpp_domain ? cfg->xmpp_domain
                                                                 : "localhost");
    snprintf(t->run_id, sizeof t->run_id, "%s", cfg->run_id);
    t->prefix_len = (size_t)snprintf(t->prefix, sizeof t->prefix, "R%s:", cfg->run_id);
    t->n_clients = cfg->n_clients;
    t->fanout = cfg->fanout;
    snprintf(t->room, sizeof t->room, "f%s@conference.%s", cfg->run_id, t->domain);
    xmpp_initialize();
    return t;
}

static void xmpp_target_free(bench_target *t)
{
    if (!t)
        return;
    xmpp_shutdown();
    free(t);
}

/* ---- stanza handlers (on the shard's thread, inside xmpp_run_once) ---------------------- */

static void mark_dirty(xclient *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->s->dirty[c->s->n_dirty++] = c->index - c->s->first;
    }
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    xclient *c = ud;
    bench_shard *s = c->s;
    const char *type = xmpp_stanza_get_type(st);
    if (type && !strcmp(type, "error")) {
        s->error_msgs++;
        return 1;
    }
    if (s->t->fanout && c->index == 0)
        return 1;                /* the sender's own groupchat echo */
    char *body = xmpp_message_get_body(st);
    if (!body)
        return 1;
    if (!strncmp(body, s->t->prefix, s->t->prefix_len)) {
        const char *p = body + s->t->prefix_len;
        s->cb.on_deliver(s->cb.ud, c->index, p, strlen(p));
    }
    xmpp_free(s->ctx, body);
    return 1;
}

/* Ready once bound, XEP-0198 answered (either way) and our presence came back, whichever of
 * these arrives last. */
static void check_ready(xclient *c)
{
    if (c->state == XC_CONNECTING && c->bound && c->sm != 0 && c->presence_back &&
        (c->joined || !c->s->t->fanout))
        c->state = XC_READY;
}

/* Every stanza (message, presence, iq) counts for XEP-0198's inbound number; our own
 * presence coming back is also the sign the session is available for messages. */
static int on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    xclient *c = ud;
    const char *name = xmpp_stanza_get_name(st);
    if (!name || (strcmp(name, "message") && strcmp(name, "presence") && strcmp(name, "iq")))
        return 1;
    if (c->sm == 1)
        c->in_count++;
    if (!strcmp(name, "presence") && (!c->presence_back || !c->joined)) {
        const char *from = xmpp_stanza_get_from(st);
        const char *me = xmpp_conn_get_bound_jid(conn);
        char occupant[192];
        snprintf(occupant, sizeof occupant, "%s/n%d", c->s->t->room, c->index);
        if (from && me && !strcmp(from, me))
            c->presence_back = 1;
        const char *type = xmpp_stanza_get_type(st);
        if (from && c->s->t->fanout && !strcmp(from, occupant) && !(type && !strcmp(type, "error")))
            c->joined = 1;
        check_ready(c);
    }
    return 1;
}

static int on_sm(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    xclient *c = ud;
    bench_shard *s = c->s;
    const char *name = xmpp_stanza_get_name(st);
    if (!name)
        return 1;
    if (!strcmp(name, "enabled")) {
        c->sm = 1;
    } else if (!strcmp(name, "failed")) {
        if (c->sm == 0)
            s->sm_failed++;
        c->sm = -1;
    } else if (!strcmp(name, "r")) {
        xmpp_send_raw_string(conn, "<a xmlns='" SM_NS "' h='%u'/>", c->in_count);
    } else if (!strcmp(name, "a")) {
        const char *h = xmpp_stanza_get_attribute(st, "h");
        uint32_t acked = h ? (uint32_t)strtoul(h, NULL, 10) : 0, key;
        char hdr[PENDING_HDR];
        while (pending_front(&c->pending, &key) == 0 && key <= acked) {
            pending_pop(&c->pending, &key, hdr);
            s->cb.on_ack(s->cb.ud, c->index, 0, hdr, strlen(hdr));
        }
    }
    check_ready(c);
    return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *stream_error, void *ud)
{
    xclient *c = ud;
    if (ev != XMPP_CONN_CONNECT) {
        if (c->state == XC_READY)
            c->s->disconnects++;
        c->state = XC_FAILED;
        return;
    }
    c->bound = 1;
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, c);
    xmpp_handler_add(conn, on_any, NULL, NULL, NULL, c);
    xmpp_handler_add(conn, on_sm, SM_NS, NULL, NULL, c);
    /* <enable/> first, so the initial presence is stanza 1 of the counted stream. */
    xmpp_send_raw_string(conn, "<enable xmlns='" SM_NS "'/>");
    xmpp_send_raw_string(conn, "<presence/>");
    c->out_count = 1;
    if (c->s->t->fanout) {
        xmpp_send_raw_string(conn, "<presence to='%s/n%d'><x xmlns='http://jabber.org/"
                             "protocol/muc'><history maxstanzas='0'/></x></presence>",
                             c->s->t->room, c->index);
        c->out_count = 2;
    }
}

/* libstrophe's select() cannot watch a descriptor >= FD_SETSIZE. And Nagle off, as every
 * other target has it: libstrophe leaves it on, which held small stanzas back for up to
 * 40 ms (Nagle waiting for the peer's delayed ACK). */
static int sock_setup(xmpp_conn_t *conn, void *sock)
{
    int fd = *(int *)sock, one = 1;
    if (fd >= FD_SETSIZE)
        return -1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 ? 0 : -1;
}

/* ---- shards ------------------------------------------------------------------------------ */

static bench_shard *xmpp_shard_new(bench_target *t, int first, int count,
                                   const bench_callbacks *cb, char *err, size_t errlen)
{
    bench_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->cl = calloc((size_t)count, sizeof *s->cl)) ||
        !(s->dirty = calloc((size_t)count, sizeof *s->dirty))) {
        if (s)
            free(s->cl);
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->ctx = xmpp_ctx_new(NULL, NULL);       /* no logger: libstrophe stays silent */
    if (!s->ctx) {
        free(s->dirty);
        free(s->cl);
        free(s);
        snprintf(err, errlen, "xmpp_ctx_new failed");
        return NULL;
    }
    s->t = t;
    s->first = first;
    s->count = count;
    s->cb = *cb;
    for (int k = 0; k < count; k++) {
        s->cl[k].s = s;
        s->cl[k].index = first + k;
        snprintf(s->cl[k].peer_jid, sizeof s->cl[k].peer_jid, "bench%d@%s", (first + k) ^ 1,
                 t->domain);
    }
    return s;
}

static int client_start(bench_shard *s, xclient *c)
{
    bench_target *t = s->t;
    char jid[192], pass[48];
    snprintf(jid, sizeof jid, "bench%d@%s/b", c->index, t->domain);
    snprintf(pass, sizeof pass, "benchpw%d", c->index);
    c->conn = xmpp_conn_new(s->ctx);
    if (!c->conn)
        return -1;
    long flags = XMPP_CONN_FLAG_DISABLE_SM |
                 (t->tls ? XMPP_CONN_FLAG_MANDATORY_TLS : XMPP_CONN_FLAG_DISABLE_TLS);
    if (t->tls && !t->ca_file[0])
        flags |= XMPP_CONN_FLAG_TRUST_TLS;
    xmpp_conn_set_flags(c->conn, flags);
    if (t->tls && t->ca_file[0])
        xmpp_conn_set_cafile(c->conn, t->ca_file);
    xmpp_conn_set_jid(c->conn, jid);
    xmpp_conn_set_pass(c->conn, pass);
    xmpp_conn_set_sockopt_callback(c->conn, sock_setup);
    if (xmpp_connect_client(c->conn, t->url.host, (unsigned short)t->url.port, on_conn, c) !=
        XMPP_EOK)
        return -1;
    c->state = XC_CONNECTING;
    return 0;
}

static int xmpp_ready_count(bench_shard *s)
{
    int n = 0;
    for (int k = 0; k < s->started; k++)
        n += s->cl[k].state == XC_READY;
    return n;
}

static int xmpp_connect_step(bench_shard *s, int limit, int max_pending)
{
    int ready = 0, pending = 0;
    for (int k = 0; k < s->started; k++) {
        ready += s->cl[k].state == XC_READY;
        pending += s->cl[k].state == XC_CONNECTING;
    }
    if (limit > s->count)
        limit = s->count;
    while (s->started < limit && pending < max_pending) {
        xclient *c = &s->cl[s->started++];
        if (client_start(s, c) != 0)
            c->state = XC_FAILED;
        else
            pending++;
    }
    return ready;
}

static int xmpp_open_peers(bench_shard *s, char *err, size_t errlen)
{
    int failed = 0;
    for (int k = 0; k < s->started; k++)
        failed += s->cl[k].state == XC_FAILED;
    if (failed)
        snprintf(err, errlen, "xmpp: %d of %d clients failed to connect or log in", failed,
                 s->started);
    return xmpp_ready_count(s);
}

static int xmpp_can_send(bench_shard *s, int client)
{
    int k = client - s->first;
    if (s->t->fanout && client != 0)
        return 0;
    return k >= 0 && k < s->count && s->cl[k].state == XC_READY;
}

/* The body is the driver's text (digits, spaces, 'x'), so it needs no XML escaping; the
 * stanza goes out through libstrophe's send queue as text, which costs the load generator
 * far less than building a stanza tree per message. */
static int xt_send(bench_shard *s, int client, const char *payload, size_t len)
{
    int k = client - s->first;
    if (k < 0 || k >= s->count || s->cl[k].state != XC_READY)
        return XMPP_EINVOP;
    for (size_t i = 0; i < len; i++)
        if (payload[i] == '<' || payload[i] == '&' || payload[i] == '>')
            return XMPP_EINVOP;
    xclient *c = &s->cl[k];
    if (s->t->fanout)
        xmpp_send_raw_string(c->conn, "<message type='groupchat' to='%s'><body>%s%s</body>"
                             "</message>", s->t->room, s->t->prefix, payload);
    else
        xmpp_send_raw_string(c->conn, "<message type='chat' to='%s'><body>%s%s</body>"
                             "</message>", c->peer_jid, s->t->prefix, payload);
    if (c->sm != 1)
        return ack_list_add(&s->acks, client) == 0 ? 0 : XMPP_EMEM;
    c->out_count++;
    if (pending_push(&c->pending, c->out_count, payload, len) != 0)
        return XMPP_EMEM;
    mark_dirty(c);
    return 0;
}

static void xmpp_poll(bench_shard *s, int timeout_ms)
{
    for (int i = 0; i < s->n_dirty; i++) {
        xclient *c = &s->cl[s->dirty[i]];
        c->dirty = 0;
        if (c->state == XC_READY)
            xmpp_send_raw_string(c->conn, "<r xmlns='" SM_NS "'/>");
    }
    s->n_dirty = 0;
    for (size_t i = 0; i < s->acks.len; i++)
        s->cb.on_ack(s->cb.ud, s->acks.client[i], 0, NULL, 0);
    s->acks.len = 0;
    xmpp_run_once(s->ctx, (unsigned long)(timeout_ms > 0 ? timeout_ms : 0));
}

static int xmpp_counters(bench_shard *s, const char **names, uint64_t *values, int max)
{
    if (max < 3)
        return 0;
    names[0] = "error_messages";
    values[0] = s->error_msgs;
    names[1] = "sm_refused";
    values[1] = s->sm_failed;
    names[2] = "disconnects";
    values[2] = s->disconnects;
    return 3;
}

static void xmpp_shard_free(bench_shard *s)
{
    if (!s)
        return;
    int open = 0;
    for (int k = 0; k < s->started; k++)
        if (s->cl[k].conn && s->cl[k].state == XC_READY) {
            xmpp_disconnect(s->cl[k].conn);
            open++;
        }
    /* A few rounds so the closing </stream:stream> reaches the servers (bounded). */
    for (int i = 0; open && i < 20; i++)
        xmpp_run_once(s->ctx, 10);
    for (int k = 0; k < s->count; k++) {
        if (s->cl[k].conn)
            xmpp_conn_release(s->cl[k].conn);
        pending_free(&s->cl[k].pending);
    }
    xmpp_ctx_free(s->ctx);
    ack_list_free(&s->acks);
    free(s->dirty);
    free(s->cl);
    free(s);
}

static const char *xmpp_code_name(int code)
{
    switch (-code < 0 ? code : -code) {   /* the driver counts codes by absolute value */
    case -XMPP_EMEM: return "XMPP_EMEM";
    case -XMPP_EINVOP: return "XMPP_EINVOP";
    case -XMPP_EINT: return "XMPP_EINT";
    default: return "XMPP_ERROR";
    }
}

const bench_target_ops bench_target_xmpp = {
    .name = "xmpp",
    .create = xmpp_create,
    .shard_new = xmpp_shard_new,
    .connect_step = xmpp_connect_step,
    .open_peers = xmpp_open_peers,
    .can_send = xmpp_can_send,
    .send = xt_send,
    .poll = xmpp_poll,
    .ready_count = xmpp_ready_count,
    .shard_free = xmpp_shard_free,
    .target_free = xmpp_target_free,
    .counters = xmpp_counters,
    .code_name = xmpp_code_name,
};
