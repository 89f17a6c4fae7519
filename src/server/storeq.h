/*
 * storeq.h: the store thread. It owns the store handle; the network thread hands it jobs
 * and gets them back, completed, on the network thread.
 *
 * Group commit: the store thread takes every job that is waiting (up to STOREQ_BATCH_MAX)
 * and runs them in ONE store batch, each inside its own savepoint, then commits once (one
 * fsync for the whole batch). Only after the commit are the jobs handed back, so nothing is
 * acknowledged to a client before it is durable. Under load a batch lingers up to
 * STOREQ_LINGER_US for jobs that are about to arrive (see storeq.c). After batches that deleted or overwrote
 * content it runs store_scrub(), at most every STOREQ_SCRUB_MS while busy but always before
 * going idle. A batch or scrub slower than STOREQ_SLOW_MS is logged as a warning that says
 * where its time went, and every STOREQ_STATS_S under load an info line gives the batch
 * times, cache misses and checkpoint work of that period (see storeq.c).
 *
 * Memory and threads: a job is owned by whoever holds it: the submitter until
 * storeq_submit() succeeds, then the store thread, then, on the network thread, its `done`
 * callback (which frees it or passes it on). At shutdown, jobs not yet handed back are
 * released through `discard` instead of `done`.
 */
#ifndef PARLEY_STOREQ_H
#define PARLEY_STOREQ_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STOREQ_BATCH_MAX 512
#define STOREQ_QUEUE_MAX 65536
#define STOREQ_SCRUB_MS 200
#define STOREQ_LINGER_US 500
/* A batch (or scrub) slower than this is logged as a warning with where its time went. */
#define STOREQ_SLOW_MS 100
/* While batches run, one info line per this many seconds sums them up (storeq.c, log_stats). */
#define STOREQ_STATS_S 60

typedef struct storeq storeq;
typedef struct storeq_job storeq_job;

struct storeq_job {
    storeq_job *next;
    /* Store thread, inside a batch and a savepoint: STORE_OK keeps the writes, anything
     * else rolls this job's writes back. */
    store_rc (*run)(store *s, storeq_job *job);
    /* Network thread, after the commit; takes ownership of the job. */
    void (*done)(storeq_job *job);
    /* Frees a job that will never complete (shutdown). */
    void (*discard)(storeq_job *job);
    store_rc rc;               /* run's result; STORE_ERR_INTERNAL if the batch failed */
    int scrub;                 /* set by run: content was deleted or overwritten */
};

/* Starts the thread; it owns `s` from now on and closes it in storeq_stop(). `wake` is
 * called (from the store thread) whenever completions are ready. NULL on failure. */
storeq *storeq_start(store *s, void (*wake)(void *), void *wake_arg);

/* Changes the slow-batch threshold (default STOREQ_SLOW_MS); a negative value logs every
 * batch, which is how the tests see the log line without depending on timing. */
void storeq_log_slow(storeq *q, int64_t threshold_ms);

/* Changes the statistics line's period (default STOREQ_STATS_S); 0 logs one after every
 * batch (the tests). */
void storeq_stats_every(storeq *q, int64_t period_ms);

/* Network thread. 0, or -1 when the queue is full or stopping (the caller still owns job
 * and answers BUSY). */
int storeq_submit(storeq *q, storeq_job *job);

/* Network thread: runs `done` of every completed job, in submission order. */
void storeq_drain(storeq *q);

/* Finishes every job already submitted, joins the thread, scrubs if needed, closes the
 * store, discards completions never drained and frees q. */
void storeq_stop(storeq *q);

#endif
