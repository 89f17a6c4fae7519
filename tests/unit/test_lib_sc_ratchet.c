/* test_lib_sc_ratchet.c: the Double Ratchet between two real sessions (real X3DH, real keys):
 * a 10,000-message conversation in both directions with random interleaving (fixed seed),
 * every permutation of a 5-message window across a DH step, loss, duplicates and replays
 * (also after a serialize/parse restart), every flipped bit and every truncation of normal
 * and prekey envelopes rejected with the state unchanged, the skipped-key bounds, a crash
 * between encrypt and commit, and the compromise (break-in recovery) property. */
#include <stdio.h>
#include "sc_test.h"

static uint8_t envbuf[SC_ENV_MAX], ptbuf[SC_MAX_PLAINTEXT];

/* Encrypts text under *s and commits; the envelope is copied to a malloc'ed buffer. */
static uint8_t *send_msg(sc_session *s, const char *text, size_t *len)
{
    sc_session next;
    if (sc_ratchet_encrypt(s, &next, (const uint8_t *)text, strlen(text), envbuf,
                           sizeof(envbuf), len) != 0)
        abort();
    test_commit(s, &next);
    uint8_t *e = malloc(*len);
    memcpy(e, envbuf, *len);
    return e;
}

/* Decrypts and commits on success; returns the error code; checks the text when it works. */
static int recv_msg(sc_session *s, const uint8_t *env, size_t len, const char *want)
{
    sc_session next;
    size_t pl = 0;
    int rc = sc_ratchet_decrypt(s, &next, env, len, ptbuf, sizeof(ptbuf), &pl);
    if (rc == 0) {
        test_commit(s, &next);
        if (want && (pl != strlen(want) || memcmp(ptbuf, want, pl) != 0))
            return 99;
    }
    return rc;
}

/* Decrypt must fail with the state byte-for-byte unchanged. */
static int rejected_unchanged(sc_session *s, const uint8_t *env, size_t len)
{
    size_t l1, l2;
    uint8_t *before = test_state(s, &l1);
    int rc = recv_msg(s, env, len, NULL);
    uint8_t *after = test_state(s, &l2);
    int same = l1 == l2 && memcmp(before, after, l1) == 0;
    free(before);
    free(after);
    return rc != 0 && same;
}

static void restart(sc_session *s)
{
    size_t len;
    uint8_t *buf = test_state(s, &len);
    sc_session_free(s);
    if (sc_session_parse(buf, len, s) != 0)
        abort();
    sodium_memzero(buf, len);
    free(buf);
}

typedef struct msg { uint8_t *env; size_t len; char text[40]; } msg;

TEST(long_conversation)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb;
    CHECK_EQ_INT(test_pair(&a, &b, 0, &sa, &sb), 0);
    enum { TOTAL = 10000, QMAX = 64 };
    msg q[2][QMAX];      /* in flight, per direction, delivered in order */
    int qn[2] = { 0, 0 }, sent = 0, delivered = 0, failures = 0;
    uint64_t seed = 0x5ec12e7c4a7;
    sc_session *side[2] = { &sa, &sb };
    while (delivered < TOTAL && failures == 0) {
        int r = (int)(test_rand(&seed) % 4), d = r & 1;
        if (r < 2 && sent < TOTAL && qn[d] < QMAX) {
            msg *m = &q[d][qn[d]++];
            snprintf(m->text, sizeof(m->text), "message %d from %c", sent++, d ? 'b' : 'a');
            m->env = send_msg(side[d], m->text, &m->len);
        } else if (qn[d] > 0) {
            failures += recv_msg(side[!d], q[d][0].env, q[d][0].len, q[d][0].text) != 0;
            free(q[d][0].env);
            memmove(&q[d][0], &q[d][1], (size_t)--qn[d] * sizeof(msg));
            delivered++;
        }
        if (delivered % 1000 == 999) {
            restart(&sa);
            restart(&sb);
        }
    }
    CHECK_EQ_INT(failures, 0);
    CHECK_EQ_INT(delivered, TOTAL);
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < qn[d]; i++)
            free(q[d][i].env);
    CHECK_EQ_INT(sa.n_skipped + sb.n_skipped, 0);   /* in-order delivery skips nothing */
    sc_session_free(&sa);
    sc_session_free(&sb);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

/* All 120 orders of 5 messages: 2 from a's first chain, then (after b's reply reaches a and
 * a steps its ratchet) 3 from the second chain, so pn-skipping is exercised as well. */
static int next_perm(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] > p[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (p[j] < p[i])
        j--;
    int t = p[i]; p[i] = p[j]; p[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = p[l]; p[l] = p[r]; p[r] = t;
    }
    return 1;
}

TEST(reorder_all_permutations)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    int perm[5] = { 0, 1, 2, 3, 4 }, orders = 0, bad = 0;
    do {
        sc_session sa, sb;
        if (test_pair(&a, &b, -1, &sa, &sb) != 0) {
            bad++;
            break;
        }
        msg m[5];
        size_t rl;
        for (int i = 0; i < 5; i++) {
            if (i == 2) {
                uint8_t *r = send_msg(&sb, "reply", &rl);
                bad += recv_msg(&sa, r, rl, "reply") != 0;
                free(r);
            }
            snprintf(m[i].text, sizeof(m[i].text), "m%d", i);
            m[i].env = send_msg(&sa, m[i].text, &m[i].len);
        }
        for (int i = 0; i < 5; i++)
            bad += recv_msg(&sb, m[perm[i]].env, m[perm[i]].len, m[perm[i]].text) != 0;
        bad += sb.n_skipped != 0;
        for (int i = 0; i < 5; i++)
            free(m[i].env);
        sc_session_free(&sa);
        sc_session_free(&sb);
        orders++;
    } while (next_perm(perm, 5));
    CHECK_EQ_INT(orders, 120);
    CHECK_EQ_INT(bad, 0);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

TEST(loss_and_replay)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb;
    CHECK_EQ_INT(test_pair(&a, &b, 1, &sa, &sb), 0);
    msg m[10];
    for (int i = 0; i < 10; i++) {
        snprintf(m[i].text, sizeof(m[i].text), "lossy %d", i);
        m[i].env = send_msg(&sa, m[i].text, &m[i].len);
    }
    /* only 1, 3 and 9 arrive; 9 makes b store the keys of 4..8 */
    CHECK_EQ_INT(recv_msg(&sb, m[1].env, m[1].len, m[1].text), 0);
    CHECK_EQ_INT(recv_msg(&sb, m[3].env, m[3].len, m[3].text), 0);
    CHECK_EQ_INT(recv_msg(&sb, m[9].env, m[9].len, m[9].text), 0);
    CHECK_EQ_INT(sb.n_skipped, 7);   /* 0, 2, 4, 5, 6, 7, 8 */
    /* duplicates of delivered messages: the in-chain one and one from the skipped keys */
    CHECK(rejected_unchanged(&sb, m[9].env, m[9].len));
    CHECK_EQ_INT(recv_msg(&sb, m[9].env, m[9].len, NULL), SC_E_REPLAY);
    CHECK_EQ_INT(recv_msg(&sb, m[5].env, m[5].len, m[5].text), 0);
    CHECK(rejected_unchanged(&sb, m[5].env, m[5].len));
    /* a DH step: b replies, a answers; the lost ones of the old chain still decrypt */
    size_t l;
    uint8_t *r = send_msg(&sb, "reply", &l);
    CHECK_EQ_INT(recv_msg(&sa, r, l, "reply"), 0);
    free(r);
    uint8_t *n2 = send_msg(&sa, "new chain", &l);
    CHECK_EQ_INT(recv_msg(&sb, n2, l, "new chain"), 0);
    CHECK_EQ_INT(recv_msg(&sb, m[7].env, m[7].len, m[7].text), 0);
    /* restart: the state is saved and parsed again; replays are still rejected */
    restart(&sb);
    CHECK(rejected_unchanged(&sb, m[7].env, m[7].len));
    CHECK(rejected_unchanged(&sb, m[9].env, m[9].len));   /* an old chain's message */
    CHECK(rejected_unchanged(&sb, n2, l));
    CHECK_EQ_INT(recv_msg(&sb, m[8].env, m[8].len, m[8].text), 0);
    CHECK(rejected_unchanged(&sb, m[8].env, m[8].len));
    free(n2);
    for (int i = 0; i < 10; i++)
        free(m[i].env);
    sc_session_free(&sa);
    sc_session_free(&sb);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

/* Every single flipped bit, every truncation and a one-byte extension of env must be
 * rejected by decrypt on *s with the state unchanged; returns how many were not. */
static int tamper_all(sc_session *s, const uint8_t *env, size_t len)
{
    int bad = 0;
    uint8_t *t = malloc(len + 1);
    size_t l1;
    uint8_t *before = test_state(s, &l1);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(t, env, len);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sc_session next;
        size_t pl;
        if (sc_ratchet_decrypt(s, &next, t, len, ptbuf, sizeof(ptbuf), &pl) == 0) {
            bad++;
            sc_session_free(&next);
        }
    }
    for (size_t cut = 0; cut <= len; cut++) {
        memcpy(t, env, len);
        t[len] = 0;
        size_t tl = cut < len ? cut : len + 1;
        sc_session next;
        size_t pl;
        if (sc_ratchet_decrypt(s, &next, t, tl, ptbuf, sizeof(ptbuf), &pl) == 0) {
            bad++;
            sc_session_free(&next);
        }
    }
    size_t l2;
    uint8_t *after = test_state(s, &l2);
    bad += !(l1 == l2 && memcmp(before, after, l1) == 0);
    free(before);
    free(after);
    free(t);
    return bad;
}

TEST(flipped_bits_rejected)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb;
    CHECK_EQ_INT(test_pair(&a, &b, 2, &sa, &sb), 0);
    size_t l;
    /* a prekey message (a has not heard back yet), 1 KiB, to b's existing session */
    char big[1025];
    memset(big, 'x', 1024);
    big[1024] = 0;
    uint8_t *pre = send_msg(&sa, big, &l);
    CHECK_EQ_INT(pre[1], SC_MSG_PREKEY);
    CHECK_EQ_INT(tamper_all(&sb, pre, l), 0);
    CHECK_EQ_INT(recv_msg(&sb, pre, l, big), 0);   /* the untouched one still works */
    free(pre);
    /* a normal message */
    uint8_t *r = send_msg(&sb, "reply", &l);
    CHECK_EQ_INT(r[1], SC_MSG_NORMAL);
    CHECK_EQ_INT(tamper_all(&sa, r, l), 0);
    CHECK_EQ_INT(recv_msg(&sa, r, l, "reply"), 0);
    free(r);
    uint8_t *n = send_msg(&sa, "normal now", &l);
    CHECK_EQ_INT(n[1], SC_MSG_NORMAL);
    CHECK_EQ_INT(tamper_all(&sb, n, l), 0);
    CHECK_EQ_INT(recv_msg(&sb, n, l, "normal now"), 0);
    free(n);
    sc_session_free(&sa);
    sc_session_free(&sb);

    /* the very first prekey message, to sc_session_accept: every flip and cut rejected */
    sc_bundle bun;
    sc_session s0, s1, out;
    CHECK_EQ_INT(sc_bundle_make(&b.dev, &b.ik, &b.spk, &b.opk[3], &bun), 0);
    CHECK_EQ_INT(sc_x3dh_initiate(&a.ik, &a.dev, &bun, &s0), 0);
    CHECK_EQ_INT(sc_ratchet_encrypt(&s0, &s1, (const uint8_t *)"hello", 5, envbuf,
                                    sizeof(envbuf), &l), 0);
    int accepted = 0;
    uint8_t t[SC_ENV_MAX + 1];
    size_t pl;
    for (size_t bit = 0; bit < l * 8; bit++) {
        memcpy(t, envbuf, l);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        /* the ids are what picks the prekeys, so a flipped id is a lookup miss (the caller's
         * SC_E_ARG) or a different key: either way no session */
        if (sc_session_accept(&b.ik, &b.spk, &b.opk[3], &b.dev, &a.dev, t, l, &out, ptbuf,
                              sizeof(ptbuf), &pl) == 0) {
            accepted++;
            sc_session_free(&out);
        }
    }
    for (size_t cut = 0; cut < l; cut++)
        if (sc_session_accept(&b.ik, &b.spk, &b.opk[3], &b.dev, &a.dev, envbuf, cut, &out,
                              ptbuf, sizeof(ptbuf), &pl) == 0) {
            accepted++;
            sc_session_free(&out);
        }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(sc_session_accept(&b.ik, &b.spk, &b.opk[3], &b.dev, &a.dev, envbuf, l, &out,
                                   ptbuf, sizeof(ptbuf), &pl), 0);
    CHECK(pl == 5 && memcmp(ptbuf, "hello", 5) == 0);
    sc_session_free(&out);
    sc_session_free(&s0);
    sc_session_free(&s1);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

TEST(skip_bounds)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb;
    CHECK_EQ_INT(test_pair(&a, &b, -1, &sa, &sb), 0);
    /* b has consumed n = 0; a message with n = 1 + SC_MAX_SKIP + 1 is one too far, with
     * n = 1 + SC_MAX_SKIP exactly at the bound. */
    msg far = { 0 }, edge = { 0 };
    size_t l;
    for (int i = 1; i <= SC_MAX_SKIP + 2; i++) {
        uint8_t *e = send_msg(&sa, "skip", &l);
        if (i == SC_MAX_SKIP + 1) {
            edge.env = e;
            edge.len = l;
        } else if (i == SC_MAX_SKIP + 2) {
            far.env = e;
            far.len = l;
        } else {
            free(e);
        }
    }
    CHECK(rejected_unchanged(&sb, far.env, far.len));
    CHECK_EQ_INT(recv_msg(&sb, far.env, far.len, NULL), SC_E_SKIP);
    CHECK_EQ_INT(recv_msg(&sb, edge.env, edge.len, "skip"), 0);
    CHECK_EQ_INT(sb.n_skipped, SC_MAX_SKIP);
    CHECK_EQ_INT(recv_msg(&sb, far.env, far.len, "skip"), 0);   /* now within reach */
    free(far.env);
    free(edge.env);

    /* The total cap: three more chains of 1000 skipped keys each. b's reply makes a step;
     * each time a's message number 1000 of a new chain arrives first. */
    msg first_lost = { 0 }, newest = { 0 };
    for (int round = 0; round < 3; round++) {
        uint8_t *r = send_msg(&sb, "step", &l);
        CHECK_EQ_INT(recv_msg(&sa, r, l, "step"), 0);
        free(r);
        for (int i = 0; i <= SC_MAX_SKIP; i++) {
            uint8_t *e = send_msg(&sa, "bulk", &l);
            if (i == SC_MAX_SKIP) {
                CHECK_EQ_INT(recv_msg(&sb, e, l, "bulk"), 0);
                free(e);
            } else if (round == 0 && i == 0) {
                first_lost.env = e;
                first_lost.len = l;
            } else if (round == 2 && i == SC_MAX_SKIP - 1) {
                newest.env = e;
                newest.len = l;
            } else {
                free(e);
            }
        }
        CHECK(sb.n_skipped <= SC_MAX_SKIPPED_TOTAL);
    }
    CHECK_EQ_INT(sb.n_skipped, SC_MAX_SKIPPED_TOTAL);
    /* the oldest (round 0, message 0) was dropped: it can no longer be read */
    CHECK(rejected_unchanged(&sb, first_lost.env, first_lost.len));
    /* the newest skipped key survived the cap */
    CHECK_EQ_INT(recv_msg(&sb, newest.env, newest.len, "bulk"), 0);
    CHECK_EQ_INT(sb.n_skipped, SC_MAX_SKIPPED_TOTAL - 1);
    free(first_lost.env);
    free(newest.env);
    sc_session_free(&sa);
    sc_session_free(&sb);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

/* Crash between encrypt and commit: the new state (and its envelope) is lost, the device
 * restarts from the committed state. Documented semantics: the envelope of an uncommitted
 * state is never sent, the old state encrypts again (same chain position, new random nonce)
 * and the peer reads that. If a buggy caller did send the lost envelope too, the peer
 * accepts only the first of the two (same message key) and rejects the other unchanged. */
TEST(crash_mid_message)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb;
    CHECK_EQ_INT(test_pair(&a, &b, -1, &sa, &sb), 0);
    size_t l1, l2, s1, s2;
    uint8_t *before = test_state(&sa, &s1);
    sc_session lost, again;
    uint8_t e1[SC_ENV_MAX], e2[SC_ENV_MAX];
    CHECK_EQ_INT(sc_ratchet_encrypt(&sa, &lost, (const uint8_t *)"lost", 4, e1, sizeof(e1),
                                    &l1), 0);
    uint8_t *after = test_state(&sa, &s2);
    CHECK(s1 == s2 && memcmp(before, after, s1) == 0);   /* encrypt left its input alone */
    free(after);
    sc_session_free(&lost);   /* the crash */
    restart(&sa);
    CHECK_EQ_INT(sc_ratchet_encrypt(&sa, &again, (const uint8_t *)"again", 5, e2, sizeof(e2),
                                    &l2), 0);
    test_commit(&sa, &again);
    /* same header position, different nonce: no key/nonce pair is ever used twice */
    CHECK(memcmp(e1, e2, SC_ENV_HEADER_PREKEY - SC_NONCE) == 0);
    CHECK(memcmp(e1 + SC_ENV_HEADER_PREKEY - SC_NONCE, e2 + SC_ENV_HEADER_PREKEY - SC_NONCE,
                 SC_NONCE) != 0);
    CHECK_EQ_INT(recv_msg(&sb, e2, l2, "again"), 0);
    CHECK(rejected_unchanged(&sb, e1, l1));
    /* and the conversation goes on */
    size_t l;
    uint8_t *r = send_msg(&sb, "ok", &l);
    CHECK_EQ_INT(recv_msg(&sa, r, l, "ok"), 0);
    free(r);
    r = send_msg(&sa, "fine", &l);
    CHECK_EQ_INT(recv_msg(&sb, r, l, "fine"), 0);
    free(r);
    free(before);
    sc_session_free(&sa);
    sc_session_free(&sb);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

/* Break-in recovery: an attacker copies all of b's state. The copy reads what is sent before
 * b's next DH step (the step needs a fresh key b makes after the copy), and nothing after. */
TEST(compromise_before_dh_step)
{
    test_dev a, b;
    test_dev_make(&a, 1, 10);
    test_dev_make(&b, 2, 20);
    sc_session sa, sb, stolen;
    CHECK_EQ_INT(test_pair(&a, &b, -1, &sa, &sb), 0);
    size_t l;
    uint8_t *r = send_msg(&sb, "r0", &l);
    CHECK_EQ_INT(recv_msg(&sa, r, l, "r0"), 0);
    free(r);
    CHECK_EQ_INT(sc_session_copy(&stolen, &sb), 0);
    /* m1: a's new chain, built on b's current (stolen) ratchet key: the copy reads it */
    uint8_t *m1 = send_msg(&sa, "m1", &l);
    size_t l1 = l;
    CHECK_EQ_INT(recv_msg(&sb, m1, l1, "m1"), 0);
    sc_session spy;
    CHECK_EQ_INT(sc_session_copy(&spy, &stolen), 0);
    CHECK_EQ_INT(recv_msg(&spy, m1, l1, "m1"), 0);
    /* b's reply carries its fresh ratchet key; a steps; m2 is beyond the copy */
    r = send_msg(&sb, "r1", &l);
    CHECK_EQ_INT(recv_msg(&sa, r, l, "r1"), 0);
    free(r);
    uint8_t *m2 = send_msg(&sa, "m2", &l);
    size_t l2 = l;
    CHECK_EQ_INT(recv_msg(&sb, m2, l2, "m2"), 0);
    CHECK_EQ_INT(recv_msg(&spy, m2, l2, NULL), SC_E_AUTH);
    CHECK_EQ_INT(recv_msg(&stolen, m2, l2, NULL), SC_E_AUTH);
    /* nor any later one */
    uint8_t *m3 = send_msg(&sa, "m3", &l);
    CHECK_EQ_INT(recv_msg(&spy, m3, l, NULL), SC_E_AUTH);
    CHECK_EQ_INT(recv_msg(&sb, m3, l, "m3"), 0);
    free(m1);
    free(m2);
    free(m3);
    sc_session_free(&spy);
    sc_session_free(&stolen);
    sc_session_free(&sa);
    sc_session_free(&sb);
    test_dev_wipe(&a);
    test_dev_wipe(&b);
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    RUN(long_conversation);
    RUN(reorder_all_permutations);
    RUN(loss_and_replay);
    RUN(flipped_bits_rejected);
    RUN(skip_bounds);
    RUN(crash_mid_message);
    RUN(compromise_before_dh_step);
    return UNIT_DONE("test_lib_sc_ratchet");
}
