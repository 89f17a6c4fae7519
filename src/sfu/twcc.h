/*
 * twcc.h: transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01), the receiver half. A browser that publishes stamps every packet with a
 * transport-wide sequence number (an RTP header extension); the SFU records when each one
 * arrived and, every tick, sends back an RTCP transport feedback packet (RTPFB, FMT 15) that
 * lists which arrived and the gaps between their arrival times. From that the browser's
 * send-side bandwidth estimator learns the path's capacity; without it Chromium stays at its
 * start bitrate and never sends its upper simulcast layers.
 *
 * Memory: a twcc_recorder is a fixed-size value the caller embeds or allocates (about 2 KiB);
 * it owns nothing. Packets further than TWCC_WINDOW ahead of the oldest unreported one
 * restart the window (the old ones are reported as they were).
 */
#ifndef PARLEY_SFU_TWCC_H
#define PARLEY_SFU_TWCC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWCC_WINDOW 256           /* packets between two feedbacks: ~1 s of a 2.5 Mbit/s sender */
#define TWCC_MAX_PER_FEEDBACK 200 /* keeps one feedback packet under ~700 bytes */

typedef struct {
    bool started;
    uint16_t base;   /* oldest sequence number not yet reported */
    uint16_t end;    /* one past the highest sequence number seen */
    uint8_t fb_count;
    uint32_t arrival[TWCC_WINDOW]; /* arrival time in units of 250 us, wrapping; 0: not received */
    uint32_t last_ref;             /* the previous feedback's reference time (64 ms units) */
} twcc_recorder;

/* Notes that transport-wide sequence number seq arrived at now_us (a monotonic clock). */
void twcc_record(twcc_recorder *r, uint16_t seq, uint64_t now_us);

/* True if packets arrived that no feedback has reported yet. */
bool twcc_pending(const twcc_recorder *r);

/* Writes one transport feedback packet for the oldest unreported packets (at most
 * TWCC_MAX_PER_FEEDBACK, starting with a received one) and marks them reported. Returns its
 * length, or 0 if nothing is pending or cap is too small (then nothing is marked). */
size_t twcc_build_feedback(twcc_recorder *r, uint8_t *buf, size_t cap, uint32_t sender,
                           uint32_t media);

/* The transport-wide sequence number in an extension's data (2 bytes, big endian); -1 if
 * the extension has another length. */
int twcc_ext_seq(const uint8_t *data, size_t len);

#endif
