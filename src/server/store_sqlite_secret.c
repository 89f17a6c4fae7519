/*
 * store_sqlite_secret.c: secret chats in the SQLite store backend: device prekeys, the
 * per-device envelope inbox and its acknowledgement (contract in store_secret.h, tables
 * and SQL in store_sqlite_secret.h).
 *
 * The store never interprets a key or an envelope: keys are fixed-size byte strings whose
 * lengths the caller has checked, envelopes opaque bytes. An envelope is kept encrypted at
 * rest under a fresh key in msg_keys exactly like message text (store_sqlite.c explains
 * why: the key row is zeroed in place when the envelope row goes, by trigger), so that an
 * acknowledged envelope leaves no readable bytes once store_scrub() ran.
 *
 * Every mutating function runs in its own savepoint (mut_begin/mut_end), so a failure
 * half-way (a repeated prekey id, a cap reached) leaves the database unchanged.
 */
#include "store_sqlite.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ENV_KEY_BYTES crypto_stream_xchacha20_KEYBYTES

/* The zero nonce bytes_seal encrypts with: each key seals exactly one envelope. */
static const unsigned char env_nonce[crypto_stream_xchacha20_NONCEBYTES];

/* ---- small helpers ------------------------------------------------------------------------ */

static int blob_copy(sqlite3_stmt *st, int col, uint8_t *dst, size_t len)
{
    const void *b = sqlite3_column_blob(st, col);
    if (!b || (size_t)sqlite3_column_bytes(st, col) != len) return -1;
    memcpy(dst, b, len);
    return 0;
}

/* The user owning session `device`; NO_SESSION if it ended. */
static store_rc session_owner(store *s, int64_t device, int64_t *user)
{
    sqlite3_stmt *st = sq_get(s, Q_SK_SESSION);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && user) *user = sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_ERR_NO_SESSION
                                                          : STORE_ERR_INTERNAL;
}

static store_rc otk_count(store *s, int64_t device, uint32_t *n)
{
    sqlite3_stmt *st = sq_get(s, Q_OTK_COUNT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = (uint32_t)sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_ERR_INTERNAL;
}

/* 1 = the device has keys and *identity is set, 0 = none, -1 = error. */
static int identity_of(store *s, int64_t device, uint8_t identity[STORE_KEY_BYTES])
{
    sqlite3_stmt *st = sq_get(s, Q_SK_GET);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st), r = -1;
    if (rc == SQLITE_ROW) r = blob_copy(st, 0, identity, STORE_KEY_BYTES) == 0 ? 1 : -1;
    else if (rc == SQLITE_DONE) r = 0;
    sq_done(st);
    return r;
}

/* ---- publishing ---------------------------------------------------------------------------- */

static store_rc spk_write(store *s, int q, int64_t device, const uint8_t *identity,
                          const store_spk *spk, int64_t now)
{
    sqlite3_stmt *st = sq_get(s, q);
    if (!st) return STORE_ERR_INTERNAL;
    int i = 1;
    sqlite3_bind_int64(st, i++, device);
    if (q == Q_SK_INSERT) sqlite3_bind_blob(st, i++, identity, STORE_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, spk->id);
    sqlite3_bind_blob(st, i++, spk->pub, STORE_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, i++, spk->sig, STORE_SIG_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, i, now);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

static store_rc otks_add(store *s, int64_t device, const store_otk *otks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = sq_get(s, Q_OTK_INSERT);
        if (!st) return STORE_ERR_INTERNAL;
        sqlite3_bind_int64(st, 1, device);
        sqlite3_bind_int64(st, 2, otks[i].id);
        sqlite3_bind_blob(st, 3, otks[i].pub, STORE_KEY_BYTES, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sq_done(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) return STORE_ERR_INVALID;
        if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

static store_rc publish(store *s, int64_t device, const uint8_t *identity, const store_spk *spk,
                        const store_otk *otks, size_t n, int64_t now, uint32_t *remaining)
{
    store_rc r = session_owner(s, device, NULL);
    if (r != STORE_OK) return r;
    uint8_t have[STORE_KEY_BYTES];
    int known = identity_of(s, device, have);
    if (known < 0) return STORE_ERR_INTERNAL;
    if (known && sodium_memcmp(have, identity, STORE_KEY_BYTES) != 0) return STORE_ERR_FORBIDDEN;
    if (!known && !spk) return STORE_ERR_INVALID;
    if (spk) r = spk_write(s, known ? Q_SK_SET_SPK : Q_SK_INSERT, device, identity, spk, now);
    uint32_t stored = 0;
    if (r == STORE_OK) r = otk_count(s, device, &stored);
    if (r == STORE_OK && stored + n > STORE_SECRET_MAX_OTK) r = STORE_ERR_LIMIT;
    if (r == STORE_OK) r = otks_add(s, device, otks, n);
    if (r == STORE_OK) *remaining = stored + (uint32_t)n;
    return r;
}

store_rc store_prekeys_publish(store *s, int64_t device, const uint8_t identity[STORE_KEY_BYTES],
                               const store_spk *spk, const store_otk *otks, size_t n,
                               int64_t now, uint32_t *remaining)
{
    *remaining = 0;
    if (!identity || (n && !otks)) return STORE_ERR_INVALID;
    size_t mark;
    if (mut_begin(s, NULL, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    return mut_end(s, publish(s, device, identity, spk, otks, n, now, remaining), NULL, mark);
}

store_rc store_prekey_status(store *s, int64_t device, uint32_t *remaining, int *published)
{
    *remaining = 0;
    *published = 0;
    uint8_t id[STORE_KEY_BYTES];
    int known = identity_of(s, device, id);
    if (known < 0) return STORE_ERR_INTERNAL;
    *published = known;
    return otk_count(s, device, remaining);
}

/* ---- a device's identity key (RegisterDeviceKey) ------------------------------------------- */

store_rc store_device_key_get(store *s, int64_t device, uint8_t key[STORE_KEY_BYTES], int *has)
{
    *has = 0;
    sqlite3_stmt *st = sq_get(s, Q_DK_GET);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_ERR_NO_SESSION : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        r = STORE_OK;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            if (blob_copy(st, 0, key, STORE_KEY_BYTES) == 0) *has = 1;
            else r = STORE_ERR_INTERNAL;
        }
    }
    sq_done(st);
    return r;
}

static store_rc device_key_bind(store *s, int64_t device, const uint8_t key[STORE_KEY_BYTES])
{
    uint8_t have[STORE_KEY_BYTES];
    int has;
    store_rc r = store_device_key_get(s, device, have, &has);
    if (r != STORE_OK) return r;
    if (has) return sodium_memcmp(have, key, STORE_KEY_BYTES) == 0 ? STORE_OK : STORE_ERR_FORBIDDEN;
    sqlite3_stmt *st = sq_get(s, Q_DK_SET);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    sqlite3_bind_blob(st, 2, key, STORE_KEY_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_device_key_set(store *s, int64_t device, const uint8_t key[STORE_KEY_BYTES])
{
    size_t mark;
    if (mut_begin(s, NULL, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    return mut_end(s, device_key_bind(s, device, key), NULL, mark);
}

/* ---- devices and bundles ------------------------------------------------------------------- */

store_rc store_devices_list(store *s, int64_t user_id, store_device **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    uint64_t pts;
    store_rc r = current_pts(s, user_id, &pts);          /* NO_USER for unknown users */
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_DEV_LIST);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    store_device *v = NULL;
    size_t k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_device *nv = realloc(v, (k + 1) * sizeof *v);
        if (!nv) break;
        v = nv;
        store_device *d = &v[k];
        memset(d, 0, sizeof *d);
        d->user_id = user_id;
        d->device_id = sqlite3_column_int64(st, 0);
        d->last_active = sqlite3_column_int64(st, 2);
        if (!(d->name = sq_strdup_col(st, 1))) break;
        k++;
        if (blob_copy(st, 3, d->identity, STORE_KEY_BYTES)) break;
    }
    sq_done(st);
    if (rc != SQLITE_DONE) {
        store_devices_free(v, k);
        return STORE_ERR_INTERNAL;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}

static store_rc newest_device(store *s, int64_t user_id, int64_t *device)
{
    sqlite3_stmt *st = sq_get(s, Q_DEV_NEWEST);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *device = sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_ERR_NO_SESSION
                                                          : STORE_ERR_INTERNAL;
}

/* The device's keys (and pending counters) if it is user_id's and has keys. */
static store_rc device_get(store *s, int64_t user_id, int64_t device, store_bundle *b,
                           uint64_t *pending_n, uint64_t *pending_bytes)
{
    sqlite3_stmt *st = sq_get(s, Q_DEV_GET);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, device);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_ERR_NO_SESSION : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        b->user_id = user_id;
        b->device_id = device;
        b->spk.id = (uint32_t)sqlite3_column_int64(st, 1);
        if (pending_n) *pending_n = (uint64_t)sqlite3_column_int64(st, 4);
        if (pending_bytes) *pending_bytes = (uint64_t)sqlite3_column_int64(st, 5);
        r = blob_copy(st, 0, b->identity, STORE_KEY_BYTES) == 0 &&
                    blob_copy(st, 2, b->spk.pub, STORE_KEY_BYTES) == 0 &&
                    blob_copy(st, 3, b->spk.sig, STORE_SIG_BYTES) == 0
                ? STORE_OK : STORE_ERR_INTERNAL;
    }
    sq_done(st);
    return r;
}

static store_rc otk_take(store *s, int64_t device, store_bundle *b)
{
    sqlite3_stmt *st = sq_get(s, Q_OTK_TAKE);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st);
    store_rc r = STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        b->otk.id = (uint32_t)sqlite3_column_int64(st, 0);
        if (blob_copy(st, 1, b->otk.pub, STORE_KEY_BYTES) == 0) {
            b->has_otk = 1;
            r = STORE_OK;
        }
        rc = sqlite3_step(st);                 /* finish the DELETE ... RETURNING */
        if (rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
    } else if (rc == SQLITE_DONE) {
        r = STORE_OK;                          /* none left */
    }
    sq_done(st);
    return r;
}

/* 1 if another one-time prekey of device may be handed out in now's hour (and counts it),
 * 0 if the hour's allowance is spent, -1 on error. */
static int otk_allowance(store *s, int64_t device, int64_t now, uint32_t per_hour)
{
    if (per_hour == 0) return 1;
    sqlite3_stmt *st = sq_get(s, Q_OTK_GIVEN_GET);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, device);
    int rc = sqlite3_step(st);
    int64_t hour = now / 3600, given = 0;
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == hour)
        given = sqlite3_column_int64(st, 1);
    sq_done(st);
    if (rc != SQLITE_ROW) return -1;
    if (given >= per_hour) return 0;
    if (!(st = sq_get(s, Q_OTK_GIVEN_SET))) return -1;
    sqlite3_bind_int64(st, 1, device);
    sqlite3_bind_int64(st, 2, hour);
    sqlite3_bind_int64(st, 3, given + 1);
    rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? 1 : -1;
}

static store_rc bundle_take(store *s, int64_t user_id, int64_t device, int64_t now,
                            uint32_t otk_per_hour, store_bundle *out)
{
    uint64_t pts;
    store_rc r = current_pts(s, user_id, &pts);
    if (r == STORE_OK && device == 0) r = newest_device(s, user_id, &device);
    if (r == STORE_OK) r = device_get(s, user_id, device, out, NULL, NULL);
    if (r != STORE_OK) return r;
    uint32_t left = 0;
    if ((r = otk_count(s, device, &left)) != STORE_OK || left == 0) return r;
    int may = otk_allowance(s, device, now, otk_per_hour);
    if (may < 0) return STORE_ERR_INTERNAL;
    return may ? otk_take(s, device, out) : STORE_OK;
}

store_rc store_prekey_bundle_take(store *s, int64_t user_id, int64_t device, int64_t now,
                                  uint32_t otk_per_hour, store_bundle *out)
{
    memset(out, 0, sizeof *out);
    size_t mark;
    if (mut_begin(s, NULL, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = mut_end(s, bundle_take(s, user_id, device, now, otk_per_hour, out), NULL,
                         mark);
    if (r != STORE_OK) memset(out, 0, sizeof *out);
    return r;
}

/* ---- sending ------------------------------------------------------------------------------- */

/* 1 = (from_device, random_id) was sent before (*id, *date set), 0 = new, -1 = error. */
static int sent_before(store *s, int64_t from_device, uint64_t random_id, uint64_t *id,
                       int64_t *date)
{
    sqlite3_stmt *st = sq_get(s, Q_SENT_GET);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, from_device);
    sqlite3_bind_int64(st, 2, (int64_t)random_id);
    int rc = sqlite3_step(st), r = -1;
    if (rc == SQLITE_ROW) {
        *id = (uint64_t)sqlite3_column_int64(st, 0);
        *date = sqlite3_column_int64(st, 1);
        r = 1;
    } else if (rc == SQLITE_DONE) {
        r = 0;
    }
    sq_done(st);
    return r;
}

typedef struct {
    int64_t from_user, from_device, to_device;
    uint64_t secret_chat, random_id;
    const uint8_t *env;
    size_t len;
    int64_t now;
} send_args;

static store_rc envelope_insert(store *s, const send_args *a, uint64_t *id)
{
    int64_t key_id = 0;
    unsigned char *body = NULL;
    store_rc r = bytes_seal(s, a->env, a->len, &key_id, &body);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_ENV_INSERT);
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, a->to_device);
        sqlite3_bind_int64(st, 2, a->from_user);
        sqlite3_bind_int64(st, 3, a->from_device);
        sqlite3_bind_int64(st, 4, (int64_t)a->secret_chat);
        sqlite3_bind_int64(st, 5, (int64_t)a->random_id);
        sqlite3_bind_int64(st, 6, (int64_t)a->len);
        sqlite3_bind_int64(st, 7, a->now);
        sqlite3_bind_int64(st, 8, key_id);
        sqlite3_bind_blob64(st, 9, body, a->len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sq_done(st);
        sqlite3_clear_bindings(st);           /* body is freed next */
    }
    free(body);
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    *id = (uint64_t)sqlite3_last_insert_rowid(s->db);
    st = sq_get(s, Q_SENT_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, a->from_device);
    sqlite3_bind_int64(st, 2, (int64_t)a->random_id);
    sqlite3_bind_int64(st, 3, (int64_t)*id);
    sqlite3_bind_int64(st, 4, a->now);
    rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    st = sq_get(s, Q_SENT_PRUNE);              /* forget sends older than the window */
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, a->now - SECRET_SENT_KEEP);
    rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

/* STORE_OK if from_user's share of to_device's inbox takes len more bytes, else LIMIT. */
static store_rc share_check(store *s, const send_args *a, const store_secret_caps *caps)
{
    if (!caps->sender_max_count && !caps->sender_max_bytes) return STORE_OK;
    sqlite3_stmt *st = sq_get(s, Q_ENV_SENDER);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, a->to_device);
    sqlite3_bind_int64(st, 2, a->from_user);
    int rc = sqlite3_step(st);
    uint64_t n = 0, bytes = 0;
    if (rc == SQLITE_ROW) {
        n = (uint64_t)sqlite3_column_int64(st, 0);
        bytes = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sq_done(st);
    if (rc != SQLITE_ROW) return STORE_ERR_INTERNAL;
    if (caps->sender_max_count && n + 1 > caps->sender_max_count) return STORE_ERR_LIMIT;
    if (caps->sender_max_bytes && bytes + a->len > caps->sender_max_bytes) return STORE_ERR_LIMIT;
    return STORE_OK;
}

static store_rc secret_send(store *s, const send_args *a, int64_t to_user,
                            const store_secret_caps *caps, uint64_t *id, int64_t *date,
                            int *duplicate, int *share_full)
{
    int seen = sent_before(s, a->from_device, a->random_id, id, date);
    if (seen < 0) return STORE_ERR_INTERNAL;
    if (seen) {
        *duplicate = 1;
        return STORE_OK;
    }
    if (a->to_device == a->from_device) return STORE_ERR_NO_SESSION;
    store_rc r = session_owner(s, a->from_device, NULL);
    if (r != STORE_OK) return r == STORE_ERR_NO_SESSION ? STORE_ERR_INVALID : r;
    store_bundle b;
    uint64_t pending_n = 0, pending_bytes = 0;
    r = device_get(s, to_user, a->to_device, &b, &pending_n, &pending_bytes);
    if (r != STORE_OK) return r;
    r = share_check(s, a, caps);
    if (r == STORE_ERR_LIMIT) *share_full = 1;
    if (r != STORE_OK) return r;
    if (pending_n + 1 > caps->max_count || pending_bytes + a->len > caps->max_bytes)
        return STORE_ERR_LIMIT;
    r = envelope_insert(s, a, id);
    if (r == STORE_OK) *date = a->now;
    return r;
}

store_rc store_secret_send(store *s, int64_t from_user, int64_t from_device, int64_t to_user,
                           int64_t to_device, uint64_t secret_chat, const uint8_t *envelope,
                           size_t len, uint64_t random_id, int64_t now,
                           const store_secret_caps *caps, uint64_t *id, int64_t *date,
                           int *duplicate, int *share_full)
{
    int share_dummy;
    if (!share_full) share_full = &share_dummy;
    *id = 0;
    *date = 0;
    *duplicate = 0;
    *share_full = 0;
    if (!envelope || len == 0 || !caps) return STORE_ERR_INVALID;
    send_args a = {
        .from_user = from_user, .from_device = from_device, .to_device = to_device,
        .secret_chat = secret_chat, .random_id = random_id, .env = envelope, .len = len,
        .now = now,
    };
    size_t mark;
    if (mut_begin(s, NULL, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    return mut_end(s, secret_send(s, &a, to_user, caps, id, date, duplicate, share_full),
                   NULL, mark);
}

/* ---- inbox and acknowledgement ------------------------------------------------------------- */

/* Reads one row of Q_ENV_INBOX into e (decrypting the envelope). */
static store_rc envelope_from_row(sqlite3_stmt *st, store_envelope *e)
{
    e->id = (uint64_t)sqlite3_column_int64(st, 0);
    e->from_user = sqlite3_column_int64(st, 1);
    e->from_device = sqlite3_column_int64(st, 3);
    e->secret_chat = (uint64_t)sqlite3_column_int64(st, 4);
    e->date = sqlite3_column_int64(st, 5);
    if (!(e->from_username = sq_strdup_col(st, 2))) return STORE_ERR_INTERNAL;
    const unsigned char *c = sqlite3_column_blob(st, 6);
    size_t len = (size_t)sqlite3_column_bytes(st, 6);
    const unsigned char *key = sqlite3_column_blob(st, 7);
    if (!c || len == 0 || !key || (size_t)sqlite3_column_bytes(st, 7) != ENV_KEY_BYTES)
        return STORE_ERR_INTERNAL;
    if (!(e->envelope = malloc(len))) return STORE_ERR_INTERNAL;
    crypto_stream_xchacha20_xor(e->envelope, c, len, env_nonce, key);
    e->len = len;
    return STORE_OK;
}

store_rc store_secret_inbox(store *s, int64_t device, uint64_t after_id, uint32_t limit,
                            size_t max_bytes, store_envelope **out, size_t *n, int *more)
{
    *out = NULL;
    *n = 0;
    *more = 0;
    if (limit == 0) return STORE_ERR_INVALID;
    sqlite3_stmt *st = sq_get(s, Q_ENV_INBOX);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, device);
    sqlite3_bind_int64(st, 2, (int64_t)after_id);
    sqlite3_bind_int64(st, 3, (int64_t)limit + 1);     /* one more tells whether more remain */
    store_envelope *v = calloc(limit, sizeof *v);
    size_t k = 0, bytes = 0;
    store_rc r = v ? STORE_OK : STORE_ERR_INTERNAL;
    int rc = SQLITE_DONE;
    while (r == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 6);
        if (k == limit || (k > 0 && bytes + len > max_bytes)) {
            *more = 1;
            break;
        }
        r = envelope_from_row(st, &v[k]);
        k++;
        bytes += len;
    }
    if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
    sq_done(st);
    if (r != STORE_OK) {
        store_envelopes_free(v, k);
        return r;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}

static store_rc ack(store *s, int64_t device, const uint64_t *ids, size_t n, uint64_t *done,
                    size_t *n_done)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = sq_get(s, Q_ENV_ACK);
        if (!st) return STORE_ERR_INTERNAL;
        sqlite3_bind_int64(st, 1, (int64_t)ids[i]);
        sqlite3_bind_int64(st, 2, device);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
        if (sqlite3_changes(s->db) > 0) done[(*n_done)++] = ids[i];
    }
    return STORE_OK;
}

store_rc store_secret_ack(store *s, int64_t device, const uint64_t *ids, size_t n,
                          uint64_t **deleted, size_t *n_deleted)
{
    *deleted = NULL;
    *n_deleted = 0;
    uint64_t *done = malloc((n ? n : 1) * sizeof *done);
    if (!done) return STORE_ERR_INTERNAL;
    size_t k = 0, mark;
    store_rc r = mut_begin(s, NULL, &mark);
    if (r == STORE_OK) r = mut_end(s, ack(s, device, ids, n, done, &k), NULL, mark);
    if (r != STORE_OK) {
        free(done);
        return r;
    }
    *deleted = done;
    *n_deleted = k;
    return STORE_OK;
}

/* ---- expiry ------------------------------------------------------------------------------- */

store_rc store_secret_expire(store *s, int64_t before, size_t max, size_t *n_expired)
{
    *n_expired = 0;
    if (max == 0) return STORE_OK;
    size_t mark;
    if (mut_begin(s, NULL, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    sqlite3_stmt *st = sq_get(s, Q_ENV_EXPIRE);
    store_rc r = STORE_ERR_INTERNAL;
    size_t n = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, before);
        sqlite3_bind_int64(st, 2, (int64_t)max);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc == SQLITE_DONE) {
            r = STORE_OK;
            n = (size_t)sqlite3_changes(s->db);
        }
    }
    r = mut_end(s, r, NULL, mark);
    if (r == STORE_OK) *n_expired = n;
    return r;
}

/* ---- freeing ------------------------------------------------------------------------------- */

void store_devices_free(store_device *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

void store_envelopes_free(store_envelope *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].from_username);
        if (v[i].envelope) sodium_memzero(v[i].envelope, v[i].len);
        free(v[i].envelope);
    }
    free(v);
}
