/* test_sfu_net.c: the SFU core over its real UDP socket on 127.0.0.1: ICE-lite Binding
 * requests from test clients (success with the right XOR-MAPPED-ADDRESS, 401 for a wrong
 * password, silence for an unknown ufrag), consent expiry dropping a participant, and a whole
 * path: ICE, DTLS handshake (the client side is dtls.c in client mode), SRTP media from one
 * participant decrypted by another after forwarding. */
#include "unit.h"
#include "dtls.h"
#include "rtp.h"
#include "sfu.h"
#include "srtp.h"
#include "stun.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    struct sockaddr_in addr, sfu;
    sfu_local_creds creds;
    char ufrag[16];
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    int got_media;
    uint8_t last[1500];
    size_t last_len;
} client;

static int events[8];
static uint32_t last_event_participant;

static void on_event(void *arg, const sfu_event *ev) {
    if (ev->kind < 8) events[ev->kind]++;
    last_event_participant = ev->participant;
}

static void client_send(void *arg, const uint8_t *d, size_t n) {
    client *cl = arg;
    sendto(cl->fd, d, n, 0, (struct sockaddr *)&cl->sfu, sizeof cl->sfu);
}

static void client_open(client *cl, int port) {
    memset(cl, 0, sizeof *cl);
    cl->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(cl->fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof cl->addr;
    getsockname(cl->fd, (struct sockaddr *)&cl->addr, &l);
    fcntl(cl->fd, F_SETFL, O_NONBLOCK);
    cl->sfu.sin_family = AF_INET;
    cl->sfu.sin_port = htons((uint16_t)port);
    cl->sfu.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void client_close(client *cl) {
    sfu_dtls_free(cl->dtls);
    sfu_srtp_free(cl->srtp);
    close(cl->fd);
}

/* Runs the SFU loop and reads what arrives at the client for up to ms; returns the first
 * STUN message's length in out (0 if none). DTLS goes to the client's DTLS, SRTP is counted. */
static size_t pump(uv_loop_t *loop, client *cl, int ms, uint8_t *out, size_t cap) {
    size_t got = 0;
    for (int i = 0; i < ms; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        uint8_t b[2048];
        ssize_t n;
        while (cl && (n = recv(cl->fd, b, sizeof b, 0)) > 0) {
            if (b[0] <= 3 && !got && out) { memcpy(out, b, (size_t)n < cap ? (size_t)n : cap); got = (size_t)n; }
            else if (b[0] >= 20 && b[0] <= 63 && cl->dtls) sfu_dtls_input(cl->dtls, b, (size_t)n);
            else if (b[0] >= 128 && cl->srtp && !rtp_is_rtcp(b, (size_t)n)) {
                size_t len = (size_t)n;
                if (sfu_srtp_unprotect(cl->srtp, b, &len) == 0) {
                    cl->got_media++;
                    memcpy(cl->last, b, len);
                    cl->last_len = len;
                }
            }
        }
        if (got && out) return got;
        usleep(1000);
    }
    return got;
}

static sfu_core *start(uv_loop_t *loop, unsigned consent_ms) {
    sfu_config cfg;
    sfu_config_defaults(&cfg);
    cfg.consent_timeout_ms = consent_ms;
    cfg.tick_ms = 20;
    cfg.on_event = on_event;
    char err[128];
    sfu_core *c = sfu_core_new(loop, &cfg, err, sizeof err);
    if (!c) fprintf(stderr, "sfu_core_new: %s\n", err);
    return c;
}

static void stop(uv_loop_t *loop, sfu_core *c) {
    sfu_core_free(c);
    uv_run(loop, UV_RUN_DEFAULT);
}

static int add(sfu_core *c, uint32_t id, client *cl, bool video) {
    sdp_offer o;
    memset(&o, 0, sizeof o);
    snprintf(cl->ufrag, sizeof cl->ufrag, "rem%u", id);
    snprintf(o.ice_ufrag, sizeof o.ice_ufrag, "%s", cl->ufrag);
    snprintf(o.ice_pwd, sizeof o.ice_pwd, "remotepasswordremotepassword");
    o.n_media = 1;
    o.media[0].kind = video ? SDP_VIDEO : SDP_AUDIO;
    o.media[0].accepted = true;
    o.media[0].pt = video ? 96 : 111;
    o.media[0].rtx_pt = -1;
    o.media[0].n_layers = 1;
    o.media[0].ssrc[0] = 1000 + id;
    snprintf(o.media[0].mid, sizeof o.media[0].mid, "0");
    return sfu_participant_add(c, 1, id, &o, &cl->creds);
}

static size_t binding(client *cl, const char *pwd, bool nominate, uint8_t *req) {
    char user[64];
    snprintf(user, sizeof user, "%s:%s", cl->creds.ufrag, cl->ufrag);
    uint8_t tid[12];
    for (int i = 0; i < 12; i++) tid[i] = (uint8_t)(rand() & 0xff);
    size_t n = stun_build_binding_request(req, 512, tid, user, 1000, nominate, (const uint8_t *)pwd, strlen(pwd));
    sendto(cl->fd, req, n, 0, (struct sockaddr *)&cl->sfu, sizeof cl->sfu);
    return n;
}

TEST(ice_lite_binding) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    sfu_core *c = start(&loop, 30000);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(sfu_core_port(c) > 0);
    CHECK_EQ_INT(sfu_room_create(c, 1), 0);
    CHECK_EQ_INT(sfu_room_create(c, 1), -1);
    client cl;
    client_open(&cl, sfu_core_port(c));
    CHECK_EQ_INT(add(c, 7, &cl, false), 0);
    CHECK_EQ_INT(add(c, 7, &cl, false), -1); /* duplicate id */
    CHECK_EQ_INT(strlen(cl.creds.ufrag), 8);
    CHECK_EQ_INT(strlen(cl.creds.pwd), 32);

    uint8_t req[512], resp[512];
    binding(&cl, cl.creds.pwd, true, req);
    size_t n = pump(&loop, &cl, 500, resp, sizeof resp);
    CHECK(n > 0);
    stun_msg m;
    CHECK_EQ_INT(stun_parse(resp, n, &m), 0);
    CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
    CHECK(memcmp(m.tid, req + 8, 12) == 0);
    CHECK(m.has_fingerprint);
    CHECK_EQ_INT(stun_check_integrity(resp, n, &m, (const uint8_t *)cl.creds.pwd, strlen(cl.creds.pwd)), 0);
    CHECK(m.has_xor_mapped);
    const struct sockaddr_in *xa = (const struct sockaddr_in *)&m.xor_mapped;
    CHECK_EQ_INT(xa->sin_family, AF_INET);
    CHECK_EQ_INT(xa->sin_port, cl.addr.sin_port);
    CHECK_EQ_INT(xa->sin_addr.s_addr, cl.addr.sin_addr.s_addr);

    /* Wrong password: 401, and nothing bound for it. */
    binding(&cl, "not-the-password-at-all-000000", true, req);
    n = pump(&loop, &cl, 500, resp, sizeof resp);
    CHECK(n > 0);
    CHECK_EQ_INT(stun_parse(resp, n, &m), 0);
    CHECK_EQ_INT(m.type, STUN_BINDING_ERROR);
    CHECK_EQ_INT(m.error_code, 401);
    /* Unknown ufrag: ignored. */
    client other;
    client_open(&other, sfu_core_port(c));
    snprintf(other.creds.ufrag, sizeof other.creds.ufrag, "nobody00");
    snprintf(other.ufrag, sizeof other.ufrag, "x");
    binding(&other, "whatever-password-0000000000", true, req);
    CHECK_EQ_INT(pump(&loop, &other, 100, resp, sizeof resp), 0);
    /* Garbage datagrams of every first-byte class are dropped without effect. */
    uint8_t junk[64];
    for (int b = 0; b < 256; b += 5) {
        memset(junk, b, sizeof junk);
        sendto(other.fd, junk, sizeof junk, 0, (struct sockaddr *)&other.sfu, sizeof other.sfu);
        sendto(cl.fd, junk, sizeof junk, 0, (struct sockaddr *)&cl.sfu, sizeof cl.sfu);
    }
    pump(&loop, NULL, 50, NULL, 0);
    sfu_stats st;
    sfu_core_stats(c, &st);
    CHECK_EQ_INT(st.stun_ok, 1);
    CHECK(st.stun_bad >= 2);
    CHECK_EQ_INT(st.rx_packets, 0);
    sfu_participant_info info;
    CHECK_EQ_INT(sfu_participant_info_get(c, 7, &info), 0);
    CHECK(!info.connected);
    client_close(&cl);
    client_close(&other);
    stop(&loop, c);
    uv_loop_close(&loop);
}

TEST(consent_expiry) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(events, 0, sizeof events);
    sfu_core *c = start(&loop, 300);
    if (!c) { CHECK(0); return; }
    sfu_room_create(c, 1);
    client a, b;
    client_open(&a, sfu_core_port(c));
    client_open(&b, sfu_core_port(c));
    CHECK_EQ_INT(add(c, 1, &a, false), 0);
    CHECK_EQ_INT(add(c, 2, &b, false), 0);
    uint8_t req[512], resp[512];
    /* a keeps sending checks every 100 ms; b sends one and then vanishes. */
    binding(&b, b.creds.pwd, true, req);
    for (int i = 0; i < 8; i++) {
        binding(&a, a.creds.pwd, true, req);
        pump(&loop, &a, 100, resp, sizeof resp);
        pump(&loop, NULL, 100 - 1, NULL, 0);
    }
    CHECK_EQ_INT(events[SFU_EV_GONE], 1);
    CHECK_EQ_INT(last_event_participant, 2);
    sfu_participant_info info;
    CHECK_EQ_INT(sfu_participant_info_get(c, 2, &info), -1);
    CHECK_EQ_INT(sfu_participant_info_get(c, 1, &info), 0);
    sfu_participant_info all[4];
    CHECK_EQ_INT(sfu_room_state(c, 1, all, 4), 1);
    client_close(&a);
    client_close(&b);
    stop(&loop, c);
    uv_loop_close(&loop);
}

/* ICE + DTLS for one client; returns 0 when the SFU reports it connected. */
static int connect_client(uv_loop_t *loop, sfu_core *c, client *cl, sfu_dtls_ctx *dctx) {
    uint8_t req[512], resp[512];
    binding(cl, cl->creds.pwd, true, req);
    if (pump(loop, cl, 500, resp, sizeof resp) == 0) return -1;
    cl->dtls = sfu_dtls_new(dctx, false, client_send, cl);
    sfu_dtls_expect_fingerprint(cl->dtls, sfu_core_fingerprint(c));
    sfu_dtls_start(cl->dtls);
    for (int i = 0; i < 300 && !sfu_dtls_done(cl->dtls); i++) pump(loop, cl, 5, NULL, 0);
    pump(loop, cl, 20, NULL, 0); /* the SFU's last flight and our Finished */
    sfu_srtp_keys k;
    if (!sfu_dtls_done(cl->dtls) || sfu_dtls_export(cl->dtls, &k) < 0) return -1;
    cl->srtp = sfu_srtp_new(&k, false);
    return cl->srtp ? 0 : -1;
}

TEST(full_path_ice_dtls_srtp) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(events, 0, sizeof events);
    sfu_core *c = start(&loop, 30000);
    if (!c) { CHECK(0); return; }
    sfu_room_create(c, 1);
    char err[128];
    sfu_dtls_ctx *dctx = sfu_dtls_ctx_new(err, sizeof err);
    client pub, sub;
    client_open(&pub, sfu_core_port(c));
    client_open(&sub, sfu_core_port(c));
    CHECK_EQ_INT(add(c, 1, &pub, false), 0);
    CHECK_EQ_INT(add(c, 2, &sub, false), 0);
    CHECK_EQ_INT(connect_client(&loop, c, &pub, dctx), 0);
    CHECK_EQ_INT(connect_client(&loop, c, &sub, dctx), 0);
    pump(&loop, NULL, 20, NULL, 0);
    CHECK_EQ_INT(events[SFU_EV_CONNECTED], 2);
    CHECK_EQ_INT(sfu_subscribe(c, 2, 1, 720), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 2, 2, 720), -1); /* not to oneself */
    if (pub.srtp && sub.srtp) {
        for (int i = 0; i < 20; i++) {
            uint8_t p[256];
            size_t n = rtp_write_header(p, sizeof p, 111, false, (uint16_t)(500 + i), 960u * (uint32_t)i, 1001);
            memcpy(p + n, "opus-frame-bytes", 16);
            n += 16;
            CHECK_EQ_INT(sfu_srtp_protect(pub.srtp, p, &n, sizeof p), 0);
            sendto(pub.fd, p, n, 0, (struct sockaddr *)&pub.sfu, sizeof pub.sfu);
        }
        for (int i = 0; i < 200 && sub.got_media < 20; i++) pump(&loop, &sub, 2, NULL, 0);
        CHECK_EQ_INT(sub.got_media, 20);
        rtp_hdr h;
        CHECK_EQ_INT(rtp_parse(sub.last, sub.last_len, &h), 0);
        CHECK(h.ssrc != 1001); /* rewritten */
        CHECK(h.payload_len == 16 && memcmp(h.payload, "opus-frame-bytes", 16) == 0);
        /* A packet protected with the wrong keys is dropped, not forwarded. */
        uint8_t p[256];
        size_t n = rtp_write_header(p, sizeof p, 111, false, 600, 0, 1001) + 16;
        CHECK_EQ_INT(sfu_srtp_protect(sub.srtp, p, &n, sizeof p), 0);
        sendto(pub.fd, p, n, 0, (struct sockaddr *)&pub.sfu, sizeof pub.sfu);
        int before = sub.got_media;
        pump(&loop, &sub, 50, NULL, 0);
        CHECK_EQ_INT(sub.got_media, before);
    }
    client_close(&pub);
    client_close(&sub);
    sfu_dtls_ctx_free(dctx);
    stop(&loop, c);
    uv_loop_close(&loop);
}

int main(void) {
    RUN(ice_lite_binding);
    RUN(consent_expiry);
    RUN(full_path_ice_dtls_srtp);
    return UNIT_DONE("test_sfu_net");
}
