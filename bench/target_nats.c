/*
 * target_nats.c: a NATS server (core publish/subscribe, no JetStream) as a parley-bench
 * target (see target.h), through the NATS C client (libnats).
 *
 * Client i has its own connection, subscribes to "chat.<run>.<i>" and publishes to
 * "chat.<run>.<i^1>" (fan-out mode: every client but 0 subscribes to "room.<run>", where
 * client 0 publishes). Core NATS stores nothing and acknowledges nothing: a message is
 * "acknowledged" to the driver at the shard's next poll after the library accepted it (the
 * ack latency is therefore not measured: no payload is passed). Loss is still counted
 * (acknowledged - delivered), e.g. a slow consumer whose pending limit overflowed.
 *
 * Threads: libnats runs its own reader and flusher threads per connection and delivers
 * messages on its global delivery pool. Those callbacks only copy the message into the
 * shard's inbox (mutex + condition variable); poll(), on the shard's thread, waits on the
 * inbox and calls the driver's on_deliver there, as target.h requires.
 *
 * Memory: the shard owns its connections, subscriptions and the inbox's copies.
 */
#include "target.h"

#include "peerutil.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct nclient {
    natsConnection *nc;
    natsSubscription *sub;
    struct bench_shard *s;
    int index;
    int ready;
    char subj_peer[64];
} nclient;

typedef struct {
    int client;
    size_t len;
    char *data;                   /* malloc'd, NUL-terminated */
} inbox_msg;

struct bench_target {
    char url[256];
    char ca_file[512];
    char run_id[16];
    int n_clients;
    int tls;
    int fanout;
    struct bench_shard *retired;  /* freed shards, kept until libnats' threads are gone */
};

struct bench_shard {
    bench_target *t;
    int first, count, started;
    nclient *cl;
    bench_callbacks cb;
    ack_list acks;                /* sends to "acknowledge" at the next poll */
    pthread_mutex_t lock;         /* guards inbox, filled by libnats' delivery thread */
    pthread_cond_t cond;
    inbox_msg *inbox, *work;      /* work: the batch being delivered on the shard thread */
    size_t inbox_len, inbox_cap, work_cap;
    uint64_t connect_errors, inbox_dropped;
    char last_error[160];
    struct bench_shard *next_retired;
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static int lib_users;

static bench_target *nats_create(const bench_target_config *cfg, char *err, size_t errlen)
{
    bench_url u;
    if (bench_url_parse(cfg->server_url, 4222, &u) != 0 ||
        (strcmp(u.scheme, "nats") && strcmp(u.scheme, "tls"))) {
        snprintf(err, errlen, "nats target: --server must be nats://HOST:PORT or "
                              "tls://HOST:PORT");
        return NULL;
    }
    bench_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->tls = !strcmp(u.scheme, "tls");
    if (t->tls && !cfg->ca_file) {
        snprintf(err, errlen, "nats target: tls:// needs --ca");
        free(t);
        return NULL;
    }
    snprintf(t->url, sizeof t->url, "%s", cfg->server_url);
    snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    snprintf(t->run_id, sizeof t->run_id, "%s", cfg->run_id);
    t->n_clients = cfg->n_clients;
    t->fanout = cfg->fanout;
    pthread_mutex_lock(&lib_lock);
    natsStatus st = lib_users++ == 0 ? nats_Open(-1) : NATS_OK;
    pthread_mutex_unlock(&lib_lock);
    if (st != NATS_OK) {
        snprintf(err, errlen, "nats_Open: %s", natsStatus_GetText(st));
        free(t);
        return NULL;
    }
    return t;
}

static void shard_release(bench_shard *s);

static void nats_target_free(bench_target *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&lib_lock);
    if (--lib_users == 0)
        nats_CloseAndWait(2000);
    pthread_mutex_unlock(&lib_lock);
    while (t->retired) {
        bench_shard *s = t->retired;
        t->retired = s->next_retired;
        shard_release(s);
    }
    free(t);
}

/* On libnats' delivery thread: copy and hand over to the shard's thread. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    nclient *c = closure;
    bench_shard *s = c->s;
    int len = natsMsg_GetDataLength(msg);
    char *copy = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (copy) {
        memcpy(copy, natsMsg_GetData(msg), (size_t)len);
        copy[len] = '\0';
    }
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&s->lock);
    if (copy && s->inbox_len == s->inbox_cap) {
        size_t cap = s->inbox_cap ? s->inbox_cap * 2 : 1024;
        inbox_msg *n = realloc(s->inbox, cap * sizeof *n);
        if (n) {
            s->inbox = n;
            s->inbox_cap = cap;
        }
    }
    if (copy && s->inbox_len < s->inbox_cap) {
        s->inbox[s->inbox_len++] = (inbox_msg){ c->index, (size_t)len, copy };
        pthread_cond_signal(&s->cond);
    } else {
        free(copy);
        s->inbox_dropped++;
    }
    pthread_mutex_unlock(&s->lock);
}

static bench_shard *nats_shard_new(bench_target *t, int first, int count,
                                   const bench_callbacks *cb, char *err, size_t errlen)
{
    bench_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->cl = calloc((size_t)count, sizeof *s->cl))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->t = t;
    s->first = first;
    s->count = count;
    s->cb = *cb;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int k = 0; k < count; k++) {
        s->cl[k].s = s;
        s->cl[k].index = first + k;
        if (t->fanout)
            snprintf(s->cl[k].subj_peer, sizeof s->cl[k].subj_peer, "room.%s", t->run_id);
        else
            snprintf(s->cl[k].subj_peer, sizeof s->cl[k].subj_peer, "chat.%s.%d", t->run_id,
                     (first + k) ^ 1);
    }
    return s;
}

static natsStatus make_options(const bench_target *t, int index, natsOptions **out)
{
    natsOptions *o = NULL;
    char name[48];
    snprintf(name, sizeof name, "b%s_%d", t->run_id, index);
    natsStatus st = natsOptions_Create(&o);
    if (st == NATS_OK) st = natsOptions_SetURL(o, t->url);
    if (st == NATS_OK) st = natsOptions_SetName(o, name);
    if (st == NATS_OK) st = natsOptions_SetAllowReconnect(o, false);
    if (st == NATS_OK) st = natsOptions_SetTimeout(o, 10000);
    /* One shared delivery pool instead of a thread per subscription. */
    if (st == NATS_OK) st = natsOptions_UseGlobalMessageDelivery(o, true);
    if (st == NATS_OK && t->tls) st = natsOptions_SetSecure(o, true);
    if (st == NATS_OK && t->tls) st = natsOptions_LoadCATrustedCertificates(o, t->ca_file);
    if (st != NATS_OK) {
        natsOptions_Destroy(o);
        return st;
    }
    *out = o;
    return NATS_OK;
}

/* Connect, subscribe, and flush (a round trip) so the subscription is in place on the
 * server before anyone sends. Blocking; loopback makes it quick. */
static int client_start(bench_shard *s, nclient *c)
{
    natsOptions *o = NULL;
    char subj[64];
    int subscribe = !(s->t->fanout && c->index == 0);   /* a fan-out's sender only sends */
    if (s->t->fanout)
        snprintf(subj, sizeof subj, "room.%s", s->t->run_id);
    else
        snprintf(subj, sizeof subj, "chat.%s.%d", s->t->run_id, c->index);
    natsStatus st = make_options(s->t, c->index, &o);
    if (st == NATS_OK) st = natsConnection_Connect(&c->nc, o);
    natsOptions_Destroy(o);
    if (st == NATS_OK && subscribe)
        st = natsConnection_Subscribe(&c->sub, c->nc, subj, on_msg, c);
    /* The driver, not the library, should see overload: no client-side drops. */
    if (st == NATS_OK && subscribe) st = natsSubscription_SetPendingLimits(c->sub, -1, -1);
    if (st == NATS_OK) st = natsConnection_FlushTimeout(c->nc, 10000);
    if (st != NATS_OK) {
        s->connect_errors++;
        snprintf(s->last_error, sizeof s->last_error, "%s", natsStatus_GetText(st));
        return -1;
    }
    c->ready = 1;
    return 0;
}

static int nats_ready_count(bench_shard *s)
{
    int n = 0;
    for (int k = 0; k < s->started; k++)
        n += s->cl[k].ready && natsConnection_Status(s->cl[k].nc) == NATS_CONN_STATUS_CONNECTED;
    return n;
}

static int nats_connect_step(bench_shard *s, int limit, int max_pending)
{
    if (limit > s->count)
        limit = s->count;
    for (int now = 0; s->started < limit && now < 16; now++)
        client_start(s, &s->cl[s->started++]);
    return nats_ready_count(s);
}

static int nats_open_peers(bench_shard *s, char *err, size_t errlen)
{
    if (s->last_error[0])
        snprintf(err, errlen, "nats: %s", s->last_error);
    return nats_ready_count(s);
}

static int nats_can_send(bench_shard *s, int client)
{
    int k = client - s->first;
    if (s->t->fanout && client != 0)
        return 0;
    return k >= 0 && k < s->count && s->cl[k].ready;
}

static int nats_send(bench_shard *s, int client, const char *payload, size_t len)
{
    int k = client - s->first;
    if (k < 0 || k >= s->count || !s->cl[k].ready)
        return NATS_CONNECTION_CLOSED;
    natsStatus st = natsConnection_Publish(s->cl[k].nc, s->cl[k].subj_peer, payload, (int)len);
    if (st != NATS_OK)
        return (int)st;
    return ack_list_add(&s->acks, client) == 0 ? 0 : NATS_NO_MEMORY;
}

/* Waits up to timeout_ms for the inbox, then delivers its batch on this thread. */
static void nats_poll(bench_shard *s, int timeout_ms)
{
    for (size_t i = 0; i < s->acks.len; i++)
        s->cb.on_ack(s->cb.ud, s->acks.client[i], 0, NULL, 0);
    s->acks.len = 0;
    pthread_mutex_lock(&s->lock);
    if (s->inbox_len == 0 && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)timeout_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    /* Swap buffers so the delivery thread can keep appending while we work. */
    inbox_msg *batch = s->inbox;
    size_t n = s->inbox_len;
    s->inbox = s->work;
    size_t cap = s->inbox_cap;
    s->inbox_cap = s->work_cap;
    s->inbox_len = 0;
    s->work = batch;
    s->work_cap = cap;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        s->cb.on_deliver(s->cb.ud, batch[i].client, batch[i].data, batch[i].len);
        free(batch[i].data);
    }
}

static int nats_counters(bench_shard *s, const char **names, uint64_t *values, int max)
{
    if (max < 2)
        return 0;
    uint64_t dropped = 0;
    for (int k = 0; k < s->started; k++) {
        int64_t d = 0;
        if (s->cl[k].sub && natsSubscription_GetDropped(s->cl[k].sub, &d) == NATS_OK && d > 0)
            dropped += (uint64_t)d;
    }
    names[0] = "connect_errors";
    values[0] = s->connect_errors;
    names[1] = "dropped_by_client";
    values[1] = dropped + s->inbox_dropped;
    return 2;
}

/* Closes the shard's connections. Its memory stays until nats_target_free, after
 * nats_CloseAndWait: a message already handed to libnats' delivery pool may still reach
 * on_msg (and the shard's inbox) after its connection closed. */
static void nats_shard_free(bench_shard *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->started; k++) {
        if (s->cl[k].sub)
            natsSubscription_Unsubscribe(s->cl[k].sub);
        if (s->cl[k].nc)
            natsConnection_Close(s->cl[k].nc);
        natsSubscription_Destroy(s->cl[k].sub);
        natsConnection_Destroy(s->cl[k].nc);
        s->cl[k].sub = NULL;
        s->cl[k].nc = NULL;
    }
    s->next_retired = s->t->retired;
    s->t->retired = s;
}

static void shard_release(bench_shard *s)
{
    for (size_t i = 0; i < s->inbox_len; i++)
        free(s->inbox[i].data);
    free(s->inbox);
    free(s->work);
    ack_list_free(&s->acks);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->cl);
    free(s);
}

static const char *nats_code_name(int code)
{
    return natsStatus_GetText((natsStatus)code);
}

const bench_target_ops bench_target_nats = {
    .name = "nats",
    .create = nats_create,
    .shard_new = nats_shard_new,
    .connect_step = nats_connect_step,
    .open_peers = nats_open_peers,
    .can_send = nats_can_send,
    .send = nats_send,
    .poll = nats_poll,
    .ready_count = nats_ready_count,
    .shard_free = nats_shard_free,
    .target_free = nats_target_free,
    .counters = nats_counters,
    .code_name = nats_code_name,
};
