/*
 * fuzz_sc_bundle.c: libFuzzer target for the prekey bundle parser and verifier: parse, and
 * for what parses, verify, re-encode (must give back the input bytes exactly: the encoding
 * is canonical) and, for what verifies, run the X3DH initiator on it with a fixed identity.
 * Built and run by `make fuzz-smoke` (seeds: tests/fuzz/corpus/fuzz_sc_bundle/).
 */
#include "fuzz_common.h"

static fz_world W;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_world_init(&W);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_bundle b;
    if (sc_bundle_parse(data, size, &b) != 0)
        return 0;
    uint8_t again[SC_BUNDLE_MAX];
    size_t len;
    if (sc_bundle_encode(&b, again, sizeof(again), &len) != 0 || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    if (sc_bundle_verify(&b) != 0)
        return 0;
    sc_session s;
    if (sc_x3dh_initiate(&W.ia, &W.da, &b, &s) == 0)
        sc_session_free(&s);
    return 0;
}
