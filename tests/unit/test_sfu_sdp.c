/* test_sfu_sdp.c: SDP offer parsing on a real Chromium 156 offer with rid simulcast (saved
 * in tests/unit/data), an ssrc-group:SIM variant, malformed offers (each a clear error), and
 * the answer's content; m-lines at the length limit. */
#include "unit.h"
#include "sdp.h"
#include <stdio.h>
#include <stdlib.h>

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[SDP_MAX_LEN + 1];
    *len = fread(buf, 1, SDP_MAX_LEN, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

TEST(chromium_offer) {
    size_t len = 0;
    char *sdp = read_file(SFU_TEST_DATA "/chromium_simulcast_offer.sdp", &len);
    CHECK(sdp != NULL);
    if (!sdp) return;
    sdp_offer o;
    char err[128] = "";
    CHECK_EQ_INT(sdp_parse_offer(sdp, len, &o, err, sizeof err), 0);
    CHECK_EQ_STR(o.ice_ufrag, "ixDr");
    CHECK_EQ_STR(o.ice_pwd, "jx45++3+JLQeDZSC2FfN0Xet");
    CHECK_EQ_STR(o.fingerprint, "2F:8A:2B:DD:1A:BC:6B:18:59:28:9C:D3:6D:4E:37:ED:A0:7B:F1:EB:D8:7E:BD:8D:03:F3:4F:48:E2:5B:B7:96");
    CHECK_EQ_STR(o.setup, "actpass");
    CHECK_EQ_INT(o.n_media, 2);
    sdp_media *a = &o.media[0], *v = &o.media[1];
    CHECK_EQ_INT(a->kind, SDP_AUDIO);
    CHECK(a->accepted);
    CHECK_EQ_INT(a->pt, 111);
    CHECK_EQ_INT(a->ext_audio_level, 1);
    CHECK_EQ_INT(a->ext_twcc, 3);
    CHECK_EQ_INT(a->ext_mid, 4);
    CHECK_EQ_INT(a->ssrc[0], 3107733073u);
    CHECK_EQ_INT(v->kind, SDP_VIDEO);
    CHECK(v->accepted);
    CHECK_EQ_INT(v->pt, 96);
    CHECK_EQ_INT(v->rtx_pt, 97);
    CHECK_EQ_INT(v->n_layers, 3);
    CHECK_EQ_STR(v->rid[0], "q");
    CHECK_EQ_STR(v->rid[2], "f");
    CHECK_EQ_INT(v->ext_rid, 10);
    CHECK_EQ_INT(v->ext_rrid, 11);
    CHECK_EQ_INT(v->ext_twcc, 3);

    static char ans[8192];
    sdp_answer_params p = { "abcd", "0123456789abcdef012345", o.fingerprint, "127.0.0.1", 40000, 42, NULL };
    long n = sdp_build_answer(&o, &p, ans, sizeof ans);
    CHECK(n > 0);
    CHECK(strstr(ans, "a=ice-lite\r\n") != NULL);
    CHECK(strstr(ans, "a=group:BUNDLE 0 1\r\n") != NULL);
    CHECK(strstr(ans, "a=setup:passive\r\n") != NULL);
    CHECK(strstr(ans, "a=rtpmap:111 opus/48000/2\r\n") != NULL);
    CHECK(strstr(ans, "a=rtpmap:96 VP8/90000\r\n") != NULL);
    CHECK(strstr(ans, "a=fmtp:97 apt=96\r\n") != NULL);
    CHECK(strstr(ans, "a=simulcast:recv q;h;f\r\n") != NULL);
    CHECK(strstr(ans, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n") != NULL);
    CHECK(strstr(ans, "a=rtcp-mux\r\n") != NULL);
    CHECK(strstr(ans, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n") != NULL);
    /* The answer parses as SDP by our own parser's rules (structure, fingerprint). */
    sdp_offer back;
    CHECK_EQ_INT(sdp_parse_offer(ans, (size_t)n, &back, err, sizeof err), -1); /* setup:passive is not an offer */
    CHECK(strstr(err, "a=setup") != NULL);
    /* Too small a buffer: -1, no overflow. */
    CHECK_EQ_INT(sdp_build_answer(&o, &p, ans, 100), -1);
}

static const char *sim_offer =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE v\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:uf01\r\na=ice-pwd:pppppppppppppppppppppppp\r\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\r\n"
    "a=setup:actpass\r\na=mid:v\r\na=sendonly\r\na=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
    "a=ssrc-group:SIM 11 22 33\r\na=ssrc-group:FID 11 44\r\na=ssrc-group:FID 22 55\r\n"
    "a=ssrc:11 cname:x\r\na=ssrc:22 cname:x\r\na=ssrc:33 cname:x\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d\r\n";

TEST(ssrc_group_sim_offer) {
    sdp_offer o;
    char err[128] = "";
    CHECK_EQ_INT(sdp_parse_offer(sim_offer, strlen(sim_offer), &o, err, sizeof err), 0);
    CHECK_EQ_INT(o.n_media, 2);
    sdp_media *v = &o.media[0];
    CHECK_EQ_INT(v->n_layers, 3);
    CHECK_EQ_INT(v->ssrc[0], 11);
    CHECK_EQ_INT(v->ssrc[2], 33);
    CHECK_EQ_INT(v->rtx_ssrc[0], 44);
    CHECK_EQ_INT(v->rtx_ssrc[1], 55);
    CHECK_EQ_INT(v->rtx_ssrc[2], 0);
    CHECK_EQ_INT(v->dir, SDP_SENDONLY);
    CHECK(!o.media[1].accepted);
    CHECK_EQ_STR(o.fingerprint, "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
    char ans[4096];
    sdp_answer_params p = { "abcd", "0123456789abcdef012345", o.fingerprint, "::1", 1, 1, NULL };
    CHECK(sdp_build_answer(&o, &p, ans, sizeof ans) > 0);
    CHECK(strstr(ans, "a=recvonly\r\n") != NULL);
    CHECK(strstr(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n") != NULL);
    CHECK(strstr(ans, "a=group:BUNDLE v\r\n") != NULL);
}

/* Replaces the first occurrence of `from` in sim_offer by `to` and expects an error. */
static void expect_bad(const char *from, const char *to, const char *msg_part) {
    static char buf[4096];
    const char *at = strstr(sim_offer, from);
    CHECK(at != NULL);
    if (!at) return;
    size_t pre = (size_t)(at - sim_offer);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, sim_offer, to, at + strlen(from));
    sdp_offer o;
    char err[128] = "";
    int r = sdp_parse_offer(buf, strlen(buf), &o, err, sizeof err);
    CHECK_EQ_INT(r, -1);
    if (r == -1 && !strstr(err, msg_part)) {
        fprintf(stderr, "  error \"%s\" does not mention \"%s\"\n", err, msg_part);
        CHECK(0);
    }
}

TEST(malformed_offers) {
    expect_bad("v=0", "v=1", "v=0");
    expect_bad("a=ice-ufrag:uf01\r\n", "", "ice-ufrag");
    expect_bad("a=ice-pwd:pppppppppppppppppppppppp", "a=ice-pwd:short", "ice-pwd");
    expect_bad("sha-256 00:11", "sha-1 00:11", "fingerprint");
    expect_bad("00:11:22:33", "0G:11:22:33", "fingerprint");
    expect_bad("a=mid:v\r\n", "", "a=mid");
    expect_bad("a=setup:actpass", "a=setup:passive", "a=setup");
    expect_bad("a=ssrc-group:SIM 11 22 33", "a=ssrc-group:SIM 11 22 33 66", "ssrc-group");
    expect_bad("a=ssrc-group:SIM 11 22 33", "a=ssrc-group:SIM 11 x", "ssrc-group");
    expect_bad("a=ssrc:11 cname", "a=ssrc:99999999999 cname", "a=ssrc");
    expect_bad("a=rtpmap:96 VP8", "a=rtpmap:300 VP8", "rtpmap");
    expect_bad("s=-", "s=-\x01", "line 3");
    expect_bad("t=0 0", "t", "line 4");
    expect_bad("m=video 9 UDP/TLS/RTP/SAVPF 96 97", "m=video 9 RTP/AVP 96", "protocol");
    expect_bad("a=mid:v", "a=mid:v w", "a=mid");
    sdp_offer o;
    char err[64];
    CHECK_EQ_INT(sdp_parse_offer("", 0, &o, err, sizeof err), -1);
    CHECK_EQ_INT(sdp_parse_offer("v=0\r\n", 5, &o, err, sizeof err), -1);
    /* Every truncation either parses or fails with a message: never crashes (ASan watches). */
    size_t n = strlen(sim_offer);
    for (size_t t = 0; t < n; t++) sdp_parse_offer(sim_offer, t, &o, err, sizeof err);
    /* Too many m-lines. */
    static char many[16384];
    size_t off = (size_t)snprintf(many, sizeof many, "%s", sim_offer);
    for (int i = 0; i < SDP_MAX_MEDIA; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "m=application 9 UDP/DTLS/SCTP x\r\na=mid:m%d\r\n", i);
    CHECK_EQ_INT(sdp_parse_offer(many, off, &o, err, sizeof err), -1);
    CHECK(strstr(err, "too many") != NULL);
}

/* The m-line is echoed with its port replaced by 0 (sdp.c parse_mline). An empty port makes
 * the echo one byte longer than the line: a 1023-byte value no longer fits mline[1024] and
 * must be refused, not written one byte past it (the old strncat did that, bounded by the
 * source; under _FORTIFY_SOURCE it aborted the SFU and with it every group call). The
 * lengths either side of it must still parse exactly as before. */
static int parse_with_mline(const char *port, size_t value_len, sdp_offer *o, char *err, size_t el,
                            char *echo, size_t echo_cap) {
    static const char *from = "m=video 9 UDP/TLS/RTP/SAVPF 96 97";
    static char value[2048], buf[8192];
    int head = snprintf(value, sizeof value, "video %s UDP/TLS/RTP/SAVPF 96 97 ", port);
    CHECK(head > 0 && (size_t)head < value_len && value_len < sizeof value);
    memset(value + head, '1', value_len - (size_t)head); /* one long format token */
    value[value_len] = 0;
    snprintf(echo, echo_cap, "video 0 UDP/TLS/RTP/SAVPF 96 97 %s", value + head);
    const char *at = strstr(sim_offer, from);
    size_t pre = (size_t)(at - sim_offer);
    int n = snprintf(buf, sizeof buf, "%.*sm=%s%s", (int)pre, sim_offer, value, at + strlen(from));
    CHECK(n > 0 && (size_t)n < sizeof buf);
    return sdp_parse_offer(buf, (size_t)n, o, err, el);
}

TEST(long_mline_empty_port) {
    static sdp_offer o;
    char err[128];
    static char echo[2048];
    for (size_t len = 1019; len <= 1024; len++) {
        err[0] = 0;
        int r = parse_with_mline("", len, &o, err, sizeof err, echo, sizeof echo);
        if (len + 1 < sizeof o.media[0].mline) { /* the echo, one byte longer, fits */
            CHECK_EQ_INT(r, 0);
            CHECK_EQ_INT(strlen(echo), len + 1);
            if (r == 0) CHECK_EQ_STR(o.media[0].mline, echo);
        } else {
            if (r == 0) fprintf(stderr, "  value of %zu bytes with an empty port: parsed, mline holds %zu bytes\n",
                                len, strnlen(o.media[0].mline, sizeof o.media[0].mline));
            CHECK_EQ_INT(r, -1);
            CHECK(strstr(err, "m-line too long") != NULL);
        }
    }
    /* With a one-digit port the echo is as long as the line: 1023 bytes still fit. */
    CHECK_EQ_INT(parse_with_mline("9", 1023, &o, err, sizeof err, echo, sizeof echo), 0);
    CHECK_EQ_INT(strlen(echo), 1023);
    CHECK_EQ_STR(o.media[0].mline, echo);
    CHECK_EQ_INT(parse_with_mline("9", 1024, &o, err, sizeof err, echo, sizeof echo), -1);
}

int main(void) {
    RUN(chromium_offer);
    RUN(ssrc_group_sim_offer);
    RUN(malformed_offers);
    RUN(long_mline_empty_port);
    return UNIT_DONE("test_sfu_sdp");
}
