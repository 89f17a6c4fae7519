/*
 * sfu.h: the SFU core API (sfu_core). parley-sfu's control server calls it; unit tests and
 * the load generator call it directly. One sfu_core owns one UDP socket (all participants
 * share it, demultiplexed by source address and ICE ufrag), a tick timer, the rooms and the
 * participants. Everything runs on the libuv loop given at creation; no function is
 * thread-safe. Media payloads are never decrypted beyond SRTP: the core reads RTP headers,
 * header extensions and the first bytes of VP8 payloads only.
 *
 * Ownership: sfu_core_new returns a core the caller frees with sfu_core_free (which closes
 * the libuv handles; run the loop once more afterwards so the close callbacks finish). Ids
 * are the caller's: rooms and participants are named by uint32 ids it chooses.
 */
#ifndef PARLEY_SFU_SFU_H
#define PARLEY_SFU_SFU_H
#include "sdp.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sfu_core sfu_core;

typedef enum {
    SFU_EV_CONNECTED = 1,   /* ICE nominated and DTLS-SRTP keyed */
    SFU_EV_GONE,            /* consent freshness failed; the participant has been removed */
    SFU_EV_SPEAKER,         /* the room's active speaker is now `participant` */
    SFU_EV_KEYFRAME_NEEDED, /* a PLI was sent to `participant` for `ssrc` */
} sfu_event_kind;

typedef struct {
    sfu_event_kind kind;
    uint32_t room, participant, ssrc;
} sfu_event;

typedef void (*sfu_event_fn)(void *arg, const sfu_event *ev);
/* Test and bench hook: a plaintext RTP/RTCP packet the core would send to a participant that
 * has no SRTP session. Return 0 if taken, -1 if the receiver would block (it is dropped). */
typedef int (*sfu_plain_out_fn)(void *arg, uint32_t participant, const uint8_t *pkt, size_t len,
                                bool rtcp);
/* Test hook (--capture): every RTP packet a participant sent, as the SFU sees it after
 * removing SRTP (the media inside is still SFrame-encrypted by the browsers). */
typedef void (*sfu_capture_fn)(void *arg, uint32_t participant, const uint8_t *pkt, size_t len);

typedef struct {
    const char *bind_addr;       /* default "127.0.0.1" */
    int port;                    /* 0: any free port */
    unsigned consent_timeout_ms; /* default 30000 (RFC 7675) */
    unsigned tick_ms;            /* default 100 */
    unsigned history_packets;    /* per published video layer, default 512 */
    sfu_event_fn on_event;
    void *event_arg;
    sfu_plain_out_fn plain_out;
    void *plain_arg;
    sfu_capture_fn capture;
    void *capture_arg;
    bool no_socket;              /* tests: no UDP socket, no timer; call sfu_core_tick */
    /* Test hook (--loss): drop this percentage (0-50) of SRTP/SRTCP datagrams in each
     * direction, as a lossy network would. For the impairment test on kernels without
     * sch_netem; STUN and DTLS are spared so that a call still connects. */
    unsigned loss_percent;
} sfu_config;

void sfu_config_defaults(sfu_config *c);
sfu_core *sfu_core_new(uv_loop_t *loop, const sfu_config *cfg, char *err, size_t err_len);
void sfu_core_free(sfu_core *c);
int sfu_core_port(const sfu_core *c);
const char *sfu_core_fingerprint(const sfu_core *c);

/* Every function below returns 0, or -1 (unknown id, duplicate, limit reached, bad input)
 * and then has changed nothing. */
int sfu_room_create(sfu_core *c, uint32_t room);
int sfu_room_destroy(sfu_core *c, uint32_t room);

typedef struct {
    char ufrag[16];
    char pwd[40];
    char fingerprint[96];
} sfu_local_creds;

int sfu_participant_add(sfu_core *c, uint32_t room, uint32_t id, const sdp_offer *offer,
                        sfu_local_creds *out);
/* Parses the offer, adds the participant and writes the SDP answer. */
int sfu_participant_add_sdp(sfu_core *c, uint32_t room, uint32_t id, const char *sdp,
                            size_t sdp_len, char *answer, size_t answer_cap,
                            sfu_local_creds *out, char *err, size_t err_len);
int sfu_participant_remove(sfu_core *c, uint32_t id);
/* Subscriber receives publisher's audio and video; max_height picks the simulcast layer
 * (with the bandwidth estimate). Calling it again updates max_height. */
int sfu_subscribe(sfu_core *c, uint32_t subscriber, uint32_t publisher, int max_height);
/* The receive slots (m-line mids) subscriber's subscription to publisher uses ("" = none), and
 * the subscriber's free slots of each kind. -1 for an unknown subscriber. The strings live
 * as long as the participant. */
/* Renegotiation of participant id with a new offer from the same browser; on success the new
 * answer is in `answer` and new recvonly m-lines are receive slots. -1 with err: nothing
 * changed. */
int sfu_participant_update_sdp(sfu_core *c, uint32_t id, const char *sdp, size_t sdp_len,
                               char *answer, size_t answer_cap, char *err, size_t err_len);
int sfu_subscription_slots(sfu_core *c, uint32_t subscriber, uint32_t publisher,
                           const char **audio_mid, const char **video_mid,
                           unsigned *free_audio, unsigned *free_video);
int sfu_unsubscribe(sfu_core *c, uint32_t subscriber, uint32_t publisher);
int sfu_set_mute(sfu_core *c, uint32_t id, bool audio_muted, bool video_muted);

/* Plaintext input from a participant, as after SRTP: the transport calls these; tests and the
 * bench may call them directly. The buffer may be modified. */
int sfu_core_input_rtp(sfu_core *c, uint32_t from, uint8_t *pkt, size_t len, uint64_t now_ms);
int sfu_core_input_rtcp(sfu_core *c, uint32_t from, uint8_t *pkt, size_t len, uint64_t now_ms);
/* Periodic work: consent freshness, active speaker, layer choice, keyframe requests, RR. */
void sfu_core_tick(sfu_core *c, uint64_t now_ms);

typedef struct {
    uint32_t id;
    bool connected;
    bool publishing_audio;
    int video_layers;   /* layers seen sending */
    int subscriptions;
    uint64_t rx_packets, tx_packets, tx_dropped, retransmitted;
    int current_layer_of_first_sub; /* tests: the layer the first subscription receives, -1 none */
} sfu_participant_info;

/* Fills up to max entries; returns the number of participants in the room, or -1. */
int sfu_room_state(sfu_core *c, uint32_t room, sfu_participant_info *out, int max);
int sfu_participant_info_get(sfu_core *c, uint32_t id, sfu_participant_info *out);

typedef struct {
    uint64_t rx_packets, forwarded, dropped, retransmitted, plis_sent, nacks_sent, rtx_received;
    uint64_t stun_ok, stun_bad;
    uint64_t lost_injected; /* --loss: datagrams dropped on purpose */
    uint64_t twcc_sent;     /* transport-wide congestion feedback packets to publishers */
} sfu_stats;
void sfu_core_stats(const sfu_core *c, sfu_stats *out);
/* Bytes of heap the core holds for one participant (history, subscriptions), for the bench. */
size_t sfu_participant_memory(sfu_core *c, uint32_t id);

#endif
