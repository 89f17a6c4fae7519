/* test_lib_sc_sas.c: the interactive verification's crypto (sc_sas.c): known answers for the
 * commitment, the SAS and both MACs (computed independently with Python's cryptography
 * package, X25519 + HKDF, and hashlib/hmac, from the formulas in secret_crypto.h); both sides
 * derive the same SAS; a tampered reveal fails the commitment; a substituted ephemeral key or
 * identity key gives a different SAS and MACs that do not verify; low-order keys are refused.
 * Also the static fingerprint's long form. */
#include "sc_test.h"

#define KAT_EKS "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
#define KAT_EKO "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
#define KAT_C "b4382813ffb541d1f81159d596e1c4bc106432d1dd24dbd8334c1827d6e3e83c"
#define KAT_MAC_S "c8aad7149f9626131c565603c8051915ee9491bdf55504cad594b09c9ef8d9b4"
#define KAT_MAC_O "d4d2e3533547956f1742328b8ecf9389a6add0eb991a776088592808d812d63a"
/* computed with Python hashlib from the steps documented in sc_fingerprint.c */
#define FP_LONG_KAT "08789 41743 50007 11184 99397 84014 23141 09036 61078 22056 80448 89957 " \
                    "75664 48595 85986 04399"
static const unsigned kat_idx[SC_SAS_EMOJI_COUNT] = {5, 50, 55, 1, 56, 4, 59};

typedef struct {
    uint8_t sk_s[SC_KEY], sk_o[SC_KEY], ek_s[SC_KEY], ek_o[SC_KEY];
    uint8_t t[SC_SAS_T_LEN];
} world;

static void kat_world(world *w)
{
    uint8_t vid[SC_SAS_VID], ik_s[SC_KEY], ik_o[SC_KEY];
    memset(w->sk_s, 0x11, SC_KEY);
    memset(w->sk_o, 0x22, SC_KEY);
    crypto_scalarmult_base(w->ek_s, w->sk_s);
    crypto_scalarmult_base(w->ek_o, w->sk_o);
    memset(vid, 0x0a, sizeof vid);
    memset(ik_s, 0x01, SC_KEY);
    memset(ik_o, 0x02, SC_KEY);
    sc_device s = {1, 2}, o = {3, 4};
    sc_sas_transcript(vid, ik_s, &s, ik_o, &o, w->t);
}

static int hex_eq(const uint8_t *b, size_t n, const char *hex)
{
    uint8_t want[64];
    return unhex(hex, want) == n && memcmp(b, want, n) == 0;
}

TEST(known_answers)
{
    world w;
    kat_world(&w);
    CHECK(hex_eq(w.ek_s, SC_KEY, KAT_EKS));
    CHECK(hex_eq(w.ek_o, SC_KEY, KAT_EKO));
    uint8_t c[32], k_s[SC_KEY], k_o[SC_KEY], mac[32];
    CHECK_EQ_INT(sc_sas_commit(w.ek_s, w.t, c), 0);
    CHECK(hex_eq(c, 32, KAT_C));
    char e_s[SC_SAS_EMOJI_MAX], e_o[SC_SAS_EMOJI_MAX], want[SC_SAS_EMOJI_MAX] = "";
    for (int i = 0; i < SC_SAS_EMOJI_COUNT; i++)
        memcpy(want + 4 * i, sc_emoji(kat_idx[i]), 5);     /* 4 bytes + NUL each */
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, w.ek_o, SC_SAS_ROLE_S, w.t, e_s, k_s), 0);
    CHECK_EQ_INT(sc_sas_derive(w.sk_o, w.ek_s, w.ek_o, SC_SAS_ROLE_O, w.t, e_o, k_o), 0);
    CHECK_EQ_STR(e_s, want);
    CHECK_EQ_STR(e_o, want);
    CHECK_EQ_INT(strlen(e_s), 28);
    CHECK(memcmp(k_s, k_o, SC_KEY) == 0);
    CHECK_EQ_INT(sc_sas_mac(k_s, SC_SAS_ROLE_S, w.t, mac), 0);
    CHECK(hex_eq(mac, 32, KAT_MAC_S));
    CHECK_EQ_INT(sc_sas_mac(k_o, SC_SAS_ROLE_O, w.t, mac), 0);
    CHECK(hex_eq(mac, 32, KAT_MAC_O));
}

TEST(commitment_binds_key_and_transcript)
{
    world w;
    kat_world(&w);
    uint8_t c[32];
    CHECK_EQ_INT(sc_sas_commit(w.ek_s, w.t, c), 0);
    CHECK_EQ_INT(sc_sas_check_commit(w.ek_s, w.t, c), SC_OK);
    /* a tampered reveal: every single flipped bit of the revealed key fails */
    for (int bit = 0; bit < 8 * SC_KEY; bit++) {
        uint8_t ek[SC_KEY];
        memcpy(ek, w.ek_s, SC_KEY);
        ek[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (sc_sas_check_commit(ek, w.t, c) != SC_E_AUTH) {
            CHECK(0);
            break;
        }
    }
    /* another key altogether (a man in the middle swapping its own in) fails too */
    CHECK_EQ_INT(sc_sas_check_commit(w.ek_o, w.t, c), SC_E_AUTH);
    /* the same key under another transcript (other identity key, device, run) fails */
    for (size_t i = 0; i < SC_SAS_T_LEN; i += 7) {
        uint8_t t2[SC_SAS_T_LEN];
        memcpy(t2, w.t, sizeof t2);
        t2[i] ^= 0x80;
        CHECK_EQ_INT(sc_sas_check_commit(w.ek_s, t2, c), SC_E_AUTH);
    }
    c[31] ^= 1;
    CHECK_EQ_INT(sc_sas_check_commit(w.ek_s, w.t, c), SC_E_AUTH);
}

TEST(substituted_keys_change_the_sas)
{
    world w;
    kat_world(&w);
    char honest[SC_SAS_EMOJI_MAX], e[SC_SAS_EMOJI_MAX];
    uint8_t k[SC_KEY], k2[SC_KEY], mac[32], mac2[32];
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, w.ek_o, SC_SAS_ROLE_S, w.t, honest, k), 0);
    /* a man in the middle gives S its own key instead of EK_O */
    uint8_t m_sk[SC_KEY], m_pk[SC_KEY];
    memset(m_sk, 0x33, SC_KEY);
    crypto_scalarmult_base(m_pk, m_sk);
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, m_pk, SC_SAS_ROLE_S, w.t, e, k2), 0);
    CHECK(strcmp(e, honest) != 0);
    CHECK(memcmp(k, k2, SC_KEY) != 0);
    /* a different identity key in the transcript (a substituted identity) */
    uint8_t t2[SC_SAS_T_LEN];
    memcpy(t2, w.t, sizeof t2);
    t2[SC_SAS_VID + SC_KEY + 16] ^= 1;            /* first byte of IK_O */
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, w.ek_o, SC_SAS_ROLE_S, t2, e, k2), 0);
    CHECK(strcmp(e, honest) != 0);
    /* and the MACs of the two views differ, in either role */
    CHECK_EQ_INT(sc_sas_mac(k, SC_SAS_ROLE_O, w.t, mac), 0);
    CHECK_EQ_INT(sc_sas_mac(k2, SC_SAS_ROLE_O, t2, mac2), 0);
    CHECK(memcmp(mac, mac2, 32) != 0);
    CHECK_EQ_INT(sc_sas_mac(k, SC_SAS_ROLE_S, w.t, mac2), 0);
    CHECK(memcmp(mac, mac2, 32) != 0);              /* a reflected MAC is not the other's */
}

TEST(low_order_and_bad_arguments)
{
    world w;
    kat_world(&w);
    char e[SC_SAS_EMOJI_MAX];
    uint8_t k[SC_KEY], zero[SC_KEY] = {0}, one[SC_KEY] = {1};
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, zero, SC_SAS_ROLE_S, w.t, e, k), SC_E_BADKEY);
    CHECK_EQ_INT(sc_sas_derive(w.sk_o, one, w.ek_o, SC_SAS_ROLE_O, w.t, e, k), SC_E_BADKEY);
    CHECK_EQ_INT(sc_sas_derive(w.sk_s, w.ek_s, w.ek_o, 3, w.t, e, k), SC_E_ARG);
    CHECK_EQ_INT(sc_sas_mac(k, 0, w.t, k), SC_E_ARG);
}

/* The long static form: 80 digits, the same on both sides, each side's 40 digits starting
 * with that side's 30 of the short number. */
TEST(long_fingerprint)
{
    uint8_t ik1[32], ik2[32];
    memset(ik1, 0x01, 32);
    memset(ik2, 0x02, 32);
    sc_device d1 = {1, 2}, d2 = {3, 4};
    char n[SC_FP_NUMBER_LEN + 1], l1[SC_FP_LONG_LEN + 1], l2[SC_FP_LONG_LEN + 1];
    CHECK_EQ_INT(sc_fingerprint(ik1, &d1, ik2, &d2, n, l1), 0);
    CHECK_EQ_INT(sc_fingerprint(ik2, &d2, ik1, &d1, n, l2), 0);
    CHECK_EQ_STR(l1, l2);
    CHECK_EQ_INT(strlen(l1), SC_FP_LONG_LEN);
    CHECK_EQ_STR(l1, FP_LONG_KAT);
    /* the short number's halves are prefixes of the long one's halves */
    char sh[61] = "", lo[81] = "";
    for (size_t i = 0, j = 0; n[i]; i++)
        if (n[i] != ' ')
            sh[j++] = n[i];
    for (size_t i = 0, j = 0; l1[i]; i++)
        if (l1[i] != ' ')
            lo[j++] = l1[i];
    CHECK((memcmp(sh, lo, 30) == 0 && memcmp(sh + 30, lo + 40, 30) == 0) ||
          (memcmp(sh, lo + 40, 30) == 0 && memcmp(sh + 30, lo, 30) == 0));
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    RUN(known_answers);
    RUN(commitment_binds_key_and_transcript);
    RUN(substituted_keys_change_the_sas);
    RUN(low_order_and_bad_arguments);
    RUN(long_fingerprint);
    return UNIT_DONE("test_lib_sc_sas");
}
