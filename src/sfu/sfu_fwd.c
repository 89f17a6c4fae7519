/*
 * sfu_fwd.c: the forwarding logic on plaintext RTP/RTCP (after SRTP): a publisher's packet
 * goes to every subscription in its fan-out with the subscription's own SSRC, sequence
 * number and timestamp; simulcast layers switch only at a keyframe of the target layer, with
 * a PLI to the publisher while a switch is pending; NACKs are answered from the publisher's
 * history; PLI/FIR from a subscriber becomes a PLI to the publisher; REMB sets the
 * subscriber's bandwidth; SRs are forwarded rewritten; the active speaker comes from the
 * audio-level extension. Nothing here queues: a packet the transport cannot send now is
 * dropped (and counted), so a slow subscriber never holds up the others.
 */
#include "rtp.h"
#include "sfu_internal.h"
#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool layer_active(const sfu_stream *s, uint64_t now) {
    return s->packets > 0 && now - s->last_rx_ms < 2000;
}

/* The highest layer that fits the rendered size and the bandwidth; the lowest active layer
 * at least. Layers are ordered lowest first. */
void sfu_fwd_choose_layer(sfu_sub *s) {
    sfu_participant *pub = s->pub;
    if (pub->n_layers == 0) { s->target = -1; return; }
    if (s->max_height == 0) { s->target = s->cur = -1; return; } /* audio only: no video */
    uint64_t now = sfu_now_ms(pub->core);
    int n_video = 0;
    for (int i = 0; i < s->sub->n_subs; i++) n_video += s->sub->subs[i]->pub->n_layers > 0;
    uint64_t budget = s->sub->remb && n_video ? s->sub->remb / (uint64_t)n_video : 0;
    /* Only layers the publisher is sending count, unless it sends none yet (a browser
     * starts with the low layers and adds the others as its bandwidth estimate grows). */
    bool any_active = false;
    for (int l = 0; l < pub->n_layers; l++) any_active |= layer_active(&pub->video[l], now);
    int best = -1;
    for (int l = 0; l < pub->n_layers; l++) {
        const sfu_stream *st = &pub->video[l];
        if (any_active && !layer_active(st, now)) continue;
        if (best >= 0 && st->height > s->max_height) break;
        if (best >= 0 && budget && st->bitrate > budget) break;
        best = l;
    }
    s->target = best < 0 ? 0 : best;
}

void sfu_fwd_request_keyframe(sfu_core *c, sfu_participant *pub, int layer, uint64_t now) {
    sfu_stream *st = &pub->video[layer];
    if (!st->ssrc || (st->last_pli_ms && now - st->last_pli_ms < SFU_PLI_INTERVAL_MS)) return;
    st->last_pli_ms = now;
    uint8_t b[16];
    size_t n = rtcp_build_pli(b, sizeof b, 1, st->ssrc);
    sfu_net_send(c, pub, b, n, true);
    c->stats.plis_sent++;
    sfu_emit(c, SFU_EV_KEYFRAME_NEEDED, pub, st->ssrc);
}

static void send_counted(sfu_core *c, sfu_participant *to, const uint8_t *pkt, size_t len) {
    if (sfu_net_send(c, to, pkt, len, false) == 0) {
        to->tx_packets++;
        c->stats.forwarded++;
    } else {
        to->tx_dropped++;
        c->stats.dropped++;
    }
}

/* Which layer a video packet belongs to; learns SSRCs of rid-based simulcast. */
static int video_layer(sfu_participant *p, const rtp_hdr *h) {
    for (int l = 0; l < p->n_layers; l++)
        if (p->video[l].ssrc == h->ssrc) return l;
    if (p->ext_rid) {
        const rtp_ext *e = rtp_find_ext(h, (uint8_t)p->ext_rid);
        for (int l = 0; e && l < p->n_layers; l++) {
            size_t rl = strlen(p->video[l].rid);
            if (!p->video[l].ssrc && rl == e->len && memcmp(p->video[l].rid, e->data, rl) == 0) {
                p->video[l].ssrc = h->ssrc;
                return l;
            }
        }
    }
    return -1;
}

static void history_put(sfu_core *c, sfu_stream *st, const rtp_hdr *h, const uint8_t *pkt, size_t len) {
    st->window_packets++;
    if (!st->slots || len > SFU_SLOT) return;
    unsigned i = h->seq % st->hist_cap;
    st->slots[i].seq = h->seq;
    st->slots[i].len = (uint16_t)len;
    memcpy(st->slab + (size_t)i * SFU_SLOT, pkt, len);
}

/* Once a second: a stream that sent more packets than its history holds gets a history of
 * the next power of two (up to cfg.history_packets), its packets moved over. About a second
 * is what NACKs need (a few round trips); a fixed 512 slots cost 768 KiB per stream. If
 * memory runs out the old history simply stays. */
static void history_fit(sfu_core *c, sfu_stream *st, double secs) {
    uint64_t pps = (uint64_t)((double)st->window_packets / secs);
    st->window_packets = 0;
    unsigned cap = st->hist_cap;
    while (cap < pps && cap < c->cfg.history_packets) cap *= 2;
    if (cap > c->cfg.history_packets) cap = c->cfg.history_packets;
    if (!st->slots || cap <= st->hist_cap) return;
    sfu_slot *slots = calloc(cap, sizeof *slots);
    uint8_t *slab = malloc((size_t)cap * SFU_SLOT);
    if (!slots || !slab) { free(slots); free(slab); return; }
    for (unsigned i = 0; i < st->hist_cap; i++) {
        if (!st->slots[i].len) continue;
        unsigned j = st->slots[i].seq % cap;
        slots[j] = st->slots[i];
        memcpy(slab + (size_t)j * SFU_SLOT, st->slab + (size_t)i * SFU_SLOT, st->slots[i].len);
    }
    free(st->slots);
    free(st->slab);
    st->slots = slots;
    st->slab = slab;
    st->hist_cap = cap;
}

/* A gap of up to 16 in a publisher's video sequence: NACK the missing packets at once
 * (RFC 4585 generic NACK). Larger gaps are left to the keyframe logic. */
static void nack_gap(sfu_core *c, sfu_participant *p, const sfu_stream *st, uint16_t seq) {
    uint16_t expected = (uint16_t)(st->max_seq + 1);
    int gap = (int16_t)(seq - expected);
    if (!st->seq_init || gap <= 0 || gap > 16) return;
    uint16_t lost[16];
    for (int i = 0; i < gap; i++) lost[i] = (uint16_t)(expected + i);
    uint8_t b[64];
    size_t n = rtcp_build_nack(b, sizeof b, 1, st->ssrc, lost, gap);
    if (n && sfu_net_send(c, p, b, n, true) == 0) c->stats.nacks_sent++;
}

/* RFC 4588: an RTX packet carries the original sequence number in its first two payload
 * bytes. Turns it back into the original packet in place; returns its layer or -1. The RTX
 * SSRC is known from the SDP (FID) or learnt from the repaired-rtp-stream-id extension. */
static int unwrap_rtx(sfu_participant *p, uint8_t *pkt, size_t *len, rtp_hdr *h) {
    int layer = -1;
    for (int l = 0; l < p->n_layers; l++)
        if (p->video[l].rtx_ssrc && p->video[l].rtx_ssrc == h->ssrc) layer = l;
    const rtp_ext *e = layer < 0 && p->ext_rrid ? rtp_find_ext(h, (uint8_t)p->ext_rrid) : NULL;
    for (int l = 0; e && layer < 0 && l < p->n_layers; l++) {
        size_t rl = strlen(p->video[l].rid);
        if (rl && !p->video[l].rtx_ssrc && rl == e->len && memcmp(p->video[l].rid, e->data, rl) == 0) {
            p->video[l].rtx_ssrc = h->ssrc;
            layer = l;
        }
    }
    if (layer < 0 || !p->video[layer].ssrc || h->payload_len < 2) return -1; /* padding probes */
    uint16_t osn = (uint16_t)(h->payload[0] << 8 | h->payload[1]);
    size_t off = (size_t)(h->payload - pkt);
    memmove(pkt + off, pkt + off + 2, *len - off - 2);
    *len -= 2;
    pkt[1] = (uint8_t)((pkt[1] & 0x80) | (p->video_pt & 0x7f));
    rtp_rewrite(pkt, osn, h->ts, p->video[layer].ssrc);
    return rtp_parse(pkt, *len, h) == 0 ? layer : -1;
}

static void stream_rx(sfu_stream *st, const rtp_hdr *h, size_t len, uint64_t now) {
    st->packets++;
    st->bytes += len;
    st->window_bytes += len;
    st->last_rx_ms = now;
    if (!st->seq_init || (int16_t)(h->seq - st->max_seq) > 0) st->max_seq = h->seq;
    st->seq_init = true;
}

static void forward_video(sfu_core *c, sfu_sub *s, int layer, bool keyframe, uint8_t *pkt,
                          size_t len, const rtp_hdr *h, uint64_t now) {
    if (s->target != s->cur && layer == s->target && keyframe) {
        s->cur = layer; /* switch only here, at the target layer's keyframe */
        s->need_rebase = true;
        s->switch_seq = h->seq;
    }
    if (layer != s->cur) {
        if (s->target != s->cur) sfu_fwd_request_keyframe(c, s->pub, s->target, now);
        return;
    }
    if (s->need_rebase) {
        /* Continue the subscriber's sequence and timestamp from where it stopped. */
        s->v_seq_off = (uint16_t)(s->v_last_seq + 1 - h->seq);
        s->v_ts_off = s->v_last_ts + (s->v_started ? 3000 : 0) - h->ts;
        s->need_rebase = false;
        s->v_started = true;
    } else if ((int16_t)(h->seq - s->switch_seq) < 0) {
        return; /* older than the keyframe we switched at: belongs to the old picture */
    }
    uint16_t out_seq = (uint16_t)(h->seq + s->v_seq_off);
    uint32_t out_ts = h->ts + s->v_ts_off;
    if ((int16_t)(out_seq - s->v_last_seq) > 0) {
        s->v_last_seq = out_seq;
        s->v_last_ts = out_ts;
    }
    sfu_outmap *m = &s->outmap[out_seq % SFU_OUTMAP];
    m->out_seq = out_seq;
    m->in_seq = h->seq;
    m->layer = (int8_t)layer;
    m->out_ts = out_ts;
    rtp_rewrite(pkt, out_seq, out_ts, s->video_ssrc);
    if (s->video_pt >= 0) pkt[1] = (uint8_t)((pkt[1] & 0x80) | (s->video_pt & 0x7f));
    s->v_packets++;
    s->v_octets += h->payload_len;
    send_counted(c, s->sub, pkt, len);
}

static void forward_audio(sfu_core *c, sfu_sub *s, uint8_t *pkt, size_t len, const rtp_hdr *h) {
    if (!s->a_started) {
        /* Continue the SSRC's sequence; its timeline too when a reused slot had one (960 =
         * one 20 ms Opus frame on), else start it anywhere. */
        s->a_seq_off = (uint16_t)(s->a_last_seq + 1 - h->seq);
        uint32_t base = s->a_resume ? s->a_last_ts + 960 : (uint32_t)(s->audio_ssrc * 2654435761u);
        s->a_ts_off = base - h->ts;
        s->a_started = true;
    }
    uint16_t out_seq = (uint16_t)(h->seq + s->a_seq_off);
    uint32_t out_ts = h->ts + s->a_ts_off;
    if ((int16_t)(out_seq - s->a_last_seq) > 0) {
        s->a_last_seq = out_seq;
        s->a_last_ts = out_ts;
    }
    rtp_rewrite(pkt, out_seq, out_ts, s->audio_ssrc);
    if (s->audio_pt >= 0) pkt[1] = (uint8_t)((pkt[1] & 0x80) | (s->audio_pt & 0x7f));
    send_counted(c, s->sub, pkt, len);
}

static void audio_level(sfu_participant *p, const rtp_hdr *h, uint64_t now) {
    if (!p->ext_audio_level) return;
    bool voice;
    int lvl = rtp_audio_level(rtp_find_ext(h, (uint8_t)p->ext_audio_level), &voice);
    if (lvl < 0) return;
    /* -dBov 0..127: loudness 127 - level, smoothed over ~10 packets (200 ms of Opus). */
    p->level = 0.9 * p->level + 0.1 * (127 - lvl);
    p->last_level_ms = now;
}

/* Every packet of a publisher that negotiated transport-wide congestion control carries a
 * transport-wide sequence number: note its arrival, and report early if a burst (a keyframe)
 * fills half the window before the next tick. */
static void twcc_input(sfu_core *c, sfu_participant *p, const rtp_hdr *h) {
    const rtp_ext *e = rtp_find_ext(h, (uint8_t)p->ext_twcc);
    int seq = e ? twcc_ext_seq(e->data, e->len) : -1;
    if (seq < 0) return;
    twcc_record(p->twcc, (uint16_t)seq, sfu_now_us(c));
    if ((uint16_t)(p->twcc->end - p->twcc->base) >= TWCC_WINDOW / 2) sfu_fwd_twcc_feedback(c, p);
}

int sfu_core_input_rtp(sfu_core *c, uint32_t from, uint8_t *pkt, size_t len, uint64_t now) {
    sfu_participant *p = sfu_find(c, from);
    rtp_hdr h;
    if (now > c->now) c->now = now;
    if (!p || rtp_parse(pkt, len, &h) < 0) return -1;
    p->rx_packets++;
    c->stats.rx_packets++;
    if (p->twcc) twcc_input(c, p, &h);
    if (h.pt == p->audio_pt && p->audio_pt >= 0) {
        if (!p->audio.ssrc) p->audio.ssrc = h.ssrc;
        if (h.ssrc != p->audio.ssrc) return -1;
        stream_rx(&p->audio, &h, len, now);
        if (p->audio_muted) return 0;
        audio_level(p, &h, now);
        for (int i = 0; i < p->n_fanout; i++) {
            /* Each subscriber gets its own rewritten copy; the source stays intact. */
            memcpy(c->txbuf, pkt, len < SFU_SLOT ? len : SFU_SLOT);
            if (len <= SFU_SLOT) forward_audio(c, p->fanout[i], c->txbuf, len, &h);
        }
        return 0;
    }
    int layer;
    if (p->rtx_pt >= 0 && h.pt == p->rtx_pt) {
        if ((layer = unwrap_rtx(p, pkt, &len, &h)) < 0) return -1;
        c->stats.rtx_received++;
    } else if (h.pt != p->video_pt || p->video_pt < 0 || (layer = video_layer(p, &h)) < 0) {
        return -1;
    }
    sfu_stream *st = &p->video[layer];
    nack_gap(c, p, st, h.seq);
    stream_rx(st, &h, len, now);
    history_put(c, st, &h, pkt, len);
    if (p->video_muted) return 0;
    vp8_desc d;
    bool key = vp8_parse(h.payload, h.payload_len, &d) == 0 && d.keyframe;
    if (key && h.payload_len >= d.descriptor_len + 10) {
        /* VP8 key frame header (RFC 6386 9.1): 3-byte tag, start code, 14-bit width/height. */
        const uint8_t *k = h.payload + d.descriptor_len;
        if (k[3] == 0x9d && k[4] == 0x01 && k[5] == 0x2a) st->height = (k[8] | k[9] << 8) & 0x3fff;
    }
    for (int i = 0; i < p->n_fanout; i++) {
        if (len > SFU_SLOT) break;
        memcpy(c->txbuf, pkt, len);
        forward_video(c, p->fanout[i], layer, key, c->txbuf, len, &h, now);
    }
    return 0;
}

/* NACK from a subscriber: resend from the publisher's history, rewritten as first sent. */
typedef struct { sfu_core *c; sfu_sub *s; int budget; } nack_ctx;

static void resend(void *arg, uint16_t out_seq) {
    nack_ctx *n = arg;
    sfu_sub *s = n->s;
    sfu_core *c = n->c;
    const sfu_outmap *m = &s->outmap[out_seq % SFU_OUTMAP];
    if (n->budget <= 0 || m->layer < 0 || m->out_seq != out_seq) return;
    sfu_stream *st = &s->pub->video[m->layer];
    if (!st->slots) return;
    unsigned i = m->in_seq % st->hist_cap;
    if (st->slots[i].len == 0 || st->slots[i].seq != m->in_seq) return;
    n->budget--; /* lookups are O(1); what costs is the resend */
    memcpy(c->txbuf, st->slab + (size_t)i * SFU_SLOT, st->slots[i].len);
    rtp_rewrite(c->txbuf, out_seq, m->out_ts, s->video_ssrc);
    if (s->video_pt >= 0) c->txbuf[1] = (uint8_t)((c->txbuf[1] & 0x80) | (s->video_pt & 0x7f));
    if (sfu_net_send(c, s->sub, c->txbuf, st->slots[i].len, false) == 0) {
        s->sub->retransmitted++;
        c->stats.retransmitted++;
    }
}

static sfu_sub *sub_by_ssrc(sfu_participant *p, uint32_t ssrc, bool *video) {
    for (int i = 0; i < p->n_subs; i++) {
        if (p->subs[i]->video_ssrc == ssrc) { *video = true; return p->subs[i]; }
        if (p->subs[i]->audio_ssrc == ssrc) { *video = false; return p->subs[i]; }
    }
    return NULL;
}

/* SR from a publisher: each subscriber of that stream gets it with its SSRC and timestamp. */
static void forward_sr(sfu_core *c, sfu_participant *p, const rtcp_pkt *r) {
    int layer = -1;
    for (int l = 0; l < p->n_layers; l++) if (p->video[l].ssrc == r->ssrc) layer = l;
    bool audio = p->audio.ssrc && r->ssrc == p->audio.ssrc;
    if (layer < 0 && !audio) return;
    uint8_t b[28];
    for (int i = 0; i < p->n_fanout; i++) {
        sfu_sub *s = p->fanout[i];
        if (!audio && s->cur != layer) continue;
        uint64_t ntp = (uint64_t)rd32(r->body + 4) << 32 | rd32(r->body + 8);
        uint32_t ts = rd32(r->body + 12) + (audio ? s->a_ts_off : s->v_ts_off);
        size_t n = rtcp_build_sr(b, sizeof b, audio ? s->audio_ssrc : s->video_ssrc, ntp, ts,
                                 (uint32_t)s->v_packets, (uint32_t)s->v_octets);
        sfu_net_send(c, s->sub, b, n, true);
    }
}

int sfu_core_input_rtcp(sfu_core *c, uint32_t from, uint8_t *pkt, size_t len, uint64_t now) {
    sfu_participant *p = sfu_find(c, from);
    if (now > c->now) c->now = now;
    if (!p || rtcp_validate(pkt, len) < 0) return -1;
    size_t off = 0;
    rtcp_pkt r;
    while (rtcp_next(pkt, len, &off, &r) == 1) {
        bool video = false;
        if (r.pt == RTCP_SR) {
            forward_sr(c, p, &r);
        } else if (r.pt == RTCP_RTPFB && r.fmt == RTCP_FMT_NACK) {
            sfu_sub *s = sub_by_ssrc(p, r.media_ssrc, &video);
            if (s && video) {
                nack_ctx n = { c, s, SFU_MAX_RESEND_PER_NACK };
                rtcp_nack_foreach(&r, resend, &n);
            }
        } else if (r.pt == RTCP_PSFB && (r.fmt == RTCP_FMT_PLI || r.fmt == RTCP_FMT_FIR)) {
            uint32_t media = r.media_ssrc;
            uint8_t seq;
            if (r.fmt == RTCP_FMT_FIR && rtcp_fir_parse(&r, &media, &seq) < 0) continue;
            sfu_sub *s = sub_by_ssrc(p, media, &video);
            if (s && video && s->cur >= 0) sfu_fwd_request_keyframe(c, s->pub, s->cur, now);
        } else if (r.pt == RTCP_PSFB && r.fmt == RTCP_FMT_AFB) {
            uint64_t br;
            uint32_t ss[8];
            int n;
            if (rtcp_remb_parse(&r, &br, ss, 8, &n) == 0) {
                p->remb = br;
                for (int i = 0; i < p->n_subs; i++) sfu_fwd_choose_layer(p->subs[i]);
            }
        }
        /* RR, SDES, BYE, TWCC: consumed here (TWCC-based estimation is not implemented). */
    }
    return 0;
}

/* Sends what p's congestion feedback has not reported yet (a few packets' worth at most). */
void sfu_fwd_twcc_feedback(sfu_core *c, sfu_participant *p) {
    uint32_t media = p->video[0].ssrc ? p->video[0].ssrc : p->audio.ssrc;
    for (int k = 0; k < 4 && twcc_pending(p->twcc); k++) {
        uint8_t b[1024];
        size_t n = twcc_build_feedback(p->twcc, b, sizeof b, 1, media);
        if (n && sfu_net_send(c, p, b, n, true) == 0) c->stats.twcc_sent++;
    }
}

/* Once a second: layer bitrates, RRs to publishers; every tick: layer choice, pending PLIs,
 * congestion feedback to publishers. */
void sfu_fwd_tick(sfu_core *c, uint64_t now) {
    bool rate = now - c->last_rate_ms >= 1000;
    for (int i = 0; i < c->n_parts; i++) {
        sfu_participant *p = c->parts[i];
        if (p->twcc) sfu_fwd_twcc_feedback(c, p);
        if (rate && c->last_rate_ms) {
            double secs = (double)(now - c->last_rate_ms) / 1000.0;
            for (int l = 0; l < p->n_layers; l++) {
                sfu_stream *st = &p->video[l];
                uint64_t inst = (uint64_t)((double)st->window_bytes * 8 / secs);
                st->bitrate = st->bitrate ? (st->bitrate * 3 + inst) / 4 : inst;
                st->window_bytes = 0;
                history_fit(c, st, secs);
                if (st->ssrc && st->seq_init) {
                    uint8_t b[32];
                    size_t n = rtcp_build_rr(b, sizeof b, 1, st->ssrc, 0, 0, st->max_seq, 0, 0, 0);
                    sfu_net_send(c, p, b, n, true);
                }
            }
        }
        for (int k = 0; k < p->n_subs; k++) {
            sfu_sub *s = p->subs[k];
            sfu_fwd_choose_layer(s);
            if (s->target >= 0 && s->target != s->cur) sfu_fwd_request_keyframe(c, s->pub, s->target, now);
        }
    }
    if (rate) c->last_rate_ms = now;
}

/* The loudest participant becomes the speaker if it beats the current one by a margin for
 * three ticks in a row (hysteresis: no flapping between two similar voices). */
void sfu_fwd_speaker_tick(sfu_core *c, sfu_room *r, uint64_t now) {
    sfu_participant *loud = NULL, *cur = NULL;
    for (int i = 0; i < r->n_members; i++) {
        sfu_participant *p = r->members[i];
        if (now - p->last_level_ms > 500) p->level *= 0.5; /* stopped sending audio */
        if (p->id == r->speaker) cur = p;
        if (!loud || p->level > loud->level) loud = p;
    }
    if (!loud || loud->level < 20 || loud == cur) { r->candidate_ticks = 0; return; }
    if (cur && loud->level < cur->level + 6) { r->candidate_ticks = 0; return; }
    if (r->candidate != loud->id) { r->candidate = loud->id; r->candidate_ticks = 0; }
    if (++r->candidate_ticks >= 3) {
        r->speaker = loud->id;
        r->candidate_ticks = 0;
        sfu_emit(c, SFU_EV_SPEAKER, loud, 0);
    }
}
