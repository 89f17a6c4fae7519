/*
 * fuzz_common.h: the fixed secret-chat world the fuzz targets (tests/fuzz/fuzz_sc_*.c) and
 * their seed generator (gen_corpus.c) share. libsodium's randomness is replaced by a
 * deterministic stream before sodium_init, so every build and run creates the same devices,
 * prekeys and sessions, and the committed seeds (valid envelopes, bundles, states) stay
 * valid inputs for the fixed states the targets decrypt against.
 *
 * Global state: the counter of the deterministic stream and the world itself are process
 * globals on purpose: libFuzzer calls LLVMFuzzerTestOneInput with no context pointer.
 * Only fuzzing and seed generation use this file; libparley never replaces its randomness.
 */
#ifndef PARLEY_FUZZ_COMMON_H
#define PARLEY_FUZZ_COMMON_H
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "../../src/lib/secret_crypto.h"

static uint64_t fz_counter;

static void fz_buf(void *buf, size_t n)
{
    uint8_t seed[randombytes_SEEDBYTES] = { 'p', 'a', 'r', 'l', 'e', 'y', '-', 'f', 'u', 'z' };
    memcpy(seed + 16, &fz_counter, sizeof(fz_counter));
    fz_counter++;
    randombytes_buf_deterministic(buf, n, seed);
}

static uint32_t fz_random(void)
{
    uint32_t v;
    fz_buf(&v, sizeof(v));
    return v;
}

static const char *fz_name(void)
{
    return "parley-fuzz-deterministic";
}

static randombytes_implementation fz_rng = {
    .implementation_name = fz_name, .random = fz_random, .buf = fz_buf,
};

typedef struct fz_world {
    sc_device da, db;
    sc_identity ia, ib;
    sc_signed_prekey spk_b;
    sc_onetime_prekey opk_b;
    sc_bundle bundle_b;               /* with opk_b */
    sc_session sa;                    /* initiator, has b's reply: expects normal messages */
    sc_session sb;                    /* responder after a's first message and its reply */
    uint8_t first[SC_ENV_MAX];        /* a's first (prekey) message, accepted by b */
    size_t first_len;
} fz_world;

static void fz_die(const char *what)
{
    (void)what;
    abort();
}

static void fz_encrypt(sc_session *s, const char *text, uint8_t *env, size_t *len)
{
    sc_session next;
    if (sc_ratchet_encrypt(s, &next, (const uint8_t *)text, strlen(text), env, SC_ENV_MAX, len))
        fz_die("encrypt");
    sc_session_free(s);
    *s = next;
}

static void fz_decrypt(sc_session *s, const uint8_t *env, size_t len)
{
    static uint8_t pt[SC_MAX_PLAINTEXT];
    sc_session next;
    size_t pl;
    if (sc_ratchet_decrypt(s, &next, env, len, pt, sizeof(pt), &pl))
        fz_die("decrypt");
    sc_session_free(s);
    *s = next;
}

/* Builds the world; call once, before anything else touches libsodium. */
static void fz_world_init(fz_world *w)
{
    static const uint8_t seed_a[SC_KEY] = { 0xa1 }, seed_b[SC_KEY] = { 0xb2 };
    static uint8_t pt[SC_MAX_PLAINTEXT];
    if (randombytes_set_implementation(&fz_rng) != 0 || sc_init() != 0)
        fz_die("init");
    memset(w, 0, sizeof(*w));
    w->da = (sc_device){ 1, 100 };
    w->db = (sc_device){ 2, 200 };
    if (sc_identity_from_seed(&w->ia, seed_a) || sc_identity_from_seed(&w->ib, seed_b) ||
        sc_signed_prekey_generate(&w->ib, 7, &w->spk_b) ||
        sc_onetime_prekeys_generate(42, 1, &w->opk_b) ||
        sc_bundle_make(&w->db, &w->ib, &w->spk_b, &w->opk_b, &w->bundle_b) ||
        sc_x3dh_initiate(&w->ia, &w->da, &w->bundle_b, &w->sa))
        fz_die("set-up");
    fz_encrypt(&w->sa, "first", w->first, &w->first_len);
    size_t pl;
    if (sc_session_accept(&w->ib, &w->spk_b, &w->opk_b, &w->db, &w->da, w->first,
                          w->first_len, &w->sb, pt, sizeof(pt), &pl))
        fz_die("accept");
    uint8_t env[SC_ENV_MAX];
    size_t len;
    fz_encrypt(&w->sb, "reply", env, &len);
    fz_decrypt(&w->sa, env, len);
}
#endif
