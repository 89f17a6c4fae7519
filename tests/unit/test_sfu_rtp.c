/* test_sfu_rtp.c: RTP/RTCP parsers and builders on handmade packets (padding, CSRCs, one- and
 * two-byte header extensions, compound RTCP, NACK/PLI/FIR/REMB) and VP8 keyframe detection. */
#include "unit.h"
#include "rtp.h"

TEST(rtp_basic_csrc_padding) {
    /* V=2 P=1 CC=2, M=1 PT=96, seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304, 2 CSRCs,
     * payload "abc", 3 bytes of padding (count 3). */
    static const uint8_t p[] = { 0xa2, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
                                 0, 0, 0, 9, 0, 0, 0, 10, 'a', 'b', 'c', 0, 0, 3 };
    rtp_hdr h;
    CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
    CHECK(h.marker);
    CHECK_EQ_INT(h.pt, 96);
    CHECK_EQ_INT(h.seq, 0x1234);
    CHECK_EQ_INT(h.ts, 0xdeadbeef);
    CHECK_EQ_INT(h.ssrc, 0x01020304);
    CHECK_EQ_INT(h.csrc_count, 2);
    CHECK_EQ_INT(h.header_len, 20);
    CHECK_EQ_INT(h.payload_len, 3);
    CHECK(memcmp(h.payload, "abc", 3) == 0);
    CHECK_EQ_INT(h.padding, 3);
    uint8_t bad[sizeof p];
    memcpy(bad, p, sizeof p);
    bad[sizeof p - 1] = 7; /* padding count larger than the payload */
    CHECK_EQ_INT(rtp_parse(bad, sizeof bad, &h), -1);
    bad[sizeof p - 1] = 0;
    CHECK_EQ_INT(rtp_parse(bad, sizeof bad, &h), -1);
    bad[sizeof p - 1] = 3;
    bad[0] = 0x62; /* version 1 */
    CHECK_EQ_INT(rtp_parse(bad, sizeof bad, &h), -1);
    for (size_t n = 0; n < 20; n++) CHECK_EQ_INT(rtp_parse(p, n, &h), -1);
    CHECK(!rtp_is_rtcp(p, sizeof p));
}

TEST(rtp_one_byte_ext) {
    /* X=1, profile 0xBEDE length 2 words: id 1 len 1 (audio level 0x85: voice, level 5),
     * id 3 len 3 (twcc-like 3 bytes), padding 0, then id 15 stops. */
    static const uint8_t p[] = { 0x90, 0x6f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2,
                                 0xbe, 0xde, 0x00, 0x02, 0x10, 0x85, 0x32, 0xaa, 0xbb, 0xcc, 0x00, 0x00,
                                 'x' };
    rtp_hdr h;
    CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
    CHECK_EQ_INT(h.ext_profile, 0xBEDE);
    CHECK_EQ_INT(h.n_ext, 2);
    const rtp_ext *e = rtp_find_ext(&h, 1);
    CHECK(e != NULL);
    bool voice = false;
    CHECK_EQ_INT(rtp_audio_level(e, &voice), 5);
    CHECK(voice);
    e = rtp_find_ext(&h, 3);
    CHECK(e && e->len == 3 && e->data[0] == 0xaa && e->data[2] == 0xcc);
    CHECK(rtp_find_ext(&h, 2) == NULL);
    CHECK_EQ_INT(h.payload_len, 1);
    /* An element whose length runs past the block. */
    uint8_t bad[sizeof p];
    memcpy(bad, p, sizeof p);
    bad[18] = 0x3f; /* id 3, len 16 */
    CHECK_EQ_INT(rtp_parse(bad, sizeof bad, &h), -1);
    /* Extension block longer than the packet. */
    memcpy(bad, p, sizeof p);
    bad[15] = 0x09;
    CHECK_EQ_INT(rtp_parse(bad, sizeof bad, &h), -1);
}

TEST(rtp_two_byte_ext) {
    static const uint8_t p[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2,
                                 0x10, 0x00, 0x00, 0x02, 0x05, 0x00, 0x07, 0x03, 1, 2, 3, 0, 'y', 'z' };
    rtp_hdr h;
    CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
    CHECK_EQ_INT(h.n_ext, 2);
    const rtp_ext *e = rtp_find_ext(&h, 5);
    CHECK(e && e->len == 0);
    e = rtp_find_ext(&h, 7);
    CHECK(e && e->len == 3 && e->data[1] == 2);
    CHECK_EQ_INT(h.payload_len, 2);
}

TEST(rtp_rewrite_and_build) {
    uint8_t b[16] = { 0 };
    CHECK_EQ_INT(rtp_write_header(b, sizeof b, 111, true, 7, 960, 0xabcdef01), 12);
    CHECK_EQ_INT(rtp_write_header(b, 11, 111, true, 7, 960, 0xabcdef01), 0);
    rtp_rewrite(b, 8, 1920, 0x11223344);
    rtp_hdr h;
    CHECK_EQ_INT(rtp_parse(b, 12, &h), 0);
    CHECK_EQ_INT(h.seq, 8);
    CHECK_EQ_INT(h.ts, 1920);
    CHECK_EQ_INT(h.ssrc, 0x11223344);
    CHECK_EQ_INT(h.pt, 111);
    CHECK(h.marker);
}

static void collect(void *arg, uint16_t seq) {
    uint16_t *a = arg;
    if (a[0] < 40) a[1 + a[0]++] = seq;
}

TEST(rtcp_compound_and_feedback) {
    uint8_t b[512];
    size_t n = 0, ends[5];
    n += rtcp_build_rr(b + n, sizeof b - n, 0x1111, 0x2222, 10, 5, 1000, 3, 0, 0);
    uint16_t lost[] = { 100, 101, 105, 116, 117, 200 };
    size_t nack = rtcp_build_nack(b + n, sizeof b - n, 0x1111, 0x2222, lost, 6);
    CHECK_EQ_INT(nack, 24); /* 100(+101,105,116), 117, 200 */
    ends[0] = n;
    n += nack; ends[1] = n;
    n += rtcp_build_pli(b + n, sizeof b - n, 0x1111, 0x2222); ends[2] = n;
    n += rtcp_build_fir(b + n, sizeof b - n, 0x1111, 0x3333, 9); ends[3] = n;
    uint32_t ss[2] = { 0x2222, 0x3333 };
    n += rtcp_build_remb(b + n, sizeof b - n, 0x1111, 1500000, ss, 2); ends[4] = n;
    CHECK_EQ_INT(rtcp_validate(b, n), 0);
    CHECK(rtp_is_rtcp(b, n));

    size_t off = 0;
    rtcp_pkt p;
    int kinds = 0;
    while (rtcp_next(b, n, &off, &p) == 1) {
        kinds++;
        if (p.pt == RTCP_RTPFB && p.fmt == RTCP_FMT_NACK) {
            uint16_t got[41] = { 0 };
            CHECK_EQ_INT(rtcp_nack_foreach(&p, collect, got), 6);
            CHECK_EQ_INT(got[0], 6);
            for (int i = 0; i < 6; i++) CHECK_EQ_INT(got[1 + i], lost[i]);
            CHECK_EQ_INT(p.media_ssrc, 0x2222);
        } else if (p.pt == RTCP_PSFB && p.fmt == RTCP_FMT_FIR) {
            uint32_t s; uint8_t seq;
            CHECK_EQ_INT(rtcp_fir_parse(&p, &s, &seq), 0);
            CHECK_EQ_INT(s, 0x3333);
            CHECK_EQ_INT(seq, 9);
        } else if (p.pt == RTCP_PSFB && p.fmt == RTCP_FMT_AFB) {
            uint64_t br; uint32_t got[4]; int ng = 0;
            CHECK_EQ_INT(rtcp_remb_parse(&p, &br, got, 4, &ng), 0);
            CHECK(br <= 1500000 && br > 1490000); /* mantissa rounding */
            CHECK_EQ_INT(ng, 2);
            CHECK_EQ_INT(got[1], 0x3333);
        } else if (p.pt == RTCP_PSFB) {
            CHECK_EQ_INT(p.fmt, RTCP_FMT_PLI);
            CHECK_EQ_INT(p.media_ssrc, 0x2222);
        } else {
            CHECK_EQ_INT(p.pt, RTCP_RR);
            CHECK_EQ_INT(p.fmt, 1);
        }
    }
    CHECK_EQ_INT(kinds, 5);
    /* Any truncation of the compound is rejected as a whole (lengths are word aligned). */
    for (size_t t = 1; t < n; t++) {
        bool boundary = false;
        for (int i = 0; i < 5; i++) boundary |= t == ends[i];
        CHECK_EQ_INT(rtcp_validate(b, t), boundary ? 0 : -1);
    }
    /* Length field beyond the buffer. */
    uint8_t bad[64];
    memcpy(bad, b, 32);
    bad[3] = 20;
    CHECK_EQ_INT(rtcp_validate(bad, 32), -1);
    /* RR claiming 3 report blocks in a 1-block packet. */
    memcpy(bad, b, 32);
    bad[0] = 0x83;
    CHECK_EQ_INT(rtcp_validate(bad, 32), -1);
    /* Padding with a zero count. */
    uint8_t pli[12];
    rtcp_build_pli(pli, sizeof pli, 1, 2);
    pli[0] |= 0x20; pli[11] = 0;
    CHECK_EQ_INT(rtcp_validate(pli, 12), -1);
    CHECK_EQ_INT(rtcp_validate(b, 0), -1);
}

TEST(rtcp_sr) {
    uint8_t b[64];
    size_t n = rtcp_build_sr(b, sizeof b, 0x5555, 0x0102030405060708ULL, 90000, 10, 1000);
    CHECK_EQ_INT(n, 28);
    size_t off = 0;
    rtcp_pkt p;
    CHECK_EQ_INT(rtcp_next(b, n, &off, &p), 1);
    CHECK_EQ_INT(p.pt, RTCP_SR);
    CHECK_EQ_INT(p.ssrc, 0x5555);
    CHECK_EQ_INT(rtcp_next(b, n, &off, &p), 0);
    CHECK_EQ_INT(rtcp_build_sr(b, 27, 1, 2, 3, 4, 5), 0);
}

TEST(vp8_descriptor) {
    vp8_desc d;
    /* X=1 S=1 PID=0; I=1 L=1 T=1; 15-bit picture id 0x1234; tl0 7; tid 2; payload P=0 (key). */
    static const uint8_t key[] = { 0x90, 0xe0, 0x92, 0x34, 0x07, 0x80, 0x10, 0x02, 0x00 };
    CHECK_EQ_INT(vp8_parse(key, sizeof key, &d), 0);
    CHECK(d.keyframe);
    CHECK(d.has_picture_id);
    CHECK_EQ_INT(d.picture_id, 0x1234);
    CHECK_EQ_INT(d.tl0picidx, 7);
    CHECK_EQ_INT(d.tid, 2);
    CHECK_EQ_INT(d.descriptor_len, 6);
    static const uint8_t delta[] = { 0x90, 0x80, 0x05, 0x01 }; /* 7-bit pid, P=1 */
    CHECK_EQ_INT(vp8_parse(delta, sizeof delta, &d), 0);
    CHECK(!d.keyframe);
    CHECK_EQ_INT(d.picture_id, 5);
    static const uint8_t cont[] = { 0x00, 0x00 }; /* not a start of partition */
    CHECK_EQ_INT(vp8_parse(cont, sizeof cont, &d), 0);
    CHECK(!d.keyframe);
    static const uint8_t simple_key[] = { 0x10, 0x00 }; /* no X, S=1, P=0 */
    CHECK_EQ_INT(vp8_parse(simple_key, sizeof simple_key, &d), 0);
    CHECK(d.keyframe);
    /* Every cut before the payload header's first byte is an error. */
    for (size_t n = 0; n <= 6; n++) CHECK_EQ_INT(vp8_parse(key, n, &d), -1);
}

int main(void) {
    RUN(rtp_basic_csrc_padding);
    RUN(rtp_one_byte_ext);
    RUN(rtp_two_byte_ext);
    RUN(rtp_rewrite_and_build);
    RUN(rtcp_compound_and_feedback);
    RUN(rtcp_sr);
    RUN(vp8_descriptor);
    return UNIT_DONE("test_sfu_rtp");
}
