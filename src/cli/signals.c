/*
 * signals.c: lets long-running commands (`receive --follow`, interactive mode) stop cleanly
 * on SIGINT/SIGTERM. The handler only records the signal; the command notices it between
 * short waits, returns normally, and main closes the client, which saves the sync position
 * so the next `receive` neither repeats nor skips updates.
 */
#include <signal.h>
#include <string.h>

#include "cli.h"

/* Written by the signal handler, read by the main loop: the one global the CLI needs. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

void cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;     /* no SA_RESTART: a blocking poll() returns early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_stop_requested(void)
{
    return stop_signal;
}
