/*
 * target_parley_sfu.c: the parley-sfu target of parley-sfu-bench (bench.h). It starts
 * parley-sfu with a control socket (proto/sfu.proto, length-prefixed, blocking calls), makes
 * room 1, adds every peer with an SDP offer (the SFU answers with its ICE-lite credentials,
 * one UDP port for all) and, once everyone is connected, subscribes every subscriber to every
 * publisher at --height. parley-sfu is ICE-lite: the peers only send checks.
 */
#include "bench.h"
#include "sfu.pb-c.h"
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int ctl_fd = -1;
static pid_t sfu_pid = -1;
static int sfu_port;
static char ctl_path[100];
static uint64_t next_id = 1;

static Parley__Sfu__FromSfu *read_reply(uint64_t id) {
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
        if (f->msg_case == PARLEY__SFU__FROM_SFU__MSG_RESPONSE && f->response->id == id) return f;
        parley__sfu__from_sfu__free_unpacked(f, NULL); /* events: not used by the bench */
    }
}

static Parley__Sfu__FromSfu *ctl_call(Parley__Sfu__ToSfu *q) {
    q->id = next_id++;
    size_t n = parley__sfu__to_sfu__get_packed_size(q);
    uint8_t *b = malloc(n + 4);
    if (!b) return NULL;
    b[0] = (uint8_t)(n >> 24); b[1] = (uint8_t)(n >> 16); b[2] = (uint8_t)(n >> 8); b[3] = (uint8_t)n;
    parley__sfu__to_sfu__pack(q, b + 4);
    ssize_t w = write(ctl_fd, b, n + 4);
    free(b);
    return w == (ssize_t)(n + 4) ? read_reply(q->id) : NULL;
}

static int ctl_simple(Parley__Sfu__ToSfu *q) {
    Parley__Sfu__FromSfu *f = ctl_call(q);
    int ok = f && f->response->ok ? 0 : -1;
    if (f && !f->response->ok) fprintf(stderr, "sfu: %s\n", f->response->error);
    if (f) parley__sfu__from_sfu__free_unpacked(f, NULL);
    return ok;
}

static void make_offer(const peer *p, const char *fp, bool single, char *out, size_t cap) {
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
    if (p->publisher && single)
        snprintf(out + n, cap - (size_t)n, "a=ssrc:%u cname:b\r\n", p->ssrc[1]);
    else if (p->publisher)
        snprintf(out + n, cap - (size_t)n, "a=ssrc-group:SIM %u %u %u\r\na=ssrc:%u cname:b\r\n"
                 "a=ssrc:%u cname:b\r\na=ssrc:%u cname:b\r\n", p->ssrc[1], p->ssrc[2], p->ssrc[3],
                 p->ssrc[1], p->ssrc[2], p->ssrc[3]);
}

static int add(peer *p, peer *publishers, int np, const char *fp, const options *o) {
    static char offer[4096];
    make_offer(p, fp, o->single, offer, sizeof offer);
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__AddParticipant a = PARLEY__SFU__ADD_PARTICIPANT__INIT;
    a.room = 1; a.participant = p->id; a.offer_sdp = offer;
    q.op_case = PARLEY__SFU__TO_SFU__OP_ADD_PARTICIPANT; q.add_participant = &a;
    Parley__Sfu__FromSfu *f = ctl_call(&q);
    if (!f || !f->response->ok) {
        fprintf(stderr, "add participant %u: %s\n", p->id, f ? f->response->error : "no answer");
        if (f) parley__sfu__from_sfu__free_unpacked(f, NULL);
        return -1;
    }
    snprintf(p->sfu_ufrag, sizeof p->sfu_ufrag, "%s", f->response->ice_ufrag);
    snprintf(p->sfu_pwd, sizeof p->sfu_pwd, "%s", f->response->ice_pwd);
    parley__sfu__from_sfu__free_unpacked(f, NULL);
    p->remote.sin_family = AF_INET;
    p->remote.sin_port = htons((uint16_t)sfu_port);
    p->remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->send_checks = true; /* ICE-lite SFU: it answers, never asks */
    return 0;
}

static int subscribe(peer *peers, int n, const options *o) {
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__Subscribe sb = PARLEY__SFU__SUBSCRIBE__INIT;
    q.op_case = PARLEY__SFU__TO_SFU__OP_SUBSCRIBE; q.subscribe = &sb;
    for (int s = o->publishers; s < n; s++)
        for (int p = 0; p < o->publishers; p++) {
            sb.subscriber = peers[s].id; sb.publisher = peers[p].id; sb.max_height = (uint32_t)o->height;
            if (ctl_simple(&q) < 0) return -1;
        }
    return 0;
}

/* Starts parley-sfu with a control socket; reads its UDP port from its first line. */
static pid_t spawn(const char *bin, const char *ctl, int *port) {
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

static void stop(void) {
    if (ctl_fd >= 0) close(ctl_fd);
    ctl_fd = -1;
    if (sfu_pid > 0) { kill(sfu_pid, SIGTERM); waitpid(sfu_pid, NULL, 0); }
    sfu_pid = -1;
    if (ctl_path[0]) unlink(ctl_path);
}

static pid_t start(const options *o) {
    snprintf(ctl_path, sizeof ctl_path, "/tmp/parley-sfu-bench-%d.sock", (int)getpid());
    sfu_pid = spawn(o->sfu_bin, ctl_path, &sfu_port);
    if (sfu_pid <= 0) { fprintf(stderr, "cannot start %s\n", o->sfu_bin); return -1; }
    ctl_fd = connect_ctl(ctl_path);
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__CreateRoom cr = PARLEY__SFU__CREATE_ROOM__INIT;
    cr.room = 1;
    q.op_case = PARLEY__SFU__TO_SFU__OP_CREATE_ROOM; q.create_room = &cr;
    if (ctl_fd < 0 || ctl_simple(&q) < 0) { stop(); return -1; }
    return sfu_pid;
}

const bench_target target_parley_sfu = { "parley-sfu", start, add, subscribe, stop };
