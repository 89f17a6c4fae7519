/*
 * sc_sas.c: the crypto of the interactive secret-chat verification (a short authentication
 * string, SAS, compared by two people while both devices are online): the transcript, the
 * starter's commitment to its ephemeral key, the SAS and MAC key derivation, and the MACs of
 * the confirmations. The protocol and its argument are in docs/SECRET_CHATS.md
 * ("Interactive verification"); secret_crypto.h gives the formulas. api_secret_sas.c runs
 * the protocol over the secret chat's Double Ratchet.
 *
 * Why a commitment: the starter S commits to EK_S before it sees EK_O, and O sends EK_O
 * before it sees EK_S. A man in the middle has to fix its own key on each side before it
 * learns the honest key there, so the two SAS it produces match only by chance: 2^-42 per
 * run for 7 emoji of 6 bits (the approach of ZRTP's hash commitment, RFC 6189, and of
 * Matrix's SAS verification; no code of either is used here).
 *
 * Primitives: SHA-256 and HMAC-SHA-256 (libsodium), X25519 through sc_dh (rejects low-order
 * points), HKDF-SHA-256 through sc_hkdf_sha256 (sc_kdf.c).
 *
 * Memory: nothing allocated; the DH output and HKDF output are wiped before returning.
 */
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

void sc_sas_transcript(const uint8_t vid[SC_SAS_VID], const uint8_t ik_s[SC_KEY],
                       const sc_device *s, const uint8_t ik_o[SC_KEY], const sc_device *o,
                       uint8_t t[SC_SAS_T_LEN])
{
    uint8_t *p = t;
    memcpy(p, vid, SC_SAS_VID);
    p += SC_SAS_VID;
    memcpy(p, ik_s, SC_KEY);
    sc_put64(p + SC_KEY, (uint64_t)s->user_id);
    sc_put64(p + SC_KEY + 8, (uint64_t)s->device_id);
    p += SC_KEY + 16;
    memcpy(p, ik_o, SC_KEY);
    sc_put64(p + SC_KEY, (uint64_t)o->user_id);
    sc_put64(p + SC_KEY + 8, (uint64_t)o->device_id);
}

int sc_sas_commit(const uint8_t ek_s[SC_KEY], const uint8_t t[SC_SAS_T_LEN], uint8_t c[32])
{
    crypto_hash_sha256_state st;
    if (!ek_s || !t || !c)
        return SC_E_ARG;
    if (crypto_hash_sha256_init(&st) != 0 ||
        crypto_hash_sha256_update(&st, (const uint8_t *)SC_LABEL_SAS_COMMIT,
                                  strlen(SC_LABEL_SAS_COMMIT)) != 0 ||
        crypto_hash_sha256_update(&st, ek_s, SC_KEY) != 0 ||
        crypto_hash_sha256_update(&st, t, SC_SAS_T_LEN) != 0 ||
        crypto_hash_sha256_final(&st, c) != 0)
        return SC_E_CRYPTO;
    return SC_OK;
}

int sc_sas_check_commit(const uint8_t ek_s[SC_KEY], const uint8_t t[SC_SAS_T_LEN],
                        const uint8_t c[32])
{
    uint8_t want[32];
    int rc = sc_sas_commit(ek_s, t, want);
    if (rc != SC_OK)
        return rc;
    return sodium_memcmp(want, c, sizeof want) == 0 ? SC_OK : SC_E_AUTH;
}

int sc_sas_derive(const uint8_t own_sk[SC_KEY], const uint8_t ek_s[SC_KEY],
                  const uint8_t ek_o[SC_KEY], int own_role, const uint8_t t[SC_SAS_T_LEN],
                  char emoji[SC_SAS_EMOJI_MAX], uint8_t k_mac[SC_KEY])
{
    if (!own_sk || !ek_s || !ek_o || !t || !emoji || !k_mac ||
        (own_role != SC_SAS_ROLE_S && own_role != SC_SAS_ROLE_O))
        return SC_E_ARG;
    uint8_t dh[SC_KEY], okm[2 * SC_KEY];
    uint8_t info[sizeof(SC_LABEL_SAS) - 1 + SC_SAS_T_LEN + 2 * SC_KEY];
    size_t l = strlen(SC_LABEL_SAS);
    memcpy(info, SC_LABEL_SAS, l);
    memcpy(info + l, t, SC_SAS_T_LEN);
    memcpy(info + l + SC_SAS_T_LEN, ek_s, SC_KEY);
    memcpy(info + l + SC_SAS_T_LEN + SC_KEY, ek_o, SC_KEY);
    int rc = sc_dh(own_sk, own_role == SC_SAS_ROLE_S ? ek_o : ek_s, dh);
    if (rc == SC_OK)
        rc = sc_hkdf_sha256(NULL, 0, dh, sizeof dh, info, sizeof info, okm, sizeof okm);
    if (rc == SC_OK) {
        /* 42 bits: the top 42 of the first 6 bytes, 6 bits per emoji, most significant
         * first; the table has 64 entries, so every emoji is equally likely. */
        uint64_t v = 0;
        for (int i = 0; i < 6; i++)
            v = v << 8 | okm[i];
        size_t used = 0;
        for (int i = 0; i < SC_SAS_EMOJI_COUNT; i++) {
            const char *e = sc_emoji((unsigned)(v >> (42 - 6 * i)) & 63);
            size_t n = strlen(e);
            memcpy(emoji + used, e, n);
            used += n;
        }
        emoji[used] = '\0';
        memcpy(k_mac, okm + SC_KEY, SC_KEY);
    }
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(okm, sizeof okm);
    return rc;
}

int sc_sas_mac(const uint8_t k_mac[SC_KEY], int role, const uint8_t t[SC_SAS_T_LEN],
               uint8_t mac[32])
{
    if (!k_mac || !t || !mac || (role != SC_SAS_ROLE_S && role != SC_SAS_ROLE_O))
        return SC_E_ARG;
    uint8_t msg[sizeof(SC_LABEL_SAS_MAC) - 1 + 1 + SC_SAS_T_LEN];
    size_t l = strlen(SC_LABEL_SAS_MAC);
    memcpy(msg, SC_LABEL_SAS_MAC, l);
    msg[l] = (uint8_t)role;
    memcpy(msg + l + 1, t, SC_SAS_T_LEN);
    return sc_hmac_sha256(k_mac, SC_KEY, msg, sizeof msg, mac);
}
