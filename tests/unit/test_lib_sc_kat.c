/* test_lib_sc_kat.c: known-answer tests for every primitive and derivation secret chats use:
 * X25519 (RFC 7748 5.2, 6.1), Ed25519 (RFC 8032 7.1 tests 1-3), HMAC-SHA-256 (RFC 4231 cases
 * 1-7), HKDF-SHA-256 (RFC 5869 cases 1-3), ChaCha20-Poly1305 (RFC 8439 2.8.2),
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha A.3.1), plus hand-written Wycheproof-style edge
 * cases (X25519 low-order points, Ed25519 non-canonical S and small-order keys, AEAD tag and
 * AD flips), and our own derivations (KDF_RK, KDF_CK, X3DH's SK) against values computed
 * independently (Python's hmac/hashlib and the `cryptography` package, from the specs). */
#include "sc_test.h"

static int eq_hex(const uint8_t *got, size_t n, const char *hex)
{
    uint8_t want[512];
    size_t wn = unhex(hex, want);
    return wn == n && memcmp(got, want, n) == 0;
}

TEST(x25519_rfc7748_5_2)
{
    static const char *v[][3] = {
        { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
          "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
          "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
        { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
          "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
          "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t k[32], u[32], out[32];
        unhex(v[i][0], k);
        unhex(v[i][1], u);
        CHECK_EQ_INT(sc_dh(k, u, out), 0);
        CHECK(eq_hex(out, 32, v[i][2]));
    }
    /* the iterated test: k = u = 9, then k, u = X25519(k, u), k */
    uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32];
    for (int i = 1; i <= 1000; i++) {
        CHECK_EQ_INT(crypto_scalarmult(r, k, u), 0);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
        if (i == 1)
            CHECK(eq_hex(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
    CHECK(eq_hex(k, 32, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

TEST(x25519_rfc7748_6_1)
{
    uint8_t a[32], b[32], pa[32], pb[32], k1[32], k2[32];
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a);
    unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b);
    crypto_scalarmult_base(pa, a);
    crypto_scalarmult_base(pb, b);
    CHECK(eq_hex(pa, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    CHECK(eq_hex(pb, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    CHECK_EQ_INT(sc_dh(a, pb, k1), 0);
    CHECK_EQ_INT(sc_dh(b, pa, k2), 0);
    CHECK(eq_hex(k1, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    CHECK(memcmp(k1, k2, 32) == 0);
}

/* Points of order 1, 2, 4, 8 and their non-canonical encodings (u + p): X25519 with any
 * scalar gives zero, which sc_dh must report and sc_bundle_verify must refuse. */
TEST(x25519_low_order_rejected)
{
    static const char *pts[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",   /* 0 */
        "0100000000000000000000000000000000000000000000000000000000000000",   /* 1 */
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",   /* order 8 */
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",   /* order 8 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p - 1 */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p = 0 */
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p + 1 = 1 */
    };
    uint8_t sk[32], out[32];
    randombytes_buf(sk, sizeof(sk));
    test_dev b;
    test_dev_make(&b, 2, 20);
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        uint8_t u[32];
        unhex(pts[i], u);
        memset(out, 0x55, sizeof(out));
        CHECK_EQ_INT(sc_dh(sk, u, out), SC_E_BADKEY);
        CHECK(sodium_is_zero(out, 32));
        /* as a one-time prekey in an otherwise valid bundle */
        sc_bundle bun;
        CHECK_EQ_INT(sc_bundle_make(&b.dev, &b.ik, &b.spk, &b.opk[0], &bun), 0);
        CHECK_EQ_INT(sc_bundle_verify(&bun), 0);
        memcpy(bun.opk, u, 32);
        CHECK_EQ_INT(sc_bundle_verify(&bun), SC_E_BADKEY);
    }
    test_dev_wipe(&b);
}

TEST(ed25519_rfc8032_7_1)
{
    static const char *v[][4] = {
        { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
        { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
          "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
        { "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
          "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
          "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
          "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
    };
    for (size_t i = 0; i < 3; i++) {
        uint8_t seed[32], msg[8], sig[64], want[64];
        size_t mlen = unhex(v[i][2], msg);
        unhex(v[i][0], seed);
        unhex(v[i][3], want);
        sc_identity id;
        CHECK_EQ_INT(sc_identity_from_seed(&id, seed), 0);
        CHECK(eq_hex(id.sign_pk, 32, v[i][1]));
        /* the X25519 form: its public key is its secret key's */
        uint8_t xpk[32];
        crypto_scalarmult_base(xpk, id.dh_sk);
        CHECK(memcmp(xpk, id.dh_pk, 32) == 0);
        CHECK_EQ_INT(crypto_sign_detached(sig, NULL, msg, mlen, id.sign_sk), 0);
        CHECK(memcmp(sig, want, 64) == 0);
        CHECK_EQ_INT(crypto_sign_verify_detached(want, msg, mlen, id.sign_pk), 0);
        want[63] ^= 0x01;
        CHECK(crypto_sign_verify_detached(want, msg, mlen, id.sign_pk) != 0);
        sc_identity_wipe(&id);
    }
}

/* Wycheproof-style: S + L (the same scalar, non-canonical) must be rejected, and so must
 * small-order and non-canonical public keys as identity keys. */
TEST(ed25519_edge_cases)
{
    static const uint8_t L[32] = {
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
        0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
    uint8_t pk[32], sig[64];
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk);
    unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", sig);
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, NULL, 0, pk), 0);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned s = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)s;
        carry = s >> 8;
    }
    CHECK_EQ_INT(carry, 0);
    CHECK(crypto_sign_verify_detached(sig, NULL, 0, pk) != 0);

    test_dev b;
    test_dev_make(&b, 2, 20);
    sc_bundle bun;
    CHECK_EQ_INT(sc_bundle_make(&b.dev, &b.ik, &b.spk, NULL, &bun), 0);
    static const char *bad_ik[] = {
        "0100000000000000000000000000000000000000000000000000000000000000",   /* identity */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* order 2 */
        "0000000000000000000000000000000000000000000000000000000000000080",   /* order 4 */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* y = p */
    };
    for (size_t i = 0; i < sizeof(bad_ik) / sizeof(bad_ik[0]); i++) {
        unhex(bad_ik[i], bun.ik);
        CHECK_EQ_INT(sc_bundle_verify(&bun), SC_E_BADKEY);
    }
    test_dev_wipe(&b);
}

TEST(hmac_sha256_rfc4231)
{
    uint8_t k131[131], d50dd[50], d50cd[50], k25[25], out[32];
    memset(k131, 0xaa, sizeof(k131));
    memset(d50dd, 0xdd, sizeof(d50dd));
    memset(d50cd, 0xcd, sizeof(d50cd));
    for (int i = 0; i < 25; i++)
        k25[i] = (uint8_t)(i + 1);
    struct { const uint8_t *k; size_t kl; const uint8_t *d; size_t dl; const char *mac; } v[] = {
        { (const uint8_t *)"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b",
          20, (const uint8_t *)"Hi There", 8,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { (const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { k131, 20, d50dd, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { k25, 25, d50cd, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
        { (const uint8_t *)"\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c",
          20, (const uint8_t *)"Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b" },
        { k131, 131, (const uint8_t *)"Test Using Larger Than Block-Size Key - Hash Key First", 54,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { k131, 131, (const uint8_t *)"This is a test using a larger than block-size key and a "
          "larger than block-size data. The key needs to be hashed before being used by the "
          "HMAC algorithm.", 152,
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        CHECK_EQ_INT(sc_hmac_sha256(v[i].k, v[i].kl, v[i].d, v[i].dl, out), 0);
        /* case 5 is truncated to 128 bits */
        CHECK(eq_hex(out, strlen(v[i].mac) / 2, v[i].mac));
    }
}

TEST(hkdf_rfc5869)
{
    uint8_t ikm[80], salt[80], info[80], okm[82];
    memset(ikm, 0x0b, 22);
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    CHECK_EQ_INT(sc_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42), 0);
    CHECK(eq_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                          "34007208d5b887185865"));
    for (int i = 0; i < 80; i++) {
        ikm[i] = (uint8_t)i;
        salt[i] = (uint8_t)(0x60 + i);
        info[i] = (uint8_t)(0xb0 + i);
    }
    CHECK_EQ_INT(sc_hkdf_sha256(salt, 80, ikm, 80, info, 80, okm, 82), 0);
    CHECK(eq_hex(okm, 82, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                          "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                          "cc30c58179ec3e87c14c01d5c1f3434f1d87"));
    memset(ikm, 0x0b, 22);
    CHECK_EQ_INT(sc_hkdf_sha256(NULL, 0, ikm, 22, NULL, 0, okm, 42), 0);
    CHECK(eq_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                          "9d201395faa4b61a96c8"));
    CHECK_EQ_INT(sc_hkdf_sha256(NULL, 0, ikm, 22, NULL, 0, okm, 255 * 32 + 1), SC_E_ARG);
}

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer "
    "you only one tip for the future, sunscreen would be it.";

TEST(chacha20poly1305_rfc8439_2_8_2)
{
    uint8_t key[32], nonce[12], aad[12], ct[sizeof(sunscreen) + 16], pt[sizeof(sunscreen)];
    size_t n = sizeof(sunscreen) - 1;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("070000004041424344454647", nonce);
    unhex("50515253c0c1c2c3c4c5c6c7", aad);
    unsigned long long cl, pl;
    CHECK_EQ_INT(crypto_aead_chacha20poly1305_ietf_encrypt(ct, &cl, (const uint8_t *)sunscreen,
                                                           n, aad, 12, NULL, nonce, key), 0);
    CHECK_EQ_INT(cl, n + 16);
    CHECK(eq_hex(ct, n, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                        "3ff4def08e4b7a9de576d26586cec64b6116"));
    CHECK(eq_hex(ct + n, 16, "1ae10b594f09e26a7e902ecbd0600691"));
    CHECK_EQ_INT(crypto_aead_chacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, cl, aad, 12,
                                                           nonce, key), 0);
    CHECK(pl == n && memcmp(pt, sunscreen, n) == 0);
}

/* The AEAD the ratchet uses: the draft's vector, then every flipped bit of tag and AD. */
TEST(xchacha20poly1305_draft_a_3_1)
{
    uint8_t key[32], nonce[24], aad[12], ct[sizeof(sunscreen) + 16], pt[sizeof(sunscreen)];
    size_t n = sizeof(sunscreen) - 1;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("404142434445464748494a4b4c4d4e4f5051525354555657", nonce);
    unhex("50515253c0c1c2c3c4c5c6c7", aad);
    unsigned long long cl, pl;
    CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &cl, (const uint8_t *)sunscreen,
                                                            n, aad, 12, NULL, nonce, key), 0);
    CHECK(eq_hex(ct, n, "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
                        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
                        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
                        "21f9664c97637da9768812f615c68b13b52e"));
    CHECK(eq_hex(ct + n, 16, "c0875924c1c7987947deafd8780acf49"));
    int bad = 0;
    for (size_t bit = 0; bit < 16 * 8; bit++) {
        ct[n + bit / 8] ^= (uint8_t)(1 << (bit % 8));
        bad += crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, cl, aad, 12,
                                                          nonce, key) == 0;
        ct[n + bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    for (size_t bit = 0; bit < 12 * 8; bit++) {
        aad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        bad += crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, cl, aad, 12,
                                                          nonce, key) == 0;
        aad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, cl - 1, aad, 12,
                                                            nonce, key), -1);
    CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, cl, aad, 12,
                                                            nonce, key), 0);
    CHECK(pl == n && memcmp(pt, sunscreen, n) == 0);
}

/* Our labels on fixed inputs, against values computed independently (Python hmac/hashlib). */
TEST(ratchet_kdfs)
{
    uint8_t rk[32], dh[32], ck[32], rk2[32], ck2[32], mk[32];
    for (int i = 0; i < 32; i++) {
        rk[i] = (uint8_t)(1 + i);
        dh[i] = (uint8_t)(0xa0 + i);
        ck[i] = (uint8_t)(0x40 + i);
    }
    CHECK_EQ_INT(sc_kdf_rk(rk, dh, rk2, ck2), 0);
    CHECK(eq_hex(rk2, 32, "807935cbcbf581db438533b73dda25651019275798234d42b233688848fc888d"));
    CHECK(eq_hex(ck2, 32, "e7039aa9389ec79a7b2c4c428e6b2feb28f9f5fa1bf46d393f5881ff6eb41bb8"));
    CHECK_EQ_INT(sc_kdf_ck(ck, ck2, mk), 0);
    CHECK(eq_hex(mk, 32, "0eef41aa41e73a815d9ca044b85b5a490ed0dce5eaa3bf5f610eaf85180db1f1"));
    CHECK(eq_hex(ck2, 32, "5c75d2896aa56d8373fdaed93fb726be1cf78a01f9434ae9ebf2907105e602a3"));
    /* in place, as the ratchet calls them */
    CHECK_EQ_INT(sc_kdf_ck(ck, ck, mk), 0);
    CHECK(eq_hex(ck, 32, "5c75d2896aa56d8373fdaed93fb726be1cf78a01f9434ae9ebf2907105e602a3"));
    CHECK_EQ_INT(sc_kdf_rk(rk, dh, rk, ck), 0);
    CHECK(eq_hex(rk, 32, "807935cbcbf581db438533b73dda25651019275798234d42b233688848fc888d"));
}

/* X3DH's SK (the responder's initial root key) for fixed keys, with and without a one-time
 * prekey, against Python (`cryptography` X25519, the Ed25519->X25519 map done by hand). */
TEST(x3dh_sk)
{
    uint8_t seed_a[32], seed_b[32];
    memset(seed_a, 0x11, 32);
    memset(seed_b, 0x22, 32);
    sc_identity ia, ib;
    CHECK_EQ_INT(sc_identity_from_seed(&ia, seed_a), 0);
    CHECK_EQ_INT(sc_identity_from_seed(&ib, seed_b), 0);
    sc_signed_prekey spk;
    sc_onetime_prekey opk;
    memset(&spk, 0, sizeof(spk));
    memset(&opk, 0, sizeof(opk));
    spk.id = 3;
    opk.id = 4;
    uint8_t ek_sk[32];
    for (int i = 0; i < 32; i++) {
        spk.sk[i] = (uint8_t)(0x30 + i);
        opk.sk[i] = (uint8_t)(0x50 + i);
        ek_sk[i] = (uint8_t)(0x70 + i);
    }
    crypto_scalarmult_base(spk.pk, spk.sk);
    crypto_scalarmult_base(opk.pk, opk.sk);
    sc_envelope env;
    memset(&env, 0, sizeof(env));
    env.type = SC_MSG_PREKEY;
    memcpy(env.ik, ia.sign_pk, 32);
    crypto_scalarmult_base(env.ek, ek_sk);
    CHECK(eq_hex(env.ek, 32, "23b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c4823"));
    env.spk_id = 3;
    sc_device a = { 5, 7 }, b = { 9, 11 };
    sc_session s;
    env.has_opk = 1;
    env.opk_id = 4;
    CHECK_EQ_INT(sc_x3dh_respond(&ib, &spk, &opk, &b, &a, &env, &s), 0);
    CHECK(eq_hex(s.rk, 32, "a4e0148d7138c4e786f65e8ec9ce3b459d3f677a957bae7cec329c990bac7eb3"));
    sc_session_free(&s);
    env.has_opk = 0;
    env.opk_id = 0;
    CHECK_EQ_INT(sc_x3dh_respond(&ib, &spk, NULL, &b, &a, &env, &s), 0);
    CHECK(eq_hex(s.rk, 32, "f4df82d997828ec5e1b6797a95745d65b7434935d057f35e5b0eaefc744f8dd0"));
    sc_session_free(&s);
    /* a different device id gives a different SK */
    sc_device a2 = { 5, 8 };
    CHECK_EQ_INT(sc_x3dh_respond(&ib, &spk, NULL, &b, &a2, &env, &s), 0);
    CHECK(!eq_hex(s.rk, 32, "f4df82d997828ec5e1b6797a95745d65b7434935d057f35e5b0eaefc744f8dd0"));
    sc_session_free(&s);
    sc_identity_wipe(&ia);
    sc_identity_wipe(&ib);
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    RUN(x25519_rfc7748_5_2);
    RUN(x25519_rfc7748_6_1);
    RUN(x25519_low_order_rejected);
    RUN(ed25519_rfc8032_7_1);
    RUN(ed25519_edge_cases);
    RUN(hmac_sha256_rfc4231);
    RUN(hkdf_rfc5869);
    RUN(chacha20poly1305_rfc8439_2_8_2);
    RUN(xchacha20poly1305_draft_a_3_1);
    RUN(ratchet_kdfs);
    RUN(x3dh_sk);
    return UNIT_DONE("test_lib_sc_kat");
}
