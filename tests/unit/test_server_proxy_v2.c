/* test_server_proxy_v2.c: the PROXY protocol v2 header parser (proxy_v2.c), against headers
 * built here byte by byte from the specification: IPv4, IPv6, LOCAL, UNSPEC, TLVs skipped,
 * every truncation asking for exactly the bytes still missing, and malformed headers
 * refused at the first wrong byte. */
#include "proxy_v2.h"
#include "unit.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t SIG[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* A header: version/command byte, family/transport byte, then `len` bytes of body. */
static size_t build(uint8_t *out, uint8_t vc, uint8_t fam, const uint8_t *body, size_t len)
{
    memcpy(out, SIG, 12);
    out[12] = vc;
    out[13] = fam;
    out[14] = (uint8_t)(len >> 8);
    out[15] = (uint8_t)len;
    if (len) memcpy(out + 16, body, len);
    return 16 + len;
}

static size_t v4_header(uint8_t *out, const char *src, uint16_t sport, size_t extra)
{
    uint8_t body[12 + 64] = { 0 };
    inet_pton(AF_INET, src, body);
    inet_pton(AF_INET, "192.0.2.1", body + 4);
    body[8] = (uint8_t)(sport >> 8);
    body[9] = (uint8_t)sport;
    body[10] = 0x20;
    body[11] = 0xfb;           /* 8443 */
    for (size_t i = 0; i < extra; i++) body[12 + i] = (uint8_t)i;  /* a TLV's bytes */
    return build(out, 0x21, 0x11, body, 12 + extra);
}

TEST(ipv4_proxy) {
    uint8_t h[128];
    size_t n = v4_header(h, "203.0.113.7", 51234, 0);
    proxy_v2_info info;
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), 28);
    CHECK_EQ_INT(info.command, PROXY_V2_PROXY);
    CHECK_EQ_INT(info.family, AF_INET);
    char ip[64];
    inet_ntop(AF_INET, info.src_addr, ip, sizeof ip);
    CHECK_EQ_STR(ip, "203.0.113.7");
    CHECK_EQ_INT(info.src_port, 51234);
}

TEST(ipv6_proxy_with_tlvs) {
    uint8_t body[36 + 7] = { 0 };
    inet_pton(AF_INET6, "2001:db8:1:2::abcd", body);
    inet_pton(AF_INET6, "2001:db8::1", body + 16);
    body[32] = 0x12;
    body[33] = 0x34;
    /* a PP2_TYPE_NOOP TLV of 4 bytes, skipped */
    body[36] = 0x04;
    body[37] = 0;
    body[38] = 4;
    uint8_t h[128];
    size_t n = build(h, 0x21, 0x21, body, sizeof body);
    proxy_v2_info info;
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), (long)n);
    CHECK_EQ_INT(info.family, AF_INET6);
    char ip[64];
    inet_ntop(AF_INET6, info.src_addr, ip, sizeof ip);
    CHECK_EQ_STR(ip, "2001:db8:1:2::abcd");
    CHECK_EQ_INT(info.src_port, 0x1234);
}

TEST(local_and_unspec_name_no_client) {
    uint8_t h[300];
    proxy_v2_info info;
    /* LOCAL (a health check): no address, whatever the family says */
    size_t n = build(h, 0x20, 0x00, NULL, 0);
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), 16);
    CHECK_EQ_INT(info.command, PROXY_V2_LOCAL);
    CHECK_EQ_INT(info.family, AF_UNSPEC);
    uint8_t body[12] = { 1, 2, 3, 4 };
    n = build(h, 0x20, 0x11, body, sizeof body);
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), 28);
    CHECK_EQ_INT(info.family, AF_UNSPEC);
    /* PROXY over UNSPEC, and over AF_UNIX: the proxy stays the source */
    n = build(h, 0x21, 0x00, NULL, 0);
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), 16);
    CHECK_EQ_INT(info.family, AF_UNSPEC);
    uint8_t unix_body[216] = { '/' };
    n = build(h, 0x21, 0x31, unix_body, sizeof unix_body);
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), 232);
    CHECK_EQ_INT(info.family, AF_UNSPEC);
}

/* Fed one byte at a time, the parser asks for the fixed part, then the whole header, and
 * never for a byte beyond it. */
TEST(incremental_asks_exactly) {
    uint8_t h[128];
    size_t n = v4_header(h, "198.51.100.9", 1, 10);
    proxy_v2_info info;
    for (size_t have = 0; have < n; have++) {
        CHECK_EQ_INT(proxy_v2_parse(h, have, &info), 0);
        CHECK_EQ_INT(info.want, have < 16 ? 16 : n);
    }
    CHECK_EQ_INT(proxy_v2_parse(h, n, &info), (long)n);
}

TEST(malformed_refused) {
    uint8_t h[PROXY_V2_MAX + 64];
    proxy_v2_info info;
    size_t n = v4_header(h, "203.0.113.7", 1, 0);
    /* each signature byte wrong, refused as soon as it is present */
    for (size_t i = 0; i < 12; i++) {
        uint8_t c[128];
        memcpy(c, h, n);
        c[i] ^= 0x40;
        CHECK_EQ_INT(proxy_v2_parse(c, i + 1, &info), -1);
        CHECK_EQ_INT(proxy_v2_parse(c, n, &info), -1);
    }
    uint8_t c[128];
    memcpy(c, h, n);
    c[12] = 0x11;              /* version 1 in the binary form */
    CHECK_EQ_INT(proxy_v2_parse(c, 13, &info), -1);
    c[12] = 0x22;              /* command 2 */
    CHECK_EQ_INT(proxy_v2_parse(c, 13, &info), -1);
    memcpy(c, h, n);
    c[13] = 0x41;              /* family 4 */
    CHECK_EQ_INT(proxy_v2_parse(c, 14, &info), -1);
    c[13] = 0x13;              /* transport 3 */
    CHECK_EQ_INT(proxy_v2_parse(c, 14, &info), -1);
    /* an IPv4 block shorter than 12 bytes, an IPv6 one shorter than 36 */
    uint8_t body[40] = { 0 };
    n = build(c, 0x21, 0x11, body, 11);
    CHECK_EQ_INT(proxy_v2_parse(c, 16, &info), -1);
    n = build(c, 0x21, 0x21, body, 35);
    CHECK_EQ_INT(proxy_v2_parse(c, n, &info), -1);
    /* longer than our bound, refused before any of it is read */
    build(h, 0x21, 0x11, body, 12);
    h[14] = (uint8_t)((PROXY_V2_MAX - 16 + 1) >> 8);
    h[15] = (uint8_t)(PROXY_V2_MAX - 16 + 1);
    CHECK_EQ_INT(proxy_v2_parse(h, 16, &info), -1);
    h[14] = (uint8_t)((PROXY_V2_MAX - 16) >> 8);
    h[15] = (uint8_t)(PROXY_V2_MAX - 16);
    CHECK_EQ_INT(proxy_v2_parse(h, 16, &info), 0);
    CHECK_EQ_INT(info.want, PROXY_V2_MAX);
    /* version 1 text and TLS are no v2 header */
    CHECK_EQ_INT(proxy_v2_parse((const uint8_t *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32,
                                &info), -1);
    const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
    CHECK_EQ_INT(proxy_v2_parse(tls, sizeof tls, &info), -1);
}

TEST(looks_like_proxy) {
    CHECK(proxy_v2_looks_like_proxy(SIG, 1));
    CHECK(proxy_v2_looks_like_proxy(SIG, 12));
    CHECK(proxy_v2_looks_like_proxy((const uint8_t *)"PROXY TCP4 ", 11));
    CHECK(!proxy_v2_looks_like_proxy((const uint8_t *)"PROX", 4));  /* not yet sure */
    CHECK(!proxy_v2_looks_like_proxy((const uint8_t *)"POST / HTTP/1.1", 15));
    const uint8_t tls[] = { 0x16, 0x03, 0x01 };
    CHECK(!proxy_v2_looks_like_proxy(tls, sizeof tls));
    CHECK(!proxy_v2_looks_like_proxy(tls, 0));
}

int main(void)
{
    RUN(ipv4_proxy);
    RUN(ipv6_proxy_with_tlvs);
    RUN(local_and_unspec_name_no_client);
    RUN(incremental_asks_exactly);
    RUN(malformed_refused);
    RUN(looks_like_proxy);
    return UNIT_DONE("server_proxy_v2");
}
