/*
 * dtls.c: the SFU's DTLS-SRTP endpoint (see dtls.h). The custom BIO is the only glue between
 * OpenSSL and the shared UDP socket: its read side returns the one datagram being input, its
 * write side hands each datagram to the session's send callback.
 */
#include "dtls.h"
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sfu_dtls_ctx {
    SSL_CTX *server, *client;
    X509 *cert;
    EVP_PKEY *key;
    char fingerprint[SFU_FINGERPRINT_LEN];
};

struct sfu_dtls {
    SSL *ssl;
    BIO *bio;
    sfu_dtls_send_fn send;
    void *arg;
    const uint8_t *in; /* the datagram being input, valid only inside sfu_dtls_input */
    size_t in_len;
    bool done, failed;
    bool check_fp;
    char expect_fp[SFU_FINGERPRINT_LEN];
};

/* Process-wide because OpenSSL BIO methods are: created by the first sfu_dtls_ctx_new, never
 * changed afterwards, shared by every session. Created from one thread only (the SFU's loop,
 * or a test's main thread), so no lock; it lives until exit. */
static BIO_METHOD *bio_method;

static int bio_write(BIO *b, const char *data, int len) {
    sfu_dtls *d = BIO_get_data(b);
    if (len > 0) d->send(d->arg, (const uint8_t *)data, (size_t)len);
    return len;
}

static int bio_read(BIO *b, char *out, int cap) {
    sfu_dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d->in) { BIO_set_retry_read(b); return -1; }
    size_t n = d->in_len < (size_t)cap ? d->in_len : (size_t)cap;
    memcpy(out, d->in, n);
    d->in = NULL; /* one datagram per read, as a datagram BIO does */
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU: return 1200;
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return 1200;
    case BIO_CTRL_WPENDING: case BIO_CTRL_PENDING: return 0;
    default: return 0;
    }
}

static int bio_create(BIO *b) { BIO_set_init(b, 1); return 1; }

static BIO_METHOD *get_bio_method(void) {
    if (!bio_method) {
        bio_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "sfu-dgram");
        if (!bio_method) return NULL;
        BIO_meth_set_write(bio_method, bio_write);
        BIO_meth_set_read(bio_method, bio_read);
        BIO_meth_set_ctrl(bio_method, bio_ctrl);
        BIO_meth_set_create(bio_method, bio_create);
    }
    return bio_method;
}

/* Peer certificates are self-signed; trust comes from the SDP fingerprint, checked after the
 * handshake, so chain verification is accepted here. */
static int verify_any(int ok, X509_STORE_CTX *store) { return 1; }

static int cert_fingerprint(X509 *cert, char out[SFU_FINGERPRINT_LEN]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32) return -1;
    for (unsigned i = 0; i < n; i++) snprintf(out + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
    return 0;
}

static int make_cert(sfu_dtls_ctx *c) {
    c->key = EVP_EC_gen("P-256");
    c->cert = X509_new();
    if (!c->key || !c->cert) return -1;
    X509_set_version(c->cert, 2);
    uint64_t serial = 0;
    if (RAND_bytes((unsigned char *)&serial, sizeof serial) != 1) return -1;
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(c->cert), serial >> 1);
    X509_gmtime_adj(X509_getm_notBefore(c->cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(c->cert), 30L * 86400);
    X509_NAME *name = X509_get_subject_name(c->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"parley-sfu", -1, -1, 0);
    X509_set_issuer_name(c->cert, name);
    X509_set_pubkey(c->cert, c->key);
    if (!X509_sign(c->cert, c->key, EVP_sha256())) return -1;
    return cert_fingerprint(c->cert, c->fingerprint);
}

static SSL_CTX *make_ssl_ctx(sfu_dtls_ctx *c, bool server) {
    SSL_CTX *ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    if (SSL_CTX_use_certificate(ctx, c->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, c->key) != 1 ||
        SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

sfu_dtls_ctx *sfu_dtls_ctx_new(char *err, size_t err_len) {
    sfu_dtls_ctx *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, err_len, "out of memory"); return NULL; }
    if (!get_bio_method() || make_cert(c) < 0 || !(c->server = make_ssl_ctx(c, true)) ||
        !(c->client = make_ssl_ctx(c, false))) {
        snprintf(err, err_len, "DTLS setup failed: %s", ERR_reason_error_string(ERR_get_error()));
        sfu_dtls_ctx_free(c);
        return NULL;
    }
    return c;
}

void sfu_dtls_ctx_free(sfu_dtls_ctx *c) {
    if (!c) return;
    SSL_CTX_free(c->server);
    SSL_CTX_free(c->client);
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    free(c);
}

const char *sfu_dtls_ctx_fingerprint(const sfu_dtls_ctx *c) { return c->fingerprint; }

sfu_dtls *sfu_dtls_new(sfu_dtls_ctx *c, bool server, sfu_dtls_send_fn send, void *arg) {
    sfu_dtls *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->send = send;
    d->arg = arg;
    d->ssl = SSL_new(server ? c->server : c->client);
    d->bio = BIO_new(bio_method);
    if (!d->ssl || !d->bio) {
        SSL_free(d->ssl);
        BIO_free(d->bio);
        free(d);
        return NULL;
    }
    BIO_set_data(d->bio, d);
    SSL_set_bio(d->ssl, d->bio, d->bio); /* the SSL now owns the BIO (one reference) */
    SSL_set_mtu(d->ssl, 1200);
    if (server) SSL_set_accept_state(d->ssl); else SSL_set_connect_state(d->ssl);
    return d;
}

void sfu_dtls_free(sfu_dtls *d) {
    if (!d) return;
    SSL_free(d->ssl);
    free(d);
}

int sfu_dtls_expect_fingerprint(sfu_dtls *d, const char *hex_colon) {
    if (strlen(hex_colon) != SFU_FINGERPRINT_LEN - 1 && strlen(hex_colon) != 95) return -1;
    snprintf(d->expect_fp, sizeof d->expect_fp, "%s", hex_colon);
    d->check_fp = true;
    return 0;
}

static int step(sfu_dtls *d) {
    if (d->failed) return -1;
    if (d->done) {
        /* Application data is not used over DTLS-SRTP; drain and ignore alerts/records. */
        char sink[256];
        int r = SSL_read(d->ssl, sink, sizeof sink);
        if (r <= 0 && SSL_get_error(d->ssl, r) == SSL_ERROR_ZERO_RETURN) d->failed = true;
        return 0;
    }
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
        X509 *peer = SSL_get1_peer_certificate(d->ssl);
        char fp[SFU_FINGERPRINT_LEN];
        bool ok = peer && cert_fingerprint(peer, fp) == 0 &&
                  (!d->check_fp || strcasecmp(fp, d->expect_fp) == 0);
        X509_free(peer);
        if (!ok || !SSL_get_selected_srtp_profile(d->ssl)) { d->failed = true; return -1; }
        d->done = true;
        return 1;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    ERR_clear_error();
    d->failed = true;
    return -1;
}

int sfu_dtls_start(sfu_dtls *d) { return step(d) < 0 ? -1 : 0; }

int sfu_dtls_input(sfu_dtls *d, const uint8_t *data, size_t len) {
    d->in = data;
    d->in_len = len;
    int r = step(d);
    d->in = NULL;
    return r;
}

void sfu_dtls_tick(sfu_dtls *d) {
    if (!d->done && !d->failed) DTLSv1_handle_timeout(d->ssl);
}

bool sfu_dtls_done(const sfu_dtls *d) { return d->done; }

int sfu_dtls_export(sfu_dtls *d, sfu_srtp_keys *out) {
    if (!d->done) return -1;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    if (!p) return -1;
    memset(out, 0, sizeof *out);
    if (p->id == SRTP_AES128_CM_SHA1_80) {
        out->profile = SFU_SRTP_AES128_CM_SHA1_80; out->key_len = 16; out->salt_len = 14;
    } else if (p->id == SRTP_AEAD_AES_128_GCM) {
        out->profile = SFU_SRTP_AEAD_AES_128_GCM; out->key_len = 16; out->salt_len = 12;
    } else {
        return -1;
    }
    size_t n = 2 * (out->key_len + out->salt_len);
    static const char label[] = "EXTRACTOR-dtls_srtp";
    if (SSL_export_keying_material(d->ssl, out->material, n, label, sizeof label - 1, NULL, 0, 0) != 1)
        return -1;
    return 0;
}
