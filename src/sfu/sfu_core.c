/*
 * sfu_core.c: rooms, participants and the control-side API of sfu.h, plus the tick that
 * drives consent freshness, rate estimates, layer choice and the active speaker. The media
 * path is in sfu_fwd.c, the socket in sfu_net.c.
 */
#include "sfu_internal.h"
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sfu_config_defaults(sfu_config *c) {
    memset(c, 0, sizeof *c);
    c->bind_addr = "127.0.0.1";
    c->consent_timeout_ms = 30000;
    c->tick_ms = 100;
    c->history_packets = 512;
}

uint64_t sfu_now_ms(sfu_core *c) { return c->cfg.no_socket ? c->now : uv_now(c->loop); }

/* Arrival times for congestion feedback want better than the loop's millisecond clock. */
uint64_t sfu_now_us(sfu_core *c) { return c->cfg.no_socket ? c->now * 1000 : uv_hrtime() / 1000; }

void sfu_emit(sfu_core *c, sfu_event_kind kind, sfu_participant *p, uint32_t ssrc) {
    if (!c->cfg.on_event) return;
    sfu_event ev = { kind, p->room ? p->room->id : 0, p->id, ssrc };
    c->cfg.on_event(c->cfg.event_arg, &ev);
}

static void on_timer(uv_timer_t *t) {
    sfu_core *c = t->data;
    sfu_core_tick(c, uv_now(c->loop));
}

sfu_core *sfu_core_new(uv_loop_t *loop, const sfu_config *cfg, char *err, size_t err_len) {
    sfu_core *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, err_len, "out of memory"); return NULL; }
    c->loop = loop;
    c->cfg = *cfg;
    if (!c->cfg.bind_addr) c->cfg.bind_addr = "127.0.0.1";
    if (!c->cfg.tick_ms) c->cfg.tick_ms = 100;
    if (!c->cfg.consent_timeout_ms) c->cfg.consent_timeout_ms = 30000;
    if (c->cfg.history_packets == 0 || c->cfg.history_packets > 4096) c->cfg.history_packets = 512;
    if (!(c->dtls = sfu_dtls_ctx_new(err, err_len))) { free(c); return NULL; }
    if (!c->cfg.no_socket) {
        if (sfu_net_open(c, err, err_len) < 0) {
            sfu_dtls_ctx_free(c->dtls);
            free(c);
            return NULL;
        }
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        c->open_handles++;
        uv_timer_start(&c->timer, on_timer, c->cfg.tick_ms, c->cfg.tick_ms);
    }
    return c;
}

static void on_closed(uv_handle_t *h) {
    sfu_core *c = h->data;
    if (--c->open_handles == 0) free(c);
}

void sfu_core_free(sfu_core *c) {
    if (!c) return;
    while (c->rooms) sfu_room_destroy(c, c->rooms->id);
    while (c->n_parts) sfu_remove_participant(c, c->parts[c->n_parts - 1]);
    free(c->parts);
    sfu_dtls_ctx_free(c->dtls);
    if (c->open_handles == 0) { free(c); return; }
    c->freeing = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->udp, on_closed);
}

int sfu_core_port(const sfu_core *c) { return c->port; }
const char *sfu_core_fingerprint(const sfu_core *c) { return sfu_dtls_ctx_fingerprint(c->dtls); }

static sfu_room *find_room(sfu_core *c, uint32_t id) {
    for (sfu_room *r = c->rooms; r; r = r->next)
        if (r->id == id) return r;
    return NULL;
}

sfu_participant *sfu_find(sfu_core *c, uint32_t id) {
    for (int i = 0; i < c->n_parts; i++)
        if (c->parts[i]->id == id) return c->parts[i];
    return NULL;
}

int sfu_room_create(sfu_core *c, uint32_t id) {
    if (id == 0 || find_room(c, id)) return -1;
    sfu_room *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->id = id;
    r->next = c->rooms;
    c->rooms = r;
    return 0;
}

int sfu_room_destroy(sfu_core *c, uint32_t id) {
    sfu_room **pp = &c->rooms;
    while (*pp && (*pp)->id != id) pp = &(*pp)->next;
    sfu_room *r = *pp;
    if (!r) return -1;
    while (r->n_members) sfu_remove_participant(c, r->members[r->n_members - 1]);
    *pp = r->next;
    free(r->members);
    free(r);
    return 0;
}

/* ICE credentials: 8 ufrag chars, 32 pwd chars (RFC 8839 minimums are 4 and 22). */
static int random_token(char *out, size_t n) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char r[64];
    if (n > sizeof r || RAND_bytes(r, (int)n) != 1) return -1;
    for (size_t i = 0; i < n; i++) out[i] = al[r[i] & 63];
    out[n] = 0;
    return 0;
}

static int stream_init(sfu_core *c, sfu_stream *s, bool history) {
    if (!history) return 0;
    s->hist_cap = c->cfg.history_packets < SFU_HISTORY_MIN ? c->cfg.history_packets : SFU_HISTORY_MIN;
    s->slots = calloc(s->hist_cap, sizeof *s->slots);
    s->slab = malloc((size_t)s->hist_cap * SFU_SLOT);
    return s->slots && s->slab ? 0 : -1;
}

static void stream_free(sfu_stream *s) {
    free(s->slots);
    free(s->slab);
}

static uint32_t random_ssrc(void);
static void take_slots(sfu_sub *s);
static void release_slot(sfu_participant *sub, int i, bool sent, uint16_t seq, uint32_t ts);

/* A recvonly m-line becomes a receive slot with an SSRC of ours. */
static void add_slot(sfu_participant *p, const sdp_media *m) {
    if (p->n_slots == SDP_MAX_MEDIA) return;
    p->slots[p->n_slots] = (sfu_rx_slot){ .kind = m->kind, .pt = m->pt, .ssrc = random_ssrc() };
    snprintf(p->slots[p->n_slots].mid, sizeof p->slots[p->n_slots].mid, "%s", m->mid);
    p->n_slots++;
}

static void setup_media(sfu_participant *p, const sdp_offer *o) {
    static const int heights[SFU_MAX_LAYERS] = { 180, 360, 720 };
    p->audio_pt = p->video_pt = p->rtx_pt = -1;
    for (int i = 0; i < o->n_media; i++) {
        const sdp_media *m = &o->media[i];
        if (m->accepted && m->dir == SDP_RECVONLY && m->kind != SDP_OTHER) add_slot(p, m);
        if (!m->accepted || m->dir == SDP_RECVONLY || m->dir == SDP_INACTIVE) continue;
        if (m->ext_twcc && !p->ext_twcc) p->ext_twcc = m->ext_twcc; /* one id across the BUNDLE */
        if (m->kind == SDP_AUDIO && p->audio_pt < 0) {
            p->audio_pt = m->pt;
            p->audio.ssrc = m->ssrc[0];
            p->ext_audio_level = m->ext_audio_level;
        } else if (m->kind == SDP_VIDEO && p->video_pt < 0) {
            p->video_pt = m->pt;
            p->rtx_pt = m->rtx_pt;
            p->ext_rid = m->ext_rid;
            p->ext_rrid = m->ext_rrid;
            p->ext_mid = m->ext_mid;
            p->n_layers = m->n_layers > SFU_MAX_LAYERS ? SFU_MAX_LAYERS : m->n_layers;
            for (int l = 0; l < p->n_layers; l++) {
                p->video[l].ssrc = m->ssrc[l];
                p->video[l].rtx_ssrc = m->rtx_ssrc[l];
                memcpy(p->video[l].rid, m->rid[l], SDP_TOKEN);
                p->video[l].height = p->n_layers == 1 ? 720 : heights[l];
            }
        }
    }
}

static void free_participant(sfu_participant *p) {
    sfu_dtls_free(p->dtls);
    sfu_srtp_free(p->srtp);
    stream_free(&p->audio);
    for (int l = 0; l < SFU_MAX_LAYERS; l++) stream_free(&p->video[l]);
    free(p->fanout);
    free(p->twcc);
    OPENSSL_cleanse(p->local.pwd, sizeof p->local.pwd);
    free(p);
}

static void dtls_send(void *arg, const uint8_t *d, size_t n);

int sfu_participant_add(sfu_core *c, uint32_t room, uint32_t id, const sdp_offer *o,
                        sfu_local_creds *out) {
    sfu_room *r = find_room(c, room);
    if (!r || id == 0 || sfu_find(c, id) || strlen(o->ice_ufrag) == 0) return -1;
    sfu_participant *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->id = id;
    p->core = c;
    p->room = r;
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", o->ice_ufrag);
    snprintf(p->remote_fp, sizeof p->remote_fp, "%s", o->fingerprint);
    p->added_ms = p->last_consent_ms = sfu_now_ms(c);
    setup_media(p, o);
    bool ok = random_token(p->local.ufrag, 8) == 0 && random_token(p->local.pwd, 32) == 0;
    snprintf(p->local.fingerprint, sizeof p->local.fingerprint, "%s", sfu_core_fingerprint(c));
    for (int l = 0; ok && l < p->n_layers; l++) ok = stream_init(c, &p->video[l], true) == 0;
    if (ok && p->ext_twcc) ok = (p->twcc = calloc(1, sizeof *p->twcc)) != NULL;
    if (ok) ok = (p->dtls = sfu_dtls_new(c->dtls, true, dtls_send, p)) != NULL;
    if (ok && p->remote_fp[0]) ok = sfu_dtls_expect_fingerprint(p->dtls, p->remote_fp) == 0;
    if (ok && c->n_parts == c->cap_parts) {
        int cap = c->cap_parts ? 2 * c->cap_parts : 16;
        sfu_participant **np = realloc(c->parts, sizeof *np * (size_t)cap);
        if (np) { c->parts = np; c->cap_parts = cap; } else ok = false;
    }
    if (ok && r->n_members == r->cap_members) {
        int cap = r->cap_members ? 2 * r->cap_members : 8;
        sfu_participant **nm = realloc(r->members, sizeof *nm * (size_t)cap);
        if (nm) { r->members = nm; r->cap_members = cap; } else ok = false;
    }
    if (!ok) { free_participant(p); return -1; }
    c->parts[c->n_parts++] = p;
    r->members[r->n_members++] = p;
    if (out) *out = p->local;
    return 0;
}

static void dtls_send(void *arg, const uint8_t *d, size_t n) {
    sfu_participant *p = arg;
    sfu_core *c = p->core;
    if (!p->have_addr || c->cfg.no_socket) return;
    uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
    uv_udp_try_send(&c->udp, &b, 1, (const struct sockaddr *)&p->addr);
}

int sfu_participant_add_sdp(sfu_core *c, uint32_t room, uint32_t id, const char *sdp,
                            size_t sdp_len, char *answer, size_t answer_cap,
                            sfu_local_creds *out, char *err, size_t err_len) {
    static sdp_offer o; /* large; the core is single-threaded (see sfu.h) */
    if (sdp_parse_offer(sdp, sdp_len, &o, err, err_len) < 0) return -1;
    sfu_local_creds local;
    if (sfu_participant_add(c, room, id, &o, &local) < 0) {
        snprintf(err, err_len, "cannot add participant %u to room %u", id, room);
        return -1;
    }
    uint64_t sid;
    RAND_bytes((unsigned char *)&sid, sizeof sid);
    /* The recvonly m-lines got receive slots in offer order (setup_media). */
    uint32_t send_ssrc[SDP_MAX_MEDIA] = { 0 };
    sfu_participant *p = sfu_find(c, id);
    for (int i = 0, k = 0; i < o.n_media && p; i++)
        if (o.media[i].accepted && o.media[i].dir == SDP_RECVONLY && o.media[i].kind != SDP_OTHER)
            send_ssrc[i] = p->slots[k++].ssrc;
    sdp_answer_params ap = { local.ufrag, local.pwd, local.fingerprint, c->cfg.bind_addr,
                             c->port, sid >> 2, send_ssrc };
    if (sdp_build_answer(&o, &ap, answer, answer_cap) < 0) {
        sfu_participant_remove(c, id);
        snprintf(err, err_len, "answer does not fit in %zu bytes", answer_cap);
        return -1;
    }
    if (out) *out = local;
    return 0;
}

/* Renegotiation (sfu.h): the same ICE credentials and DTLS fingerprint, the old receive slots
 * in the same order, new recvonly m-lines become new slots. Publishing m-lines are kept as
 * first negotiated (adding a sent track needs a new join). */
int sfu_participant_update_sdp(sfu_core *c, uint32_t id, const char *sdp, size_t sdp_len,
                               char *answer, size_t answer_cap, char *err, size_t err_len) {
    static sdp_offer o; /* large; the core is single-threaded (see sfu.h) */
    sfu_participant *p = sfu_find(c, id);
    if (!p) { snprintf(err, err_len, "unknown participant %u", id); return -1; }
    if (sdp_parse_offer(sdp, sdp_len, &o, err, err_len) < 0) return -1;
    if (strcmp(o.ice_ufrag, p->remote_ufrag) != 0 || strcmp(o.fingerprint, p->remote_fp) != 0) {
        snprintf(err, err_len, "renegotiation changed the ICE credentials or the fingerprint");
        return -1;
    }
    int k = 0, n_new = 0;
    for (int i = 0; i < o.n_media; i++) {
        const sdp_media *m = &o.media[i];
        if (!m->accepted || m->dir != SDP_RECVONLY || m->kind == SDP_OTHER) continue;
        if (k < p->n_slots && p->slots[k].kind != m->kind) {
            snprintf(err, err_len, "renegotiation changed receive slot %d", k);
            return -1;
        }
        if (k++ >= p->n_slots) n_new++;
    }
    if (k < p->n_slots) { snprintf(err, err_len, "renegotiation dropped receive slots"); return -1; }
    uint32_t send_ssrc[SDP_MAX_MEDIA] = { 0 };
    int first_new = p->n_slots;
    for (int i = 0, s = 0; i < o.n_media; i++) {
        const sdp_media *m = &o.media[i];
        if (!m->accepted || m->dir != SDP_RECVONLY || m->kind == SDP_OTHER) continue;
        if (s >= p->n_slots) add_slot(p, m);
        send_ssrc[i] = p->slots[s++].ssrc;
    }
    uint64_t sid;
    RAND_bytes((unsigned char *)&sid, sizeof sid);
    sdp_answer_params ap = { p->local.ufrag, p->local.pwd, p->local.fingerprint, c->cfg.bind_addr,
                             c->port, sid >> 2, send_ssrc };
    if (sdp_build_answer(&o, &ap, answer, answer_cap) < 0) {
        p->n_slots = first_new;  /* nothing changed */
        snprintf(err, err_len, "answer does not fit in %zu bytes", answer_cap);
        return -1;
    }
    /* New slots: subscriptions that had none take them now. */
    for (int i = 0; i < p->n_subs && n_new; i++) take_slots(p->subs[i]);
    return 0;
}

static void drop_sub(sfu_sub *s) {
    sfu_participant *pub = s->pub, *sub = s->sub;
    if (s->video_slot >= 0) release_slot(sub, s->video_slot, s->v_started, s->v_last_seq, s->v_last_ts);
    if (s->audio_slot >= 0) release_slot(sub, s->audio_slot, s->a_started, s->a_last_seq, s->a_last_ts);
    for (int i = 0; i < pub->n_fanout; i++)
        if (pub->fanout[i] == s) { pub->fanout[i] = pub->fanout[--pub->n_fanout]; break; }
    for (int i = 0; i < sub->n_subs; i++)
        if (sub->subs[i] == s) { sub->subs[i] = sub->subs[--sub->n_subs]; break; }
    free(s->outmap);
    free(s);
}

void sfu_remove_participant(sfu_core *c, sfu_participant *p) {
    while (p->n_subs) drop_sub(p->subs[p->n_subs - 1]);
    while (p->n_fanout) drop_sub(p->fanout[p->n_fanout - 1]);
    sfu_net_addr_unindex(c, p);
    for (int i = 0; i < c->n_parts; i++)
        if (c->parts[i] == p) { c->parts[i] = c->parts[--c->n_parts]; break; }
    sfu_room *r = p->room;
    for (int i = 0; r && i < r->n_members; i++)
        if (r->members[i] == p) { r->members[i] = r->members[--r->n_members]; break; }
    if (r && r->speaker == p->id) r->speaker = 0;
    if (r && r->candidate == p->id) r->candidate = 0;
    free_participant(p);
}

int sfu_participant_remove(sfu_core *c, uint32_t id) {
    sfu_participant *p = sfu_find(c, id);
    if (!p) return -1;
    sfu_remove_participant(c, p);
    return 0;
}

static uint32_t random_ssrc(void) {
    uint32_t v = 0;
    while (v == 0) RAND_bytes((unsigned char *)&v, sizeof v);
    return v;
}

/* RTP clock ticks in `ms` milliseconds at `rate` Hz (VP8 90 kHz, Opus 48 kHz). */
static uint32_t ticks(uint64_t ms, uint32_t rate) { return (uint32_t)(ms * rate / 1000); }

/* s starts sending on slot sl (new SSRC): the video waits for a keyframe, which the next
 * packets rebase onto; both continue what was last sent on the slot, moved on by the time it
 * was free, so the browser sees one unbroken stream per SSRC. */
static void take_video_slot(sfu_sub *s, int i, uint64_t now) {
    sfu_rx_slot *sl = &s->sub->slots[i];
    s->video_slot = i;
    s->video_ssrc = sl->ssrc;
    s->video_pt = sl->pt;
    sl->used = true;
    s->cur = -1; /* a new SSRC starts at a keyframe */
    for (int k = 0; k < SFU_OUTMAP; k++) s->outmap[k].layer = -1; /* NACKs name the new SSRC's seqs */
    if (sl->sent) {
        s->v_last_seq = sl->seq;
        s->v_last_ts = sl->ts + ticks(now - sl->freed_ms, 90000);
        s->v_started = true;
    }
}

static void take_audio_slot(sfu_sub *s, int i, uint64_t now) {
    sfu_rx_slot *sl = &s->sub->slots[i];
    s->audio_slot = i;
    s->audio_ssrc = sl->ssrc;
    s->audio_pt = sl->pt;
    sl->used = true;
    s->a_started = false; /* rebase on the next packet */
    if (sl->sent) {
        s->a_last_seq = sl->seq;
        s->a_last_ts = sl->ts + ticks(now - sl->freed_ms, 48000);
        s->a_resume = true;
    }
}

/* Gives s the first free receive slot of each kind it lacks (video only when it shows
 * video, i.e. max_height > 0). Without a slot a stream goes on a random SSRC. */
static void take_slots(sfu_sub *s) {
    sfu_participant *sub = s->sub, *pub = s->pub;
    uint64_t now = sfu_now_ms(sub->core);
    for (int i = 0; i < sub->n_slots; i++) {
        if (sub->slots[i].used) continue;
        if (sub->slots[i].kind == SDP_VIDEO && s->video_slot < 0 && pub->n_layers > 0 &&
            s->max_height > 0)
            take_video_slot(s, i, now);
        else if (sub->slots[i].kind == SDP_AUDIO && s->audio_slot < 0 && pub->audio_pt >= 0)
            take_audio_slot(s, i, now);
    }
}

/* The slot goes back to the pool remembering where its stream stopped. */
static void release_slot(sfu_participant *sub, int i, bool sent, uint16_t seq, uint32_t ts) {
    sfu_rx_slot *sl = &sub->slots[i];
    sl->used = false;
    if (!sent) return;
    sl->sent = true;
    sl->seq = seq;
    sl->ts = ts;
    sl->freed_ms = sfu_now_ms(sub->core);
}

static void free_video_slot(sfu_sub *s) {
    if (s->video_slot < 0) return;
    release_slot(s->sub, s->video_slot, s->v_started, s->v_last_seq, s->v_last_ts);
    s->video_slot = s->video_pt = -1;
    s->video_ssrc = random_ssrc();
}

int sfu_subscription_slots(sfu_core *c, uint32_t subscriber, uint32_t publisher,
                           const char **audio_mid, const char **video_mid,
                           unsigned *free_audio, unsigned *free_video) {
    sfu_participant *sub = sfu_find(c, subscriber);
    if (!sub) return -1;
    *audio_mid = *video_mid = "";
    *free_audio = *free_video = 0;
    for (int i = 0; i < sub->n_slots; i++)
        if (!sub->slots[i].used) {
            if (sub->slots[i].kind == SDP_AUDIO) (*free_audio)++;
            else if (sub->slots[i].kind == SDP_VIDEO) (*free_video)++;
        }
    for (int i = 0; i < sub->n_subs; i++) {
        const sfu_sub *s = sub->subs[i];
        if (s->pub->id != publisher) continue;
        if (s->audio_slot >= 0) *audio_mid = sub->slots[s->audio_slot].mid;
        if (s->video_slot >= 0) *video_mid = sub->slots[s->video_slot].mid;
    }
    return 0;
}

int sfu_subscribe(sfu_core *c, uint32_t subscriber, uint32_t publisher, int max_height) {
    sfu_participant *sub = sfu_find(c, subscriber), *pub = sfu_find(c, publisher);
    if (!sub || !pub || sub == pub || sub->room != pub->room || max_height < 0) return -1;
    for (int i = 0; i < sub->n_subs; i++)
        if (sub->subs[i]->pub == pub) {
            sub->subs[i]->max_height = max_height;
            if (max_height == 0) free_video_slot(sub->subs[i]);
            else take_slots(sub->subs[i]);
            sfu_fwd_choose_layer(sub->subs[i]);
            return 0;
        }
    if (sub->n_subs == SFU_MAX_SUBS) return -1;
    if (pub->n_fanout == pub->cap_fanout) {
        int cap = pub->cap_fanout ? 2 * pub->cap_fanout : 8;
        sfu_sub **nf = realloc(pub->fanout, sizeof *nf * (size_t)cap);
        if (!nf) return -1;
        pub->fanout = nf;
        pub->cap_fanout = cap;
    }
    sfu_sub *s = calloc(1, sizeof *s);
    if (!s || !(s->outmap = malloc(sizeof *s->outmap * SFU_OUTMAP))) { free(s); return -1; }
    for (int i = 0; i < SFU_OUTMAP; i++) s->outmap[i].layer = -1;
    s->sub = sub;
    s->pub = pub;
    s->max_height = max_height;
    s->cur = s->target = -1;
    s->video_ssrc = random_ssrc();
    s->audio_ssrc = random_ssrc();
    s->video_pt = s->audio_pt = s->video_slot = s->audio_slot = -1;
    s->v_seq_off = (uint16_t)random_ssrc();
    s->v_last_seq = (uint16_t)(s->v_seq_off - 1);
    s->v_last_ts = random_ssrc();
    take_slots(s); /* after the random start: a reused slot's stream continues instead */
    sub->subs[sub->n_subs++] = s;
    pub->fanout[pub->n_fanout++] = s;
    sfu_fwd_choose_layer(s);
    return 0;
}

int sfu_unsubscribe(sfu_core *c, uint32_t subscriber, uint32_t publisher) {
    sfu_participant *sub = sfu_find(c, subscriber);
    if (!sub) return -1;
    for (int i = 0; i < sub->n_subs; i++)
        if (sub->subs[i]->pub->id == publisher) { drop_sub(sub->subs[i]); return 0; }
    return -1;
}

int sfu_set_mute(sfu_core *c, uint32_t id, bool audio_muted, bool video_muted) {
    sfu_participant *p = sfu_find(c, id);
    if (!p) return -1;
    p->audio_muted = audio_muted;
    p->video_muted = video_muted;
    if (audio_muted) p->level = 0;
    return 0;
}

static void consent_tick(sfu_core *c, uint64_t now) {
    for (int i = 0; i < c->n_parts;) {
        sfu_participant *p = c->parts[i];
        if (now > p->last_consent_ms && now - p->last_consent_ms > c->cfg.consent_timeout_ms) {
            sfu_emit(c, SFU_EV_GONE, p, 0);
            sfu_remove_participant(c, p); /* moves the last entry into slot i */
            continue;
        }
        i++;
    }
}

void sfu_core_tick(sfu_core *c, uint64_t now) {
    if (now > c->now) c->now = now;
    consent_tick(c, now);
    sfu_net_tick(c, now);
    sfu_fwd_tick(c, now);
    for (sfu_room *r = c->rooms; r; r = r->next) sfu_fwd_speaker_tick(c, r, now);
}

static void fill_info(sfu_participant *p, sfu_participant_info *o) {
    memset(o, 0, sizeof *o);
    o->id = p->id;
    o->connected = p->connected;
    o->publishing_audio = p->audio.packets > 0;
    for (int l = 0; l < p->n_layers; l++) o->video_layers += p->video[l].packets > 0;
    o->subscriptions = p->n_subs;
    o->rx_packets = p->rx_packets;
    o->tx_packets = p->tx_packets;
    o->tx_dropped = p->tx_dropped;
    o->retransmitted = p->retransmitted;
    o->current_layer_of_first_sub = p->n_subs ? p->subs[0]->cur : -1;
}

int sfu_room_state(sfu_core *c, uint32_t room, sfu_participant_info *out, int max) {
    sfu_room *r = find_room(c, room);
    if (!r) return -1;
    for (int i = 0; i < r->n_members && i < max; i++) fill_info(r->members[i], &out[i]);
    return r->n_members;
}

int sfu_participant_info_get(sfu_core *c, uint32_t id, sfu_participant_info *out) {
    sfu_participant *p = sfu_find(c, id);
    if (!p) return -1;
    fill_info(p, out);
    return 0;
}

void sfu_core_stats(const sfu_core *c, sfu_stats *out) { *out = c->stats; }

size_t sfu_participant_memory(sfu_core *c, uint32_t id) {
    sfu_participant *p = sfu_find(c, id);
    if (!p) return 0;
    size_t n = sizeof *p + sizeof(sfu_sub *) * (size_t)p->cap_fanout;
    for (int l = 0; l < p->n_layers; l++)
        n += p->video[l].hist_cap * (sizeof(sfu_slot) + SFU_SLOT);
    n += (size_t)p->n_subs * (sizeof(sfu_sub) + sizeof(sfu_outmap) * SFU_OUTMAP);
    return n; /* plus OpenSSL's per-session state, not counted here */
}
