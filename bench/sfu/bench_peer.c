/*
 * bench_peer.c: the bench peers of parley-sfu-bench (see bench.h). Each peer has its own UDP
 * socket (127.0.0.1 or --bind) and talks to its SFU candidate: ICE (checks with ICE-CONTROLLING and
 * USE-CANDIDATE when it is the controlling agent, and answers to the SFU's own checks, which a
 * full-ICE SFU such as Janus sends), a DTLS client handshake (dtls.c), SRTP (srtp.c).
 * Publishers send synthetic RTP: Opus-shaped audio and VP8 with a real payload descriptor
 * (RFC 7741) and a real keyframe header (frame tag, start code, size) so an SFU that looks
 * for keyframes finds them; the send time (CLOCK_MONOTONIC ns) follows the VP8 header. They
 * answer PLI/FIR with a keyframe. Subscribers decrypt and time what they get (or only count
 * it, --measure).
 */
#include "bench.h"
#include "rtp.h"
#include "stun.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t *lat;
static size_t n_lat, cap_lat;

uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void peer_send(void *arg, const uint8_t *d, size_t n) {
    peer *p = arg;
    sendto(p->fd, d, n, 0, (struct sockaddr *)&p->remote, sizeof p->remote);
}

int peer_open(peer *p, uint32_t id, bool publisher, sfu_dtls_ctx *dctx, struct in_addr addr) {
    memset(p, 0, sizeof *p);
    p->id = id;
    p->publisher = publisher;
    p->video_pt = 96;
    snprintf(p->ufrag, sizeof p->ufrag, "bnch%u", id);
    snprintf(p->pwd, sizeof p->pwd, "benchpassword-%010u", id);
    for (int s = 0; s < BENCH_STREAMS; s++) p->ssrc[s] = id * 16 + (uint32_t)s + 1;
    p->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = addr };
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    int sz = 4 << 20;
    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    fcntl(p->fd, F_SETFL, O_NONBLOCK);
    p->dtls = sfu_dtls_new(dctx, false, peer_send, p);
    return p->dtls ? 0 : -1;
}

void peer_close(peer *p) {
    sfu_dtls_free(p->dtls);
    sfu_srtp_free(p->srtp);
    if (p->fd > 0) close(p->fd);
    p->dtls = NULL; p->srtp = NULL; p->fd = -1;
}

/* A STUN message for this peer: a success response to our check, or the SFU's check, which
 * is answered (XOR-MAPPED-ADDRESS = where it came from, integrity with our password). */
static void on_stun(peer *p, const uint8_t *b, size_t n, const struct sockaddr_in *from) {
    stun_msg m;
    if (stun_parse(b, n, &m) < 0) return;
    if (m.type == STUN_BINDING_SUCCESS) {
        if (stun_check_integrity(b, n, &m, (const uint8_t *)p->sfu_pwd, strlen(p->sfu_pwd)) == 0)
            p->got_response = true;
        return;
    }
    if (m.type != STUN_BINDING_REQUEST || !m.username) return;
    size_t ul = strlen(p->ufrag);
    if (m.username_len <= ul || memcmp(m.username, p->ufrag, ul) != 0 || m.username[ul] != ':')
        return;
    if (stun_check_integrity(b, n, &m, (const uint8_t *)p->pwd, strlen(p->pwd)) < 0) return;
    uint8_t out[256];
    size_t len = stun_build_binding_success(out, sizeof out, m.tid, (const struct sockaddr *)from,
                                            (const uint8_t *)p->pwd, strlen(p->pwd));
    if (len) sendto(p->fd, out, len, 0, (const struct sockaddr *)from, sizeof *from);
    p->got_check = true;
}

static void on_rtcp(peer *p, uint8_t *b, size_t n) {
    if (sfu_srtcp_unprotect(p->srtp, b, &n) < 0) return;
    size_t off = 0;
    rtcp_pkt r;
    while (rtcp_next(b, n, &off, &r) == 1)
        if (r.pt == RTCP_PSFB && (r.fmt == RTCP_FMT_PLI || r.fmt == RTCP_FMT_FIR)) {
            uint32_t media = r.media_ssrc;
            if (r.fmt == RTCP_FMT_FIR && r.body_len >= 12) /* FIR: the SSRC is in the FCI */
                media = (uint32_t)r.body[8] << 24 | (uint32_t)r.body[9] << 16 | (uint32_t)r.body[10] << 8 | r.body[11];
            for (int l = 1; l < BENCH_STREAMS; l++) if (p->ssrc[l] == media) p->key_wanted[l] = true;
        }
}

static void add_latency(uint64_t v) {
    if (n_lat == cap_lat) {
        size_t cap = cap_lat ? cap_lat * 2 : 1 << 16;
        uint64_t *nl = realloc(lat, cap * sizeof *nl);
        if (!nl) return;
        lat = nl;
        cap_lat = cap;
    }
    lat[n_lat++] = v;
}

/* Handles one datagram arriving at a bench peer. */
static void on_datagram(peer *p, uint8_t *b, size_t n, const struct sockaddr_in *from, uint64_t t) {
    if (n < 2) return;
    if (b[0] <= 3) { on_stun(p, b, n, from); return; }
    if (b[0] >= 20 && b[0] <= 63 && p->dtls) { sfu_dtls_input(p->dtls, b, n); return; }
    if (b[0] < 128 || b[0] > 191 || !p->srtp) return;
    bool rtcp = rtp_is_rtcp(b, n);
    if (p->count_only && !rtcp) { p->received++; return; } /* cheap receiver */
    if (rtcp) { on_rtcp(p, b, n); return; }
    if (sfu_srtp_unprotect(p->srtp, b, &n) < 0) return;
    rtp_hdr h;
    if (rtp_parse(b, n, &h) < 0 || h.payload_len < 2) return;
    /* video: 1-byte VP8 descriptor, then a 10-byte keyframe or 3-byte delta header */
    size_t at = h.pt == p->video_pt ? 1 + ((h.payload[1] & 1) ? 3 : 10) : 0;
    if (h.payload_len < at + 8) return;
    uint64_t sent;
    memcpy(&sent, h.payload + at, 8);
    p->received++;
    add_latency(t > sent ? t - sent : 0);
}

void peers_drain(peer *peers, int n, struct pollfd *pf, int timeout_ms) {
    if (poll(pf, (nfds_t)n, timeout_ms) <= 0) return;
    /* recvmmsg: one syscall per batch of datagrams, so the bench's cost per receiver stays low. */
    enum { BATCH = 32 };
    static uint8_t b[BATCH][2048];
    struct mmsghdr mh[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in from[BATCH];
    memset(mh, 0, sizeof mh);
    for (int k = 0; k < BATCH; k++) {
        iov[k].iov_base = b[k]; iov[k].iov_len = sizeof b[k];
        mh[k].msg_hdr.msg_iov = &iov[k]; mh[k].msg_hdr.msg_iovlen = 1;
        mh[k].msg_hdr.msg_name = &from[k];
    }
    for (int i = 0; i < n; i++) {
        if (!(pf[i].revents & POLLIN)) continue;
        int r;
        do {
            /* msg_namelen is in/out: reset it for every batch. */
            for (int k = 0; k < BATCH; k++) mh[k].msg_hdr.msg_namelen = sizeof from[k];
            r = recvmmsg(peers[i].fd, mh, BATCH, MSG_DONTWAIT, NULL);
            uint64_t t = now_ns();
            for (int k = 0; k < r; k++) on_datagram(&peers[i], b[k], mh[k].msg_len, &from[k], t);
        } while (r == BATCH);
    }
}

static void send_check(peer *p, uint64_t t) {
    uint8_t req[600], tid[12];
    char user[600];
    snprintf(user, sizeof user, "%s:%s", p->sfu_ufrag, p->ufrag);
    for (int k = 0; k < 12; k++) tid[k] = (uint8_t)(rand() & 0xff);
    size_t len = stun_build_binding_request(req, sizeof req, tid, user, 0x6e7f00ff, true,
                                            (const uint8_t *)p->sfu_pwd, strlen(p->sfu_pwd));
    if (len) sendto(p->fd, req, len, 0, (struct sockaddr *)&p->remote, sizeof p->remote);
    p->next_check_ns = t + 100000000ull;
}

/* One step of one peer's ICE/DTLS; returns true once it has SRTP keys. */
static bool connect_step(peer *p, uint64_t t) {
    if (p->srtp) return true;
    bool ice = (!p->send_checks || p->got_response) && (!p->need_their_check || p->got_check);
    if (p->send_checks && !p->got_response && t >= p->next_check_ns) send_check(p, t);
    if (!ice) return false;
    if (!p->dtls_started) { sfu_dtls_start(p->dtls); p->dtls_started = true; }
    if (sfu_dtls_done(p->dtls)) {
        sfu_srtp_keys k;
        if (sfu_dtls_export(p->dtls, &k) == 0) p->srtp = sfu_srtp_new(&k, false);
        memset(&k, 0, sizeof k);
        return p->srtp != NULL;
    }
    sfu_dtls_tick(p->dtls);
    return false;
}

int peers_connect(peer *all, int n_all, peer *peers, int n, struct pollfd *pf) {
    uint64_t deadline = now_ns() + 20000000000ull;
    int done = 0;
    while (done < n && now_ns() < deadline) {
        uint64_t t = now_ns();
        done = 0;
        for (int i = 0; i < n; i++) done += connect_step(&peers[i], t);
        peers_drain(all, n_all, pf, 5);
    }
    return done == n ? 0 : -1;
}

/* VP8 payload: descriptor (S=1, partition 0), then the frame tag (keyframe: P bit clear,
 * show_frame, 19-bit first partition size) and for keyframes the start code and 640x360. */
static size_t vp8_header(uint8_t *b, bool key, size_t payload) {
    uint32_t size = (uint32_t)payload & 0x7ffff;
    b[0] = 0x10;
    b[1] = (uint8_t)((size & 0x7) << 5 | 0x10 | (key ? 0 : 1));
    b[2] = (uint8_t)(size >> 3);
    b[3] = (uint8_t)(size >> 11);
    if (!key) return 4;
    b[4] = 0x9d; b[5] = 0x01; b[6] = 0x2a;
    b[7] = 640 & 0xff; b[8] = 640 >> 8; b[9] = 360 & 0xff; b[10] = 360 >> 8;
    return 11;
}

static void send_rtp(peer *p, int stream, bool key, size_t payload, uint64_t t0) {
    uint8_t b[1400 + SFU_SRTP_TRAILER];
    uint64_t t = now_ns();
    uint32_t ts = (uint32_t)((t - t0) / (stream ? 11111 : 20833)); /* 90 kHz / 48 kHz */
    size_t n = rtp_write_header(b, sizeof b, stream ? 96 : 111, stream != 0, p->seq[stream]++, ts, p->ssrc[stream]);
    if (stream == 0) { /* audio level extension, id 1 */
        b[0] |= 0x10;
        b[n++] = 0xbe; b[n++] = 0xde; b[n++] = 0; b[n++] = 1;
        b[n++] = 0x10; b[n++] = (uint8_t)(0x80 | (p->id % 60)); b[n++] = 0; b[n++] = 0;
    } else {
        n += vp8_header(b + n, key, payload);
    }
    memcpy(b + n, &t, 8);
    n += 8;
    memset(b + n, 0xab, payload);
    n += payload;
    if (sfu_srtp_protect(p->srtp, b, &n, sizeof b) == 0)
        sendto(p->fd, b, n, 0, (struct sockaddr *)&p->remote, sizeof p->remote);
}

void peers_run_load(peer *peers, int np, int n, struct pollfd *pf, const options *o, uint64_t dur_ns) {
    uint64_t start = now_ns(), next[BENCH_STREAMS];
    uint64_t step[BENCH_STREAMS];
    for (int s = 0; s < BENCH_STREAMS; s++) {
        next[s] = start;
        step[s] = o->pps[s] > 0 ? 1000000000ull / (uint64_t)o->pps[s] : UINT64_MAX;
    }
    while (now_ns() - start < dur_ns) {
        uint64_t t = now_ns();
        for (int s = 0; s < BENCH_STREAMS; s++) {
            while (o->pps[s] > 0 && next[s] <= t) {
                for (int i = 0; i < np; i++) {
                    peer *p = &peers[i];
                    bool key = s > 0 && (p->key_wanted[s] || p->seq[s] % 300 == 0);
                    if (key) p->key_wanted[s] = false;
                    send_rtp(p, s, key, s == 0 ? 80 : (size_t)o->payload, start);
                }
                next[s] += step[s];
            }
        }
        peers_drain(peers, n, pf, 1);
    }
}

void peers_latency_reset(void) { n_lat = 0; }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t peers_latency_sort(const uint64_t **out) {
    if (n_lat) qsort(lat, n_lat, sizeof *lat, cmp_u64);
    *out = lat;
    return n_lat;
}
