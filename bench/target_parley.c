/*
 * target_parley.c: Parley as a parley-bench target (see target.h), built only on libparley's
 * public API (include/parley.h).
 *
 * Accounts are registered once per run by a few threads, each with its own blocking client
 * (the server's cost is Argon2id, which it runs on worker threads). Only the 32-byte session
 * tokens are kept; the measured clients are ephemeral clients on the shard's shared
 * parley_loop that resume those sessions with parley_connect_async, so no profile touches the
 * disk and no password is hashed during the run. Each client opens the private chat with its
 * peer ("@bench_<run>_<i^1>"); messages travel with parley_send_async and arrive through the
 * live-update handler. In fan-out mode client 0 creates one group with every other account
 * (up to the server's 1,000 members) once, at create time, and sends there.
 */
#include "target.h"

#include "parley.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 30000

typedef struct pclient {
    parley_client *c;
    struct bench_shard *shard;
    int index;                    /* global client index */
    int64_t chat_id;              /* private chat with the peer; 0 until open_peers */
} pclient;

struct bench_target {
    char url[256];
    char ca_file[512];
    char run_id[16];
    int n_clients;
    int parallel;
    int verbose;
    int fanout;
    int64_t group_id;             /* fan-out: the group of all clients */
    uint8_t (*tokens)[32];        /* session token of each client's account */
};

struct bench_shard {
    bench_target *t;
    parley_loop *loop;
    int first, count;
    int started;                  /* clients [0, started) were asked to connect */
    uint64_t own_echoes;          /* updates carrying the client's own message */
    pclient *cl;
    bench_callbacks cb;
};

static void username_of(const bench_target *t, int i, char *out, size_t outlen)
{
    snprintf(out, outlen, "bench_%s_%d", t->run_id, i);
}

static void password_of(const bench_target *t, char *out, size_t outlen)
{
    snprintf(out, outlen, "bench-password-%s", t->run_id);
}

static parley_options client_options(const bench_target *t)
{
    parley_options o = {0};
    o.server_url = t->url;
    o.ca_file = t->ca_file[0] ? t->ca_file : NULL;
    o.device_name = "parley-bench";
    o.client_name = "parley-bench/" PARLEY_VERSION;
    o.timeout_ms = CONNECT_TIMEOUT_MS;
    o.ephemeral = 1;
    return o;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- registration ------------------------------------------------------------------------ */

typedef struct {
    bench_target *t;
    atomic_int next;              /* next client index to register */
    atomic_int done;
    atomic_int failed;            /* set once; every worker then stops */
    pthread_mutex_t lock;         /* guards err */
    char err[300];
} reg_job;

static void reg_fail(reg_job *j, const char *user, const parley_error *e)
{
    pthread_mutex_lock(&j->lock);
    if (!atomic_load(&j->failed))
        snprintf(j->err, sizeof j->err, "registering %s: %s (%s)", user,
                 parley_code_name(e->code), e->message);
    atomic_store(&j->failed, 1);
    pthread_mutex_unlock(&j->lock);
}

/* One account: register, or log in if an earlier attempt registered it but its answer was
 * lost. BUSY / FLOOD_WAIT are the server protecting its Argon2 workers: wait and retry. */
static int register_one(reg_job *j, parley_loop *loop, int i)
{
    bench_target *t = j->t;
    char user[48], pass[48];
    username_of(t, i, user, sizeof user);
    password_of(t, pass, sizeof pass);
    parley_options o = client_options(t);
    parley_error e;
    for (int attempt = 0; attempt < 50; attempt++) {
        parley_client *c = parley_open(loop, &o, &e);
        if (!c) {
            reg_fail(j, user, &e);
            return -1;
        }
        int rc = parley_register(c, user, pass, &e);
        if (rc == -PARLEY_E_USERNAME_TAKEN)
            rc = parley_login(c, user, pass, &e);
        if (rc == 0)
            rc = parley_session_token(c, t->tokens[i]) == 0 ? 0 : -PARLEY_E_NO_SESSION;
        parley_close(c);
        if (rc == 0)
            return 0;
        if (rc != -PARLEY_E_BUSY && rc != -PARLEY_E_FLOOD_WAIT && rc != -PARLEY_E_CONNECT &&
            rc != -PARLEY_E_TIMEOUT) {
            reg_fail(j, user, &e);
            return -1;
        }
        unsigned wait = e.retry_after ? e.retry_after * 1000u : 100u;
        sleep_ms(wait > 5000 ? 5000 : wait);
    }
    reg_fail(j, user, &e);
    return -1;
}

/* One loop per worker for all its registrations: a client on a private loop would build a
 * new TLS context (and parse the CA file) for every account, which costs the bench more CPU
 * than the registration costs the server. */
static void *reg_worker(void *arg)
{
    reg_job *j = arg;
    parley_error e;
    parley_loop *loop = parley_loop_new(&e);
    if (!loop) {
        reg_fail(j, "(loop)", &e);
        return NULL;
    }
    for (;;) {
        if (atomic_load(&j->failed))
            break;
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->t->n_clients)
            break;
        if (register_one(j, loop, i) != 0)
            break;
        atomic_fetch_add(&j->done, 1);
    }
    parley_loop_free(loop);
    return NULL;
}

static int register_all(bench_target *t, char *err, size_t errlen)
{
    reg_job j = { .t = t };
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    int n = t->parallel < 1 ? 1 : t->parallel > 64 ? 64 : t->parallel;
    if (n > t->n_clients)
        n = t->n_clients;
    pthread_t th[64];
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, reg_worker, &j) != 0)
            break;
    if (started == 0) {
        reg_worker(&j);
    } else {
        /* The main thread only reports progress while the workers register: on a terminal
         * one line rewritten in place, in a log file a line every 10%. */
        int tty = isatty(2), last = -1;
        while (atomic_load(&j.done) < t->n_clients && !atomic_load(&j.failed)) {
            int d = atomic_load(&j.done);
            int step = tty ? d : d * 10 / t->n_clients;
            if (t->verbose && step != last) {
                fprintf(stderr, tty ? "\rregistering accounts: %d/%d" :
                                      "registering accounts: %d/%d\n", d, t->n_clients);
                last = step;
            }
            sleep_ms(100);
        }
    }
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    if (t->verbose)
        fprintf(stderr, "%sregistering accounts: %d/%d\n", isatty(2) ? "\r" : "",
                atomic_load(&j.done), t->n_clients);
    pthread_mutex_destroy(&j.lock);
    if (atomic_load(&j.failed)) {
        snprintf(err, errlen, "%s", j.err);
        return -1;
    }
    return 0;
}

/* Fan-out: one group, created by client 0 with every other account as a member. */
static int make_group(bench_target *t, char *err, size_t errlen)
{
    parley_error e = {0};
    parley_options o = client_options(t);
    parley_loop *loop = parley_loop_new(&e);
    parley_client *c = loop ? parley_open(loop, &o, &e) : NULL;
    size_t n = (size_t)t->n_clients - 1;
    char (*names)[48] = calloc(n ? n : 1, sizeof *names);
    const char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    int rc = -1;
    if (c && names && ptrs && parley_set_session_token(c, t->tokens[0]) == 0 &&
        parley_connect(c, &e) == 0) {
        for (size_t i = 0; i < n; i++) {
            username_of(t, (int)i + 1, names[i], sizeof names[i]);
            ptrs[i] = names[i];
        }
        parley_chat *chat = NULL;
        if (parley_group_create(c, "bench fan-out", ptrs, n, &chat, &e) == 0 && chat) {
            t->group_id = chat->id;
            rc = 0;
        }
        parley_chat_free(chat);
    }
    if (rc != 0)
        snprintf(err, errlen, "creating the fan-out group: %s (%s)", parley_code_name(e.code),
                 e.message);
    free(ptrs);
    free(names);
    if (c)
        parley_close(c);
    if (loop)
        parley_loop_free(loop);
    return rc;
}

static bench_target *parley_create(const bench_target_config *cfg, char *err, size_t errlen)
{
    if (cfg->n_clients <= 0 || !cfg->server_url || !cfg->run_id ||
        strlen(cfg->run_id) > 8) {
        snprintf(err, errlen, "bad target configuration");
        return NULL;
    }
    bench_target *t = calloc(1, sizeof *t);
    if (!t || !(t->tokens = calloc((size_t)cfg->n_clients, sizeof *t->tokens))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->url, sizeof t->url, "%s", cfg->server_url);
    snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    snprintf(t->run_id, sizeof t->run_id, "%s", cfg->run_id);
    t->n_clients = cfg->n_clients;
    t->parallel = cfg->parallel;
    t->verbose = cfg->verbose;
    t->fanout = cfg->fanout;
    if (register_all(t, err, errlen) != 0 || (t->fanout && make_group(t, err, errlen) != 0)) {
        free(t->tokens);
        free(t);
        return NULL;
    }
    return t;
}

static void parley_target_free(bench_target *t)
{
    if (!t)
        return;
    free(t->tokens);
    free(t);
}

/* ---- shards ------------------------------------------------------------------------------ */

static void on_update(parley_client *c, void *ud, const parley_update *u)
{
    pclient *pc = ud;
    if (u->kind != PARLEY_UPDATE_MESSAGE || !u->message || !u->message->text)
        return;
    if (pc->chat_id == 0 || u->message->chat_id != pc->chat_id)
        return;
    /* The account's own sends reach its update handler when the library fetches a
     * difference (after it saw a gap in pts): they are not deliveries, but they are work. */
    const parley_user *me = parley_me(c);
    if (me && u->message->from_user == me->id) {
        pc->shard->own_echoes++;
        return;
    }
    const bench_callbacks *cb = &pc->shard->cb;
    cb->on_deliver(cb->ud, pc->index, u->message->text, strlen(u->message->text));
}

static void on_sent(parley_client *c, void *ud, int code, const parley_message *msg)
{
    pclient *pc = ud;
    const bench_callbacks *cb = &pc->shard->cb;
    if (code < 0)
        code = -code;
    if (code == 0 && msg && msg->text)
        cb->on_ack(cb->ud, pc->index, 0, msg->text, strlen(msg->text));
    else
        cb->on_ack(cb->ud, pc->index, code ? code : PARLEY_E_PROTOCOL, NULL, 0);
}

static bench_shard *parley_shard_new(bench_target *t, int first, int count,
                                     const bench_callbacks *cb, char *err, size_t errlen)
{
    if (first < 0 || count <= 0 || first + count > t->n_clients) {
        snprintf(err, errlen, "bad shard range");
        return NULL;
    }
    bench_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->cl = calloc((size_t)count, sizeof *s->cl))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    parley_error e;
    s->loop = parley_loop_new(&e);
    if (!s->loop) {
        snprintf(err, errlen, "parley_loop_new: %s", e.message);
        free(s->cl);
        free(s);
        return NULL;
    }
    s->t = t;
    s->first = first;
    s->count = count;
    s->cb = *cb;
    for (int k = 0; k < count; k++) {
        s->cl[k].shard = s;
        s->cl[k].index = first + k;
    }
    return s;
}

static int parley_ready_count(bench_shard *s)
{
    int n = 0;
    for (int k = 0; k < s->started; k++)
        if (s->cl[k].c && parley_is_ready(s->cl[k].c))
            n++;
    return n;
}

/* Opens and starts connecting clients while fewer than max_pending are mid-handshake, so
 * thousands of TLS handshakes do not all hit the server in the same instant. A client whose
 * open or start fails stays without a connection and is simply never ready. */
static int parley_connect_step(bench_shard *s, int limit, int max_pending)
{
    int ready = parley_ready_count(s);
    parley_options o = client_options(s->t);
    if (limit > s->count)
        limit = s->count;
    while (s->started < limit && s->started - ready < max_pending) {
        pclient *pc = &s->cl[s->started++];
        parley_error e;
        pc->c = parley_open(s->loop, &o, &e);
        if (!pc->c)
            continue;
        parley_set_update_handler(pc->c, on_update, pc);
        if (parley_set_session_token(pc->c, s->t->tokens[pc->index]) != 0 ||
            parley_connect_async(pc->c, &e) != 0) {
            parley_close(pc->c);
            pc->c = NULL;
        }
    }
    return ready;
}

static int parley_open_peers(bench_shard *s, char *err, size_t errlen)
{
    int ok = 0;
    for (int k = 0; k < s->count; k++) {
        pclient *pc = &s->cl[k];
        if (!pc->c || !parley_is_ready(pc->c))
            continue;
        if (s->t->fanout) {
            pc->chat_id = s->t->group_id;
            ok++;
            continue;
        }
        char peer[64];
        peer[0] = '@';
        username_of(s->t, pc->index ^ 1, peer + 1, sizeof peer - 1);
        parley_error e;
        if (parley_resolve_chat(pc->c, peer, &pc->chat_id, &e) != 0) {
            snprintf(err, errlen, "opening chat %s: %s (%s)", peer, parley_code_name(e.code),
                     e.message);
            pc->chat_id = 0;
            continue;
        }
        ok++;
    }
    return ok;
}

static int parley_can_send(bench_shard *s, int client)
{
    int k = client - s->first;
    if (s->t->fanout && client != 0)
        return 0;
    return k >= 0 && k < s->count && s->cl[k].c && s->cl[k].chat_id != 0 &&
           parley_is_ready(s->cl[k].c);
}

static int parley_target_send(bench_shard *s, int client, const char *payload, size_t len)
{
    int k = client - s->first;
    if (k < 0 || k >= s->count || !s->cl[k].c || s->cl[k].chat_id == 0)
        return PARLEY_E_ARGUMENT;
    parley_error e;
    int rc = parley_send_async(s->cl[k].c, s->cl[k].chat_id, payload, NULL, on_sent, &s->cl[k],
                               &e);
    return rc < 0 ? -rc : rc;
}

static void parley_poll(bench_shard *s, int timeout_ms)
{
    parley_loop_run(s->loop, timeout_ms);
}

static int parley_counters(bench_shard *s, const char **names, uint64_t *values, int max)
{
    if (max < 1)
        return 0;
    names[0] = "own_messages_echoed";
    values[0] = s->own_echoes;
    return 1;
}

static void parley_shard_free(bench_shard *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->count; k++)
        if (s->cl[k].c)
            parley_close(s->cl[k].c);
    parley_loop_free(s->loop);
    free(s->cl);
    free(s);
}

const bench_target_ops bench_target_parley = {
    .name = "parley",
    .create = parley_create,
    .shard_new = parley_shard_new,
    .connect_step = parley_connect_step,
    .open_peers = parley_open_peers,
    .can_send = parley_can_send,
    .send = parley_target_send,
    .poll = parley_poll,
    .ready_count = parley_ready_count,
    .shard_free = parley_shard_free,
    .target_free = parley_target_free,
    .counters = parley_counters,
    .code_name = parley_code_name,
};
