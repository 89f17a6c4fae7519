/*
 * sc_x3dh.c: X3DH session set-up (Signal's X3DH specification) for secret chats, and the
 * Double Ratchet's initialisation from its result (Double Ratchet spec section 3.3).
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
 *   AD  = IK_A || IK_B || A.user_id || A.device_id || B.user_id || B.device_id
 *   SK  = HKDF-SHA-256(salt = 32 zero bytes, ikm = 32 x 0xFF || DH1 || DH2 || DH3 [|| DH4],
 *                      info = "parley/x3dh/v1" || AD)
 * IK_* are the Ed25519 identity keys as published (their X25519 forms do the DH). Putting the
 * AD in the info string as well as in every message's AEAD data binds SK itself to both
 * devices: a session for (A, B) can never agree with one for (A, C).
 *
 * The initiator's first ratchet key pair is fresh (not EK_A); the responder's is its signed
 * prekey, so the responder's first DH ratchet step pairs with the initiator's first chain.
 *
 * Memory: the sessions made here own a (still empty) skipped-key array: sc_session_free.
 * Every intermediate secret (EK_A's secret, DH outputs, SK) is wiped before returning.
 */
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

#define X3DH_F_LEN 32
#define X3DH_IKM_MAX (X3DH_F_LEN + 4 * SC_KEY)

static void make_ad(const uint8_t ik_a[SC_KEY], const uint8_t ik_b[SC_KEY], const sc_device *a,
                    const sc_device *b, uint8_t ad[SC_AD_LEN])
{
    memcpy(ad, ik_a, SC_KEY);
    memcpy(ad + SC_KEY, ik_b, SC_KEY);
    sc_put64(ad + 2 * SC_KEY, (uint64_t)a->user_id);
    sc_put64(ad + 2 * SC_KEY + 8, (uint64_t)a->device_id);
    sc_put64(ad + 2 * SC_KEY + 16, (uint64_t)b->user_id);
    sc_put64(ad + 2 * SC_KEY + 24, (uint64_t)b->device_id);
}

/* ikm holds F || DH1..DH3 [|| DH4], ikm_len bytes; SK out. */
static int derive_sk(const uint8_t *ikm, size_t ikm_len, const uint8_t ad[SC_AD_LEN],
                     uint8_t sk[SC_KEY])
{
    uint8_t info[sizeof(SC_LABEL_X3DH) - 1 + SC_AD_LEN];
    memcpy(info, SC_LABEL_X3DH, sizeof(SC_LABEL_X3DH) - 1);
    memcpy(info + sizeof(SC_LABEL_X3DH) - 1, ad, SC_AD_LEN);
    return sc_hkdf_sha256(NULL, 0, ikm, ikm_len, info, sizeof(info), sk, SC_KEY);
}

/* The X25519 form of a published Ed25519 identity key; rejects invalid and small-order
 * points (crypto_core_ed25519_is_valid_point) before converting. */
static int ik_to_x25519(const uint8_t ik[SC_KEY], uint8_t out[SC_KEY])
{
    if (!crypto_core_ed25519_is_valid_point(ik) ||
        crypto_sign_ed25519_pk_to_curve25519(out, ik) != 0)
        return SC_E_BADKEY;
    return SC_OK;
}

/* An empty session of that role; its skipped array is allocated when first needed. */
static void session_init(sc_session *s, uint8_t role, const uint8_t ad[SC_AD_LEN])
{
    memset(s, 0, sizeof(*s));
    s->role = role;
    memcpy(s->ad, ad, SC_AD_LEN);
}

int sc_x3dh_initiate(const sc_identity *ik, const sc_device *self, const sc_bundle *peer,
                     sc_session *out)
{
    if (!ik || !self || !peer || !out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    int rc = sc_bundle_verify(peer);
    if (rc != SC_OK)
        return rc;
    uint8_t ik_b[SC_KEY], ek_pk[SC_KEY], ek_sk[SC_KEY], ikm[X3DH_IKM_MAX], sk[SC_KEY];
    uint8_t ad[SC_AD_LEN], dh[SC_KEY];
    sc_session s;
    memset(&s, 0, sizeof(s));
    size_t ikm_len = X3DH_F_LEN + 3 * SC_KEY;
    memset(ikm, 0xFF, X3DH_F_LEN);
    rc = ik_to_x25519(peer->ik, ik_b);
    if (rc == SC_OK && crypto_box_keypair(ek_pk, ek_sk) != 0)
        rc = SC_E_CRYPTO;
    if (rc == SC_OK)
        rc = sc_dh(ik->dh_sk, peer->spk, ikm + X3DH_F_LEN);
    if (rc == SC_OK)
        rc = sc_dh(ek_sk, ik_b, ikm + X3DH_F_LEN + SC_KEY);
    if (rc == SC_OK)
        rc = sc_dh(ek_sk, peer->spk, ikm + X3DH_F_LEN + 2 * SC_KEY);
    if (rc == SC_OK && peer->has_opk) {
        rc = sc_dh(ek_sk, peer->opk, ikm + ikm_len);
        ikm_len += SC_KEY;
    }
    if (rc == SC_OK) {
        make_ad(ik->sign_pk, peer->ik, self, &peer->device, ad);
        rc = derive_sk(ikm, ikm_len, ad, sk);
    }
    /* Ratchet init (initiator): a fresh ratchet key, DHr = SPK_B, one KDF_RK step. */
    if (rc == SC_OK) {
        session_init(&s, SC_ROLE_INITIATOR, ad);
        if (crypto_box_keypair(s.dhs_pk, s.dhs_sk) != 0)
            rc = SC_E_CRYPTO;
    }
    if (rc == SC_OK)
        rc = sc_dh(s.dhs_sk, peer->spk, dh);
    if (rc == SC_OK)
        rc = sc_kdf_rk(sk, dh, s.rk, s.cks);
    if (rc == SC_OK) {
        memcpy(s.dhr, peer->spk, SC_KEY);
        memcpy(s.pre_ek, ek_pk, SC_KEY);
        s.pre_spk_id = peer->spk_id;
        s.pre_opk_id = peer->has_opk ? peer->opk_id : 0;
        s.flags = SC_F_HAS_DHR | SC_F_HAS_CKS | SC_F_PREKEY | (peer->has_opk ? SC_F_HAS_OPK : 0);
        *out = s;
    } else {
        sc_session_free(&s);
    }
    sodium_memzero(ek_sk, sizeof(ek_sk));
    sodium_memzero(ikm, sizeof(ikm));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(dh, sizeof(dh));
    return rc;
}

int sc_x3dh_respond(const sc_identity *ik, const sc_signed_prekey *spk,
                    const sc_onetime_prekey *opk, const sc_device *self, const sc_device *peer,
                    const sc_envelope *env, sc_session *out)
{
    if (!ik || !spk || !self || !peer || !env || !out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    if (env->type != SC_MSG_PREKEY)
        return SC_E_TYPE;
    /* The caller looks the prekeys up by the ids in the message; wrong ones are its bug. */
    if (spk->id != env->spk_id || (env->has_opk ? !opk || opk->id != env->opk_id : opk != NULL))
        return SC_E_ARG;
    uint8_t ik_a[SC_KEY], ikm[X3DH_IKM_MAX], sk[SC_KEY], ad[SC_AD_LEN];
    size_t ikm_len = X3DH_F_LEN + 3 * SC_KEY;
    memset(ikm, 0xFF, X3DH_F_LEN);
    int rc = ik_to_x25519(env->ik, ik_a);
    if (rc == SC_OK)
        rc = sc_dh(spk->sk, ik_a, ikm + X3DH_F_LEN);
    if (rc == SC_OK)
        rc = sc_dh(ik->dh_sk, env->ek, ikm + X3DH_F_LEN + SC_KEY);
    if (rc == SC_OK)
        rc = sc_dh(spk->sk, env->ek, ikm + X3DH_F_LEN + 2 * SC_KEY);
    if (rc == SC_OK && opk) {
        rc = sc_dh(opk->sk, env->ek, ikm + ikm_len);
        ikm_len += SC_KEY;
    }
    if (rc == SC_OK) {
        make_ad(env->ik, ik->sign_pk, peer, self, ad);
        rc = derive_sk(ikm, ikm_len, ad, sk);
    }
    if (rc == SC_OK) {
        /* Ratchet init (responder): DHs = the signed prekey pair, RK = SK, no chains yet;
         * the first message's new ratchet key triggers the first DH ratchet step. */
        session_init(out, SC_ROLE_RESPONDER, ad);
        memcpy(out->dhs_pk, spk->pk, SC_KEY);
        memcpy(out->dhs_sk, spk->sk, SC_KEY);
        memcpy(out->rk, sk, SC_KEY);
        memcpy(out->pre_ek, env->ek, SC_KEY);
        out->pre_spk_id = env->spk_id;
        out->pre_opk_id = env->has_opk ? env->opk_id : 0;
        out->flags = env->has_opk ? SC_F_HAS_OPK : 0;
    }
    sodium_memzero(ikm, sizeof(ikm));
    sodium_memzero(sk, sizeof(sk));
    return rc;
}

const uint8_t *sc_session_peer_ik(const sc_session *s)
{
    return s->role == SC_ROLE_INITIATOR ? s->ad + SC_KEY : s->ad;
}

const uint8_t *sc_session_own_ik(const sc_session *s)
{
    return s->role == SC_ROLE_INITIATOR ? s->ad : s->ad + SC_KEY;
}

static sc_device ad_device(const sc_session *s, int second)
{
    const uint8_t *p = s->ad + 2 * SC_KEY + (second ? 16 : 0);
    sc_device d = { (int64_t)sc_get64(p), (int64_t)sc_get64(p + 8) };
    return d;
}

sc_device sc_session_peer_device(const sc_session *s)
{
    return ad_device(s, s->role == SC_ROLE_INITIATOR);
}

sc_device sc_session_own_device(const sc_session *s)
{
    return ad_device(s, s->role != SC_ROLE_INITIATOR);
}
