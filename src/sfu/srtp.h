/*
 * srtp.h: SRTP/SRTCP (RFC 3711, RFC 7714 AES-GCM) for one participant via libsrtp2: an inbound
 * and an outbound session keyed from the DTLS-SRTP exported material (dtls.h). Packets are
 * transformed in place; the caller's buffer must have SFU_SRTP_TRAILER spare bytes after the
 * packet for protect. Owner: the caller frees with sfu_srtp_free, which wipes the keys.
 */
#ifndef PARLEY_SFU_SRTP_H
#define PARLEY_SFU_SRTP_H
#include "dtls.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_SRTP_TRAILER 148 /* libsrtp2's SRTP_MAX_TRAILER_LEN */

typedef struct sfu_srtp sfu_srtp;

/* Calls srtp_init() once per process (libsrtp2 keeps global state). 0 or -1. */
int sfu_srtp_global_init(void);
/* is_server: the DTLS role, which decides which half of the material is ours. */
sfu_srtp *sfu_srtp_new(const sfu_srtp_keys *keys, bool is_server);
void sfu_srtp_free(sfu_srtp *s);
/* In place; *len is updated. 0 or -1 (auth failure, replay, too short, no room). */
int sfu_srtp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int sfu_srtp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len);
int sfu_srtcp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int sfu_srtcp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len);

#endif
