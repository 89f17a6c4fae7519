/*
 * tls_cert.h: parleyd's own TLS identity. On first start it creates a self-signed
 * certificate (EC P-256, 10 years, SAN localhost/127.0.0.1/::1, CA:TRUE so clients can pin
 * it as their trust anchor) in DIR/tls; later starts reuse it.
 *
 * Runs on the main thread before anything else starts. No state is kept.
 */
#ifndef PARLEY_TLS_CERT_H
#define PARLEY_TLS_CERT_H

#include <stddef.h>

/* Paths of the certificate and key inside a data directory, written into the buffers. */
void tls_cert_paths(const char *data_dir, char *cert, size_t certlen, char *key, size_t keylen);

/* Makes sure DIR/tls/cert.pem and key.pem exist (key 0600), creating them if needed.
 * *created is set to 1 when a new identity was generated. 0 or -1 with a reason in err. */
int tls_cert_ensure(const char *data_dir, int *created, char *err, size_t errlen);

/* SHA-256 of the DER certificate as "AB:CD:...", 95 characters + NUL (out >= 96 bytes). */
int tls_cert_fingerprint(const char *cert_path, char *out, size_t outlen);

#endif
