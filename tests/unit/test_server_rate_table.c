/*
 * test_server_rate_table.c: the per-account token buckets of rate_table.c (secret sends and
 * prekey-bundle fetches), with the clock given by the test.
 */
#include "rate_table.h"
#include "unit.h"

#define S 1000000LL

TEST(burst_then_rate_and_no_charge_when_refused)
{
    rate_table *t = rate_table_new();
    CHECK(t != NULL);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 0), 0);
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 0), 2);        /* 1 token at 0.5/s: 2 s */
    for (int i = 0; i < 100; i++)                             /* refusals cost nothing */
        CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, S), 1);
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 2 * S), 0);    /* the wait given was enough */
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 2 * S), 2);
    CHECK_EQ_INT(rate_table_take(t, 8, 0.5, 3, 2 * S), 0);    /* another key: its own bucket */
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 100 * S), 0);  /* refills up to the burst only */
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 100 * S), 0);
    CHECK_EQ_INT(rate_table_take(t, 7, 0.5, 3, 100 * S), 0);
    CHECK(rate_table_take(t, 7, 0.5, 3, 100 * S) > 0);
    rate_table_free(t);
}

TEST(full_buckets_are_swept)
{
    rate_table *t = rate_table_new();
    for (uint64_t k = 1; k <= 2000; k++) CHECK_EQ_INT(rate_table_take(t, k, 1, 10, 0), 0);
    CHECK_EQ_INT(rate_table_size(t), 2000);                  /* none full at 0: all kept */
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(rate_table_take(t, 99999, 1, 10, 100 * S), 0);
    CHECK(rate_table_take(t, 99999, 1, 10, 100 * S) > 0);
    for (uint64_t k = 3001; k <= 3100; k++) CHECK_EQ_INT(rate_table_take(t, k, 1, 10, 100 * S), 0);
    CHECK(rate_table_size(t) < 200);                         /* the refilled ones went */
    CHECK(rate_table_take(t, 99999, 1, 10, 100 * S) > 0);    /* the drained one stayed */
    rate_table_free(t);
}

int main(void)
{
    RUN(burst_then_rate_and_no_charge_when_refused);
    RUN(full_buckets_are_swept);
    return UNIT_DONE("rate_table");
}
