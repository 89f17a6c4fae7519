/* test_lib_loop.c: a bounded wait of the client loop returns even when its deadline is
 * already due as the wait begins (the thread lost the CPU in between). Before the fix the
 * deadline timer fired ahead of the poll and the poll then blocked until the next I/O or
 * lws timer; with no connection there is neither, so the test would hang: the alarm turns
 * that into a failure instead of a stuck test run. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "  a loop wait with a due deadline never returned\nFAIL due_deadline_ends_the_wait\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

TEST(due_deadline_ends_the_wait)
{
    parley_error err;
    parley_loop *l = parley_loop_new(&err);
    CHECK(l != NULL);
    if (!l) return;
    signal(SIGALRM, on_alarm);
    alarm(20);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(pl_loop_wait(l, 0), 0);
    alarm(0);
    /* The stop flag does not outlive the wait: the loop still runs afterwards. */
    CHECK_EQ_INT(parley_loop_run(l, 0), 0);
    CHECK_EQ_INT(parley_loop_run(l, 1), 0);
    parley_loop_free(l);
}

int main(void)
{
    RUN(due_deadline_ends_the_wait);
    return UNIT_DONE("lib_loop");
}
