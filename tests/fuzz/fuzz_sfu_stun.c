/* fuzz_sfu_stun.c: libFuzzer target for the SFU's STUN parser and integrity check (stun.c). */
#include "stun.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stun_msg m;
    if (stun_parse(data, size, &m) == 0) {
        static const uint8_t key[] = "fuzzpassword0123456789";
        stun_check_integrity(data, size, &m, key, sizeof key - 1);
        if (m.username_len) { volatile uint8_t c = m.username[m.username_len - 1]; (void)c; }
    }
    return 0;
}
