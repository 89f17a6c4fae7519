/*
 * secret_store.h: the device's local secret-chat state (secret_store.c), and the hooks the
 * rest of libparley calls (api_secret.c).
 *
 * Everything lives in the profile's SQLite database (profile.c owns the connection) in the
 * sc_* tables beside kv. Every secret column (device keys, one-time prekeys, ratchet state,
 * message text) is sealed with XChaCha20-Poly1305 under a random 32-byte profile key kept in
 * <profile>/secret.key (mode 0600); the associated data names the table and row, so a sealed
 * value cannot be moved to another row. secure_delete is on, and after rows holding message
 * text are deleted the WAL/journal is checkpointed (TRUNCATE), so no stale page survives in
 * the database files. Threat model (docs/SECRET_CHATS.md): a copy of profile.db (and its
 * journal) reveals no plaintext and no key; whoever reads the whole profile directory,
 * secret.key included, reads everything, as the device itself can.
 *
 * Memory: pl_sc belongs to its parley_client (c->sc, freed by pl_sc_free from parley_close)
 * and wipes its key. pl_sc_chat owns its session (pl_sc_chat_clear wipes it). Buffers that
 * held secrets are wiped before they are freed.
 */
#ifndef PARLEY_SECRET_STORE_H
#define PARLEY_SECRET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib.h"
#include "secret_crypto.h"

#define PL_SC_OTK_BATCH 50       /* one-time prekeys made at a time */
#define PL_SC_OTK_LOW 10         /* replenish when the server has fewer */
#define PL_SC_MAX_TIMER 604800   /* one week */

/* The interactive verification run of this client (api_secret_sas.c): one at a time, kept
 * in memory only (its ephemeral secret key never reaches the disk). A plain struct, copied
 * by value so an incoming message works on a copy that replaces the run only after the
 * ratchet state is committed; the secret fields are wiped when a run ends. */
typedef struct pl_sas_run {
    int64_t chat;                /* 0: no run */
    int role;                    /* SC_SAS_ROLE_S (started here) or SC_SAS_ROLE_O */
    int state;                   /* parley_sas_state */
    int cancel_code, by_peer;    /* CANCELLED */
    int peer_confirmed;          /* the peer's MAC arrived and verified */
    int64_t deadline_ms;         /* pl_now_ms() after which the run is cancelled */
    uint8_t vid[SC_SAS_VID];
    uint8_t t[SC_SAS_T_LEN];     /* this side's view of the transcript */
    uint8_t commit[32];          /* O: the starter's commitment */
    uint8_t ek_pk[SC_KEY], peer_ek[SC_KEY];
    uint8_t ek_sk[SC_KEY];       /* secret */
    uint8_t k_mac[SC_KEY];       /* secret */
    char emoji[SC_SAS_EMOJI_MAX];
} pl_sas_run;

/* What an incoming verification message does once its ratchet state is committed. */
typedef struct pl_sas_effect {
    int changed;                 /* run replaces c->sc->sas */
    pl_sas_run run;
    int reply_type;              /* 0 none, else a P_SAS_* payload to send */
    uint8_t reply[SC_SAS_VID + 32];   /* PL_SAS_BODY */
    size_t reply_len;
    int notify;                  /* queue a PARLEY_UPDATE_SECRET_SAS */
    int remember_request;        /* store the request in the profile (for a later accept) */
    int peer_cancelled;          /* a SAS_CANCEL came: forget a remembered request of vid */
    uint8_t cancelled_vid[SC_SAS_VID];
} pl_sas_effect;

typedef struct pl_sc {
    uint8_t key[32];             /* the profile key (secret.key) */
    int keys_ok;                 /* device keys checked and published in this process */
    int dirty;                   /* an envelope was pushed: fetch the inbox */
    int polled;                  /* the inbox was fetched at least once */
    int64_t last_sweep_ms;       /* destroy timers are checked at most every 500 ms */
    int64_t read_chat, read_max; /* shown by parley_next_update, read notice not sent yet */
    parley_update **q;           /* updates ready for parley_next_update, owned */
    size_t q_len, q_cap, q_pos;
    pl_sas_run sas;              /* the interactive verification run, if any */
} pl_sc;

typedef struct pl_sc_chat {
    int64_t id;
    int64_t peer_user;
    char *peer_name;
    int64_t peer_device;
    uint8_t peer_ik[SC_KEY];     /* the identity key this device accepted for the peer */
    int role;                    /* SC_ROLE_* */
    int state;                   /* parley_secret_state */
    uint32_t timer;
    int verified, key_changed;
    int64_t created;
    int64_t next_seq;            /* our next message number */
    int has_session;
    sc_session sess;
} pl_sc_chat;

typedef struct pl_sc_msg {
    int64_t id;
    int outgoing, service;
    int64_t date;
    uint32_t ttl;
    int64_t destroy_at;
    int shown;
    char *text;                  /* wiped when cleared */
} pl_sc_msg;

/* ---- secret_store.c ---------------------------------------------------------------------- */

/* c->sc, created (key file, tables) on first use. Ephemeral profiles: PARLEY_E_PROFILE. */
int pl_sc_get(parley_client *c, pl_sc **out, parley_error *err);
void pl_sc_free(parley_client *c);

/* Deletes every secret-chat row (keys, prekeys, chats, messages) and scrubs the journal:
 * the device ended (logout). No-op for ephemeral profiles. */
void pl_sc_wipe_device(parley_client *c);

int pl_sc_begin(parley_client *c, parley_error *err);
int pl_sc_commit(parley_client *c, parley_error *err);
void pl_sc_rollback(parley_client *c);

/* Device keys: 0 found, 1 missing (or made for another device), <0 error. */
int pl_sc_keys_load(parley_client *c, int64_t device_id, sc_identity *ik,
                    sc_signed_prekey *spk, uint32_t *next_otk, parley_error *err);
/* Replaces everything (a new device: old keys, prekeys and chats are wiped). */
int pl_sc_keys_store(parley_client *c, int64_t device_id, const sc_identity *ik,
                     const sc_signed_prekey *spk, uint32_t next_otk, parley_error *err);
int pl_sc_keys_set_next_otk(parley_client *c, uint32_t next_otk, parley_error *err);

/* Signed prekey rotation (issue 16). A device makes a new signed prekey every
 * PL_SC_SPK_ROTATE seconds; the retired ones' private halves stay (sealed, sc_spk_old) for
 * PL_SC_SPK_GRACE seconds after retirement, so initial messages made from a bundle fetched
 * before the rotation still open, and are then deleted. */
#define PL_SC_SPK_ROTATE (7 * 86400)
#define PL_SC_SPK_GRACE (14 * 86400)
/* 0 and the current signed prekey's creation time and whether the server still lacks it;
 * 1 if not recorded (a device from before rotation). */
int pl_sc_spk_state(parley_client *c, int64_t *created, int *pending, parley_error *err);
int pl_sc_spk_state_set(parley_client *c, int64_t created, int pending, parley_error *err);
/* In the caller's transaction: next becomes the current signed prekey (created now, not yet
 * published), old is kept as retired at now, and retired ones older than grace go. */
int pl_sc_spk_rotate(parley_client *c, int64_t device_id, const sc_identity *ik,
                     const sc_signed_prekey *old, const sc_signed_prekey *next, int64_t now,
                     int64_t grace, parley_error *err);
/* Deletes the retired signed prekeys retired before the given time. */
int pl_sc_spk_forget(parley_client *c, int64_t retired_before, parley_error *err);
/* A retired signed prekey by id: 0 found, 1 none (gone or never made), <0 error. */
int pl_sc_spk_old_load(parley_client *c, uint32_t id, sc_signed_prekey *out, parley_error *err);
/* api_secret.c: rotates the signed prekey if it is PL_SC_SPK_ROTATE old at `now` (the
 * clock is the caller's, so tests can move it), publishes a current one the server lacks
 * (a failed publish is retried on the next call), and forgets retired ones past the grace.
 * ik/spk: the loaded device keys; spk is replaced by the new one after a rotation. */
int pl_sc_rotate_due(parley_client *c, const sc_identity *ik, sc_signed_prekey *spk,
                     int64_t now, parley_error *err);
/* Retired signed prekeys held (for tests), -1 on error. */
int pl_sc_spk_old_count(parley_client *c);
int pl_sc_otk_store(parley_client *c, const sc_onetime_prekey *v, size_t n, parley_error *err);
int pl_sc_otk_load(parley_client *c, uint32_t id, sc_onetime_prekey *out, parley_error *err);
int pl_sc_otk_delete(parley_client *c, uint32_t id, parley_error *err);

/* 0 found, 1 missing, <0 error. with_session: also unseal and parse the ratchet state. */
int pl_sc_chat_load(parley_client *c, int64_t id, int with_session, pl_sc_chat *out,
                    parley_error *err);
/* Inserts or replaces the row, the sealed session with it (or NULL if !has_session). */
int pl_sc_chat_save(parley_client *c, const pl_sc_chat *ch, parley_error *err);
void pl_sc_chat_clear(pl_sc_chat *ch);
/* Ids of the chats with that peer device, for routing prekey messages. malloc'd. */
int pl_sc_chats_of_peer(parley_client *c, int64_t user, int64_t device, int64_t **ids,
                        size_t *n, parley_error *err);
int pl_sc_chat_ids(parley_client *c, int64_t **ids, size_t *n, parley_error *err);

int pl_sc_msg_insert(parley_client *c, int64_t chat, const pl_sc_msg *m, parley_error *err);
/* 0 deleted, 1 no such message. */
int pl_sc_msg_delete(parley_client *c, int64_t chat, int64_t id, parley_error *err);
int pl_sc_msg_delete_all(parley_client *c, int64_t chat, parley_error *err);
int pl_sc_msg_list(parley_client *c, int64_t chat, pl_sc_msg **out, size_t *n,
                   parley_error *err);
void pl_sc_msgs_free(pl_sc_msg *v, size_t n);
/* Marks incoming messages up to max_id shown; starts their timers (now + ttl). */
int pl_sc_msg_mark_shown(parley_client *c, int64_t chat, int64_t id, int64_t now,
                         parley_error *err);
/* The peer read our messages up to max_id: start their timers. */
int pl_sc_msg_peer_read(parley_client *c, int64_t chat, int64_t max_id, int64_t now,
                        parley_error *err);
/* Deletes every message whose destroy time has come, then scrubs the journal. *n destroyed. */
int pl_sc_sweep(parley_client *c, int64_t now, size_t *n, parley_error *err);
/* TRUNCATE checkpoint / journal scrub after deleting secret rows. */
void pl_sc_scrub(parley_client *c);

/* ---- api_secret.c (hooks) ---------------------------------------------------------------- */

/* After register/login: make and publish this device's keys (errors are not fatal). */
void pl_sc_on_new_session(parley_client *c);
/* Sends the read notice for what parley_next_update has returned (also at close). */
void pl_sc_flush_reads(parley_client *c);
/* parley_next_update: processes pending envelopes and timers, returns one queued update
 * (NULL if none). Never fails: problems are retried at the next call. */
parley_update *pl_sc_next_update(parley_client *c);
/* For api_secret_sas.c: a loaded chat that can send (open store, not closed, no key change);
 * one control payload (no stored message) encrypted, committed with ch's row, then sent;
 * an update queued for parley_next_update (taken over). */
int pl_sc_sendable_chat(parley_client *c, int64_t id, pl_sc_chat *ch, parley_error *err);
int pl_sc_send_control(parley_client *c, pl_sc_chat *ch, int type, const void *body,
                       size_t len, parley_error *err);
void pl_sc_queue(parley_client *c, parley_update *u);

/* ---- api_secret_sas.c -------------------------------------------------------------------- */

/* Inner payload types of the verification (api_secret.c's P_* continue with these). */
enum { P_SAS_START = 8, P_SAS_KEY, P_SAS_REVEAL, P_SAS_MAC, P_SAS_CANCEL };
#define P_SAS_FIRST P_SAS_START
#define P_SAS_LAST P_SAS_CANCEL
/* Exact body length of a verification payload type (vid || 32 bytes, or vid || code). */
size_t pl_sas_body_len(int type);
/* An incoming verification payload for ch (inside the caller's transaction; may set
 * ch->verified). Fills fx; nothing changes until pl_sas_apply. */
void pl_sas_on_payload(parley_client *c, pl_sc_chat *ch, int type, const uint8_t *body,
                       size_t len, pl_sas_effect *fx);
/* The same as a pure step (unit tests): cur is the run before, fx gets the run after. */
void pl_sas_step(const pl_sas_run *cur, pl_sc_chat *ch, int type, const uint8_t *body,
                 size_t len, int64_t now_ms, pl_sas_effect *fx);
/* The local steps, pure: r and the body to send (PL_SAS_BODY bytes). start: a new run as the
 * starter on ch; accept: r (REQUESTED) gets its ephemeral key; confirm: r (SHOW) gets
 * CONFIRMED, or DONE with ch->verified = 1 if the peer's MAC verified already. -1 on a
 * crypto failure (r wiped for start). */
#define PL_SAS_BODY (SC_SAS_VID + 32)
int pl_sas_make_start(const pl_sc_chat *ch, int64_t now_ms, pl_sas_run *r,
                      uint8_t body[PL_SAS_BODY]);
void pl_sas_make_accept(pl_sas_run *r, uint8_t body[PL_SAS_BODY]);
int pl_sas_make_confirm(pl_sas_run *r, pl_sc_chat *ch, uint8_t body[PL_SAS_BODY]);
/* After the commit: replaces the run, sends the reply on ch, queues the update. */
void pl_sas_apply(parley_client *c, pl_sc_chat *ch, pl_sas_effect *fx);
void pl_sas_effect_wipe(pl_sas_effect *fx);
/* Cancels a run whose deadline passed (tells the peer). From pl_sc_next_update. */
void pl_sas_tick(parley_client *c);
/* Wipes the run (pl_sc_free). */
void pl_sas_wipe(pl_sas_run *r);

#endif
