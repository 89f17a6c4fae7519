/*
 * watchdog.c: a thread that checks once a second that the network thread's heartbeat moved
 * (see watchdog.h for why it exits instead of waiting).
 *
 * It counts its own wake-ups without a beat rather than elapsed time: if the whole process
 * was stopped (SIGSTOP, a suspended machine), both threads were, and the first wake-up after
 * it must not count the pause as a hang.
 *
 * Where the thread is: the phase it last declared with watchdog_where(), its kernel state
 * from /proc (wchan, the system call it is in), and a backtrace it prints itself when asked
 * with SIGUSR2. A thread spinning in user space answers that signal; one stopped by a
 * debugger or stuck in an uninterruptible wait does not, and then the watchdog says so and
 * exits after a second anyway.
 */
#include "watchdog.h"

#include "log.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DUMP_SIGNAL SIGUSR2
#define BACKTRACE_FRAMES 64

struct watchdog {
    pthread_t thread, target;
    pid_t target_tid;
    unsigned seconds;
    atomic_uint_fast64_t beat;
    _Atomic(const char *) where;
    pthread_mutex_t lock;      /* guards stopping */
    pthread_cond_t cond;
    int stopping;
};

/* Set by the signal handler when the backtrace is written: a handler can reach nothing
 * but globals, and one process has one watchdog. */
static atomic_int dump_written;

static void on_dump_signal(int sig)
{
    (void)sig;
    void *frames[BACKTRACE_FRAMES];
    int n = backtrace(frames, BACKTRACE_FRAMES);
    static const char head[] = "watchdog: backtrace of the network thread:\n";
    ssize_t ignored = write(STDERR_FILENO, head, sizeof head - 1);  /* stderr is the log */
    (void)ignored;
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    atomic_store(&dump_written, 1);
}

/* One line of /proc/self/task/TID/<name>, without its newline; "" if unreadable. */
static void read_task_file(pid_t tid, const char *name, char *out, size_t outlen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, name);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    if (n < 0) n = 0;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

static void report_and_exit(watchdog *w)
{
    char wchan[64], sysc[128], stat[256];
    read_task_file(w->target_tid, "wchan", wchan, sizeof wchan);
    read_task_file(w->target_tid, "syscall", sysc, sizeof sysc);
    read_task_file(w->target_tid, "stat", stat, sizeof stat);
    /* The state letter follows the ") " that ends the thread's name. */
    const char *st = strrchr(stat, ')');
    char state = st && st[1] == ' ' ? st[2] : '?';
    const char *where = atomic_load(&w->where);
    log_error("watchdog: the network thread made no progress for %u s; it was in: %s "
              "(thread state %c, wchan %s, syscall %s); exiting so that a supervisor restarts "
              "parleyd", w->seconds, where ? where : "?", state, wchan[0] ? wchan : "?",
              sysc[0] ? sysc : "?");
    if (pthread_kill(w->target, DUMP_SIGNAL) == 0) {
        for (int i = 0; i < 100 && !atomic_load(&dump_written); i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (!atomic_load(&dump_written))
        log_error("watchdog: no backtrace (the network thread does not run its signal handler)");
    _exit(WATCHDOG_EXIT_CODE);
}

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    uint_fast64_t last = atomic_load(&w->beat);
    unsigned missed = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        int rc = 0;
        while (!w->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&w->cond, &w->lock, &until);
        if (w->stopping) break;
        uint_fast64_t now = atomic_load(&w->beat);
        missed = now == last ? missed + 1 : 0;
        last = now;
        if (missed >= w->seconds) report_and_exit(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

watchdog *watchdog_start(unsigned seconds, pthread_t target)
{
    if (seconds == 0) return NULL;
    watchdog *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->seconds = seconds;
    w->target = target;
    w->target_tid = (pid_t)syscall(SYS_gettid);  /* called on the watched thread */
    atomic_init(&w->beat, 0);
    atomic_init(&w->where, "starting");
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* backtrace() loads libgcc on its first call, which may allocate: not in a handler. */
    void *warm[4];
    backtrace(warm, 4);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_dump_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(DUMP_SIGNAL, &sa, NULL);
    int rc = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (rc != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        errno = rc;
        return NULL;
    }
    return w;
}

void watchdog_stop(watchdog *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void watchdog_beat(watchdog *w)
{
    if (w) atomic_fetch_add_explicit(&w->beat, 1, memory_order_relaxed);
}

void watchdog_where(watchdog *w, const char *what)
{
    if (w) atomic_store_explicit(&w->where, what, memory_order_relaxed);
}
