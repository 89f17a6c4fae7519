/* fuzz_sfu_vp8.c: libFuzzer target for the VP8 payload descriptor parser (RFC 7741). */
#include "rtp.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vp8_desc d;
    if (vp8_parse(data, size, &d) == 0 && d.descriptor_len > size) __builtin_trap();
    return 0;
}
