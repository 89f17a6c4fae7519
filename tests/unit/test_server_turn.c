/* test_server_turn.c: TURN REST credentials (turn.c) against a vector computed independently
 * (Python's hmac + base64), and the call settings in config.c: defaults, ranges, and that a bad
 * turn_secret is refused without its value being echoed into the error. */
#include "config.h"
#include "turn.h"
#include "unit.h"

#include <string.h>

TEST(mint_vector) {
    char user[TURN_USER_MAX], cred[TURN_CRED_MAX];
    CHECK_EQ_INT(turn_mint("s3cret", 42, 1700000000, user, sizeof user, cred, sizeof cred), 0);
    CHECK_EQ_STR(user, "1700000000:42");
    CHECK_EQ_STR(cred, "pkGfLzidB0U1T2lLkxNy/vgk7ZE=");
}

TEST(mint_refuses) {
    char user[TURN_USER_MAX], cred[TURN_CRED_MAX], tiny[8];
    CHECK_EQ_INT(turn_mint("", 1, 1, user, sizeof user, cred, sizeof cred), -1);
    CHECK_EQ_INT(turn_mint(NULL, 1, 1, user, sizeof user, cred, sizeof cred), -1);
    CHECK_EQ_INT(turn_mint("s", 1, 1700000000, tiny, sizeof tiny, cred, sizeof cred), -1);
    CHECK_EQ_INT(turn_mint("s", 1, 1, user, sizeof user, tiny, sizeof tiny), -1);
}

TEST(call_config) {
    server_config c;
    char err[256];
    CHECK_EQ_INT(config_defaults(&c), 0);
    CHECK_EQ_INT(c.turn_ttl, 3600);
    CHECK_EQ_INT(c.call_ring_timeout, 45);
    CHECK(c.turn_urls == NULL && c.turn_secret == NULL);
    CHECK_EQ_INT(config_apply_text(&c, "turn_urls = turn:127.0.0.1:3478\nturn_secret = abc\n"
                                   "turn_ttl = 60\ncall_ring_timeout = 2\n", "t", err, sizeof err), 0);
    CHECK_EQ_STR(c.turn_urls, "turn:127.0.0.1:3478");
    CHECK_EQ_STR(c.turn_secret, "abc");
    CHECK_EQ_INT(c.turn_ttl, 60);
    CHECK_EQ_INT(c.call_ring_timeout, 2);
    CHECK_EQ_INT(config_set(&c, "turn_ttl", "59", err, sizeof err), -1);
    CHECK_EQ_INT(config_set(&c, "call_ring_timeout", "0", err, sizeof err), -1);
    CHECK_EQ_INT(config_set(&c, "call_ring_timeout", "601", err, sizeof err), -1);
    char longsecret[300];
    memset(longsecret, 'q', sizeof longsecret - 1);
    longsecret[sizeof longsecret - 1] = '\0';
    CHECK_EQ_INT(config_set(&c, "turn_secret", longsecret, err, sizeof err), -1);
    CHECK(strstr(err, "qqqq") == NULL);
    CHECK_EQ_STR(c.turn_secret, "abc");   /* unchanged */
    config_free(&c);
    CHECK(c.turn_secret == NULL && c.turn_urls == NULL);
}

int main(void)
{
    RUN(mint_vector);
    RUN(mint_refuses);
    RUN(call_config);
    return UNIT_DONE("turn");
}
