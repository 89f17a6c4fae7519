/*
 * stun.c: STUN message parsing and building for the SFU's ICE-lite agent (see stun.h).
 * Every attribute length is checked against the remaining message before it is read; unknown
 * comprehension-optional attributes are skipped, unknown comprehension-required ones make the
 * message malformed (RFC 8489 section 7.3.1 says to answer 420; an ICE-lite server may drop).
 */
#include "stun.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <string.h>
#include <zlib.h>

#define ATTR_MAPPED_ADDRESS 0x0001
#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_ERROR_CODE 0x0009
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY 0x0024
#define ATTR_USE_CANDIDATE 0x0025
#define ATTR_SOFTWARE 0x8022
#define ATTR_FINGERPRINT 0x8028
#define ATTR_ICE_CONTROLLED 0x8029
#define ATTR_ICE_CONTROLLING 0x802A
#define FINGERPRINT_XOR 0x5354554eu

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

bool stun_is_stun(const uint8_t *buf, size_t len) {
    return len >= STUN_HEADER && buf[0] <= 3 && rd32(buf + 4) == STUN_COOKIE &&
           (rd16(buf + 2) & 3) == 0 && (size_t)rd16(buf + 2) + STUN_HEADER == len;
}

static uint32_t stun_crc(const uint8_t *buf, size_t len) {
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len) ^ FINGERPRINT_XOR;
}

static int decode_xor_address(const uint8_t *v, size_t vlen, const uint8_t *hdr,
                              struct sockaddr_storage *out) {
    if (vlen < 4) return -1;
    uint16_t port = rd16(v + 2) ^ (uint16_t)(STUN_COOKIE >> 16);
    memset(out, 0, sizeof *out);
    if (v[1] == 1 && vlen == 8) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        uint32_t a = rd32(v + 4) ^ STUN_COOKIE;
        sin->sin_addr.s_addr = htonl(a);
        return 0;
    }
    if (v[1] == 2 && vlen == 20) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        for (int i = 0; i < 16; i++) sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ hdr[4 + i];
        return 0;
    }
    return -1;
}

/* One attribute; returns 0, or -1 if its value is malformed. */
static int parse_attr(const uint8_t *buf, size_t off, uint16_t type, const uint8_t *v,
                      uint16_t vlen, stun_msg *m) {
    switch (type) {
    case ATTR_USERNAME:
        if (vlen == 0 || vlen > STUN_MAX_USERNAME) return -1;
        m->username = v; m->username_len = vlen;
        return 0;
    case ATTR_PRIORITY:
        if (vlen != 4) return -1;
        m->priority = rd32(v); m->has_priority = true;
        return 0;
    case ATTR_USE_CANDIDATE:
        if (vlen != 0) return -1;
        m->use_candidate = true;
        return 0;
    case ATTR_ICE_CONTROLLING:
    case ATTR_ICE_CONTROLLED:
        if (vlen != 8) return -1;
        if (type == ATTR_ICE_CONTROLLING) m->ice_controlling = true; else m->ice_controlled = true;
        return 0;
    case ATTR_MESSAGE_INTEGRITY:
        if (vlen != 20) return -1;
        m->has_integrity = true; m->integrity_off = off;
        return 0;
    case ATTR_ERROR_CODE:
        if (vlen < 4) return -1;
        m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
        return 0;
    case ATTR_XOR_MAPPED_ADDRESS:
        if (decode_xor_address(v, vlen, buf, &m->xor_mapped) < 0) return -1;
        m->has_xor_mapped = true;
        return 0;
    default:
        /* 0x0000-0x7FFF are comprehension-required. */
        return type < 0x8000 && type != ATTR_MAPPED_ADDRESS ? -1 : 0;
    }
}

int stun_parse(const uint8_t *buf, size_t len, stun_msg *m) {
    memset(m, 0, sizeof *m);
    if (!stun_is_stun(buf, len)) return -1;
    m->type = rd16(buf);
    memcpy(m->tid, buf + 8, 12);
    size_t off = STUN_HEADER;
    while (off < len) {
        if (len - off < 4) return -1;
        uint16_t type = rd16(buf + off), vlen = rd16(buf + off + 2);
        size_t padded = ((size_t)vlen + 3) & ~(size_t)3;
        if (padded > len - off - 4) return -1;
        if (m->has_fingerprint) return -1; /* FINGERPRINT must be last */
        if (type == ATTR_FINGERPRINT) {
            if (vlen != 4 || off + 8 != len) return -1;
            if (rd32(buf + off + 4) != stun_crc(buf, off)) return -1;
            m->has_fingerprint = true;
        } else if (!m->has_integrity) {
            if (parse_attr(buf, off, type, buf + off + 4, vlen, m) < 0) return -1;
        }
        /* After MESSAGE-INTEGRITY only FINGERPRINT counts (RFC 8489 14.5); others ignored. */
        off += 4 + padded;
    }
    return 0;
}

/* HMAC-SHA1 over buf[0..mi_off) with the header length patched to end after the MI attr. */
static int integrity_hmac(const uint8_t *buf, size_t mi_off, const uint8_t *key, size_t key_len,
                          uint8_t mac[20]) {
    uint8_t hdr[STUN_HEADER];
    memcpy(hdr, buf, STUN_HEADER);
    wr16(hdr + 2, (uint16_t)(mi_off + 24 - STUN_HEADER));
    EVP_MAC *mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac_alg) return -1;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_alg);
    EVP_MAC_free(mac_alg);
    if (!ctx) return -1;
    OSSL_PARAM params[2] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
                             OSSL_PARAM_construct_end() };
    size_t outl = 0;
    int ok = EVP_MAC_init(ctx, key, key_len, params) && EVP_MAC_update(ctx, hdr, STUN_HEADER) &&
             EVP_MAC_update(ctx, buf + STUN_HEADER, mi_off - STUN_HEADER) &&
             EVP_MAC_final(ctx, mac, &outl, 20) && outl == 20;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m,
                         const uint8_t *key, size_t key_len) {
    if (!m->has_integrity || m->integrity_off + 24 > len) return -1;
    uint8_t mac[20];
    if (integrity_hmac(buf, m->integrity_off, key, key_len, mac) < 0) return -1;
    return CRYPTO_memcmp(mac, buf + m->integrity_off + 4, 20) == 0 ? 0 : -1;
}

/* Builder state: a cursor over the output buffer; overflow latches and the build returns 0. */
typedef struct { uint8_t *p; size_t cap, len; bool overflow; } wbuf;

static uint8_t *attr_begin(wbuf *w, uint16_t type, size_t vlen) {
    size_t padded = (vlen + 3) & ~(size_t)3;
    if (w->overflow || w->cap - w->len < 4 + padded) { w->overflow = true; return NULL; }
    uint8_t *a = w->p + w->len;
    wr16(a, type); wr16(a + 2, (uint16_t)vlen);
    memset(a + 4, 0, padded);
    w->len += 4 + padded;
    wr16(w->p + 2, (uint16_t)(w->len - STUN_HEADER));
    return a + 4;
}

static void header(wbuf *w, uint16_t type, const uint8_t tid[12]) {
    if (w->cap < STUN_HEADER) { w->overflow = true; return; }
    wr16(w->p, type); wr16(w->p + 2, 0); wr32(w->p + 4, STUN_COOKIE);
    memcpy(w->p + 8, tid, 12);
    w->len = STUN_HEADER;
}

static size_t finish(wbuf *w, const uint8_t *key, size_t key_len) {
    if (key) {
        size_t mi_off = w->len;
        uint8_t *v = attr_begin(w, ATTR_MESSAGE_INTEGRITY, 20);
        if (!v || integrity_hmac(w->p, mi_off, key, key_len, v) < 0) return 0;
    }
    size_t fp_off = w->len;
    uint8_t *v = attr_begin(w, ATTR_FINGERPRINT, 4);
    if (!v) return 0;
    wr32(v, stun_crc(w->p, fp_off));
    return w->overflow ? 0 : w->len;
}

size_t stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t tid[12],
                                  const struct sockaddr *mapped, const uint8_t *key, size_t key_len) {
    wbuf w = { out, cap, 0, false };
    header(&w, STUN_BINDING_SUCCESS, tid);
    if (mapped->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)mapped;
        uint8_t *v = attr_begin(&w, ATTR_XOR_MAPPED_ADDRESS, 8);
        if (!v) return 0;
        v[1] = 1;
        wr16(v + 2, ntohs(sin->sin_port) ^ (uint16_t)(STUN_COOKIE >> 16));
        wr32(v + 4, ntohl(sin->sin_addr.s_addr) ^ STUN_COOKIE);
    } else if (mapped->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)mapped;
        uint8_t *v = attr_begin(&w, ATTR_XOR_MAPPED_ADDRESS, 20);
        if (!v) return 0;
        v[1] = 2;
        wr16(v + 2, ntohs(sin6->sin6_port) ^ (uint16_t)(STUN_COOKIE >> 16));
        for (int i = 0; i < 16; i++) v[4 + i] = sin6->sin6_addr.s6_addr[i] ^ out[4 + i];
    } else {
        return 0;
    }
    return finish(&w, key, key_len);
}

size_t stun_build_error(uint8_t *out, size_t cap, const uint8_t tid[12], uint16_t code,
                        const char *reason) {
    wbuf w = { out, cap, 0, false };
    header(&w, STUN_BINDING_ERROR, tid);
    size_t rlen = strlen(reason);
    uint8_t *v = attr_begin(&w, ATTR_ERROR_CODE, 4 + rlen);
    if (!v) return 0;
    v[2] = (uint8_t)(code / 100); v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rlen);
    return finish(&w, NULL, 0);
}

size_t stun_build_binding_request(uint8_t *out, size_t cap, const uint8_t tid[12],
                                  const char *username, uint32_t priority, bool nominate,
                                  const uint8_t *key, size_t key_len) {
    wbuf w = { out, cap, 0, false };
    header(&w, STUN_BINDING_REQUEST, tid);
    size_t ulen = strlen(username);
    if (ulen == 0 || ulen > STUN_MAX_USERNAME) return 0;
    uint8_t *v = attr_begin(&w, ATTR_USERNAME, ulen);
    if (!v) return 0;
    memcpy(v, username, ulen);
    if (!(v = attr_begin(&w, ATTR_PRIORITY, 4))) return 0;
    wr32(v, priority);
    if (!(v = attr_begin(&w, ATTR_ICE_CONTROLLING, 8))) return 0;
    memcpy(v, tid, 8); /* tie-breaker: any 64 bits; an ICE-lite peer never compares */
    if (nominate && !attr_begin(&w, ATTR_USE_CANDIDATE, 0)) return 0;
    return finish(&w, key, key_len);
}
