/* fuzz_sfu_rtp.c: libFuzzer target for the RTP parser, header extensions and audio level
 * (rtp.c); every returned pointer/length is read back so ASan checks it is inside the input. */
#include "rtp.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtp_hdr h;
    if (rtp_parse(data, size, &h) == 0) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < h.payload_len; i++) sink ^= h.payload[i];
        for (int i = 0; i < h.n_ext; i++)
            for (uint8_t j = 0; j < h.ext[i].len; j++) sink ^= h.ext[i].data[j];
        bool voice;
        rtp_audio_level(rtp_find_ext(&h, 1), &voice);
        (void)sink;
    }
    return 0;
}
