/*
 * janus_sdp.c: writes and reads the SDP of the Janus target (janus_sdp.h). The bench's
 * candidate is its peer socket's address and port; Janus's is the IPv4 host candidate it
 * gathered on the namespace's veth (127.0.0.2 in bench/sfu/janus-compare); its IPv6
 * link-local candidates are skipped. Lines are parsed one at a time, each bounded.
 */
#include "janus_sdp.h"
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The peer socket's address and port, for its candidate. */
static int local_addr(const peer *p, char ip[INET_ADDRSTRLEN]) {
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    if (getsockname(p->fd, (struct sockaddr *)&a, &l) < 0 || !inet_ntop(AF_INET, &a.sin_addr, ip, INET_ADDRSTRLEN))
        return -1;
    return ntohs(a.sin_port);
}

/* Appends to out at *n; latches -1 into *n when out of room. */
static void put(char *out, size_t cap, int *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *out, size_t cap, int *n, const char *fmt, ...) {
    if (*n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *n, cap - (size_t)*n, fmt, ap);
    va_end(ap);
    *n = w < 0 || (size_t)w >= cap - (size_t)*n ? -1 : *n + w;
}

static void put_transport(const peer *p, const char *fp, bool cand, char *out, size_t cap, int *n) {
    put(out, cap, n, "c=IN IP4 127.0.0.1\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
        "a=fingerprint:sha-256 %s\r\na=setup:active\r\na=rtcp-mux\r\n", p->ufrag, p->pwd, fp);
    char ip[INET_ADDRSTRLEN];
    int port = cand ? local_addr(p, ip) : -1;
    if (port > 0)
        put(out, cap, n, "a=candidate:1 1 udp 2130706431 %s %d typ host\r\n"
            "a=end-of-candidates\r\n", ip, port);
    else if (cand)
        *n = -1;
}

int jsdp_publisher_offer(const peer *p, const char *fp, char *out, size_t cap) {
    int n = 0;
    put(out, cap, &n, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "a=msid-semantic: WMS b%u\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", p->id, p->id);
    put_transport(p, fp, true, out, cap, &n);
    put(out, cap, &n, "a=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
        "a=msid:b%u a%u\r\na=ssrc:%u cname:b%u\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", p->id, p->id, p->ssrc[0], p->id);
    put_transport(p, fp, false, out, cap, &n);
    put(out, cap, &n, "a=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"
        "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n"
        "a=msid:b%u v%u\r\na=ssrc:%u cname:b%u\r\n", p->id, p->id, p->ssrc[1], p->id);
    return n;
}

/* "a=candidate:F C udp PRIO ADDR PORT typ host": the IPv4 UDP one. */
static void parse_candidate(const char *v, jsdp *o) {
    char proto[8], addr[64];
    int port;
    if (o->cand.sin_family || sscanf(v, "%*s %*s %7s %*s %63s %d", proto, addr, &port) != 3) return;
    struct in_addr ia;
    if (strcasecmp(proto, "udp") || inet_pton(AF_INET, addr, &ia) != 1 || port <= 0 || port > 65535) return;
    o->cand.sin_family = AF_INET;
    o->cand.sin_addr = ia;
    o->cand.sin_port = htons((uint16_t)port);
}

/* Copies src into dst, cut to cap - 1 bytes (SDP tokens longer than the fields are not ours). */
static void copy(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int parse_line(const char *l, jsdp *o) {
    jsdp_media *m = o->n_media ? &o->media[o->n_media - 1] : NULL;
    if (!strncmp(l, "m=", 2)) {
        if (o->n_media == JSDP_MAX_MEDIA) return -1;
        m = &o->media[o->n_media++];
        memset(m, 0, sizeof *m);
        m->pt = -1;
        if (sscanf(l + 2, "%15s %*s %*s %d", m->kind, &m->pt) < 1) return -1;
    } else if (!strncmp(l, "a=ice-ufrag:", 12) && !o->ufrag[0]) {
        copy(o->ufrag, sizeof o->ufrag, l + 12);
    } else if (!strncmp(l, "a=ice-pwd:", 10) && !o->pwd[0]) {
        copy(o->pwd, sizeof o->pwd, l + 10);
    } else if (!strncmp(l, "a=candidate:", 12)) {
        parse_candidate(l + 12, o);
    } else if (m && !strncmp(l, "a=mid:", 6)) {
        copy(m->mid, sizeof m->mid, l + 6);
    } else if (m && !strncmp(l, "a=rtpmap:", 9) && atoi(l + 9) == m->pt && !m->rtpmap[0]) {
        const char *sp = strchr(l, ' ');
        if (sp) copy(m->rtpmap, sizeof m->rtpmap, sp + 1);
    }
    return 0;
}

int jsdp_parse(const char *sdp, jsdp *o) {
    memset(o, 0, sizeof *o);
    const char *s = sdp;
    while (*s) {
        size_t len = strcspn(s, "\r\n");
        char line[1024];
        if (len >= sizeof line) return -1;
        memcpy(line, s, len);
        line[len] = 0;
        if (parse_line(line, o) < 0) return -1;
        s += len;
        s += strspn(s, "\r\n");
    }
    return o->ufrag[0] && o->pwd[0] && o->cand.sin_family ? 0 : -1;
}

int jsdp_subscriber_answer(const peer *p, const jsdp *offer, const char *fp, char *out, size_t cap) {
    int n = 0;
    put(out, cap, &n, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE", p->id);
    for (int i = 0; i < offer->n_media; i++)
        if (offer->media[i].pt >= 0 && strcmp(offer->media[i].kind, "application"))
            put(out, cap, &n, " %s", offer->media[i].mid);
    put(out, cap, &n, "\r\n");
    for (int i = 0; i < offer->n_media; i++) {
        const jsdp_media *m = &offer->media[i];
        bool ok = m->pt >= 0 && (!strcmp(m->kind, "audio") || !strcmp(m->kind, "video"));
        put(out, cap, &n, "m=%s %d UDP/TLS/RTP/SAVPF %d\r\n", m->kind, ok ? 9 : 0, m->pt >= 0 ? m->pt : 0);
        put_transport(p, fp, i == 0, out, cap, &n);
        put(out, cap, &n, "a=mid:%s\r\na=%s\r\n", m->mid, ok ? "recvonly" : "inactive");
        if (ok && m->rtpmap[0]) put(out, cap, &n, "a=rtpmap:%d %s\r\n", m->pt, m->rtpmap);
    }
    return n;
}
