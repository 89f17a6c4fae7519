/*
 * srtp.h: SRTP/SRTCP (RFC 3711 AES_CM_128_HMAC_SHA1_80, RFC 7714 AEAD_AES_128_GCM) for one
 * participant, on OpenSSL (srtp.c says why not libsrtp2): an inbound and an outbound session
 * keyed from the DTLS-SRTP exported material (dtls.h). Packets are transformed in place; the
 * caller's buffer must have SFU_SRTP_TRAILER spare bytes after the packet for protect. Owner:
 * the caller frees with sfu_srtp_free, which wipes the keys. One thread per session.
 */
#ifndef PARLEY_SFU_SRTP_H
#define PARLEY_SFU_SRTP_H
#include "dtls.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_SRTP_TRAILER 32 /* the largest is SRTCP with GCM: 16-byte tag + 4-byte E|index */

typedef struct sfu_srtp sfu_srtp;

/* is_server: the DTLS role, which decides which half of the material is ours. */
/* The AES-CM PRF of RFC 3711 4.3.3 (key derivation rate 0): n <= 32 bytes of the session key
 * `label` (0-5) from a 16-byte master key and a 12- or 14-byte master salt. Exposed for its
 * test vectors (RFC 3711 B.3). 0 or -1. */
int sfu_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len,
                 uint8_t label, uint8_t *out, size_t n);
sfu_srtp *sfu_srtp_new(const sfu_srtp_keys *keys, bool is_server);
void sfu_srtp_free(sfu_srtp *s);
/* In place; *len is updated. 0 or -1 (auth failure, replay, too short, no room). */
int sfu_srtp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int sfu_srtp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len);
int sfu_srtcp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int sfu_srtcp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len);

#endif
