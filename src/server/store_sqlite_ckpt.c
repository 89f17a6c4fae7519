/*
 * store_sqlite_ckpt.c: keeps WAL checkpoints off the commit path of the SQLite backend.
 *
 * In WAL mode every COMMIT appends page images to parley.db-wal; a checkpoint copies them
 * back into parley.db and fsyncs it. SQLite's default runs that checkpoint inside the COMMIT
 * that crosses the threshold, so the store thread (and every request waiting for its batch)
 * stalled for the copy and a second fsync: that was the tail of the send latency.
 *
 * Here a thread of its own, with its own connection, runs PASSIVE checkpoints (they never
 * block the writer, SQLite allows one checkpointer beside one writer) whenever the writer's
 * WAL hook reports CKPT_NUDGE_FRAMES or more. A passive checkpoint cannot reset the WAL
 * while the writer keeps appending, so past CKPT_FORCE_FRAMES the writer's hook checkpoints
 * itself, between two transactions: by then the thread has copied most frames, so this costs
 * little, and the next transaction starts the WAL from the beginning again.
 *
 * WHY small passes, at most one per CKPT_PASS_GAP_MS: each pass ends with an fsync of
 * parley.db, and the disk serves that and the writer's WAL fsyncs in one queue. The first
 * version copied the first 16 MiB of each WAL cycle in one pass (the writer's fsyncs
 * behind it took 8-70 ms: most of the batches over 10 ms in a 3-minute run at 1,500/s)
 * and then, with the WAL above its threshold, ran a pass after every COMMIT (about 70 a
 * second, two fsyncs each). Now the thread starts at 1 MiB of WAL and copies whatever has
 * come since, no more often than every CKPT_PASS_GAP_MS: a steady trickle of a few MiB per
 * pass, and pages rewritten by many commits within a gap are copied once.
 *
 * The hook also notes when it ran and how long a checkpoint it ran itself took
 * (ckpt_last_commit), so that the store thread's slow-batch log can split a COMMIT into
 * write+fsync and checkpoint.
 *
 * store_scrub() (TRUNCATE after deletions) is unchanged and still runs on the writer.
 * Ownership: ckpt_start() returns a ckpt the caller frees with ckpt_stop().
 */
#include "store_sqlite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* 256 frames of 4 KiB pages = 1 MiB of WAL before the thread starts copying it back; the
 * writer resets the WAL itself at 64 MiB (the thread keeps it nearly copied by then). */
#define CKPT_NUDGE_FRAMES 256
#define CKPT_FORCE_FRAMES 16384
#define CKPT_PASS_GAP_MS 100

struct ckpt {
    sqlite3 *db;               /* the checkpointer's own connection: its thread only */
    pthread_t thread;
    pthread_mutex_t lock;      /* guards wanted, stopping */
    pthread_cond_t cond;
    int wanted;
    int stopping;
    /* Writer thread only: what the WAL hook saw at the last COMMIT (ckpt_last_commit). */
    ckpt_commit_info last;
};

/* Sleeps until CKPT_PASS_GAP_MS after the last pass (or a stop); k->lock held. */
static void pace(ckpt *k, const struct timespec *last)
{
    struct timespec until = *last;
    until.tv_nsec += (long)CKPT_PASS_GAP_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
    }
    while (!k->stopping && pthread_cond_timedwait(&k->cond, &k->lock, &until) == 0) {
    }
}

static void *ckpt_main(void *arg)
{
    ckpt *k = arg;
    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (!k->wanted && !k->stopping) pthread_cond_wait(&k->cond, &k->lock);
        if (k->stopping) break;
        k->wanted = 0;
        pthread_mutex_unlock(&k->lock);
        /* BUSY only means another checkpoint is running; the next nudge tries again. */
        sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        struct timespec done;
        clock_gettime(CLOCK_MONOTONIC, &done);
        pthread_mutex_lock(&k->lock);
        pace(k, &done);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

ckpt *ckpt_start(const char *path, char *err, size_t errlen)
{
    ckpt *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "store: out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "store: checkpointer cannot open %s: %s", path,
                 k->db ? sqlite3_errmsg(k->db) : "out of memory");
        sqlite3_close(k->db);
        free(k);
        return NULL;
    }
    /* The checkpointer's own connection must never checkpoint as a side effect of anything
     * else it does, and it never writes. A connection learns that the file is in WAL mode
     * (and opens the WAL) only on its first read; until then a checkpoint does nothing. */
    sqlite3_wal_autocheckpoint(k->db, 0);
    if (sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "store: checkpointer cannot read %s: %s", path,
                 sqlite3_errmsg(k->db));
        sqlite3_close(k->db);
        free(k);
        return NULL;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* pace() waits on this clock */
    pthread_cond_init(&k->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        snprintf(err, errlen, "store: cannot start the checkpointer thread");
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
        sqlite3_close(k->db);
        free(k);
        return NULL;
    }
    return k;
}

void ckpt_stop(ckpt *k)
{
    if (!k) return;
    pthread_mutex_lock(&k->lock);
    k->stopping = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    sqlite3_close(k->db);
    free(k);
}

/* sqlite3_wal_hook callback on the writer's connection, run after each COMMIT outside any
 * transaction. Installing it replaces SQLite's automatic checkpoint on that connection. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    ckpt *k = arg;
    k->last.hook_at_us = sqlite_monotonic_us();
    k->last.frames = frames;
    k->last.ckpt_us = 0;
    if (frames >= CKPT_FORCE_FRAMES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        k->last.ckpt_us = sqlite_monotonic_us() - k->last.hook_at_us;
    } else if (frames >= CKPT_NUDGE_FRAMES) {
        pthread_mutex_lock(&k->lock);
        k->wanted = 1;
        pthread_cond_signal(&k->cond);
        pthread_mutex_unlock(&k->lock);
    }
    return SQLITE_OK;
}

void ckpt_last_commit(const ckpt *k, ckpt_commit_info *out)
{
    *out = k->last;
}

void ckpt_attach(ckpt *k, sqlite3 *writer)
{
    sqlite3_wal_hook(writer, wal_hook, k);
}
