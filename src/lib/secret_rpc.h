/*
 * secret_rpc.h: libparley's INTERNAL requests for secret chats (api_secret_rpc.c). Not part
 * of include/parley.h: the secret-chat layer inside the library (X3DH, Double Ratchet, the
 * local store) calls these; the public API is built on top of that layer.
 *
 * Each call is blocking like the public ones (pl_rpc: connects and resumes as needed, waits
 * at most the client's timeout) and acts for this client's session, which is the device.
 * Returns 0 or -code with err filled; server errors keep their code (30 DEVICE_NOT_FOUND,
 * 31 IDENTITY_KEY_CHANGED, 32 KEYS_INVALID, see proto/parley.proto "Secret chats").
 * Everything the server sends is length-checked here: a key of the wrong size is
 * PARLEY_E_PROTOCOL, never handed on.
 *
 * Memory: out-structs are filled in place; arrays and strings in them are malloc'd and
 * released by the matching pl_secret_*_free. Envelope bytes are wiped when freed.
 * Pushed envelopes: pl_secret_set_handler() names the function that gets each
 * ServerFrame.secret as it arrives (on the loop's thread, during any blocking call or
 * parley_loop_run); the envelope is borrowed for the call only. Without a handler a push is
 * dropped: it stays pending on the server until acknowledged, so pl_secret_inbox() finds it.
 */
#ifndef PARLEY_SECRET_RPC_H
#define PARLEY_SECRET_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "lib.h"

#define PL_KEY_BYTES 32
#define PL_SIG_BYTES 64
#define PL_ENVELOPE_MAX 61440
#define PL_MAX_ONE_TIME_PREKEYS 200
#define PL_ACK_MAX 500

typedef struct {
    uint32_t id;
    uint8_t pub[PL_KEY_BYTES];
    uint8_t sig[PL_SIG_BYTES];
} pl_signed_prekey;

typedef struct {
    uint32_t id;
    uint8_t pub[PL_KEY_BYTES];
} pl_one_time_prekey;

typedef struct {
    uint32_t one_time_remaining;
    int64_t device_id;              /* this device = this client's session */
    int published;
} pl_prekey_status;

typedef struct {
    int64_t user_id;
    int64_t device_id;
    char *name;
    int64_t last_active;
    uint8_t identity[PL_KEY_BYTES];
} pl_device;

typedef struct {
    int64_t user_id;
    int64_t device_id;
    uint8_t identity[PL_KEY_BYTES];
    pl_signed_prekey spk;
    int has_otk;                    /* 0: none left; X3DH runs without one */
    pl_one_time_prekey otk;
} pl_bundle;

typedef struct pl_envelope {
    uint64_t id;
    int64_t from_user;
    char *from_username;
    int64_t from_device;
    uint64_t secret_chat;
    uint8_t *envelope;
    size_t len;
    int64_t date;
} pl_envelope;

typedef void (*pl_secret_cb)(parley_client *c, void *ud, const pl_envelope *e);

/* spk NULL = keep the stored signed prekey (the first publish needs one). */
int pl_secret_publish(parley_client *c, const uint8_t identity[PL_KEY_BYTES],
                      const pl_signed_prekey *spk, const pl_one_time_prekey *otks, size_t n,
                      pl_prekey_status *out, parley_error *err);
int pl_secret_status(parley_client *c, pl_prekey_status *out, parley_error *err);
/* username (with or without '@') or, if NULL, user_id. */
int pl_secret_devices(parley_client *c, const char *username, int64_t user_id, pl_device **out,
                      size_t *n, parley_error *err);
/* device_id 0 = the user's newest device with keys. Consumes one one-time prekey. */
int pl_secret_bundle(parley_client *c, const char *username, int64_t user_id, int64_t device_id,
                     pl_bundle *out, parley_error *err);
/* random_id 0 = pick one. Resent once with the same random_id if the connection dropped
 * before the answer (the server returns the first result). */
int pl_secret_send(parley_client *c, int64_t to_user, int64_t to_device, uint64_t secret_chat,
                   const uint8_t *envelope, size_t len, uint64_t random_id, uint64_t *id,
                   int64_t *date, parley_error *err);
/* One page of this device's pending envelopes after after_id (limit 0 = 50). */
int pl_secret_inbox(parley_client *c, uint64_t after_id, uint32_t limit, pl_envelope **out,
                    size_t *n, int *more, parley_error *err);
/* Deletes envelopes of this device on the server; *deleted (may be NULL) lists those
 * removed. */
int pl_secret_ack(parley_client *c, const uint64_t *ids, size_t n, uint64_t **deleted,
                  size_t *n_deleted, parley_error *err);
void pl_secret_set_handler(parley_client *c, pl_secret_cb cb, void *ud);

void pl_devices_free(pl_device *v, size_t n);
void pl_envelopes_free(pl_envelope *v, size_t n);

/* conn.c: a ServerFrame.secret arrived. */
void pl_secret_on_push(parley_client *c, const Parley__SecretEnvelope *e);

#endif
