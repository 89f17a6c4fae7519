/*
 * sc_session.c: the versioned binary encoding of an sc_session, for the device's local
 * database (the integrator encrypts it at rest). Layout in secret_crypto.h. The parser is a
 * fuzz target (tests/fuzz/fuzz_sc_session.c): it checks every length and count and the
 * consistency it can see, and never hands back a half-filled session.
 *
 * Memory: serialize writes into the caller's buffer (which then holds secrets: the caller
 * wipes it); parse fills a new session that owns its skipped array (sc_session_free).
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

#define STATE_MAGIC "PSCS"
#define STATE_VERSION 1

size_t sc_session_serialized_size(const sc_session *s)
{
    return SC_STATE_FIXED + (size_t)s->n_skipped * SC_STATE_ENTRY;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

int sc_session_serialize(const sc_session *s, uint8_t *buf, size_t cap, size_t *len)
{
    if (!s || !buf || !len || s->n_skipped > SC_MAX_SKIPPED_TOTAL ||
        cap < sc_session_serialized_size(s))
        return SC_E_ARG;
    uint8_t *p = put(buf, STATE_MAGIC, 4);
    *p++ = STATE_VERSION;
    *p++ = s->role;
    *p++ = s->flags;
    p = put(p, s->ad, SC_AD_LEN);
    p = put(p, s->dhs_pk, SC_KEY);
    p = put(p, s->dhs_sk, SC_KEY);
    p = put(p, s->dhr, SC_KEY);
    p = put(p, s->rk, SC_KEY);
    p = put(p, s->cks, SC_KEY);
    p = put(p, s->ckr, SC_KEY);
    sc_put32(p, s->ns);
    sc_put32(p + 4, s->nr);
    sc_put32(p + 8, s->pn);
    p = put(p + 12, s->pre_ek, SC_KEY);
    sc_put32(p, s->pre_spk_id);
    sc_put32(p + 4, s->pre_opk_id);
    sc_put32(p + 8, s->n_skipped);
    p += 12;
    for (uint32_t i = 0; i < s->n_skipped; i++) {
        p = put(p, s->skipped[i].dh, SC_KEY);
        sc_put32(p, s->skipped[i].n);
        p = put(p + 4, s->skipped[i].mk, SC_KEY);
    }
    *len = (size_t)(p - buf);
    return SC_OK;
}

/* What a real session always satisfies; anything else is corruption or forgery. */
static int consistent(const sc_session *s)
{
    if (s->role != SC_ROLE_INITIATOR && s->role != SC_ROLE_RESPONDER)
        return 0;
    if (s->flags & ~SC_F_ALL)
        return 0;
    uint8_t f = s->flags;
    if (s->role == SC_ROLE_INITIATOR) {
        if (!(f & SC_F_HAS_DHR) || !(f & SC_F_HAS_CKS) || (f & SC_F_SENT))
            return 0;
    } else {
        if (f & SC_F_PREKEY)
            return 0;
        /* a responder gets its chains and DHr all at once, from the first message */
        uint8_t chains = f & (SC_F_HAS_DHR | SC_F_HAS_CKS | SC_F_HAS_CKR);
        if (chains != 0 && chains != (SC_F_HAS_DHR | SC_F_HAS_CKS | SC_F_HAS_CKR))
            return 0;
        if ((f & SC_F_SENT) && !(f & SC_F_HAS_CKS))
            return 0;
    }
    if (!(f & SC_F_HAS_OPK) && s->pre_opk_id != 0)
        return 0;
    if (!(f & SC_F_HAS_CKR) && (s->nr != 0 || s->n_skipped != 0))
        return 0;
    uint8_t pk[SC_KEY];
    crypto_scalarmult_base(pk, s->dhs_sk);
    int ok = sodium_memcmp(pk, s->dhs_pk, SC_KEY) == 0;
    return ok;
}

int sc_session_parse(const uint8_t *buf, size_t len, sc_session *out)
{
    if (!buf || !out)
        return SC_E_ARG;
    memset(out, 0, sizeof(*out));
    if (len < SC_STATE_FIXED || memcmp(buf, STATE_MAGIC, 4) != 0 || buf[4] != STATE_VERSION)
        return SC_E_MALFORMED;
    sc_session s;
    memset(&s, 0, sizeof(s));
    const uint8_t *p = buf + 5;
    s.role = *p++;
    s.flags = *p++;
    memcpy(s.ad, p, SC_AD_LEN);
    p += SC_AD_LEN;
    uint8_t *keys[] = { s.dhs_pk, s.dhs_sk, s.dhr, s.rk, s.cks, s.ckr };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++, p += SC_KEY)
        memcpy(keys[i], p, SC_KEY);
    s.ns = sc_get32(p);
    s.nr = sc_get32(p + 4);
    s.pn = sc_get32(p + 8);
    memcpy(s.pre_ek, p + 12, SC_KEY);
    p += 12 + SC_KEY;
    s.pre_spk_id = sc_get32(p);
    s.pre_opk_id = sc_get32(p + 4);
    uint32_t n = sc_get32(p + 8);
    p += 12;
    if (n > SC_MAX_SKIPPED_TOTAL || len != SC_STATE_FIXED + (size_t)n * SC_STATE_ENTRY) {
        sodium_memzero(&s, sizeof(s));
        return SC_E_MALFORMED;
    }
    s.n_skipped = n;
    if (!consistent(&s)) {
        sodium_memzero(&s, sizeof(s));
        return SC_E_MALFORMED;
    }
    if (n) {
        s.skipped = malloc(n * sizeof(sc_skipped));
        if (!s.skipped) {
            sodium_memzero(&s, sizeof(s));
            return SC_E_NOMEM;
        }
        s.cap_skipped = n;
        for (uint32_t i = 0; i < n; i++, p += SC_STATE_ENTRY) {
            memcpy(s.skipped[i].dh, p, SC_KEY);
            s.skipped[i].n = sc_get32(p + SC_KEY);
            memcpy(s.skipped[i].mk, p + SC_KEY + 4, SC_KEY);
        }
    }
    *out = s;
    return SC_OK;
}
