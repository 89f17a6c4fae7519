/* test_lib_sc_encoding.c: the byte formats of secret chats: prekey bundles (round trip, every
 * truncation and bad field rejected), envelopes (versions, types, sizes, the plaintext
 * bound), and the session state encoding (round trip with skipped keys, and every
 * truncation, extension and structural corruption rejected without a half-filled session). */
#include "sc_test.h"

static uint8_t env[SC_ENV_MAX + 64], pt[SC_MAX_PLAINTEXT + 64];
static test_dev A, B;

TEST(bundle_round_trip_and_rejects)
{
    sc_bundle b, p;
    uint8_t buf[SC_BUNDLE_MAX + 1];
    size_t len;
    for (int with_opk = 0; with_opk < 2; with_opk++) {
        CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, with_opk ? &B.opk[1] : NULL, &b), 0);
        CHECK_EQ_INT(sc_bundle_encode(&b, buf, sizeof(buf), &len), 0);
        CHECK_EQ_INT(len, with_opk ? SC_BUNDLE_MAX : SC_BUNDLE_MIN);
        CHECK_EQ_INT(sc_bundle_parse(buf, len, &p), 0);
        CHECK(memcmp(&b, &p, sizeof(b)) == 0);
        CHECK_EQ_INT(sc_bundle_verify(&p), 0);
        for (size_t cut = 0; cut < len; cut++)
            CHECK_EQ_INT(sc_bundle_parse(buf, cut, &p), SC_E_MALFORMED);
        buf[len] = 0;
        CHECK_EQ_INT(sc_bundle_parse(buf, len + 1, &p), SC_E_MALFORMED);
        buf[0] = 2;
        CHECK_EQ_INT(sc_bundle_parse(buf, len, &p), SC_E_MALFORMED);
        buf[0] = 1;
        buf[1] = 0x02;
        CHECK_EQ_INT(sc_bundle_parse(buf, len, &p), SC_E_MALFORMED);
        buf[1] = (uint8_t)with_opk;
        /* any flipped bit of the keys or signature fails verification */
        int verified = 0;
        for (size_t bit = 18 * 8; bit < len * 8; bit++) {
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (sc_bundle_parse(buf, len, &p) == 0 && sc_bundle_verify(&p) == 0) {
                /* one-time prekeys are not signed (as in X3DH): a changed opk id or key is
                 * a different, still valid, prekey; the set-up then fails at the peer */
                if (!(with_opk && bit >= SC_BUNDLE_MIN * 8))
                    verified++;
            }
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        CHECK_EQ_INT(verified, 0);
    }
    CHECK_EQ_INT(sc_bundle_encode(&b, buf, SC_BUNDLE_MIN, &len), SC_E_ARG);
}

TEST(envelope_parse_rejects)
{
    sc_envelope e;
    uint8_t buf[SC_ENV_MAX + 2];
    memset(buf, 0, sizeof(buf));
    buf[0] = SC_ENV_VERSION;
    buf[1] = SC_MSG_NORMAL;
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_NORMAL + SC_TAG, &e), 0);
    CHECK_EQ_INT(e.ct_len, SC_TAG);
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_NORMAL + SC_TAG - 1, &e), SC_E_MALFORMED);
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_NORMAL + SC_TAG + SC_MAX_PLAINTEXT, &e), 0);
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_NORMAL + SC_TAG + SC_MAX_PLAINTEXT + 1,
                                   &e), SC_E_TOO_BIG);
    CHECK_EQ_INT(sc_envelope_parse(buf, 0, &e), SC_E_MALFORMED);
    CHECK_EQ_INT(sc_envelope_parse(buf, 1, &e), SC_E_MALFORMED);
    buf[0] = 0;
    CHECK_EQ_INT(sc_envelope_parse(buf, 200, &e), SC_E_MALFORMED);
    buf[0] = SC_ENV_VERSION;
    for (int t = 0; t < 256; t++) {
        buf[1] = (uint8_t)t;
        int rc = sc_envelope_parse(buf, 200, &e);
        CHECK(t == SC_MSG_NORMAL || t == SC_MSG_PREKEY ? rc == 0 : rc == SC_E_MALFORMED);
    }
    buf[1] = SC_MSG_PREKEY;
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_PREKEY + SC_TAG - 1, &e), SC_E_MALFORMED);
    CHECK_EQ_INT(sc_envelope_parse(buf, SC_ENV_HEADER_PREKEY + SC_TAG, &e), 0);
    size_t flag = 2 + 2 * SC_KEY + 4;
    buf[flag] = 2;
    CHECK_EQ_INT(sc_envelope_parse(buf, 200, &e), SC_E_MALFORMED);
    buf[flag] = 0;
    buf[flag + 4] = 1;   /* an opk id without an opk */
    CHECK_EQ_INT(sc_envelope_parse(buf, 200, &e), SC_E_MALFORMED);
    buf[flag] = 1;
    CHECK_EQ_INT(sc_envelope_parse(buf, 200, &e), 0);
    CHECK(e.has_opk == 1 && e.opk_id == 1);
    /* header round trip */
    uint8_t h[SC_ENV_HEADER_PREKEY];
    size_t hl;
    CHECK_EQ_INT(sc_envelope_encode_header(&e, h, sizeof(h), &hl), 0);
    CHECK(hl == SC_ENV_HEADER_PREKEY && memcmp(h, buf, hl) == 0);
    CHECK_EQ_INT(sc_envelope_encode_header(&e, h, sizeof(h) - 1, &hl), SC_E_ARG);
}

TEST(plaintext_bounds)
{
    sc_session a, b, next;
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a, &b), 0);
    static uint8_t big[SC_MAX_PLAINTEXT + 1];
    memset(big, 0x61, sizeof(big));
    size_t el, pl;
    CHECK_EQ_INT(sc_ratchet_encrypt(&a, &next, big, sizeof(big), env, sizeof(env), &el),
                 SC_E_TOO_BIG);
    CHECK_EQ_INT(sc_ratchet_encrypt(&a, &next, big, SC_MAX_PLAINTEXT, env, SC_ENV_MAX - 1, &el),
                 SC_E_ARG);
    CHECK_EQ_INT(sc_ratchet_encrypt(&a, &next, big, SC_MAX_PLAINTEXT, env, sizeof(env), &el), 0);
    CHECK_EQ_INT(el, SC_ENV_MAX);
    test_commit(&a, &next);
    CHECK_EQ_INT(sc_ratchet_decrypt(&b, &next, env, el, pt, SC_MAX_PLAINTEXT - 1, &pl),
                 SC_E_ARG);
    CHECK_EQ_INT(sc_ratchet_decrypt(&b, &next, env, el, pt, sizeof(pt), &pl), 0);
    CHECK(pl == SC_MAX_PLAINTEXT && memcmp(pt, big, pl) == 0);
    test_commit(&b, &next);
    /* the empty message is a message too */
    CHECK_EQ_INT(sc_ratchet_encrypt(&a, &next, NULL, 0, env, sizeof(env), &el), 0);
    test_commit(&a, &next);
    CHECK_EQ_INT(sc_ratchet_decrypt(&b, &next, env, el, pt, sizeof(pt), &pl), 0);
    CHECK_EQ_INT(pl, 0);
    test_commit(&b, &next);
    sc_session_free(&a);
    sc_session_free(&b);
}

TEST(accept_wrong_prekeys)
{
    sc_bundle bun;
    sc_session s0, s1, out;
    size_t el, pl;
    CHECK_EQ_INT(sc_bundle_make(&B.dev, &B.ik, &B.spk, &B.opk[0], &bun), 0);
    CHECK_EQ_INT(sc_x3dh_initiate(&A.ik, &A.dev, &bun, &s0), 0);
    CHECK_EQ_INT(sc_ratchet_encrypt(&s0, &s1, (const uint8_t *)"x", 1, env, sizeof(env), &el), 0);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, &B.opk[1], &B.dev, &A.dev, env, el, &out, pt,
                                   sizeof(pt), &pl), SC_E_ARG);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, NULL, &B.dev, &A.dev, env, el, &out, pt,
                                   sizeof(pt), &pl), SC_E_ARG);
    /* the right ids but another key under them (a replaced prekey) */
    sc_onetime_prekey fake;
    CHECK_EQ_INT(sc_onetime_prekeys_generate(B.opk[0].id, 1, &fake), 0);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, &fake, &B.dev, &A.dev, env, el, &out, pt,
                                   sizeof(pt), &pl), SC_E_AUTH);
    sc_onetime_prekeys_wipe(&fake, 1);
    CHECK_EQ_INT(sc_session_accept(&B.ik, &B.spk, &B.opk[0], &B.dev, &A.dev, env, el, &out, pt,
                                   sizeof(pt), &pl), 0);
    /* a responder before it has received anything cannot send */
    sc_envelope e;
    sc_session fresh, next;
    CHECK_EQ_INT(sc_envelope_parse(env, el, &e), 0);
    CHECK_EQ_INT(sc_x3dh_respond(&B.ik, &B.spk, &B.opk[0], &B.dev, &A.dev, &e, &fresh), 0);
    CHECK_EQ_INT(sc_ratchet_encrypt(&fresh, &next, (const uint8_t *)"y", 1, env, sizeof(env), &el),
                 SC_E_ARG);
    sc_session_free(&fresh);
    sc_session_free(&out);
    sc_session_free(&s0);
    sc_session_free(&s1);
    CHECK_EQ_INT(sc_onetime_prekeys_generate(UINT32_MAX, 2, &fake), SC_E_ARG);
}

static int parse_fails_clean(const uint8_t *buf, size_t len)
{
    sc_session s;
    memset(&s, 0x5a, sizeof(s));
    int rc = sc_session_parse(buf, len, &s);
    if (rc == 0) {
        sc_session_free(&s);
        return 0;
    }
    return s.skipped == NULL && s.n_skipped == 0 && sodium_is_zero(s.rk, SC_KEY);
}

TEST(session_state_encoding)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&A, &B, 1, &a, &b), 0);
    /* some skipped keys on b: a sends 5, only the last arrives */
    sc_session next;
    size_t el, pl;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(sc_ratchet_encrypt(&a, &next, (const uint8_t *)"k", 1, env, sizeof(env), &el), 0);
        test_commit(&a, &next);
    }
    CHECK_EQ_INT(sc_ratchet_decrypt(&b, &next, env, el, pt, sizeof(pt), &pl), 0);
    test_commit(&b, &next);
    CHECK_EQ_INT(b.n_skipped, 4);
    size_t len, len2;
    uint8_t *buf = test_state(&b, &len);
    CHECK_EQ_INT(len, sc_session_serialized_size(&b));
    CHECK_EQ_INT(len, SC_STATE_FIXED + 4 * SC_STATE_ENTRY);
    sc_session p;
    CHECK_EQ_INT(sc_session_parse(buf, len, &p), 0);
    uint8_t *buf2 = test_state(&p, &len2);
    CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
    free(buf2);
    sc_session_free(&p);
    CHECK_EQ_INT(sc_session_serialize(&b, buf, len - 1, &len2), SC_E_ARG);
    /* every truncation and a one-byte extension */
    int accepted = 0;
    uint8_t *t = malloc(len + 1);
    for (size_t cut = 0; cut < len; cut++)
        accepted += !parse_fails_clean(buf, cut);
    memcpy(t, buf, len);
    t[len] = 0;
    accepted += !parse_fails_clean(t, len + 1);
    /* structural bytes: magic, version, role, flags, the skipped count */
    size_t structural[] = { 0, 1, 2, 3, 4, 5, 6, SC_STATE_FIXED - 1, SC_STATE_FIXED - 4 };
    for (size_t i = 0; i < sizeof(structural) / sizeof(structural[0]); i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(t, buf, len);
            t[structural[i]] ^= (uint8_t)(1u << bit);
            /* some flag bits are consistent combinations: those parse, and must re-encode
             * to exactly the bytes given */
            sc_session q;
            if (sc_session_parse(t, len, &q) == 0) {
                size_t ql;
                uint8_t *qb = test_state(&q, &ql);
                accepted += !(structural[i] == 6 && ql == len && memcmp(qb, t, len) == 0);
                free(qb);
                sc_session_free(&q);
            }
        }
    /* the ratchet public key must belong to its secret key */
    memcpy(t, buf, len);
    t[7 + SC_AD_LEN] ^= 1;
    accepted += !parse_fails_clean(t, len);
    CHECK_EQ_INT(accepted, 0);
    /* a too-large count with a matching length */
    memcpy(t, buf, len);
    sc_put32(t + SC_STATE_FIXED - 4, SC_MAX_SKIPPED_TOTAL + 1);
    CHECK(parse_fails_clean(t, len));
    free(t);
    /* the parsed state goes on working: the skipped ones still decrypt */
    sc_session_free(&b);
    CHECK_EQ_INT(sc_session_parse(buf, len, &b), 0);
    CHECK_EQ_INT(sc_ratchet_encrypt(&b, &next, (const uint8_t *)"after", 5, env, sizeof(env), &el), 0);
    test_commit(&b, &next);
    CHECK_EQ_INT(sc_ratchet_decrypt(&a, &next, env, el, pt, sizeof(pt), &pl), 0);
    test_commit(&a, &next);
    CHECK(pl == 5 && memcmp(pt, "after", 5) == 0);
    sodium_memzero(buf, len);
    free(buf);
    sc_session_free(&a);
    sc_session_free(&b);
}

/* The wipe/free functions leave no key bytes in the structs they are given. */
TEST(wipe_functions)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&A, &B, -1, &a, &b), 0);
    sc_session_free(&a);
    sc_session_free(&b);
    CHECK(sodium_is_zero((const uint8_t *)&a, sizeof(a)));
    CHECK(sodium_is_zero((const uint8_t *)&b, sizeof(b)));
    sc_identity id;
    sc_signed_prekey spk;
    sc_onetime_prekey opk[3];
    CHECK_EQ_INT(sc_identity_generate(&id), 0);
    CHECK_EQ_INT(sc_signed_prekey_generate(&id, 9, &spk), 0);
    CHECK_EQ_INT(sc_onetime_prekeys_generate(5, 3, opk), 0);
    CHECK(!sodium_is_zero(id.sign_sk, SC_SIGN_SK) && !sodium_is_zero(spk.sk, SC_KEY));
    CHECK(opk[0].id == 5 && opk[2].id == 7 && memcmp(opk[0].pk, opk[1].pk, SC_KEY) != 0);
    sc_identity_wipe(&id);
    sc_signed_prekey_wipe(&spk);
    sc_onetime_prekeys_wipe(opk, 3);
    CHECK(sodium_is_zero((const uint8_t *)&id, sizeof(id)));
    CHECK(sodium_is_zero((const uint8_t *)&spk, sizeof(spk)));
    CHECK(sodium_is_zero((const uint8_t *)opk, sizeof(opk)));
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    test_dev_make(&A, 1, 10);
    test_dev_make(&B, 2, 20);
    RUN(bundle_round_trip_and_rejects);
    RUN(envelope_parse_rejects);
    RUN(plaintext_bounds);
    RUN(accept_wrong_prekeys);
    RUN(session_state_encoding);
    RUN(wipe_functions);
    test_dev_wipe(&A);
    test_dev_wipe(&B);
    return UNIT_DONE("test_lib_sc_encoding");
}
