/*
 * capture.h: the --capture test hook of parley-sfu. Records every RTP packet participants
 * send, after SRTP is removed, into one file, so a test can show that what the SFU holds is
 * SFrame ciphertext that does not decode without the browsers' keys (tests/tools/media_check.c
 * reads the file). Never enabled unless the command line asks for it.
 *
 * File format: a sequence of records, each
 *   participant id (4 bytes, big-endian) | length (2 bytes, big-endian) | the RTP packet.
 * Writing stops, silently, once the file reaches its byte limit.
 */
#ifndef PARLEY_SFU_CAPTURE_H
#define PARLEY_SFU_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sfu_capture sfu_capture;

/* Creates (truncates) path; NULL with errno set on failure. The caller frees with
 * sfu_capture_close, which flushes. */
sfu_capture *sfu_capture_open(const char *path, size_t max_bytes);
void sfu_capture_close(sfu_capture *cap);
/* An sfu_capture_fn: arg is the sfu_capture. */
void sfu_capture_rtp(void *arg, uint32_t participant, const uint8_t *pkt, size_t len);

#endif
