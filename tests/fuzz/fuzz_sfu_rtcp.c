/* fuzz_sfu_rtcp.c: libFuzzer target for compound RTCP parsing and the NACK/REMB/FIR readers. */
#include "rtp.h"
static void sink_fn(void *arg, uint16_t seq) { *(unsigned *)arg += seq; }
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t off = 0;
    rtcp_pkt p;
    unsigned acc = 0;
    rtcp_validate(data, size);
    while (rtcp_next(data, size, &off, &p) == 1) {
        volatile uint8_t s = p.body_len ? p.body[p.body_len - 1] : 0;
        (void)s;
        rtcp_nack_foreach(&p, sink_fn, &acc);
        uint64_t br; uint32_t ss[4]; int n; uint8_t seq; uint32_t fs;
        rtcp_remb_parse(&p, &br, ss, 4, &n);
        rtcp_fir_parse(&p, &fs, &seq);
    }
    return 0;
}
