/*
 * turn.c: TURN credential minting (see turn.h). OpenSSL provides HMAC-SHA1 and base64; the
 * digest is wiped after use because, with the username, it is the password for the relay.
 */
#include "turn.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int turn_mint(const char *secret, int64_t user_id, int64_t expires, char *username,
              size_t username_len, char *credential, size_t credential_len)
{
    if (!secret || !secret[0] || credential_len < TURN_CRED_MAX) return -1;
    int n = snprintf(username, username_len, "%lld:%lld", (long long)expires,
                     (long long)user_id);
    if (n < 0 || (size_t)n >= username_len) return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username,
              (size_t)n, mac, &mac_len) || mac_len != 20) {
        sodium_memzero(mac, sizeof mac);
        return -1;
    }
    /* EVP_EncodeBlock writes 4 * ceil(20 / 3) = 28 characters and a NUL. */
    EVP_EncodeBlock((unsigned char *)credential, mac, (int)mac_len);
    sodium_memzero(mac, sizeof mac);
    return 0;
}
