/*
 * spawn.h: parley-bench's own parleyd. With --spawn (the default) the bench runs the server
 * it measures: a fresh temporary data directory, a free 127.0.0.1 port, and a config file
 * that lowers the Argon2id cost (registering thousands of bench accounts at the production
 * cost would take minutes and measure nothing the run is about) and raises the connection
 * limit. It is stopped with SIGTERM at the end and the directory is removed.
 *
 * Memory: a bench_server is owned by the caller, filled by server_spawn() and released by
 * server_stop(). Not thread-safe; used from the main thread only.
 */
#ifndef BENCH_SPAWN_H
#define BENCH_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;                   /* 0 when not running */
    int port;
    char dir[256];               /* temporary data directory (removed by server_stop) */
    char url[64];                /* "wss://127.0.0.1:PORT" */
    char ca_file[320];           /* the server's self-signed certificate */
    char log_file[320];          /* the server's stderr */
    unsigned max_connections;
    int cpu;                     /* pin the server to this CPU (set before spawning), or -1 */
} bench_server;

/* Starts `binary` and waits (at most timeout_ms) until it accepts TCP connections.
 * max_connections is written to its config. 0 or -1 with a reason in err. */
int server_spawn(bench_server *s, const char *binary, unsigned max_connections, int timeout_ms,
                 char *err, size_t errlen);
/* Stops the server (SIGTERM, then SIGKILL after 10 s) but keeps its data directory, so
 * server_restart() can start it again on the same accounts. */
void server_kill(bench_server *s);
int server_restart(bench_server *s, const char *binary, int timeout_ms, char *err,
                   size_t errlen);
/* Removes dir and everything under it (without following symlinks); 0 or -1. */
int remove_tree(const char *dir);
/* server_kill() and remove the data directory; keep_log (or NULL) first gets a copy of the
 * server's log. Safe to call twice. */
void server_stop(bench_server *s, const char *keep_log);

#endif
