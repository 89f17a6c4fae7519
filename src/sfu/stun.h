/*
 * stun.h: the STUN subset an ICE-lite agent needs (RFC 8489/5389, RFC 8445 lite): parse a
 * Binding request, check MESSAGE-INTEGRITY (HMAC-SHA1, short-term credentials) and FINGERPRINT
 * (CRC-32 xor 0x5354554e), and build Binding success / error responses and, for tests and the
 * load generator, Binding requests. Pure functions over caller buffers: nothing is allocated,
 * parsed pointers point into the caller's packet and live as long as it does.
 */
#ifndef PARLEY_SFU_STUN_H
#define PARLEY_SFU_STUN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER 20
#define STUN_COOKIE 0x2112A442u
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111
#define STUN_MAX_USERNAME 513

typedef struct {
    uint16_t type;
    uint8_t tid[12];
    const uint8_t *username; /* into the packet; not NUL-terminated */
    size_t username_len;
    uint32_t priority;
    bool has_priority;
    bool use_candidate;
    bool ice_controlling, ice_controlled;
    bool has_integrity;
    size_t integrity_off; /* offset of the MESSAGE-INTEGRITY attribute header */
    bool has_fingerprint; /* present and correct */
    bool has_xor_mapped;
    struct sockaddr_storage xor_mapped; /* decoded XOR-(MAPPED-)ADDRESS, responses only */
    uint16_t error_code; /* from ERROR-CODE, 0 if none */
} stun_msg;

/* True if buf looks like STUN (first byte 0..3 per RFC 7983, cookie, length). */
bool stun_is_stun(const uint8_t *buf, size_t len);
/* Parses and validates structure; if FINGERPRINT is present it must be last and correct.
 * Returns 0 or -1 (malformed: caller drops the packet). */
int stun_parse(const uint8_t *buf, size_t len, stun_msg *out);
/* Checks MESSAGE-INTEGRITY of a parsed message with the short-term key (the password bytes).
 * Constant-time comparison. Returns 0 if valid, -1 if missing or wrong. */
int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m,
                         const uint8_t *key, size_t key_len);

/* Builders: return the length written, or 0 if cap is too small. Every builder adds
 * MESSAGE-INTEGRITY (if key) and FINGERPRINT. */
size_t stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t tid[12],
                                  const struct sockaddr *mapped, const uint8_t *key, size_t key_len);
size_t stun_build_error(uint8_t *out, size_t cap, const uint8_t tid[12], uint16_t code,
                        const char *reason);
/* A Binding request with USERNAME, PRIORITY, ICE-CONTROLLING and (if nominate) USE-CANDIDATE. */
size_t stun_build_binding_request(uint8_t *out, size_t cap, const uint8_t tid[12],
                                  const char *username, uint32_t priority, bool nominate,
                                  const uint8_t *key, size_t key_len);

#endif
