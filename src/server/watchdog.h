/*
 * watchdog.h: ends parleyd when its network thread stops making progress.
 *
 * A hung event loop serves nobody and, before the watchdog, did not even stop on SIGTERM.
 * A process that exits can be restarted by its supervisor, and nothing acknowledged is lost
 * by exiting (every acknowledged change is committed before its answer is sent), so after
 * `seconds` without a heartbeat the watchdog logs where the network thread is and exits
 * with WATCHDOG_EXIT_CODE.
 *
 * Threads: watchdog_beat() and watchdog_where() are called by the watched thread, the rest
 * by the thread that started the watchdog. Memory: watchdog_start() returns a watchdog that
 * watchdog_stop() frees. Every function accepts NULL (a disabled watchdog).
 */
#ifndef PARLEY_WATCHDOG_H
#define PARLEY_WATCHDOG_H

#include <pthread.h>

/* EX_SOFTWARE: an internal error. */
#define WATCHDOG_EXIT_CODE 70

typedef struct watchdog watchdog;

/* Watches `target`, which must call watchdog_beat() more often than once a second. 0 disables
 * (returns NULL with no error); NULL with errno set if the thread could not start. */
watchdog *watchdog_start(unsigned seconds, pthread_t target);
void watchdog_stop(watchdog *w);

/* The watched thread is alive. */
void watchdog_beat(watchdog *w);
/* What the watched thread is doing now (a string literal), logged if it stops. */
void watchdog_where(watchdog *w, const char *what);

#endif
