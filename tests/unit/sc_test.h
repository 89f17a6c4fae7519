/*
 * sc_test.h: helpers shared by the secret-chat unit tests (test_lib_sc_*.c): hex decoding,
 * a deterministic PRNG for the test schedules, and building a pair of sessions between two
 * devices with real keys. Header-only so each test stays its own binary.
 */
#ifndef PARLEY_SC_TEST_H
#define PARLEY_SC_TEST_H
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "unit.h"
#include "../../src/lib/secret_crypto.h"

/* Decodes a hex string into out (which must hold strlen(hex)/2 bytes); returns the length. */
static inline size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    if (sodium_hex2bin(out, strlen(hex) / 2, hex, strlen(hex), NULL, &n, NULL) != 0)
        abort();
    return n;
}

/* xorshift64*: a fixed seed gives the same "random" schedule on every run. */
static inline uint64_t test_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* One device with its keys. */
typedef struct test_dev {
    sc_device dev;
    sc_identity ik;
    sc_signed_prekey spk;
    sc_onetime_prekey opk[4];
} test_dev;

static inline void test_dev_make(test_dev *d, int64_t user, int64_t device)
{
    d->dev.user_id = user;
    d->dev.device_id = device;
    if (sc_identity_generate(&d->ik) || sc_signed_prekey_generate(&d->ik, 1, &d->spk) ||
        sc_onetime_prekeys_generate(100, 4, d->opk))
        abort();
}

static inline void test_dev_wipe(test_dev *d)
{
    sc_identity_wipe(&d->ik);
    sc_signed_prekey_wipe(&d->spk);
    sc_onetime_prekeys_wipe(d->opk, 4);
}

/* a initiates with b (one-time prekey index opk_i, or -1 for none); a's first message
 * (text first) is delivered, so both sessions exist. Returns 0 on success. */
static inline int test_pair(test_dev *a, test_dev *b, int opk_i, sc_session *sa,
                            sc_session *sb)
{
    sc_bundle bun;
    sc_session s0, s1;
    uint8_t env[SC_ENV_MAX], pt[SC_MAX_PLAINTEXT];
    size_t el, pl;
    if (sc_bundle_make(&b->dev, &b->ik, &b->spk, opk_i >= 0 ? &b->opk[opk_i] : NULL, &bun))
        return -1;
    if (sc_x3dh_initiate(&a->ik, &a->dev, &bun, &s0))
        return -1;
    if (sc_ratchet_encrypt(&s0, &s1, (const uint8_t *)"first", 5, env, sizeof(env), &el)) {
        sc_session_free(&s0);
        return -1;
    }
    sc_session_free(&s0);
    int rc = sc_session_accept(&b->ik, &b->spk, opk_i >= 0 ? &b->opk[opk_i] : NULL, &b->dev,
                               &a->dev, env, el, sb, pt, sizeof(pt), &pl);
    if (rc || pl != 5 || memcmp(pt, "first", 5)) {
        sc_session_free(&s1);
        sc_session_free(sb);
        return -1;
    }
    *sa = s1;
    return 0;
}

/* Serializes s into a malloc'ed buffer (for "state unchanged" comparisons). */
static inline uint8_t *test_state(const sc_session *s, size_t *len)
{
    uint8_t *buf = malloc(SC_STATE_MAX);
    if (!buf || sc_session_serialize(s, buf, SC_STATE_MAX, len))
        abort();
    return buf;
}

/* Moves a committed new state in place of the old one. */
static inline void test_commit(sc_session *cur, sc_session *next)
{
    sc_session_free(cur);
    *cur = *next;
    memset(next, 0, sizeof(*next));
}
#endif
