/*
 * target_mqtt.c: an MQTT broker (Mosquitto) as a parley-bench target (see target.h), through
 * libmosquitto.
 *
 * Client i connects with a clean session as "b<run>_<i>", subscribes to "chat/<run>/<i>" at
 * QoS 1 and publishes its messages to "chat/<run>/<i^1>" at QoS 1. In fan-out mode every
 * client but 0 subscribes to "room/<run>" and client 0 publishes there. The acknowledgement is
 * the broker's PUBACK: the broker took the message (with persistence on, Mosquitto keeps it
 * in memory and snapshots to disk every autosave_interval: not durable before the ack). The
 * run id in topics and client ids keeps retained or queued messages of earlier runs out.
 *
 * All of a shard's clients share one poll() over their sockets, driving libmosquitto's
 * "external loop" calls (loop_read / loop_write / loop_misc), so one thread serves thousands
 * of connections the way the Parley target's single event loop does.
 *
 * Memory: the shard owns its clients' mosquitto handles and pending FIFOs.
 */
#include "target.h"

#include "peerutil.h"

#include <mosquitto.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MC_NONE, MC_CONNECTING, MC_READY, MC_FAILED };

typedef struct mclient {
    struct mosquitto *m;
    struct bench_shard *s;
    int index;                    /* global client index */
    int state;
    int sub_mid;
    char topic_peer[64];
    pending_fifo pending;         /* published, PUBACK not yet seen: (mid, payload head) */
} mclient;

struct bench_target {
    bench_url url;
    char ca_file[512];
    char run_id[16];
    int n_clients;
    int tls;
    int fanout;
};

struct bench_shard {
    bench_target *t;
    int first, count, started;
    mclient *cl;
    bench_callbacks cb;
    struct pollfd *pfd;
    int *pfd_client;              /* pfd[i] belongs to cl[pfd_client[i]] */
    char *buf;                    /* NUL-terminated copy of a received payload */
    size_t buflen;
    uint64_t last_misc_ns;
    uint64_t ack_mismatch, disconnects;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bench_target *mqtt_create(const bench_target_config *cfg, char *err, size_t errlen)
{
    pthread_once(&lib_once, lib_init);
    bench_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (bench_url_parse(cfg->server_url, 1883, &t->url) != 0 ||
        (strcmp(t->url.scheme, "mqtt") && strcmp(t->url.scheme, "mqtts"))) {
        snprintf(err, errlen, "mqtt target: --server must be mqtt://HOST:PORT or "
                              "mqtts://HOST:PORT, not %s", cfg->server_url ? cfg->server_url : "-");
        free(t);
        return NULL;
    }
    t->tls = !strcmp(t->url.scheme, "mqtts");
    if (t->tls && !cfg->ca_file) {
        snprintf(err, errlen, "mqtt target: mqtts:// needs --ca");
        free(t);
        return NULL;
    }
    snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    snprintf(t->run_id, sizeof t->run_id, "%s", cfg->run_id);
    t->n_clients = cfg->n_clients;
    t->fanout = cfg->fanout;
    return t;
}

static void mqtt_target_free(bench_target *t)
{
    free(t);
}

/* ---- libmosquitto callbacks (on the shard's thread, inside loop_read/loop_write) -------- */

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    mclient *c = ud;
    if (rc != 0) {
        c->state = MC_FAILED;
        return;
    }
    char topic[64];
    if (c->s->t->fanout && c->index == 0) {
        c->state = MC_READY;     /* the sender of a fan-out subscribes to nothing */
        return;
    }
    if (c->s->t->fanout)
        snprintf(topic, sizeof topic, "room/%s", c->s->t->run_id);
    else
        snprintf(topic, sizeof topic, "chat/%s/%d", c->s->t->run_id, c->index);
    if (mosquitto_subscribe(m, &c->sub_mid, topic, 1) != MOSQ_ERR_SUCCESS)
        c->state = MC_FAILED;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int qos_count,
                         const int *granted)
{
    mclient *c = ud;
    if (mid == c->sub_mid && c->state == MC_CONNECTING)
        c->state = qos_count >= 1 && granted[0] == 1 ? MC_READY : MC_FAILED;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    mclient *c = ud;
    bench_shard *s = c->s;
    if (!msg->payload || msg->payloadlen <= 0)
        return;
    size_t n = (size_t)msg->payloadlen;
    if (n + 1 > s->buflen) {
        char *b = realloc(s->buf, n + 1);
        if (!b)
            return;
        s->buf = b;
        s->buflen = n + 1;
    }
    memcpy(s->buf, msg->payload, n);
    s->buf[n] = '\0';
    s->cb.on_deliver(s->cb.ud, c->index, s->buf, n);
}

/* PUBACKs come back in publish order on one connection; a mid other than the oldest
 * pending one would mean the broker answered out of order (counted, then matched). */
static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    mclient *c = ud;
    bench_shard *s = c->s;
    uint32_t key;
    char hdr[PENDING_HDR];
    while (pending_pop(&c->pending, &key, hdr) == 0) {
        if (key == (uint32_t)mid) {
            s->cb.on_ack(s->cb.ud, c->index, 0, hdr, strlen(hdr));
            return;
        }
        s->ack_mismatch++;
        s->cb.on_ack(s->cb.ud, c->index, 0, NULL, 0);
    }
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    mclient *c = ud;
    if (c->state == MC_READY || c->state == MC_CONNECTING) {
        c->state = MC_FAILED;
        c->s->disconnects++;
    }
}

/* ---- shards ------------------------------------------------------------------------------ */

static bench_shard *mqtt_shard_new(bench_target *t, int first, int count,
                                   const bench_callbacks *cb, char *err, size_t errlen)
{
    bench_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->cl = calloc((size_t)count, sizeof *s->cl)) ||
        !(s->pfd = calloc((size_t)count, sizeof *s->pfd)) ||
        !(s->pfd_client = calloc((size_t)count, sizeof *s->pfd_client))) {
        if (s) {
            free(s->cl);
            free(s->pfd);
        }
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->t = t;
    s->first = first;
    s->count = count;
    s->cb = *cb;
    for (int k = 0; k < count; k++) {
        s->cl[k].s = s;
        s->cl[k].index = first + k;
        if (t->fanout)
            snprintf(s->cl[k].topic_peer, sizeof s->cl[k].topic_peer, "room/%s", t->run_id);
        else
            snprintf(s->cl[k].topic_peer, sizeof s->cl[k].topic_peer, "chat/%s/%d", t->run_id,
                     (first + k) ^ 1);
    }
    return s;
}

/* A new libmosquitto client, connected (TCP and, with mqtts, TLS) and with its CONNECT
 * sent; CONNACK and SUBACK arrive through poll(). -1 when it could not be started. */
static int client_start(bench_shard *s, mclient *c)
{
    bench_target *t = s->t;
    char id[48];
    snprintf(id, sizeof id, "b%s_%d", t->run_id, c->index);
    c->m = mosquitto_new(id, true, c);
    if (!c->m)
        return -1;
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    /* 0 = no client-side limit: the open-loop schedule, not the library, decides when a
     * message goes out (the broker still limits what it sends us unacknowledged). */
    mosquitto_max_inflight_messages_set(c->m, 0);
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_subscribe_callback_set(c->m, on_subscribe);
    mosquitto_message_callback_set(c->m, on_message);
    mosquitto_publish_callback_set(c->m, on_publish);
    mosquitto_disconnect_callback_set(c->m, on_disconnect);
    if (t->tls && mosquitto_tls_set(c->m, t->ca_file, NULL, NULL, NULL, NULL) !=
        MOSQ_ERR_SUCCESS)
        return -1;
    /* Keepalive 600 s: idle connections stay quiet during a memory measurement. */
    if (mosquitto_connect(c->m, t->url.host, t->url.port, 600) != MOSQ_ERR_SUCCESS)
        return -1;
    c->state = MC_CONNECTING;
    return 0;
}

static int mqtt_ready_count(bench_shard *s)
{
    int n = 0;
    for (int k = 0; k < s->started; k++)
        n += s->cl[k].state == MC_READY;
    return n;
}

static int mqtt_connect_step(bench_shard *s, int limit, int max_pending)
{
    int ready = 0, pending = 0;
    for (int k = 0; k < s->started; k++) {
        ready += s->cl[k].state == MC_READY;
        pending += s->cl[k].state == MC_CONNECTING;
    }
    if (limit > s->count)
        limit = s->count;
    /* mosquitto_connect blocks for the TCP (and TLS) handshake: a few per call keep the
     * shard's other sockets serviced while thousands connect. */
    for (int started_now = 0; s->started < limit && pending < max_pending && started_now < 32;
         started_now++) {
        mclient *c = &s->cl[s->started++];
        if (client_start(s, c) != 0) {
            c->state = MC_FAILED;
            continue;
        }
        pending++;
    }
    return ready;
}

static int mqtt_open_peers(bench_shard *s, char *err, size_t errlen)
{
    return mqtt_ready_count(s);  /* the peer's topic needs nothing opened */
}

static int mqtt_can_send(bench_shard *s, int client)
{
    int k = client - s->first;
    if (s->t->fanout && client != 0)
        return 0;
    return k >= 0 && k < s->count && s->cl[k].state == MC_READY;
}

static int mqtt_send(bench_shard *s, int client, const char *payload, size_t len)
{
    int k = client - s->first;
    if (k < 0 || k >= s->count || s->cl[k].state != MC_READY)
        return MOSQ_ERR_NO_CONN;
    mclient *c = &s->cl[k];
    int mid = 0;
    int rc = mosquitto_publish(c->m, &mid, c->topic_peer, (int)len, payload, 1, false);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc < 0 ? -rc : rc;
    if (pending_push(&c->pending, (uint32_t)mid, payload, len) != 0)
        return MOSQ_ERR_NOMEM;
    return 0;
}

/* One poll() over every live socket of the shard; then libmosquitto reads, writes and (once
 * a second) does its keepalive work. TLS may hold decrypted bytes poll() cannot see, so a
 * client with SSL_pending data is read too. */
static void mqtt_poll(bench_shard *s, int timeout_ms)
{
    int n = 0;
    for (int k = 0; k < s->started; k++) {
        mclient *c = &s->cl[k];
        if (c->state != MC_READY && c->state != MC_CONNECTING)
            continue;
        int fd = mosquitto_socket(c->m);
        if (fd < 0)
            continue;
        SSL *ssl = s->t->tls ? mosquitto_ssl_get(c->m) : NULL;
        if (ssl && SSL_pending(ssl) > 0)
            timeout_ms = 0;
        s->pfd[n].fd = fd;
        s->pfd[n].events = (short)(POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0));
        s->pfd[n].revents = 0;
        s->pfd_client[n++] = k;
    }
    if (n == 0) {
        struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        return;
    }
    if (poll(s->pfd, (nfds_t)n, timeout_ms) < 0)
        return;
    for (int i = 0; i < n; i++) {
        mclient *c = &s->cl[s->pfd_client[i]];
        SSL *ssl = s->t->tls ? mosquitto_ssl_get(c->m) : NULL;
        if ((s->pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) || (ssl && SSL_pending(ssl) > 0))
            mosquitto_loop_read(c->m, 1000);
        if ((s->pfd[i].revents & POLLOUT) && c->state != MC_FAILED)
            mosquitto_loop_write(c->m, 1000);
    }
    uint64_t now = now_ns();
    if (now - s->last_misc_ns > 1000000000ULL) {
        s->last_misc_ns = now;
        for (int k = 0; k < s->started; k++)
            if (s->cl[k].m && s->cl[k].state != MC_FAILED)
                mosquitto_loop_misc(s->cl[k].m);
    }
}

static int mqtt_counters(bench_shard *s, const char **names, uint64_t *values, int max)
{
    if (max < 2)
        return 0;
    names[0] = "puback_out_of_order";
    values[0] = s->ack_mismatch;
    names[1] = "disconnects";
    values[1] = s->disconnects;
    return 2;
}

static void mqtt_shard_free(bench_shard *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->count; k++) {
        if (s->cl[k].m) {
            if (s->cl[k].state == MC_READY)
                mosquitto_disconnect(s->cl[k].m);
            mosquitto_destroy(s->cl[k].m);
        }
        pending_free(&s->cl[k].pending);
    }
    free(s->cl);
    free(s->pfd);
    free(s->pfd_client);
    free(s->buf);
    free(s);
}

static const char *mqtt_code_name(int code)
{
    return mosquitto_strerror(code);
}

const bench_target_ops bench_target_mqtt = {
    .name = "mqtt",
    .create = mqtt_create,
    .shard_new = mqtt_shard_new,
    .connect_step = mqtt_connect_step,
    .open_peers = mqtt_open_peers,
    .can_send = mqtt_can_send,
    .send = mqtt_send,
    .poll = mqtt_poll,
    .ready_count = mqtt_ready_count,
    .shard_free = mqtt_shard_free,
    .target_free = mqtt_target_free,
    .counters = mqtt_counters,
    .code_name = mqtt_code_name,
};
