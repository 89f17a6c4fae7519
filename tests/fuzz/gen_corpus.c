/*
 * gen_corpus.c: writes the seed corpus of the secret-chat fuzz targets into
 * tests/fuzz/corpus/<target>/ (run by `make fuzz-corpus`; the seeds are committed). It builds
 * the same deterministic world as the targets (fuzz_common.h) and checks every seed before
 * writing it: envelopes decrypt against the targets' fixed sessions, bundles verify, states
 * parse. Exit status non-zero if any check fails.
 */
#include <stdio.h>
#include "fuzz_common.h"

static fz_world W;

static int write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* An envelope from `from` (a copy is advanced), checked against a copy of `to`. */
static int envelope_seed(const char *dir, const char *name, sc_session *from,
                         const sc_session *to, const char *text)
{
    static uint8_t env[SC_ENV_MAX], pt[SC_MAX_PLAINTEXT];
    size_t len, pl;
    fz_encrypt(from, text, env, &len);
    sc_session out;
    if (sc_ratchet_decrypt(to, &out, env, len, pt, sizeof(pt), &pl) != 0) {
        fprintf(stderr, "gen_corpus: seed %s does not decrypt\n", name);
        return -1;
    }
    sc_session_free(&out);
    return write_seed(dir, name, env, len);
}

static int state_seed(const char *dir, const char *name, const sc_session *s)
{
    static uint8_t buf[SC_STATE_MAX];
    size_t len;
    sc_session p;
    if (sc_session_serialize(s, buf, sizeof(buf), &len) || sc_session_parse(buf, len, &p))
        return -1;
    sc_session_free(&p);
    return write_seed(dir, name, buf, len);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    char dec[256], bun[256], ses[256];
    snprintf(dec, sizeof(dec), "%s/fuzz_sc_decrypt", root);
    snprintf(bun, sizeof(bun), "%s/fuzz_sc_bundle", root);
    snprintf(ses, sizeof(ses), "%s/fuzz_sc_session", root);
    fz_world_init(&W);
    int rc = 0;
    sc_session a, b;
    if (sc_session_copy(&a, &W.sa) || sc_session_copy(&b, &W.sb))
        return 1;
    rc |= write_seed(dec, "prekey-first", W.first, W.first_len);
    rc |= envelope_seed(dec, "a-to-b-normal", &a, &W.sb, "hello b");
    rc |= envelope_seed(dec, "b-to-a-normal", &b, &W.sa, "hello a");
    fz_encrypt(&a, "lost", (uint8_t[SC_ENV_MAX]){ 0 }, &(size_t){ 0 });
    rc |= envelope_seed(dec, "a-to-b-skip", &a, &W.sb, "after a lost one");
    rc |= envelope_seed(dec, "a-to-b-empty", &a, &W.sb, "");

    uint8_t buf[SC_BUNDLE_MAX];
    size_t len;
    sc_bundle nb = W.bundle_b;
    rc |= sc_bundle_verify(&W.bundle_b) || sc_bundle_encode(&W.bundle_b, buf, sizeof(buf), &len);
    rc |= write_seed(bun, "with-opk", buf, len);
    nb.has_opk = 0;
    nb.opk_id = 0;
    memset(nb.opk, 0, sizeof(nb.opk));
    rc |= sc_bundle_verify(&nb) || sc_bundle_encode(&nb, buf, sizeof(buf), &len);
    rc |= write_seed(bun, "without-opk", buf, len);

    rc |= state_seed(ses, "initiator", &W.sa);
    rc |= state_seed(ses, "responder", &W.sb);
    rc |= state_seed(ses, "initiator-sending", &a);   /* a has sent since */
    /* b with one skipped key: the "skip" message above, decrypted by a copy of b */
    sc_session b2;
    if (sc_session_copy(&b2, &W.sb))
        return 1;
    {
        uint8_t env[SC_ENV_MAX], pt[SC_MAX_PLAINTEXT];
        size_t el, pl;
        sc_session a2, out;
        if (sc_session_copy(&a2, &W.sa))
            return 1;
        fz_encrypt(&a2, "one", env, &el);
        fz_encrypt(&a2, "two", env, &el);
        if (sc_ratchet_decrypt(&b2, &out, env, el, pt, sizeof(pt), &pl))
            rc = 1;
        else {
            sc_session_free(&b2);
            b2 = out;
        }
        sc_session_free(&a2);
    }
    rc |= b2.n_skipped != 1;
    rc |= state_seed(ses, "responder-skipped", &b2);
    sc_session_free(&b2);
    sc_session_free(&a);
    sc_session_free(&b);
    if (rc)
        fprintf(stderr, "gen_corpus: failed\n");
    return rc ? 1 : 0;
}
