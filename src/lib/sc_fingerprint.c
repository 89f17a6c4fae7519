/*
 * sc_fingerprint.c: the verification fingerprint of a secret chat, which both devices compute
 * from both identity keys and device identities and show to their users for comparison.
 *
 * Number (60 digits, shown as 12 groups of 5): for each side,
 *     h_0 = SHA-512("parley/fingerprint/v1" || IK || user_id (8 BE) || device_id (8 BE))
 *     h_i = SHA-512(h_{i-1} || IK)            for i = 1 .. 5200
 * and the first 30 bytes of h_5200, read as six 5-byte big-endian integers, each taken
 * mod 100000 and printed as 5 digits: 30 digits per side. (The iteration count is Signal's
 * safety-number choice: it makes searching for a colliding key 5200 times more costly.) The
 * two 30-digit halves are sorted (as strings) and concatenated, so both devices print the same.
 *
 * Emoji (5): SHA-256("parley/fingerprint/emoji/v1" || lo || hi), where lo and hi are the two
 * sides' encodings IK || user_id || device_id sorted bytewise; emoji i is table[byte i mod 64]
 * (256 is a multiple of 64, so every emoji is equally likely). The table has single-code-point
 * emoji only (no ZWJ sequences or variation selectors) so that every platform draws them alike.
 *
 * Memory: nothing allocated; the inputs are public keys, so nothing needs wiping.
 */
#include <string.h>
#include <sodium.h>

#include "secret_crypto.h"

#define SIDE_LEN (SC_KEY + 16)
#define HALF_DIGITS (SC_FP_DIGITS / 2)

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

static void encode_side(const uint8_t ik[SC_KEY], const sc_device *d, uint8_t out[SIDE_LEN])
{
    memcpy(out, ik, SC_KEY);
    sc_put64(out + SC_KEY, (uint64_t)d->user_id);
    sc_put64(out + SC_KEY + 8, (uint64_t)d->device_id);
}

static int side_digits(const uint8_t side[SIDE_LEN], char digits[HALF_DIGITS])
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
    for (int c = 0; c < 6; c++) {
        uint64_t v = 0;
        for (int j = 0; j < 5; j++)
            v = v << 8 | h[c * 5 + j];
        v %= 100000;
        for (int j = 4; j >= 0; j--, v /= 10)
            digits[c * 5 + j] = (char)('0' + v % 10);
    }
    return SC_OK;
}

int sc_fingerprint(const uint8_t ik_a[SC_KEY], const sc_device *a, const uint8_t ik_b[SC_KEY],
                   const sc_device *b, char number[SC_FP_NUMBER_LEN + 1],
                   char emoji[SC_FP_EMOJI_MAX])
{
    if (!ik_a || !a || !ik_b || !b || !number || !emoji)
        return SC_E_ARG;
    uint8_t sa[SIDE_LEN], sb[SIDE_LEN];
    encode_side(ik_a, a, sa);
    encode_side(ik_b, b, sb);
    char da[HALF_DIGITS], db[HALF_DIGITS];
    int rc = side_digits(sa, da);
    if (rc == SC_OK)
        rc = side_digits(sb, db);
    if (rc != SC_OK)
        return rc;
    char all[SC_FP_DIGITS];
    int a_first = memcmp(da, db, HALF_DIGITS) <= 0;
    memcpy(all, a_first ? da : db, HALF_DIGITS);
    memcpy(all + HALF_DIGITS, a_first ? db : da, HALF_DIGITS);
    char *p = number;
    for (int g = 0; g < SC_FP_DIGITS / 5; g++) {
        if (g)
            *p++ = ' ';
        memcpy(p, all + g * 5, 5);
        p += 5;
    }
    *p = '\0';

    const uint8_t *lo = memcmp(sa, sb, SIDE_LEN) <= 0 ? sa : sb;
    const uint8_t *hi = lo == sa ? sb : sa;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    if (crypto_hash_sha256_init(&st) != 0 ||
        crypto_hash_sha256_update(&st, (const uint8_t *)SC_LABEL_FP_EMOJI,
                                  strlen(SC_LABEL_FP_EMOJI)) ||
        crypto_hash_sha256_update(&st, lo, SIDE_LEN) ||
        crypto_hash_sha256_update(&st, hi, SIDE_LEN) || crypto_hash_sha256_final(&st, h))
        return SC_E_CRYPTO;
    size_t used = 0;
    for (int i = 0; i < SC_FP_EMOJI_COUNT; i++) {
        const char *e = emoji_table[h[i] & 63];
        size_t n = strlen(e);
        memcpy(emoji + used, e, n);
        used += n;
    }
    emoji[used] = '\0';
    return SC_OK;
}

int sc_session_fingerprint(const sc_session *s, char number[SC_FP_NUMBER_LEN + 1],
                           char emoji[SC_FP_EMOJI_MAX])
{
    if (!s)
        return SC_E_ARG;
    sc_device a = { (int64_t)sc_get64(s->ad + 2 * SC_KEY), (int64_t)sc_get64(s->ad + 2 * SC_KEY + 8) };
    sc_device b = { (int64_t)sc_get64(s->ad + 2 * SC_KEY + 16),
                    (int64_t)sc_get64(s->ad + 2 * SC_KEY + 24) };
    return sc_fingerprint(s->ad, &a, s->ad + SC_KEY, &b, number, emoji);
}
