/*
 * sfu_internal.h: the structures shared by the SFU core's three files: sfu_core.c (rooms,
 * participants, the control API, the tick), sfu_fwd.c (the RTP/RTCP forwarding logic on
 * plaintext packets) and sfu_net.c (the UDP socket, ICE-lite, DTLS, SRTP). Not for use
 * outside src/sfu. Ownership: the core owns rooms and participants; a participant owns its
 * streams' history slabs and its subscriptions (the things it receives); a publisher's
 * fan-out array holds borrowed pointers to the subscriptions of others, removed when they go.
 */
#ifndef PARLEY_SFU_INTERNAL_H
#define PARLEY_SFU_INTERNAL_H
#include "dtls.h"
#include "sfu.h"
#include "srtp.h"
#include "twcc.h"
#include <netinet/in.h>
#include <sys/socket.h>

#define SFU_MAX_LAYERS 3
#define SFU_MAX_SUBS 64          /* publishers one participant may receive */
#define SFU_SLOT 1500            /* bytes per history slot; larger packets are not kept */
#define SFU_OUTMAP 512           /* per subscription: out seq -> (layer, in seq) for NACKs */
#define SFU_PLI_INTERVAL_MS 300
#define SFU_HISTORY_MIN 64       /* history slots a video stream starts with */
#define SFU_MAX_RESEND_PER_NACK 64 /* one NACK packet can name ~6000 seqs: cap the resends */

typedef struct sfu_participant sfu_participant;
typedef struct sfu_room sfu_room;

typedef struct {
    uint16_t seq;
    uint16_t len; /* 0: empty */
} sfu_slot;

/* One published RTP stream (the audio, or one simulcast layer of the video). */
typedef struct {
    uint32_t ssrc;        /* 0 until known (rid-based simulcast learns it from the rid ext) */
    uint32_t rtx_ssrc;
    char rid[SDP_TOKEN];
    int height;           /* assumed or from the VP8 keyframe header */
    uint64_t packets, bytes, last_rx_ms;
    uint64_t window_bytes; /* since the last rate update */
    uint64_t bitrate;      /* bit/s, smoothed */
    uint16_t max_seq;
    bool seq_init;
    uint64_t last_pli_ms;
    sfu_slot *slots;       /* history, hist_cap entries, or NULL (audio) */
    uint8_t *slab;         /* history payloads, hist_cap * SFU_SLOT bytes */
    unsigned hist_cap;     /* ~1 s of the stream's packets (a power of two, at least
                            * SFU_HISTORY_MIN): grows with its rate up to cfg.history_packets */
    uint64_t window_packets; /* since the last rate update */
} sfu_stream;

typedef struct {
    uint16_t out_seq;
    uint16_t in_seq;
    int8_t layer; /* -1 empty */
    uint32_t out_ts;
} sfu_outmap;

/* A receive slot: one recvonly m-line, answered with an SFU SSRC. The browser keeps one
 * jitter buffer per SSRC for the life of the connection, so the SSRC's sequence numbers and
 * timestamps outlive the subscription that used it: the next one on the slot continues them
 * (from a random start instead, half the time the browser would drop every packet as old). */
typedef struct {
    sdp_kind kind;
    int pt;
    uint32_t ssrc;
    bool used;
    char mid[SDP_TOKEN];
    bool sent;         /* a subscription has sent on it: seq, ts and freed_ms are valid */
    uint16_t seq;      /* the last sequence number sent on it */
    uint32_t ts;       /* the last RTP timestamp sent on it */
    uint64_t freed_ms; /* when its last subscription let it go */
} sfu_rx_slot;

/* What subscriber `sub` receives from publisher `pub`. */
typedef struct {
    sfu_participant *sub, *pub;
    int max_height;
    int target, cur; /* layers, -1 none */
    bool need_rebase;
    uint16_t switch_seq; /* first in seq of the current layer after a switch */
    uint32_t video_ssrc, audio_ssrc; /* what the subscriber sees */
    int video_pt, audio_pt;          /* the subscriber's payload types, -1: keep the publisher's */
    int video_slot, audio_slot;      /* receive slots used, -1 none */
    uint16_t v_seq_off, a_seq_off;
    uint32_t v_ts_off, a_ts_off;
    uint16_t v_last_seq, a_last_seq;
    uint32_t v_last_ts, a_last_ts;
    bool v_started, a_started;
    bool a_resume; /* the audio timeline continues a_last_ts (a reused slot's) */
    uint64_t v_packets, v_octets;
    sfu_outmap *outmap; /* SFU_OUTMAP entries */
} sfu_sub;

struct sfu_participant {
    uint32_t id;
    sfu_room *room;
    sfu_core *core;
    sfu_local_creds local;
    char remote_ufrag[257];
    char remote_fp[96];
    /* transport */
    bool have_addr, nominated, connected;
    struct sockaddr_storage addr;
    uint64_t added_ms, last_consent_ms;
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    sfu_participant *addr_next; /* address hash chain */
    /* published media */
    int audio_pt, video_pt, rtx_pt;
    int ext_audio_level, ext_rid, ext_rrid, ext_mid, ext_twcc;
    twcc_recorder *twcc; /* owned; NULL unless the offer negotiated transport-wide seq numbers */
    bool audio_muted, video_muted;
    sfu_stream audio;
    sfu_stream video[SFU_MAX_LAYERS];
    int n_layers;
    double level; /* smoothed loudness, 0 (silent) .. 127 */
    uint64_t last_level_ms;
    /* receive slots: the recvonly m-lines of the participant's offer, each answered with an
     * SFU SSRC; a subscription takes a free slot of its kind (else it gets a random SSRC) */
    sfu_rx_slot slots[SDP_MAX_MEDIA];
    int n_slots;
    /* received media */
    sfu_sub *subs[SFU_MAX_SUBS];
    int n_subs;
    sfu_sub **fanout; /* subscriptions to this participant */
    int n_fanout, cap_fanout;
    uint64_t remb; /* bit/s from the participant's REMB, 0 unknown */
    uint64_t rx_packets, tx_packets, tx_dropped, retransmitted;
};

struct sfu_room {
    uint32_t id;
    sfu_participant **members;
    int n_members, cap_members;
    uint32_t speaker; /* 0: none */
    uint32_t candidate;
    int candidate_ticks;
    sfu_room *next;
};

#define SFU_ADDR_BUCKETS 1024

struct sfu_core {
    uv_loop_t *loop;
    sfu_config cfg;
    sfu_dtls_ctx *dtls;
    uv_udp_t udp;
    uv_timer_t timer;
    int open_handles;
    bool freeing;
    int port;
    sfu_room *rooms;
    sfu_participant **parts;
    int n_parts, cap_parts;
    sfu_participant *by_addr[SFU_ADDR_BUCKETS];
    uint64_t last_rate_ms, last_rr_ms;
    uint64_t now; /* no_socket mode: the latest time the caller passed in */
    sfu_stats stats;
    uint64_t loss_rng; /* --loss: xorshift64 state, fixed seed so a test run is repeatable */
    uint8_t txbuf[SFU_SLOT];                        /* the copy being rewritten for one subscriber */
    uint8_t netbuf[SFU_SLOT + SFU_SRTP_TRAILER + 64]; /* the copy being protected and sent */
    uint8_t rxbuf[65536];
};

/* sfu_core.c */
sfu_participant *sfu_find(sfu_core *c, uint32_t id);
void sfu_emit(sfu_core *c, sfu_event_kind kind, sfu_participant *p, uint32_t ssrc);
uint64_t sfu_now_ms(sfu_core *c);
uint64_t sfu_now_us(sfu_core *c);
void sfu_remove_participant(sfu_core *c, sfu_participant *p);

/* sfu_fwd.c */
void sfu_fwd_choose_layer(sfu_sub *s);
void sfu_fwd_request_keyframe(sfu_core *c, sfu_participant *pub, int layer, uint64_t now);
void sfu_fwd_tick(sfu_core *c, uint64_t now);
void sfu_fwd_twcc_feedback(sfu_core *c, sfu_participant *p);
void sfu_fwd_speaker_tick(sfu_core *c, sfu_room *r, uint64_t now);

/* sfu_net.c: sends a plaintext packet to p (protecting it if p has SRTP). 0 or -1 (dropped). */
int sfu_net_send(sfu_core *c, sfu_participant *p, const uint8_t *pkt, size_t len, bool rtcp);
int sfu_net_open(sfu_core *c, char *err, size_t err_len);
void sfu_net_addr_index(sfu_core *c, sfu_participant *p);
void sfu_net_addr_unindex(sfu_core *c, sfu_participant *p);
void sfu_net_tick(sfu_core *c, uint64_t now);

#endif
