/*
 * main.c: parley-sfu, the SFU process parleyd starts and supervises. Parses the command line,
 * creates the sfu_core on a libuv loop, serves the control socket (control.c) and stops
 * cleanly on SIGINT/SIGTERM.
 */
#include "capture.h"
#include "control.h"
#include "log.h"
#include "sfu.h"
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr, "usage: parley-sfu [--bind ADDR] [--port N] [--control PATH] "
                    "[--consent-timeout MS] [--log-level L] [--exit-with-parent PID]\n"
                    "                  [--capture FILE]   (test hook: records decrypted RTP)\n"
                    "                  [--loss PERCENT]   (test hook: drops 0-50 %% of SRTP each way)\n");
}

static void on_signal(uv_signal_t *s, int signum) { uv_stop(s->loop); }

static void on_event(void *arg, const sfu_event *ev) { sfu_control_event(arg, ev); }

/* A whole non-negative decimal number no larger than max, or -1. */
static long parse_num(const char *v, long max) {
    char *end;
    long l = strtol(v, &end, 10);
    return (end == v || *end || l < 0 || l > max) ? -1 : l;
}

/* Fills cfg and the paths from argv. 0, or an exit code (2: usage, 1: cannot start). */
static int parse_args(int argc, char **argv, sfu_config *cfg, const char **control_path,
                      const char **capture_path) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l = 0;
        if (!v) { usage(); return 2; }
        i++;
        if (!strcmp(a, "--exit-with-parent") && (l = parse_num(v, INT_MAX)) > 0) {
            /* A supervisor (parleyd) killed with SIGKILL cannot stop us: the kernel does.
             * WHY the parent's pid on the command line: if it died before this line ran
             * (start-up takes a while under a sanitizer), getppid() already names whoever
             * adopted us, and the death signal would never come. */
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != (pid_t)l) return 1;
            continue;
        }
        if (!strcmp(a, "--bind")) cfg->bind_addr = v;
        else if (!strcmp(a, "--port") && (l = parse_num(v, 65535)) >= 0) cfg->port = (int)l;
        else if (!strcmp(a, "--control")) *control_path = v;
        else if (!strcmp(a, "--capture")) *capture_path = v;
        else if (!strcmp(a, "--loss") && (l = parse_num(v, 50)) >= 0) cfg->loss_percent = (unsigned)l;
        else if (!strcmp(a, "--consent-timeout") && (l = parse_num(v, 3600000)) > 0)
            cfg->consent_timeout_ms = (unsigned)l;
        else if (!strcmp(a, "--log-level") && (l = log_parse_level(v)) >= 0) log_set_level((log_level)l);
        else { usage(); return 2; }
    }
    return 0;
}

int main(int argc, char **argv) {
    sfu_config cfg;
    sfu_config_defaults(&cfg);
    const char *control_path = NULL, *capture_path = NULL;
    int rc = parse_args(argc, argv, &cfg, &control_path, &capture_path);
    if (rc) return rc;
    /* Every early exit below frees what was made before it, so a failed start is leak-free
     * (the sanitizer build aborts on leaks, and a test checks the exit code). */
    sfu_capture *cap = NULL;
    if (capture_path) {
        /* 256 MiB: minutes of a small test call, and a bound on the disk a test can fill. */
        cap = sfu_capture_open(capture_path, 256u << 20);
        if (!cap) { log_error("parley-sfu: cannot create %s", capture_path); return 1; }
        cfg.capture = sfu_capture_rtp;
        cfg.capture_arg = cap;
    }
    uv_loop_t *loop = uv_default_loop();
    sfu_control *ctl = sfu_control_new(loop);
    if (!ctl) { log_error("out of memory"); sfu_capture_close(cap); return 1; }
    cfg.on_event = on_event;
    cfg.event_arg = ctl;
    char err[256];
    sfu_core *core = sfu_core_new(loop, &cfg, err, sizeof err);
    if (!core || (control_path && sfu_control_listen(ctl, core, control_path, err, sizeof err) < 0)) {
        log_error("parley-sfu: %s", err);
        sfu_control_free(ctl);
        sfu_core_free(core);
        sfu_capture_close(cap);
        uv_run(loop, UV_RUN_DEFAULT); /* let closed handles finish */
        uv_loop_close(loop);
        return 1;
    }
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    /* One line on stdout that the supervisor (and the bench) reads: the media port and our
     * DTLS fingerprint. */
    printf("parley-sfu udp %s %d fingerprint %s\n", cfg.bind_addr, sfu_core_port(core),
           sfu_core_fingerprint(core));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    sfu_control_free(ctl);
    sfu_core_free(core);
    sfu_capture_close(cap);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
