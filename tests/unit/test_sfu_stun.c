/* test_sfu_stun.c: STUN parsing and building against the RFC 5769 test vectors (typed from
 * the RFC text), plus malformed messages and round trips of our own builders. */
#include "unit.h"
#include "stun.h"
#include <arpa/inet.h>
#include <netinet/in.h>

/* RFC 5769 2.1: sample request, short-term password "VOkJxbRl1RmTxUk/WvJxBt". */
static const uint8_t req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
/* RFC 5769 2.2: sample IPv4 response, mapped address 192.0.2.1:32853. */
static const uint8_t resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};
static const char pw[] = "VOkJxbRl1RmTxUk/WvJxBt";

TEST(rfc5769_request) {
    stun_msg m;
    CHECK(stun_is_stun(req, sizeof req));
    CHECK_EQ_INT(stun_parse(req, sizeof req, &m), 0);
    CHECK_EQ_INT(m.type, STUN_BINDING_REQUEST);
    CHECK(m.has_fingerprint);
    CHECK(m.has_integrity);
    CHECK(m.ice_controlled);
    CHECK(m.has_priority);
    CHECK_EQ_INT(m.priority, 0x6e0001ff);
    CHECK_EQ_INT(m.username_len, 9);
    CHECK(m.username && memcmp(m.username, "evtj:h6vY", 9) == 0);
    CHECK_EQ_INT(stun_check_integrity(req, sizeof req, &m, (const uint8_t *)pw, strlen(pw)), 0);
    CHECK_EQ_INT(stun_check_integrity(req, sizeof req, &m, (const uint8_t *)"wrong", 5), -1);
}

TEST(rfc5769_response_ipv4) {
    stun_msg m;
    CHECK_EQ_INT(stun_parse(resp4, sizeof resp4, &m), 0);
    CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
    CHECK(m.has_xor_mapped);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&m.xor_mapped;
    CHECK_EQ_INT(sin->sin_family, AF_INET);
    CHECK_EQ_INT(ntohs(sin->sin_port), 32853);
    CHECK_EQ_INT(ntohl(sin->sin_addr.s_addr), 0xc0000201);
    CHECK_EQ_INT(stun_check_integrity(resp4, sizeof resp4, &m, (const uint8_t *)pw, strlen(pw)), 0);
}

TEST(corrupted_rejected) {
    uint8_t b[sizeof req];
    stun_msg m;
    /* Any flipped bit in the body breaks FINGERPRINT (or integrity, if it is the CRC itself). */
    for (size_t i = 20; i < sizeof req; i++) {
        memcpy(b, req, sizeof req);
        b[i] ^= 0x01;
        int ok = stun_parse(b, sizeof b, &m) == 0 &&
                 stun_check_integrity(b, sizeof b, &m, (const uint8_t *)pw, strlen(pw)) == 0 &&
                 m.has_fingerprint;
        CHECK(!ok);
    }
    /* Truncations. */
    for (size_t n = 0; n < sizeof req; n++) CHECK_EQ_INT(stun_parse(req, n, &m), -1);
    /* Length field beyond the datagram. */
    memcpy(b, req, sizeof req);
    b[3] = 0x5c;
    CHECK_EQ_INT(stun_parse(b, sizeof b, &m), -1);
    /* Attribute length running past the end. */
    static const uint8_t bad_attr[] = { 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
                                        5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x06, 0x00, 0x40, 'a', 'b', 'c', 'd' };
    CHECK_EQ_INT(stun_parse(bad_attr, sizeof bad_attr, &m), -1);
    /* Unknown comprehension-required attribute. */
    static const uint8_t unknown_req[] = { 0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
                                           5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x33, 0x00, 0x00 };
    CHECK_EQ_INT(stun_parse(unknown_req, sizeof unknown_req, &m), -1);
    /* RTP is not STUN. */
    static const uint8_t rtp[24] = { 0x80, 0x60 };
    CHECK(!stun_is_stun(rtp, sizeof rtp));
}

TEST(build_round_trip) {
    uint8_t tid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, buf[512];
    const uint8_t key[] = "localpassword0123456789";
    size_t n = stun_build_binding_request(buf, sizeof buf, tid, "abcd:efgh", 12345, true, key, sizeof key - 1);
    CHECK(n > 0);
    stun_msg m;
    CHECK_EQ_INT(stun_parse(buf, n, &m), 0);
    CHECK(m.use_candidate && m.ice_controlling && m.has_fingerprint);
    CHECK_EQ_INT(m.priority, 12345);
    CHECK_EQ_INT(stun_check_integrity(buf, n, &m, key, sizeof key - 1), 0);

    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(50000);
    inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &a6.sin6_addr);
    n = stun_build_binding_success(buf, sizeof buf, tid, (struct sockaddr *)&a6, key, sizeof key - 1);
    CHECK(n > 0);
    CHECK_EQ_INT(stun_parse(buf, n, &m), 0);
    CHECK(m.has_xor_mapped);
    const struct sockaddr_in6 *got = (const struct sockaddr_in6 *)&m.xor_mapped;
    CHECK_EQ_INT(got->sin6_family, AF_INET6);
    CHECK_EQ_INT(ntohs(got->sin6_port), 50000);
    CHECK(memcmp(&got->sin6_addr, &a6.sin6_addr, 16) == 0);
    CHECK_EQ_INT(stun_check_integrity(buf, n, &m, key, sizeof key - 1), 0);

    n = stun_build_error(buf, sizeof buf, tid, 401, "Unauthorized");
    CHECK(n > 0);
    CHECK_EQ_INT(stun_parse(buf, n, &m), 0);
    CHECK_EQ_INT(m.error_code, 401);
    CHECK_EQ_INT(m.type, STUN_BINDING_ERROR);
    /* Too small a buffer gives 0, never an overflow. */
    for (size_t cap = 0; cap < 60; cap++)
        CHECK_EQ_INT(stun_build_binding_request(buf, cap, tid, "abcd:efgh", 1, true, key, sizeof key - 1), 0);
}

int main(void) {
    RUN(rfc5769_request);
    RUN(rfc5769_response_ipv4);
    RUN(corrupted_rejected);
    RUN(build_round_trip);
    return UNIT_DONE("test_sfu_stun");
}
