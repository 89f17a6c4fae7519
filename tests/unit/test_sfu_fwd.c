/* test_sfu_fwd.c: the forwarding logic driven through the sfu_core API with synthetic RTP
 * (no socket, no browser): two simulcast publishers, several subscribers. Sequence numbers
 * stay continuous across a simulcast switch, a switch happens only at a keyframe of the
 * target layer, PLIs go to the publisher while a switch is pending, NACKs are answered from
 * the history, a subscriber that cannot take packets does not hold up the others, REMB
 * lowers the layer, and the active speaker changes with hysteresis. */
#include "unit.h"
#include "rtp.h"
#include "sfu.h"
#include <stdlib.h>

#define MAXP 4096
typedef struct { uint16_t seq; uint32_t ssrc, ts; uint8_t pt; uint8_t payload[8]; size_t len; } got_pkt;
typedef struct {
    got_pkt rtp[MAXP];
    int n_rtp;
    int plis;
    uint32_t pli_ssrc[64];
    int rtcp_other;
    uint16_t nacked[64];
    int n_nacked;
    uint32_t nack_ssrc;
    bool slow;
} sink;
static sink sinks[8];
static int speaker_events;
static uint32_t speaker;

static void note_nack(void *arg, uint16_t seq) {
    sink *s = arg;
    if (s->n_nacked < 64) s->nacked[s->n_nacked++] = seq;
}

static int plain_out(void *arg, uint32_t id, const uint8_t *pkt, size_t len, bool rtcp) {
    if (id >= 8) return -1;
    sink *s = &sinks[id];
    if (s->slow) return -1;
    if (rtcp) {
        size_t off = 0;
        rtcp_pkt r;
        while (rtcp_next(pkt, len, &off, &r) == 1) {
            if (r.pt == RTCP_PSFB && r.fmt == RTCP_FMT_PLI) {
                if (s->plis < 64) s->pli_ssrc[s->plis] = r.media_ssrc;
                s->plis++;
            } else if (r.pt == RTCP_RTPFB && r.fmt == RTCP_FMT_NACK) {
                s->nack_ssrc = r.media_ssrc;
                rtcp_nack_foreach(&r, note_nack, s);
            } else {
                s->rtcp_other++;
            }
        }
        return 0;
    }
    rtp_hdr h;
    if (rtp_parse(pkt, len, &h) < 0 || s->n_rtp == MAXP) return 0;
    got_pkt *g = &s->rtp[s->n_rtp++];
    g->seq = h.seq; g->ssrc = h.ssrc; g->ts = h.ts; g->pt = h.pt;
    g->len = h.payload_len;
    memcpy(g->payload, h.payload, h.payload_len < 8 ? h.payload_len : 8);
    return 0;
}

static void on_event(void *arg, const sfu_event *ev) {
    if (ev->kind == SFU_EV_SPEAKER) { speaker_events++; speaker = ev->participant; }
}

static uint64_t now_ms = 1000;

static sfu_core *make_core(uv_loop_t *loop) {
    sfu_config cfg;
    sfu_config_defaults(&cfg);
    cfg.no_socket = true;
    cfg.plain_out = plain_out;
    cfg.on_event = on_event;
    cfg.consent_timeout_ms = 1000000000u;
    char err[128];
    return sfu_core_new(loop, &cfg, err, sizeof err);
}

/* Publisher: audio ssrc base, video layers base+1..base+3 (SIM), audio level ext id 1. */
static int add_pub(sfu_core *c, uint32_t id, uint32_t base) {
    sdp_offer o;
    memset(&o, 0, sizeof o);
    snprintf(o.ice_ufrag, sizeof o.ice_ufrag, "u%u", id);
    o.n_media = 2;
    sdp_media *a = &o.media[0], *v = &o.media[1];
    a->kind = SDP_AUDIO; a->accepted = true; a->pt = 111; a->rtx_pt = -1; a->n_layers = 1;
    a->ssrc[0] = base; a->ext_audio_level = 1; snprintf(a->mid, sizeof a->mid, "0");
    v->kind = SDP_VIDEO; v->accepted = true; v->pt = 96; v->rtx_pt = 97; v->n_layers = 3;
    for (int l = 0; l < 3; l++) v->ssrc[l] = base + 1 + (uint32_t)l;
    for (int l = 0; l < 3; l++) v->rtx_ssrc[l] = base + 51 + (uint32_t)l;
    snprintf(v->mid, sizeof v->mid, "1");
    return sfu_participant_add(c, 1, id, &o, NULL);
}

static int add_sub(sfu_core *c, uint32_t id) {
    sdp_offer o;
    memset(&o, 0, sizeof o);
    snprintf(o.ice_ufrag, sizeof o.ice_ufrag, "u%u", id);
    o.n_media = 1;
    o.media[0].kind = SDP_VIDEO; o.media[0].accepted = true; o.media[0].pt = 96;
    o.media[0].dir = SDP_RECVONLY; o.media[0].n_layers = 1;
    snprintf(o.media[0].mid, sizeof o.media[0].mid, "0");
    return sfu_participant_add(c, 1, id, &o, NULL);
}

static uint16_t vseq[3][3];
static uint32_t vts[3][3];

/* A fresh core (sinks and sequence numbers reset) with room 1 and publisher 1 (SSRCs from
 * 100); NULL, with a failed check, if it cannot be made. finish() frees it and its loop. */
static sfu_core *start(uv_loop_t *loop) {
    uv_loop_init(loop);
    memset(sinks, 0, sizeof sinks);
    memset(vseq, 0, sizeof vseq);
    sfu_core *c = make_core(loop);
    if (!c) { CHECK(0); uv_loop_close(loop); return NULL; }
    sfu_room_create(c, 1);
    add_pub(c, 1, 100);
    return c;
}

static void finish(sfu_core *c, uv_loop_t *loop) {
    sfu_core_free(c);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}


/* One video packet on layer l of publisher pub (1 or 2), keyframe or delta. */
static void video(sfu_core *c, uint32_t pub, uint32_t base, int l, bool key) {
    uint8_t p[64];
    size_t n = rtp_write_header(p, sizeof p, 96, true, vseq[pub][l]++, vts[pub][l], base + 1 + (uint32_t)l);
    vts[pub][l] += 3000;
    p[n++] = 0x10;               /* VP8 descriptor: S=1, partition 0 */
    p[n++] = key ? 0x00 : 0x01;  /* payload header: P bit */
    p[n++] = (uint8_t)l;         /* marks the layer for the checks */
    p[n++] = (uint8_t)(vseq[pub][l] - 1);
    CHECK_EQ_INT(sfu_core_input_rtp(c, pub, p, n, now_ms), 0);
}

static void frame_all(sfu_core *c, int key_layer) {
    for (int l = 0; l < 3; l++) video(c, 1, 100, l, l == key_layer);
    now_ms += 33;
}

static bool continuous(const sink *s, uint32_t ssrc) {
    int prev = -1;
    for (int i = 0; i < s->n_rtp; i++) {
        if (s->rtp[i].ssrc != ssrc) continue;
        if (prev >= 0 && s->rtp[i].seq != (uint16_t)(prev + 1)) return false;
        prev = s->rtp[i].seq;
    }
    return prev >= 0;
}

TEST(simulcast_switch_nack_slow) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    CHECK_EQ_INT(add_pub(c, 2, 200), 0);
    CHECK_EQ_INT(add_sub(c, 3), 0);
    CHECK_EQ_INT(add_sub(c, 4), 0);
    CHECK_EQ_INT(add_sub(c, 5), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 720), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 4, 1, 180), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 5, 1, 720), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 2, 720), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 9, 720), -1); /* unknown publisher */
    sinks[5].slow = true;

    /* Deltas only: nobody receives video, and the publisher is asked for keyframes. */
    for (int f = 0; f < 5; f++) frame_all(c, -1);
    sfu_core_tick(c, now_ms);
    CHECK_EQ_INT(sinks[3].n_rtp, 0);
    CHECK_EQ_INT(sinks[4].n_rtp, 0);
    CHECK(sinks[1].plis >= 2);
    bool pli_hi = false, pli_lo = false;
    for (int i = 0; i < sinks[1].plis && i < 64; i++) {
        pli_hi |= sinks[1].pli_ssrc[i] == 103;
        pli_lo |= sinks[1].pli_ssrc[i] == 101;
    }
    CHECK(pli_hi && pli_lo);

    /* Keyframe on the low layer: subscriber 4 (180p) starts, 3 still waits for layer 2. */
    frame_all(c, 0);
    for (int f = 0; f < 5; f++) frame_all(c, -1);
    CHECK_EQ_INT(sinks[4].n_rtp, 6);
    CHECK_EQ_INT(sinks[3].n_rtp, 0);
    for (int i = 0; i < sinks[4].n_rtp; i++) CHECK_EQ_INT(sinks[4].rtp[i].payload[2], 0);
    frame_all(c, 2);
    for (int f = 0; f < 9; f++) frame_all(c, -1);
    CHECK_EQ_INT(sinks[3].n_rtp, 10);
    for (int i = 0; i < sinks[3].n_rtp; i++) CHECK_EQ_INT(sinks[3].rtp[i].payload[2], 2);

    /* 3 now wants 180p: it keeps layer 2 until a layer-0 keyframe, PLI meanwhile. */
    int plis_before = sinks[1].plis;
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 180), 0);
    now_ms += 400;
    for (int f = 0; f < 4; f++) frame_all(c, -1);
    sfu_core_tick(c, now_ms);
    CHECK(sinks[1].plis > plis_before);
    int n3 = sinks[3].n_rtp;
    CHECK_EQ_INT(n3, 14);
    CHECK_EQ_INT(sinks[3].rtp[n3 - 1].payload[2], 2);
    frame_all(c, 1); /* a keyframe on the wrong layer changes nothing */
    CHECK_EQ_INT(sinks[3].rtp[sinks[3].n_rtp - 1].payload[2], 2);
    frame_all(c, 0);
    for (int f = 0; f < 5; f++) frame_all(c, -1);
    n3 = sinks[3].n_rtp;
    CHECK_EQ_INT(sinks[3].rtp[n3 - 1].payload[2], 0);
    CHECK_EQ_INT(n3, 14 + 1 + 6);
    uint32_t vssrc = sinks[3].rtp[0].ssrc;
    CHECK(vssrc != 101 && vssrc != 102 && vssrc != 103);
    CHECK(continuous(&sinks[3], vssrc));
    CHECK(continuous(&sinks[4], sinks[4].rtp[0].ssrc));
    /* Timestamps never go backwards across the switch. */
    for (int i = 1; i < n3; i++) CHECK((int32_t)(sinks[3].rtp[i].ts - sinks[3].rtp[i - 1].ts) >= 0);

    /* NACK for two packets subscriber 3 got (one before the switch, one after). */
    got_pkt a = sinks[3].rtp[5], b = sinks[3].rtp[n3 - 2];
    uint16_t lost[2] = { a.seq, b.seq };
    uint8_t nack[64];
    size_t nl = rtcp_build_nack(nack, sizeof nack, 9, vssrc, lost, 2);
    if (a.seq > b.seq) { uint16_t t = lost[0]; lost[0] = lost[1]; lost[1] = t; nl = rtcp_build_nack(nack, sizeof nack, 9, vssrc, lost, 2); }
    CHECK_EQ_INT(sfu_core_input_rtcp(c, 3, nack, nl, now_ms), 0);
    CHECK_EQ_INT(sinks[3].n_rtp, n3 + 2);
    bool ra = false, rb = false;
    for (int i = n3; i < sinks[3].n_rtp; i++) {
        const got_pkt *g = &sinks[3].rtp[i];
        CHECK_EQ_INT(g->ssrc, vssrc);
        if (g->seq == a.seq) ra = g->ts == a.ts && memcmp(g->payload, a.payload, 4) == 0;
        if (g->seq == b.seq) rb = g->ts == b.ts && memcmp(g->payload, b.payload, 4) == 0;
    }
    CHECK(ra && rb);
    /* A NACK for another subscriber's SSRC or for seqs never sent does nothing. */
    uint16_t never[1] = { (uint16_t)(b.seq + 1000) };
    nl = rtcp_build_nack(nack, sizeof nack, 9, vssrc, never, 1);
    sfu_core_input_rtcp(c, 3, nack, nl, now_ms);
    nl = rtcp_build_nack(nack, sizeof nack, 9, sinks[4].rtp[0].ssrc, lost, 1);
    sfu_core_input_rtcp(c, 3, nack, nl, now_ms);
    CHECK_EQ_INT(sinks[3].n_rtp, n3 + 2);
    /* A NACK naming every packet ever sent (a flood) is answered for at most 64. */
    for (int f = 0; f < 100; f++) frame_all(c, -1); /* 100 more packets to subscriber 3 */
    static uint16_t all[600];
    for (int i = 0; i < 600; i++) all[i] = (uint16_t)(sinks[3].rtp[0].seq + i);
    static uint8_t big[1400];
    size_t bl = rtcp_build_nack(big, sizeof big, 9, vssrc, all, 600);
    CHECK(bl > 0);
    int before_flood = sinks[3].n_rtp;
    CHECK_EQ_INT(sfu_core_input_rtcp(c, 3, big, bl, now_ms), 0);
    CHECK_EQ_INT(sinks[3].n_rtp - before_flood, 64);
    /* Malformed RTCP is refused. */
    nack[3] = 40;
    CHECK_EQ_INT(sfu_core_input_rtcp(c, 3, nack, nl, now_ms), -1);

    /* The slow subscriber got nothing and was never waited for. */
    sfu_participant_info i5, i4;
    CHECK_EQ_INT(sfu_participant_info_get(c, 5, &i5), 0);
    CHECK(i5.tx_dropped > 0);
    CHECK_EQ_INT(i5.tx_packets, 0);
    CHECK_EQ_INT(sfu_participant_info_get(c, 4, &i4), 0);
    CHECK_EQ_INT(i4.tx_dropped, 0);

    /* PLI from a subscriber becomes a PLI to the publisher for the layer it receives. */
    now_ms += 1000;
    plis_before = sinks[1].plis;
    uint8_t pli[12];
    rtcp_build_pli(pli, sizeof pli, 9, vssrc);
    CHECK_EQ_INT(sfu_core_input_rtcp(c, 3, pli, 12, now_ms), 0);
    CHECK_EQ_INT(sinks[1].plis, plis_before + 1);
    CHECK_EQ_INT(sinks[1].pli_ssrc[sinks[1].plis - 1], 101);

    /* Unsubscribe stops the flow. */
    int n4 = sinks[4].n_rtp;
    CHECK_EQ_INT(sfu_unsubscribe(c, 4, 1), 0);
    frame_all(c, 0);
    CHECK_EQ_INT(sinks[4].n_rtp, n4);
    CHECK_EQ_INT(sfu_unsubscribe(c, 4, 1), -1);
    /* Bad RTP from a participant is refused; packets from an unknown id too. */
    uint8_t junk[8] = { 0x80 };
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, junk, sizeof junk, now_ms), -1);
    uint8_t ok[16];
    size_t okn = rtp_write_header(ok, sizeof ok, 111, false, 1, 1, 100);
    CHECK_EQ_INT(sfu_core_input_rtp(c, 42, ok, okn, now_ms), -1);
    /* An SSRC the publisher did not declare is not forwarded. */
    okn = rtp_write_header(ok, sizeof ok, 96, false, 1, 1, 999);
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, ok, okn, now_ms), -1);
    finish(c, &loop);
}

TEST(remb_lowers_layer) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    add_sub(c, 3);
    sfu_subscribe(c, 3, 1, 720);
    /* Two seconds of all layers so the SFU measures their bitrates (a few kbit/s here). */
    for (int f = 0; f < 60; f++) {
        frame_all(c, f == 0 ? 2 : -1);
        if (f % 10 == 0) sfu_core_tick(c, now_ms);
    }
    sfu_core_tick(c, now_ms);
    sfu_participant_info info;
    sfu_participant_info_get(c, 3, &info);
    CHECK_EQ_INT(info.current_layer_of_first_sub, 2);
    /* REMB of 1 bit/s: below every layer; the lowest layer is chosen at its next keyframe. */
    uint8_t remb[64];
    uint32_t ss[1] = { 0 };
    size_t n = rtcp_build_remb(remb, sizeof remb, 9, 1, ss, 1);
    CHECK_EQ_INT(sfu_core_input_rtcp(c, 3, remb, n, now_ms), 0);
    frame_all(c, 0);
    frame_all(c, -1);
    sfu_participant_info_get(c, 3, &info);
    CHECK_EQ_INT(info.current_layer_of_first_sub, 0);
    finish(c, &loop);
}

static void audio(sfu_core *c, uint32_t pub, uint32_t ssrc, uint16_t seq, int level) {
    uint8_t p[32];
    size_t n = rtp_write_header(p, sizeof p, 111, false, seq, 960u * seq, ssrc);
    p[0] |= 0x10;
    p[n++] = 0xbe; p[n++] = 0xde; p[n++] = 0; p[n++] = 1;
    p[n++] = 0x10; p[n++] = (uint8_t)(0x80 | level); p[n++] = 0; p[n++] = 0;
    p[n++] = 0xfc;
    CHECK_EQ_INT(sfu_core_input_rtp(c, pub, p, n, now_ms), 0);
}

TEST(active_speaker) {
    speaker_events = 0;
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    add_pub(c, 2, 200);
    add_sub(c, 3);
    sfu_subscribe(c, 3, 1, 180);
    sfu_subscribe(c, 3, 2, 180);
    uint16_t s = 0;
    /* 1 s: participant 1 loud (-10 dBov), 2 quiet (-90 dBov). */
    for (int i = 0; i < 50; i++, s++) {
        audio(c, 1, 100, s, 10);
        audio(c, 2, 200, s, 90);
        now_ms += 20;
        if (i % 5 == 4) sfu_core_tick(c, now_ms);
    }
    CHECK_EQ_INT(speaker_events, 1);
    CHECK_EQ_INT(speaker, 1);
    /* Both equally loud: hysteresis keeps 1. */
    for (int i = 0; i < 50; i++, s++) {
        audio(c, 1, 100, s, 12);
        audio(c, 2, 200, s, 11);
        now_ms += 20;
        if (i % 5 == 4) sfu_core_tick(c, now_ms);
    }
    CHECK_EQ_INT(speaker_events, 1);
    /* 2 speaks, 1 falls silent: the speaker changes once. */
    for (int i = 0; i < 50; i++, s++) {
        audio(c, 1, 100, s, 127);
        audio(c, 2, 200, s, 5);
        now_ms += 20;
        if (i % 5 == 4) sfu_core_tick(c, now_ms);
    }
    CHECK_EQ_INT(speaker_events, 2);
    CHECK_EQ_INT(speaker, 2);
    /* Audio reached the subscriber from both, continuous per stream, SSRCs rewritten. */
    CHECK_EQ_INT(sinks[3].n_rtp, 300);
    CHECK(continuous(&sinks[3], sinks[3].rtp[0].ssrc));
    CHECK(sinks[3].rtp[0].ssrc != 100 && sinks[3].rtp[0].ssrc != 200);
    /* Muted: nothing forwarded, and a muted participant cannot become the speaker. */
    sfu_set_mute(c, 1, true, false);
    int before = sinks[3].n_rtp;
    for (int i = 0; i < 50; i++, s++) {
        audio(c, 1, 100, s, 0);
        audio(c, 2, 200, s, 60);
        now_ms += 20;
        if (i % 5 == 4) sfu_core_tick(c, now_ms);
    }
    CHECK_EQ_INT(sinks[3].n_rtp, before + 50);
    CHECK_EQ_INT(speaker, 2);
    CHECK_EQ_INT(sfu_set_mute(c, 77, true, true), -1);
    finish(c, &loop);
}

/* A video packet with an explicit sequence number on layer 0 of publisher 1 (ssrc 101). */
static void video_seq(sfu_core *c, uint16_t seq, bool key, uint8_t tag) {
    uint8_t p[64];
    size_t n = rtp_write_header(p, sizeof p, 96, true, seq, 3000u * seq, 101);
    p[n++] = 0x10; p[n++] = key ? 0x00 : 0x01; p[n++] = 0; p[n++] = tag;
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, p, n, now_ms), 0);
}

TEST(upstream_nack_and_rtx) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    add_sub(c, 3);
    sfu_subscribe(c, 3, 1, 180);
    video_seq(c, 10, true, 0xa0);
    video_seq(c, 11, false, 0xa1);
    video_seq(c, 14, false, 0xa4); /* 12 and 13 lost on the way in */
    CHECK_EQ_INT(sinks[1].n_nacked, 2);
    CHECK_EQ_INT(sinks[1].nacked[0], 12);
    CHECK_EQ_INT(sinks[1].nacked[1], 13);
    CHECK_EQ_INT(sinks[1].nack_ssrc, 101);
    /* The publisher retransmits 12 on its RTX stream (ssrc 151, pt 97, OSN first). */
    uint8_t p[64];
    size_t n = rtp_write_header(p, sizeof p, 97, true, 500, 3000u * 12, 151);
    p[n++] = 0; p[n++] = 12; /* OSN */
    p[n++] = 0x10; p[n++] = 0x01; p[n++] = 0; p[n++] = 0xa2;
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, p, n, now_ms), 0);
    CHECK_EQ_INT(sinks[3].n_rtp, 4);
    if (sinks[3].n_rtp == 4) {
        const got_pkt *first = &sinks[3].rtp[0], *rtx = &sinks[3].rtp[3];
        CHECK_EQ_INT(rtx->ssrc, first->ssrc);
        CHECK_EQ_INT(rtx->seq, (uint16_t)(first->seq + 2)); /* its place in the sequence */
        CHECK_EQ_INT(rtx->ts, first->ts + 2 * 3000);
        CHECK_EQ_INT(rtx->len, 4);
        CHECK_EQ_INT(rtx->payload[3], 0xa2);
    }
    /* RTX with an unknown SSRC, or too short to hold an OSN, is dropped. */
    n = rtp_write_header(p, sizeof p, 97, true, 501, 0, 999);
    p[n++] = 0; p[n++] = 13;
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, p, n, now_ms), -1);
    n = rtp_write_header(p, sizeof p, 97, true, 502, 0, 151);
    p[n++] = 0;
    CHECK_EQ_INT(sfu_core_input_rtp(c, 1, p, n, now_ms), -1);
    /* A gap larger than 16 is not NACKed packet by packet. */
    int before = sinks[1].n_nacked;
    video_seq(c, 60, false, 0);
    CHECK_EQ_INT(sinks[1].n_nacked, before);
    sfu_stats st;
    sfu_core_stats(c, &st);
    CHECK_EQ_INT(st.nacks_sent, 1);
    CHECK_EQ_INT(st.rtx_received, 1);
    finish(c, &loop);
}

/* A receiving browser's offer: recvonly audio (pt 109) and video (pt 100). */
static const char *recv_offer =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:recv\r\na=ice-pwd:pppppppppppppppppppppppp\r\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:109 opus/48000/2\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 100\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:100 VP8/90000\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n";

TEST(receive_slots_and_active_layers) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    static char answer[8192];
    char err[128];
    CHECK_EQ_INT(sfu_participant_add_sdp(c, 1, 3, recv_offer, strlen(recv_offer), answer, sizeof answer,
                                         NULL, err, sizeof err), 0);
    /* Both m-lines answered sendonly, each with its own SSRC, no mid extension. */
    const char *v = strstr(answer, "m=video");
    CHECK(v != NULL);
    if (!v) return;
    unsigned a_ssrc = 0, v_ssrc = 0;
    const char *as = strstr(answer, "a=ssrc:"), *vs = strstr(v, "a=ssrc:");
    CHECK(as && vs && as < v);
    if (as) sscanf(as, "a=ssrc:%u", &a_ssrc);
    if (vs) sscanf(vs, "a=ssrc:%u", &v_ssrc);
    CHECK(a_ssrc && v_ssrc && a_ssrc != v_ssrc);
    CHECK(strstr(answer, "a=sendonly\r\n") != NULL);
    CHECK(strstr(answer, "sdes:mid") == NULL);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 720), 0);
    /* The publisher sends only its low layer (as a browser starts): a 720p subscriber gets
     * that rather than waiting for a layer that is not there. */
    for (int f = 0; f < 5; f++) { video(c, 1, 100, 0, f == 0); now_ms += 33; }
    sfu_core_tick(c, now_ms);
    for (int f = 0; f < 5; f++) { video(c, 1, 100, 0, f == 0); now_ms += 33; }
    CHECK(sinks[3].n_rtp >= 5);
    for (int i = 0; i < sinks[3].n_rtp; i++) {
        CHECK_EQ_INT(sinks[3].rtp[i].ssrc, v_ssrc);
        CHECK_EQ_INT(sinks[3].rtp[i].pt, 100); /* the subscriber's payload type, not 96 */
    }
    finish(c, &loop);
}

/* True if the packets on ssrc have strictly rising timestamps (wrap-aware). */
static bool ts_rising(const sink *s, uint32_t ssrc) {
    int prev = -1;
    for (int i = 0; i < s->n_rtp; i++) {
        if (s->rtp[i].ssrc != ssrc) continue;
        if (prev >= 0 && (int32_t)(s->rtp[i].ts - s->rtp[prev].ts) <= 0) return false;
        prev = i;
    }
    return prev >= 0;
}

/* A receive slot handed from one publisher's subscription to another's (a tile scrolled out,
 * another in; or someone left and someone joined) keeps one unbroken stream on its SSRC:
 * sequence numbers continue, timestamps move on, and the video restarts at a keyframe. */
TEST(slot_reuse_continues_the_stream) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    add_pub(c, 2, 200);
    static char answer[8192];
    char err[128];
    CHECK_EQ_INT(sfu_participant_add_sdp(c, 1, 3, recv_offer, strlen(recv_offer), answer, sizeof answer,
                                         NULL, err, sizeof err), 0);
    unsigned a_ssrc = 0, v_ssrc = 0;
    const char *v = strstr(answer, "m=video"), *as = strstr(answer, "a=ssrc:");
    const char *vs = v ? strstr(v, "a=ssrc:") : NULL;
    if (!as || !vs) { CHECK(0); return; }
    sscanf(as, "a=ssrc:%u", &a_ssrc);
    sscanf(vs, "a=ssrc:%u", &v_ssrc);
    /* Both send only their low layer, as browsers start; a tick notes which layers are live. */
    for (int f = 0; f < 3; f++, now_ms += 33) { video(c, 1, 100, 0, false); video(c, 2, 200, 0, false); }
    sfu_core_tick(c, now_ms);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 720), 0);
    uint16_t aseq = 7;
    for (int f = 0; f < 6; f++, now_ms += 33) { video(c, 1, 100, 0, f == 0); audio(c, 1, 100, aseq++, 50); }
    int before = sinks[3].n_rtp;
    CHECK(before >= 12);
    /* 1's tile goes out of view (audio only), 2's comes in: 2 gets the video slot. */
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 0), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 2, 720), 0);
    now_ms += 500;
    video(c, 2, 200, 0, false); /* a delta frame first: not forwarded, a new SSRC user waits */
    for (int f = 0; f < 6; f++, now_ms += 33) video(c, 2, 200, 0, f == 0);
    /* 1 leaves the call: its audio slot goes to 2 (subscribing again takes free slots). */
    sfu_unsubscribe(c, 3, 1);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 2, 720), 0);
    now_ms += 200;
    for (int k = 0; k < 6; k++, now_ms += 20) audio(c, 2, 200, (uint16_t)(40000 + k), 50);
    int from_2 = 0;
    for (int i = before; i < sinks[3].n_rtp; i++) from_2 += sinks[3].rtp[i].ssrc == v_ssrc;
    CHECK_EQ_INT(from_2, 6); /* the keyframe and what follows, not the delta before it */
    CHECK(continuous(&sinks[3], v_ssrc));
    CHECK(ts_rising(&sinks[3], v_ssrc));
    CHECK(continuous(&sinks[3], a_ssrc));
    CHECK(ts_rising(&sinks[3], a_ssrc));
    finish(c, &loop);
}

/* A NACK is answered from the last ~second of a stream: the history starts small and grows
 * with the stream's packet rate (here 200 pkt/s: from 64 slots to 256), its contents kept. */
static bool nack_answered(sfu_core *c, uint32_t sub, const got_pkt *g) {
    uint8_t nack[32];
    size_t nl = rtcp_build_nack(nack, sizeof nack, 9, g->ssrc, &g->seq, 1);
    int before = sinks[sub].n_rtp;
    sfu_core_input_rtcp(c, sub, nack, nl, now_ms);
    return sinks[sub].n_rtp == before + 1 && sinks[sub].rtp[before].seq == g->seq;
}

TEST(history_follows_rate) {
    uv_loop_t loop;
    sfu_core *c = start(&loop);
    if (!c) return;
    CHECK_EQ_INT(add_sub(c, 3), 0);
    CHECK_EQ_INT(sfu_subscribe(c, 3, 1, 180), 0);
    size_t mem0 = sfu_participant_memory(c, 1);
    sfu_core_tick(c, now_ms);
    video(c, 1, 100, 0, true);
    for (int i = 0; i < 99; i++) video(c, 1, 100, 0, false);
    int n = sinks[3].n_rtp;
    CHECK(n >= 90);
    if (n < 90) goto out;
    CHECK(!nack_answered(c, 3, &sinks[3].rtp[n - 80])); /* 64 slots: 80 back is gone */
    CHECK(nack_answered(c, 3, &sinks[3].rtp[n - 30]));
    for (int t = 0; t < 30; t++) {                       /* 3 s at 200 pkt/s, ticks of 100 ms */
        for (int i = 0; i < 20; i++) video(c, 1, 100, 0, false);
        now_ms += 100;
        sfu_core_tick(c, now_ms);
    }
    n = sinks[3].n_rtp;
    CHECK(nack_answered(c, 3, &sinks[3].rtp[n - 200]));
    CHECK(nack_answered(c, 3, &sinks[3].rtp[n - 1]));
    CHECK(sfu_participant_memory(c, 1) >= mem0 + 3 * 64 * 1500);
out:
    finish(c, &loop);
}

int main(void) {
    RUN(simulcast_switch_nack_slow);
    RUN(remb_lowers_layer);
    RUN(active_speaker);
    RUN(upstream_nack_and_rtx);
    RUN(receive_slots_and_active_layers);
    RUN(slot_reuse_continues_the_stream);
    RUN(history_follows_rate);
    return UNIT_DONE("test_sfu_fwd");
}
