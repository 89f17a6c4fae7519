/*
 * sfu_bench.c: parley-sfu-bench, the SFU load generator (first version). It starts a
 * parley-sfu (or uses --control PATH of a running one), creates a room over the control
 * socket and acts as P publishers and S subscribers, each a real WebRTC-shaped endpoint on
 * its own UDP socket: STUN Binding with USE-CANDIDATE, DTLS client handshake (dtls.c in
 * client mode), SRTP (libsrtp2). Publishers send synthetic VP8-shaped RTP on three simulcast
 * layers plus Opus-shaped audio, with the send time (CLOCK_MONOTONIC ns) inside the payload;
 * they answer PLIs with a keyframe. Every subscriber subscribes to every publisher at
 * --height. Reported: packets the subscribers received per second (= forwarded), the added
 * latency p50/p99 (send to receive, both on this machine), the SFU's CPU and its RSS growth
 * per participant. --measure K: only the first K subscribers decrypt and time packets, the
 * rest only count datagrams, so the bench is not the limit at many receivers.
 * Loopback only; bounded by --seconds.
 */
#include "dtls.h"
#include "rtp.h"
#include "sfu.pb-c.h"
#include "srtp.h"
#include "stun.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    uint32_t id;
    bool publisher;
    bool count_only;               /* --measure: count SRTP datagrams, no decrypt/timing */
    char ufrag[16], pwd[40];       /* ours */
    char sfu_ufrag[16], sfu_pwd[40];
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    uint32_t ssrc[4];              /* audio, layers 0..2 */
    uint16_t seq[4];
    bool key_wanted[4];
    uint64_t frames;
    uint64_t received;
} peer;

static struct sockaddr_in sfu_addr;
static uint64_t *lat;
static size_t n_lat, cap_lat;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void peer_send(void *arg, const uint8_t *d, size_t n) {
    peer *p = arg;
    sendto(p->fd, d, n, 0, (struct sockaddr *)&sfu_addr, sizeof sfu_addr);
}

/* --- control channel (blocking) --- */
static int ctl_fd = -1;

static Parley__Sfu__FromSfu *ctl_call(Parley__Sfu__ToSfu *q) {
    size_t n = parley__sfu__to_sfu__get_packed_size(q);
    uint8_t *b = malloc(n + 4);
    if (!b) return NULL;
    b[0] = (uint8_t)(n >> 24); b[1] = (uint8_t)(n >> 16); b[2] = (uint8_t)(n >> 8); b[3] = (uint8_t)n;
    parley__sfu__to_sfu__pack(q, b + 4);
    ssize_t w = write(ctl_fd, b, n + 4);
    free(b);
    if (w != (ssize_t)(n + 4)) return NULL;
    for (;;) {
        uint8_t h[4];
        if (read(ctl_fd, h, 4) != 4) return NULL;
        size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        uint8_t *m = malloc(len ? len : 1);
        size_t got = 0;
        while (m && got < len) {
            ssize_t r = read(ctl_fd, m + got, len - got);
            if (r <= 0) { free(m); return NULL; }
            got += (size_t)r;
        }
        Parley__Sfu__FromSfu *f = m ? parley__sfu__from_sfu__unpack(NULL, len, m) : NULL;
        free(m);
        if (!f) return NULL;
        if (f->msg_case == PARLEY__SFU__FROM_SFU__MSG_RESPONSE && f->response->id == q->id) return f;
        parley__sfu__from_sfu__free_unpacked(f, NULL); /* events: not used by this version */
    }
}

static uint64_t next_id = 1;

static int ctl_simple(Parley__Sfu__ToSfu *q) {
    q->id = next_id++;
    Parley__Sfu__FromSfu *f = ctl_call(q);
    int ok = f && f->response->ok ? 0 : -1;
    if (f && !f->response->ok) fprintf(stderr, "sfu: %s\n", f->response->error);
    if (f) parley__sfu__from_sfu__free_unpacked(f, NULL);
    return ok;
}

static void make_offer(peer *p, const char *fp, char *out, size_t cap) {
    int n = snprintf(out, cap,
        "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:actpass\r\n"
        "a=mid:0\r\na=%s\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n",
        p->id, p->ufrag, p->pwd, fp, p->publisher ? "sendonly" : "recvonly");
    if (p->publisher)
        n += snprintf(out + n, cap - (size_t)n, "a=ssrc:%u cname:b\r\n", p->ssrc[0]);
    n += snprintf(out + n, cap - (size_t)n,
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=%s\r\na=rtcp-mux\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n",
        p->publisher ? "sendonly" : "recvonly");
    if (p->publisher)
        snprintf(out + n, cap - (size_t)n, "a=ssrc-group:SIM %u %u %u\r\na=ssrc:%u cname:b\r\n"
                 "a=ssrc:%u cname:b\r\na=ssrc:%u cname:b\r\n", p->ssrc[1], p->ssrc[2], p->ssrc[3],
                 p->ssrc[1], p->ssrc[2], p->ssrc[3]);
}

static int add_peer(peer *p, const char *fp) {
    static char offer[4096];
    make_offer(p, fp, offer, sizeof offer);
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__AddParticipant a = PARLEY__SFU__ADD_PARTICIPANT__INIT;
    a.room = 1; a.participant = p->id; a.offer_sdp = offer;
    q.id = next_id++; q.op_case = PARLEY__SFU__TO_SFU__OP_ADD_PARTICIPANT; q.add_participant = &a;
    Parley__Sfu__FromSfu *f = ctl_call(&q);
    if (!f || !f->response->ok) {
        fprintf(stderr, "add participant %u: %s\n", p->id, f ? f->response->error : "no answer");
        if (f) parley__sfu__from_sfu__free_unpacked(f, NULL);
        return -1;
    }
    snprintf(p->sfu_ufrag, sizeof p->sfu_ufrag, "%s", f->response->ice_ufrag);
    snprintf(p->sfu_pwd, sizeof p->sfu_pwd, "%s", f->response->ice_pwd);
    parley__sfu__from_sfu__free_unpacked(f, NULL);
    return 0;
}

/* Handles one datagram arriving at a bench peer. */
static void on_datagram(peer *p, uint8_t *b, size_t n, uint64_t t) {
    if (b[0] >= 20 && b[0] <= 63 && p->dtls) { sfu_dtls_input(p->dtls, b, n); return; }
    if (b[0] < 128 || b[0] > 191 || !p->srtp) return;
    bool rtcp = rtp_is_rtcp(b, n);
    if (p->count_only && !rtcp) { p->received++; return; } /* cheap receiver */
    if (rtcp) {
        if (sfu_srtcp_unprotect(p->srtp, b, &n) < 0) return;
        size_t off = 0;
        rtcp_pkt r;
        while (rtcp_next(b, n, &off, &r) == 1)
            if (r.pt == RTCP_PSFB && (r.fmt == RTCP_FMT_PLI || r.fmt == RTCP_FMT_FIR))
                for (int l = 1; l < 4; l++) if (p->ssrc[l] == r.media_ssrc) p->key_wanted[l] = true;
        return;
    }
    if (sfu_srtp_unprotect(p->srtp, b, &n) < 0) return;
    rtp_hdr h;
    if (rtp_parse(b, n, &h) < 0) return;
    size_t at = h.pt == 96 ? 3 : 0; /* video: VP8 descriptor + payload header + layer byte */
    if (h.payload_len < at + 8) return;
    uint64_t sent;
    memcpy(&sent, h.payload + at, 8);
    p->received++;
    if (n_lat == cap_lat) {
        size_t cap = cap_lat ? cap_lat * 2 : 1 << 16;
        uint64_t *nl = realloc(lat, cap * sizeof *nl);
        if (!nl) return;
        lat = nl;
        cap_lat = cap;
    }
    lat[n_lat++] = t > sent ? t - sent : 0;
}

static void drain(peer *peers, int n, struct pollfd *pf, int timeout_ms) {
    if (poll(pf, (nfds_t)n, timeout_ms) <= 0) return;
    /* recvmmsg: one syscall per batch of datagrams, so the bench's cost per receiver stays low. */
    enum { BATCH = 32 };
    static uint8_t b[BATCH][2048];
    struct mmsghdr mh[BATCH];
    struct iovec iov[BATCH];
    /* recvmmsg only writes msg_len and msg_flags: the headers are set up once per call. */
    memset(mh, 0, sizeof mh);
    for (int k = 0; k < BATCH; k++) {
        iov[k].iov_base = b[k]; iov[k].iov_len = sizeof b[k];
        mh[k].msg_hdr.msg_iov = &iov[k]; mh[k].msg_hdr.msg_iovlen = 1;
    }
    for (int i = 0; i < n; i++) {
        if (!(pf[i].revents & POLLIN)) continue;
        int r;
        do {
            r = recvmmsg(peers[i].fd, mh, BATCH, MSG_DONTWAIT, NULL);
            uint64_t t = now_ns();
            for (int k = 0; k < r; k++) on_datagram(&peers[i], b[k], mh[k].msg_len, t);
        } while (r == BATCH);
    }
}

static void send_rtp(peer *p, int stream, bool key, size_t payload) {
    uint8_t b[1400 + SFU_SRTP_TRAILER];
    uint32_t ts = (uint32_t)(p->frames * (stream ? 3000 : 960));
    size_t n = rtp_write_header(b, sizeof b, stream ? 96 : 111, stream != 0, p->seq[stream]++, ts, p->ssrc[stream]);
    if (stream == 0) { /* audio level extension, id 1 */
        b[0] |= 0x10;
        b[n++] = 0xbe; b[n++] = 0xde; b[n++] = 0; b[n++] = 1;
        b[n++] = 0x10; b[n++] = (uint8_t)(0x80 | (p->id % 60)); b[n++] = 0; b[n++] = 0;
    } else {
        b[n++] = 0x10;
        b[n++] = key ? 0x00 : 0x01;
        b[n++] = (uint8_t)stream;
    }
    uint64_t t = now_ns();
    memcpy(b + n, &t, 8);
    n += 8;
    memset(b + n, 0xab, payload);
    n += payload;
    if (sfu_srtp_protect(p->srtp, b, &n, sizeof b) == 0)
        sendto(p->fd, b, n, 0, (struct sockaddr *)&sfu_addr, sizeof sfu_addr);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

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

typedef struct {
    const char *sfu_bin, *control;
    int publishers, subscribers, height, seconds;
    int pps[4]; /* audio, layer 0..2 packets per second per publisher */
    int payload;
    int measure; /* subscribers that decrypt and time packets; -1 = all */
} options;

static int parse_args(int argc, char **argv, options *o) {
    o->sfu_bin = NULL; o->control = NULL;
    o->publishers = 4; o->subscribers = 8; o->height = 180; o->seconds = 10;
    o->pps[0] = 50; o->pps[1] = 60; o->pps[2] = 120; o->pps[3] = 240;
    o->payload = 900;
    o->measure = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        if (!strcmp(a, "--sfu")) o->sfu_bin = v;
        else if (!strcmp(a, "--control")) o->control = v;
        else if (!strcmp(a, "--publishers")) o->publishers = atoi(v);
        else if (!strcmp(a, "--subscribers")) o->subscribers = atoi(v);
        else if (!strcmp(a, "--height")) o->height = atoi(v);
        else if (!strcmp(a, "--seconds")) o->seconds = atoi(v);
        else if (!strcmp(a, "--payload")) o->payload = atoi(v);
        else if (!strcmp(a, "--measure")) o->measure = atoi(v);
        else if (!strcmp(a, "--layer-pps")) {
            if (sscanf(v, "%d,%d,%d", &o->pps[1], &o->pps[2], &o->pps[3]) != 3) return -1;
        } else return -1;
        i++;
    }
    if (o->publishers < 1 || o->subscribers < 1 || o->publishers + o->subscribers > 1000 ||
        o->seconds < 1 || o->seconds > 600 || o->payload < 0 || o->payload > 1200)
        return -1;
    return 0;
}

/* Starts parley-sfu with a control socket; reads its UDP port from its first line. */
static pid_t start_sfu(const char *bin, const char *ctl, int *port) {
    int out[2];
    if (pipe(out) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(bin, bin, "--control", ctl, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "parley-sfu udp %*s %d", port) != 1) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    return pid;
}

static int connect_ctl(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    for (int i = 0; i < 300; i++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        usleep(10000);
    }
    close(fd);
    return -1;
}

static int open_peer(peer *p, uint32_t id, bool publisher, sfu_dtls_ctx *dctx) {
    memset(p, 0, sizeof *p);
    p->id = id;
    p->publisher = publisher;
    snprintf(p->ufrag, sizeof p->ufrag, "bnch%u", id);
    snprintf(p->pwd, sizeof p->pwd, "benchpassword-%010u", id);
    for (int s = 0; s < 4; s++) p->ssrc[s] = id * 16 + (uint32_t)s + 1;
    p->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    int sz = 4 << 20;
    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    fcntl(p->fd, F_SETFL, O_NONBLOCK);
    p->dtls = sfu_dtls_new(dctx, false, peer_send, p);
    return p->dtls ? 0 : -1;
}

/* ICE check then DTLS for every peer, all in flight together. */
static int connect_all(peer *peers, int n, struct pollfd *pf) {
    for (int i = 0; i < n; i++) {
        uint8_t req[512], tid[12];
        char user[64];
        snprintf(user, sizeof user, "%s:%s", peers[i].sfu_ufrag, peers[i].ufrag);
        for (int k = 0; k < 12; k++) tid[k] = (uint8_t)(rand() & 0xff);
        size_t len = stun_build_binding_request(req, sizeof req, tid, user, 100, true,
                                                (const uint8_t *)peers[i].sfu_pwd, strlen(peers[i].sfu_pwd));
        sendto(peers[i].fd, req, len, 0, (struct sockaddr *)&sfu_addr, sizeof sfu_addr);
    }
    drain(peers, n, pf, 50);
    for (int i = 0; i < n; i++) sfu_dtls_start(peers[i].dtls);
    uint64_t deadline = now_ns() + 20000000000ull;
    int done = 0;
    while (done < n && now_ns() < deadline) {
        drain(peers, n, pf, 10);
        done = 0;
        for (int i = 0; i < n; i++) {
            peer *p = &peers[i];
            if (!p->srtp && sfu_dtls_done(p->dtls)) {
                sfu_srtp_keys k;
                if (sfu_dtls_export(p->dtls, &k) == 0) p->srtp = sfu_srtp_new(&k, false);
            }
            if (!sfu_dtls_done(p->dtls)) sfu_dtls_tick(p->dtls);
            done += p->srtp != NULL;
        }
    }
    return done == n ? 0 : -1;
}

static void run_load(peer *peers, int np, int n, struct pollfd *pf, const options *o, uint64_t dur_ns) {
    uint64_t start = now_ns(), next[4] = { start, start, start, start };
    uint64_t step[4];
    for (int s = 0; s < 4; s++) step[s] = o->pps[s] > 0 ? 1000000000ull / (uint64_t)o->pps[s] : UINT64_MAX;
    while (now_ns() - start < dur_ns) {
        uint64_t t = now_ns();
        for (int s = 0; s < 4; s++) {
            while (o->pps[s] > 0 && next[s] <= t) {
                for (int i = 0; i < np; i++) {
                    peer *p = &peers[i];
                    bool key = s > 0 && (p->key_wanted[s] || p->seq[s] % 300 == 0);
                    if (key) p->key_wanted[s] = false;
                    send_rtp(p, s, key, s == 0 ? 80 : (size_t)o->payload);
                }
                if (s == 3) for (int i = 0; i < np; i++) peers[i].frames++;
                next[s] += step[s];
            }
        }
        drain(peers, n, pf, 1);
    }
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: parley-sfu-bench [--sfu BIN | --control PATH --port N] [--publishers P] "
                        "[--subscribers S] [--height H] [--seconds T] [--payload BYTES] "
                        "[--layer-pps A,B,C] [--measure K]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char bin[600], ctl[100];
    if (!o.sfu_bin) {
        char exe[512];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return 1;
        exe[n] = 0;
        *strrchr(exe, '/') = 0;
        snprintf(bin, sizeof bin, "%s/parley-sfu", exe);
        o.sfu_bin = bin;
    }
    snprintf(ctl, sizeof ctl, "/tmp/parley-sfu-bench-%d.sock", (int)getpid());
    int port = 0;
    pid_t pid = start_sfu(o.sfu_bin, ctl, &port);
    if (pid <= 0) { fprintf(stderr, "cannot start %s\n", o.sfu_bin); return 1; }
    sfu_addr.sin_family = AF_INET;
    sfu_addr.sin_port = htons((uint16_t)port);
    sfu_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 1;
    ctl_fd = connect_ctl(ctl);
    char err[128];
    sfu_dtls_ctx *dctx = sfu_dtls_ctx_new(err, sizeof err);
    int n = o.publishers + o.subscribers;
    peer *peers = calloc((size_t)n, sizeof *peers);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    if (ctl_fd < 0 || !dctx || !peers || !pf) { fprintf(stderr, "setup failed\n"); goto out; }
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__CreateRoom cr = PARLEY__SFU__CREATE_ROOM__INIT;
    cr.room = 1;
    q.op_case = PARLEY__SFU__TO_SFU__OP_CREATE_ROOM; q.create_room = &cr;
    if (ctl_simple(&q) < 0) goto out;
    long rss0 = proc_rss_kb(pid);
    for (int i = 0; i < n; i++) {
        if (open_peer(&peers[i], (uint32_t)i + 1, i < o.publishers, dctx) < 0 ||
            add_peer(&peers[i], sfu_dtls_ctx_fingerprint(dctx)) < 0)
            goto out;
        peers[i].count_only = i >= o.publishers && o.measure >= 0 && i - o.publishers >= o.measure;
        pf[i].fd = peers[i].fd;
        pf[i].events = POLLIN;
    }
    if (connect_all(peers, n, pf) < 0) { fprintf(stderr, "ICE/DTLS did not complete for all\n"); goto out; }
    Parley__Sfu__Subscribe sb = PARLEY__SFU__SUBSCRIBE__INIT;
    q.op_case = PARLEY__SFU__TO_SFU__OP_SUBSCRIBE; q.subscribe = &sb;
    for (int s = o.publishers; s < n; s++)
        for (int p = 0; p < o.publishers; p++) {
            sb.subscriber = peers[s].id; sb.publisher = peers[p].id; sb.max_height = (uint32_t)o.height;
            if (ctl_simple(&q) < 0) goto out;
        }
    /* Warm-up: keyframes reach every subscriber, layers get measured. */
    run_load(peers, o.publishers, n, pf, &o, 2000000000ull);
    uint64_t rx0 = 0;
    for (int i = 0; i < n; i++) rx0 += peers[i].received;
    n_lat = 0;
    double cpu0 = proc_cpu_s(pid);
    uint64_t t0 = now_ns();
    run_load(peers, o.publishers, n, pf, &o, (uint64_t)o.seconds * 1000000000ull);
    double secs = (double)(now_ns() - t0) / 1e9;
    double cpu = proc_cpu_s(pid) - cpu0;
    long rss1 = proc_rss_kb(pid);
    uint64_t rx = 0;
    for (int i = 0; i < n; i++) rx += peers[i].received;
    rx -= rx0;
    qsort(lat, n_lat, sizeof *lat, cmp_u64);
    double p50 = n_lat ? (double)lat[n_lat / 2] / 1e6 : 0, p99 = n_lat ? (double)lat[n_lat * 99 / 100] / 1e6 : 0;
    int sent_pps = o.pps[0] + (o.height >= 720 ? o.pps[3] : o.height >= 360 ? o.pps[2] : o.pps[1]);
    printf("sfu-bench: publishers %d subscribers %d height %d seconds %.1f\n", o.publishers,
           o.subscribers, o.height, secs);
    printf("  sent per publisher: audio %d + layers %d/%d/%d pkt/s; expected forwarded %d pkt/s\n",
           o.pps[0], o.pps[1], o.pps[2], o.pps[3], sent_pps * o.publishers * o.subscribers);
    printf("  forwarded (received by subscribers): %.0f pkt/s\n", (double)rx / secs);
    printf("  added latency: p50 %.3f ms p99 %.3f ms (%zu samples)\n", p50, p99, n_lat);
    printf("  sfu cpu: %.1f%% of one core (%.0f forwarded pkt/s per core-second)\n", 100 * cpu / secs,
           cpu > 0 ? (double)rx / cpu : 0);
    printf("  sfu rss: %ld KiB before participants, %ld KiB after; %.1f KiB per participant\n", rss0, rss1,
           (double)(rss1 - rss0) / n);
    rc = 0;
out:
    if (ctl_fd >= 0) close(ctl_fd);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(ctl);
    for (int i = 0; peers && i < n; i++) {
        sfu_dtls_free(peers[i].dtls);
        sfu_srtp_free(peers[i].srtp);
        if (peers[i].fd > 0) close(peers[i].fd);
    }
    free(peers);
    free(pf);
    free(lat);
    sfu_dtls_ctx_free(dctx);
    return rc;
}
