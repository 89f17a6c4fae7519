/*
 * cmd_receive.c: `parley receive [--timeout SECONDS] [--follow]`.
 *
 * Prints this device's updates in order from parley_next_update(), which first replays
 * everything since the position saved in the profile and then delivers live updates. The
 * wait is cut into short slices so that SIGINT/SIGTERM (which only set a flag) end the
 * loop promptly even if the library retries an interrupted poll(). A wait of 0 (the default,
 * and the last call once --timeout has run out) still gets everything pending, because
 * parley_next_update(0) waits for the catch-up in flight. Returning normally lets
 * main close the client, which saves the position.
 */
#include <time.h>

#include "cli.h"

/* Longest single wait, so a stop signal is noticed within this many milliseconds. */
#define SLICE_MS 250

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_receive(cli_ctx *ctx, int argc, char **argv)
{
    cli_opt opts[] = {{"timeout", 1, NULL}, {"follow", 0, NULL}};
    int npos, rc = cli_parse(ctx, "receive", argc, argv, opts, 2, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos)
        return cli_usage(ctx, "receive", "unexpected argument '%s'", argv[0]);
    uint32_t timeout_s = 0;
    if (opts[0].value && cli_parse_duration(opts[0].value, 0, CLI_MAX_TIMER, &timeout_s) != 0)
        return cli_usage(ctx, "receive", "--timeout needs seconds, not '%s'", opts[0].value);
    int follow = opts[1].value != NULL;
    if (follow && opts[0].value)
        return cli_usage(ctx, "receive", "give either --timeout or --follow");

    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    /* Connect first: a wrong server or a terminated session is reported as such instead
     * of looking like "no updates". */
    if (parley_connect(c, &err) != 0)
        return cli_fail(ctx, &err, NULL);

    cli_catch_stop_signals();
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    while (!cli_stop_requested()) {
        int64_t left = follow ? SLICE_MS : deadline - now_ms();
        int wait = left <= 0 ? 0 : left > SLICE_MS ? SLICE_MS : (int)left;
        parley_update *u = NULL;
        int r = parley_next_update(c, wait, &u, &err);
        if (r == 0) {
            out_update(ctx, u);
            parley_update_free(u);
            if (ferror(stdout))
                return CLI_EXIT_FAIL;   /* the reader went away (closed pipe) */
            continue;
        }
        if (r == -PARLEY_E_TIMEOUT) {
            if (!follow && wait == 0)   /* the pending-only call after the deadline */
                break;
            continue;
        }
        return cli_fail(ctx, &err, NULL);
    }
    return 0;
}
