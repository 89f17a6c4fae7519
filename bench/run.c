/*
 * run.c: the measurement driver of parley-bench (see run.h).
 *
 * Load mode is open loop: each worker owns a share of the clients and a share of the target
 * rate, and message k of a worker has the INTENDED send time t0 + k/rate. The message text
 * carries that time (ns after t0) and a per-sender sequence number, so the receiving worker
 * computes latency = arrival - intended. When the sender falls behind (server slow, bench
 * saturated, in-flight cap reached) the delay still counts, which is the correction for
 * coordinated omission: a closed-loop tool would silently send less and report the latency
 * of the messages it managed to send.
 *
 * Only messages whose intended time falls in the measured window (after warm-up) enter the
 * latency histograms; throughput counts deliveries that arrive inside the window.
 */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Global because a signal handler can only reach globals; read by every thread. */
volatile sig_atomic_t bench_stop;

enum { PH_CONNECTED = 1, PH_RUN = 2, PH_FULL = 2, PH_END = 3 };

typedef struct {
    const bench_target_ops *ops;
    const bench_opts *o;
    atomic_int cmd;              /* the phase the main thread lets workers enter */
    /* Set by the main thread before it stores cmd = PH_RUN; the atomic store/load pair
     * publishes them to the workers. Absolute CLOCK_MONOTONIC ns. */
    uint64_t t0, warm_end, win_end, send_end, grace_end;
    uint64_t warm_ns, win_ns;    /* window as offsets from t0 */
    uint64_t slice_ns;           /* --interval: each slice's length, or 0 */
    int n_slices;                /* --interval: how many (the last takes any remainder) */
    int total_senders;
    uint64_t receivers;          /* deliveries per message: 1, or the group's other members */
    atomic_ullong sent, acked, acked_ok, delivered; /* across workers, for the grace period */
    atomic_int senders_done;     /* workers that sent everything they scheduled */
    int n_workers;
    int idle_warm_pct;
} shared;

typedef struct {
    shared *sh;
    int id;
    bench_shard *shard;
    int first, count;
    pthread_t th;
    int started;
    atomic_int done_phase;
    int ready, paired;
    char err[256];

    int *senders;                /* local indexes of clients that can send */
    int n_senders;
    uint32_t *send_seq, *recv_next; /* per local client */
    char *buf;
    long inflight;

    uint64_t scheduled, sent, unsent, send_failed, acked, ack_errors, delivered, out_of_order;
    uint64_t duplicates;
    uint64_t window_sent, window_delivered;
    uint64_t errors[BENCH_MAX_CODES];
    bench_hist lat, ack, lag;
    bench_hist *slices;          /* --interval: one latency histogram per slice, or NULL */
    int n_slices;
} worker;

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };
    nanosleep(&ts, NULL);
}

/* Sleeps until the absolute time `until`, waking early if the run is interrupted. */
static void sleep_until(uint64_t until)
{
    for (;;) {
        uint64_t now = mono_ns();
        if (now >= until || bench_stop)
            return;
        uint64_t d = until - now;
        sleep_ns(d > 50000000ULL ? 50000000ULL : d);
    }
}

static void count_error(worker *w, int code)
{
    if (code < 0)
        code = -code;
    w->errors[code < BENCH_MAX_CODES ? code : BENCH_MAX_CODES - 1]++;
}

/* Payload: "<intended ns after t0> <sequence> " padded with 'x' to the message size. */
static int parse_payload(const char *p, size_t len, uint64_t *rel, uint32_t *seq)
{
    if (!p || len == 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (errno || end == p || *end != ' ')
        return -1;
    const char *q = end + 1;
    unsigned long b = strtoul(q, &end, 10);
    if (errno || end == q)
        return -1;
    *rel = a;
    *seq = (uint32_t)b;
    return 0;
}

static void on_deliver(void *ud, int client, const char *payload, size_t len)
{
    worker *w = ud;
    shared *sh = w->sh;
    uint64_t now = mono_ns(), rel;
    uint32_t seq;
    if (parse_payload(payload, len, &rel, &seq) != 0)
        return;                  /* not ours (e.g. a message from an earlier run) */
    w->delivered++;
    atomic_fetch_add_explicit(&sh->delivered, 1, memory_order_relaxed);
    uint64_t intended = sh->t0 + rel;
    if (rel >= sh->warm_ns && rel < sh->win_ns) {
        uint64_t d = now > intended ? now - intended : 0;
        hist_record(&w->lat, d);
        if (w->slices) {
            uint64_t i = (rel - sh->warm_ns) / sh->slice_ns;
            hist_record(&w->slices[i < (uint64_t)w->n_slices ? i : (uint64_t)w->n_slices - 1], d);
        }
    }
    if (now >= sh->warm_end && now < sh->win_end)
        w->window_delivered++;
    int k = client - w->first;
    if (k >= 0 && k < w->count) {
        if (seq < w->recv_next[k])
            w->duplicates++;     /* or late after a gap; either way not a new message */
        else if (seq > w->recv_next[k])
            w->out_of_order++;   /* skipped ahead: the missing ones come later or never */
        if (seq >= w->recv_next[k])
            w->recv_next[k] = seq + 1;
    }
}

static void on_ack(void *ud, int client, int code, const char *payload, size_t len)
{
    worker *w = ud;
    shared *sh = w->sh;
    w->inflight--;
    if (code != 0) {
        w->ack_errors++;
        count_error(w, code);
        atomic_fetch_add_explicit(&sh->acked, 1, memory_order_relaxed);
        return;
    }
    w->acked++;
    /* acked_ok before acked: the grace check reads acked then acked_ok, so it never sees a
     * finished send whose delivery it does not wait for. */
    atomic_fetch_add_explicit(&sh->acked_ok, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&sh->acked, 1, memory_order_seq_cst);
    uint64_t rel;
    uint32_t seq;
    if (parse_payload(payload, len, &rel, &seq) == 0 && rel >= sh->warm_ns && rel < sh->win_ns) {
        uint64_t now = mono_ns(), intended = sh->t0 + rel;
        hist_record(&w->ack, now > intended ? now - intended : 0);
    }
}

/* Connects the shard's first `limit` clients (bounded in time) and returns how many are
 * ready. */
static int connect_clients(worker *w, int limit)
{
    const bench_target_ops *ops = w->sh->ops;
    const bench_opts *o = w->sh->o;
    uint64_t deadline = mono_ns() + (60000ULL + (uint64_t)limit * 10ULL) * 1000000ULL;
    int ready = 0;
    while (!bench_stop && mono_ns() < deadline) {
        ready = ops->connect_step(w->shard, limit, o->max_pending);
        if (ready >= limit)
            break;
        ops->poll(w->shard, 10);
    }
    return ready;
}

/* Polls the shard until the main thread moves to phase `ph`, so connections keep being
 * serviced (pings, TLS) while the main thread samples. */
static void wait_phase(worker *w, int ph)
{
    while (atomic_load(&w->sh->cmd) < ph && !bench_stop)
        w->sh->ops->poll(w->shard, 10);
}

static void send_one(worker *w, uint64_t k, double interval_ns)
{
    shared *sh = w->sh;
    int local = w->senders[k % (uint64_t)w->n_senders];
    uint64_t rel = (uint64_t)((double)k * interval_ns);
    int n = snprintf(w->buf, (size_t)sh->o->size + 64, "%llu %u ", (unsigned long long)rel,
                     w->send_seq[local]);
    if (n < sh->o->size) {
        memset(w->buf + n, 'x', (size_t)(sh->o->size - n));
        n = sh->o->size;
    }
    w->buf[n] = '\0';
    uint64_t now = mono_ns(), intended = sh->t0 + rel;
    if (rel >= sh->warm_ns && rel < sh->win_ns)
        hist_record(&w->lag, now > intended ? now - intended : 0);
    int rc = sh->ops->send(w->shard, w->first + local, w->buf, (size_t)n);
    if (rc != 0) {
        w->send_failed++;
        count_error(w, rc);
        return;
    }
    w->sent++;
    w->send_seq[local]++;
    w->inflight++;
    if (rel >= sh->warm_ns && rel < sh->win_ns)
        w->window_sent++;
    atomic_fetch_add_explicit(&sh->sent, 1, memory_order_seq_cst);
}

/* Everything sent was answered and every successful send was delivered somewhere. */
static int quiescent(shared *sh)
{
    if (atomic_load(&sh->senders_done) < sh->n_workers)
        return 0;
    uint64_t sent = atomic_load(&sh->sent), acked = atomic_load(&sh->acked);
    uint64_t ok = atomic_load(&sh->acked_ok), delivered = atomic_load(&sh->delivered);
    return acked >= sent && delivered >= ok * sh->receivers;
}

/* Services the sockets until `next` (absolute ns), waking earlier on I/O. The event loop
 * takes whole milliseconds and each round costs a poll() over all of the shard's sockets, so
 * the wait is rounded UP: a send is up to 1 ms late when the loop is otherwise idle (the
 * report shows this as send lag, and the delay counts in the latency since it is measured
 * from the intended time). Under load, I/O wakes the loop far more often than that. */
static void poll_until_next(worker *w, uint64_t next)
{
    uint64_t now = mono_ns();
    uint64_t rest = next > now ? next - now : 0;
    uint64_t ms = (rest + 999999ULL) / 1000000ULL;
    w->sh->ops->poll(w->shard, ms > 10 ? 10 : (int)ms);
}

/* The open-loop schedule of one worker; see the top of the file. Sending continues after
 * send_end only for messages whose intended time came before it (backlog), until grace_end. */
static void send_loop(worker *w)
{
    shared *sh = w->sh;
    const bench_opts *o = sh->o;
    int done_flag = 0;
    uint64_t k = 0, total = 0;
    double interval_ns = 0;
    if (w->n_senders > 0 && sh->total_senders > 0) {
        double rate = o->rate * (double)w->n_senders / (double)sh->total_senders;
        interval_ns = 1e9 / rate;
        total = (uint64_t)((double)(sh->send_end - sh->t0) / interval_ns);
    }
    long cap = o->max_inflight;
    uint64_t due = 0;
    for (;;) {
        uint64_t now = mono_ns();
        if (bench_stop || now >= sh->grace_end)
            break;
        due = total;
        if (now < sh->t0)
            due = 0;
        else if (now < sh->send_end && interval_ns > 0) {
            due = (uint64_t)((double)(now - sh->t0) / interval_ns) + 1;
            if (due > total)
                due = total;
        }
        while (k < due && w->inflight < cap)
            send_one(w, k++, interval_ns);
        if (!done_flag && k >= total) {
            done_flag = 1;
            atomic_fetch_add(&sh->senders_done, 1);
        }
        if (done_flag && quiescent(sh))
            break;
        poll_until_next(w, k < due ? now : k < total
                        ? sh->t0 + (uint64_t)((double)k * interval_ns) : now + 10000000ULL);
    }
    if (!done_flag)
        atomic_fetch_add(&sh->senders_done, 1);
    w->scheduled = bench_stop ? due : total;   /* interrupted: what was due by then */
    w->unsent = total > k ? total - k : 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    const bench_target_ops *ops = sh->ops;
    if (sh->o->idle > 0) {
        int warm = w->count * sh->idle_warm_pct / 100;
        if (warm < 1)
            warm = 1;
        connect_clients(w, warm);
        atomic_store(&w->done_phase, PH_CONNECTED);
        wait_phase(w, PH_FULL);
        w->ready = connect_clients(w, w->count);
        atomic_store(&w->done_phase, PH_FULL);
        wait_phase(w, PH_END);
        atomic_store(&w->done_phase, PH_END);
        return NULL;
    }
    w->ready = connect_clients(w, w->count);
    if (w->ready > 0)
        w->paired = ops->open_peers(w->shard, w->err, sizeof w->err);
    for (int k = 0; k < w->count; k++)
        if (ops->can_send(w->shard, w->first + k))
            w->senders[w->n_senders++] = k;
    atomic_store(&w->done_phase, PH_CONNECTED);
    wait_phase(w, PH_RUN);
    if (!bench_stop)
        send_loop(w);
    atomic_store(&w->done_phase, PH_END);
    return NULL;
}

/* ---- setup and teardown shared by both modes -------------------------------------------- */

static void workers_free(const bench_target_ops *ops, worker **ws, int n)
{
    for (int i = 0; i < n; i++) {
        if (!ws[i])
            continue;
        if (ws[i]->shard)
            ops->shard_free(ws[i]->shard);
        free(ws[i]->senders);
        free(ws[i]->send_seq);
        free(ws[i]->recv_next);
        free(ws[i]->buf);
        free(ws[i]->slices);
        free(ws[i]);
    }
}

/* --interval: a latency histogram per slice of the window (shared_init cut it). */
static int slices_new(worker *w, const shared *sh)
{
    if (sh->n_slices == 0)
        return 0;
    w->n_slices = sh->n_slices;
    w->slices = malloc((size_t)w->n_slices * sizeof *w->slices);
    if (!w->slices)
        return -1;
    for (int i = 0; i < w->n_slices; i++)
        hist_init(&w->slices[i]);
    return 0;
}

/* Splits n clients into contiguous shards on even boundaries (a pair shares a shard, which
 * keeps the two directions of a chat on one loop; cross-shard pairs would measure the same
 * server work) and creates the workers. */
static int workers_new(shared *sh, bench_target *t, int n, worker **ws, char *err,
                       size_t errlen)
{
    int threads = sh->o->threads < 1 ? 1 : sh->o->threads > BENCH_MAX_THREADS
                  ? BENCH_MAX_THREADS : sh->o->threads;
    if (threads > n / 2 && n >= 2)
        threads = n / 2;
    if (threads < 1)
        threads = 1;
    int per = (n / threads) & ~1;
    int first = 0;
    for (int i = 0; i < threads; i++) {
        int count = i == threads - 1 ? n - first : per;
        worker *w = calloc(1, sizeof *w);
        if (!w) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        ws[i] = w;
        w->sh = sh;
        w->id = i;
        w->first = first;
        w->count = count;
        atomic_init(&w->done_phase, 0);
        hist_init(&w->lat);
        hist_init(&w->ack);
        hist_init(&w->lag);
        w->senders = calloc((size_t)count, sizeof *w->senders);
        w->send_seq = calloc((size_t)count, sizeof *w->send_seq);
        w->recv_next = calloc((size_t)count, sizeof *w->recv_next);
        w->buf = malloc((size_t)sh->o->size + 64);
        if (!w->senders || !w->send_seq || !w->recv_next || !w->buf) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (slices_new(w, sh) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        bench_callbacks cb = { on_deliver, on_ack, w };
        w->shard = sh->ops->shard_new(t, first, count, &cb, err, errlen);
        if (!w->shard)
            return -1;
        first += count;
    }
    sh->n_workers = threads;
    return threads;
}

static void wait_workers(worker **ws, int n, int phase)
{
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++)
            if (atomic_load(&ws[i]->done_phase) < phase)
                all = 0;
        if (all || bench_stop)
            return;
        sleep_ns(10000000ULL);
    }
}

static int start_workers(worker **ws, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (pthread_create(&ws[i]->th, NULL, worker_main, ws[i]) != 0) {
            snprintf(err, errlen, "pthread_create failed");
            bench_stop = 1;
            for (int j = 0; j < i; j++)
                pthread_join(ws[j]->th, NULL);
            return -1;
        }
        ws[i]->started = 1;
    }
    return 0;
}

static void join_workers(worker **ws, int n)
{
    for (int i = 0; i < n; i++)
        if (ws[i]->started)
            pthread_join(ws[i]->th, NULL);
}

static void shared_init(shared *sh, const bench_target_ops *ops, const bench_opts *o)
{
    memset(sh, 0, sizeof *sh);
    sh->ops = ops;
    sh->o = o;
    atomic_init(&sh->cmd, 0);
    atomic_init(&sh->sent, 0);
    atomic_init(&sh->acked, 0);
    atomic_init(&sh->acked_ok, 0);
    atomic_init(&sh->delivered, 0);
    atomic_init(&sh->senders_done, 0);
    sh->idle_warm_pct = 10;
    if (o->interval > 0) {       /* at most BENCH_MAX_INTERVALS slices, then wider ones */
        double n = o->duration / o->interval;
        sh->n_slices = n < 1 ? 1 : n > BENCH_MAX_INTERVALS ? BENCH_MAX_INTERVALS : (int)n;
        sh->slice_ns = n > BENCH_MAX_INTERVALS ? (uint64_t)(o->duration * 1e9 / sh->n_slices)
                                               : (uint64_t)(o->interval * 1e9);
    }
}

/* ---- load mode --------------------------------------------------------------------------- */

static void merge_slices(bench_result *r, worker **ws, int n)
{
    if (n < 1 || !ws[0]->slices)
        return;
    bench_hist *h = malloc(sizeof *h);
    if (!h)
        return;
    r->n_intervals = ws[0]->n_slices;
    for (int s = 0; s < r->n_intervals; s++) {
        hist_init(h);
        for (int i = 0; i < n; i++)
            hist_merge(h, &ws[i]->slices[s]);
        bench_interval *iv = &r->intervals[s];
        iv->start_s = (double)s * (double)ws[0]->sh->slice_ns / 1e9;
        iv->count = h->total;
        iv->p50_ns = hist_quantile(h, 0.50);
        iv->p90_ns = hist_quantile(h, 0.90);
        iv->p99_ns = hist_quantile(h, 0.99);
        iv->p999_ns = hist_quantile(h, 0.999);
        iv->max_ns = h->max;
    }
    free(h);
}

static void merge(bench_result *r, worker **ws, int n)
{
    hist_init(&r->latency);
    hist_init(&r->ack_latency);
    hist_init(&r->send_lag);
    for (int i = 0; i < n; i++) {
        worker *w = ws[i];
        r->clients_ready += w->ready;
        r->clients_paired += w->n_senders;
        r->scheduled += w->scheduled;
        r->sent += w->sent;
        r->unsent += w->unsent;
        r->send_failed += w->send_failed;
        r->acked += w->acked;
        r->ack_errors += w->ack_errors;
        r->delivered += w->delivered;
        r->out_of_order += w->out_of_order;
        r->duplicates += w->duplicates;
        r->window_sent += w->window_sent;
        r->window_delivered += w->window_delivered;
        for (int c = 0; c < BENCH_MAX_CODES; c++)
            r->errors[c] += w->errors[c];
        hist_merge(&r->latency, &w->lat);
        hist_merge(&r->ack_latency, &w->ack);
        hist_merge(&r->send_lag, &w->lag);
    }
    merge_slices(r, ws, n);
    uint64_t expected = r->acked * (uint64_t)(r->receivers > 0 ? r->receivers : 1);
    r->lost = expected > r->delivered ? expected - r->delivered : 0;
    r->unanswered = r->sent > r->acked + r->ack_errors ? r->sent - r->acked - r->ack_errors : 0;
    for (int i = 0; i < n && ws[i]->sh->ops->counters; i++) {
        const char *names[8];
        uint64_t values[8];
        int m = ws[i]->sh->ops->counters(ws[i]->shard, names, values, 8);
        for (int c = 0; c < m; c++) {
            r->counter_names[c] = names[c];
            r->counter_values[c] += values[c];
        }
        if (m > r->n_counters)
            r->n_counters = m;
    }
}

/* Samples the server, the machine and the bench at the window's start and end. */
typedef struct {
    proc_sample srv;
    sys_sample sys;
    uint64_t self_cpu, t;
    int srv_ok;
} sample;

static void take_sample(const bench_opts *o, sample *s)
{
    s->t = mono_ns();
    s->srv_ok = o->server_pid > 0 && proc_sample_read(o->server_pid, &s->srv) == 0;
    if (sys_sample_read(&s->sys) != 0)
        memset(&s->sys, 0, sizeof s->sys);
    s->self_cpu = self_cpu_ns();
}

static void resources(bench_result *r, const sample *a, const sample *b)
{
    double wall = (double)(b->t - a->t);
    r->cpus = online_cpus();
    if (a->srv_ok && b->srv_ok) {
        r->have_server = 1;
        r->srv_start = a->srv;
        r->srv_end = b->srv;
        r->srv_cpu_pct = wall > 0 ? 100.0 * (double)(b->srv.cpu_ns - a->srv.cpu_ns) / wall : 0;
    }
    r->bench_cpu_pct = wall > 0 ? 100.0 * (double)(b->self_cpu - a->self_cpu) / wall : 0;
    uint64_t tot = b->sys.total_ticks - a->sys.total_ticks;
    r->machine_busy_pct = tot ? 100.0 * (double)(b->sys.busy_ticks - a->sys.busy_ticks) /
                                (double)tot : 0;
    r->bench_rss_kib = self_rss_kib();
}

int bench_run_load(const bench_target_ops *ops, bench_target *t, const bench_opts *o,
                   bench_result *r, char *err, size_t errlen)
{
    shared sh;
    shared_init(&sh, ops, o);
    worker *ws[BENCH_MAX_THREADS] = {0};
    r->target = ops->name;
    r->clients_wanted = o->clients;
    int n = workers_new(&sh, t, o->clients, ws, err, errlen);
    if (n < 0) {
        workers_free(ops, ws, BENCH_MAX_THREADS);
        return -1;
    }
    uint64_t c0 = mono_ns();
    if (start_workers(ws, n, err, errlen) != 0) {
        workers_free(ops, ws, n);
        return -1;
    }
    wait_workers(ws, n, PH_CONNECTED);
    r->connect_s = (double)(mono_ns() - c0) / 1e9;
    int ready = 0;
    for (int i = 0; i < n; i++) {
        sh.total_senders += ws[i]->n_senders;
        ready += ws[i]->ready;
    }
    /* Fan-out: every ready member but the sender should get each message. */
    sh.receivers = o->fanout ? (uint64_t)(ready > 1 ? ready - 1 : 0) : 1;
    r->receivers = (int)sh.receivers;
    if (sh.total_senders == 0 && !bench_stop) {
        for (int i = 0; i < n; i++)
            if (ws[i]->err[0])
                snprintf(r->note, sizeof r->note, "%s", ws[i]->err);
    }
    /* Start slightly in the future so every worker begins on the same schedule. */
    sh.t0 = mono_ns() + 50000000ULL;
    sh.warm_ns = (uint64_t)(o->warmup * 1e9);
    sh.win_ns = sh.warm_ns + (uint64_t)(o->duration * 1e9);
    sh.warm_end = sh.t0 + sh.warm_ns;
    sh.win_end = sh.t0 + sh.win_ns;
    sh.send_end = sh.win_end;
    sh.grace_end = sh.send_end + (uint64_t)(o->grace * 1e9);
    atomic_store(&sh.cmd, PH_RUN);

    sample a, b;
    sleep_until(sh.warm_end);
    take_sample(o, &a);
    sleep_until(sh.win_end);
    take_sample(o, &b);
    join_workers(ws, n);
    r->interrupted = bench_stop != 0;
    resources(r, &a, &b);
    r->window_s = (double)(b.t - a.t) / 1e9;
    merge(r, ws, n);
    if (r->window_s > 0) {
        r->delivered_per_s = (double)r->window_delivered / r->window_s;
        r->sent_per_s = (double)r->window_sent / r->window_s;
    }
    if (!r->note[0] && r->clients_ready < r->clients_wanted) {
        for (int i = 0; i < n; i++)
            if (ws[i]->err[0])
                snprintf(r->note, sizeof r->note, "%s", ws[i]->err);
    }
    workers_free(ops, ws, n);
    return 0;
}

/* ---- idle mode --------------------------------------------------------------------------- */

static uint64_t server_rss(const bench_opts *o)
{
    proc_sample s;
    if (o->server_pid <= 0 || proc_sample_read(o->server_pid, &s) != 0)
        return 0;
    return s.rss_kib;
}

static void settle(const bench_opts *o)
{
    sleep_until(mono_ns() + (uint64_t)(o->settle * 1e9));
}

int bench_run_idle(const bench_target_ops *ops, bench_target *t, const bench_opts *o,
                   bench_result *r, char *err, size_t errlen)
{
    shared sh;
    shared_init(&sh, ops, o);
    worker *ws[BENCH_MAX_THREADS] = {0};
    r->target = ops->name;
    r->mode_idle = 1;
    r->clients_wanted = o->idle;
    int n = workers_new(&sh, t, o->idle, ws, err, errlen);
    if (n < 0) {
        workers_free(ops, ws, BENCH_MAX_THREADS);
        return -1;
    }
    settle(o);
    r->idle_rss_base_kib = server_rss(o);
    sample a, b;
    take_sample(o, &a);
    uint64_t c0 = mono_ns();
    if (start_workers(ws, n, err, errlen) != 0) {
        workers_free(ops, ws, n);
        return -1;
    }
    wait_workers(ws, n, PH_CONNECTED);
    settle(o);
    for (int i = 0; i < n; i++)
        r->idle_warm += ops->ready_count(ws[i]->shard);
    r->idle_rss_warm_kib = server_rss(o);
    atomic_store(&sh.cmd, PH_FULL);
    wait_workers(ws, n, PH_FULL);
    r->connect_s = (double)(mono_ns() - c0) / 1e9;
    settle(o);
    for (int i = 0; i < n; i++)
        r->clients_ready += ops->ready_count(ws[i]->shard);
    r->idle_rss_full_kib = server_rss(o);
    take_sample(o, &b);
    atomic_store(&sh.cmd, PH_END);
    join_workers(ws, n);
    r->interrupted = bench_stop != 0;
    resources(r, &a, &b);
    if (r->clients_ready > 0 && r->idle_rss_full_kib)
        r->idle_bytes_per_conn = 1024.0 * ((double)r->idle_rss_full_kib -
                                           (double)r->idle_rss_base_kib) / r->clients_ready;
    if (r->clients_ready > r->idle_warm && r->idle_rss_full_kib)
        r->idle_bytes_per_conn_marginal = 1024.0 * ((double)r->idle_rss_full_kib -
                                                    (double)r->idle_rss_warm_kib) /
                                          (r->clients_ready - r->idle_warm);
    workers_free(ops, ws, n);
    return 0;
}
