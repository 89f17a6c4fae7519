/*
 * secret_crypto.h: the end-to-end crypto core of secret chats (issue 5), private to libparley
 * (never included by include/parley.h). Pure functions on memory: no network, no database.
 * docs/SECRET_CHATS.md describes the protocol these functions implement.
 *
 *   sc_kdf.c          HKDF-SHA-256 (OpenSSL EVP_KDF) and the ratchet's KDF_RK / KDF_CK.
 *   sc_identity.c     device identity key, signed prekey, one-time prekeys, prekey bundles.
 *   sc_x3dh.c         X3DH (initiator and responder) -> shared secret SK and session AD.
 *   sc_ratchet.c      the Double Ratchet on an sc_session, transactional encrypt/decrypt.
 *   sc_session.c      the versioned binary encoding of an sc_session (local storage).
 *   sc_envelope.c     the wire envelope that travels through the server as opaque bytes.
 *   sc_fingerprint.c  the static verification fingerprint (60 and 80 digits), the emoji table.
 *   sc_sas.c          the interactive verification's commitment, SAS (7 emoji) and MACs.
 *
 * Errors: every function returns 0 (SC_OK) or a negative SC_E_* code; sc_strerror names it.
 * Nothing here prints or logs.
 *
 * Memory: every struct is caller-allocated. Structs holding secrets (sc_identity,
 * sc_signed_prekey, sc_onetime_prekey, sc_session) have a wipe/free function that
 * sodium_memzero's them; an sc_session also owns one heap array (its skipped message keys),
 * released by sc_session_free. Output buffers (envelopes, plaintexts, serialized state) are
 * caller-provided with their capacity; the SC_*_MAX macros give sufficient sizes.
 *
 * Transactions: encrypt and decrypt never modify their input session. They fill a NEW session
 * `out` only on success (on failure `out` is left empty and needs no free, though
 * sc_session_free on it is harmless). The caller persists sc_session_serialize(out) together
 * with the message it produced or consumed, in one database transaction, and only then
 * replaces its in-memory state: sc_session_free(old); *old = *out (a plain struct move).
 * After encrypt, the envelope must be sent only after that commit (see SECRET_CHATS.md,
 * "crash mid-message").
 *
 * Threading: no global mutable state; functions are thread-safe on distinct sessions.
 * sodium_init() must have succeeded before any call (sc_init does it).
 */
#ifndef PARLEY_SECRET_CRYPTO_H
#define PARLEY_SECRET_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* ---- errors ------------------------------------------------------------------------------ */

enum {
    SC_OK = 0,
    SC_E_ARG = -1,         /* NULL pointer, bad count, buffer too small */
    SC_E_MALFORMED = -2,   /* input bytes do not parse (wrong length, version, field) */
    SC_E_TOO_BIG = -3,     /* plaintext above SC_MAX_PLAINTEXT */
    SC_E_AUTH = -4,        /* AEAD tag (or anything it covers) does not verify */
    SC_E_REPLAY = -5,      /* message key already consumed (duplicate, replay) */
    SC_E_SKIP = -6,        /* message would skip more than SC_MAX_SKIP keys */
    SC_E_BADKEY = -7,      /* invalid public key, low-order point, bad signature */
    SC_E_TYPE = -8,        /* prekey message where a normal one is expected, or vice versa */
    SC_E_NOMEM = -9,
    SC_E_CRYPTO = -10,     /* a library primitive failed unexpectedly */
};
const char *sc_strerror(int code);

/* sodium_init(); 0 or SC_E_CRYPTO. Idempotent, thread-safe (libsodium's own guarantee). */
int sc_init(void);

/* ---- sizes and parameters ---------------------------------------------------------------- */

#define SC_KEY 32                    /* X25519 keys, Ed25519 public keys, chain/root keys */
#define SC_SIGN_SK 64                /* Ed25519 secret key (libsodium's seed || pk form) */
#define SC_SIG 64
#define SC_NONCE 24                  /* XChaCha20-Poly1305 */
#define SC_TAG 16
#define SC_MAX_PLAINTEXT 16384
#define SC_MAX_SKIP 1000             /* most message keys one message may make us skip */
#define SC_MAX_SKIPPED_TOTAL 2000    /* stored skipped keys per session; oldest dropped */
#define SC_AD_LEN (2 * SC_KEY + 4 * 8)   /* IK_A || IK_B || A.user || A.dev || B.user || B.dev */

/* ---- device identity and prekeys (sc_identity.c) ----------------------------------------- */

/* One device: the account's user id and the device's (login session's) id. */
typedef struct sc_device {
    int64_t user_id;
    int64_t device_id;
} sc_device;

/* The long-term identity of a device. Ed25519 for signatures; the X25519 form (birational
 * map, crypto_sign_ed25519_*_to_curve25519) for X3DH's DH1/DH2. Secret: wipe it. */
typedef struct sc_identity {
    uint8_t sign_pk[SC_KEY];
    uint8_t sign_sk[SC_SIGN_SK];
    uint8_t dh_pk[SC_KEY];
    uint8_t dh_sk[SC_KEY];
} sc_identity;

int sc_identity_generate(sc_identity *out);
/* Deterministic, from a 32-byte seed (tests, the benchmark; a device uses generate). */
int sc_identity_from_seed(sc_identity *out, const uint8_t seed[SC_KEY]);
void sc_identity_wipe(sc_identity *id);

/* The medium-term signed prekey: X25519 pair, its id, and the identity's signature over
 * "parley/spk/v1" || id (4 bytes big-endian) || pk. Secret: wipe it. */
typedef struct sc_signed_prekey {
    uint32_t id;
    uint8_t pk[SC_KEY];
    uint8_t sk[SC_KEY];
    uint8_t sig[SC_SIG];
} sc_signed_prekey;

int sc_signed_prekey_generate(const sc_identity *ik, uint32_t id, sc_signed_prekey *out);
void sc_signed_prekey_wipe(sc_signed_prekey *spk);

typedef struct sc_onetime_prekey {
    uint32_t id;
    uint8_t pk[SC_KEY];
    uint8_t sk[SC_KEY];
} sc_onetime_prekey;

/* n one-time prekeys with ids first_id, first_id+1, ... (no wrap-around: SC_E_ARG). */
int sc_onetime_prekeys_generate(uint32_t first_id, size_t n, sc_onetime_prekey *out);
void sc_onetime_prekeys_wipe(sc_onetime_prekey *opk, size_t n);

/* What the server hands an initiator: the public half of one device's prekeys, with at most
 * one one-time prekey (the server gives each one out once). */
typedef struct sc_bundle {
    sc_device device;
    uint8_t ik[SC_KEY];              /* Ed25519 identity public key */
    uint32_t spk_id;
    uint8_t spk[SC_KEY];
    uint8_t spk_sig[SC_SIG];
    int has_opk;
    uint32_t opk_id;
    uint8_t opk[SC_KEY];
} sc_bundle;

/* Fills a bundle from a device's own keys (opk may be NULL). */
int sc_bundle_make(const sc_device *dev, const sc_identity *ik, const sc_signed_prekey *spk,
                   const sc_onetime_prekey *opk, sc_bundle *out);
/* Encoding: version 1 || flags (bit 0 = has opk) || user_id (8 BE) || device_id (8 BE) ||
 * ik || spk_id (4 BE) || spk || spk_sig [|| opk_id (4 BE) || opk]. */
#define SC_BUNDLE_MIN (2 + 16 + SC_KEY + 4 + SC_KEY + SC_SIG)
#define SC_BUNDLE_MAX (SC_BUNDLE_MIN + 4 + SC_KEY)
/* Writes the encoding into buf (cap >= SC_BUNDLE_MAX), its length into *len. */
int sc_bundle_encode(const sc_bundle *b, uint8_t *buf, size_t cap, size_t *len);
/* Parses exactly len bytes (trailing bytes are SC_E_MALFORMED). Does not verify. */
int sc_bundle_parse(const uint8_t *buf, size_t len, sc_bundle *out);
/* The identity key is a valid Ed25519 point, the signature verifies, the DH keys are not
 * low-order. SC_E_BADKEY otherwise. sc_x3dh_initiate calls it too. */
int sc_bundle_verify(const sc_bundle *b);

/* ---- sessions, X3DH, the Double Ratchet (sc_x3dh.c, sc_ratchet.c) ------------------------ */

typedef struct sc_skipped {
    uint8_t dh[SC_KEY];              /* the sender's ratchet public key of that chain */
    uint32_t n;
    uint8_t mk[SC_KEY];
} sc_skipped;

/* The whole ratchet state of one secret chat on one device. Treat as opaque outside
 * sc_*.c; copy only with sc_session_copy (it owns `skipped`). */
typedef struct sc_session {
    uint8_t role;                    /* SC_ROLE_INITIATOR or SC_ROLE_RESPONDER */
    uint8_t flags;                   /* SC_F_* */
    uint8_t ad[SC_AD_LEN];
    uint8_t dhs_pk[SC_KEY], dhs_sk[SC_KEY];
    uint8_t dhr[SC_KEY];
    uint8_t rk[SC_KEY], cks[SC_KEY], ckr[SC_KEY];
    uint32_t ns, nr, pn;
    /* The X3DH fields of the prekey message: what the initiator sends until it hears back,
     * what the responder accepts in later prekey messages of the same set-up. */
    uint8_t pre_ek[SC_KEY];
    uint32_t pre_spk_id, pre_opk_id;
    uint32_t n_skipped;              /* oldest first */
    uint32_t cap_skipped;            /* allocated entries (not serialized) */
    sc_skipped *skipped;             /* heap, cap_skipped entries, owned */
} sc_session;

#define SC_ROLE_INITIATOR 1
#define SC_ROLE_RESPONDER 2
#define SC_F_HAS_DHR 0x01
#define SC_F_HAS_CKS 0x02
#define SC_F_HAS_CKR 0x04
#define SC_F_PREKEY 0x08             /* initiator: still sending prekey messages */
#define SC_F_HAS_OPK 0x10            /* the set-up used a one-time prekey */
#define SC_F_SENT 0x20               /* responder: has sent (so normal messages may come) */
#define SC_F_ALL 0x3f

/* Deep copy (dst is overwritten, not freed). SC_E_NOMEM. */
int sc_session_copy(sc_session *dst, const sc_session *src);
/* Wipes every key and frees the skipped array; the struct is left zeroed (reusable). */
void sc_session_free(sc_session *s);

/* The initiator (device self, identity ik) starts a session with the device of a verified
 * bundle. No message is needed first: the first sc_ratchet_encrypt produces a prekey
 * message. */
int sc_x3dh_initiate(const sc_identity *ik, const sc_device *self, const sc_bundle *peer,
                     sc_session *out);

/* The parsed envelope (sc_envelope.c). For a prekey message the X3DH fields are set. */
#define SC_MSG_PREKEY 1
#define SC_MSG_NORMAL 2
typedef struct sc_envelope {
    uint8_t type;                    /* SC_MSG_PREKEY or SC_MSG_NORMAL */
    uint8_t ik[SC_KEY];              /* prekey: initiator's Ed25519 identity key */
    uint8_t ek[SC_KEY];              /* prekey: initiator's ephemeral key */
    uint32_t spk_id;                 /* prekey: which signed prekey of the responder */
    int has_opk;                     /* prekey: whether a one-time prekey was used */
    uint32_t opk_id;
    uint8_t dh[SC_KEY];              /* ratchet header: sender's current ratchet key */
    uint32_t pn, n;
    uint8_t nonce[SC_NONCE];
    const uint8_t *ct;               /* points into the parsed buffer: ciphertext || tag */
    size_t ct_len;
    size_t header_len;               /* bytes 0..header_len-1 of the buffer are the header */
} sc_envelope;

/* Envelope v1: version (1) || type (1) || [prekey: ik || ek || spk_id (4 BE) ||
 * opk flag (1) || opk_id (4 BE)] || dh || pn (4 BE) || n (4 BE) || nonce (24) ||
 * ciphertext || tag (16). All integers big-endian. */
#define SC_ENV_VERSION 1
#define SC_ENV_PREKEY_FIELDS (2 * SC_KEY + 4 + 1 + 4)
#define SC_ENV_HEADER_NORMAL (2 + SC_KEY + 8 + SC_NONCE)
#define SC_ENV_HEADER_PREKEY (SC_ENV_HEADER_NORMAL + SC_ENV_PREKEY_FIELDS)
#define SC_ENV_MAX (SC_ENV_HEADER_PREKEY + SC_MAX_PLAINTEXT + SC_TAG)

/* Parses exactly len bytes; env->ct points into buf. Checks sizes only, not keys. */
int sc_envelope_parse(const uint8_t *buf, size_t len, sc_envelope *env);
/* Writes the header of env (everything before the ciphertext) into buf, cap >= header size. */
int sc_envelope_encode_header(const sc_envelope *env, uint8_t *buf, size_t cap, size_t *len);

/* The responder's side of X3DH: from its own keys (opk NULL when the message names none;
 * it must be the one with env->opk_id otherwise) and a parsed prekey envelope, builds the
 * session the first message will be decrypted with. Does NOT decrypt: use sc_session_accept
 * (X3DH + first decrypt in one transaction) unless you need the steps apart. The caller
 * deletes the one-time prekey once the session is committed. */
int sc_x3dh_respond(const sc_identity *ik, const sc_signed_prekey *spk,
                    const sc_onetime_prekey *opk, const sc_device *self, const sc_device *peer,
                    const sc_envelope *env, sc_session *out);

/* Encrypts pt (pt_len <= SC_MAX_PLAINTEXT) under in, writing the envelope into env
 * (cap >= SC_ENV_MAX is always enough) and the new state into out. in is not modified. */
int sc_ratchet_encrypt(const sc_session *in, sc_session *out, const uint8_t *pt, size_t pt_len,
                       uint8_t *env, size_t env_cap, size_t *env_len);
/* Parses and decrypts envelope bytes under in, writing the plaintext into pt (cap >=
 * SC_MAX_PLAINTEXT is always enough) and the new state into out. in is not modified; on any
 * failure out is left empty and no plaintext is left in pt. */
int sc_ratchet_decrypt(const sc_session *in, sc_session *out, const uint8_t *env,
                       size_t env_len, uint8_t *pt, size_t pt_cap, size_t *pt_len);

/* A first prekey message for a device with no session yet: sc_envelope_parse +
 * sc_x3dh_respond + sc_ratchet_decrypt as one transaction. peer is who the server says sent
 * it; the caller checks the initiator's identity key (sc_session_peer_ik) against any key
 * it already knew for that device. */
int sc_session_accept(const sc_identity *ik, const sc_signed_prekey *spk,
                      const sc_onetime_prekey *opk, const sc_device *self,
                      const sc_device *peer, const uint8_t *env, size_t env_len,
                      sc_session *out, uint8_t *pt, size_t pt_cap, size_t *pt_len);

/* 1 if env is a prekey message of the set-up s was made from (s a responder session), else 0.
 * For routing: a prekey message for which some session answers 1 goes to sc_ratchet_decrypt
 * on that session (a late or duplicate copy), never to sc_session_accept again. */
int sc_session_is_setup_of(const sc_session *s, const sc_envelope *env);

/* The peer's Ed25519 identity key and device, as bound into the session's AD. */
const uint8_t *sc_session_peer_ik(const sc_session *s);
sc_device sc_session_peer_device(const sc_session *s);
const uint8_t *sc_session_own_ik(const sc_session *s);
sc_device sc_session_own_device(const sc_session *s);

/* ---- session state encoding (sc_session.c) ----------------------------------------------- */

/* "PSCS" || version 1 || role || flags || ad || dhs_pk || dhs_sk || dhr || rk || cks || ckr ||
 * ns || nr || pn || pre_ek || pre_spk_id || pre_opk_id || n_skipped (4 BE) ||
 * n_skipped x (dh || n (4 BE) || mk). The bytes hold secrets: the caller encrypts them at
 * rest and wipes its buffer. */
#define SC_STATE_FIXED (4 + 3 + SC_AD_LEN + 7 * SC_KEY + 3 * 4 + 2 * 4 + 4)
#define SC_STATE_ENTRY (2 * SC_KEY + 4)
#define SC_STATE_MAX (SC_STATE_FIXED + SC_MAX_SKIPPED_TOTAL * SC_STATE_ENTRY)
/* Exact size sc_session_serialize will write. */
size_t sc_session_serialized_size(const sc_session *s);
int sc_session_serialize(const sc_session *s, uint8_t *buf, size_t cap, size_t *len);
/* Parses exactly len bytes into a new session (free it with sc_session_free). Rejects every
 * inconsistency it can see (bad magic/version/role/flags, counts, a dhs_pk that is not
 * dhs_sk's public key) with SC_E_MALFORMED; out is left empty then. */
int sc_session_parse(const uint8_t *buf, size_t len, sc_session *out);

/* ---- KDFs (sc_kdf.c) --------------------------------------------------------------------- */

/* RFC 5869 HKDF-SHA-256 (extract + expand). salt may be NULL (= 32 zero bytes, as the RFC
 * says). out_len <= 255 * 32. */
int sc_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* HMAC-SHA-256 (libsodium), any key length. */
int sc_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32]);
/* Double Ratchet KDF_RK: HKDF(salt = rk, ikm = dh_out, info = "parley/ratchet/root/v1")
 * -> 64 bytes = new root key || chain key. rk_out may alias rk. */
int sc_kdf_rk(const uint8_t rk[SC_KEY], const uint8_t dh_out[SC_KEY], uint8_t rk_out[SC_KEY],
              uint8_t ck_out[SC_KEY]);
/* Double Ratchet KDF_CK: message key = HMAC(ck, "parley/ratchet/msg/v1"), next chain key =
 * HMAC(ck, "parley/ratchet/chain/v1"). ck_out may alias ck. */
int sc_kdf_ck(const uint8_t ck[SC_KEY], uint8_t ck_out[SC_KEY], uint8_t mk_out[SC_KEY]);

#define SC_LABEL_X3DH "parley/x3dh/v1"
#define SC_LABEL_ROOT "parley/ratchet/root/v1"
#define SC_LABEL_CHAIN "parley/ratchet/chain/v1"
#define SC_LABEL_MSG "parley/ratchet/msg/v1"
#define SC_LABEL_SPK "parley/spk/v1"
#define SC_LABEL_FP "parley/fingerprint/v1"
#define SC_LABEL_SAS_COMMIT "parley/sas/commit/v1"
#define SC_LABEL_SAS "parley/sas/v1"
#define SC_LABEL_SAS_MAC "parley/sas/mac/v1"

/* Internal helpers shared by sc_*.c. */
/* X25519 with the all-zero (low-order input) output rejected: SC_E_BADKEY. */
int sc_dh(const uint8_t sk[SC_KEY], const uint8_t pk[SC_KEY], uint8_t out[SC_KEY]);
void sc_put32(uint8_t *p, uint32_t v);
uint32_t sc_get32(const uint8_t *p);
void sc_put64(uint8_t *p, uint64_t v);
uint64_t sc_get64(const uint8_t *p);

/* ---- fingerprint (sc_fingerprint.c) ------------------------------------------------------ */

#define SC_FP_DIGITS 60
#define SC_FP_NUMBER_LEN (SC_FP_DIGITS + 11)   /* 12 groups of 5 digits, single spaces */
#define SC_FP_LONG_DIGITS 80
#define SC_FP_LONG_LEN (SC_FP_LONG_DIGITS + 15) /* 16 groups of 5 digits, single spaces */
#define SC_FP_ITERATIONS 5200

/* The same on both devices: order-independent in (a, b). number gets SC_FP_NUMBER_LEN
 * characters + NUL ("12345 67890 ..."), long_number (may be NULL) SC_FP_LONG_LEN + NUL; the
 * long form's per-side 40 digits start with the number's 30. */
int sc_fingerprint(const uint8_t ik_a[SC_KEY], const sc_device *a, const uint8_t ik_b[SC_KEY],
                   const sc_device *b, char number[SC_FP_NUMBER_LEN + 1],
                   char long_number[SC_FP_LONG_LEN + 1]);
/* The same from a session's AD. */
int sc_session_fingerprint(const sc_session *s, char number[SC_FP_NUMBER_LEN + 1],
                           char long_number[SC_FP_LONG_LEN + 1]);
/* Entry i & 63 of the 64-emoji table (a NUL-terminated UTF-8 string of 4 bytes). */
const char *sc_emoji(unsigned i);

/* ---- interactive verification (sc_sas.c) ------------------------------------------------- *
 * Both devices online; S starts, O answers (roles of the run, not of the chat).
 *   T      = vid (16) || IK_S || S.user (8 BE) || S.device (8 BE) || IK_O || O.user || O.device
 *   C      = SHA-256("parley/sas/commit/v1" || EK_S || T)        S -> O first, EK_S hidden
 *   EK_O                                                          O -> S
 *   EK_S                                                          S -> O, O checks C
 *   okm    = HKDF-SHA-256(salt none, ikm = X25519(own ek, peer EK),
 *                         info = "parley/sas/v1" || T || EK_S || EK_O, 64 bytes)
 *   SAS    = the first 42 bits of okm as 7 six-bit indices into the emoji table
 *   K_mac  = okm[32..63]
 *   MAC_r  = HMAC-SHA-256(K_mac, "parley/sas/mac/v1" || r (1 byte: 1 S, 2 O) || T)
 * Each side builds T from its own view (its own identity key and the one its session is
 * bound to), so a substituted key gives different T, different SAS and failing MACs. */

#define SC_SAS_VID 16
#define SC_SAS_T_LEN (SC_SAS_VID + 2 * (SC_KEY + 16))
#define SC_SAS_EMOJI_COUNT 7
#define SC_SAS_EMOJI_MAX (SC_SAS_EMOJI_COUNT * 4 + 1)
#define SC_SAS_ROLE_S 1
#define SC_SAS_ROLE_O 2

/* The transcript T from the starter's and the other side's identity keys and devices. */
void sc_sas_transcript(const uint8_t vid[SC_SAS_VID], const uint8_t ik_s[SC_KEY],
                       const sc_device *s, const uint8_t ik_o[SC_KEY], const sc_device *o,
                       uint8_t t[SC_SAS_T_LEN]);
/* C over the starter's ephemeral public key and T. */
int sc_sas_commit(const uint8_t ek_s[SC_KEY], const uint8_t t[SC_SAS_T_LEN],
                  uint8_t c[32]);
/* SC_OK if ek_s opens c under t (constant-time compare), SC_E_AUTH otherwise. */
int sc_sas_check_commit(const uint8_t ek_s[SC_KEY], const uint8_t t[SC_SAS_T_LEN],
                        const uint8_t c[32]);
/* From one side's ephemeral secret key and both public keys (ek_s = the starter's, ek_o =
 * the other's; own_sk is the secret half of one of them): the SAS emoji (NUL-terminated
 * UTF-8, 28 bytes) and K_mac. A low-order peer key is SC_E_BADKEY. Wipes the DH output. */
int sc_sas_derive(const uint8_t own_sk[SC_KEY], const uint8_t ek_s[SC_KEY],
                  const uint8_t ek_o[SC_KEY], int own_role, const uint8_t t[SC_SAS_T_LEN],
                  char emoji[SC_SAS_EMOJI_MAX], uint8_t k_mac[SC_KEY]);
/* MAC_role (above). */
int sc_sas_mac(const uint8_t k_mac[SC_KEY], int role, const uint8_t t[SC_SAS_T_LEN],
               uint8_t mac[32]);

#endif
