/* test_sfu_srtp.c: the SFU's own SRTP/SRTCP (srtp.c, on OpenSSL) against the RFC 3711 B.3
 * key-derivation vectors and against libsrtp2, the reference implementation, both ways, for
 * both profiles: what ours protects libsrtp2 must unprotect byte for byte and the reverse,
 * across a sequence-number wrap (the rollover counter), with CSRCs and header extensions, for
 * several SSRCs; replays, tampering, and forged packets are refused and change nothing. */
#include "unit.h"
#include "srtp.h"
#include <openssl/rand.h>
#include <srtp2/srtp.h>

static void hex(const char *h, uint8_t *out) {
    for (size_t i = 0; h[2 * i]; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
}

TEST(kdf_rfc3711_b3) {
    uint8_t mk[16], ms[14], want[20], got[20];
    hex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
    hex("0EC675AD498AFEEBB6960B3AABE6", ms);
    hex("C61E7A93744F39EE10734AFE3FF7A087", want);
    CHECK_EQ_INT(sfu_srtp_kdf(mk, ms, 14, 0, got, 16), 0);
    CHECK(memcmp(got, want, 16) == 0);
    hex("30CBBC08863D8C85D49DB34A9AE1", want);
    CHECK_EQ_INT(sfu_srtp_kdf(mk, ms, 14, 2, got, 14), 0);
    CHECK(memcmp(got, want, 14) == 0);
    hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
    CHECK_EQ_INT(sfu_srtp_kdf(mk, ms, 14, 1, got, 20), 0);
    CHECK(memcmp(got, want, 20) == 0);
    CHECK_EQ_INT(sfu_srtp_kdf(mk, ms, 15, 0, got, 16), -1);
}

/* Random DTLS-SRTP material for a profile: client key | server key | client salt | server salt. */
static void material(sfu_srtp_keys *k, sfu_srtp_profile p) {
    memset(k, 0, sizeof *k);
    k->profile = p;
    k->key_len = 16;
    k->salt_len = p == SFU_SRTP_AEAD_AES_128_GCM ? 12 : 14;
    RAND_bytes(k->material, 2 * (k->key_len + k->salt_len));
}

/* A libsrtp2 session for one half of the material (server = the half ours sends with). */
static srtp_t ref_session(const sfu_srtp_keys *k, bool server_half, bool outbound) {
    uint8_t master[30];
    const uint8_t *key = k->material + (server_half ? k->key_len : 0);
    const uint8_t *salt = k->material + 2 * k->key_len + (server_half ? k->salt_len : 0);
    memcpy(master, key, k->key_len);
    memcpy(master + k->key_len, salt, k->salt_len);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (k->profile == SFU_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
    }
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = master;
    p.window_size = 1024;
    p.allow_repeat_tx = 1;
    srtp_t s = NULL;
    if (srtp_create(&s, &p) != srtp_err_status_ok) return NULL;
    return s;
}

/* An RTP packet: 2 CSRCs and a one-byte-header extension when `rich`, a payload of n bytes. */
static size_t rtp(uint8_t *b, uint32_t ssrc, uint16_t seq, bool rich, size_t n) {
    size_t h = 12;
    b[0] = rich ? 0x92 : 0x80;
    b[1] = 96;
    b[2] = (uint8_t)(seq >> 8); b[3] = (uint8_t)seq;
    memset(b + 4, 0x11, 4);
    b[8] = (uint8_t)(ssrc >> 24); b[9] = (uint8_t)(ssrc >> 16); b[10] = (uint8_t)(ssrc >> 8); b[11] = (uint8_t)ssrc;
    if (rich) {
        memset(b + 12, 0x22, 8);
        static const uint8_t ext[] = { 0xbe, 0xde, 0, 1, 0x10, 0x85, 0, 0 };
        memcpy(b + 20, ext, sizeof ext);
        h = 28;
    }
    for (size_t i = 0; i < n; i++) b[h + i] = (uint8_t)(i * 7 + seq);
    return h + n;
}

static size_t rtcp(uint8_t *b, uint32_t ssrc) {
    static const uint8_t rr[] = { 0x81, 201, 0, 7 };
    memcpy(b, rr, 4);
    b[4] = (uint8_t)(ssrc >> 24); b[5] = (uint8_t)(ssrc >> 16); b[6] = (uint8_t)(ssrc >> 8); b[7] = (uint8_t)ssrc;
    for (int i = 8; i < 32; i++) b[i] = (uint8_t)i;
    return 32;
}

/* Ours -> libsrtp2 and libsrtp2 -> ours, RTP across a wrap on two SSRCs, then RTCP. */
static void interop(sfu_srtp_profile prof) {
    sfu_srtp_keys k;
    material(&k, prof);
    sfu_srtp *ours = sfu_srtp_new(&k, true);
    srtp_t ref_in = ref_session(&k, true, false), ref_out = ref_session(&k, false, true);
    CHECK(ours && ref_in && ref_out);
    if (!ours || !ref_in || !ref_out) return;
    uint8_t a[1600], b[1600];
    for (int i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(65520 + i);          /* wraps at i = 16: ROC 0 -> 1 */
        uint32_t ssrc = i % 2 ? 0x1234 : 0xabcdef01;
        size_t n = rtp(a, ssrc, seq, i % 3 == 0, (size_t)(i * 37 % 1100));
        memcpy(b, a, n);
        size_t len = n;
        CHECK_EQ_INT(sfu_srtp_protect(ours, a, &len, sizeof a), 0);
        int rl = (int)len;
        CHECK_EQ_INT(srtp_unprotect(ref_in, a, &rl), srtp_err_status_ok);
        CHECK(rl == (int)n && memcmp(a, b, n) == 0);
        rl = (int)n;
        CHECK_EQ_INT(srtp_protect(ref_out, b, &rl), srtp_err_status_ok);
        len = (size_t)rl;
        CHECK_EQ_INT(sfu_srtp_unprotect(ours, b, &len), 0);
        CHECK(len == n && memcmp(a, b, n) == 0);
    }
    for (int i = 0; i < 5; i++) {
        size_t n = rtcp(a, 0x55667788);
        memcpy(b, a, n);
        size_t len = n;
        CHECK_EQ_INT(sfu_srtcp_protect(ours, a, &len, sizeof a), 0);
        int rl = (int)len;
        CHECK_EQ_INT(srtp_unprotect_rtcp(ref_in, a, &rl), srtp_err_status_ok);
        CHECK(rl == (int)n && memcmp(a, b, n) == 0);
        rl = (int)n;
        CHECK_EQ_INT(srtp_protect_rtcp(ref_out, b, &rl), srtp_err_status_ok);
        len = (size_t)rl;
        CHECK_EQ_INT(sfu_srtcp_unprotect(ours, b, &len), 0);
        CHECK(len == n && memcmp(a, b, n) == 0);
    }
    srtp_dealloc(ref_in);
    srtp_dealloc(ref_out);
    sfu_srtp_free(ours);
}

TEST(interop_gcm) { interop(SFU_SRTP_AEAD_AES_128_GCM); }
TEST(interop_cm_sha1_80) { interop(SFU_SRTP_AES128_CM_SHA1_80); }

/* Replays, tampering, forgeries and short input are refused; a refused packet moves nothing. */
static void refusals(sfu_srtp_profile prof) {
    sfu_srtp_keys k;
    material(&k, prof);
    sfu_srtp *srv = sfu_srtp_new(&k, true), *cli = sfu_srtp_new(&k, false);
    CHECK(srv && cli);
    if (!srv || !cli) { sfu_srtp_free(srv); sfu_srtp_free(cli); return; }
    uint8_t p[1600], q[1600];
    size_t n = rtp(p, 7, 100, false, 200), len = n;
    CHECK_EQ_INT(sfu_srtp_protect(cli, p, &len, sizeof p), 0);
    memcpy(q, p, len);
    size_t qlen = len;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, p, &len), 0);
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, q, &qlen), -1);            /* the same packet again */
    /* a forged packet far ahead (bad tag) must not move the window: seq 101 still passes */
    size_t fn = rtp(q, 7, 5000, false, 200) + 16;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, q, &fn), -1);
    n = rtp(p, 7, 101, false, 200); len = n;
    CHECK_EQ_INT(sfu_srtp_protect(cli, p, &len, sizeof p), 0);
    p[20] ^= 1;                                                       /* tampered payload */
    memcpy(q, p, len);
    qlen = len;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, q, &qlen), -1);
    p[20] ^= 1;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, p, &len), 0);
    /* 200 packets later, 101 is outside the 128-packet window even with a valid tag */
    uint8_t old[1600];
    n = rtp(old, 7, 102, false, 50); size_t olen = n;
    CHECK_EQ_INT(sfu_srtp_protect(cli, old, &olen, sizeof old), 0);
    for (uint16_t s = 103; s < 303; s++) {
        n = rtp(p, 7, s, false, 50); len = n;
        CHECK_EQ_INT(sfu_srtp_protect(cli, p, &len, sizeof p), 0);
        CHECK_EQ_INT(sfu_srtp_unprotect(srv, p, &len), 0);
    }
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, old, &olen), -1);
    /* short or malformed input, and no room for the tag */
    for (size_t m = 0; m < 30; m++) { size_t l = m; CHECK_EQ_INT(sfu_srtp_unprotect(srv, p, &l), -1); }
    for (size_t m = 0; m < 8; m++) { size_t l = m; CHECK_EQ_INT(sfu_srtcp_unprotect(srv, p, &l), -1); }
    n = rtp(p, 7, 400, false, 10); len = n;
    CHECK_EQ_INT(sfu_srtp_protect(cli, p, &len, n + 4), -1);
    p[0] = 0x40; len = n;                                             /* version 1 */
    CHECK_EQ_INT(sfu_srtp_protect(cli, p, &len, sizeof p), -1);
    /* SRTCP: a replayed and a tampered compound */
    n = rtcp(p, 9); len = n;
    CHECK_EQ_INT(sfu_srtcp_protect(cli, p, &len, sizeof p), 0);
    memcpy(q, p, len); qlen = len;
    CHECK_EQ_INT(sfu_srtcp_unprotect(srv, p, &len), 0);
    CHECK_EQ_INT(sfu_srtcp_unprotect(srv, q, &qlen), -1);
    n = rtcp(p, 9); len = n;
    CHECK_EQ_INT(sfu_srtcp_protect(cli, p, &len, sizeof p), 0);
    p[10] ^= 0x40;
    CHECK_EQ_INT(sfu_srtcp_unprotect(srv, p, &len), -1);
    sfu_srtp_free(srv);
    sfu_srtp_free(cli);
}

TEST(refusals_gcm) { refusals(SFU_SRTP_AEAD_AES_128_GCM); }
TEST(refusals_cm_sha1_80) { refusals(SFU_SRTP_AES128_CM_SHA1_80); }

TEST(bad_material) {
    sfu_srtp_keys k;
    material(&k, SFU_SRTP_AEAD_AES_128_GCM);
    k.salt_len = 14;                               /* GCM takes a 12-byte salt */
    CHECK(sfu_srtp_new(&k, true) == NULL);
    material(&k, SFU_SRTP_AES128_CM_SHA1_80);
    k.key_len = 32;
    CHECK(sfu_srtp_new(&k, true) == NULL);
}

int main(void) {
    if (srtp_init() != srtp_err_status_ok) return 1;
    RUN(kdf_rfc3711_b3);
    RUN(interop_gcm);
    RUN(interop_cm_sha1_80);
    RUN(refusals_gcm);
    RUN(refusals_cm_sha1_80);
    RUN(bad_material);
    srtp_shutdown();
    return UNIT_DONE("test_sfu_srtp");
}
