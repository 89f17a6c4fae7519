/*
 * sc_envelope.c: the secret-chat message as it travels through the server (opaque bytes to
 * the server): its parser and the encoder of its header. The layout is in secret_crypto.h
 * and docs/SECRET_CHATS.md. Everything before the ciphertext is the header; the ratchet
 * authenticates all of it (it is part of the AEAD's associated data), so the parser only
 * checks sizes and field values, never keys.
 *
 * Memory: the parsed sc_envelope points into the caller's buffer (ct); nothing is allocated.
 */
#include <string.h>

#include "secret_crypto.h"

int sc_envelope_parse(const uint8_t *buf, size_t len, sc_envelope *env)
{
    if (!buf || !env)
        return SC_E_ARG;
    memset(env, 0, sizeof(*env));
    if (len < 2 || buf[0] != SC_ENV_VERSION)
        return SC_E_MALFORMED;
    uint8_t type = buf[1];
    if (type != SC_MSG_PREKEY && type != SC_MSG_NORMAL)
        return SC_E_MALFORMED;
    size_t hdr = type == SC_MSG_PREKEY ? SC_ENV_HEADER_PREKEY : SC_ENV_HEADER_NORMAL;
    if (len < hdr + SC_TAG)
        return SC_E_MALFORMED;
    if (len - hdr - SC_TAG > SC_MAX_PLAINTEXT)
        return SC_E_TOO_BIG;
    const uint8_t *p = buf + 2;
    env->type = type;
    if (type == SC_MSG_PREKEY) {
        memcpy(env->ik, p, SC_KEY);
        memcpy(env->ek, p + SC_KEY, SC_KEY);
        p += 2 * SC_KEY;
        env->spk_id = sc_get32(p);
        if (p[4] > 1)
            return SC_E_MALFORMED;
        env->has_opk = p[4];
        env->opk_id = sc_get32(p + 5);
        /* one encoding per meaning: no opk id without an opk */
        if (!env->has_opk && env->opk_id != 0)
            return SC_E_MALFORMED;
        p += 9;
    }
    memcpy(env->dh, p, SC_KEY);
    env->pn = sc_get32(p + SC_KEY);
    env->n = sc_get32(p + SC_KEY + 4);
    memcpy(env->nonce, p + SC_KEY + 8, SC_NONCE);
    env->header_len = hdr;
    env->ct = buf + hdr;
    env->ct_len = len - hdr;
    return SC_OK;
}

int sc_envelope_encode_header(const sc_envelope *env, uint8_t *buf, size_t cap, size_t *len)
{
    if (!env || !buf || !len || (env->type != SC_MSG_PREKEY && env->type != SC_MSG_NORMAL))
        return SC_E_ARG;
    size_t hdr = env->type == SC_MSG_PREKEY ? SC_ENV_HEADER_PREKEY : SC_ENV_HEADER_NORMAL;
    if (cap < hdr)
        return SC_E_ARG;
    uint8_t *p = buf;
    *p++ = SC_ENV_VERSION;
    *p++ = env->type;
    if (env->type == SC_MSG_PREKEY) {
        memcpy(p, env->ik, SC_KEY);
        memcpy(p + SC_KEY, env->ek, SC_KEY);
        p += 2 * SC_KEY;
        sc_put32(p, env->spk_id);
        p[4] = env->has_opk ? 1 : 0;
        sc_put32(p + 5, env->has_opk ? env->opk_id : 0);
        p += 9;
    }
    memcpy(p, env->dh, SC_KEY);
    sc_put32(p + SC_KEY, env->pn);
    sc_put32(p + SC_KEY + 4, env->n);
    memcpy(p + SC_KEY + 8, env->nonce, SC_NONCE);
    *len = hdr;
    return SC_OK;
}
