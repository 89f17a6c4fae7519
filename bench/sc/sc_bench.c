/*
 * sc_bench.c: parley-sc-bench, a micro-benchmark of the secret-chat crypto core
 * (src/lib/sc_*.c). Unlike parley-bench it measures internals, so it includes
 * src/lib/secret_crypto.h and links libparley.a's internal objects directly; it opens no
 * socket and writes no file. It prints, per operation, the best of --repeat runs of --n
 * iterations (mean time per iteration in that run):
 *   X3DH set-up: initiator (bundle verify + X3DH + first ratchet step), responder
 *     (X3DH alone, and sc_session_accept = X3DH + first decrypt);
 *   encrypt+decrypt of one message, 32 B and 1 KiB, in one direction (symmetric ratchet
 *     only) and ping-pong (a DH ratchet step on every message), each with its state copy;
 *   serialize+parse of a session state, without and with 1000 skipped keys.
 * Usage: parley-sc-bench [--n N] [--repeat R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "../../src/lib/secret_crypto.h"

typedef struct dev {
    sc_device d;
    sc_identity ik;
    sc_signed_prekey spk;
    sc_onetime_prekey opk;
} dev;

static uint8_t env[SC_ENV_MAX], pt[SC_MAX_PLAINTEXT], state[SC_STATE_MAX];

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "parley-sc-bench: %s: %s\n", what, sc_strerror(rc));
    exit(1);
}

static void commit(sc_session *cur, sc_session *next)
{
    sc_session_free(cur);
    *cur = *next;
}

static void send_recv(sc_session *from, sc_session *to, const uint8_t *msg, size_t len)
{
    sc_session next;
    size_t el, pl;
    int rc = sc_ratchet_encrypt(from, &next, msg, len, env, sizeof(env), &el);
    if (rc)
        die("encrypt", rc);
    commit(from, &next);
    rc = sc_ratchet_decrypt(to, &next, env, el, pt, sizeof(pt), &pl);
    if (rc)
        die("decrypt", rc);
    commit(to, &next);
}

/* A pair of sessions a -> b with the first message delivered. */
static void make_pair(dev *a, dev *b, sc_session *sa, sc_session *sb)
{
    sc_bundle bun;
    sc_session s0;
    size_t el, pl;
    int rc = sc_bundle_make(&b->d, &b->ik, &b->spk, &b->opk, &bun);
    if (!rc)
        rc = sc_x3dh_initiate(&a->ik, &a->d, &bun, &s0);
    if (!rc)
        rc = sc_ratchet_encrypt(&s0, sa, (const uint8_t *)"hi", 2, env, sizeof(env), &el);
    if (!rc)
        rc = sc_session_accept(&b->ik, &b->spk, &b->opk, &b->d, &a->d, env, el, sb, pt,
                               sizeof(pt), &pl);
    if (rc)
        die("set-up", rc);
    sc_session_free(&s0);
}

typedef struct ctx {
    dev *a, *b;
    sc_session sa, sb;
    size_t msg_len;
    int pingpong;
} ctx;

enum op { OP_INIT, OP_RESPOND, OP_ACCEPT, OP_MSG, OP_STATE };

/* One iteration of op. */
static void run_once(enum op op, ctx *c)
{
    static uint8_t msg[1024];
    sc_bundle bun;
    sc_session s0, s1, out;
    size_t el, pl, sl;
    sc_envelope e;
    int rc = 0;
    switch (op) {
    case OP_INIT:
        rc = sc_bundle_make(&c->b->d, &c->b->ik, &c->b->spk, &c->b->opk, &bun);
        if (!rc)
            rc = sc_x3dh_initiate(&c->a->ik, &c->a->d, &bun, &s0);
        sc_session_free(&s0);
        break;
    case OP_RESPOND:
    case OP_ACCEPT:
        /* c->sa is a fresh initiator: its prekey message, encrypted once in setup */
        if (op == OP_RESPOND) {
            rc = sc_envelope_parse(env, c->msg_len, &e);
            if (!rc)
                rc = sc_x3dh_respond(&c->b->ik, &c->b->spk, &c->b->opk, &c->b->d, &c->a->d,
                                     &e, &out);
        } else {
            rc = sc_session_accept(&c->b->ik, &c->b->spk, &c->b->opk, &c->b->d, &c->a->d, env,
                                   c->msg_len, &out, pt, sizeof(pt), &pl);
        }
        sc_session_free(&out);
        break;
    case OP_MSG:
        send_recv(&c->sa, &c->sb, msg, c->msg_len);
        if (c->pingpong) {
            sc_session t = c->sa;
            c->sa = c->sb;
            c->sb = t;
        }
        break;
    case OP_STATE:
        rc = sc_session_serialize(&c->sb, state, sizeof(state), &sl);
        if (!rc)
            rc = sc_session_parse(state, sl, &s1);
        sc_session_free(&s1);
        break;
    }
    (void)el;
    if (rc)
        die("run", rc);
}

static void measure(const char *name, enum op op, ctx *c, int n, int repeat)
{
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++)
            run_once(op, c);
        double per = (now_us() - t0) / n;
        if (per < best)
            best = per;
    }
    printf("%-44s %10.1f us %12.0f /s\n", name, best, 1e6 / best);
}

int sc_throughput_main(int argc, char **argv);   /* sc_throughput.c */

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "throughput"))
        return sc_throughput_main(argc - 1, argv + 1);
    int n = 2000, repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--n N] [--repeat R]\n"
                            "       %s throughput --server URL --ca FILE [--n N]\n",
                    argv[0], argv[0]);
            return 2;
        }
    }
    if (n < 1 || repeat < 1 || sc_init() != 0)
        return 2;
    static dev a, b;
    a.d = (sc_device){ 1, 10 };
    b.d = (sc_device){ 2, 20 };
    if (sc_identity_generate(&a.ik) || sc_identity_generate(&b.ik) ||
        sc_signed_prekey_generate(&b.ik, 1, &b.spk) || sc_onetime_prekeys_generate(1, 1, &b.opk))
        die("keys", SC_E_CRYPTO);
    ctx c;
    memset(&c, 0, sizeof(c));
    c.a = &a;
    c.b = &b;
    printf("parley-sc-bench: n=%d repeat=%d (best run, mean per operation)\n", n, repeat);
    measure("x3dh initiate (verify bundle + X3DH)", OP_INIT, &c, n, repeat);
    {
        sc_bundle bun;
        sc_session s0, s1;
        size_t el;
        if (sc_bundle_make(&b.d, &b.ik, &b.spk, &b.opk, &bun) ||
            sc_x3dh_initiate(&a.ik, &a.d, &bun, &s0) ||
            sc_ratchet_encrypt(&s0, &s1, (const uint8_t *)"hello", 5, env, sizeof(env), &el))
            die("prekey message", SC_E_CRYPTO);
        c.msg_len = el;
        sc_session_free(&s0);
        sc_session_free(&s1);
    }
    measure("x3dh respond (X3DH only)", OP_RESPOND, &c, n, repeat);
    measure("x3dh respond + first decrypt (accept)", OP_ACCEPT, &c, n, repeat);
    size_t sizes[] = { 32, 1024 };
    for (int s = 0; s < 2; s++) {
        for (int pp = 0; pp < 2; pp++) {
            char name[80];
            make_pair(&a, &b, &c.sa, &c.sb);
            send_recv(&c.sb, &c.sa, (const uint8_t *)"r", 1);   /* a is past prekey messages */
            c.msg_len = sizes[s];
            c.pingpong = pp;
            snprintf(name, sizeof(name), "encrypt+decrypt %4zu B, %s", sizes[s],
                     pp ? "ping-pong (DH step)" : "one direction");
            measure(name, OP_MSG, &c, n, repeat);
            sc_session_free(&c.sa);
            sc_session_free(&c.sb);
        }
    }
    for (int skipped = 0; skipped <= 1000; skipped += 1000) {
        char name[80];
        make_pair(&a, &b, &c.sa, &c.sb);
        for (int i = 0; i < skipped; i++) {
            sc_session next;
            size_t el;
            if (sc_ratchet_encrypt(&c.sa, &next, (const uint8_t *)"x", 1, env, sizeof(env), &el))
                die("skip", SC_E_CRYPTO);
            commit(&c.sa, &next);
        }
        send_recv(&c.sa, &c.sb, (const uint8_t *)"x", 1);
        snprintf(name, sizeof(name), "state serialize+parse, %4u skipped (%zu B)",
                 c.sb.n_skipped, sc_session_serialized_size(&c.sb));
        measure(name, OP_STATE, &c, n, repeat);
        sc_session_free(&c.sa);
        sc_session_free(&c.sb);
    }
    sc_identity_wipe(&a.ik);
    sc_identity_wipe(&b.ik);
    sc_signed_prekey_wipe(&b.spk);
    sc_onetime_prekeys_wipe(&b.opk, 1);
    return 0;
}
