/*
 * sfu_net.c: the SFU's one UDP socket. Every datagram is classified by its first byte
 * (RFC 7983: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP) and matched to a participant: STUN by
 * the USERNAME "<our ufrag>:<their ufrag>" (ICE-lite, RFC 8445 2.5: we only answer checks),
 * everything else by the source address a valid check has bound. A valid Binding request
 * refreshes consent (RFC 7675) and, with USE-CANDIDATE or as the first valid check, selects
 * the address. Datagrams that match nothing, fail authentication or do not parse are
 * dropped (a STUN request with a known ufrag but a wrong MESSAGE-INTEGRITY gets a 401).
 * Sends never block: uv_udp_try_send, and a full socket buffer drops the packet.
 */
#include "rtp.h"
#include "sfu_internal.h"
#include "stun.h"
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned addr_hash(const struct sockaddr_storage *a) {
    uint32_t h = 2166136261u;
    const uint8_t *b;
    size_t n;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)a;
        b = (const uint8_t *)&s->sin_addr; n = 4;
        h = (h ^ s->sin_port) * 16777619u;
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
        b = (const uint8_t *)&s->sin6_addr; n = 16;
        h = (h ^ s->sin6_port) * 16777619u;
    }
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h % SFU_ADDR_BUCKETS;
}

static bool addr_eq(const struct sockaddr_storage *a, const struct sockaddr *b) {
    if (a->ss_family != b->sa_family) return false;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

void sfu_net_addr_index(sfu_core *c, sfu_participant *p) {
    unsigned h = addr_hash(&p->addr);
    p->addr_next = c->by_addr[h];
    c->by_addr[h] = p;
}

void sfu_net_addr_unindex(sfu_core *c, sfu_participant *p) {
    if (!p->have_addr) return;
    sfu_participant **pp = &c->by_addr[addr_hash(&p->addr)];
    while (*pp && *pp != p) pp = &(*pp)->addr_next;
    if (*pp) *pp = p->addr_next;
    p->addr_next = NULL;
}

static sfu_participant *by_addr(sfu_core *c, const struct sockaddr *a) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, a, a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    for (sfu_participant *p = c->by_addr[addr_hash(&ss)]; p; p = p->addr_next)
        if (addr_eq(&p->addr, a)) return p;
    return NULL;
}

/* --loss: true for cfg.loss_percent % of calls. Not cryptographic: it only picks which packets a
 * test pretends the network lost. */
static bool lose(sfu_core *c) {
    if (!c->cfg.loss_percent) return false;
    uint64_t x = c->loss_rng ? c->loss_rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    c->loss_rng = x;
    if ((x >> 32) % 100 >= c->cfg.loss_percent) return false;
    c->stats.lost_injected++;
    return true;
}

static void send_raw(sfu_core *c, const struct sockaddr *to, const uint8_t *d, size_t n) {
    uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
    uv_udp_try_send(&c->udp, &b, 1, to);
}

int sfu_net_send(sfu_core *c, sfu_participant *p, const uint8_t *pkt, size_t len, bool rtcp) {
    if (!p->srtp || !p->have_addr || c->cfg.no_socket) {
        if (c->cfg.plain_out) return c->cfg.plain_out(c->cfg.plain_arg, p->id, pkt, len, rtcp);
        return -1;
    }
    if (len > SFU_SLOT) return -1;
    memcpy(c->netbuf, pkt, len);
    int r = rtcp ? sfu_srtcp_protect(p->srtp, c->netbuf, &len, sizeof c->netbuf)
                 : sfu_srtp_protect(p->srtp, c->netbuf, &len, sizeof c->netbuf);
    if (r < 0) return -1;
    if (lose(c)) return 0; /* as if sent and lost on the way */
    uv_buf_t b = uv_buf_init((char *)c->netbuf, (unsigned)len);
    return uv_udp_try_send(&c->udp, &b, 1, (const struct sockaddr *)&p->addr) == (int)len ? 0 : -1;
}

/* USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 7.2.2). */
static sfu_participant *by_username(sfu_core *c, const stun_msg *m) {
    const uint8_t *colon = memchr(m->username, ':', m->username_len);
    if (!colon) return NULL;
    size_t ours = (size_t)(colon - m->username), theirs = m->username_len - ours - 1;
    for (int i = 0; i < c->n_parts; i++) {
        sfu_participant *p = c->parts[i];
        if (strlen(p->local.ufrag) == ours && memcmp(p->local.ufrag, m->username, ours) == 0 &&
            strlen(p->remote_ufrag) == theirs && memcmp(p->remote_ufrag, colon + 1, theirs) == 0)
            return p;
    }
    return NULL;
}

static void set_addr(sfu_core *c, sfu_participant *p, const struct sockaddr *a) {
    if (p->have_addr && addr_eq(&p->addr, a)) return;
    sfu_participant *other = by_addr(c, a);
    if (other && other != p) return; /* an address belongs to one participant */
    sfu_net_addr_unindex(c, p);
    memset(&p->addr, 0, sizeof p->addr);
    memcpy(&p->addr, a, a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    p->have_addr = true;
    sfu_net_addr_index(c, p);
}

static void on_stun(sfu_core *c, const uint8_t *d, size_t n, const struct sockaddr *from) {
    stun_msg m;
    if (stun_parse(d, n, &m) < 0 || m.type != STUN_BINDING_REQUEST || !m.username) {
        c->stats.stun_bad++;
        return;
    }
    sfu_participant *p = by_username(c, &m);
    uint8_t out[256];
    if (!p) { c->stats.stun_bad++; return; }
    const uint8_t *key = (const uint8_t *)p->local.pwd;
    if (!m.has_fingerprint || stun_check_integrity(d, n, &m, key, strlen(p->local.pwd)) < 0) {
        c->stats.stun_bad++;
        size_t len = stun_build_error(out, sizeof out, m.tid, 401, "Unauthorized");
        if (len) send_raw(c, from, out, len);
        return;
    }
    c->stats.stun_ok++;
    p->last_consent_ms = sfu_now_ms(c);
    if (m.use_candidate || !p->have_addr) set_addr(c, p, from);
    if (m.use_candidate) p->nominated = true;
    size_t len = stun_build_binding_success(out, sizeof out, m.tid, from, key, strlen(p->local.pwd));
    if (len) send_raw(c, from, out, len);
}

static void on_dtls(sfu_core *c, sfu_participant *p, const uint8_t *d, size_t n) {
    int r = sfu_dtls_input(p->dtls, d, n);
    if (r != 1) return;
    sfu_srtp_keys k;
    if (sfu_dtls_export(p->dtls, &k) == 0) p->srtp = sfu_srtp_new(&k, true);
    OPENSSL_cleanse(&k, sizeof k);
    if (p->srtp && !p->connected) {
        p->connected = true;
        sfu_emit(c, SFU_EV_CONNECTED, p, 0);
    }
}

static void on_media(sfu_core *c, sfu_participant *p, uint8_t *d, size_t n) {
    if (!p->srtp) return;
    uint64_t now = sfu_now_ms(c);
    if (rtp_is_rtcp(d, n)) {
        if (sfu_srtcp_unprotect(p->srtp, d, &n) == 0) sfu_core_input_rtcp(c, p->id, d, n, now);
    } else if (sfu_srtp_unprotect(p->srtp, d, &n) == 0) {
        if (c->cfg.capture) c->cfg.capture(c->cfg.capture_arg, p->id, d, n);
        sfu_core_input_rtp(c, p->id, d, n, now);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    sfu_core *c = h->data;
    buf->base = (char *)c->rxbuf;
    buf->len = sizeof c->rxbuf;
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags) {
    sfu_core *c = u->data;
    if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL)) return;
    uint8_t *d = (uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (d[0] <= 3) { on_stun(c, d, n, from); return; }
    sfu_participant *p = by_addr(c, from);
    if (!p) return;
    if (d[0] >= 20 && d[0] <= 63) on_dtls(c, p, d, n);
    else if (d[0] >= 128 && d[0] <= 191 && !lose(c)) on_media(c, p, d, n);
}

int sfu_net_open(sfu_core *c, char *err, size_t err_len) {
    struct sockaddr_storage a;
    int r;
    if (strchr(c->cfg.bind_addr, ':')) r = uv_ip6_addr(c->cfg.bind_addr, c->cfg.port, (struct sockaddr_in6 *)&a);
    else r = uv_ip4_addr(c->cfg.bind_addr, c->cfg.port, (struct sockaddr_in *)&a);
    if (r < 0) { snprintf(err, err_len, "bad bind address %s", c->cfg.bind_addr); return -1; }
    uv_udp_init(c->loop, &c->udp);
    c->udp.data = c;
    c->open_handles++;
    if ((r = uv_udp_bind(&c->udp, (struct sockaddr *)&a, 0)) < 0 ||
        (r = uv_udp_recv_start(&c->udp, on_alloc, on_recv)) < 0) {
        snprintf(err, err_len, "UDP %s:%d: %s", c->cfg.bind_addr, c->cfg.port, uv_strerror(r));
        uv_close((uv_handle_t *)&c->udp, NULL);
        c->open_handles--;
        return -1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_udp_getsockname(&c->udp, (struct sockaddr *)&bound, &len);
    c->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    int sz = 4 << 20; /* room for bursts; beyond it, packets are dropped, never queued */
    uv_send_buffer_size((uv_handle_t *)&c->udp, &sz);
    sz = 4 << 20;
    uv_recv_buffer_size((uv_handle_t *)&c->udp, &sz);
    return 0;
}

void sfu_net_tick(sfu_core *c, uint64_t now) {
    for (int i = 0; i < c->n_parts; i++)
        if (c->parts[i]->dtls && !sfu_dtls_done(c->parts[i]->dtls)) sfu_dtls_tick(c->parts[i]->dtls);
}
