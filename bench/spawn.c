/*
 * spawn.c: starting and stopping the parleyd that parley-bench measures (see spawn.h).
 *
 * Readiness is "the port accepts a TCP connection": the bench may use only libc besides
 * libparley, so it cannot speak TLS to /healthz itself, and the first real client request
 * tells it soon enough if the server is not healthy.
 */
#include "spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A port the kernel considers free right now. Another process could take it before parleyd
 * binds it; on this single-user bench machine that race is accepted (parleyd then fails to
 * start and the bench says so). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The lowest Argon2id cost libsodium accepts: accounts are only a means to get session tokens
 * here. max_connections leaves room above the bench's own clients. */
static int write_config(const bench_server *s, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/bench.conf", s->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# written by parley-bench\n"
               "listen = 127.0.0.1:%d\n"
               "data = %s/data\n"
               "log_level = info\n"   /* the store's once-a-minute statistics line */
               "argon2_ops = 1\n"
               "argon2_mem = 8K\n"
               /* every client comes from 127.0.0.1: lift the per-source limits */
               "registrations_per_source_per_hour = 0\n"
               "password_jobs_per_source = 1000\n"
               "login_fail_user = 1000\n"
               "max_connections = %u\n"
               "max_connections_per_source = %u\n",
            s->port, s->dir, s->max_connections, s->max_connections);
    return fclose(f) == 0 ? 0 : -1;
}

static int start(bench_server *s, const char *binary, int timeout_ms, char *err, size_t errlen)
{
    if (s->port <= 0)           /* a restart keeps its port: clients know the URL */
        s->port = free_port();
    if (s->port <= 0) {
        snprintf(err, errlen, "no free port: %s", strerror(errno));
        return -1;
    }
    char conf[320];
    if (write_config(s, conf, sizeof conf) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", conf, strerror(errno));
        return -1;
    }
    snprintf(s->url, sizeof s->url, "wss://127.0.0.1:%d", s->port);
    snprintf(s->ca_file, sizeof s->ca_file, "%s/data/tls/cert.pem", s->dir);
    snprintf(s->log_file, sizeof s->log_file, "%s/parleyd.log", s->dir);

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Own process group: Ctrl-C stops the bench, which then reads the server's final
         * figures and stops it. The death signal covers a bench that is killed outright. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (s->cpu >= 0) {       /* server and load generator on different cores */
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(s->cpu, &set);
            sched_setaffinity(0, sizeof set, &set);
        }
        int fd = open(s->log_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(binary, binary, "--config", conf, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            snprintf(err, errlen, "%s exited at start (status %d); see %s", binary,
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                     s->log_file);
            return -1;
        }
        if (port_open(s->port) && access(s->ca_file, R_OK) == 0)
            return 0;
        sleep_ms(20);
    }
    snprintf(err, errlen, "%s did not listen on port %d within %d ms", binary, s->port,
             timeout_ms);
    server_kill(s);
    return -1;
}

int server_spawn(bench_server *s, const char *binary, unsigned max_connections, int timeout_ms,
                 char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->max_connections = max_connections;
    if (access(binary, X_OK) != 0) {
        snprintf(err, errlen, "%s: %s (build it, or pass --server URL --ca FILE)", binary,
                 strerror(errno));
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/parley-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        snprintf(err, errlen, "mkdtemp %s: %s", s->dir, strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    if (start(s, binary, timeout_ms, err, errlen) != 0) {
        server_stop(s, NULL);
        return -1;
    }
    return 0;
}

void server_kill(bench_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int status;
    for (int waited = 0; waited < 10000; waited += 20) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(20);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
}

int server_restart(bench_server *s, const char *binary, int timeout_ms, char *err,
                   size_t errlen)
{
    server_kill(s);
    return start(s, binary, timeout_ms, err, errlen);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int remove_tree(const char *dir)
{
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies src to dst (created 0600: the log names accounts); 0 or -1. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in >= 0) out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out >= 0) {
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) break;
        rc = n == 0 ? 0 : -1;
        if (close(out) != 0) rc = -1;
    }
    if (in >= 0) close(in);
    return rc;
}

void server_stop(bench_server *s, const char *keep_log)
{
    server_kill(s);
    if (keep_log && s->dir[0] && copy_file(s->log_file, keep_log) != 0)
        fprintf(stderr, "parley-bench: cannot copy %s to %s: %s\n", s->log_file, keep_log,
                strerror(errno));
    if (s->dir[0]) {
        remove_tree(s->dir);
        s->dir[0] = '\0';
    }
}
