/*
 * capture.c: the --capture test hook (see capture.h). Buffered stdio is enough: the hook runs
 * on the SFU's one thread. The file is flushed by the first packet of each new second (so a
 * test can read a running call's capture, up to about a second old) and at close; a record
 * cut short at the end is one a reader must skip.
 */
#include "capture.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct sfu_capture {
    FILE *f;
    size_t written, max;
    time_t last_flush;
};

sfu_capture *sfu_capture_open(const char *path, size_t max_bytes) {
    sfu_capture *cap = calloc(1, sizeof *cap);
    if (!cap) return NULL;
    cap->f = fopen(path, "wb");
    if (!cap->f) { free(cap); return NULL; }
    cap->max = max_bytes;
    return cap;
}

void sfu_capture_close(sfu_capture *cap) {
    if (!cap) return;
    fclose(cap->f);
    free(cap);
}

void sfu_capture_rtp(void *arg, uint32_t participant, const uint8_t *pkt, size_t len) {
    sfu_capture *cap = arg;
    if (len > 0xffff || cap->written + 6 + len > cap->max) return;
    uint8_t h[6] = { (uint8_t)(participant >> 24), (uint8_t)(participant >> 16),
                     (uint8_t)(participant >> 8), (uint8_t)participant,
                     (uint8_t)(len >> 8), (uint8_t)len };
    if (fwrite(h, 1, 6, cap->f) != 6 || fwrite(pkt, 1, len, cap->f) != len) return;
    cap->written += 6 + len;
    time_t now = time(NULL);
    if (now != cap->last_flush) { fflush(cap->f); cap->last_flush = now; }
}
