/*
 * rtp.c: RTP/RTCP/VP8-descriptor parsing and building (see rtp.h). No allocation; every read
 * is preceded by a check of the bytes that remain.
 */
#include "rtp.h"
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

bool rtp_is_rtp_or_rtcp(const uint8_t *buf, size_t len) {
    return len >= 4 && buf[0] >= 128 && buf[0] <= 191;
}

bool rtp_is_rtcp(const uint8_t *buf, size_t len) {
    return rtp_is_rtp_or_rtcp(buf, len) && buf[1] >= 192 && buf[1] <= 223;
}

/* RFC 8285: one-byte (0xBEDE) or two-byte (0x100 + appbits) elements, padding bytes 0. */
static int parse_ext_block(const uint8_t *p, size_t n, bool two_byte, rtp_hdr *h) {
    size_t i = 0;
    while (i < n) {
        if (p[i] == 0) { i++; continue; }
        uint8_t id, len;
        if (two_byte) {
            if (n - i < 2) return -1;
            id = p[i]; len = p[i + 1]; i += 2;
        } else {
            id = p[i] >> 4; len = (uint8_t)((p[i] & 0x0f) + 1); i += 1;
            if (id == 15) return 0; /* reserved: stop processing (RFC 8285 4.2) */
        }
        if (len > n - i) return -1;
        if (h->n_ext < RTP_MAX_EXT) {
            h->ext[h->n_ext].id = id;
            h->ext[h->n_ext].len = len;
            h->ext[h->n_ext].data = p + i;
            h->n_ext++;
        }
        i += len;
    }
    return 0;
}

int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr *h) {
    memset(h, 0, sizeof *h);
    if (len < 12 || (buf[0] >> 6) != 2) return -1;
    h->marker = buf[1] >> 7;
    h->pt = buf[1] & 0x7f;
    h->seq = rd16(buf + 2);
    h->ts = rd32(buf + 4);
    h->ssrc = rd32(buf + 8);
    h->csrc_count = buf[0] & 0x0f;
    size_t off = 12 + 4 * (size_t)h->csrc_count;
    if (off > len) return -1;
    if (buf[0] & 0x10) {
        if (len - off < 4) return -1;
        h->ext_profile = rd16(buf + off);
        size_t elen = 4 * (size_t)rd16(buf + off + 2);
        if (elen > len - off - 4) return -1;
        h->ext_off = off + 4;
        h->ext_len = elen;
        if (h->ext_profile == 0xBEDE) {
            if (parse_ext_block(buf + off + 4, elen, false, h) < 0) return -1;
        } else if ((h->ext_profile & 0xfff0) == 0x1000) {
            if (parse_ext_block(buf + off + 4, elen, true, h) < 0) return -1;
        }
        off += 4 + elen;
    }
    h->header_len = off;
    size_t end = len;
    if (buf[0] & 0x20) {
        uint8_t pad = buf[len - 1];
        if (pad == 0 || pad > len - off) return -1;
        h->padding = pad;
        end -= pad;
    }
    h->payload = buf + off;
    h->payload_len = end - off;
    return 0;
}

const rtp_ext *rtp_find_ext(const rtp_hdr *h, uint8_t id) {
    for (int i = 0; i < h->n_ext; i++)
        if (h->ext[i].id == id) return &h->ext[i];
    return NULL;
}

int rtp_audio_level(const rtp_ext *e, bool *voice) {
    if (!e || e->len < 1) return -1;
    *voice = e->data[0] >> 7;
    return e->data[0] & 0x7f;
}

void rtp_rewrite(uint8_t *buf, uint16_t seq, uint32_t ts, uint32_t ssrc) {
    wr16(buf + 2, seq);
    wr32(buf + 4, ts);
    wr32(buf + 8, ssrc);
}

size_t rtp_write_header(uint8_t *buf, size_t cap, uint8_t pt, bool marker, uint16_t seq,
                        uint32_t ts, uint32_t ssrc) {
    if (cap < 12) return 0;
    buf[0] = 0x80;
    buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
    rtp_rewrite(buf, seq, ts, ssrc);
    return 12;
}

int rtcp_next(const uint8_t *buf, size_t len, size_t *off, rtcp_pkt *p) {
    if (*off == len) return 0;
    if (*off > len || len - *off < 4) return -1;
    const uint8_t *h = buf + *off;
    if ((h[0] >> 6) != 2) return -1;
    size_t plen = 4 * ((size_t)rd16(h + 2) + 1);
    if (plen > len - *off) return -1;
    memset(p, 0, sizeof *p);
    p->fmt = h[0] & 0x1f;
    p->pt = h[1];
    if (p->pt < 192 || p->pt > 223) return -1;
    size_t body_len = plen - 4;
    if (h[0] & 0x20) { /* padding: only allowed in the last packet (RFC 3550 6.4.1) */
        uint8_t pad = h[plen - 1];
        if (*off + plen != len || pad == 0 || pad > body_len) return -1;
        body_len -= pad;
    }
    p->body = h + 4;
    p->body_len = body_len;
    if (body_len >= 4) p->ssrc = rd32(h + 4);
    if ((p->pt == RTCP_RTPFB || p->pt == RTCP_PSFB)) {
        if (body_len < 8) return -1;
        p->media_ssrc = rd32(h + 8);
    }
    if (p->pt == RTCP_SR && body_len < 24 + 24 * (size_t)p->fmt) return -1;
    if (p->pt == RTCP_RR && body_len < 4 + 24 * (size_t)p->fmt) return -1;
    *off += plen;
    return 1;
}

int rtcp_validate(const uint8_t *buf, size_t len) {
    size_t off = 0;
    rtcp_pkt p;
    int n = 0, r;
    while ((r = rtcp_next(buf, len, &off, &p)) == 1) n++;
    return r == 0 && n > 0 ? 0 : -1;
}

int rtcp_nack_foreach(const rtcp_pkt *p, void (*fn)(void *, uint16_t), void *arg) {
    if (p->pt != RTCP_RTPFB || p->fmt != RTCP_FMT_NACK || p->body_len < 8 ||
        (p->body_len - 8) % 4 != 0)
        return -1;
    int count = 0;
    for (size_t i = 8; i < p->body_len; i += 4) {
        uint16_t pid = rd16(p->body + i), blp = rd16(p->body + i + 2);
        fn(arg, pid); count++;
        for (int b = 0; b < 16; b++)
            if (blp & (1u << b)) { fn(arg, (uint16_t)(pid + b + 1)); count++; }
    }
    return count;
}

int rtcp_remb_parse(const rtcp_pkt *p, uint64_t *bitrate, uint32_t *ssrcs, int max_ssrcs,
                    int *n_ssrcs) {
    if (p->pt != RTCP_PSFB || p->fmt != RTCP_FMT_AFB || p->body_len < 16 ||
        memcmp(p->body + 8, "REMB", 4) != 0)
        return -1;
    const uint8_t *f = p->body + 12;
    int num = f[0];
    uint8_t exp = f[1] >> 2;
    uint32_t mant = ((uint32_t)(f[1] & 3) << 16) | rd16(f + 2);
    if (p->body_len < 16 + 4 * (size_t)num) return -1;
    *bitrate = exp > 46 ? UINT64_MAX : (uint64_t)mant << exp;
    int n = 0;
    for (int i = 0; i < num && n < max_ssrcs; i++) ssrcs[n++] = rd32(f + 4 + 4 * i);
    *n_ssrcs = n;
    return 0;
}

int rtcp_fir_parse(const rtcp_pkt *p, uint32_t *ssrc, uint8_t *seq) {
    if (p->pt != RTCP_PSFB || p->fmt != RTCP_FMT_FIR || p->body_len < 16) return -1;
    *ssrc = rd32(p->body + 8);
    *seq = p->body[12];
    return 0;
}

static void rtcp_header(uint8_t *b, uint8_t fmt, uint8_t pt, size_t total) {
    b[0] = (uint8_t)(0x80 | (fmt & 0x1f));
    b[1] = pt;
    wr16(b + 2, (uint16_t)(total / 4 - 1));
}

size_t rtcp_build_pli(uint8_t *b, size_t cap, uint32_t sender, uint32_t media) {
    if (cap < 12) return 0;
    rtcp_header(b, RTCP_FMT_PLI, RTCP_PSFB, 12);
    wr32(b + 4, sender); wr32(b + 8, media);
    return 12;
}

size_t rtcp_build_fir(uint8_t *b, size_t cap, uint32_t sender, uint32_t media, uint8_t seq) {
    if (cap < 20) return 0;
    rtcp_header(b, RTCP_FMT_FIR, RTCP_PSFB, 20);
    wr32(b + 4, sender); wr32(b + 8, 0); /* media source SSRC unused in FIR (RFC 5104 4.3.1.2) */
    wr32(b + 12, media);
    b[16] = seq; b[17] = b[18] = b[19] = 0;
    return 20;
}

size_t rtcp_build_nack(uint8_t *b, size_t cap, uint32_t sender, uint32_t media,
                       const uint16_t *lost, int n) {
    if (n <= 0 || cap < 12) return 0;
    size_t len = 12;
    int i = 0;
    while (i < n) {
        if (cap - len < 4 || len + 4 > 4 * 65536) return 0;
        uint16_t pid = lost[i++], blp = 0;
        while (i < n && (uint16_t)(lost[i] - pid) >= 1 && (uint16_t)(lost[i] - pid) <= 16) {
            blp |= (uint16_t)(1u << ((uint16_t)(lost[i] - pid) - 1));
            i++;
        }
        wr16(b + len, pid); wr16(b + len + 2, blp);
        len += 4;
    }
    rtcp_header(b, RTCP_FMT_NACK, RTCP_RTPFB, len);
    wr32(b + 4, sender); wr32(b + 8, media);
    return len;
}

size_t rtcp_build_remb(uint8_t *b, size_t cap, uint32_t sender, uint64_t bitrate,
                       const uint32_t *ssrcs, int n) {
    if (n < 0 || n > 255) return 0;
    size_t len = 20 + 4 * (size_t)n;
    if (cap < len) return 0;
    uint8_t exp = 0;
    while (bitrate >= (1u << 18) && exp < 63) { bitrate >>= 1; exp++; }
    rtcp_header(b, RTCP_FMT_AFB, RTCP_PSFB, len);
    wr32(b + 4, sender); wr32(b + 8, 0);
    memcpy(b + 12, "REMB", 4);
    b[16] = (uint8_t)n;
    b[17] = (uint8_t)((exp << 2) | (uint8_t)(bitrate >> 16));
    wr16(b + 18, (uint16_t)bitrate);
    for (int i = 0; i < n; i++) wr32(b + 20 + 4 * i, ssrcs[i]);
    return len;
}

size_t rtcp_build_rr(uint8_t *b, size_t cap, uint32_t sender, uint32_t source,
                     uint8_t fraction_lost, uint32_t cum_lost, uint32_t ext_high_seq,
                     uint32_t jitter, uint32_t lsr, uint32_t dlsr) {
    if (cap < 32) return 0;
    rtcp_header(b, 1, RTCP_RR, 32);
    wr32(b + 4, sender);
    wr32(b + 8, source);
    wr32(b + 12, (uint32_t)fraction_lost << 24 | (cum_lost & 0xffffff));
    wr32(b + 16, ext_high_seq);
    wr32(b + 20, jitter);
    wr32(b + 24, lsr);
    wr32(b + 28, dlsr);
    return 32;
}

size_t rtcp_build_sr(uint8_t *b, size_t cap, uint32_t sender, uint64_t ntp, uint32_t rtp_ts,
                     uint32_t packets, uint32_t octets) {
    if (cap < 28) return 0;
    rtcp_header(b, 0, RTCP_SR, 28);
    wr32(b + 4, sender);
    wr32(b + 8, (uint32_t)(ntp >> 32));
    wr32(b + 12, (uint32_t)ntp);
    wr32(b + 16, rtp_ts);
    wr32(b + 20, packets);
    wr32(b + 24, octets);
    return 28;
}

int vp8_parse(const uint8_t *p, size_t len, vp8_desc *d) {
    memset(d, 0, sizeof *d);
    if (len < 1) return -1;
    size_t i = 1;
    bool x = p[0] & 0x80;
    d->start_of_partition = p[0] & 0x10;
    d->partition_id = p[0] & 0x0f;
    if (x) {
        if (len < 2) return -1;
        uint8_t ext = p[1];
        i = 2;
        if (ext & 0x80) { /* I: PictureID, 7 or 15 bits */
            if (len - i < 1) return -1;
            d->has_picture_id = true;
            if (p[i] & 0x80) {
                if (len - i < 2) return -1;
                d->picture_id = (uint16_t)(((p[i] & 0x7f) << 8) | p[i + 1]);
                i += 2;
            } else {
                d->picture_id = p[i];
                i += 1;
            }
        }
        if (ext & 0x40) { /* L: TL0PICIDX */
            if (len - i < 1) return -1;
            d->has_tl0picidx = true;
            d->tl0picidx = p[i++];
        }
        if (ext & 0x30) { /* T or K: TID/Y/KEYIDX byte */
            if (len - i < 1) return -1;
            if (ext & 0x20) { d->has_tid = true; d->tid = p[i] >> 6; }
            i++;
        }
    }
    d->descriptor_len = i;
    /* The VP8 payload header's first byte: bit 0 is P (0 = key frame) (RFC 7741 4.3). */
    if (d->start_of_partition && d->partition_id == 0) {
        if (len - i < 1) return -1;
        d->keyframe = (p[i] & 0x01) == 0;
    }
    return 0;
}
