/*
 * sfu_bench.c: parley-sfu-bench, the SFU load generator. It acts as P publishers and S
 * subscribers against one SFU, each a real WebRTC-shaped endpoint on its own UDP socket
 * (bench_peer.c: ICE, DTLS client, SRTP), signalled by a target (bench.h): --target
 * parley-sfu (default; starts parley-sfu, or --sfu BIN) or --target janus (a running Janus
 * VideoRoom at --janus URL, its pid given with --janus-pid for CPU and memory). Publishers
 * send Opus-shaped audio and VP8-shaped video, three simulcast layers or, with --video-pps N,
 * one stream at N pkt/s (the shape both targets share, bench/sfu/janus-compare), with the
 * send time in the payload; they answer PLIs with a keyframe. Every subscriber subscribes to
 * every publisher. Reported: packets the subscribers received per second (= forwarded), the
 * added latency p50/p99 (send to receive, both on this machine), the SFU's CPU and its RSS
 * growth per participant. --measure K: only the first K subscribers decrypt and time packets,
 * the rest only count datagrams, so the bench is not the limit at many receivers.
 * Loopback only; bounded by --seconds.
 */
#include "bench.h"
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double proc_cpu_s(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    fclose(f);
    return kb;
}

static void defaults(options *o) {
    memset(o, 0, sizeof *o);
    o->target = "parley-sfu";
    o->janus_url = "http://127.0.0.1:8088/janus";
    o->bind.s_addr = htonl(INADDR_LOOPBACK);
    o->publishers = 4; o->subscribers = 8; o->height = 180; o->seconds = 10;
    o->pps[0] = 50; o->pps[1] = 60; o->pps[2] = 120; o->pps[3] = 240;
    o->payload = 900;
    o->measure = -1;
}

static int parse_args(int argc, char **argv, options *o) {
    defaults(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        if (!strcmp(a, "--sfu")) o->sfu_bin = v;
        else if (!strcmp(a, "--target")) o->target = v;
        else if (!strcmp(a, "--janus")) o->janus_url = v;
        else if (!strcmp(a, "--janus-pid")) o->janus_pid = atoi(v);
        else if (!strcmp(a, "--bind")) { if (inet_pton(AF_INET, v, &o->bind) != 1) return -1; }
        else if (!strcmp(a, "--publishers")) o->publishers = atoi(v);
        else if (!strcmp(a, "--subscribers")) o->subscribers = atoi(v);
        else if (!strcmp(a, "--height")) o->height = atoi(v);
        else if (!strcmp(a, "--seconds")) o->seconds = atoi(v);
        else if (!strcmp(a, "--payload")) o->payload = atoi(v);
        else if (!strcmp(a, "--measure")) o->measure = atoi(v);
        else if (!strcmp(a, "--video-pps")) {
            o->single = true; o->pps[1] = atoi(v); o->pps[2] = o->pps[3] = 0;
        } else if (!strcmp(a, "--layer-pps")) {
            if (sscanf(v, "%d,%d,%d", &o->pps[1], &o->pps[2], &o->pps[3]) != 3) return -1;
        } else return -1;
        i++;
    }
    bool janus = !strcmp(o->target, "janus");
    if (!janus && strcmp(o->target, "parley-sfu")) return -1;
    if (janus && (o->janus_pid <= 0 || !o->single)) return -1; /* Janus: one video stream */
    if (o->publishers < 1 || o->subscribers < 1 || o->publishers + o->subscribers > 1000 ||
        o->seconds < 1 || o->seconds > 600 || o->payload < 0 || o->payload > 1200 ||
        o->pps[1] < 1 || o->pps[1] > 2000)
        return -1;
    return 0;
}

/* Packets per second one subscriber should get from one publisher. */
static int expected_pps(const options *o) {
    if (o->single) return o->pps[0] + o->pps[1];
    return o->pps[0] + (o->height >= 720 ? o->pps[3] : o->height >= 360 ? o->pps[2] : o->pps[1]);
}

typedef struct {
    double secs, cpu;
    uint64_t rx;
    long rss0, rss1;
} result;

static void report(const options *o, const bench_target *t, const result *r) {
    const uint64_t *lat;
    size_t n_lat = peers_latency_sort(&lat);
    double p50 = n_lat ? (double)lat[n_lat / 2] / 1e6 : 0, p99 = n_lat ? (double)lat[n_lat * 99 / 100] / 1e6 : 0;
    int n = o->publishers + o->subscribers;
    printf("sfu-bench: target %s publishers %d subscribers %d height %d seconds %.1f\n", t->name,
           o->publishers, o->subscribers, o->height, r->secs);
    if (o->single)
        printf("  shape: per publisher audio %d pkt/s + one VP8 stream %d pkt/s (%d-byte payloads), "
               "no simulcast; every subscriber takes every publisher\n", o->pps[0], o->pps[1], o->payload);
    printf("  sent per publisher: audio %d + layers %d/%d/%d pkt/s; expected forwarded %d pkt/s\n",
           o->pps[0], o->pps[1], o->pps[2], o->pps[3], expected_pps(o) * o->publishers * o->subscribers);
    printf("  forwarded (received by subscribers): %.0f pkt/s\n", (double)r->rx / r->secs);
    printf("  added latency: p50 %.3f ms p99 %.3f ms (%zu samples)\n", p50, p99, n_lat);
    printf("  sfu cpu: %.1f%% of one core (%.0f forwarded pkt/s per core-second)\n",
           100 * r->cpu / r->secs, r->cpu > 0 ? (double)r->rx / r->cpu : 0);
    printf("  sfu rss: %ld KiB before participants, %ld KiB after; %.1f KiB per participant\n",
           r->rss0, r->rss1, (double)(r->rss1 - r->rss0) / n);
}

/* Signals and connects everyone: publishers first (all connected before any subscriber is
 * signalled: Janus only lets subscribers join feeds whose PeerConnection is up). */
static int setup_peers(const bench_target *t, peer *peers, struct pollfd *pf, sfu_dtls_ctx *dctx,
                       const options *o) {
    int n = o->publishers + o->subscribers;
    const char *fp = sfu_dtls_ctx_fingerprint(dctx);
    for (int phase = 0; phase < 2; phase++) {
        int from = phase ? o->publishers : 0, to = phase ? n : o->publishers;
        for (int i = from; i < to; i++) {
            if (peer_open(&peers[i], (uint32_t)i + 1, i < o->publishers, dctx, o->bind) < 0) return -1;
            peers[i].count_only = i >= o->publishers && o->measure >= 0 && i - o->publishers >= o->measure;
            pf[i].fd = peers[i].fd;
            pf[i].events = POLLIN;
            if (t->add(&peers[i], peers, o->publishers, fp, o) < 0) return -1;
        }
        if (peers_connect(peers, to, peers + from, to - from, pf) < 0) {
            fprintf(stderr, "ICE/DTLS did not complete for all %s\n", phase ? "subscribers" : "publishers");
            return -1;
        }
    }
    return t->subscribe ? t->subscribe(peers, n, o) : 0;
}

static int run(const bench_target *t, peer *peers, struct pollfd *pf, sfu_dtls_ctx *dctx, const options *o) {
    pid_t pid = t->start(o);
    if (pid <= 0) return -1;
    result r = { .rss0 = proc_rss_kb(pid) };
    int n = o->publishers + o->subscribers;
    if (setup_peers(t, peers, pf, dctx, o) < 0) return -1;
    /* Warm-up: keyframes reach every subscriber, layers get measured. */
    peers_run_load(peers, o->publishers, n, pf, o, 2000000000ull);
    uint64_t rx0 = 0;
    for (int i = 0; i < n; i++) rx0 += peers[i].received;
    peers_latency_reset();
    double cpu0 = proc_cpu_s(pid);
    uint64_t t0 = now_ns();
    peers_run_load(peers, o->publishers, n, pf, o, (uint64_t)o->seconds * 1000000000ull);
    r.secs = (double)(now_ns() - t0) / 1e9;
    r.cpu = proc_cpu_s(pid) - cpu0;
    r.rss1 = proc_rss_kb(pid);
    for (int i = 0; i < n; i++) r.rx += peers[i].received;
    r.rx -= rx0;
    report(o, t, &r);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: parley-sfu-bench [--target parley-sfu|janus] [--sfu BIN] "
                    "[--janus URL --janus-pid PID] [--bind ADDR] [--publishers P] [--subscribers S] [--height H] "
                    "[--seconds T] [--payload BYTES] [--layer-pps A,B,C | --video-pps N] [--measure K]\n"
                    "  --target janus needs --janus-pid and --video-pps (one video stream)\n");
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) < 0) { usage(); return 2; }
    signal(SIGPIPE, SIG_IGN);
    char bin[600];
    if (!o.sfu_bin) {
        char exe[512];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return 1;
        exe[n] = 0;
        *strrchr(exe, '/') = 0;
        snprintf(bin, sizeof bin, "%s/parley-sfu", exe);
        o.sfu_bin = bin;
    }
    const bench_target *t = !strcmp(o.target, "janus") ? &target_janus : &target_parley_sfu;
    char err[128];
    sfu_dtls_ctx *dctx = sfu_dtls_ctx_new(err, sizeof err);
    int n = o.publishers + o.subscribers;
    peer *peers = calloc((size_t)n, sizeof *peers);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    int rc = 1;
    if (!dctx || !peers || !pf) fprintf(stderr, "setup failed\n");
    else rc = run(t, peers, pf, dctx, &o) < 0;
    t->stop();
    for (int i = 0; peers && i < n; i++) peer_close(&peers[i]);
    free(peers);
    free(pf);
    sfu_dtls_ctx_free(dctx);
    return rc;
}
