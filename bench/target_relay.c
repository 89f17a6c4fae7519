/*
 * target_relay.c: parley-relay (bench/relay.c) as a parley-bench target (see target.h): the
 * same TLS WebSocket transport as Parley, with nothing behind it. It uses libwebsockets
 * directly (not libparley: the relay speaks no Parley protocol). Client i connects to
 * wss://HOST:PORT/r/<i> and sends the driver's payload as one binary message; the relay
 * hands it to client i^1 unchanged. Fan-out mode uses /g/<i>: the relay copies each
 * message of client 0 to every other member. There is no acknowledgement: a send counts as
 * acknowledged at the shard's next poll (no ack latency).
 *
 * One lws context per shard, serviced only by the shard's thread.
 *
 * Memory: the shard owns its clients and their queued frames; lws owns the connections.
 */
#include "target.h"

#include "peerutil.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RC_NONE, RC_CONNECTING, RC_READY, RC_FAILED };

typedef struct rframe {
    struct rframe *next;
    size_t len;
    unsigned char buf[];          /* LWS_PRE headroom, then the payload */
} rframe;

typedef struct rclient {
    struct lws *wsi;
    struct bench_shard *s;
    int index;
    int state;
    rframe *head, *tail;
    char *in;                     /* message assembled from fragments, NUL-terminated */
    size_t in_len;
} rclient;

struct bench_target {
    bench_url url;
    char ca_file[512];
    int n_clients;
    int fanout;
};

struct bench_shard {
    bench_target *t;
    struct lws_context *ctx;
    lws_sorted_usec_list_t wake;
    int first, count, started;
    rclient *cl;
    bench_callbacks cb;
    ack_list acks;
    uint64_t disconnects;
};

static bench_target *relay_create(const bench_target_config *cfg, char *err, size_t errlen)
{
    bench_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (bench_url_parse(cfg->server_url, 443, &t->url) != 0 || strcmp(t->url.scheme, "wss")) {
        snprintf(err, errlen, "relay target: --server must be wss://HOST:PORT");
        free(t);
        return NULL;
    }
    snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    t->n_clients = cfg->n_clients;
    t->fanout = cfg->fanout;
    return t;
}

static void relay_target_free(bench_target *t)
{
    free(t);
}

static void free_frames(rclient *c)
{
    for (rframe *f = c->head, *next; f; f = next) {
        next = f->next;
        free(f);
    }
    c->head = c->tail = NULL;
}

static int on_receive(rclient *c, struct lws *wsi, const void *in, size_t len)
{
    char *b = realloc(c->in, c->in_len + len + 1);
    if (!b)
        return -1;
    c->in = b;
    memcpy(c->in + c->in_len, in, len);
    c->in_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        c->in[c->in_len] = '\0';
        c->s->cb.on_deliver(c->s->cb.ud, c->index, c->in, c->in_len);
        c->in_len = 0;
    }
    return 0;
}

static int on_writeable(rclient *c, struct lws *wsi)
{
    for (int i = 0; i < 64 && c->head && !lws_send_pipe_choked(wsi); i++) {
        rframe *f = c->head;
        if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY) < (int)f->len)
            return -1;
        c->head = f->next;
        if (!c->head)
            c->tail = NULL;
        free(f);
    }
    if (c->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    rclient *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = RC_READY;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->state == RC_READY)
            c->s->disconnects++;
        c->state = RC_FAILED;
        c->wsi = NULL;
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { "relay", callback, 0, 4096, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static bench_shard *relay_shard_new(bench_target *t, int first, int count,
                                    const bench_callbacks *cb, char *err, size_t errlen)
{
    bench_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->cl = calloc((size_t)count, sizeof *s->cl))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lws_set_log_level(0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.protocols = protocols;
    info.client_ssl_ca_filepath = t->ca_file[0] ? t->ca_file : NULL;
    info.timeout_secs = 20;
    info.connect_timeout_secs = 20;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        free(s->cl);
        free(s);
        snprintf(err, errlen, "relay target: cannot create an lws context");
        return NULL;
    }
    s->t = t;
    s->first = first;
    s->count = count;
    s->cb = *cb;
    for (int k = 0; k < count; k++) {
        s->cl[k].s = s;
        s->cl[k].index = first + k;
    }
    return s;
}

static int client_start(bench_shard *s, rclient *c)
{
    char path[32];
    snprintf(path, sizeof path, s->t->fanout ? "/g/%d" : "/r/%d", c->index);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s->ctx;
    ci.address = s->t->url.host;
    ci.port = s->t->url.port;
    /* The CA is checked; the name is not (the certificate is for "localhost", the URL an IP). */
    ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                        (s->t->ca_file[0] ? 0 : LCCSCF_ALLOW_SELFSIGNED);
    ci.path = path;
    ci.host = s->t->url.host;
    ci.origin = s->t->url.host;
    ci.protocol = "relay";
    ci.local_protocol_name = "relay";
    ci.opaque_user_data = c;
    c->state = RC_CONNECTING;
    c->wsi = lws_client_connect_via_info(&ci);
    if (!c->wsi && c->state == RC_CONNECTING)
        c->state = RC_FAILED;
    return c->state == RC_FAILED ? -1 : 0;
}

static int relay_ready_count(bench_shard *s)
{
    int n = 0;
    for (int k = 0; k < s->started; k++)
        n += s->cl[k].state == RC_READY;
    return n;
}

static int relay_connect_step(bench_shard *s, int limit, int max_pending)
{
    int ready = 0, pending = 0;
    for (int k = 0; k < s->started; k++) {
        ready += s->cl[k].state == RC_READY;
        pending += s->cl[k].state == RC_CONNECTING;
    }
    if (limit > s->count)
        limit = s->count;
    while (s->started < limit && pending < max_pending) {
        if (client_start(s, &s->cl[s->started++]) == 0)
            pending++;
    }
    return ready;
}

static int relay_open_peers(bench_shard *s, char *err, size_t errlen)
{
    return relay_ready_count(s);
}

static int relay_can_send(bench_shard *s, int client)
{
    int k = client - s->first;
    if (s->t->fanout && client != 0)
        return 0;
    return k >= 0 && k < s->count && s->cl[k].state == RC_READY;
}

static int relay_send(bench_shard *s, int client, const char *payload, size_t len)
{
    int k = client - s->first;
    if (k < 0 || k >= s->count || s->cl[k].state != RC_READY)
        return 1;
    rclient *c = &s->cl[k];
    rframe *f = malloc(sizeof *f + LWS_PRE + len);
    if (!f)
        return 2;
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, payload, len);
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    lws_callback_on_writable(c->wsi);
    return ack_list_add(&s->acks, client) == 0 ? 0 : 2;
}

static void wake_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;                   /* firing ends lws_service's wait: that is all */
}

/* lws 4.1 ignores lws_service's timeout; a scheduled timer bounds the wait instead. */
static void relay_poll(bench_shard *s, int timeout_ms)
{
    for (size_t i = 0; i < s->acks.len; i++)
        s->cb.on_ack(s->cb.ud, s->acks.client[i], 0, NULL, 0);
    s->acks.len = 0;
    if (timeout_ms > 0)
        lws_sul_schedule(s->ctx, 0, &s->wake, wake_cb, (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    lws_service(s->ctx, timeout_ms > 0 ? 0 : -1);
    lws_sul_cancel(&s->wake);
}

static int relay_counters(bench_shard *s, const char **names, uint64_t *values, int max)
{
    if (max < 1)
        return 0;
    names[0] = "disconnects";
    values[0] = s->disconnects;
    return 1;
}

static const char *relay_code_name(int code)
{
    return code == 1 ? "not_connected" : code == 2 ? "out_of_memory" : "error";
}

static void relay_shard_free(bench_shard *s)
{
    if (!s)
        return;
    /* Destroying the context closes the connections; their callbacks must not find a
     * client any more. */
    for (int k = 0; k < s->started; k++)
        if (s->cl[k].wsi)
            lws_set_opaque_user_data(s->cl[k].wsi, NULL);
    lws_context_destroy(s->ctx);
    for (int k = 0; k < s->count; k++) {
        free_frames(&s->cl[k]);
        free(s->cl[k].in);
    }
    ack_list_free(&s->acks);
    free(s->cl);
    free(s);
}

const bench_target_ops bench_target_relay = {
    .name = "relay",
    .create = relay_create,
    .shard_new = relay_shard_new,
    .connect_step = relay_connect_step,
    .open_peers = relay_open_peers,
    .can_send = relay_can_send,
    .send = relay_send,
    .poll = relay_poll,
    .ready_count = relay_ready_count,
    .shard_free = relay_shard_free,
    .target_free = relay_target_free,
    .counters = relay_counters,
    .code_name = relay_code_name,
};
