/* fuzz_sfu_srtp.c: libFuzzer target for the SFU's SRTP/SRTCP (srtp.c). Each input is offered
 * to unprotect as received SRTP and SRTCP (it must be refused or accepted without a fault),
 * and protected as a packet the SFU sends: whatever protect accepts must come back unchanged
 * through the peer's unprotect. Fresh sessions per input, so no replay state carries over. */
#include "srtp.h"
#include <stdlib.h>
#include <string.h>

static void roundtrip(sfu_srtp *tx, sfu_srtp *rx, const uint8_t *d, size_t n, bool rtcp) {
    uint8_t buf[4096 + SFU_SRTP_TRAILER];
    if (n > 4096) return;
    memcpy(buf, d, n);
    size_t len = n;
    int r = rtcp ? sfu_srtcp_protect(tx, buf, &len, sizeof buf) : sfu_srtp_protect(tx, buf, &len, sizeof buf);
    if (r != 0) return;
    r = rtcp ? sfu_srtcp_unprotect(rx, buf, &len) : sfu_srtp_unprotect(rx, buf, &len);
    if (r != 0 || len != n || memcmp(buf, d, n) != 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    sfu_srtp_keys k;
    memset(&k, 0, sizeof k);
    k.profile = data[0] & 1 ? SFU_SRTP_AEAD_AES_128_GCM : SFU_SRTP_AES128_CM_SHA1_80;
    k.key_len = 16;
    k.salt_len = k.profile == SFU_SRTP_AEAD_AES_128_GCM ? 12 : 14;
    for (size_t i = 0; i < sizeof k.material; i++) k.material[i] = (uint8_t)(i * 31 + 7);
    sfu_srtp *srv = sfu_srtp_new(&k, true), *cli = sfu_srtp_new(&k, false);
    if (srv && cli) {
        uint8_t buf[4096];
        size_t n = size - 1 < sizeof buf ? size - 1 : sizeof buf;
        memcpy(buf, data + 1, n);
        size_t len = n;
        sfu_srtp_unprotect(srv, buf, &len);
        memcpy(buf, data + 1, n);
        len = n;
        sfu_srtcp_unprotect(srv, buf, &len);
        roundtrip(cli, srv, data + 1, n, false);
        roundtrip(cli, srv, data + 1, n, true);
    }
    sfu_srtp_free(srv);
    sfu_srtp_free(cli);
    return 0;
}
