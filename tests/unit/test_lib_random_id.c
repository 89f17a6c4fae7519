/* test_lib_random_id.c: SendMessage keys are non-zero, strictly increasing per client even
 * within one millisecond and after the clock steps back, and carry the time in their high
 * bits (milliseconds since 2020-01-01 << 23), so that the server's index takes them in order. */
#include <string.h>
#include <time.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static uint64_t ms_since_2020(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u - 1577836800000ULL;
}

TEST(increasing_within_a_burst)
{
    parley_client c;
    memset(&c, 0, sizeof c);
    uint64_t prev = 0;
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        uint64_t id = pl_new_random_id(&c);
        if (id == 0 || id <= prev) ok = 0;
        prev = id;
    }
    CHECK(ok);
}

TEST(time_in_the_high_bits)
{
    parley_client c;
    memset(&c, 0, sizeof c);
    uint64_t before = ms_since_2020();
    uint64_t id = pl_new_random_id(&c);
    uint64_t after = ms_since_2020();
    CHECK(id >> 23 >= before);
    CHECK(id >> 23 <= after);
}

TEST(clock_back_still_increasing)
{
    parley_client c;
    memset(&c, 0, sizeof c);
    uint64_t ahead = (ms_since_2020() + 3600000u) << 23;    /* issued "an hour from now" */
    c.last_random_id = ahead;
    CHECK(pl_new_random_id(&c) == ahead + 1);
    CHECK(pl_new_random_id(&c) == ahead + 2);
}

TEST(two_clients_differ)
{
    parley_client a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int same = 0;
    for (int i = 0; i < 1000; i++)
        if (pl_new_random_id(&a) == pl_new_random_id(&b)) same++;
    CHECK(same < 5);   /* 23 random bits per millisecond: a collision here is ~1e-4 */
}

int main(void)
{
    RUN(increasing_within_a_burst);
    RUN(time_in_the_high_bits);
    RUN(clock_back_still_increasing);
    RUN(two_clients_differ);
    return UNIT_DONE("lib_random_id");
}
