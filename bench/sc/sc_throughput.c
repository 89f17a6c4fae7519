/*
 * sc_throughput.c: `parley-sc-bench throughput`: secret-chat message throughput through a
 * running parleyd, beside cloud-chat throughput measured the same way, on libparley's public
 * API only (include/parley.h).
 *
 * Two fresh accounts with real profiles (a temporary directory, removed at the end): alice
 * sends N messages one after the other with the blocking call (each waits for the server's
 * answer; for a secret message: encrypt, commit state + message to the profile, then send),
 * then bob takes them with parley_next_update until all N have arrived (for secret messages:
 * inbox pages, decrypt + commit each, acknowledge, and the read notice each shown message
 * sends back). Reported: messages per second for each half and each kind.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parley.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static parley_client *open_client(const char *dir, const char *name, const char *url,
                                  const char *ca)
{
    char prof[4096];
    snprintf(prof, sizeof prof, "%s/%s", dir, name);
    parley_options o = {.profile_dir = prof, .server_url = url, .ca_file = ca,
                        .device_name = name, .timeout_ms = 30000};
    parley_error err;
    parley_client *c = parley_open(NULL, &o, &err);
    if (!c)
        fprintf(stderr, "parley_open: %s\n", err.message);
    return c;
}

/* Waits until bob has n messages of `kind` (service messages not counted). */
static int drain(parley_client *b, parley_update_kind kind, int n)
{
    int got = 0;
    parley_error err;
    while (got < n) {
        parley_update *u = NULL;
        if (parley_next_update(b, 10000, &u, &err) != 0) {
            fprintf(stderr, "receive: %s (%d of %d)\n", err.message, got, n);
            return -1;
        }
        if (u->kind == kind && u->message && !u->message->is_service)
            got++;
        parley_update_free(u);
    }
    return 0;
}

static void report(const char *what, int n, double t)
{
    printf("%-34s %6d msgs  %8.3f s  %9.1f msgs/s\n", what, n, t, t > 0 ? n / t : 0.0);
}

static int run(parley_client *a, parley_client *b, const char *bob, int n)
{
    parley_error err;
    char text[64];
    int64_t chat;
    if (parley_resolve_chat(a, bob, &chat, &err) != 0) {
        fprintf(stderr, "resolve: %s\n", err.message);
        return -1;
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "cloud message %d", i);
        if (parley_send(a, chat, text, NULL, NULL, &err) != 0) {
            fprintf(stderr, "send: %s\n", err.message);
            return -1;
        }
    }
    double t1 = now_s();
    if (drain(b, PARLEY_UPDATE_MESSAGE, n) != 0)
        return -1;
    double t2 = now_s();
    report("cloud chat: send (blocking)", n, t1 - t0);
    report("cloud chat: receive", n, t2 - t1);

    parley_secret_chat *s = NULL;
    t0 = now_s();
    if (parley_secret_start(a, bob, 0, &s, &err) != 0) {
        fprintf(stderr, "secret start: %s\n", err.message);
        return -1;
    }
    double ts = now_s() - t0;
    int64_t id = s->id;
    parley_secret_chat_free(s);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "secret message %d", i);
        if (parley_secret_send(a, id, text, NULL, &err) != 0) {
            fprintf(stderr, "secret send: %s\n", err.message);
            return -1;
        }
    }
    t1 = now_s();
    if (drain(b, PARLEY_UPDATE_SECRET_MESSAGE, n) != 0)
        return -1;
    t2 = now_s();
    printf("%-34s %8.1f ms\n", "secret chat: start (bundle+X3DH+send)", ts * 1000);
    report("secret chat: send (blocking)", n, t1 - t0);
    report("secret chat: receive (+read notices)", n, t2 - t1);
    return 0;
}

int sc_throughput_main(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL;
    int n = 500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--server") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
            ca = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else
            url = NULL, i = argc;
    }
    if (!url || !ca || n < 1 || n > 100000) {
        fprintf(stderr, "usage: parley-sc-bench throughput --server wss://127.0.0.1:PORT "
                        "--ca CERT.pem [--n N]\n");
        return 2;
    }
    char dir[] = "/tmp/parley-sc-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char an[40], bn[40];
    snprintf(an, sizeof an, "scba%06d", (int)(getpid() % 1000000));
    snprintf(bn, sizeof bn, "scbb%06d", (int)(getpid() % 1000000));
    parley_client *a = open_client(dir, "alice", url, ca);
    parley_client *b = open_client(dir, "bob", url, ca);
    parley_error err;
    int rc = 1;
    if (a && b && parley_register(a, an, "bench-password-1", &err) == 0 &&
        parley_register(b, bn, "bench-password-1", &err) == 0) {
        parley_update *u = NULL;
        while (parley_next_update(b, 0, &u, &err) == 0)   /* bob is caught up first */
            parley_update_free(u);
        printf("parley-sc-bench throughput: n=%d, one sender, one receiver, via %s\n", n, url);
        rc = run(a, b, bn, n) == 0 ? 0 : 1;
    } else if (a && b) {
        fprintf(stderr, "register: %s\n", err.message);
    }
    parley_close(a);
    parley_close(b);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
