/* test_sfu_dtls.c: the SFU's DTLS server (dtls.c) against a plain OpenSSL DTLS client with a
 * datagram BIO, over real UDP sockets on 127.0.0.1; the exported SRTP keys must match on both
 * sides, for both SRTP profiles, and libsrtp2 sessions built from them must round-trip RTP and
 * RTCP in both directions and reject tampered or replayed packets. */
#include "unit.h"
#include "dtls.h"
#include "rtp.h"
#include "srtp.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp_socket(struct sockaddr_in *bound) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof *bound;
    getsockname(fd, (struct sockaddr *)bound, &l);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

typedef struct { int fd; struct sockaddr_in peer; int sent; } server_out;

static void server_send(void *arg, const uint8_t *d, size_t n) {
    server_out *o = arg;
    sendto(o->fd, d, n, 0, (struct sockaddr *)&o->peer, sizeof o->peer);
    o->sent++;
}

static int verify_any(int ok, X509_STORE_CTX *s) { return 1; }

/* The client's own self-signed certificate (as a browser has), and its SHA-256 fingerprint. */
static void client_cert(SSL_CTX *c, char fp[SFU_FINGERPRINT_LEN]) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test-client", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    SSL_CTX_use_certificate(c, x);
    SSL_CTX_use_PrivateKey(c, key);
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    for (unsigned i = 0; i < 32; i++) snprintf(fp + 3 * i, 4, i < 31 ? "%02X:" : "%02X", md[i]);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* Runs one handshake with the client offering only `profile`; fills both sides' keys. */
static int handshake(sfu_dtls_ctx *ctx, const char *profile, bool wrong_fp, sfu_srtp_keys *srv_keys,
                     uint8_t *cli_material, size_t *mat_len, bool *fp_ok) {
    struct sockaddr_in sa, ca;
    int sfd = udp_socket(&sa), cfd = udp_socket(&ca);
    server_out out = { sfd, ca, 0 };
    *fp_ok = false;
    sfu_dtls *srv = sfu_dtls_new(ctx, true, server_send, &out);

    SSL_CTX *c = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_tlsext_use_srtp(c, profile);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, verify_any);
    char fp[SFU_FINGERPRINT_LEN];
    client_cert(c, fp);
    if (wrong_fp) fp[0] = fp[0] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(sfu_dtls_expect_fingerprint(srv, fp), 0);
    int rc = -1;
    connect(cfd, (struct sockaddr *)&sa, sizeof sa);
    BIO *bio = BIO_new_dgram(cfd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &sa);
    SSL *ssl = SSL_new(c);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_connect_state(ssl);
    bool cdone = false, sdone = false;
    for (int iter = 0; iter < 400 && !(cdone && sdone); iter++) {
        if (!cdone) {
            int r = SSL_do_handshake(ssl);
            if (r == 1) cdone = true;
            else if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) break;
        }
        uint8_t buf[2048];
        struct pollfd pf = { sfd, POLLIN, 0 };
        if (poll(&pf, 1, 5) > 0) {
            ssize_t n;
            while ((n = recv(sfd, buf, sizeof buf, 0)) > 0) {
                int r = sfu_dtls_input(srv, buf, (size_t)n);
                if (r < 0) goto done;
                if (r == 1) sdone = true;
            }
        }
    }
    if (cdone && sdone) {
        static const char label[] = "EXTRACTOR-dtls_srtp";
        if (sfu_dtls_export(srv, srv_keys) == 0) {
            *mat_len = 2 * (srv_keys->key_len + srv_keys->salt_len);
            if (SSL_export_keying_material(ssl, cli_material, *mat_len, label, sizeof label - 1,
                                           NULL, 0, 0) == 1)
                rc = 0;
        }
    }
    *fp_ok = sdone;
done:
    SSL_free(ssl);
    SSL_CTX_free(c);
    sfu_dtls_free(srv);
    close(sfd);
    close(cfd);
    return rc;
}

static void srtp_round_trip(const sfu_srtp_keys *k) {
    sfu_srtp *srv = sfu_srtp_new(k, true), *cli = sfu_srtp_new(k, false);
    CHECK(srv && cli);
    if (!srv || !cli) { sfu_srtp_free(srv); sfu_srtp_free(cli); return; }
    uint8_t pkt[64 + SFU_SRTP_TRAILER], copy[sizeof pkt];
    size_t n = rtp_write_header(pkt, sizeof pkt, 96, false, 1000, 5000, 0xcafe);
    memcpy(pkt + n, "synthetic media payload", 23);
    n += 23;
    size_t plain = n;
    CHECK_EQ_INT(sfu_srtp_protect(cli, pkt, &n, sizeof pkt), 0);
    CHECK(n > plain);
    CHECK(memcmp(pkt + 12, "synthetic", 9) != 0);
    memcpy(copy, pkt, n);
    size_t cn = n;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, pkt, &n), 0);
    CHECK_EQ_INT(n, plain);
    CHECK(memcmp(pkt + 12, "synthetic media payload", 23) == 0);
    /* Replay of the same packet is refused. */
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, copy, &cn), -1);
    /* A tampered packet is refused. */
    n = rtp_write_header(pkt, sizeof pkt, 96, false, 1001, 5000, 0xcafe) + 10;
    memset(pkt + 12, 7, 10);
    CHECK_EQ_INT(sfu_srtp_protect(cli, pkt, &n, sizeof pkt), 0);
    pkt[14] ^= 1;
    CHECK_EQ_INT(sfu_srtp_unprotect(srv, pkt, &n), -1);
    /* The other direction, and RTCP. */
    n = rtp_write_header(pkt, sizeof pkt, 111, true, 1, 960, 0xbeef) + 4;
    CHECK_EQ_INT(sfu_srtp_protect(srv, pkt, &n, sizeof pkt), 0);
    CHECK_EQ_INT(sfu_srtp_unprotect(cli, pkt, &n), 0);
    n = rtcp_build_pli(pkt, sizeof pkt, 0xbeef, 0xcafe);
    CHECK_EQ_INT(sfu_srtcp_protect(srv, pkt, &n, sizeof pkt), 0);
    CHECK_EQ_INT(sfu_srtcp_unprotect(cli, pkt, &n), 0);
    CHECK_EQ_INT(n, 12);
    CHECK_EQ_INT(rtcp_validate(pkt, n), 0);
    /* Not enough room for the trailer: refused, not overflowed. */
    n = 12;
    CHECK_EQ_INT(sfu_srtp_protect(srv, pkt, &n, 12 + 10), -1);
    sfu_srtp_free(srv);
    sfu_srtp_free(cli);
}

static void one_profile(const char *name, sfu_srtp_profile want) {
    char err[128];
    sfu_dtls_ctx *ctx = sfu_dtls_ctx_new(err, sizeof err);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK_EQ_INT(strlen(sfu_dtls_ctx_fingerprint(ctx)), 95);
    sfu_srtp_keys k;
    uint8_t cm[SFU_SRTP_MATERIAL_MAX];
    size_t ml = 0;
    bool fp_ok = false;
    CHECK_EQ_INT(handshake(ctx, name, false, &k, cm, &ml, &fp_ok), 0);
    CHECK(fp_ok);
    CHECK_EQ_INT(k.profile, want);
    CHECK(ml > 0 && memcmp(cm, k.material, ml) == 0);
    if (ml > 0) srtp_round_trip(&k);
    sfu_dtls_ctx_free(ctx);
}

TEST(dtls_gcm) { one_profile("SRTP_AEAD_AES_128_GCM", SFU_SRTP_AEAD_AES_128_GCM); }
TEST(dtls_cm_sha1) { one_profile("SRTP_AES128_CM_SHA1_80", SFU_SRTP_AES128_CM_SHA1_80); }

TEST(dtls_wrong_fingerprint_refused) {
    char err[128];
    sfu_dtls_ctx *ctx = sfu_dtls_ctx_new(err, sizeof err);
    sfu_srtp_keys k;
    uint8_t cm[SFU_SRTP_MATERIAL_MAX];
    size_t ml = 0;
    bool srv_done = true;
    CHECK_EQ_INT(handshake(ctx, "SRTP_AEAD_AES_128_GCM", true, &k, cm, &ml, &srv_done), -1);
    CHECK(!srv_done);
    sfu_dtls_ctx_free(ctx);
}

TEST(dtls_garbage_fails_cleanly) {
    char err[128];
    sfu_dtls_ctx *ctx = sfu_dtls_ctx_new(err, sizeof err);
    server_out out = { -1, { 0 }, 0 };
    sfu_dtls *d = sfu_dtls_new(ctx, true, server_send, &out);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 20);
    junk[0] = 22; /* handshake content type, garbage after */
    sfu_dtls_input(d, junk, sizeof junk);
    CHECK(!sfu_dtls_done(d));
    sfu_srtp_keys k;
    CHECK_EQ_INT(sfu_dtls_export(d, &k), -1);
    sfu_dtls_free(d);
    sfu_dtls_ctx_free(ctx);
}

int main(void) {
    RUN(dtls_gcm);
    RUN(dtls_cm_sha1);
    RUN(dtls_wrong_fingerprint_refused);
    RUN(dtls_garbage_fails_cleanly);
    return UNIT_DONE("test_sfu_dtls");
}
