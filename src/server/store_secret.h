/*
 * store_secret.h: the secret-chat part of the storage interface (store.h includes it; see
 * store.h for threading, batching and memory rules, which apply unchanged).
 *
 * A device is a session (store_session.id). The store keeps, per device, its public
 * identity key, one signed prekey and up to STORE_SECRET_MAX_OTK one-time prekeys, and the
 * device's inbox of pending envelopes (opaque bytes; the store never interprets them).
 * Ending a session removes its keys, its inbox and its idempotency records in the same
 * transaction; envelopes it sent stay pending for their recipients.
 *
 * Deleted means gone, as for messages: an acknowledged (or otherwise deleted) envelope
 * leaves no readable bytes; the caller runs store_scrub() after a batch that deleted any.
 *
 * Errors: STORE_ERR_NO_USER (unknown user), STORE_ERR_NO_SESSION (no such device of that
 * user, or it has no keys), STORE_ERR_FORBIDDEN (another identity key than the device's),
 * STORE_ERR_INVALID (first publish without a signed prekey, a one-time prekey id already
 * stored), STORE_ERR_LIMIT (prekey cap, or the recipient's pending cap).
 */
#ifndef PARLEY_STORE_SECRET_H
#define PARLEY_STORE_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_BYTES 32          /* identity keys and public prekeys */
#define STORE_SIG_BYTES 64          /* the signed prekey's signature */
#define STORE_SECRET_MAX_OTK 200    /* one-time prekeys stored per device */

typedef struct {
    uint32_t id;
    uint8_t pub[STORE_KEY_BYTES];
    uint8_t sig[STORE_SIG_BYTES];
} store_spk;

typedef struct {
    uint32_t id;
    uint8_t pub[STORE_KEY_BYTES];
} store_otk;

typedef struct {
    int64_t user_id;
    int64_t device_id;
    char *name;                /* the session's device name */
    int64_t last_active;
    uint8_t identity[STORE_KEY_BYTES];
} store_device;

typedef struct {
    int64_t user_id;
    int64_t device_id;
    uint8_t identity[STORE_KEY_BYTES];
    store_spk spk;
    int has_otk;               /* 0: the device has no one-time prekey left */
    store_otk otk;
} store_bundle;

typedef struct {
    uint64_t id;
    int64_t from_user;
    char *from_username;
    int64_t from_device;
    uint64_t secret_chat;
    uint8_t *envelope;         /* len bytes (decrypted from its at-rest form) */
    size_t len;
    int64_t date;
} store_envelope;

/* Pending limits, from the server's settings: per device in all, and per sending account
 * per device (its share, well below the whole, so that one sender can fill only its own
 * share and everyone else's envelopes still get through). sender_* 0 = no share limit. */
typedef struct {
    uint64_t max_count;
    uint64_t max_bytes;
    uint64_t sender_max_count;
    uint64_t sender_max_bytes;
} store_secret_caps;

/* Publishes keys for `device` (a session of its user). spk NULL = keep the stored signed
 * prekey (the first publish must give one). Adds otks[0..n) all or nothing. On success
 * *remaining = one-time prekeys now stored. */
store_rc store_prekeys_publish(store *s, int64_t device, const uint8_t identity[STORE_KEY_BYTES],
                               const store_spk *spk, const store_otk *otks, size_t n,
                               int64_t now, uint32_t *remaining);
store_rc store_prekey_status(store *s, int64_t device, uint32_t *remaining, int *published);
/* The user's devices with keys, oldest first (caller frees with store_devices_free). */
store_rc store_devices_list(store *s, int64_t user_id, store_device **out, size_t *n);
/* The bundle of user_id's device (0 = the newest with keys); removes the one-time prekey
 * it returns. At most otk_per_hour one-time prekeys of a device are handed out per clock
 * hour of `now` (0 = no limit); beyond that the bundle comes without one (has_otk 0: X3DH
 * runs without it), so nobody can drain a device's one-time prekeys, and nobody is refused
 * a bundle either. */
store_rc store_prekey_bundle_take(store *s, int64_t user_id, int64_t device, int64_t now,
                                  uint32_t otk_per_hour, store_bundle *out);
/* Queues an envelope from (from_user, from_device) for to_device, which must be a session of
 * to_user with keys and not from_device itself. STORE_ERR_LIMIT when the device's total or
 * from_user's share of it (caps) would be exceeded; *share_full (may be NULL) then tells
 * which: 1 = the sender's share. A repeated (from_device, random_id) returns
 * the first id and date with *duplicate = 1 and stores nothing (for 7 days; see
 * SECRET_SENT_KEEP in store_sqlite_secret.h). */
store_rc store_secret_send(store *s, int64_t from_user, int64_t from_device, int64_t to_user,
                           int64_t to_device, uint64_t secret_chat, const uint8_t *envelope,
                           size_t len, uint64_t random_id, int64_t now,
                           const store_secret_caps *caps, uint64_t *id, int64_t *date,
                           int *duplicate, int *share_full);
/* Pending envelopes of device with id > after_id, oldest first: at most limit, and no more
 * than max_bytes of envelopes in total unless the first alone is larger. *more = 1 if
 * more are pending after the last one returned. */
store_rc store_secret_inbox(store *s, int64_t device, uint64_t after_id, uint32_t limit,
                            size_t max_bytes, store_envelope **out, size_t *n, int *more);
/* Deletes the envelopes ids[0..n) that are pending for device; *deleted (caller frees)
 * lists those removed. */
store_rc store_secret_ack(store *s, int64_t device, const uint64_t *ids, size_t n,
                          uint64_t **deleted, size_t *n_deleted);

/* Deletes at most `max` envelopes queued before `before` (unix seconds) that were never
 * collected, oldest first; *n_expired = how many. The caller runs store_scrub() after a
 * batch that deleted any (as after acks). */
store_rc store_secret_expire(store *s, int64_t before, size_t max, size_t *n_expired);

/* A device's identity key: the one it registered (store_device_key_set) or, failing that,
 * the one it published with its prekeys. *has = 0 when it has none; STORE_ERR_NO_SESSION
 * when the device (session) does not exist. */
store_rc store_device_key_get(store *s, int64_t device, uint8_t key[STORE_KEY_BYTES], int *has);
/* Binds key to device once: the same key again is STORE_OK, another key (registered or
 * published for secret chats) STORE_ERR_FORBIDDEN and changes nothing. */
store_rc store_device_key_set(store *s, int64_t device, const uint8_t key[STORE_KEY_BYTES]);

void store_devices_free(store_device *v, size_t n);
void store_envelopes_free(store_envelope *v, size_t n);

#endif
