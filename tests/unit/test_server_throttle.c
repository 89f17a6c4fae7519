/* test_server_throttle.c: the per-connection flood bucket (allow, FLOOD_WAIT with a
 * retry_after, disconnect on sustained flood, refill), the login throttle (attempts counted
 * before the check and given back on success, backoff per (username, source), the looser
 * per-source window, pending caps, sweep), the per-source rate window and key counts. */
#include <stdio.h>

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

/* Five free attempts per (user, source), counted before the check: parallel guesses beyond
 * them are refused at once, and a correct password from another source is not affected. */
TEST(login_counts_before_check) {
    login_throttle *t = login_throttle_new(5, 100, 900);
    CHECK(t != NULL);
    int began = 0;
    for (int i = 0; i < 40; i++) began += login_throttle_begin(t, "alice", "1.1.1.1", 0) == 0;
    CHECK_EQ_INT(began, 5);
    /* the owner from elsewhere: the username's pending cap (5) is full until one ends */
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "2.2.2.2", 0), 1);
    for (int i = 0; i < 5; i++) login_throttle_end(t, "alice", "1.1.1.1", 0);
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "2.2.2.2", 0), 0);
    login_throttle_end(t, "alice", "2.2.2.2", 1);
    CHECK(login_throttle_begin(t, "alice", "1.1.1.1", 0) > 0);   /* the attacker still waits */
    CHECK_EQ_INT(login_throttle_begin(t, "bobby", "1.1.1.1", 0), 0);  /* other names: fine */
    login_throttle_end(t, "bobby", "1.1.1.1", 1);
    login_throttle_free(t);
}

/* After the free attempts each failure doubles the pair's delay, up to the window. */
TEST(login_backoff_grows) {
    login_throttle *t = login_throttle_new(2, 1000, 100);
    int64_t now = 0;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now), 0);
        login_throttle_end(t, "alice", "src", 0);
    }
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now), LOGIN_BACKOFF_BASE_S);
    uint32_t expect = LOGIN_BACKOFF_BASE_S;
    for (int i = 0; i < 8; i++) {
        now += login_throttle_begin(t, "alice", "src", now);
        CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now), 0);
        login_throttle_end(t, "alice", "src", 0);
        expect = expect * 2 > 100 ? 100 : expect * 2;
        CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now), (int)expect);
    }
    /* a window without attempts after the delay forgets the pair: free attempts again */
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now + 200), 0);
    login_throttle_end(t, "alice", "src", 0);
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now + 200), 0);
    login_throttle_end(t, "alice", "src", 0);
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "src", now + 200), LOGIN_BACKOFF_BASE_S);
    login_throttle_free(t);
}

TEST(login_success_gives_back) {
    login_throttle *t = login_throttle_new(2, 3, 60);
    for (int i = 0; i < 10; i++) {  /* right passwords are never counted */
        CHECK_EQ_INT(login_throttle_begin(t, "alice", "1.1.1.1", i), 0);
        login_throttle_end(t, "alice", "1.1.1.1", 1);
    }
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "1.1.1.1", 10), 0);
    login_throttle_end(t, "alice", "1.1.1.1", 0);
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "1.1.1.1", 10), 0);
    login_throttle_end(t, "alice", "1.1.1.1", 1);  /* clears the pair's failures */
    CHECK_EQ_INT(login_throttle_begin(t, "alice", "1.1.1.1", 10), 0);
    login_throttle_end(t, "alice", "1.1.1.1", 0);
    login_throttle_free(t);
}

/* The looser per-source window counts failures across usernames. */
TEST(login_source_window) {
    login_throttle *t = login_throttle_new(100, 3, 60);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        CHECK_EQ_INT(login_throttle_begin(t, name, "9.9.9.9", i), 0);
        login_throttle_end(t, name, "9.9.9.9", 0);
    }
    CHECK_EQ_INT(login_throttle_begin(t, "user_c", "9.9.9.9", 3), 57);  /* oldest at 0 */
    CHECK_EQ_INT(login_throttle_begin(t, "user_c", "8.8.8.8", 3), 0);
    login_throttle_end(t, "user_c", "8.8.8.8", 1);
    CHECK_EQ_INT(login_throttle_begin(t, "user_c", "9.9.9.9", 60), 0);  /* slid out */
    login_throttle_end(t, "user_c", "9.9.9.9", 0);
    login_throttle_free(t);
}

/* At most pair_limit checks pending per source, across usernames. */
TEST(login_source_pending_cap) {
    login_throttle *t = login_throttle_new(3, 100, 60);
    char name[16];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "user%d", i);
        CHECK_EQ_INT(login_throttle_begin(t, name, "7.7.7.7", 0), 0);
    }
    CHECK_EQ_INT(login_throttle_begin(t, "other", "7.7.7.7", 0), 1);
    CHECK_EQ_INT(login_throttle_begin(t, "other", "6.6.6.6", 0), 0);
    login_throttle_end(t, "user0", "7.7.7.7", 1);
    CHECK_EQ_INT(login_throttle_begin(t, "other", "7.7.7.7", 0), 0);
    login_throttle_free(t);
}

TEST(login_sweep_keeps_pending) {
    login_throttle *t = login_throttle_new(5, 5, 60);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "user%d", i);
        CHECK_EQ_INT(login_throttle_begin(t, name, name, 0), 0);
        if (i % 2) login_throttle_end(t, name, name, 0);
    }
    /* 1000 pairs, 1000 sources, 500 usernames pending */
    CHECK_EQ_INT(login_throttle_size(t), 2500);
    login_throttle_sweep(t, 1000);  /* only the pending ones stay */
    CHECK_EQ_INT(login_throttle_size(t), 1500);
    for (int i = 0; i < 1000; i += 2) {
        snprintf(name, sizeof name, "user%d", i);
        login_throttle_end(t, name, name, 0);
    }
    login_throttle_sweep(t, 2000);
    CHECK_EQ_INT(login_throttle_size(t), 0);
    login_throttle_free(t);
}

TEST(rate_window_limits_per_key) {
    rate_window *w = rate_window_new(3, 3600);
    CHECK(w != NULL);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(rate_window_take(w, "1.2.3.4", i * 10), 0);
    CHECK_EQ_INT(rate_window_take(w, "1.2.3.4", 30), 3570);
    CHECK_EQ_INT(rate_window_take(w, "1.2.3.5", 30), 0);
    CHECK_EQ_INT(rate_window_take(w, "1.2.3.4", 3600), 0);   /* the first slid out */
    CHECK_EQ_INT(rate_window_take(w, "1.2.3.4", 3600), 10);
    CHECK_EQ_INT(rate_window_size(w), 2);
    rate_window_sweep(w, 3630 + 3600);
    CHECK_EQ_INT(rate_window_size(w), 0);
    rate_window_free(w);
}

TEST(key_counts_cap) {
    key_counts *k = key_counts_new();
    CHECK(k != NULL);
    CHECK_EQ_INT(key_counts_take(k, "a", 2), 0);
    CHECK_EQ_INT(key_counts_take(k, "a", 2), 0);
    CHECK_EQ_INT(key_counts_take(k, "a", 2), -1);
    CHECK_EQ_INT(key_counts_take(k, "b", 2), 0);
    CHECK_EQ_INT(key_counts_get(k, "a"), 2);
    key_counts_give(k, "a");
    CHECK_EQ_INT(key_counts_take(k, "a", 2), 0);
    key_counts_give(k, "a");
    key_counts_give(k, "a");
    key_counts_give(k, "b");
    key_counts_give(k, "b");  /* more gives than takes: ignored */
    CHECK_EQ_INT(key_counts_size(k), 0);
    CHECK_EQ_INT(key_counts_take(k, "c", 0), -1);
    CHECK_EQ_INT(key_counts_size(k), 0);
    key_counts_free(k);
}

int main(void) {
    RUN(bucket_burst_then_wait);
    RUN(bucket_retry_after_covers_debt);
    RUN(bucket_sustained_flood_disconnects);
    RUN(bucket_never_exceeds_burst);
    RUN(login_counts_before_check);
    RUN(login_backoff_grows);
    RUN(login_success_gives_back);
    RUN(login_source_window);
    RUN(login_source_pending_cap);
    RUN(login_sweep_keeps_pending);
    RUN(rate_window_limits_per_key);
    RUN(key_counts_cap);
    return UNIT_DONE("server_throttle");
}
