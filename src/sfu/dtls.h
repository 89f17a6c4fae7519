/*
 * dtls.h: DTLS-SRTP (RFC 5764) for the SFU over OpenSSL DTLS 1.2. One sfu_dtls_ctx per
 * process holds the self-signed ECDSA P-256 certificate made at start and its SHA-256
 * fingerprint (for the SDP answer); one sfu_dtls per participant runs the handshake over a
 * custom BIO: inbound datagrams are handed in by sfu_dtls_input(), and every datagram OpenSSL
 * writes is passed to the send callback at once, one UDP datagram each, so records are never
 * split. The SFU is the DTLS server (a=setup:passive); client mode exists for tests and the
 * load generator. Owners: the caller owns the ctx and each sfu_dtls and frees them with the
 * matching _free; the ctx must outlive its sessions. Exported keys are wiped by the caller.
 */
#ifndef PARLEY_SFU_DTLS_H
#define PARLEY_SFU_DTLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_FINGERPRINT_LEN 96 /* "AB:CD:..." for SHA-256 plus NUL */
#define SFU_SRTP_MATERIAL_MAX 60 /* 2 x (16-byte key + 14-byte salt) */

typedef enum { SFU_SRTP_AES128_CM_SHA1_80 = 1, SFU_SRTP_AEAD_AES_128_GCM = 2 } sfu_srtp_profile;

typedef struct sfu_dtls_ctx sfu_dtls_ctx;
typedef struct sfu_dtls sfu_dtls;
typedef void (*sfu_dtls_send_fn)(void *arg, const uint8_t *data, size_t len);

typedef struct {
    sfu_srtp_profile profile;
    size_t key_len, salt_len;
    uint8_t material[SFU_SRTP_MATERIAL_MAX]; /* RFC 5764 4.2 order: ck, sk, csalt, ssalt */
} sfu_srtp_keys;

/* Makes the certificate and the SSL_CTX. Returns NULL and fills err on failure. */
sfu_dtls_ctx *sfu_dtls_ctx_new(char *err, size_t err_len);
void sfu_dtls_ctx_free(sfu_dtls_ctx *c);
/* "sha-256 AB:CD:..." is built by the caller from this upper-case hex with colons. */
const char *sfu_dtls_ctx_fingerprint(const sfu_dtls_ctx *c);

sfu_dtls *sfu_dtls_new(sfu_dtls_ctx *c, bool server, sfu_dtls_send_fn send, void *arg);
void sfu_dtls_free(sfu_dtls *d);
/* If set (from the peer's SDP a=fingerprint), the peer's certificate must match it. */
int sfu_dtls_expect_fingerprint(sfu_dtls *d, const char *hex_colon);
/* Client: sends the ClientHello. Server: nothing to do. 0 or -1. */
int sfu_dtls_start(sfu_dtls *d);
/* One inbound datagram. Returns 1 when the handshake has just completed, 0 if in progress
 * or already done, -1 on a fatal error (the session is dead). */
int sfu_dtls_input(sfu_dtls *d, const uint8_t *data, size_t len);
/* Retransmits on timeout; call every few hundred ms. */
void sfu_dtls_tick(sfu_dtls *d);
bool sfu_dtls_done(const sfu_dtls *d);
/* After completion: the negotiated profile and keying material. 0 or -1. */
int sfu_dtls_export(sfu_dtls *d, sfu_srtp_keys *out);

#endif
