/*
 * sc_kdf.c: the key derivations of secret chats (see secret_crypto.h), plus the small
 * helpers the other sc_*.c files share (X25519 with the zero check, big-endian integers,
 * sc_strerror).
 *
 * HKDF is OpenSSL's EVP_KDF "HKDF" rather than one built here on HMAC: libsodium 1.0.18
 * (Debian 12) has no HKDF, and OpenSSL's is a maintained, tested RFC 5869 implementation, so
 * no part of the construction is ours. HMAC-SHA-256 (KDF_CK) is libsodium's
 * crypto_auth_hmacsha256, which takes a key of any length. Every derivation has its own info
 * string or HMAC message (the SC_LABEL_* macros), so no two derive the same bytes.
 *
 * Memory: nothing is allocated that outlives a call; OpenSSL's KDF context is freed (and
 * cleanses its key material) before returning.
 */
#include <string.h>
#include <sodium.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "secret_crypto.h"

const char *sc_strerror(int code)
{
    switch (code) {
    case SC_OK: return "ok";
    case SC_E_ARG: return "invalid argument";
    case SC_E_MALFORMED: return "malformed input";
    case SC_E_TOO_BIG: return "message too big";
    case SC_E_AUTH: return "message authentication failed";
    case SC_E_REPLAY: return "message key already used (duplicate or replay)";
    case SC_E_SKIP: return "too many skipped messages";
    case SC_E_BADKEY: return "invalid key or signature";
    case SC_E_TYPE: return "unexpected message type";
    case SC_E_NOMEM: return "out of memory";
    case SC_E_CRYPTO: return "crypto library failure";
    default: return "unknown error";
    }
}

int sc_init(void)
{
    return sodium_init() < 0 ? SC_E_CRYPTO : SC_OK;
}

void sc_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t sc_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void sc_put64(uint8_t *p, uint64_t v)
{
    sc_put32(p, (uint32_t)(v >> 32));
    sc_put32(p + 4, (uint32_t)v);
}

uint64_t sc_get64(const uint8_t *p)
{
    return (uint64_t)sc_get32(p) << 32 | sc_get32(p + 4);
}

/* libsodium's crypto_scalarmult returns -1 when the result is all zeros, i.e. the peer's
 * key is one of the low-order points (RFC 7748 section 6.1's check). */
int sc_dh(const uint8_t sk[SC_KEY], const uint8_t pk[SC_KEY], uint8_t out[SC_KEY])
{
    if (crypto_scalarmult(out, sk, pk) != 0) {
        sodium_memzero(out, SC_KEY);
        return SC_E_BADKEY;
    }
    return SC_OK;
}

int sc_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    static const uint8_t zero_salt[32];
    if (!ikm || !out || out_len == 0 || out_len > 255 * 32 || (info_len && !info))
        return SC_E_ARG;
    if (!salt || salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof(zero_salt);
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return SC_E_CRYPTO;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return SC_E_CRYPTO;
    /* OpenSSL's params take non-const pointers but only read through them. */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(info ? info : zero_salt),
                                          info_len),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok) {
        sodium_memzero(out, out_len);
        return SC_E_CRYPTO;
    }
    return SC_OK;
}

int sc_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;
    if (!key || (msg_len && !msg) || !out)
        return SC_E_ARG;
    if (crypto_auth_hmacsha256_init(&st, key, key_len) != 0 ||
        crypto_auth_hmacsha256_update(&st, msg, msg_len) != 0 ||
        crypto_auth_hmacsha256_final(&st, out) != 0) {
        sodium_memzero(&st, sizeof(st));
        return SC_E_CRYPTO;
    }
    sodium_memzero(&st, sizeof(st));
    return SC_OK;
}

int sc_kdf_rk(const uint8_t rk[SC_KEY], const uint8_t dh_out[SC_KEY], uint8_t rk_out[SC_KEY],
              uint8_t ck_out[SC_KEY])
{
    uint8_t okm[2 * SC_KEY];
    int rc = sc_hkdf_sha256(rk, SC_KEY, dh_out, SC_KEY, (const uint8_t *)SC_LABEL_ROOT,
                            strlen(SC_LABEL_ROOT), okm, sizeof(okm));
    if (rc == SC_OK) {
        memcpy(rk_out, okm, SC_KEY);
        memcpy(ck_out, okm + SC_KEY, SC_KEY);
    }
    sodium_memzero(okm, sizeof(okm));
    return rc;
}

int sc_kdf_ck(const uint8_t ck[SC_KEY], uint8_t ck_out[SC_KEY], uint8_t mk_out[SC_KEY])
{
    uint8_t next[SC_KEY], mk[SC_KEY];
    int rc = sc_hmac_sha256(ck, SC_KEY, (const uint8_t *)SC_LABEL_MSG, strlen(SC_LABEL_MSG), mk);
    if (rc == SC_OK)
        rc = sc_hmac_sha256(ck, SC_KEY, (const uint8_t *)SC_LABEL_CHAIN, strlen(SC_LABEL_CHAIN),
                            next);
    if (rc == SC_OK) {
        memcpy(mk_out, mk, SC_KEY);
        memcpy(ck_out, next, SC_KEY);
    }
    sodium_memzero(next, sizeof(next));
    sodium_memzero(mk, sizeof(mk));
    return rc;
}
