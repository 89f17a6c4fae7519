/*
 * turn.h: short-lived TURN credentials for coturn's REST-API scheme (use-auth-secret):
 * parleyd and coturn share a secret; parleyd mints username = "<expiry unix time>:<user id>"
 * and credential = base64(HMAC-SHA1(secret, username)); coturn recomputes the HMAC and
 * refuses the name once the expiry has passed. No state, no round trip between the two.
 *
 * Pure functions (unit-testable); the caller owns every buffer.
 */
#ifndef PARLEY_TURN_H
#define PARLEY_TURN_H

#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA1 is 20 bytes: base64 is 28 characters plus the NUL. */
#define TURN_CRED_MAX 32
#define TURN_USER_MAX 48

/* Writes username and credential for user_id valid until expires. 0, or -1 (empty secret,
 * buffers too small, OpenSSL failure). */
int turn_mint(const char *secret, int64_t user_id, int64_t expires, char *username,
              size_t username_len, char *credential, size_t credential_len);

#endif
