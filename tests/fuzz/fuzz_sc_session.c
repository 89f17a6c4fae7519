/*
 * fuzz_sc_session.c: libFuzzer target for the session state parser (the bytes come from the
 * device's own database, but a corrupted or tampered file must not crash the client): parse;
 * what parses must re-serialize to exactly the input (the encoding is canonical) and must
 * survive an encrypt attempt and a decrypt of a fixed real message without memory errors.
 * Built and run by `make fuzz-smoke` (seeds: tests/fuzz/corpus/fuzz_sc_session/).
 */
#include "fuzz_common.h"

static fz_world W;
static uint8_t env[SC_ENV_MAX], pt[SC_MAX_PLAINTEXT], again[SC_STATE_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_world_init(&W);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_session s, out;
    if (sc_session_parse(data, size, &s) != 0)
        return 0;
    size_t len, el, pl;
    if (sc_session_serialize(&s, again, sizeof(again), &len) != 0 || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    if (sc_ratchet_encrypt(&s, &out, (const uint8_t *)"fuzz", 4, env, sizeof(env), &el) == 0)
        sc_session_free(&out);
    if (sc_ratchet_decrypt(&s, &out, W.first, W.first_len, pt, sizeof(pt), &pl) == 0)
        sc_session_free(&out);
    sc_session_free(&s);
    return 0;
}
