/*
 * store_sqlite_ckpt.c: keeps WAL checkpoints off the commit path of the SQLite backend.
 *
 * In WAL mode every COMMIT appends page images to parley.db-wal; a checkpoint copies them
 * back into parley.db and fsyncs it. SQLite's default runs that checkpoint inside the COMMIT
 * that crosses the threshold, so the store thread (and every request waiting for its batch)
 * stalled for the copy and a second fsync: that was the tail of the send latency.
 *
 * Here a thread of its own, with its own connection, runs PASSIVE checkpoints (they never
 * block the writer, SQLite allows one checkpointer beside one writer) when the writer's WAL
 * hook sees the WAL pass half and then seven eighths of its cycle (reset_frames). A passive
 * checkpoint cannot reset the WAL while the writer keeps appending, so at reset_frames the
 * writer's hook checkpoints the rest itself, between two transactions, and the next
 * transaction starts the WAL from the beginning again.
 *
 * WHY a long cycle (256 MiB of WAL) and only two passes in it: what a checkpoint writes into
 * parley.db, and its fsync, share the disk with the writer's WAL fsyncs, and every page it
 * writes slows them (parley-walsync, bench/disk/walsync.c: random page writes beside a WAL
 * writer doing 1,000 fdatasyncs/s took its p99 from 1.6 ms to 2-4 ms and multiplied the ones
 * over 5 ms by 6-10, about in proportion to the pages written, however they were spread). A commit rewrites
 * whole pages that the next commits rewrite again (the tail of the message table, each
 * chat's and each account's last index and log pages), so the WAL holds each hot page many
 * times while a checkpoint copies each page once: the longer the cycle, the fewer pages
 * reach parley.db. At 1,500 sends/s the WAL takes about 30 MiB/s while a 7-second cycle
 * leaves a few MiB to copy. Earlier versions copied 16 MiB cycles (and then after every
 * commit), then 100-ms trickles: both wrote most of the WAL twice, and a 20-minute run at
 * 1,500/s had a p99 of 22 ms and then 14 ms. The cost: a 256 MiB parley.db-wal on disk,
 * and a start after a crash reads it once.
 *
 * The hook also notes when it ran and how long a checkpoint it ran itself took
 * (ckpt_last_commit), so that the store thread's slow-batch log can split a COMMIT into
 * write+fsync and checkpoint; every pass is counted for its statistics line
 * (ckpt_take_stats).
 *
 * store_scrub() (TRUNCATE after deletions) is unchanged and still runs on the writer.
 * Ownership: ckpt_start() returns a ckpt the caller frees with ckpt_stop().
 */
#include "store_sqlite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 65,536 frames of 4 KiB pages = 256 MiB of WAL per cycle (ckpt_set_cycle changes it). */
#define CKPT_RESET_FRAMES 65536

struct ckpt {
    sqlite3 *db;               /* the checkpointer's own connection: its thread only */
    pthread_t thread;
    pthread_mutex_t lock;      /* guards wanted, stopping, stats */
    pthread_cond_t cond;
    int wanted;
    int stopping;
    store_bg_stats stats;      /* passes since ckpt_take_stats (the writer's own included) */
    int backfilled;            /* WAL frames already copied in this cycle, after the last pass */
    /* Writer thread only. */
    int reset_frames;          /* the writer checkpoints and the WAL restarts at this size */
    int passes_asked;          /* thread passes asked for in this cycle (0-2) */
    int prev_frames;           /* at the last COMMIT: fewer now means the WAL restarted */
    /* Writer thread only: what the WAL hook saw at the last COMMIT (ckpt_last_commit). */
    ckpt_commit_info last;
};

/* Adds one finished pass to the stats; `copied` is the WAL's backfill count after it (which
 * restarts with each WAL cycle). Caller holds k->lock. */
static void note_pass(ckpt *k, int64_t us, int copied)
{
    if (copied < 0) copied = 0;
    k->stats.passes++;
    k->stats.busy_us += us;
    if (us > k->stats.max_us) k->stats.max_us = us;
    k->stats.frames += copied >= k->backfilled ? copied - k->backfilled : copied;
    k->backfilled = copied;
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
        int64_t t0 = sqlite_monotonic_us();
        int log = 0, copied = 0;
        sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        pthread_mutex_lock(&k->lock);
        note_pass(k, sqlite_monotonic_us() - t0, copied);
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
    pthread_cond_init(&k->cond, NULL);
    k->reset_frames = CKPT_RESET_FRAMES;
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
    if (frames < k->prev_frames) k->passes_asked = 0;          /* a new cycle */
    k->prev_frames = frames;
    if (frames >= k->reset_frames) {
        int log = 0, copied = 0;
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        k->last.ckpt_us = sqlite_monotonic_us() - k->last.hook_at_us;
        pthread_mutex_lock(&k->lock);
        note_pass(k, k->last.ckpt_us, copied);
        k->backfilled = 0;                 /* the next commit restarts the WAL */
        pthread_mutex_unlock(&k->lock);
        return SQLITE_OK;
    }
    /* The thread's passes: at 1/2 and at 7/8 of the cycle. */
    int due = frames >= k->reset_frames / 8 * 7 ? 2 : frames >= k->reset_frames / 2 ? 1 : 0;
    if (due > k->passes_asked) {
        k->passes_asked = due;
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

void ckpt_take_stats(ckpt *k, store_bg_stats *out)
{
    pthread_mutex_lock(&k->lock);
    *out = k->stats;
    memset(&k->stats, 0, sizeof k->stats);
    pthread_mutex_unlock(&k->lock);
}

void ckpt_set_cycle(ckpt *k, int reset_frames)
{
    k->reset_frames = reset_frames >= 16 ? reset_frames : 16;
}

void ckpt_attach(ckpt *k, sqlite3 *writer)
{
    sqlite3_wal_hook(writer, wal_hook, k);
}
