/* test_sfu_corpus.c: replays the committed fuzz corpora (tests/fuzz/corpus/<target>) through
 * the same fuzz entry points in the normal and ASan builds, so `make test` exercises every
 * parser on them without clang's libFuzzer. The fuzz files are included with renamed entry
 * points; the files themselves stay the libFuzzer targets of `make fuzz-smoke-sfu`. */
#include "unit.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LLVMFuzzerTestOneInput fuzz_stun
#include "../fuzz/fuzz_sfu_stun.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_rtp
#include "../fuzz/fuzz_sfu_rtp.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_rtcp
#include "../fuzz/fuzz_sfu_rtcp.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sdp
#include "../fuzz/fuzz_sfu_sdp.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_vp8
#include "../fuzz/fuzz_sfu_vp8.c"
#undef LLVMFuzzerTestOneInput


/* Returns the number of files replayed (each also with every prefix length). */
static int replay(const char *name, int (*fn)(const uint8_t *, size_t)) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/../../fuzz/corpus/%s", SFU_TEST_DATA, name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    static uint8_t buf[65536];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (size_t cut = 0; cut <= len; cut += (len > 2000 ? 97 : 1)) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
            memcpy(copy, buf, cut);
            fn(copy, cut);
            free(copy);
        }
        n++;
    }
    closedir(d);
    return n;
}

TEST(replay_all) {
    CHECK(replay("stun", fuzz_stun) >= 2);
    CHECK(replay("rtp", fuzz_rtp) >= 3);
    CHECK(replay("rtcp", fuzz_rtcp) >= 2);
    CHECK(replay("sdp", fuzz_sdp) >= 2);
    CHECK(replay("vp8", fuzz_vp8) >= 2);
}

int main(void) {
    RUN(replay_all);
    return UNIT_DONE("test_sfu_corpus");
}
