/*
 * sc_ratchet.c: the Double Ratchet (Signal's specification, the basic variant: header in the
 * clear but authenticated) on an sc_session, with transactional encrypt and decrypt: both work
 * on a deep copy of the input state and hand it back only on success, so a failed decrypt
 * (replay, reflection, truncation, flipped bit, wrong session) leaves no trace.
 *
 * AEAD: XChaCha20-Poly1305 (libsodium, crypto_aead_xchacha20poly1305_ietf) with the message
 * key as key and a random 192-bit nonce carried in the envelope. Each message key is used for
 * one message, but a state rolled back by a crash (or a restored backup) can derive the same
 * message key again; a random nonce that long makes even that reuse safe (no repeated
 * keystream or Poly1305 key), which a 96-bit nonce derived from the key could not.
 * Associated data of every message: session AD || sender's role byte || envelope header
 * (everything before the ciphertext, nonce included). The role byte makes a reflected message
 * (our own, fed back to us) fail; the session AD binds both identity keys and both devices.
 *
 * Skipped message keys: at most SC_MAX_SKIP per chain step, at most SC_MAX_SKIPPED_TOTAL
 * stored (the oldest are dropped, with a wipe, when more arrive).
 *
 * Memory: an sc_session owns `skipped` (cap_skipped entries, malloc'ed). Grown by allocating
 * a new array and wiping the old one (realloc could leave unwiped key copies behind).
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

#define AEAD_AD_MAX (SC_AD_LEN + 1 + SC_ENV_HEADER_PREKEY)

int sc_session_copy(sc_session *dst, const sc_session *src)
{
    if (!dst || !src)
        return SC_E_ARG;
    *dst = *src;
    dst->skipped = NULL;
    dst->cap_skipped = 0;
    if (src->n_skipped) {
        dst->skipped = malloc(src->n_skipped * sizeof(sc_skipped));
        if (!dst->skipped) {
            sodium_memzero(dst, sizeof(*dst));
            return SC_E_NOMEM;
        }
        memcpy(dst->skipped, src->skipped, src->n_skipped * sizeof(sc_skipped));
        dst->cap_skipped = src->n_skipped;
    }
    return SC_OK;
}

void sc_session_free(sc_session *s)
{
    if (!s)
        return;
    if (s->skipped) {
        sodium_memzero(s->skipped, s->cap_skipped * sizeof(sc_skipped));
        free(s->skipped);
    }
    sodium_memzero(s, sizeof(*s));
}

/* Makes room for `add` more skipped keys: drops the oldest beyond the total cap, grows the
 * array if needed. */
static int skipped_reserve(sc_session *s, uint32_t add)
{
    if (add > SC_MAX_SKIPPED_TOTAL)
        return SC_E_ARG;
    if (s->n_skipped + add > SC_MAX_SKIPPED_TOTAL) {
        uint32_t drop = s->n_skipped + add - SC_MAX_SKIPPED_TOTAL;
        sodium_memzero(s->skipped, drop * sizeof(sc_skipped));
        memmove(s->skipped, s->skipped + drop, (s->n_skipped - drop) * sizeof(sc_skipped));
        s->n_skipped -= drop;
        sodium_memzero(s->skipped + s->n_skipped, drop * sizeof(sc_skipped));
    }
    if (s->n_skipped + add <= s->cap_skipped)
        return SC_OK;
    uint32_t cap = s->cap_skipped ? s->cap_skipped : 16;
    while (cap < s->n_skipped + add)
        cap *= 2;
    if (cap > SC_MAX_SKIPPED_TOTAL)
        cap = SC_MAX_SKIPPED_TOTAL;
    sc_skipped *a = malloc(cap * sizeof(sc_skipped));
    if (!a)
        return SC_E_NOMEM;
    if (s->skipped) {
        memcpy(a, s->skipped, s->n_skipped * sizeof(sc_skipped));
        sodium_memzero(s->skipped, s->cap_skipped * sizeof(sc_skipped));
        free(s->skipped);
    }
    s->skipped = a;
    s->cap_skipped = cap;
    return SC_OK;
}

/* Spec SkipMessageKeys: stores the receiving chain's keys nr..until-1. */
static int skip_keys(sc_session *s, uint32_t until)
{
    if (!(s->flags & SC_F_HAS_CKR) || until <= s->nr)
        return SC_OK;
    if (until - s->nr > SC_MAX_SKIP)
        return SC_E_SKIP;
    int rc = skipped_reserve(s, until - s->nr);
    while (rc == SC_OK && s->nr < until) {
        sc_skipped *e = &s->skipped[s->n_skipped];
        memcpy(e->dh, s->dhr, SC_KEY);
        e->n = s->nr;
        rc = sc_kdf_ck(s->ckr, s->ckr, e->mk);
        if (rc == SC_OK) {
            s->n_skipped++;
            s->nr++;
        }
    }
    return rc;
}

/* Spec DHRatchet: a new ratchet key from the peer. */
static int dh_ratchet(sc_session *s, const uint8_t peer_dh[SC_KEY])
{
    uint8_t dh[SC_KEY];
    s->pn = s->ns;
    s->ns = 0;
    s->nr = 0;
    memcpy(s->dhr, peer_dh, SC_KEY);
    int rc = sc_dh(s->dhs_sk, s->dhr, dh);
    if (rc == SC_OK)
        rc = sc_kdf_rk(s->rk, dh, s->rk, s->ckr);
    if (rc == SC_OK && crypto_box_keypair(s->dhs_pk, s->dhs_sk) != 0)
        rc = SC_E_CRYPTO;
    if (rc == SC_OK)
        rc = sc_dh(s->dhs_sk, s->dhr, dh);
    if (rc == SC_OK)
        rc = sc_kdf_rk(s->rk, dh, s->rk, s->cks);
    s->flags |= SC_F_HAS_DHR | SC_F_HAS_CKR | SC_F_HAS_CKS;
    sodium_memzero(dh, sizeof(dh));
    return rc;
}

static size_t aead_ad(const sc_session *s, uint8_t sender_role, const uint8_t *hdr,
                      size_t hdr_len, uint8_t out[AEAD_AD_MAX])
{
    memcpy(out, s->ad, SC_AD_LEN);
    out[SC_AD_LEN] = sender_role;
    memcpy(out + SC_AD_LEN + 1, hdr, hdr_len);
    return SC_AD_LEN + 1 + hdr_len;
}

int sc_ratchet_encrypt(const sc_session *in, sc_session *out, const uint8_t *pt, size_t pt_len,
                       uint8_t *env, size_t env_cap, size_t *env_len)
{
    if (!in || !out || (pt_len && !pt) || !env || !env_len)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    if (pt_len > SC_MAX_PLAINTEXT)
        return SC_E_TOO_BIG;
    if (!(in->flags & SC_F_HAS_CKS))
        return SC_E_ARG;   /* a responder session before its first message: nothing to send */
    sc_session w;
    int rc = sc_session_copy(&w, in);
    if (rc != SC_OK)
        return rc;
    sc_envelope h;
    memset(&h, 0, sizeof(h));
    h.type = (w.flags & SC_F_PREKEY) ? SC_MSG_PREKEY : SC_MSG_NORMAL;
    if (h.type == SC_MSG_PREKEY) {
        memcpy(h.ik, w.ad, SC_KEY);        /* the initiator's own identity key */
        memcpy(h.ek, w.pre_ek, SC_KEY);
        h.spk_id = w.pre_spk_id;
        h.has_opk = (w.flags & SC_F_HAS_OPK) != 0;
        h.opk_id = w.pre_opk_id;
    }
    memcpy(h.dh, w.dhs_pk, SC_KEY);
    h.pn = w.pn;
    h.n = w.ns;
    randombytes_buf(h.nonce, SC_NONCE);
    size_t hdr_len = 0;
    uint8_t mk[SC_KEY], ad[AEAD_AD_MAX];
    rc = sc_envelope_encode_header(&h, env, env_cap, &hdr_len);
    if (rc == SC_OK && env_cap - hdr_len < pt_len + SC_TAG)
        rc = SC_E_ARG;
    if (rc == SC_OK && w.ns == UINT32_MAX)
        rc = SC_E_ARG;   /* a chain that long never happens; refuse rather than wrap */
    if (rc == SC_OK)
        rc = sc_kdf_ck(w.cks, w.cks, mk);
    if (rc == SC_OK) {
        size_t ad_len = aead_ad(&w, w.role, env, hdr_len, ad);
        unsigned long long clen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(env + hdr_len, &clen, pt, pt_len, ad,
                                                       ad_len, NULL, h.nonce, mk) != 0)
            rc = SC_E_CRYPTO;
        *env_len = hdr_len + (size_t)clen;
    }
    sodium_memzero(mk, sizeof(mk));
    if (rc != SC_OK) {
        sc_session_free(&w);
        return rc;
    }
    w.ns++;
    if (w.role == SC_ROLE_RESPONDER)
        w.flags |= SC_F_SENT;
    *out = w;
    return SC_OK;
}

/* Which message types this session accepts: the initiator only normal ones; the responder
 * prekey messages of its own set-up (the initiator repeats the X3DH fields until it hears
 * back, and those may arrive late), and normal ones only once it has sent something (before
 * that the initiator cannot have switched to normal messages). */
static int check_type(const sc_session *s, const sc_envelope *e)
{
    if (s->role == SC_ROLE_INITIATOR)
        return e->type == SC_MSG_NORMAL ? SC_OK : SC_E_TYPE;
    if (e->type == SC_MSG_NORMAL)
        return (s->flags & SC_F_SENT) ? SC_OK : SC_E_TYPE;
    int has_opk = (s->flags & SC_F_HAS_OPK) != 0;
    if (sodium_memcmp(e->ik, s->ad, SC_KEY) != 0 || sodium_memcmp(e->ek, s->pre_ek, SC_KEY) != 0 ||
        e->spk_id != s->pre_spk_id || e->has_opk != has_opk || e->opk_id != s->pre_opk_id)
        return SC_E_TYPE;
    return SC_OK;
}

int sc_session_is_setup_of(const sc_session *s, const sc_envelope *env)
{
    return s && env && s->role == SC_ROLE_RESPONDER && env->type == SC_MSG_PREKEY &&
           check_type(s, env) == SC_OK;
}

/* The message key for e, advancing w (a working copy) as the spec's RatchetDecrypt does. */
static int message_key(sc_session *w, const sc_envelope *e, uint8_t mk[SC_KEY])
{
    for (uint32_t i = 0; i < w->n_skipped; i++) {
        sc_skipped *k = &w->skipped[i];
        if (k->n == e->n && sodium_memcmp(k->dh, e->dh, SC_KEY) == 0) {
            memcpy(mk, k->mk, SC_KEY);
            sodium_memzero(k, sizeof(*k));
            memmove(k, k + 1, (w->n_skipped - i - 1) * sizeof(*k));
            w->n_skipped--;
            sodium_memzero(&w->skipped[w->n_skipped], sizeof(*k));
            return SC_OK;
        }
    }
    int rc = SC_OK;
    int same_chain = (w->flags & SC_F_HAS_DHR) && sodium_memcmp(e->dh, w->dhr, SC_KEY) == 0;
    if (same_chain && (w->flags & SC_F_HAS_CKR) && e->n < w->nr)
        return SC_E_REPLAY;   /* consumed, and not among the skipped keys */
    if (!same_chain) {
        rc = skip_keys(w, e->pn);
        if (rc == SC_OK)
            rc = dh_ratchet(w, e->dh);
    }
    if (rc == SC_OK)
        rc = skip_keys(w, e->n);
    if (rc == SC_OK && e->n == UINT32_MAX)
        rc = SC_E_MALFORMED;
    if (rc == SC_OK)
        rc = sc_kdf_ck(w->ckr, w->ckr, mk);
    if (rc == SC_OK)
        w->nr = e->n + 1;
    return rc;
}

int sc_ratchet_decrypt(const sc_session *in, sc_session *out, const uint8_t *env,
                       size_t env_len, uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    if (!in || !out || !env || !pt || !pt_len)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    sc_envelope e;
    int rc = sc_envelope_parse(env, env_len, &e);
    if (rc != SC_OK)
        return rc;
    if (pt_cap < e.ct_len - SC_TAG)
        return SC_E_ARG;
    rc = check_type(in, &e);
    if (rc != SC_OK)
        return rc;
    sc_session w;
    rc = sc_session_copy(&w, in);
    if (rc != SC_OK)
        return rc;
    uint8_t mk[SC_KEY], ad[AEAD_AD_MAX];
    rc = message_key(&w, &e, mk);
    if (rc == SC_OK) {
        uint8_t peer_role = w.role == SC_ROLE_INITIATOR ? SC_ROLE_RESPONDER : SC_ROLE_INITIATOR;
        size_t ad_len = aead_ad(&w, peer_role, env, e.header_len, ad);
        unsigned long long plen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, e.ct, e.ct_len, ad,
                                                       ad_len, e.nonce, mk) != 0)
            rc = SC_E_AUTH;
        *pt_len = (size_t)plen;
    }
    sodium_memzero(mk, sizeof(mk));
    if (rc != SC_OK) {
        sodium_memzero(pt, e.ct_len - SC_TAG);
        *pt_len = 0;
        sc_session_free(&w);
        return rc;
    }
    /* The peer has our reply: no more prekey messages from us. */
    w.flags &= (uint8_t)~SC_F_PREKEY;
    *out = w;
    return SC_OK;
}

int sc_session_accept(const sc_identity *ik, const sc_signed_prekey *spk,
                      const sc_onetime_prekey *opk, const sc_device *self,
                      const sc_device *peer, const uint8_t *env, size_t env_len,
                      sc_session *out, uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    if (!out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    sc_envelope e;
    int rc = sc_envelope_parse(env, env_len, &e);
    if (rc != SC_OK)
        return rc;
    if (e.type != SC_MSG_PREKEY)
        return SC_E_TYPE;
    sc_session fresh;
    rc = sc_x3dh_respond(ik, spk, opk, self, peer, &e, &fresh);
    if (rc != SC_OK)
        return rc;
    rc = sc_ratchet_decrypt(&fresh, out, env, env_len, pt, pt_cap, pt_len);
    sc_session_free(&fresh);
    return rc;
}
