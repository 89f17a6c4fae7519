/* test_server_cidr.c: trusted_proxies lists (cidr.c) and the per-source connection counts
 * (srclimit.c): parsing, prefix matching on and off byte boundaries, IPv4-mapped IPv6 as
 * IPv4, refusals; counts up to a cap, release, and an IPv6 /64 as one source. */
#include "cidr.h"
#include "source.h"
#include "srclimit.h"
#include "unit.h"

#include <sodium.h>
#include <string.h>

static char err[200];

TEST(parse_and_match) {
    cidr_list l;
    CHECK_EQ_INT(cidr_list_parse("127.0.0.1, 10.0.0.0/8 192.168.4.0/22,2001:db8:a::/48 ::1",
                                 &l, err, sizeof err), 0);
    CHECK_EQ_INT(l.n, 5);
    CHECK(cidr_list_match_ip(&l, "127.0.0.1"));
    CHECK(!cidr_list_match_ip(&l, "127.0.0.2"));
    CHECK(cidr_list_match_ip(&l, "10.255.1.2"));
    CHECK(!cidr_list_match_ip(&l, "11.0.0.1"));
    CHECK(cidr_list_match_ip(&l, "192.168.7.255"));   /* /22: 192.168.4.0 - 192.168.7.255 */
    CHECK(!cidr_list_match_ip(&l, "192.168.8.0"));
    CHECK(!cidr_list_match_ip(&l, "192.168.3.255"));
    CHECK(cidr_list_match_ip(&l, "2001:db8:a:ffff::1"));
    CHECK(!cidr_list_match_ip(&l, "2001:db8:b::1"));
    CHECK(cidr_list_match_ip(&l, "::1"));
    CHECK(!cidr_list_match_ip(&l, "::2"));
    CHECK(cidr_list_match_ip(&l, "::ffff:10.1.2.3"));   /* mapped: as IPv4 */
    CHECK(!cidr_list_match_ip(&l, "::ffff:11.1.2.3"));
    CHECK(!cidr_list_match_ip(&l, "not an address"));
    cidr_list_free(&l);
}

TEST(edges) {
    cidr_list l;
    CHECK_EQ_INT(cidr_list_parse("", &l, err, sizeof err), 0);
    CHECK_EQ_INT(l.n, 0);
    CHECK(!cidr_list_match_ip(&l, "127.0.0.1"));
    CHECK_EQ_INT(cidr_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    CHECK(cidr_list_match_ip(&l, "203.0.113.1"));
    CHECK(!cidr_list_match_ip(&l, "2001:db8::1"));      /* an IPv4 entry, not IPv6 */
    cidr_list_free(&l);
    CHECK_EQ_INT(cidr_list_parse("::ffff:10.0.0.0/104", &l, err, sizeof err), 0);
    CHECK(cidr_list_match_ip(&l, "10.9.9.9"));          /* mapped entry = 10.0.0.0/8 */
    cidr_list_free(&l);
}

TEST(refusals) {
    const char *bad[] = { "10.0.0.1/8", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x",
                          "example.org", "300.1.1.1", "fe80::1%eth0", "1.2.3.4/-1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cidr_list l;
        CHECK_EQ_INT(cidr_list_parse(bad[i], &l, err, sizeof err), -1);
        CHECK(l.v == NULL && l.n == 0);
        CHECK(err[0] != '\0');
    }
    /* more entries than the bound */
    char many[CIDR_LIST_MAX * 12 + 32] = "";
    size_t off = 0;
    for (int i = 0; i <= CIDR_LIST_MAX; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "10.0.%d.%d,", i / 256, i % 256);
    cidr_list l;
    CHECK_EQ_INT(cidr_list_parse(many, &l, err, sizeof err), -1);
}

TEST(per_source_counts) {
    srclimit *t = srclimit_new();
    CHECK(t != NULL);
    char k1[SOURCE_KEY_MAX], k2[SOURCE_KEY_MAX], k3[SOURCE_KEY_MAX];
    source_key("2001:db8:1:2::a", k1, sizeof k1);
    source_key("2001:db8:1:2::ffff", k2, sizeof k2);  /* same /64 */
    source_key("2001:db8:1:3::a", k3, sizeof k3);     /* another */
    CHECK_EQ_INT(srclimit_take(t, k1, 3), 0);
    CHECK_EQ_INT(srclimit_take(t, k2, 3), 0);
    CHECK_EQ_INT(srclimit_take(t, k1, 3), 0);
    CHECK_EQ_INT(srclimit_take(t, k2, 3), -1);         /* the /64 holds 3 */
    CHECK_EQ_INT(srclimit_count(t, k1), 3);
    CHECK_EQ_INT(srclimit_take(t, k3, 3), 0);
    CHECK_EQ_INT(srclimit_take(t, "192.0.2.1", 3), 0);
    CHECK_EQ_INT(srclimit_sources(t), 3);
    srclimit_release(t, k2);
    CHECK_EQ_INT(srclimit_take(t, k1, 3), 0);          /* room again */
    for (int i = 0; i < 3; i++) srclimit_release(t, k1);
    CHECK_EQ_INT(srclimit_count(t, k1), 0);
    CHECK_EQ_INT(srclimit_sources(t), 2);              /* the entry went with its last count */
    srclimit_release(t, "never-taken");                /* harmless */
    CHECK_EQ_INT(srclimit_take(t, "x", 0), -1);
    srclimit_free(t);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(parse_and_match);
    RUN(edges);
    RUN(refusals);
    RUN(per_source_counts);
    return UNIT_DONE("server_cidr");
}
