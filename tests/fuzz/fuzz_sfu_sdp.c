/* fuzz_sfu_sdp.c: libFuzzer target for the SDP offer parser and, on success, the answer. */
#include "sdp.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sdp_offer o;
    char err[128];
    if (sdp_parse_offer((const char *)data, size, &o, err, sizeof err) == 0) {
        static char ans[32768];
        sdp_answer_params p = { "ufrag", "0123456789abcdef012345", o.fingerprint, "127.0.0.1", 1, 1, NULL };
        sdp_build_answer(&o, &p, ans, sizeof ans);
    }
    return 0;
}
