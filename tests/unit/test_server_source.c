/* test_server_source.c: source keys: IPv4 as itself, IPv6 by its /64, IPv4-mapped IPv6 as
 * IPv4, brackets and zones stripped, anything else as itself. */
#include "source.h"
#include "unit.h"

#include <string.h>

static const char *key(const char *ip)
{
    static char out[SOURCE_KEY_MAX];
    return source_key(ip, out, sizeof out);
}

TEST(ipv4_is_itself) {
    CHECK_EQ_STR(key("192.0.2.7"), "192.0.2.7");
    CHECK_EQ_STR(key("127.0.0.1"), "127.0.0.1");
}

TEST(ipv6_counts_by_its_64) {
    CHECK_EQ_STR(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    CHECK_EQ_STR(key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
    CHECK(strcmp(key("2001:db8:1:3::1"), "2001:db8:1:2::/64") != 0);
    CHECK_EQ_STR(key("::1"), "::/64");
    CHECK_EQ_STR(key("[2001:db8:1:2::9]"), "2001:db8:1:2::/64");
    CHECK_EQ_STR(key("fe80::1%eth0"), "fe80::/64");
}

TEST(mapped_ipv4_is_ipv4) {
    CHECK_EQ_STR(key("::ffff:192.0.2.7"), "192.0.2.7");
}

TEST(other_is_itself) {
    CHECK_EQ_STR(key(""), "");
    CHECK_EQ_STR(key("unix"), "unix");
    char small[4];
    CHECK_EQ_STR(source_key("192.0.2.7", small, sizeof small), "");  /* did not fit */
}

int main(void)
{
    RUN(ipv4_is_itself);
    RUN(ipv6_counts_by_its_64);
    RUN(mapped_ipv4_is_ipv4);
    RUN(other_is_itself);
    return UNIT_DONE("server_source");
}
