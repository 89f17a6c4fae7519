/*
 * sc_identity.c: a device's keys for secret chats (see secret_crypto.h): the long-term
 * identity, the signed prekey, one-time prekeys, and the prekey bundle the server hands out
 * (its encoding, parser and verification).
 *
 * The identity is one Ed25519 key pair used for both jobs X3DH gives the identity key: it
 * signs the prekey and, converted to X25519 with libsodium's birational map (RFC 7748's map
 * between the curves), takes part in DH1/DH2. The X3DH spec keeps the key in X25519 form and
 * signs with XEdDSA, which libsodium does not provide; keeping it in Ed25519 form and
 * converting it for DH instead (as OMEMO does) gives the same single key with standard
 * RFC 8032 signatures. The device keeps the secret half; only sign_pk is ever published.
 *
 * Memory: all structs are the caller's; the *_wipe functions zero them.
 */
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

static int identity_finish(sc_identity *out)
{
    if (crypto_sign_ed25519_pk_to_curve25519(out->dh_pk, out->sign_pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(out->dh_sk, out->sign_sk) != 0) {
        sc_identity_wipe(out);
        return SC_E_CRYPTO;
    }
    return SC_OK;
}

int sc_identity_generate(sc_identity *out)
{
    if (!out)
        return SC_E_ARG;
    if (crypto_sign_keypair(out->sign_pk, out->sign_sk) != 0)
        return SC_E_CRYPTO;
    return identity_finish(out);
}

int sc_identity_from_seed(sc_identity *out, const uint8_t seed[SC_KEY])
{
    if (!out || !seed)
        return SC_E_ARG;
    if (crypto_sign_seed_keypair(out->sign_pk, out->sign_sk, seed) != 0)
        return SC_E_CRYPTO;
    return identity_finish(out);
}

void sc_identity_wipe(sc_identity *id)
{
    if (id)
        sodium_memzero(id, sizeof(*id));
}

/* What the identity signs for a signed prekey: label || id || pk. The label keeps the
 * signature from meaning anything in another context; the id ties key and id together. */
#define SPK_MSG_LEN (sizeof(SC_LABEL_SPK) - 1 + 4 + SC_KEY)
static void spk_message(uint32_t id, const uint8_t pk[SC_KEY], uint8_t msg[SPK_MSG_LEN])
{
    memcpy(msg, SC_LABEL_SPK, sizeof(SC_LABEL_SPK) - 1);
    sc_put32(msg + sizeof(SC_LABEL_SPK) - 1, id);
    memcpy(msg + sizeof(SC_LABEL_SPK) - 1 + 4, pk, SC_KEY);
}

int sc_signed_prekey_generate(const sc_identity *ik, uint32_t id, sc_signed_prekey *out)
{
    if (!ik || !out)
        return SC_E_ARG;
    out->id = id;
    if (crypto_box_keypair(out->pk, out->sk) != 0)
        return SC_E_CRYPTO;
    uint8_t msg[SPK_MSG_LEN];
    spk_message(id, out->pk, msg);
    if (crypto_sign_detached(out->sig, NULL, msg, sizeof(msg), ik->sign_sk) != 0) {
        sc_signed_prekey_wipe(out);
        return SC_E_CRYPTO;
    }
    return SC_OK;
}

void sc_signed_prekey_wipe(sc_signed_prekey *spk)
{
    if (spk)
        sodium_memzero(spk, sizeof(*spk));
}

int sc_onetime_prekeys_generate(uint32_t first_id, size_t n, sc_onetime_prekey *out)
{
    if (!out || n == 0 || n - 1 > UINT32_MAX - first_id)
        return SC_E_ARG;
    for (size_t i = 0; i < n; i++) {
        out[i].id = first_id + (uint32_t)i;
        if (crypto_box_keypair(out[i].pk, out[i].sk) != 0) {
            sc_onetime_prekeys_wipe(out, i + 1);
            return SC_E_CRYPTO;
        }
    }
    return SC_OK;
}

void sc_onetime_prekeys_wipe(sc_onetime_prekey *opk, size_t n)
{
    if (opk && n)
        sodium_memzero(opk, n * sizeof(*opk));
}

int sc_bundle_make(const sc_device *dev, const sc_identity *ik, const sc_signed_prekey *spk,
                   const sc_onetime_prekey *opk, sc_bundle *out)
{
    if (!dev || !ik || !spk || !out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    out->device = *dev;
    memcpy(out->ik, ik->sign_pk, SC_KEY);
    out->spk_id = spk->id;
    memcpy(out->spk, spk->pk, SC_KEY);
    memcpy(out->spk_sig, spk->sig, SC_SIG);
    if (opk) {
        out->has_opk = 1;
        out->opk_id = opk->id;
        memcpy(out->opk, opk->pk, SC_KEY);
    }
    return SC_OK;
}

#define BUNDLE_VERSION 1
#define BUNDLE_F_OPK 0x01

int sc_bundle_encode(const sc_bundle *b, uint8_t *buf, size_t cap, size_t *len)
{
    size_t need = b && b->has_opk ? SC_BUNDLE_MAX : SC_BUNDLE_MIN;
    if (!b || !buf || !len || cap < need)
        return SC_E_ARG;
    uint8_t *p = buf;
    *p++ = BUNDLE_VERSION;
    *p++ = b->has_opk ? BUNDLE_F_OPK : 0;
    sc_put64(p, (uint64_t)b->device.user_id);
    sc_put64(p + 8, (uint64_t)b->device.device_id);
    p += 16;
    memcpy(p, b->ik, SC_KEY);
    p += SC_KEY;
    sc_put32(p, b->spk_id);
    p += 4;
    memcpy(p, b->spk, SC_KEY);
    p += SC_KEY;
    memcpy(p, b->spk_sig, SC_SIG);
    p += SC_SIG;
    if (b->has_opk) {
        sc_put32(p, b->opk_id);
        memcpy(p + 4, b->opk, SC_KEY);
        p += 4 + SC_KEY;
    }
    *len = (size_t)(p - buf);
    return SC_OK;
}

int sc_bundle_parse(const uint8_t *buf, size_t len, sc_bundle *out)
{
    if (!buf || !out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    if (len < SC_BUNDLE_MIN || buf[0] != BUNDLE_VERSION || (buf[1] & ~BUNDLE_F_OPK))
        return SC_E_MALFORMED;
    int has_opk = buf[1] & BUNDLE_F_OPK;
    if (len != (has_opk ? SC_BUNDLE_MAX : SC_BUNDLE_MIN))
        return SC_E_MALFORMED;
    const uint8_t *p = buf + 2;
    out->device.user_id = (int64_t)sc_get64(p);
    out->device.device_id = (int64_t)sc_get64(p + 8);
    p += 16;
    memcpy(out->ik, p, SC_KEY);
    p += SC_KEY;
    out->spk_id = sc_get32(p);
    p += 4;
    memcpy(out->spk, p, SC_KEY);
    p += SC_KEY;
    memcpy(out->spk_sig, p, SC_SIG);
    p += SC_SIG;
    if (has_opk) {
        out->has_opk = 1;
        out->opk_id = sc_get32(p);
        memcpy(out->opk, p + 4, SC_KEY);
    }
    return SC_OK;
}

/* A low-order X25519 public key gives the all-zero output for every (clamped) scalar, so one
 * multiplication by any fixed scalar detects it before the key is used or stored. */
static int x25519_pk_ok(const uint8_t pk[SC_KEY])
{
    static const uint8_t probe[SC_KEY] = { 0x42 };
    uint8_t out[SC_KEY];
    int rc = sc_dh(probe, pk, out);
    sodium_memzero(out, sizeof(out));
    return rc == SC_OK;
}

int sc_bundle_verify(const sc_bundle *b)
{
    if (!b)
        return SC_E_ARG;
    uint8_t ik_dh[SC_KEY];
    /* is_valid_point rejects non-canonical encodings and small-order points. */
    if (!crypto_core_ed25519_is_valid_point(b->ik) ||
        crypto_sign_ed25519_pk_to_curve25519(ik_dh, b->ik) != 0)
        return SC_E_BADKEY;
    uint8_t msg[SPK_MSG_LEN];
    spk_message(b->spk_id, b->spk, msg);
    if (crypto_sign_verify_detached(b->spk_sig, msg, sizeof(msg), b->ik) != 0)
        return SC_E_BADKEY;
    if (!x25519_pk_ok(ik_dh) || !x25519_pk_ok(b->spk) || (b->has_opk && !x25519_pk_ok(b->opk)))
        return SC_E_BADKEY;
    return SC_OK;
}
