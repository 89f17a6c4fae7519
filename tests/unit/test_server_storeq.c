/* test_server_storeq.c: the store thread's slow-batch log. With the threshold below zero
 * every batch counts as slow, so the log line can be checked without depending on how long
 * anything took: it names the batch size and where the time went (begin, requests, commit
 * split into write+fsync and checkpoint, WAL frames), and a scrub after a deletion is logged
 * the same way. A threshold no batch reaches logs nothing. stderr is captured in a file. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"
#include "storeq.h"

typedef struct {
    storeq_job sq;
    int scrub;                 /* report "content deleted", so the thread scrubs */
    int64_t user;
} test_job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int woken, done_count;

static store_rc job_run(store *s, storeq_job *sq)
{
    test_job *j = (test_job *)sq;
    static int n;
    char name[32];
    snprintf(name, sizeof name, "slowlog%d", ++n);
    store_rc rc = store_user_create(s, name, "$argon2id$fake", 1000, &j->user);
    sq->scrub = j->scrub;
    return rc;
}

static void job_done(storeq_job *sq)
{
    CHECK_EQ_INT(sq->rc, STORE_OK);
    done_count++;
    free(sq);
}

static void job_discard(storeq_job *sq)
{
    free(sq);
}

static void wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    woken = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

/* Submits one job and waits until it has come back. */
static void run_one(storeq *q, int scrub)
{
    test_job *j = calloc(1, sizeof *j);
    j->sq.run = job_run;
    j->sq.done = job_done;
    j->sq.discard = job_discard;
    j->scrub = scrub;
    int before = done_count;
    CHECK_EQ_INT(storeq_submit(q, &j->sq), 0);
    while (done_count == before) {
        pthread_mutex_lock(&lock);
        while (!woken) pthread_cond_wait(&cond, &lock);
        woken = 0;
        pthread_mutex_unlock(&lock);
        storeq_drain(q);
    }
}

/* Runs `jobs` single-job batches with the given threshold (ms) and returns what the store
 * thread wrote to stderr (caller frees). The queue is stopped before reading, so a scrub
 * owed at the end has run and logged too. */
static char *capture_with(int64_t slow_ms, int64_t stats_ms, int jobs, int scrub)
{
    char *dir = tmp_make();
    char path[4200];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    store *s = open_in(dir);
    storeq *q = s ? storeq_start(s, wake, NULL) : NULL;
    if (q) {
        storeq_log_slow(q, slow_ms);
        storeq_stats_every(q, stats_ms);
        for (int i = 0; i < jobs; i++) run_one(q, scrub);
        storeq_stop(q);
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK(q != NULL);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    if (pread(fd, text, (size_t)len, 0) != len) text[0] = '\0';
    close(fd);
    tmp_remove(dir);
    return text;
}

static char *capture(int64_t slow_ms, int jobs, int scrub)
{
    return capture_with(slow_ms, 3600 * 1000, jobs, scrub);   /* no statistics line */
}

TEST(every_batch_logged_with_its_parts)
{
    char *log = capture(-1, 3, 0);
    CHECK(strstr(log, "store: batch of 1 took ") != NULL);
    CHECK(strstr(log, "(begin ") != NULL);
    CHECK(strstr(log, "requests ") != NULL);
    CHECK(strstr(log, "commit ") != NULL);
    CHECK(strstr(log, "write and fsync ") != NULL);
    CHECK(strstr(log, "checkpoint ") != NULL);
    CHECK(strstr(log, "WAL ") != NULL);
    if (access("/proc/thread-self/schedstat", R_OK) == 0)
        CHECK(strstr(log, "on CPU ") && strstr(log, "waiting for a CPU ") && strstr(log, "blocked "));
    /* three batches, three lines */
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "store: batch of")); p++) lines++;
    CHECK_EQ_INT(lines, 3);
    if (lines != 3) fprintf(stderr, "%s", log);
    free(log);
}

TEST(scrub_logged)
{
    char *log = capture(-1, 1, 1);
    CHECK(strstr(log, "store: scrub (WAL checkpoint and truncate after deletions) took ") != NULL);
    free(log);
}

TEST(statistics_line_sums_up_the_batches)
{
    char *log = capture_with(1000000, 0, 2, 0);    /* a line after every batch */
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "store: last ")); p++) lines++;
    CHECK_EQ_INT(lines, 2);
    CHECK(strstr(log, " 1 batches, 1 requests, busy ") != NULL);
    CHECK(strstr(log, "; batch p50 <= ") && strstr(log, " p99 <= ") && strstr(log, " max "));
    CHECK(strstr(log, "write and fsync max ") != NULL);
    CHECK(strstr(log, " pages read from disk; checkpoints: ") != NULL);
    if (lines != 2) fprintf(stderr, "%s", log);
    free(log);
    log = capture(1000000, 3, 0);                   /* the default period: none in a test */
    CHECK(strstr(log, "store: last ") == NULL);
    free(log);
}

TEST(fast_batches_not_logged)
{
    char *log = capture(1000000, 3, 1);   /* 1000 s: no batch takes that long */
    CHECK(strstr(log, "store: batch") == NULL);
    CHECK(strstr(log, "store: scrub") == NULL);
    free(log);
}

int main(void)
{
    RUN(every_batch_logged_with_its_parts);
    RUN(scrub_logged);
    RUN(statistics_line_sums_up_the_batches);
    RUN(fast_batches_not_logged);
    return UNIT_DONE("storeq");
}
