/*
 * walsync.c: parley-walsync, how much a checkpoint's writes into the database file slow the
 * WAL's fsyncs on this disk, without SQLite in the way.
 *
 * One thread plays the store's writer: it appends a commit's worth of WAL (--frame-kib) to
 * a file at a fixed rate (--rate commits/s) and fdatasyncs after each, cycling through
 * 64 MiB like a WAL that restarts. Another plays the checkpointer: every --gap-ms it writes
 * --pages random 4 KiB pages into a --db-mib file and fsyncs it (0 pages: no checkpointer).
 * The figures are the writer's fdatasync times. parleyd's checkpointer pacing
 * (src/server/store_sqlite_ckpt.c) was chosen from these runs (docs/BENCHMARKS.md).
 *
 *   parley-walsync --dir /tmp --rate 1000 --seconds 20 --pages 256 --gap-ms 100
 *
 * Memory: two buffers, a latency array of rate x seconds entries; files are removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char dir[512];
    long rate, seconds, pages, gap_ms, db_mib, frame_kib;
} opts;

typedef struct {
    const opts *o;
    char path[600];
    volatile int stop;
} ckpt_arg;

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    if (us <= 0) return;
    struct timespec t = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    nanosleep(&t, NULL);
}

static void *checkpointer(void *arg)
{
    ckpt_arg *a = arg;
    int fd = open(a->path, O_RDWR);
    if (fd < 0) return NULL;
    char page[4096];
    memset(page, 7, sizeof page);
    unsigned seed = 1;
    long n_pages = a->o->db_mib * 256;
    while (!a->stop) {
        for (long i = 0; i < a->o->pages; i++)
            if (pwrite(fd, page, sizeof page, (off_t)(rand_r(&seed) % n_pages) * 4096) < 0) break;
        fsync(fd);
        sleep_us(a->o->gap_ms * 1000);
    }
    close(fd);
    return NULL;
}

/* The database file, written out once so that the checkpointer overwrites existing blocks. */
static int make_db(const char *path, long mib)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char chunk[1 << 16];
    memset(chunk, 1, sizeof chunk);
    for (off_t off = 0; off < (off_t)mib << 20; off += (off_t)sizeof chunk)
        if (pwrite(fd, chunk, sizeof chunk, off) < 0) { close(fd); return -1; }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){ "/tmp", 1000, 20, 0, 100, 400, 40 };
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        long n = strtol(v, NULL, 10);
        if (!strcmp(k, "--dir")) snprintf(o->dir, sizeof o->dir, "%s", v);
        else if (!strcmp(k, "--rate") && n > 0 && n <= 100000) o->rate = n;
        else if (!strcmp(k, "--seconds") && n > 0 && n <= 3600) o->seconds = n;
        else if (!strcmp(k, "--pages") && n >= 0 && n <= 1000000) o->pages = n;
        else if (!strcmp(k, "--gap-ms") && n >= 0 && n <= 60000) o->gap_ms = n;
        else if (!strcmp(k, "--db-mib") && n > 0 && n <= 65536) o->db_mib = n;
        else if (!strcmp(k, "--frame-kib") && n > 0 && n <= 4096) o->frame_kib = n;
        else return -1;
    }
    return argc % 2 == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: %s [--dir D] [--rate COMMITS/S] [--seconds S] [--pages N]"
                        " [--gap-ms MS] [--db-mib MIB] [--frame-kib KIB]\n", argv[0]);
        return 2;
    }
    ckpt_arg ca = { .o = &o };
    char wal[600];
    snprintf(ca.path, sizeof ca.path, "%s/walsync-db.%d", o.dir, (int)getpid());
    snprintf(wal, sizeof wal, "%s/walsync-wal.%d", o.dir, (int)getpid());
    if (o.pages > 0 && make_db(ca.path, o.db_mib) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", ca.path, strerror(errno));
        return 1;
    }
    int w = open(wal, O_RDWR | O_CREAT | O_TRUNC, 0600);
    size_t frame_len = (size_t)o.frame_kib * 1024;
    char *frame = malloc(frame_len);
    long n = o.rate * o.seconds;
    int64_t *lat = malloc((size_t)n * sizeof *lat);
    if (w < 0 || !frame || !lat) {
        fprintf(stderr, "cannot start: %s\n", strerror(errno));
        return 1;
    }
    memset(frame, 3, frame_len);
    pthread_t th;
    int have_ckpt = o.pages > 0 && pthread_create(&th, NULL, checkpointer, &ca) == 0;
    const off_t cycle = 64 << 20;
    off_t off = 0;
    int64_t t0 = now_us();
    for (long i = 0; i < n; i++) {
        sleep_us(t0 + i * 1000000 / o.rate - now_us());
        int64_t a = now_us();
        if (pwrite(w, frame, frame_len, off) < 0 || fdatasync(w) != 0) {
            fprintf(stderr, "WAL write: %s\n", strerror(errno));
            return 1;
        }
        lat[i] = now_us() - a;
        off = (off + (off_t)frame_len) % cycle;
    }
    ca.stop = 1;
    if (have_ckpt) pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    long over5 = 0;
    for (long i = 0; i < n; i++) over5 += lat[i] > 5000;
    printf("checkpointer %ld pages every %ld ms: WAL fdatasync p50 %.2f p90 %.2f p99 %.2f "
           "p99.9 %.2f max %.2f ms; over 5 ms: %ld of %ld\n", o.pages, o.gap_ms,
           lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3,
           lat[n * 999 / 1000] / 1e3, lat[n - 1] / 1e3, over5, n);
    close(w);
    unlink(wal);
    unlink(ca.path);
    free(frame);
    free(lat);
    return 0;
}
