/*
 * srtp.c: libsrtp2 sessions for one participant (see srtp.h). Outbound uses ssrc_any_outbound
 * so that every SSRC the SFU forwards to this participant gets its own stream context
 * (libsrtp2 clones the template on first use); retransmissions re-send an already protected
 * sequence number, so allow_repeat_tx is on.
 */
#include "srtp.h"
#include <openssl/crypto.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

struct sfu_srtp {
    srtp_t in, out;
};

/* libsrtp2's own global state must be initialised once; the SFU calls this from its one
 * media thread before any session exists, tests likewise. */
static bool srtp_ready;

int sfu_srtp_global_init(void) {
    if (srtp_ready) return 0;
    if (srtp_init() != srtp_err_status_ok) return -1;
    srtp_ready = true;
    return 0;
}

static int make_session(srtp_t *out, const sfu_srtp_keys *k, const uint8_t *key,
                        const uint8_t *salt, bool outbound) {
    uint8_t master[16 + 14];
    memcpy(master, key, k->key_len);
    memcpy(master + k->key_len, salt, k->salt_len);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (k->profile == SFU_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
    }
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = master;
    p.window_size = 1024;
    p.allow_repeat_tx = 1;
    p.next = NULL;
    int r = srtp_create(out, &p) == srtp_err_status_ok ? 0 : -1;
    OPENSSL_cleanse(master, sizeof master);
    return r;
}

sfu_srtp *sfu_srtp_new(const sfu_srtp_keys *k, bool is_server) {
    if (sfu_srtp_global_init() < 0 || k->key_len != 16 || (k->salt_len != 14 && k->salt_len != 12))
        return NULL;
    sfu_srtp *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    const uint8_t *ck = k->material, *sk = ck + k->key_len;
    const uint8_t *cs = sk + k->key_len, *ss = cs + k->salt_len;
    const uint8_t *in_k = is_server ? ck : sk, *in_s = is_server ? cs : ss;
    const uint8_t *out_k = is_server ? sk : ck, *out_s = is_server ? ss : cs;
    if (make_session(&s->in, k, in_k, in_s, false) < 0 ||
        make_session(&s->out, k, out_k, out_s, true) < 0) {
        sfu_srtp_free(s);
        return NULL;
    }
    return s;
}

void sfu_srtp_free(sfu_srtp *s) {
    if (!s) return;
    if (s->in) srtp_dealloc(s->in); /* libsrtp2 zeroes its key material on dealloc */
    if (s->out) srtp_dealloc(s->out);
    free(s);
}

int sfu_srtp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
    if (*len < 12 || cap < *len + SFU_SRTP_TRAILER || *len > 65535) return -1;
    int n = (int)*len;
    if (srtp_protect(s->out, buf, &n) != srtp_err_status_ok) return -1;
    *len = (size_t)n;
    return 0;
}

int sfu_srtp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len) {
    if (*len < 12 || *len > 65535) return -1;
    int n = (int)*len;
    if (srtp_unprotect(s->in, buf, &n) != srtp_err_status_ok) return -1;
    *len = (size_t)n;
    return 0;
}

int sfu_srtcp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
    if (*len < 8 || cap < *len + SFU_SRTP_TRAILER || *len > 65535) return -1;
    int n = (int)*len;
    if (srtp_protect_rtcp(s->out, buf, &n) != srtp_err_status_ok) return -1;
    *len = (size_t)n;
    return 0;
}

int sfu_srtcp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len) {
    if (*len < 8 || *len > 65535) return -1;
    int n = (int)*len;
    if (srtp_unprotect_rtcp(s->in, buf, &n) != srtp_err_status_ok) return -1;
    *len = (size_t)n;
    return 0;
}
