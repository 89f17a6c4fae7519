/* test_sfu_twcc.c: transport-wide congestion feedback (twcc.c). Each packet the recorder builds
 * is read back by a parser written here from the draft's text (both chunk kinds, the padding
 * rule), and the arrival times it yields are compared with the ones recorded. */
#include "unit.h"
#include "rtp.h"
#include "twcc.h"
#include <stdlib.h>

typedef struct {
    uint16_t base, count;
    int32_t ref;      /* 64 ms units */
    uint8_t fb_count;
    bool got[512];
    int64_t at_us[512]; /* arrival relative to the reference time */
} parsed_fb;

static uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* draft-holmer-rmcat-transport-wide-cc-extensions-01 3.1. 0, or -1 if malformed. */
static int parse_fb(const uint8_t *b, size_t n, parsed_fb *f) {
    memset(f, 0, sizeof *f);
    if (n < 20 || (b[0] >> 6) != 2 || (b[0] & 0x1f) != 15 || b[1] != 205) return -1;
    if ((size_t)(get16(b + 2) + 1) * 4 != n) return -1;
    size_t end = n;
    if (b[0] & 0x20) { if (b[n - 1] == 0 || b[n - 1] > n - 20) return -1; end -= b[n - 1]; }
    f->base = get16(b + 12);
    f->count = get16(b + 14);
    uint32_t r = (uint32_t)b[16] << 16 | (uint32_t)b[17] << 8 | b[18];
    f->ref = (int32_t)(r << 8) >> 8;
    f->fb_count = b[19];
    if (f->count > 512) return -1;
    uint8_t sym[512];
    size_t o = 20;
    int k = 0;
    while (k < f->count) {
        if (o + 2 > end) return -1;
        uint16_t c = get16(b + o);
        o += 2;
        if (!(c & 0x8000)) { /* run length: 2-bit symbol, 13-bit length */
            for (int i = 0; i < (c & 0x1fff) && k < f->count; i++) sym[k++] = (uint8_t)((c >> 13) & 3);
        } else if (c & 0x4000) { /* two-bit vector, 7 symbols */
            for (int i = 0; i < 7 && k < f->count; i++) sym[k++] = (uint8_t)((c >> (12 - 2 * i)) & 3);
        } else { /* one-bit vector, 14 symbols */
            for (int i = 0; i < 14 && k < f->count; i++) sym[k++] = (uint8_t)((c >> (13 - i)) & 1);
        }
    }
    int64_t t = 0;
    for (k = 0; k < f->count; k++) {
        if (sym[k] == 0) continue;
        if (sym[k] == 3) return -1;
        int32_t d;
        if (sym[k] == 1) { if (o + 1 > end) return -1; d = b[o++]; }
        else { if (o + 2 > end) return -1; d = (int16_t)get16(b + o); o += 2; }
        t += (int64_t)d * 250;
        f->got[k] = true;
        f->at_us[k] = t;
    }
    return o <= end && end - o < 4 ? 0 : -1;
}

/* An arrival time as the feedback can say it: relative to the reference, in whole 250 us. */
static int64_t rel(uint64_t us, int32_t ref) { return (int64_t)(us / 250 * 250) - (int64_t)ref * 64000; }

TEST(twcc_losses_and_deltas) {
    twcc_recorder *r = calloc(1, sizeof *r);
    uint64_t t0 = 5000000123; /* an arbitrary monotonic clock */
    uint64_t at[12];
    for (int i = 0; i < 12; i++) {
        at[i] = t0 + (uint64_t)i * 3100 + (i == 9 ? 90000 : 0); /* 9: a 90 ms stall, large delta */
        if (i == 3 || i == 7) continue;                         /* lost */
        twcc_record(r, (uint16_t)(1000 + i), at[i]);
    }
    twcc_record(r, 1002, at[2] + 777); /* a duplicate keeps its first arrival */
    CHECK(twcc_pending(r));
    uint8_t b[1024];
    size_t n = twcc_build_feedback(r, b, sizeof b, 1, 0xabcd);
    CHECK(n > 0 && n % 4 == 0);
    CHECK_EQ_INT(rtcp_validate(b, n), 0);
    parsed_fb f;
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 1000);
    CHECK_EQ_INT(f.count, 12);
    CHECK_EQ_INT(f.fb_count, 0);
    for (int i = 0; i < 12; i++) {
        CHECK(f.got[i] == (i != 3 && i != 7));
        if (f.got[i]) CHECK_EQ_INT(f.at_us[i], rel(at[i], f.ref));
    }
    CHECK(!twcc_pending(r));
    CHECK_EQ_INT(twcc_build_feedback(r, b, sizeof b, 1, 0xabcd), 0);
    /* the next feedback starts after them, counts up, and ignores a late old packet */
    twcc_record(r, 1005, t0 + 999999);
    twcc_record(r, 1013, t0 + 200000);
    twcc_record(r, 1012, t0 + 199000); /* reordered on the way: the window starts at 1012 */
    n = twcc_build_feedback(r, b, sizeof b, 1, 0xabcd);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 1012);
    CHECK_EQ_INT(f.count, 2);
    CHECK_EQ_INT(f.fb_count, 1);
    CHECK_EQ_INT(f.at_us[0], rel(t0 + 199000, f.ref));
    CHECK_EQ_INT(f.at_us[1], rel(t0 + 200000, f.ref));
    free(r);
}

TEST(twcc_negative_delta_and_wrap) {
    twcc_recorder *r = calloc(1, sizeof *r);
    uint64_t t = 77000000;
    twcc_record(r, 65534, t + 5000);
    twcc_record(r, 65535, t);        /* arrived before the one sent earlier: negative delta */
    twcc_record(r, 0, t + 6000);     /* the sequence number wraps */
    twcc_record(r, 1, t + 6250);
    uint8_t b[256];
    size_t n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    parsed_fb f;
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 65534);
    CHECK_EQ_INT(f.count, 4);
    CHECK_EQ_INT(f.at_us[0], rel(t + 5000, f.ref));
    CHECK_EQ_INT(f.at_us[1], rel(t, f.ref));
    CHECK_EQ_INT(f.at_us[2], rel(t + 6000, f.ref));
    CHECK_EQ_INT(f.at_us[3], rel(t + 6250, f.ref));
    free(r);
}

/* More than one feedback's worth, a gap too long for 16 bits, a buffer too small. */
TEST(twcc_split_and_limits) {
    twcc_recorder *r = calloc(1, sizeof *r);
    uint64_t t = 1000000;
    for (int i = 0; i < 230; i++) twcc_record(r, (uint16_t)(40000 + i), t + (uint64_t)i * 1000);
    uint8_t b[1024], small[16];
    CHECK_EQ_INT(twcc_build_feedback(r, small, sizeof small, 1, 2), 0); /* nothing marked */
    parsed_fb f;
    size_t n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 40000);
    CHECK_EQ_INT(f.count, TWCC_MAX_PER_FEEDBACK);
    n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 40000 + TWCC_MAX_PER_FEEDBACK);
    CHECK_EQ_INT(f.count, 230 - TWCC_MAX_PER_FEEDBACK);
    CHECK_EQ_INT(f.at_us[0], rel(t + TWCC_MAX_PER_FEEDBACK * 1000, f.ref));
    /* 10 s between two packets does not fit a 16-bit delta: two feedbacks, each exact */
    twcc_record(r, 40230, t + 300000);
    twcc_record(r, 40231, t + 10300000);
    n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.count, 1);
    n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, 40231);
    CHECK_EQ_INT(f.at_us[0], rel(t + 10300000, f.ref));
    /* a jump past the window starts over there */
    twcc_record(r, 40232, t + 10400000);
    twcc_record(r, 40232 + TWCC_WINDOW + 5, t + 10500000);
    n = twcc_build_feedback(r, b, sizeof b, 1, 2);
    CHECK_EQ_INT(parse_fb(b, n, &f), 0);
    CHECK_EQ_INT(f.base, (uint16_t)(40232 + TWCC_WINDOW + 5));
    CHECK_EQ_INT(f.count, 1);
    free(r);
}

TEST(twcc_ext_seq_length) {
    static const uint8_t two[] = { 0x12, 0x34 }, three[] = { 1, 2, 3 };
    CHECK_EQ_INT(twcc_ext_seq(two, 2), 0x1234);
    CHECK_EQ_INT(twcc_ext_seq(three, 3), -1);
    CHECK_EQ_INT(twcc_ext_seq(NULL, 2), -1);
}

int main(void) {
    RUN(twcc_losses_and_deltas);
    RUN(twcc_negative_delta_and_wrap);
    RUN(twcc_split_and_limits);
    RUN(twcc_ext_seq_length);
    return UNIT_DONE("test_sfu_twcc");
}
