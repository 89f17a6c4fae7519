/*
 * main.c: parley-bench's command line. It parses the options, prepares the process (file
 * descriptor limit, signals), picks the target (--target: Parley, or a peer server through
 * its own protocol's client library, see target.h), starts parleyd unless --server names a
 * running server, creates the target's accounts, runs the load or idle measurement (run.c)
 * and prints the report (report.c).
 *
 * The Parley target uses only libparley's public API, so it measures what any client program
 * would get. Network traffic goes only to the URL given (127.0.0.1 by default).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "parley.h"
#include "procstat.h"
#include "report.h"
#include "run.h"
#include "spawn.h"
#include "target.h"

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
        "Usage: %s [options]\n"
        "\n"
        "Load mode (default): N clients in N/2 private chats send to each other at a total\n"
        "open-loop rate; reports delivered messages/s, delivery latency from each message's\n"
        "intended send time (p50/p90/p99/p99.9/max), and server/bench CPU and memory.\n"
        "Idle mode (--idle N): N authenticated idle connections; reports the server's RSS\n"
        "growth per connection.\n"
        "\n"
        "Server (default: spawn parleyd from the bench's own directory):\n"
        "  --spawn PATH         start this parleyd on a free 127.0.0.1 port, temp data dir,\n"
        "                       lowest Argon2id cost; stopped with SIGTERM at the end\n"
        "  --server URL         use a running server, e.g. wss://127.0.0.1:8443\n"
        "  --ca FILE            certificate to trust for --server (e.g. DATA/tls/cert.pem)\n"
        "  --server-pid PID     the --server's process, for its CPU and memory figures\n"
        "  --server-cpu N       pin the spawned parleyd to CPU N (sched_setaffinity)\n"
        "  --server-log FILE    keep the spawned parleyd's log (its warnings, e.g. store\n"
        "                       batches over 100 ms) in FILE; the data dir is removed\n"
        "\n"
        "Target (default parley):\n"
        "  --target NAME        parley | xmpp | mqtt | nats | relay; all but parley need\n"
        "                       --server: xmpp://H:P (plain) or xmpp+starttls://H:P,\n"
        "                       mqtt://H:P or mqtts://H:P, nats://H:P or tls://H:P,\n"
        "                       wss://H:P (relay: bench/relay.c); --ca for the TLS ones\n"
        "  --xmpp-domain D      JID domain (default localhost); accounts bench<i>@D with\n"
        "                       password benchpw<i> must exist (bench/run-peers makes them)\n"
        "\n"
        "Load:\n"
        "  --clients N          clients, even (default 100)\n"
        "  --rate R             messages per second, all clients together (default 1000)\n"
        "  --duration S         measured window in seconds (default 10)\n"
        "  --warmup S           seconds before the window (default 2)\n"
        "  --interval S         also report the latency of each S-second slice of the\n"
        "                       window (by intended send time), to see a tail grow\n"
        "  --grace S            after the window, seconds to wait for the last deliveries\n"
        "                       (default 10)\n"
        "  --size BYTES         message text length, 1-4096 (default 32)\n"
        "  --threads T          client event-loop threads, 1-%d (default 2)\n"
        "  --max-inflight N     unacknowledged sends per thread before it pauses\n"
        "                       (default 200000; paused time still counts as latency)\n"
        "  --fanout             fan-out: the clients form one group (Parley group chat,\n"
        "                       MQTT/NATS topic, relay group); client 0 sends --rate\n"
        "                       messages/s to it, every other member receives each one\n"
        "Idle:\n"
        "  --idle N             open N idle connections (one account each)\n"
        "  --settle S           seconds to wait before each memory sample (default 3)\n"
        "Offline catch-up (Parley only):\n"
        "  --catchup N          N messages (from several accounts) pile up while one device\n"
        "                       of the receiving account is offline; reports how long it\n"
        "                       takes to reconnect and apply them all (up to 100000)\n"
        "Common:\n"
        "  --register-parallel N  concurrent registrations (default 8)\n"
        "  --max-pending N      TLS handshakes in flight per thread (default 200)\n"
        "  --json               print one JSON object (the table goes to stderr)\n"
        "  --quiet              no progress lines\n"
        "  --help\n", prog, BENCH_MAX_THREADS);
}

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Thousands of sockets on both sides: the soft limit (often 1024) would stop us early.
 * Raised to the hard limit; the spawned server inherits it. Returns the new soft limit. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

/* parleyd next to this binary (both are built into $(B)/bin). */
static int default_spawn_path(char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    int w = snprintf(out, outlen, "%s/parleyd", self);
    return w > 0 && (size_t)w < outlen ? 0 : -1;
}

/* 6 random [a-z0-9] characters: account names of different runs never collide. */
static void make_run_id(char out[8])
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t v = mono_ns() ^ ((uint64_t)getpid() << 20);
        for (int i = 0; i < 6; i++, v >>= 8)
            rnd[i] = (unsigned char)v;
    }
    for (int i = 0; i < 6; i++)
        out[i] = al[rnd[i] % 36];
    out[6] = '\0';
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    const char *name;
    double lo, hi;
    double *d;                   /* one of d / i / l is set */
    int *i;
    long *l;
} num_opt;

static const bench_target_ops *find_target(const char *name)
{
    static const bench_target_ops *all[] = {
        &bench_target_parley, &bench_target_xmpp, &bench_target_mqtt, &bench_target_nats,
        &bench_target_relay,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}

static int parse_args(int argc, char **argv, bench_opts *o, int *help)
{
    double pid = 0;
    num_opt nums[] = {
        { "--clients", 2, 200000, NULL, &o->clients, NULL },
        { "--rate", 0.001, 1e7, &o->rate, NULL, NULL },
        { "--duration", 0.1, 86400, &o->duration, NULL, NULL },
        { "--warmup", 0, 3600, &o->warmup, NULL, NULL },
        { "--grace", 0, 3600, &o->grace, NULL, NULL },
        { "--size", 1, 4096, NULL, &o->size, NULL },
        { "--threads", 1, BENCH_MAX_THREADS, NULL, &o->threads, NULL },
        { "--idle", 1, 200000, NULL, &o->idle, NULL },
        { "--catchup", 1, 100000, NULL, &o->catchup, NULL },
        { "--settle", 0, 600, &o->settle, NULL, NULL },
        { "--interval", 1, 86400, &o->interval, NULL, NULL },
        { "--register-parallel", 1, 64, NULL, &o->register_parallel, NULL },
        { "--max-pending", 1, 100000, NULL, &o->max_pending, NULL },
        { "--max-inflight", 1, 1e8, NULL, NULL, &o->max_inflight },
        { "--server-pid", 1, 4194304, &pid, NULL, NULL },
        { "--server-cpu", 0, 4095, NULL, &o->server_cpu, NULL },
    };
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(arg, "--json")) { o->json = 1; continue; }
        if (!strcmp(arg, "--quiet")) { o->quiet = 1; continue; }
        if (!strcmp(arg, "--fanout")) { o->fanout = 1; continue; }
        if (a + 1 >= argc) {
            fprintf(stderr, "parley-bench: unknown option or missing value: %s\n", arg);
            return -1;
        }
        const char *val = argv[++a];
        if (!strcmp(arg, "--server")) { o->server_url = val; continue; }
        if (!strcmp(arg, "--ca")) { o->ca_file = val; continue; }
        if (!strcmp(arg, "--spawn")) { o->spawn_path = val; continue; }
        if (!strcmp(arg, "--server-log")) { o->server_log = val; continue; }
        if (!strcmp(arg, "--target")) { o->target = val; continue; }
        if (!strcmp(arg, "--xmpp-domain")) { o->xmpp_domain = val; continue; }
        size_t k = 0;
        for (; k < sizeof nums / sizeof nums[0]; k++)
            if (!strcmp(arg, nums[k].name))
                break;
        double v;
        if (k == sizeof nums / sizeof nums[0]) {
            fprintf(stderr, "parley-bench: unknown option %s (see --help)\n", arg);
            return -1;
        }
        if (parse_num(val, nums[k].lo, nums[k].hi, &v) != 0) {
            fprintf(stderr, "parley-bench: %s: bad value '%s' (%g..%g)\n", arg, val, nums[k].lo,
                    nums[k].hi);
            return -1;
        }
        if (nums[k].d) *nums[k].d = v;
        if (nums[k].i) *nums[k].i = (int)v;
        if (nums[k].l) *nums[k].l = (long)v;
    }
    o->server_pid = (pid_t)pid;
    if (o->clients % 2 && !o->fanout) {
        fprintf(stderr, "parley-bench: --clients must be even (clients are paired)\n");
        return -1;
    }
    if (!find_target(o->target)) {
        fprintf(stderr, "parley-bench: unknown --target %s (parley, xmpp, mqtt, nats, relay)\n",
                o->target);
        return -1;
    }
    if (o->catchup > 0 && (strcmp(o->target, "parley") || o->idle > 0 || o->fanout)) {
        fprintf(stderr, "parley-bench: --catchup is a Parley scenario of its own\n");
        return -1;
    }
    if (strcmp(o->target, "parley") && !o->server_url) {
        fprintf(stderr, "parley-bench: --target %s needs --server URL\n", o->target);
        return -1;
    }
    if (o->server_url && o->spawn_path) {
        fprintf(stderr, "parley-bench: give --server or --spawn, not both\n");
        return -1;
    }
    return 0;
}

static void defaults(bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->clients = 100;
    o->rate = 1000;
    o->duration = 10;
    o->warmup = 2;
    o->grace = 10;
    o->settle = 3;
    o->size = 32;
    o->threads = online_cpus() >= 2 ? 2 : 1;
    o->register_parallel = 8;
    o->max_pending = 200;
    o->max_inflight = 200000;
    o->target = "parley";
    o->xmpp_domain = "localhost";
    o->server_cpu = -1;
}

/* Everything after option parsing; split from main so cleanup has one path. */
static int run(bench_opts *o, bench_server *srv)
{
    char err[512] = "";
    int n = o->idle > 0 ? o->idle : o->clients;
    long nofile = raise_nofile();
    if (nofile > 0 && nofile < (long)n + 64 && !o->quiet)
        fprintf(stderr, "warning: file descriptor limit %ld is below %d connections\n", nofile, n);
    if (o->spawn_path) {
        srv->cpu = o->server_cpu;
        if (server_spawn(srv, o->spawn_path, (unsigned)n + 1000, 20000, err, sizeof err) != 0) {
            fprintf(stderr, "parley-bench: %s\n", err);
            return 1;
        }
        o->server_url = srv->url;
        if (!o->ca_file)
            o->ca_file = srv->ca_file;
        o->server_pid = srv->pid;
        if (!o->quiet)
            fprintf(stderr, "spawned parleyd pid %d at %s (log %s)\n", (int)srv->pid, srv->url,
                    srv->log_file);
    }
    char run_id[8];
    make_run_id(run_id);
    if (o->catchup > 0) {
        int crc = bench_run_catchup(o, run_id, err, sizeof err);
        if (crc < 0) fprintf(stderr, "parley-bench: %s\n", err);
        return crc == 0 ? 0 : 1;
    }
    const bench_target_ops *ops = find_target(o->target);
    bench_target_config tc = { o->server_url, o->ca_file, o->xmpp_domain, run_id, n,
                               o->fanout && o->idle == 0, o->register_parallel, !o->quiet };
    bench_target *t = ops->create(&tc, err, sizeof err);
    if (!t) {
        fprintf(stderr, "parley-bench: %s\n", err);
        return 1;
    }
    /* Idle mode measures a fresh server: the registrations' freed memory (Argon2 buffers,
     * their connections) would otherwise be reused by the idle connections and hide their
     * cost. The data directory, and so the accounts, survive the restart. */
    if (o->idle > 0 && o->spawn_path && !bench_stop) {
        if (server_restart(srv, o->spawn_path, 20000, err, sizeof err) != 0) {
            fprintf(stderr, "parley-bench: restarting parleyd: %s\n", err);
            ops->target_free(t);
            return 1;
        }
        o->server_pid = srv->pid;
    }
    static bench_result r;       /* about 70 KiB of histograms: not on the stack */
    memset(&r, 0, sizeof r);
    if (!o->quiet)
        fprintf(stderr, o->idle > 0 ? "connecting %d idle clients...\n"
                                    : "connecting %d clients and running...\n", n);
    int rc = o->idle > 0 ? bench_run_idle(ops, t, o, &r, err, sizeof err)
                         : bench_run_load(ops, t, o, &r, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "parley-bench: %s\n", err);
        ops->target_free(t);
        return 1;
    }
    report_text(o->json ? stderr : stdout, o, &r, ops);
    if (o->json)
        report_json(stdout, o, &r, ops);
    ops->target_free(t);
    return r.clients_ready == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    bench_opts o;
    defaults(&o);
    int help = 0;
    if (parse_args(argc, argv, &o, &help) != 0)
        return 2;
    if (help) {
        usage(stdout, argv[0]);
        return 0;
    }
    char spawn_path[PATH_MAX];
    if (!o.server_url && !o.spawn_path && !strcmp(o.target, "parley")) {
        if (default_spawn_path(spawn_path, sizeof spawn_path) != 0) {
            fprintf(stderr, "parley-bench: cannot find parleyd; use --spawn or --server\n");
            return 2;
        }
        o.spawn_path = spawn_path;
    }
    install_signals();
    bench_server srv;
    memset(&srv, 0, sizeof srv);
    int rc = run(&o, &srv);
    server_stop(&srv, o.server_log);
    return rc;
}
