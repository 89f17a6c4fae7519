/*
 * tls_cert.c: creates and inspects parleyd's self-signed certificate (see tls_cert.h).
 *
 * Only OpenSSL's EVP interface is used for the key (no deprecated EC_KEY calls). The files
 * are written under temporary names, synced and renamed, key first: a crash can at worst
 * leave a key without a certificate, which the next start simply regenerates. A certificate
 * without its key is never replaced silently, because clients have pinned it.
 */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALID_DAYS (10 * 365 + 3)

void tls_cert_paths(const char *data_dir, char *cert, size_t certlen, char *key, size_t keylen)
{
    snprintf(cert, certlen, "%s/tls/cert.pem", data_dir);
    snprintf(key, keylen, "%s/tls/key.pem", data_dir);
}

static void openssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, buf);
    ERR_clear_error();
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A random positive 159-bit serial (RFC 5280 allows up to 20 octets). */
static int set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int rc = -1;
    if (bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        rc = 0;
    BN_free(bn);
    return rc;
}

static int set_names(X509 *x)
{
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"parleyd",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"Parley self-signed", -1, -1, 0))
        return -1;
    return X509_set_issuer_name(x, name) ? 0 : -1;
}

static X509 *build_cert(EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    if (!x) return NULL;
    int ok = X509_set_version(x, 2) && set_random_serial(x) == 0 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_time_adj_ex(X509_getm_notAfter(x), VALID_DAYS, 0, NULL) &&
             X509_set_pubkey(x, pkey) && set_names(x) == 0 &&
             add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") == 0 &&
             add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") == 0 &&
             X509_sign(x, pkey, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Writes via `write_pem` into path.tmp with `mode`, fsyncs, renames over path. */
static int write_file(const char *path, mode_t mode, int (*write_pem)(FILE *, void *),
                      void *obj, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = write_pem(f, obj) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int pem_key(FILE *f, void *k)
{
    return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(FILE *f, void *x)
{
    return PEM_write_X509(f, x);
}

static int generate(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey) {
        openssl_reason(err, errlen, "key generation failed");
        return -1;
    }
    X509 *x = build_cert(pkey);
    int rc = -1;
    if (!x)
        openssl_reason(err, errlen, "certificate creation failed");
    else if (write_file(key_path, 0600, pem_key, pkey, err, errlen) == 0 &&
             write_file(cert_path, 0644, pem_cert, x, err, errlen) == 0)
        rc = 0;
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

int tls_cert_ensure(const char *data_dir, int *created, char *err, size_t errlen)
{
    char dir[4096], cert[4096], key[4096];
    *created = 0;
    if (snprintf(dir, sizeof dir, "%s/tls", data_dir) >= (int)sizeof dir - 16) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    if (make_dir(data_dir, err, errlen) != 0 || make_dir(dir, err, errlen) != 0) return -1;
    tls_cert_paths(data_dir, cert, sizeof cert, key, sizeof key);
    int have_cert = access(cert, F_OK) == 0, have_key = access(key, F_OK) == 0;
    if (have_cert && have_key) return 0;
    if (have_cert) {
        snprintf(err, errlen, "%s exists but %s is missing; restore the key or remove both "
                 "to create a new identity (clients will have to trust it again)", cert, key);
        return -1;
    }
    if (generate(cert, key, err, errlen) != 0) return -1;
    *created = 1;
    return 0;
}

int tls_cert_fingerprint(const char *cert_path, char *out, size_t outlen)
{
    FILE *f = fopen(cert_path, "r");
    if (!f) return -1;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        ERR_clear_error();
        return -1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    if (!ok || outlen < (size_t)n * 3) return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + i * 3, outlen - i * 3, i + 1 < n ? "%02X:" : "%02X", md[i]);
    return 0;
}
