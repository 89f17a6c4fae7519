/*
 * catchup.c: parley-bench's offline catch-up scenario (--catchup N, issue 3's scenario d).
 *
 * One device of an account goes offline while N updates pile up for it, then comes back:
 * how long until it has applied all of them? That is what a phone sees after a flight. The
 * device is a real libparley client with a profile directory on disk (its sync position is
 * saved there at close, as the CLI's is); the updates are N messages from SENDERS other
 * accounts, each in its own private chat with the device's account, so the log the device
 * replays spans many chats as a real one does. Senders pipeline their messages with
 * parley_send_async (a bounded window each) and stay under the server's per-connection
 * flood budget by splitting N between them.
 *
 * Measured from parley_open of the returning device to the last of the N messages returned
 * by parley_next_update (connect, TLS, resume, GetDifference pages, decoding, the profile's
 * position writes). Checked: every message arrives exactly once and, within each chat, in
 * the order it was sent. Parley only: the peers' offline stores need their own clients.
 *
 * Memory: everything is allocated and freed inside bench_run_catchup.
 */
#include "run.h"

#include "parley.h"
#include "spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SENDERS_MAX 120
#define PER_SENDER_MAX 900    /* below the server's default flood burst (1,000) */
#define WINDOW 100            /* unacknowledged sends per sender */

typedef struct {
    parley_client *c;
    int64_t chat_id;
    int sent, acked, failed, inflight, total, index;
} sender;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static parley_options options(const bench_opts *o, const char *dir)
{
    parley_options p = {0};
    p.profile_dir = dir;
    p.ephemeral = dir == NULL;
    p.server_url = o->server_url;
    p.ca_file = o->ca_file;
    p.device_name = "parley-bench catch-up";
    p.client_name = "parley-bench/" PARLEY_VERSION;
    p.timeout_ms = 30000;
    return p;
}

static void on_ack(parley_client *c, void *ud, int code, const parley_message *m)
{
    sender *s = ud;
    s->inflight--;
    if (code == 0) s->acked++;
    else s->failed++;
}

/* Text "<sender>:<seq>" padded with 'x' to the configured size. */
static void make_text(char *buf, size_t size, int who, int seq)
{
    int n = snprintf(buf, size + 1, "%d:%d:", who, seq);
    if (n < 0) n = 0;
    for (size_t i = (size_t)n; i < size; i++) buf[i] = 'x';
    buf[size > (size_t)n ? size : (size_t)n] = '\0';
}

/* The device's account, registered into its profile; drains its first updates and closes,
 * which saves its position. */
static int device_setup(const bench_opts *o, const char *dir, const char *name, char *err,
                        size_t errlen)
{
    parley_error e = {0};
    parley_options po = options(o, dir);
    parley_client *c = parley_open(NULL, &po, &e);
    int rc = c ? parley_register(c, name, "catchup-password", &e) : -1;
    parley_update *u;
    while (rc == 0 && parley_next_update(c, 0, &u, &e) == 0) parley_update_free(u);
    if (c) parley_close(c);
    if (rc != 0) snprintf(err, errlen, "device account: %s", e.message);
    return rc != 0 ? -1 : 0;
}

static int senders_setup(const bench_opts *o, parley_loop *loop, sender *s, int n,
                         const char *run_id, const char *device, char *err, size_t errlen)
{
    char name[64], target[80];
    snprintf(target, sizeof target, "@%s", device);
    for (int i = 0; i < n; i++) {
        parley_error e = {0};
        parley_options po = options(o, NULL);
        snprintf(name, sizeof name, "cu_%s_s%d", run_id, i);
        s[i].index = i;
        s[i].c = parley_open(loop, &po, &e);
        if (!s[i].c || parley_register(s[i].c, name, "catchup-password", &e) != 0 ||
            parley_resolve_chat(s[i].c, target, &s[i].chat_id, &e) != 0) {
            snprintf(err, errlen, "sender %d: %s", i, e.message);
            return -1;
        }
    }
    return 0;
}

/* Sends every sender's share, keeping WINDOW in flight each. Returns the seconds taken. */
static double send_all(const bench_opts *o, parley_loop *loop, sender *s, int n)
{
    char *text = malloc((size_t)o->size + 32);
    if (!text) return -1;
    double t0 = now_s();
    int busy = 1;
    while (busy && !bench_stop) {
        busy = 0;
        for (int i = 0; i < n; i++) {
            while (s[i].inflight < WINDOW && s[i].sent < s[i].total) {
                parley_error e = {0};
                make_text(text, (size_t)o->size, i, s[i].sent);
                if (parley_send_async(s[i].c, s[i].chat_id, text, NULL, on_ack, &s[i], &e)) {
                    s[i].failed++;
                    s[i].total--;     /* refused outright: never counts as expected */
                    continue;
                }
                s[i].sent++;
                s[i].inflight++;
            }
            if (s[i].inflight > 0 || s[i].sent < s[i].total) busy = 1;
        }
        if (busy) parley_loop_run(loop, 50);
    }
    free(text);
    return now_s() - t0;
}

typedef struct {
    double seconds, first_s;
    long got, dup_or_disorder, foreign;
} replay_result;

/* The device comes back: counts messages until every acknowledged one arrived (or 60 s
 * pass without an update). next[i] is the sequence expected next from sender i. */
static int device_replay(const bench_opts *o, const char *dir, const sender *s, int n,
                         long expect, replay_result *r, char *err, size_t errlen)
{
    int *next = calloc((size_t)n, sizeof *next);
    if (!next) return -1;
    memset(r, 0, sizeof *r);
    parley_error e = {0};
    double t0 = now_s();
    parley_options po = options(o, dir);
    parley_client *c = parley_open(NULL, &po, &e);
    int rc = c ? parley_connect(c, &e) : -1;
    while (rc == 0 && r->got < expect && !bench_stop) {
        parley_update *u;
        if (parley_next_update(c, 60000, &u, &e) != 0) {
            rc = -1;
            break;
        }
        if (u->kind == PARLEY_UPDATE_MESSAGE && u->message && u->message->text) {
            int who = -1, seq = -1;
            if (r->got == 0) r->first_s = now_s() - t0;
            if (sscanf(u->message->text, "%d:%d:", &who, &seq) == 2 && who >= 0 && who < n &&
                s[who].chat_id == u->chat_id) {
                if (seq == next[who]) next[who]++;
                else r->dup_or_disorder++;
                r->got++;
            } else {
                r->foreign++;
            }
        }
        parley_update_free(u);
    }
    r->seconds = now_s() - t0;
    if (c) parley_close(c);
    free(next);
    if (rc != 0) snprintf(err, errlen, "device replay after %ld of %ld: %s", r->got, expect,
                          e.message);
    return rc;
}

/* The text report (stdout, or stderr under --json, where stdout gets one JSON object). */
static void report(const bench_opts *o, int n_senders, long acked, double send_s,
                   const replay_result *r)
{
    FILE *out = o->json ? stderr : stdout;
    int ok = r->got == acked && r->dup_or_disorder == 0;
    if (o->json)
        printf("{\"mode\":\"catchup\",\"updates\":%ld,\"senders\":%d,\"size\":%d,"
               "\"pileup_s\":%.3f,\"catchup_s\":%.3f,\"updates_per_s\":%.0f,"
               "\"first_ms\":%.1f,\"received\":%ld,\"disorder\":%ld,\"ok\":%s}\n",
               acked, n_senders, o->size, send_s, r->seconds,
               r->seconds > 0 ? r->got / r->seconds : 0, r->first_s * 1000, r->got,
               r->dup_or_disorder, ok ? "true" : "false");
    fprintf(out, "scenario:    offline catch-up: %ld messages from %d senders (%d-byte texts) while "
           "the device was offline\n", acked, n_senders, o->size);
    fprintf(out, "pile-up:     %.2f s to send and store them (%.0f msg/s)\n", send_s,
           send_s > 0 ? acked / send_s : 0);
    fprintf(out, "catch-up:    %ld updates in %.2f s = %.0f updates/s (first after %.0f ms)\n",
           r->got, r->seconds, r->seconds > 0 ? r->got / r->seconds : 0, r->first_s * 1000);
    fprintf(out, "checks:      %s (out of order or repeated %ld, unexpected %ld, missing %ld)\n",
           ok ? "every message once, in order" : "FAILED",
           r->dup_or_disorder, r->foreign, acked - r->got);
}

int bench_run_catchup(const bench_opts *o, const char *run_id, char *err, size_t errlen)
{
    int n_senders = (o->catchup + PER_SENDER_MAX - 1) / PER_SENDER_MAX;
    if (n_senders > SENDERS_MAX) {
        snprintf(err, errlen, "--catchup at most %d", SENDERS_MAX * PER_SENDER_MAX);
        return -1;
    }
    char dir[] = "/tmp/parley-catchup.XXXXXX", device[48];
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot create a profile directory");
        return -1;
    }
    snprintf(device, sizeof device, "cu_%s_dev", run_id);
    sender *s = calloc((size_t)n_senders, sizeof *s);
    parley_error e = {0};
    parley_loop *loop = parley_loop_new(&e);
    int rc = s && loop ? device_setup(o, dir, device, err, errlen) : -1;
    if (rc == 0) rc = senders_setup(o, loop, s, n_senders, run_id, device, err, errlen);
    long acked = 0;
    double send_s = 0;
    if (rc == 0) {
        for (int i = 0; i < n_senders; i++)
            s[i].total = o->catchup / n_senders + (i < o->catchup % n_senders);
        if (!o->quiet) fprintf(stderr, "piling up %d messages...\n", o->catchup);
        send_s = send_all(o, loop, s, n_senders);
        for (int i = 0; i < n_senders; i++) acked += s[i].acked;
        if (acked == 0) {
            snprintf(err, errlen, "no message was acknowledged");
            rc = -1;
        }
    }
    replay_result r;
    if (rc == 0) {
        if (!o->quiet) fprintf(stderr, "device reconnecting...\n");
        rc = device_replay(o, dir, s, n_senders, acked, &r, err, errlen);
    }
    if (rc == 0) report(o, n_senders, acked, send_s, &r);
    for (int i = 0; s && i < n_senders; i++)
        if (s[i].c) parley_close(s[i].c);
    free(s);
    if (loop) parley_loop_free(loop);
    if (remove_tree(dir) != 0 && !o->quiet) fprintf(stderr, "could not remove %s\n", dir);
    if (rc == 0 && (r.got != acked || r.dup_or_disorder)) return 1;
    return rc;
}
