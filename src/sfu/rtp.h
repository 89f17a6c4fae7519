/*
 * rtp.h: RTP and RTCP parsing and building for the SFU (RFC 3550, RFC 8285 header extensions,
 * RFC 6464 audio level, RFC 4585 NACK/PLI, RFC 5104 FIR, draft-alvestrand-rmcat-remb REMB),
 * and the VP8 payload descriptor (RFC 7741) that tells keyframes apart. All functions work on
 * caller buffers; parsed pointers point into the packet. Every length is checked: a parser
 * returns -1 for anything it cannot fully account for, and the caller drops the packet.
 */
#ifndef PARLEY_SFU_RTP_H
#define PARLEY_SFU_RTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_MAX_EXT 16

typedef struct {
    uint8_t id;
    uint8_t len;
    const uint8_t *data;
} rtp_ext;

typedef struct {
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint8_t csrc_count;
    size_t header_len;  /* fixed header + CSRCs + extension block */
    uint16_t ext_profile; /* 0xBEDE one-byte, 0x100x two-byte, 0 if none */
    size_t ext_off, ext_len; /* extension block (after its 4-byte header) within the packet */
    int n_ext;
    rtp_ext ext[RTP_MAX_EXT];
    const uint8_t *payload;
    size_t payload_len; /* padding excluded */
    uint8_t padding;
} rtp_hdr;

/* True if the first byte and second byte say RTP/RTCP (RFC 7983: 128..191). */
bool rtp_is_rtp_or_rtcp(const uint8_t *buf, size_t len);
/* RFC 5761: RTCP packet types 192..223 in the second byte. */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);

int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr *out);
/* The extension with the given id, or NULL. */
const rtp_ext *rtp_find_ext(const rtp_hdr *h, uint8_t id);
/* RFC 6464: level (0 loudest .. 127 silence) and voice flag; -1 if the ext is malformed. */
int rtp_audio_level(const rtp_ext *e, bool *voice);
/* Rewrites in place: sequence number, timestamp, SSRC. */
void rtp_rewrite(uint8_t *buf, uint16_t seq, uint32_t ts, uint32_t ssrc);
/* Writes a 12-byte header (no CSRC, no extension) and returns 12, or 0 if cap < 12. */
size_t rtp_write_header(uint8_t *buf, size_t cap, uint8_t pt, bool marker, uint16_t seq,
                        uint32_t ts, uint32_t ssrc);

/* RTCP: one packet of a compound. */
#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_SDES 202
#define RTCP_BYE 203
#define RTCP_RTPFB 205
#define RTCP_PSFB 206
#define RTCP_FMT_NACK 1
#define RTCP_FMT_TWCC 15
#define RTCP_FMT_PLI 1
#define RTCP_FMT_FIR 4
#define RTCP_FMT_AFB 15

typedef struct {
    uint8_t pt;
    uint8_t fmt; /* RC or FMT field */
    uint32_t ssrc; /* sender SSRC (0 if the packet is too short to have one) */
    uint32_t media_ssrc; /* feedback packets: the media source */
    const uint8_t *body; /* after the 4-byte header */
    size_t body_len;
} rtcp_pkt;

/* Iterates a compound packet: *off starts at 0; returns 1 with *out filled, 0 at the end,
 * -1 if malformed (then the whole compound is to be dropped). */
int rtcp_next(const uint8_t *buf, size_t len, size_t *off, rtcp_pkt *out);
/* Validates a whole compound (every packet well formed, at least one). 0 or -1. */
int rtcp_validate(const uint8_t *buf, size_t len);

/* Generic NACK: calls fn for every lost sequence number; returns count or -1 if malformed. */
int rtcp_nack_foreach(const rtcp_pkt *p, void (*fn)(void *, uint16_t), void *arg);
/* REMB (PSFB fmt 15, "REMB"): bitrate in bit/s and the SSRCs it covers. -1 if not REMB. */
int rtcp_remb_parse(const rtcp_pkt *p, uint64_t *bitrate, uint32_t *ssrcs, int max_ssrcs,
                    int *n_ssrcs);
/* FIR: the first FCI entry for media ssrc; -1 if malformed. */
int rtcp_fir_parse(const rtcp_pkt *p, uint32_t *ssrc, uint8_t *seq);

/* Builders: return the length written or 0 if cap is too small. */
size_t rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media);
size_t rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media, uint8_t seq);
/* NACK for the given lost sequence numbers (packed into PID+BLP pairs). */
size_t rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media,
                       const uint16_t *lost, int n);
size_t rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender, uint64_t bitrate,
                       const uint32_t *ssrcs, int n);
size_t rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t sender, uint32_t source,
                     uint8_t fraction_lost, uint32_t cum_lost, uint32_t ext_high_seq,
                     uint32_t jitter, uint32_t lsr, uint32_t dlsr);
size_t rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t sender, uint64_t ntp, uint32_t rtp_ts,
                     uint32_t packets, uint32_t octets);

/* VP8 payload descriptor (RFC 7741 section 4.2) and the start of the payload header. */
typedef struct {
    bool start_of_partition;
    uint8_t partition_id;
    bool has_picture_id;
    uint16_t picture_id;
    bool has_tl0picidx;
    uint8_t tl0picidx;
    bool has_tid;
    uint8_t tid;
    size_t descriptor_len;
    bool keyframe; /* start of partition 0 with the P bit clear */
} vp8_desc;

int vp8_parse(const uint8_t *payload, size_t len, vp8_desc *out);

#endif
