/*
 * storeq.c: the store thread and its two queues (see storeq.h).
 *
 * Jobs flow: submit queue (network -> store thread) -> batch -> completion queue (store ->
 * network thread). Both queues are singly linked FIFO lists under one mutex each; the store
 * thread holds no lock while it touches the disk. Batches and scrubs slower than the
 * threshold are logged with the cause of their time (log_slow_batch), and every
 * STOREQ_STATS_S with load a line sums the batches up (log_stats).
 */
#include "storeq.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    storeq_job *head, *tail;
    size_t n;
} job_list;

/* Upper bounds (us) of the batch-time histogram buckets; the last one takes the rest. */
static const int64_t stat_bounds[] = { 250, 500, 1000, 2000, 3000, 5000, 7500, 10000, 15000,
                                       20000, 30000, 50000, 100000, 250000, 1000000, INT64_MAX };
#define N_BOUNDS (sizeof stat_bounds / sizeof stat_bounds[0])

/* One statistics window of the store thread (see log_stats). */
typedef struct {
    int64_t start_us;          /* 0: no batch yet in this window */
    int64_t batches, requests, busy_us, pages_read;
    int64_t max_us, sync_max_us;
    int64_t hist[N_BOUNDS];
} batch_stats;

struct storeq {
    store *s;
    pthread_t thread;
    pthread_mutex_t lock;      /* guards `in`, `stopping` */
    pthread_cond_t cond;
    job_list in;
    int stopping;
    pthread_mutex_t out_lock;  /* guards `out` */
    job_list out;
    void (*wake)(void *);
    void *wake_arg;
    _Atomic int64_t slow_us;   /* log batches and scrubs slower than this (storeq_log_slow) */
    /* Store thread only. */
    size_t last_batch_n;       /* jobs in the previous batch */
    int schedstat_fd;          /* /proc/thread-self/schedstat of the store thread, or -1 */
    int scrub_pending;
    int64_t last_scrub_ms;
    int disk_full;             /* the last commit failed with a full disk (logged once) */
    _Atomic int64_t stats_us;  /* statistics line period (storeq_stats_every) */
    batch_stats win;           /* store thread only: the current statistics window */
};

static void list_push(job_list *l, storeq_job *j)
{
    j->next = NULL;
    if (l->tail) l->tail->next = j;
    else l->head = j;
    l->tail = j;
    l->n++;
}

/* Detaches up to `max` jobs from the front of l. */
static storeq_job *list_take(job_list *l, size_t max)
{
    storeq_job *first = l->head, *last = first;
    size_t n = 1;
    if (!first) return NULL;
    while (n < max && last->next) {
        last = last->next;
        n++;
    }
    l->head = last->next;
    if (!l->head) l->tail = NULL;
    l->n -= n;
    last->next = NULL;
    return first;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs each job of the list in its own savepoint; *last = the list's last job. */
static size_t run_jobs(storeq *q, storeq_job *jobs, store_rc brc, storeq_job **last)
{
    size_t n = 0;
    for (storeq_job *j = jobs; j; j = j->next) {
        *last = j;
        n++;
        if (brc != STORE_OK || store_op_begin(q->s) != STORE_OK) {
            j->rc = STORE_ERR_INTERNAL;
            continue;
        }
        j->rc = j->run(q->s, j);
        store_op_end(q->s, j->rc == STORE_OK);
    }
    return n;
}

/* Up to max jobs that are waiting or arrive before deadline_us; NULL if none came. */
static storeq_job *take_until(storeq *q, int64_t deadline_us, size_t max)
{
    struct timespec ts = { (time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000 };
    pthread_mutex_lock(&q->lock);
    while (!q->in.head && !q->stopping)
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT) break;
    storeq_job *jobs = list_take(&q->in, max);
    pthread_mutex_unlock(&q->lock);
    return jobs;
}

static long long ms(int64_t us)
{
    return (long long)((us + 500) / 1000);
}

/* The store thread's time on a CPU and waiting in a run queue for one (schedstat, in ns),
 * read at each batch's start (one pread) so that a slow batch can say whether the thread was
 * working, waiting for a CPU (a busy machine) or blocked (disk, locks). Zeros without
 * schedstat. */
typedef struct {
    int64_t run_us, runq_us;
} cpu_times;

static void cpu_times_now(const storeq *q, cpu_times *t)
{
    t->run_us = t->runq_us = 0;
    char buf[96];
    ssize_t n = q->schedstat_fd >= 0 ? pread(q->schedstat_fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return;
    buf[n] = '\0';
    unsigned long long run = 0, wait = 0;
    if (sscanf(buf, "%llu %llu", &run, &wait) == 2) {
        t->run_us = (int64_t)(run / 1000);
        t->runq_us = (int64_t)(wait / 1000);
    }
}

/* "; on CPU a ms, waiting for a CPU b ms, blocked c ms" for the time since `since`. */
static void cpu_split(const storeq *q, const cpu_times *since, int64_t total_us, char *out,
                      size_t len)
{
    cpu_times now;
    cpu_times_now(q, &now);
    out[0] = '\0';
    if (q->schedstat_fd < 0) return;
    int64_t run = now.run_us - since->run_us, wait = now.runq_us - since->runq_us;
    int64_t blocked = total_us - run - wait;
    snprintf(out, len, "; on CPU %lld ms, waiting for a CPU %lld ms, blocked %lld ms", ms(run),
             ms(wait), ms(blocked > 0 ? blocked : 0));
}

/* WHY: every request of a batch waits for all of it and the queue waits behind it, so a slow
 * batch holds back acknowledgements and deliveries. The line names where the time went (the
 * backend's split of begin and commit; "requests" includes the linger; then the thread's own
 * view: running, waiting for a CPU, or blocked), so a stall of the store (a checkpoint, a slow
 * fsync) can be told apart from a machine that is short of CPU. */
static void log_slow_batch(storeq *q, size_t n, int64_t total_us, int64_t jobs_us,
                           const cpu_times *start)
{
    store_batch_timing t;
    store_batch_timing_get(q->s, &t);
    char cpu[128];
    cpu_split(q, start, total_us, cpu, sizeof cpu);
    log_warn("store: batch of %zu took %lld ms (begin %lld ms, requests %lld ms, commit %lld ms:"
             " write and fsync %lld ms, checkpoint %lld ms; WAL %lld frames%s)",
             n, ms(total_us), ms(t.begin_us), ms(jobs_us - t.begin_us), ms(t.commit_us),
             ms(t.sync_us), ms(t.ckpt_us), (long long)t.log_frames, cpu);
}

/* The upper bound of the bucket holding the q-quantile (0 < q <= 1), in us. */
static int64_t stat_quantile(const batch_stats *w, double q)
{
    int64_t rank = (int64_t)(q * (double)w->batches + 0.999999), seen = 0;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        seen += w->hist[i];
        if (seen >= rank) return i + 1 < N_BOUNDS ? stat_bounds[i] : w->max_us;
    }
    return w->max_us;
}

/* WHY a periodic line: a slow-batch warning shows single stalls, but a p99 that creeps up
 * over minutes (a growing database, checkpoints that copy more, pages falling out of the
 * cache) shows only as a drift of the ordinary batches. One line per period gives the
 * batch-time distribution beside the backend's cache misses and checkpoint work, so an
 * operator can see which moves with it. Quantiles are bucket bounds ("at most"). */
static void log_stats(storeq *q, int64_t now_us)
{
    batch_stats *w = &q->win;
    store_bg_stats bg;
    store_bg_stats_take(q->s, &bg);
    int64_t span = now_us - w->start_us;
    log_info("store: last %lld s: %lld batches, %lld requests, busy %lld%%; batch p50 <= %.2f ms,"
             " p99 <= %.2f ms, max %.2f ms; write and fsync max %.2f ms; %lld pages read from"
             " disk; checkpoints: %lld passes copying %lld frames in %lld ms (longest %lld ms)",
             (long long)((span + 500000) / 1000000), (long long)w->batches,
             (long long)w->requests, (long long)(span > 0 ? w->busy_us * 100 / span : 0),
             stat_quantile(w, 0.5) / 1000.0, stat_quantile(w, 0.99) / 1000.0,
             w->max_us / 1000.0, w->sync_max_us / 1000.0, (long long)w->pages_read,
             (long long)bg.passes, (long long)bg.frames, ms(bg.busy_us), ms(bg.max_us));
    memset(w, 0, sizeof *w);
}

/* Counts one committed batch into the window; logs and restarts it when its period ended. */
static void note_batch(storeq *q, size_t n, int64_t t0, int64_t t_end)
{
    batch_stats *w = &q->win;
    store_batch_timing t;
    store_batch_timing_get(q->s, &t);
    int64_t us = t_end - t0;
    if (!w->start_us) w->start_us = t0;
    w->batches++;
    w->requests += (int64_t)n;
    w->busy_us += us;
    w->pages_read += t.pages_read;
    if (us > w->max_us) w->max_us = us;
    if (t.sync_us > w->sync_max_us) w->sync_max_us = t.sync_us;
    size_t i = 0;
    while (i + 1 < N_BOUNDS && us > stat_bounds[i]) i++;
    w->hist[i]++;
    if (t_end - w->start_us >= atomic_load(&q->stats_us)) log_stats(q, t_end);
}

/* Runs one batch; marks every job failed if the batch cannot be committed.
 *
 * WHY linger: each commit's fdatasync costs the machine about 80 us of CPU here (most of it
 * the virtual disk's doorbell), whatever the batch size, and at 5,000 sends/s a commit held
 * only three or four sends. When the previous batch had company, so more requests are likely
 * on their way, the open transaction waits up to STOREQ_LINGER_US for them and runs each
 * as it arrives (its savepoint's work overlaps the wait), then commits them all with one
 * fsync. A lone request at a low rate is committed at once and pays nothing. */
static void run_batch(storeq *q, storeq_job *jobs)
{
    cpu_times c0;
    cpu_times_now(q, &c0);
    int64_t t0 = monotonic_us();
    store_rc brc = store_batch_begin(q->s);
    storeq_job *last = NULL;
    size_t n = run_jobs(q, jobs, brc, &last);
    if (brc == STORE_OK && q->last_batch_n > 1) {
        int64_t deadline = monotonic_us() + STOREQ_LINGER_US;
        while (n < STOREQ_BATCH_MAX && monotonic_us() < deadline) {
            storeq_job *more = take_until(q, deadline, STOREQ_BATCH_MAX - n);
            if (!more) break;
            last->next = more;
            n += run_jobs(q, more, brc, &last);
        }
    }
    q->last_batch_n = n;
    int64_t t_jobs = monotonic_us();
    if (brc == STORE_OK) brc = store_batch_commit(q->s);
    int64_t t_end = monotonic_us();
    if (t_end - t0 > atomic_load(&q->slow_us)) log_slow_batch(q, n, t_end - t0, t_jobs - t0, &c0);
    if (brc == STORE_OK) note_batch(q, n, t0, t_end);
    if (brc == STORE_ERR_FULL) {
        /* Logged once per episode, not per batch: a full disk under load fails hundreds of
         * batches a second. The clients get BUSY with a retry time (wire.c, dispatch.c). */
        if (!q->disk_full) log_error("store: the disk is full (SQLite: database or disk is "
                                     "full); writes are refused with BUSY until space returns");
        q->disk_full = 1;
    } else if (brc != STORE_OK) {
        log_error("store: batch commit failed; the batch's requests get INTERNAL");
    }
    if (brc != STORE_OK) {
        store_batch_rollback(q->s);
        for (storeq_job *j = jobs; j; j = j->next) j->rc = brc;
        return;
    }
    if (q->disk_full) log_info("store: writes succeed again (disk space returned)");
    q->disk_full = 0;
    for (storeq_job *j = jobs; j; j = j->next)
        if (j->rc == STORE_OK && j->scrub) q->scrub_pending = 1;
}

static void complete(storeq *q, storeq_job *jobs)
{
    pthread_mutex_lock(&q->out_lock);
    while (jobs) {
        storeq_job *next = jobs->next;
        list_push(&q->out, jobs);
        jobs = next;
    }
    pthread_mutex_unlock(&q->out_lock);
    q->wake(q->wake_arg);
}

static void scrub(storeq *q)
{
    cpu_times c0;
    cpu_times_now(q, &c0);
    int64_t t0 = monotonic_us();
    if (store_scrub(q->s) != STORE_OK) log_warn("store: scrub failed; will retry");
    else q->scrub_pending = 0;
    int64_t took = monotonic_us() - t0;
    if (took > atomic_load(&q->slow_us)) {
        char cpu[128];
        cpu_split(q, &c0, took, cpu, sizeof cpu);
        log_warn("store: scrub (WAL checkpoint and truncate after deletions) took %lld ms%s",
                 ms(took), cpu);
    }
    q->last_scrub_ms = monotonic_ms();
}

/* Waits for work. Returns a batch, or NULL when stopping with nothing left. Scrubs instead
 * of sleeping when a scrub is owed, so deleted text never lingers through an idle period. */
static storeq_job *next_batch(storeq *q)
{
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->in.head) break;
        if (q->scrub_pending) {
            pthread_mutex_unlock(&q->lock);
            scrub(q);
            pthread_mutex_lock(&q->lock);
            if (q->stopping && !q->in.head) break;  /* one last try is all a stop gets */
            if (q->scrub_pending && !q->in.head) {
                /* Scrub failed: retry after a pause instead of spinning. */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);   /* the cond's clock (storeq_start) */
                ts.tv_sec += 1;
                pthread_cond_timedwait(&q->cond, &q->lock, &ts);
            }
            continue;
        }
        if (q->stopping) break;
        pthread_cond_wait(&q->cond, &q->lock);
    }
    storeq_job *jobs = list_take(&q->in, STOREQ_BATCH_MAX);
    pthread_mutex_unlock(&q->lock);
    return jobs;
}

static void *store_thread(void *arg)
{
    storeq *q = arg;
    q->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    storeq_job *jobs;
    while ((jobs = next_batch(q)) != NULL) {
        run_batch(q, jobs);
        complete(q, jobs);
        if (q->scrub_pending && monotonic_ms() - q->last_scrub_ms >= STOREQ_SCRUB_MS) scrub(q);
    }
    if (q->schedstat_fd >= 0) close(q->schedstat_fd);
    return NULL;
}

storeq *storeq_start(store *s, void (*wake)(void *), void *wake_arg)
{
    storeq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->s = s;
    q->wake = wake;
    q->wake_arg = wake_arg;
    q->slow_us = (int64_t)STOREQ_SLOW_MS * 1000;
    q->stats_us = (int64_t)STOREQ_STATS_S * 1000000;
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->out_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* timed waits immune to clock steps */
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&q->thread, NULL, store_thread, q) != 0) {
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->lock);
        pthread_mutex_destroy(&q->out_lock);
        free(q);
        return NULL;
    }
    return q;
}

void storeq_log_slow(storeq *q, int64_t threshold_ms)
{
    atomic_store(&q->slow_us, threshold_ms * 1000);
}

void storeq_stats_every(storeq *q, int64_t period_ms)
{
    atomic_store(&q->stats_us, period_ms * 1000);
}

int storeq_submit(storeq *q, storeq_job *job)
{
    int rc = -1;
    job->rc = STORE_OK;
    job->scrub = 0;
    pthread_mutex_lock(&q->lock);
    if (!q->stopping && q->in.n < STOREQ_QUEUE_MAX) {
        list_push(&q->in, job);
        pthread_cond_signal(&q->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void storeq_drain(storeq *q)
{
    pthread_mutex_lock(&q->out_lock);
    storeq_job *jobs = list_take(&q->out, (size_t)-1);
    pthread_mutex_unlock(&q->out_lock);
    while (jobs) {
        storeq_job *next = jobs->next;
        jobs->done(jobs);
        jobs = next;
    }
}

void storeq_stop(storeq *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    store_close(q->s);
    storeq_job *jobs = list_take(&q->out, (size_t)-1);
    while (jobs) {
        storeq_job *next = jobs->next;
        jobs->discard(jobs);
        jobs = next;
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->out_lock);
    free(q);
}
