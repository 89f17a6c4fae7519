/*
 * sc_fingerprint.c: the static verification fingerprint of a secret chat, which both devices
 * compute from both identity keys and device identities and show to their users for
 * comparison; and the 64-entry emoji table the interactive verification (sc_sas.c) shows.
 *
 * Per side (IK, user_id, device_id):
 *     h_0 = SHA-512("parley/fingerprint/v1" || IK || user_id (8 BE) || device_id (8 BE))
 *     h_i = SHA-512(h_{i-1} || IK)            for i = 1 .. 5200
 * h_5200's first 40 bytes, read as eight 5-byte big-endian integers, each taken mod 100000
 * and printed as 5 digits, give 40 digits per side.
 *
 * Number (60 digits, 12 groups of 5): the first 30 of each side's 40 digits; the two halves
 * sorted (as strings) and concatenated, so both devices print the same. About 99.7 bits per
 * side, and each try of a key search costs 5200 SHA-512 compressions (Signal's safety-number
 * iteration count, 2^12.3): a server substituting a key needs about 2^112 compressions per
 * side. Below 128 bits, hence:
 * Long number (80 digits, 16 groups of 5): all 40 digits of each side, sorted likewise:
 * 132.9 bits per side before the iteration cost, which docs/SECRET_CHATS.md argues is the
 * static form that meets "at least 128 bits".
 *
 * The 5-emoji short form this file used to make (30 bits, committing to nothing) is gone: a
 * key-substituting server could search for a key with matching emoji in core-hours. Short
 * emoji now come only from an interactive run with a commitment (sc_sas.c).
 *
 * The emoji table has single-code-point emoji only (no ZWJ sequences or variation selectors)
 * so that every platform draws them alike; 4 UTF-8 bytes each.
 *
 * Memory: nothing allocated; the inputs are public keys, so nothing needs wiping.
 */
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

#define SIDE_LEN (SC_KEY + 16)
#define HALF_DIGITS (SC_FP_DIGITS / 2)
#define LONG_HALF (SC_FP_LONG_DIGITS / 2)

static const char *const emoji_table[] = {
    u8"\U0001F436", u8"\U0001F431", u8"\U0001F42D", u8"\U0001F439", u8"\U0001F430",
    u8"\U0001F98A", u8"\U0001F43B", u8"\U0001F43C", u8"\U0001F428", u8"\U0001F42F",
    u8"\U0001F981", u8"\U0001F42E", u8"\U0001F437", u8"\U0001F438", u8"\U0001F435",
    u8"\U0001F414", u8"\U0001F427", u8"\U0001F426", u8"\U0001F986", u8"\U0001F989",
    u8"\U0001F434", u8"\U0001F984", u8"\U0001F41D", u8"\U0001F41B", u8"\U0001F98B",
    u8"\U0001F40C", u8"\U0001F422", u8"\U0001F40D", u8"\U0001F419", u8"\U0001F980",
    u8"\U0001F420", u8"\U0001F42C", u8"\U0001F433", u8"\U0001F335", u8"\U0001F332",
    u8"\U0001F33B", u8"\U0001F344", u8"\U0001F319", u8"\U0001F308", u8"\U0001F525",
    u8"\U0001F34E", u8"\U0001F34C", u8"\U0001F347", u8"\U0001F353", u8"\U0001F352",
    u8"\U0001F34B", u8"\U0001F349", u8"\U0001F355", u8"\U0001F369", u8"\U0001F382",
    u8"\U0001F388", u8"\U0001F381", u8"\U0001F3B8", u8"\U0001F3BA", u8"\U0001F680",
    u8"\U0001F6B2", u8"\U0001F697", u8"\U0001F511", u8"\U0001F514", u8"\U0001F4A1",
    u8"\U0001F4DA", u8"\U0001F3E0", u8"\U0001F30D", u8"\U0001F3A9",
};
_Static_assert(sizeof(emoji_table) / sizeof(emoji_table[0]) == 64, "64 emoji");

const char *sc_emoji(unsigned i)
{
    return emoji_table[i & 63];
}

static void encode_side(const uint8_t ik[SC_KEY], const sc_device *d, uint8_t out[SIDE_LEN])
{
    memcpy(out, ik, SC_KEY);
    sc_put64(out + SC_KEY, (uint64_t)d->user_id);
    sc_put64(out + SC_KEY + 8, (uint64_t)d->device_id);
}

static int side_digits(const uint8_t side[SIDE_LEN], char digits[LONG_HALF])
{
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_state st;
    if (crypto_hash_sha512_init(&st) != 0 ||
        crypto_hash_sha512_update(&st, (const uint8_t *)SC_LABEL_FP, strlen(SC_LABEL_FP)) ||
        crypto_hash_sha512_update(&st, side, SIDE_LEN) || crypto_hash_sha512_final(&st, h))
        return SC_E_CRYPTO;
    for (int i = 0; i < SC_FP_ITERATIONS; i++) {
        if (crypto_hash_sha512_init(&st) != 0 || crypto_hash_sha512_update(&st, h, sizeof(h)) ||
            crypto_hash_sha512_update(&st, side, SC_KEY) || crypto_hash_sha512_final(&st, h))
            return SC_E_CRYPTO;
    }
    for (int c = 0; c < LONG_HALF / 5; c++) {
        uint64_t v = 0;
        for (int j = 0; j < 5; j++)
            v = v << 8 | h[c * 5 + j];
        v %= 100000;
        for (int j = 4; j >= 0; j--, v /= 10)
            digits[c * 5 + j] = (char)('0' + v % 10);
    }
    return SC_OK;
}

/* Sorts the two sides' first `half` digits and prints them in groups of 5. */
static void grouped(const char *da, const char *db, int half, char *out)
{
    int a_first = memcmp(da, db, (size_t)half) <= 0;
    const char *first = a_first ? da : db, *second = a_first ? db : da;
    char *p = out;
    for (int g = 0; g < 2 * half / 5; g++) {
        if (g)
            *p++ = ' ';
        memcpy(p, g < half / 5 ? first + g * 5 : second + g * 5 - half, 5);
        p += 5;
    }
    *p = '\0';
}

int sc_fingerprint(const uint8_t ik_a[SC_KEY], const sc_device *a, const uint8_t ik_b[SC_KEY],
                   const sc_device *b, char number[SC_FP_NUMBER_LEN + 1],
                   char long_number[SC_FP_LONG_LEN + 1])
{
    if (!ik_a || !a || !ik_b || !b || !number)
        return SC_E_ARG;
    uint8_t sa[SIDE_LEN], sb[SIDE_LEN];
    encode_side(ik_a, a, sa);
    encode_side(ik_b, b, sb);
    char da[LONG_HALF], db[LONG_HALF];
    int rc = side_digits(sa, da);
    if (rc == SC_OK)
        rc = side_digits(sb, db);
    if (rc != SC_OK)
        return rc;
    grouped(da, db, HALF_DIGITS, number);
    if (long_number)
        grouped(da, db, LONG_HALF, long_number);
    return SC_OK;
}

int sc_session_fingerprint(const sc_session *s, char number[SC_FP_NUMBER_LEN + 1],
                           char long_number[SC_FP_LONG_LEN + 1])
{
    if (!s)
        return SC_E_ARG;
    sc_device a = { (int64_t)sc_get64(s->ad + 2 * SC_KEY), (int64_t)sc_get64(s->ad + 2 * SC_KEY + 8) };
    sc_device b = { (int64_t)sc_get64(s->ad + 2 * SC_KEY + 16),
                    (int64_t)sc_get64(s->ad + 2 * SC_KEY + 24) };
    return sc_fingerprint(s->ad, &a, s->ad + SC_KEY, &b, number, long_number);
}
