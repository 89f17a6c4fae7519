/*
 * sdp.h: the SDP subset the SFU negotiates (RFC 8866 syntax, RFC 8843 BUNDLE, RFC 8853
 * simulcast with RFC 8851 rid, RFC 5761 rtcp-mux, RFC 8285 extmap): parse a browser's offer
 * into a flat struct and write the SFU's answer (ICE-lite, setup:passive, one host candidate,
 * our fingerprint, the accepted codecs and extensions). The parser checks every line and
 * fails with a message naming the problem; on failure the output is undefined and nothing
 * else has changed. No allocation: the struct holds copies, bounded by the limits below.
 */
#ifndef PARLEY_SFU_SDP_H
#define PARLEY_SFU_SDP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_LEN 65536
#define SDP_MAX_LINE 4096
#define SDP_MAX_MEDIA 64      /* a group call: 2 sending + up to 62 receive slots */
#define SDP_MAX_LAYERS 3
#define SDP_TOKEN 64

typedef enum { SDP_OTHER = 0, SDP_AUDIO = 1, SDP_VIDEO = 2 } sdp_kind; /* other: rejected */
typedef enum { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE } sdp_dir;

typedef struct {
    sdp_kind kind;
    char mid[SDP_TOKEN];
    char mline[1024]; /* the m-line's value, echoed with port 0 when the section is rejected */
    sdp_dir dir;
    bool rtcp_mux;
    bool accepted; /* has a codec we take (opus / VP8) */
    int pt;        /* opus or VP8 payload type, -1 if none */
    int rtx_pt;    /* rtx with apt=pt, -1 if none */
    /* extmap ids, 0 if not offered */
    int ext_audio_level, ext_twcc, ext_mid, ext_rid, ext_rrid, ext_abs_send_time;
    int n_layers; /* simulcast layers (1 without simulcast), lowest first as offered */
    uint32_t ssrc[SDP_MAX_LAYERS];     /* SIM group order, or the single SSRC; 0 if rid-based */
    uint32_t rtx_ssrc[SDP_MAX_LAYERS]; /* FID partners, 0 if none */
    char rid[SDP_MAX_LAYERS][SDP_TOKEN]; /* rid-based simulcast, "" otherwise */
} sdp_media;

typedef struct {
    char ice_ufrag[257];
    char ice_pwd[257];
    char fingerprint[96]; /* sha-256, upper-case hex with colons */
    char setup[16];
    int n_media;
    sdp_media media[SDP_MAX_MEDIA];
} sdp_offer;

int sdp_parse_offer(const char *sdp, size_t len, sdp_offer *out, char *err, size_t err_len);

typedef struct {
    const char *ufrag, *pwd, *fingerprint; /* ours */
    const char *host; /* candidate address, e.g. "127.0.0.1" */
    int port;
    uint64_t session_id;
    /* Per offered m-line: the SSRC the SFU will send on it (recvonly m-lines: the receive
     * slots of sfu_core), 0 for none. NULL: no m-line gets SFU-sent streams. */
    const uint32_t *send_ssrc;
} sdp_answer_params;

/* Writes the answer (NUL-terminated); returns its length or -1 if cap is too small. */
long sdp_build_answer(const sdp_offer *offer, const sdp_answer_params *p, char *out, size_t cap);

#endif
