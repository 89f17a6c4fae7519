/*
 * srtp.c: SRTP and SRTCP for one participant (see srtp.h), on OpenSSL's AES and HMAC.
 *
 * Why not libsrtp2: Debian's libsrtp2 is built on NSS, and a profile of parley-sfu forwarding
 * one publisher to 999 subscribers spent 42 % of its CPU inside NSS's softoken (a PKCS#11
 * context and a mutex per packet). The issue allows either; this file is the protocol layer
 * (key derivation, IVs, rollover counters, replay windows, packet layout) over OpenSSL EVP
 * primitives, checked in tests/unit/test_sfu_srtp.c against libsrtp2 as the reference and
 * against the RFC 3711 key-derivation vectors, and in every browser test against Chromium.
 *
 *   AES_CM_128_HMAC_SHA1_80 (RFC 3711): AES-128 in counter mode, IV = salt ^ SSRC ^ index,
 *     an 80-bit HMAC-SHA1 tag over the packet and the rollover counter (RTP) or index (RTCP).
 *   AEAD_AES_128_GCM (RFC 7714): IV = salt ^ (SSRC, ROC, SEQ); the header (RTP) or the first
 *     8 bytes plus E|index (RTCP) are the additional data; a 16-byte tag.
 * Session keys come from the master key and salt by the AES-CM PRF (RFC 3711 4.3.3, key
 * derivation rate 0); GCM's 96-bit master salt is padded to 112 bits (RFC 7714 errata 4938).
 *
 * Streams: per SSRC, a rollover counter with the highest index (RFC 3711 3.3.1, estimated from
 * the 16-bit difference to the highest sequence number) and a 128-packet replay window
 * inbound; inbound state for an SSRC is only created by a packet that authenticates. Outbound
 * retransmissions re-send an already used index on purpose (NACK answers), which the sender
 * side does not refuse. Memory: the session owns its EVP contexts and stream tables; free
 * wipes every key.
 */
#include "srtp.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define TAG_CM 10
#define TAG_GCM 16
#define WINDOW 128
#define MAX_STREAMS 4096 /* per direction: a subscriber of 64 publishers uses ~130 */

typedef struct {
    uint32_t ssrc;
    bool used;
    bool rtp_init, rtcp_init;
    uint64_t rtp_top;            /* highest 48-bit index seen (in) or sent (out) */
    uint64_t rtp_win[WINDOW / 64]; /* bit k: index rtp_top - k was received (in only) */
    uint32_t rtcp_top;           /* highest SRTCP index received, or the last one sent */
    uint64_t rtcp_win[WINDOW / 64];
} stream;

typedef struct {
    EVP_CIPHER_CTX *rtp_c, *rtcp_c; /* keyed once; the IV is set per packet */
    EVP_MAC_CTX *rtp_mac, *rtcp_mac; /* HMAC-SHA1 (CM profile only), keyed once */
    uint8_t rtp_salt[14], rtcp_salt[14];
    stream *streams;
    size_t cap, n;
} direction;

struct sfu_srtp {
    bool gcm;
    direction in, out;
};

static uint32_t get32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }
static void put32(uint8_t *b, uint32_t v) { b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16); b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v; }

/* ---- key derivation ------------------------------------------------------------------- */

/* RFC 3711 4.3.3 with kdr 0: AES-CTR(master key, (salt ^ label at byte 7) || 0x0000). */
int sfu_srtp_kdf(const uint8_t *key, const uint8_t *salt, size_t salt_len, uint8_t label,
                 uint8_t *out, size_t n) {
    uint8_t iv[16] = {0}, zero[32] = {0};
    if (salt_len > 14) return -1;
    memcpy(iv, salt, salt_len);
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && n <= sizeof zero &&
        EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
        EVP_EncryptUpdate(c, out, &len, zero, (int)n) == 1 && len == (int)n;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static EVP_MAC_CTX *hmac_sha1(const uint8_t *key, size_t n) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                       OSSL_PARAM_construct_end() };
    if (c && EVP_MAC_init(c, key, n, p) == 1) return c;
    EVP_MAC_CTX_free(c);
    return NULL;
}

/* One direction's contexts from its master key and salt; labels 0-2 RTP, 3-5 RTCP. */
static int direction_init(direction *d, bool gcm, const uint8_t *key, const uint8_t *salt,
                          size_t salt_len, bool encrypt) {
    uint8_t k[16], a[20], s[14];
    int rc = 0;
    const EVP_CIPHER *cipher = gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr();
    for (int rtcp = 0; rtcp < 2 && rc == 0; rtcp++) {
        uint8_t base = rtcp ? 3 : 0;
        size_t sl = gcm ? 12 : 14;
        if (sfu_srtp_kdf(key, salt, salt_len, base, k, 16) < 0 ||
            sfu_srtp_kdf(key, salt, salt_len, base + 2, s, sl) < 0 ||
            (!gcm && sfu_srtp_kdf(key, salt, salt_len, base + 1, a, 20) < 0)) { rc = -1; break; }
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        if (!c || (encrypt ? EVP_EncryptInit_ex(c, cipher, NULL, k, NULL)
                           : EVP_DecryptInit_ex(c, cipher, NULL, k, NULL)) != 1) {
            EVP_CIPHER_CTX_free(c);
            rc = -1;
            break;
        }
        EVP_MAC_CTX *m = gcm ? NULL : hmac_sha1(a, 20);
        if (!gcm && !m) { EVP_CIPHER_CTX_free(c); rc = -1; break; }
        if (rtcp) { d->rtcp_c = c; d->rtcp_mac = m; memcpy(d->rtcp_salt, s, sl); }
        else { d->rtp_c = c; d->rtp_mac = m; memcpy(d->rtp_salt, s, sl); }
    }
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(s, sizeof s);
    return rc;
}

static void direction_free(direction *d) {
    EVP_CIPHER_CTX_free(d->rtp_c);
    EVP_CIPHER_CTX_free(d->rtcp_c);
    EVP_MAC_CTX_free(d->rtp_mac);
    EVP_MAC_CTX_free(d->rtcp_mac);
    OPENSSL_cleanse(d->rtp_salt, sizeof d->rtp_salt);
    OPENSSL_cleanse(d->rtcp_salt, sizeof d->rtcp_salt);
    free(d->streams);
}

sfu_srtp *sfu_srtp_new(const sfu_srtp_keys *k, bool is_server) {
    bool gcm = k->profile == SFU_SRTP_AEAD_AES_128_GCM;
    if (k->key_len != 16 || k->salt_len != (gcm ? 12 : 14)) return NULL;
    sfu_srtp *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->gcm = gcm;
    const uint8_t *ck = k->material, *sk = ck + k->key_len;
    const uint8_t *cs = sk + k->key_len, *ss = cs + k->salt_len;
    const uint8_t *in_k = is_server ? ck : sk, *in_s = is_server ? cs : ss;
    const uint8_t *out_k = is_server ? sk : ck, *out_s = is_server ? ss : cs;
    if (direction_init(&s->in, gcm, in_k, in_s, k->salt_len, false) < 0 ||
        direction_init(&s->out, gcm, out_k, out_s, k->salt_len, true) < 0) {
        sfu_srtp_free(s);
        return NULL;
    }
    return s;
}

void sfu_srtp_free(sfu_srtp *s) {
    if (!s) return;
    direction_free(&s->in);
    direction_free(&s->out);
    free(s);
}

/* ---- streams ------------------------------------------------------------------------- */

/* Open addressing, linear probing; capacity a power of two, at most half full. */
static stream *find(direction *d, uint32_t ssrc, bool create) {
    if (d->cap) {
        size_t m = d->cap - 1;
        for (size_t i = (ssrc * 2654435761u) & m;; i = (i + 1) & m) {
            if (!d->streams[i].used) break;
            if (d->streams[i].ssrc == ssrc) return &d->streams[i];
        }
    }
    if (!create || d->n >= MAX_STREAMS) return NULL;
    if (2 * (d->n + 1) > d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        stream *t = calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t j = 0; j < d->cap; j++) {
            if (!d->streams[j].used) continue;
            size_t i = (d->streams[j].ssrc * 2654435761u) & (cap - 1);
            while (t[i].used) i = (i + 1) & (cap - 1);
            t[i] = d->streams[j];
        }
        free(d->streams);
        d->streams = t;
        d->cap = cap;
    }
    size_t i = (ssrc * 2654435761u) & (d->cap - 1);
    while (d->streams[i].used) i = (i + 1) & (d->cap - 1);
    d->streams[i] = (stream){ .ssrc = ssrc, .used = true };
    d->n++;
    return &d->streams[i];
}

/* The 48-bit index of seq: the one nearest the highest so far (RFC 3711 3.3.1). */
static uint64_t rtp_index(const stream *st, uint16_t seq) {
    if (!st || !st->rtp_init) return seq;
    int64_t i = (int64_t)st->rtp_top + (int16_t)(seq - (uint16_t)st->rtp_top);
    return i < 0 ? seq : (uint64_t)i & 0xffffffffffffull;
}

/* Replay window: 1 if index is new (inside the window or ahead of it), 0 if seen or too old. */
static bool window_ok(uint64_t top, const uint64_t *win, bool init, uint64_t index) {
    if (!init || index > top) return true;
    uint64_t back = top - index;
    return back < WINDOW && !(win[back / 64] >> (back % 64) & 1);
}

static void window_mark(uint64_t *top, uint64_t *win, bool *init, uint64_t index) {
    if (!*init) {
        memset(win, 0, WINDOW / 8);
        *top = index;
        *init = true;
    } else if (index > *top) {
        uint64_t shift = index - *top;
        if (shift >= WINDOW) memset(win, 0, WINDOW / 8);
        else
            for (uint64_t k = 0; k < shift; k++) { /* at most WINDOW single-bit shifts */
                for (int w = WINDOW / 64 - 1; w > 0; w--) win[w] = win[w] << 1 | win[w - 1] >> 63;
                win[0] <<= 1;
            }
        *top = index;
    }
    uint64_t back = *top - index;
    win[back / 64] |= 1ull << (back % 64);
}

/* ---- the two transforms ---------------------------------------------------------------- */

/* Counter mode in place: IV = salt(14)||0000 ^ SSRC at 4 ^ index at 8 (48 bits). */
static int ctr(EVP_CIPHER_CTX *c, const uint8_t *salt, uint32_t ssrc, uint64_t index,
               uint8_t *p, size_t n) {
    uint8_t iv[16] = {0};
    memcpy(iv, salt, 14);
    for (int i = 0; i < 4; i++) iv[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
    for (int i = 0; i < 6; i++) iv[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
    int len = 0;
    return EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) == 1 &&
           (n == 0 || EVP_CipherUpdate(c, p, &len, p, (int)n) == 1) ? 0 : -1;
}

/* 80-bit HMAC-SHA1 of a || b into tag. */
static int mac80(EVP_MAC_CTX *m, const uint8_t *a, size_t an, const uint8_t *b, size_t bn, uint8_t *tag) {
    uint8_t full[20];
    size_t n = 0;
    int ok = EVP_MAC_init(m, NULL, 0, NULL) == 1 && EVP_MAC_update(m, a, an) == 1 &&
             EVP_MAC_update(m, b, bn) == 1 && EVP_MAC_final(m, full, &n, sizeof full) == 1 && n == 20;
    memcpy(tag, full, TAG_CM);
    return ok ? 0 : -1;
}

/* GCM in place: IV = salt(12) ^ iv_in; aad, then p (n bytes), tag after p (encrypt) or
 * checked from tag (decrypt). */
static int gcm(EVP_CIPHER_CTX *c, bool enc, const uint8_t *salt, const uint8_t iv_in[12],
               const uint8_t *aad, size_t aad_n, uint8_t *p, size_t n, uint8_t *tag) {
    uint8_t iv[12];
    for (int i = 0; i < 12; i++) iv[i] = salt[i] ^ iv_in[i];
    int len = 0;
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, enc) != 1 ||
        EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_n) != 1 ||
        (n && EVP_CipherUpdate(c, p, &len, p, (int)n) != 1))
        return -1;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_GCM, tag) != 1) return -1;
    if (EVP_CipherFinal_ex(c, p + n, &len) != 1) return -1;
    return enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_GCM, tag) != 1 ? -1 : 0;
}

/* Length of the RTP header (fixed part, CSRCs, extension block), or 0 if malformed. */
static size_t rtp_header_len(const uint8_t *b, size_t n) {
    if (n < 12 || (b[0] >> 6) != 2) return 0;
    size_t h = 12 + 4 * (size_t)(b[0] & 0x0f);
    if (b[0] & 0x10) {
        if (n < h + 4) return 0;
        h += 4 + 4 * (size_t)(b[h + 2] << 8 | b[h + 3]);
    }
    return h <= n ? h : 0;
}

static void rtp_gcm_iv(uint8_t iv[12], uint32_t ssrc, uint64_t index) {
    memset(iv, 0, 12);
    put32(iv + 2, ssrc);
    put32(iv + 6, (uint32_t)(index >> 16));
    iv[10] = (uint8_t)(index >> 8);
    iv[11] = (uint8_t)index;
}

int sfu_srtp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
    size_t n = *len, h = rtp_header_len(buf, n);
    if (!h || n > 65535 || cap < n + SFU_SRTP_TRAILER) return -1;
    uint32_t ssrc = get32(buf + 8);
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    stream *st = find(&s->out, ssrc, true);
    if (!st) return -1;
    uint64_t index = rtp_index(st, seq);
    if (s->gcm) {
        uint8_t iv[12];
        rtp_gcm_iv(iv, ssrc, index);
        if (gcm(s->out.rtp_c, true, s->out.rtp_salt, iv, buf, h, buf + h, n - h, buf + n) < 0) return -1;
        *len = n + TAG_GCM;
    } else {
        uint8_t roc[4];
        put32(roc, (uint32_t)(index >> 16));
        if (ctr(s->out.rtp_c, s->out.rtp_salt, ssrc, index, buf + h, n - h) < 0 ||
            mac80(s->out.rtp_mac, buf, n, roc, 4, buf + n) < 0) return -1;
        *len = n + TAG_CM;
    }
    if (!st->rtp_init || index > st->rtp_top) { st->rtp_top = index; st->rtp_init = true; }
    return 0;
}

int sfu_srtp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len) {
    size_t tag = s->gcm ? TAG_GCM : TAG_CM, n = *len;
    if (n > 65535 || n < 12 + tag) return -1;
    size_t body = n - tag, h = rtp_header_len(buf, body);
    if (!h) return -1;
    uint32_t ssrc = get32(buf + 8);
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    stream *st = find(&s->in, ssrc, false);
    uint64_t index = rtp_index(st, seq);
    if (st && !window_ok(st->rtp_top, st->rtp_win, st->rtp_init, index)) return -1;
    if (s->gcm) {
        uint8_t iv[12];
        rtp_gcm_iv(iv, ssrc, index);
        if (gcm(s->in.rtp_c, false, s->in.rtp_salt, iv, buf, h, buf + h, body - h, buf + body) < 0) return -1;
    } else {
        uint8_t roc[4], want[TAG_CM];
        put32(roc, (uint32_t)(index >> 16));
        if (mac80(s->in.rtp_mac, buf, body, roc, 4, want) < 0 || CRYPTO_memcmp(want, buf + body, TAG_CM) != 0 ||
            ctr(s->in.rtp_c, s->in.rtp_salt, ssrc, index, buf + h, body - h) < 0) return -1;
    }
    if (!st && !(st = find(&s->in, ssrc, true))) return -1; /* authenticated: now it may cost memory */
    window_mark(&st->rtp_top, st->rtp_win, &st->rtp_init, index);
    *len = body;
    return 0;
}

/* RFC 7714 9.1 and 9.3: the SRTCP IV before salting (SSRC, 31-bit index) and the AAD (the
 * first 8 header bytes, then E|index). */
static void rtcp_gcm_iv_aad(uint8_t iv[12], uint8_t aad[12], const uint8_t *hdr, uint32_t ssrc,
                            uint32_t index, const uint8_t e_index[4]) {
    memset(iv, 0, 12);
    put32(iv + 2, ssrc);
    put32(iv + 8, index & 0x7fffffff);
    memcpy(aad, hdr, 8);
    memcpy(aad + 8, e_index, 4);
}

int sfu_srtcp_protect(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
    size_t n = *len;
    if (n < 8 || n > 65535 || cap < n + SFU_SRTP_TRAILER || (buf[0] >> 6) != 2) return -1;
    uint32_t ssrc = get32(buf + 4);
    stream *st = find(&s->out, ssrc, true);
    if (!st) return -1;
    uint32_t index = st->rtcp_init ? (st->rtcp_top + 1) & 0x7fffffff : 0;
    uint8_t e_index[4];
    put32(e_index, 0x80000000u | index); /* E: the compound is encrypted */
    if (s->gcm) {
        uint8_t iv[12], aad[12];
        rtcp_gcm_iv_aad(iv, aad, buf, ssrc, index, e_index);
        if (gcm(s->out.rtcp_c, true, s->out.rtcp_salt, iv, aad, 12, buf + 8, n - 8, buf + n) < 0) return -1;
        memcpy(buf + n + TAG_GCM, e_index, 4); /* RFC 7714 9: E|index follows the tag */
        *len = n + TAG_GCM + 4;
    } else {
        if (ctr(s->out.rtcp_c, s->out.rtcp_salt, ssrc, index, buf + 8, n - 8) < 0) return -1;
        memcpy(buf + n, e_index, 4);
        if (mac80(s->out.rtcp_mac, buf, n, e_index, 4, buf + n + 4) < 0) return -1;
        *len = n + 4 + TAG_CM;
    }
    st->rtcp_top = index;
    st->rtcp_init = true;
    return 0;
}

int sfu_srtcp_unprotect(sfu_srtp *s, uint8_t *buf, size_t *len) {
    size_t tag = s->gcm ? TAG_GCM : TAG_CM, n = *len;
    if (n > 65535 || n < 8 + tag + 4 || (buf[0] >> 6) != 2) return -1;
    size_t body = n - tag - 4;
    const uint8_t *e_index = s->gcm ? buf + n - 4 : buf + body;
    uint32_t ei = get32(e_index), index = ei & 0x7fffffff, ssrc = get32(buf + 4);
    if (!(ei & 0x80000000u)) return -1; /* unencrypted SRTCP is never negotiated here */
    stream *st = find(&s->in, ssrc, false);
    if (st && !window_ok(st->rtcp_top, st->rtcp_win, st->rtcp_init, index)) return -1;
    if (s->gcm) {
        uint8_t iv[12], aad[12];
        rtcp_gcm_iv_aad(iv, aad, buf, ssrc, index, e_index);
        if (gcm(s->in.rtcp_c, false, s->in.rtcp_salt, iv, aad, 12, buf + 8, body - 8, buf + body) < 0) return -1;
    } else {
        uint8_t want[TAG_CM];
        if (mac80(s->in.rtcp_mac, buf, body, e_index, 4, want) < 0 ||
            CRYPTO_memcmp(want, buf + body + 4, TAG_CM) != 0 ||
            ctr(s->in.rtcp_c, s->in.rtcp_salt, ssrc, index, buf + 8, body - 8) < 0) return -1;
    }
    if (!st && !(st = find(&s->in, ssrc, true))) return -1;
    uint64_t top = st->rtcp_top;
    window_mark(&top, st->rtcp_win, &st->rtcp_init, index);
    st->rtcp_top = (uint32_t)top;
    *len = body;
    return 0;
}
