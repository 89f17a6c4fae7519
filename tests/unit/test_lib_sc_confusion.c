/* test_lib_sc_confusion.c: messages in the wrong place are rejected: a message of one session
 * fed to another between the same devices, a message for device pair (A,B) fed to (A,C), a
 * prekey message where a normal one is expected and vice versa, a swapped identity key in a
 * bundle or in a prekey message, a wrong claimed sender, reflected messages. Also the
 * fingerprint: the same on both devices, order-independent, changed by any identity change
 * (the long form's known answer is in test_lib_sc_sas.c). */
#include "sc_test.h"

/* computed with Python hashlib from the steps documented in sc_fingerprint.c */
#define FP_KAT_NUMBER "08789 41743 50007 11184 99397 84014 61078 22056 80448 89957 75664 48595"

static uint8_t pt[SC_MAX_PLAINTEXT];

static size_t enc(sc_session *s, const char *text, uint8_t *env)
{
    sc_session next;
    size_t l = 0;
    if (sc_ratchet_encrypt(s, &next, (const uint8_t *)text, strlen(text), env, SC_ENV_MAX, &l))
        abort();
    test_commit(s, &next);
    return l;
}

/* Decrypt that must fail (returns its code) and leave s unchanged (else returns 1000). */
static int dec_fail(sc_session *s, const uint8_t *env, size_t len)
{
    size_t l1, l2, pl;
    uint8_t *before = test_state(s, &l1);
    sc_session next;
    int rc = sc_ratchet_decrypt(s, &next, env, len, pt, sizeof(pt), &pl);
    if (rc == 0) {
        sc_session_free(&next);
        free(before);
        return 0;
    }
    uint8_t *after = test_state(s, &l2);
    if (l1 != l2 || memcmp(before, after, l1))
        rc = 1000;
    free(before);
    free(after);
    return rc;
}

static int dec_ok(sc_session *s, const uint8_t *env, size_t len, const char *want)
{
    sc_session next;
    size_t pl;
    int rc = sc_ratchet_decrypt(s, &next, env, len, pt, sizeof(pt), &pl);
    if (rc == 0) {
        test_commit(s, &next);
        if (pl != strlen(want) || memcmp(pt, want, pl))
            rc = 99;
    }
    return rc;
}

static test_dev A, B, C;

TEST(other_session_same_devices)
{
    sc_session a1, b1, a2, b2;
    CHECK_EQ_INT(test_pair(&A, &B, 0, &a1, &b1), 0);
    CHECK_EQ_INT(test_pair(&A, &B, 1, &a2, &b2), 0);
    uint8_t e[SC_ENV_MAX];
    size_t l = enc(&a1, "for session 1", e);
    CHECK(dec_fail(&b2, e, l) != 0 && dec_fail(&b2, e, l) != 1000);
    CHECK_EQ_INT(dec_ok(&b1, e, l, "for session 1"), 0);
    l = enc(&b1, "reply 1", e);
    CHECK(dec_fail(&a2, e, l) != 0 && dec_fail(&a2, e, l) != 1000);
    CHECK_EQ_INT(dec_ok(&a1, e, l, "reply 1"), 0);
    l = enc(&a1, "normal 1", e);
    CHECK(dec_fail(&b2, e, l) != 0 && dec_fail(&b2, e, l) != 1000);
    sc_session_free(&a1);
    sc_session_free(&b1);
    sc_session_free(&a2);
    sc_session_free(&b2);
}

TEST(other_device)
{
    sc_session ab_a, ab_b, ac_a, ac_c;
    CHECK_EQ_INT(test_pair(&A, &B, 2, &ab_a, &ab_b), 0);
    CHECK_EQ_INT(test_pair(&A, &C, 2, &ac_a, &ac_c), 0);
    uint8_t e[SC_ENV_MAX];
    size_t l = enc(&ab_a, "for B", e);
    int rc = dec_fail(&ac_c, e, l);
    CHECK(rc != 0 && rc != 1000);
    /* a fresh prekey message for B, given to C (same prekey ids, C's keys) */
    sc_bundle bun;
    sc_session s0, out;
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, &B.opk[3], &bun), 0);
    CHECK_EQ_INT(sc_x3dh_initiate(&A.ik, &A.dev, &bun, &s0), 0);
    l = enc(&s0, "hello B", e);
    size_t pl;
    CHECK(sc_session_accept(&C.ik, &C.spk, &C.opk[3], &C.dev, &A.dev, e, l, &out, pt,
                            sizeof(pt), &pl) != 0);
    /* and to B claiming another sender device (A's account, another device id) */
    sc_device other = { A.dev.user_id, A.dev.device_id + 1 };
    CHECK(sc_session_accept(&B.ik, &B.spk, &B.opk[3], &B.dev, &other, e, l, &out, pt,
                            sizeof(pt), &pl) != 0);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, &B.opk[3], &B.dev, &A.dev, e, l, &out, pt,
                                   sizeof(pt), &pl), 0);
    sc_session_free(&out);
    sc_session_free(&s0);
    sc_session_free(&ab_a);
    sc_session_free(&ab_b);
    sc_session_free(&ac_a);
    sc_session_free(&ac_c);
}

TEST(wrong_message_type)
{
    sc_session a1, b1, a2, b2;
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a1, &b1), 0);
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a2, &b2), 0);
    uint8_t e[SC_ENV_MAX], pre2[SC_ENV_MAX];
    /* a prekey message of another set-up, to an established session */
    size_t lp2 = enc(&a2, "set-up 2", pre2);
    CHECK_EQ_INT(dec_fail(&b1, pre2, lp2), SC_E_TYPE);
    /* routing: the message names its own set-up, and only that one */
    sc_envelope pe;
    CHECK_EQ_INT(sc_envelope_parse(pre2, lp2, &pe), 0);
    CHECK_EQ_INT(sc_session_is_setup_of(&b2, &pe), 1);
    CHECK_EQ_INT(sc_session_is_setup_of(&b1, &pe), 0);
    CHECK_EQ_INT(sc_session_is_setup_of(&a2, &pe), 0);
    /* a normal message to a responder that has not sent yet (copy of b1 before its reply) */
    sc_session b1_early;
    CHECK_EQ_INT(sc_session_copy(&b1_early, &b1), 0);
    size_t l = enc(&b1, "reply", e);
    CHECK_EQ_INT(dec_ok(&a1, e, l, "reply"), 0);
    l = enc(&a1, "normal", e);
    CHECK_EQ_INT(e[1], SC_MSG_NORMAL);
    CHECK_EQ_INT(dec_fail(&b1_early, e, l), SC_E_TYPE);
    /* a normal message where a first (prekey) message is expected */
    sc_session out;
    size_t pl;
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, NULL, &B.dev, &A.dev, e, l, &out, pt,
                                   sizeof(pt), &pl), SC_E_TYPE);
    /* a prekey message re-labelled as normal (type byte flipped; the layout then differs) */
    uint8_t t[SC_ENV_MAX];
    memcpy(t, pre2, lp2);
    t[1] = SC_MSG_NORMAL;
    CHECK(dec_fail(&b2, t, lp2) != 0);
    CHECK_EQ_INT(dec_ok(&b1, e, l, "normal"), 0);
    sc_session_free(&b1_early);
    sc_session_free(&a1);
    sc_session_free(&b1);
    sc_session_free(&a2);
    sc_session_free(&b2);
}

TEST(swapped_identity_key)
{
    sc_bundle bun;
    sc_session s;
    /* in the bundle: C's identity key over B's signed prekey */
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, &B.opk[0], &bun), 0);
    memcpy(bun.ik, C.ik.sign_pk, SC_KEY);
    CHECK_EQ_INT(sc_x3dh_initiate(&A.ik, &A.dev, &bun, &s), SC_E_BADKEY);
    /* a signed prekey with someone else's signature / another id */
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, NULL, &bun), 0);
    memcpy(bun.spk_sig, C.spk.sig, SC_SIG);
    CHECK_EQ_INT(sc_bundle_verify(&bun), SC_E_BADKEY);
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, NULL, &bun), 0);
    bun.spk_id++;
    CHECK_EQ_INT(sc_bundle_verify(&bun), SC_E_BADKEY);
    /* in the prekey message: the initiator's identity key replaced by C's */
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, NULL, &bun), 0);
    CHECK_EQ_INT(sc_x3dh_initiate(&A.ik, &A.dev, &bun, &s), 0);
    uint8_t e[SC_ENV_MAX];
    size_t l = enc(&s, "who am I", e);
    memcpy(e + 2, C.ik.sign_pk, SC_KEY);
    sc_session out;
    size_t pl;
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, NULL, &B.dev, &A.dev, e, l, &out, pt,
                                   sizeof(pt), &pl), SC_E_AUTH);
    memcpy(e + 2, A.ik.sign_pk, SC_KEY);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, NULL, &B.dev, &A.dev, e, l, &out, pt,
                                   sizeof(pt), &pl), 0);
    CHECK(memcmp(sc_session_peer_ik(&out), A.ik.sign_pk, SC_KEY) == 0);
    CHECK_EQ_INT(sc_session_peer_device(&out).device_id, A.dev.device_id);
    CHECK_EQ_INT(sc_session_own_device(&out).device_id, B.dev.device_id);
    CHECK(memcmp(sc_session_own_ik(&out), B.ik.sign_pk, SC_KEY) == 0);
    sc_session_free(&out);
    sc_session_free(&s);
}

TEST(reflection)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a, &b), 0);
    uint8_t e[SC_ENV_MAX];
    size_t l = enc(&a, "prekey to self", e);
    CHECK_EQ_INT(dec_fail(&a, e, l), SC_E_TYPE);
    CHECK_EQ_INT(dec_ok(&b, e, l, "prekey to self"), 0);
    l = enc(&b, "b to self", e);
    int rc = dec_fail(&b, e, l);
    CHECK(rc != 0 && rc != 1000);
    CHECK_EQ_INT(dec_ok(&a, e, l, "b to self"), 0);
    l = enc(&a, "a to self", e);
    rc = dec_fail(&a, e, l);
    CHECK(rc != 0 && rc != 1000);
    CHECK_EQ_INT(dec_ok(&b, e, l, "a to self"), 0);
    sc_session_free(&a);
    sc_session_free(&b);
}

static int all_digits_grouped(const char *n)
{
    if (strlen(n) != SC_FP_NUMBER_LEN)
        return 0;
    for (int i = 0; i < SC_FP_NUMBER_LEN; i++)
        if (i % 6 == 5 ? n[i] != ' ' : (n[i] < '0' || n[i] > '9'))
            return 0;
    return 1;
}

/* How many of the two 30-digit halves of grouped number a also occur as a half of b. */
static int common_halves(const char *a, const char *b)
{
    char da[SC_FP_DIGITS], db[SC_FP_DIGITS];
    for (int i = 0, j = 0; i < SC_FP_NUMBER_LEN; i++)
        if (a[i] != ' ') {
            da[j] = a[i];
            db[j++] = b[i];
        }
    int n = 0;
    for (int x = 0; x < 2; x++)
        n += memcmp(da + 30 * x, db, 30) == 0 || memcmp(da + 30 * x, db + 30, 30) == 0;
    return n;
}

TEST(fingerprint)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a, &b), 0);
    char na[SC_FP_NUMBER_LEN + 1], nb[SC_FP_NUMBER_LEN + 1], ea[SC_FP_LONG_LEN + 1],
        eb[SC_FP_LONG_LEN + 1];
    CHECK_EQ_INT(sc_session_fingerprint(&a, na, ea), 0);
    CHECK_EQ_INT(sc_session_fingerprint(&b, nb, eb), 0);
    CHECK_EQ_STR(na, nb);
    CHECK_EQ_STR(ea, eb);
    CHECK(all_digits_grouped(na));
    CHECK_EQ_INT(strlen(ea), SC_FP_LONG_LEN);
    /* order-independent directly, too */
    char n1[SC_FP_NUMBER_LEN + 1], n2[SC_FP_NUMBER_LEN + 1], e1[SC_FP_LONG_LEN + 1],
        e2[SC_FP_LONG_LEN + 1];
    CHECK_EQ_INT(sc_fingerprint(A.ik.sign_pk, &A.dev, B.ik.sign_pk, &B.dev, n1, e1), 0);
    CHECK_EQ_INT(sc_fingerprint(B.ik.sign_pk, &B.dev, A.ik.sign_pk, &A.dev, n2, e2), 0);
    CHECK_EQ_STR(n1, n2);
    CHECK_EQ_STR(e1, e2);
    CHECK_EQ_STR(n1, na);
    /* a changed identity key or device changes both */
    CHECK_EQ_INT(sc_fingerprint(A.ik.sign_pk, &A.dev, C.ik.sign_pk, &B.dev, n2, e2), 0);
    CHECK(strcmp(n1, n2) != 0 && strcmp(e1, e2) != 0);
    sc_device other = { B.dev.user_id, B.dev.device_id + 1 };
    CHECK_EQ_INT(sc_fingerprint(A.ik.sign_pk, &A.dev, B.ik.sign_pk, &other, n2, e2), 0);
    CHECK(strcmp(n1, n2) != 0 && strcmp(e1, e2) != 0);
    /* only the changed side's 30 digits change (the halves are sorted, so either position) */
    CHECK_EQ_INT(common_halves(n1, n2), 1);
    sc_session_free(&a);
    sc_session_free(&b);
}

/* A fixed input gives a fixed output: the derivation in SECRET_CHATS.md cannot drift. The
 * expected values were computed independently (Python hashlib) from the documented steps. */
TEST(fingerprint_known_answer)
{
    uint8_t ik1[32], ik2[32];
    memset(ik1, 0x01, 32);
    memset(ik2, 0x02, 32);
    sc_device d1 = { 1, 2 }, d2 = { 3, 4 };
    char n[SC_FP_NUMBER_LEN + 1];
    CHECK_EQ_INT(sc_fingerprint(ik1, &d1, ik2, &d2, n, NULL), 0);
    CHECK_EQ_STR(n, FP_KAT_NUMBER);
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    test_dev_make(&A, 1, 10);
    test_dev_make(&B, 2, 20);
    test_dev_make(&C, 3, 30);
    RUN(other_session_same_devices);
    RUN(other_device);
    RUN(wrong_message_type);
    RUN(swapped_identity_key);
    RUN(reflection);
    RUN(fingerprint);
    RUN(fingerprint_known_answer);
    test_dev_wipe(&A);
    test_dev_wipe(&B);
    test_dev_wipe(&C);
    return UNIT_DONE("test_lib_sc_confusion");
}
