/* test_server_throttle.c: the per-connection flood bucket (allow, FLOOD_WAIT with a
 * retry_after, disconnect on sustained flood, refill) and the login-failure windows (per
 * username, per address, sliding expiry, reset on success, sweep). */
#include "throttle.h"
#include "unit.h"

#define SEC 1000000LL

TEST(bucket_burst_then_wait) {
    flood_bucket b;
    uint32_t retry = 0;
    flood_init(&b, 10, 0);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(flood_take(&b, 2, 10, 0, &retry), FLOOD_ALLOW);
    CHECK_EQ_INT(flood_take(&b, 2, 10, 0, &retry), FLOOD_WAIT);
    CHECK(retry >= 1);
    /* Half a second at 2/s repays the one-token debt and earns... not quite a new token. */
    CHECK_EQ_INT(flood_take(&b, 2, 10, SEC / 2, &retry), FLOOD_WAIT);
    CHECK_EQ_INT(flood_take(&b, 2, 10, 3 * SEC, &retry), FLOOD_ALLOW);
}

TEST(bucket_retry_after_covers_debt) {
    flood_bucket b;
    uint32_t retry = 0;
    flood_init(&b, 1, 0);
    CHECK_EQ_INT(flood_take(&b, 1, 1, 0, &retry), FLOOD_ALLOW);
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(flood_take(&b, 1, 1, 0, &retry), FLOOD_WAIT);
    CHECK_EQ_INT(retry, 3);  /* tokens -2: 3 s until one is back */
    CHECK_EQ_INT(flood_take(&b, 1, 1, (int64_t)retry * SEC, &retry), FLOOD_ALLOW);
}

TEST(bucket_sustained_flood_disconnects) {
    flood_bucket b;
    uint32_t retry;
    flood_init(&b, 5, 0);
    int verdict = FLOOD_ALLOW, n = 0;
    while (verdict != FLOOD_DISCONNECT && n < 1000) {
        verdict = flood_take(&b, 1, 5, 0, &retry);
        n++;
    }
    CHECK_EQ_INT(verdict, FLOOD_DISCONNECT);
    CHECK_EQ_INT(n, 5 + 5 * FLOOD_DEBT_FACTOR + 1);
}

TEST(bucket_never_exceeds_burst) {
    flood_bucket b;
    uint32_t retry;
    flood_init(&b, 3, 0);
    int allowed = 0;
    for (int i = 0; i < 10; i++) allowed += flood_take(&b, 100, 3, 1000 * SEC, &retry) == 0;
    CHECK_EQ_INT(allowed, 3);
}

TEST(login_user_limit_and_window) {
    login_throttle *t = login_throttle_new(3, 100, 60);
    CHECK(t != NULL);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "1.1.1.1", 0), 0);
    login_throttle_fail(t, "alice", "1.1.1.1", 0);
    login_throttle_fail(t, "alice", "2.2.2.2", 10);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "3.3.3.3", 10), 0);
    login_throttle_fail(t, "alice", "3.3.3.3", 20);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "4.4.4.4", 20), 40);  /* oldest at 0 */
    CHECK_EQ_INT(login_throttle_check(t, "bobby", "4.4.4.4", 20), 0);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "4.4.4.4", 59), 1);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "4.4.4.4", 60), 0);   /* slid out */
    login_throttle_fail(t, "alice", "4.4.4.4", 60);
    CHECK_EQ_INT(login_throttle_check(t, "alice", "4.4.4.4", 61), 9);  /* oldest now 10 */
    login_throttle_free(t);
}

TEST(login_ip_limit) {
    login_throttle *t = login_throttle_new(100, 2, 60);
    login_throttle_fail(t, "user_a", "9.9.9.9", 0);
    login_throttle_fail(t, "user_b", "9.9.9.9", 0);
    CHECK_EQ_INT(login_throttle_check(t, "user_c", "9.9.9.9", 1), 59);
    CHECK_EQ_INT(login_throttle_check(t, "user_c", "8.8.8.8", 1), 0);
    login_throttle_free(t);
}

TEST(login_success_resets_user_only) {
    login_throttle *t = login_throttle_new(2, 2, 60);
    login_throttle_fail(t, "alice", "1.1.1.1", 0);
    login_throttle_fail(t, "alice", "1.1.1.1", 0);
    CHECK(login_throttle_check(t, "alice", "5.5.5.5", 0) > 0);
    login_throttle_success(t, "alice");
    CHECK_EQ_INT(login_throttle_check(t, "alice", "5.5.5.5", 0), 0);
    CHECK(login_throttle_check(t, "alice", "1.1.1.1", 0) > 0);  /* the address still is */
    login_throttle_free(t);
}

TEST(login_sweep_and_growth) {
    login_throttle *t = login_throttle_new(5, 5, 60);
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "user%d", i);
        login_throttle_fail(t, name, name, i < 1000 ? 0 : 100);
    }
    CHECK_EQ_INT(login_throttle_size(t), 4000);
    login_throttle_sweep(t, 100);  /* the first 1000 of each are past their window */
    CHECK_EQ_INT(login_throttle_size(t), 2000);
    login_throttle_fail(t, "user1500", "x", 101);
    CHECK_EQ_INT(login_throttle_size(t), 2001);
    login_throttle_sweep(t, 1000);
    CHECK_EQ_INT(login_throttle_size(t), 0);
    login_throttle_free(t);
}

int main(void) {
    RUN(bucket_burst_then_wait);
    RUN(bucket_retry_after_covers_debt);
    RUN(bucket_sustained_flood_disconnects);
    RUN(bucket_never_exceeds_burst);
    RUN(login_user_limit_and_window);
    RUN(login_ip_limit);
    RUN(login_success_resets_user_only);
    RUN(login_sweep_and_growth);
    return UNIT_DONE("server_throttle");
}
