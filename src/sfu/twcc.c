/*
 * twcc.c: the receiver half of transport-wide congestion control (twcc.h): arrival times of
 * a publisher's transport-wide sequence numbers, reported back in RTCP transport feedback
 * packets. Layout (draft-holmer-rmcat-transport-wide-cc-extensions-01, section 3.1):
 *
 *   RTCP header (V=2, FMT=15, PT=205) | sender SSRC | media SSRC
 *   base sequence number (16) | packet status count (16)
 *   reference time (24, signed, 64 ms units) | feedback packet count (8)
 *   packet chunks (16 bits each) | receive deltas (8 or 16 bits, 250 us units) | padding
 *
 * Chunks are always two-bit status vectors (7 packets each: 00 not received, 01 small delta,
 * 10 large delta). Run-length chunks would be shorter on long runs, but a feedback covers
 * ~100 ms of one sender, so the difference is tens of bytes and the vector form is simpler
 * to get right.
 */
#include "twcc.h"
#include "rtp.h"
#include <string.h>

static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static void put32(uint8_t *b, uint32_t v) { put16(b, (uint16_t)(v >> 16)); put16(b + 2, (uint16_t)v); }

int twcc_ext_seq(const uint8_t *data, size_t len) {
    if (!data || len != 2) return -1;
    return data[0] << 8 | data[1];
}

void twcc_record(twcc_recorder *r, uint16_t seq, uint64_t now_us) {
    uint32_t t = (uint32_t)(now_us / 250) + 1; /* 0 is "not received" */
    if (!t) t = 1;
    if (r->started && (int16_t)(seq - r->base) < 0) return; /* already reported */
    if (!r->started || (uint16_t)(seq - r->base) >= TWCC_WINDOW) {
        /* first packet, or so far ahead that the window cannot hold it: start over here */
        memset(r->arrival, 0, sizeof r->arrival);
        r->started = true;
        r->base = seq;
        r->end = seq;
    }
    if ((int16_t)(seq - r->end) >= 0) r->end = (uint16_t)(seq + 1);
    uint32_t *a = &r->arrival[seq % TWCC_WINDOW];
    if (!*a) *a = t; /* a duplicate keeps its first arrival */
}

bool twcc_pending(const twcc_recorder *r) { return r->started && r->end != r->base; }

/* Status symbols and deltas for up to TWCC_MAX_PER_FEEDBACK packets from r->base. Stops
 * before a delta that does not fit 16 bits (the next feedback starts there, with its own
 * reference time). Returns the packet count; *ref is the reference time. */
static int classify(const twcc_recorder *r, uint8_t *sym, int32_t *delta, uint32_t *ref) {
    int span = (uint16_t)(r->end - r->base), n = 0;
    if (span > TWCC_MAX_PER_FEEDBACK) span = TWCC_MAX_PER_FEEDBACK;
    uint32_t prev = 0;
    bool have_ref = false;
    for (; n < span; n++) {
        uint32_t t = r->arrival[(uint16_t)(r->base + n) % TWCC_WINDOW];
        sym[n] = 0;
        if (!t) continue;
        uint32_t v = t - 1;
        if (!have_ref) {
            *ref = (v >> 8) & 0xffffff; /* 256 x 250 us = 64 ms */
            prev = *ref << 8;
            have_ref = true;
        }
        int32_t d = (int32_t)(v - prev);
        if (d < -32768 || d > 32767) break;
        sym[n] = d >= 0 && d <= 255 ? 1 : 2;
        delta[n] = d;
        prev = v;
    }
    return have_ref ? n : 0;
}

size_t twcc_build_feedback(twcc_recorder *r, uint8_t *b, size_t cap, uint32_t sender, uint32_t media) {
    if (!twcc_pending(r)) return 0;
    uint8_t sym[TWCC_MAX_PER_FEEDBACK];
    int32_t delta[TWCC_MAX_PER_FEEDBACK];
    uint32_t ref = 0;
    int n = classify(r, sym, delta, &ref);
    if (n == 0) {
        /* TWCC_MAX_PER_FEEDBACK packets in a row lost: nothing to anchor a reference time
         * to. Pass over them unreported (the sender's loss estimate misses them; that takes
         * an outage, and the delay of the next reports speaks for it). */
        int span = (uint16_t)(r->end - r->base);
        r->base = (uint16_t)(r->base + (span > TWCC_MAX_PER_FEEDBACK ? TWCC_MAX_PER_FEEDBACK : span));
        return 0;
    }
    size_t len = 20 + (size_t)(n + 6) / 7 * 2;
    for (int i = 0; i < n; i++) len += sym[i];
    size_t pad = (4 - len % 4) % 4, total = len + pad;
    if (cap < total) return 0;
    memset(b, 0, total);
    b[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | RTCP_FMT_TWCC);
    b[1] = RTCP_RTPFB;
    put16(b + 2, (uint16_t)(total / 4 - 1));
    put32(b + 4, sender);
    put32(b + 8, media);
    put16(b + 12, r->base);
    put16(b + 14, (uint16_t)n);
    put32(b + 16, ref << 8 | r->fb_count);
    size_t o = 20;
    for (int i = 0; i < n; i += 7, o += 2) {
        uint16_t chunk = 0xc000; /* status vector, two-bit symbols */
        for (int k = 0; k < 7 && i + k < n; k++) chunk |= (uint16_t)(sym[i + k] << (12 - 2 * k));
        put16(b + o, chunk);
    }
    for (int i = 0; i < n; i++) {
        if (sym[i] == 1) b[o++] = (uint8_t)delta[i];
        else if (sym[i] == 2) { put16(b + o, (uint16_t)(int16_t)delta[i]); o += 2; }
    }
    if (pad) b[total - 1] = (uint8_t)pad;
    for (int i = 0; i < n; i++) r->arrival[(uint16_t)(r->base + i) % TWCC_WINDOW] = 0;
    r->base = (uint16_t)(r->base + n);
    r->fb_count++;
    return total;
}
