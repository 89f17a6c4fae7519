/*
 * fuzz_sc_decrypt.c: libFuzzer target for the decryption entry points: each input is an
 * envelope, decrypted (envelope parse + ratchet) against the fixed initiator and responder
 * sessions of fuzz_common.h, and given to sc_session_accept as a first message. A success is
 * only possible for inputs that are real messages of those sessions; whatever happens, the
 * input states must be untouched (checked by comparing their encodings) and nothing leaks.
 * Built and run by `make fuzz-smoke` (seeds: tests/fuzz/corpus/fuzz_sc_decrypt/).
 */
#include <stdio.h>
#include "fuzz_common.h"

static fz_world W;
static uint8_t state_a[SC_STATE_MAX], state_b[SC_STATE_MAX];
static size_t state_a_len, state_b_len;
static uint8_t pt[SC_MAX_PLAINTEXT];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_world_init(&W);
    if (sc_session_serialize(&W.sa, state_a, sizeof(state_a), &state_a_len) ||
        sc_session_serialize(&W.sb, state_b, sizeof(state_b), &state_b_len))
        abort();
    return 0;
}

static void check_unchanged(const sc_session *s, const uint8_t *want, size_t want_len)
{
    static uint8_t now[SC_STATE_MAX];
    size_t len;
    if (sc_session_serialize(s, now, sizeof(now), &len) || len != want_len ||
        memcmp(now, want, len) != 0)
        abort();
}

/* SC_FUZZ_REPORT=1 prints which entry point accepted an input: how to check that the
 * committed seeds are real messages of this world (`-runs=0` over the corpus). */
static void accepted(sc_session *out, const char *by)
{
    sc_session_free(out);
    if (getenv("SC_FUZZ_REPORT"))
        fprintf(stderr, "accepted by %s\n", by);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_session out;
    size_t pl;
    if (sc_ratchet_decrypt(&W.sa, &out, data, size, pt, sizeof(pt), &pl) == 0)
        accepted(&out, "initiator");
    if (sc_ratchet_decrypt(&W.sb, &out, data, size, pt, sizeof(pt), &pl) == 0)
        accepted(&out, "responder");
    if (sc_session_accept(&W.ib, &W.spk_b, &W.opk_b, &W.db, &W.da, data, size, &out, pt,
                          sizeof(pt), &pl) == 0)
        accepted(&out, "accept");
    if (sc_session_accept(&W.ib, &W.spk_b, NULL, &W.db, &W.da, data, size, &out, pt,
                          sizeof(pt), &pl) == 0)
        accepted(&out, "accept without opk");
    check_unchanged(&W.sa, state_a, state_a_len);
    check_unchanged(&W.sb, state_b, state_b_len);
    return 0;
}
