/*
 * secret_store.c: the sc_* tables of the profile database and the sealing of their secret
 * columns (see secret_store.h for the threat model and ownership). Callers group writes in
 * pl_sc_begin/pl_sc_commit so a ratchet state is always durable together with the message
 * that moved it; the functions here never open transactions of their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "secret_store.h"

#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_MAX 48

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS sc_device(k INTEGER PRIMARY KEY CHECK (k = 1),"
    " device_id INTEGER NOT NULL, next_otk INTEGER NOT NULL, sealed BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sc_otk(id INTEGER PRIMARY KEY, sealed BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sc_chats(id INTEGER PRIMARY KEY, peer_user INTEGER NOT NULL,"
    " peer_name TEXT NOT NULL, peer_device INTEGER NOT NULL, peer_ik BLOB NOT NULL,"
    " role INTEGER NOT NULL, state INTEGER NOT NULL, timer INTEGER NOT NULL,"
    " verified INTEGER NOT NULL, key_changed INTEGER NOT NULL, created INTEGER NOT NULL,"
    " next_seq INTEGER NOT NULL, session BLOB);"
    "CREATE TABLE IF NOT EXISTS sc_messages(chat INTEGER NOT NULL, id INTEGER NOT NULL,"
    " outgoing INTEGER NOT NULL, service INTEGER NOT NULL, date INTEGER NOT NULL,"
    " ttl INTEGER NOT NULL, destroy_at INTEGER NOT NULL, shown INTEGER NOT NULL,"
    " sealed BLOB NOT NULL, PRIMARY KEY (chat, id));"
    /* Signed prekey rotation: when the current one was made and whether the server has it
     * yet (sc_spk_state), and the private halves of retired ones for the grace period. */
    "CREATE TABLE IF NOT EXISTS sc_spk_state(k INTEGER PRIMARY KEY CHECK (k = 1),"
    " created INTEGER NOT NULL, pending INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sc_spk_old(id INTEGER PRIMARY KEY, retired INTEGER NOT NULL,"
    " sealed BLOB NOT NULL);"
    "PRAGMA secure_delete = ON;";

static int db_fail(parley_client *c, parley_error *err, const char *what)
{
    return pl_err(err, PARLEY_E_PROFILE, "secret store: %s: %s", what,
                  sqlite3_errmsg(c->prof.db));
}

/* Reads <profile>/secret.key, creating it (O_EXCL, 0600) with random bytes if missing. */
static int load_key(const char *dir, uint8_t key[32], parley_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/secret.key", dir) >= (int)sizeof path)
        return pl_err(err, PARLEY_E_PROFILE, "profile path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            randombytes_buf(key, 32);
            int ok = write(fd, key, 32) == 32 && fsync(fd) == 0;
            close(fd);
            if (ok)
                return 0;
            unlink(path);
            sodium_memzero(key, 32);
            return pl_err(err, PARLEY_E_PROFILE, "cannot write %s", path);
        }
        if (errno == EEXIST)   /* another process made it just now */
            fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return pl_err(err, PARLEY_E_PROFILE, "cannot open %s: %s", path, strerror(errno));
    ssize_t got = read(fd, key, 32);
    close(fd);
    if (got != 32) {
        sodium_memzero(key, 32);
        return pl_err(err, PARLEY_E_PROFILE, "%s is not a 32-byte key", path);
    }
    return 0;
}

int pl_sc_get(parley_client *c, pl_sc **out, parley_error *err)
{
    if (c->sc) {
        *out = c->sc;
        return 0;
    }
    if (!c->prof.db)
        return pl_err(err, PARLEY_E_PROFILE, "secret chats need a profile on disk");
    if (sc_init() != 0)
        return pl_err(err, PARLEY_E_INTERNAL, "libsodium failed to initialise");
    pl_sc *s = calloc(1, sizeof *s);
    if (!s)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    int rc = load_key(c->prof.dir, s->key, err);
    if (rc == 0 && sqlite3_exec(c->prof.db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(c, err, "cannot create tables");
    if (rc < 0) {
        sodium_memzero(s->key, sizeof s->key);
        free(s);
        return rc;
    }
    c->sc = s;
    *out = s;
    return 0;
}

void pl_sc_free(parley_client *c)
{
    pl_sc *s = c->sc;
    if (!s)
        return;
    for (size_t i = s->q_pos; i < s->q_len; i++)
        parley_update_free(s->q[i]);
    free(s->q);
    sodium_memzero(s->key, sizeof s->key);
    pl_sas_wipe(&s->sas);
    free(s);
    c->sc = NULL;
}

void pl_sc_wipe_device(parley_client *c)
{
    pl_sc *s;
    if (!c->prof.db || pl_sc_get(c, &s, NULL) < 0)
        return;
    sqlite3_exec(c->prof.db, "BEGIN IMMEDIATE; DELETE FROM sc_otk; DELETE FROM sc_messages;"
                 " DELETE FROM sc_chats; DELETE FROM sc_device; DELETE FROM sc_spk_old;"
                 " DELETE FROM sc_spk_state; COMMIT", NULL, NULL, NULL);
    pl_sc_scrub(c);
    s->keys_ok = 0;
}

int pl_sc_begin(parley_client *c, parley_error *err)
{
    if (sqlite3_exec(c->prof.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot begin");
    return 0;
}

int pl_sc_commit(parley_client *c, parley_error *err)
{
    if (sqlite3_exec(c->prof.db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    int rc = db_fail(c, err, "cannot commit");
    pl_sc_rollback(c);
    return rc;
}

void pl_sc_rollback(parley_client *c)
{
    sqlite3_exec(c->prof.db, "ROLLBACK", NULL, NULL, NULL);
}

void pl_sc_scrub(parley_client *c)
{
    /* In WAL mode this empties the WAL; in rollback-journal mode it is a no-op and the
     * journal is deleted at each commit (its pages are ciphertext only). */
    sqlite3_wal_checkpoint_v2(c->prof.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* ---- sealing ----------------------------------------------------------------------------- */

static size_t make_ad(uint8_t ad[AD_MAX], const char *label, int64_t a, int64_t b)
{
    size_t n = strlen(label);
    memcpy(ad, label, n);
    sc_put64(ad + n, (uint64_t)a);
    sc_put64(ad + n + 8, (uint64_t)b);
    return n + 16;
}

/* nonce || ciphertext || tag, malloc'd. */
static int seal(parley_client *c, const char *label, int64_t a, int64_t b, const void *pt,
                size_t len, uint8_t **out, size_t *out_len, parley_error *err)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = make_ad(ad, label, a, b);
    uint8_t *buf = malloc(SEAL_NONCE + len + SEAL_TAG);
    if (!buf)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    randombytes_buf(buf, SEAL_NONCE);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + SEAL_NONCE, &clen, pt, len, ad, ad_len,
                                               NULL, buf, c->sc->key);
    *out = buf;
    *out_len = SEAL_NONCE + (size_t)clen;
    return 0;
}

/* Opens a sealed column into a new buffer (len + 1 bytes, NUL-terminated); the caller
 * wipes and frees it. */
static int unseal(parley_client *c, const char *label, int64_t a, int64_t b, const void *in,
                  size_t len, uint8_t **out, size_t *out_len, parley_error *err)
{
    if (!in || len < SEAL_NONCE + SEAL_TAG)
        return pl_err(err, PARLEY_E_PROFILE, "secret store: damaged %s", label);
    uint8_t ad[AD_MAX];
    size_t ad_len = make_ad(ad, label, a, b);
    size_t n = len - SEAL_NONCE - SEAL_TAG;
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    unsigned long long plen;
    const uint8_t *p = in;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &plen, NULL, p + SEAL_NONCE,
                                                   len - SEAL_NONCE, ad, ad_len, p,
                                                   c->sc->key) != 0) {
        free(buf);
        return pl_err(err, PARLEY_E_PROFILE, "secret store: %s does not open (wrong "
                      "secret.key or tampered database)", label);
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return 0;
}

static void wipe_free(void *p, size_t n)
{
    if (p) {
        sodium_memzero(p, n);
        free(p);
    }
}

/* Prepares sql or fails; the statement is finalized by the caller. */
static int prep(parley_client *c, const char *sql, sqlite3_stmt **st, parley_error *err)
{
    if (sqlite3_prepare_v2(c->prof.db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot prepare");
    return 0;
}

static int step_done(parley_client *c, sqlite3_stmt *st, parley_error *err)
{
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : db_fail(c, err, "cannot write");
}

/* ---- device keys ------------------------------------------------------------------------- */

typedef struct {
    sc_identity ik;
    sc_signed_prekey spk;
} device_secrets;

int pl_sc_keys_load(parley_client *c, int64_t device_id, sc_identity *ik,
                    sc_signed_prekey *spk, uint32_t *next_otk, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT device_id, next_otk, sealed FROM sc_device WHERE k = 1", &st, err);
    if (rc < 0)
        return rc;
    rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == device_id) {
        uint8_t *pt;
        size_t n;
        rc = unseal(c, "sc_device", device_id, 0, sqlite3_column_blob(st, 2),
                    (size_t)sqlite3_column_bytes(st, 2), &pt, &n, err);
        if (rc == 0) {
            if (n == sizeof(device_secrets)) {
                device_secrets d;
                memcpy(&d, pt, sizeof d);
                *ik = d.ik;
                *spk = d.spk;
                sodium_memzero(&d, sizeof d);
                *next_otk = (uint32_t)sqlite3_column_int64(st, 1);
            } else {
                rc = pl_err(err, PARLEY_E_PROFILE, "secret store: damaged device keys");
            }
            wipe_free(pt, n);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int pl_sc_keys_store(parley_client *c, int64_t device_id, const sc_identity *ik,
                     const sc_signed_prekey *spk, uint32_t next_otk, parley_error *err)
{
    device_secrets d = {*ik, *spk};
    uint8_t *sealed;
    size_t n;
    int rc = seal(c, "sc_device", device_id, 0, &d, sizeof d, &sealed, &n, err);
    sodium_memzero(&d, sizeof d);
    if (rc < 0)
        return rc;
    if (sqlite3_exec(c->prof.db, "DELETE FROM sc_otk; DELETE FROM sc_messages;"
                     " DELETE FROM sc_chats; DELETE FROM sc_device; DELETE FROM sc_spk_old;"
                     " DELETE FROM sc_spk_state", NULL, NULL, NULL)
        != SQLITE_OK) {
        free(sealed);
        return db_fail(c, err, "cannot reset");
    }
    sqlite3_stmt *st;
    if ((rc = prep(c, "INSERT INTO sc_device(k, device_id, next_otk, sealed) VALUES (1,?,?,?)",
                   &st, err)) < 0) {
        free(sealed);
        return rc;
    }
    sqlite3_bind_int64(st, 1, device_id);
    sqlite3_bind_int64(st, 2, next_otk);
    sqlite3_bind_blob(st, 3, sealed, (int)n, SQLITE_STATIC);
    rc = step_done(c, st, err);
    free(sealed);
    return rc;
}

/* ---- signed prekey rotation ----------------------------------------------------------------- */

int pl_sc_spk_state(parley_client *c, int64_t *created, int *pending, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT created, pending FROM sc_spk_state WHERE k = 1", &st, err);
    if (rc < 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *created = sqlite3_column_int64(st, 0);
        *pending = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return db_fail(c, err, "cannot read");
    return s == SQLITE_ROW ? 0 : 1;
}

int pl_sc_spk_state_set(parley_client *c, int64_t created, int pending, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "INSERT OR REPLACE INTO sc_spk_state(k, created, pending) VALUES (1,?,?)",
                  &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, created);
    sqlite3_bind_int(st, 2, pending != 0);
    return step_done(c, st, err);
}

static int spk_old_add(parley_client *c, const sc_signed_prekey *old, int64_t now,
                       parley_error *err)
{
    uint8_t *sealed;
    size_t n;
    int rc = seal(c, "sc_spk_old", old->id, 0, old, sizeof *old, &sealed, &n, err);
    sqlite3_stmt *st;
    if (rc < 0)
        return rc;
    if ((rc = prep(c, "INSERT OR REPLACE INTO sc_spk_old(id, retired, sealed) VALUES (?,?,?)",
                   &st, err)) < 0) {
        free(sealed);
        return rc;
    }
    sqlite3_bind_int64(st, 1, old->id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_blob(st, 3, sealed, (int)n, SQLITE_STATIC);
    rc = step_done(c, st, err);
    free(sealed);
    return rc;
}

int pl_sc_spk_rotate(parley_client *c, int64_t device_id, const sc_identity *ik,
                     const sc_signed_prekey *old, const sc_signed_prekey *next, int64_t now,
                     int64_t grace, parley_error *err)
{
    device_secrets d = {*ik, *next};
    uint8_t *sealed;
    size_t n;
    int rc = seal(c, "sc_device", device_id, 0, &d, sizeof d, &sealed, &n, err);
    sodium_memzero(&d, sizeof d);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    if ((rc = prep(c, "UPDATE sc_device SET sealed = ? WHERE k = 1", &st, err)) == 0) {
        sqlite3_bind_blob(st, 1, sealed, (int)n, SQLITE_STATIC);
        rc = step_done(c, st, err);
    }
    free(sealed);
    if (rc == 0)
        rc = spk_old_add(c, old, now, err);
    if (rc == 0)
        rc = pl_sc_spk_forget(c, now - grace, err);
    if (rc == 0)
        rc = pl_sc_spk_state_set(c, now, 1, err);
    return rc;
}

int pl_sc_spk_forget(parley_client *c, int64_t retired_before, parley_error *err)
{
    /* Read first: this runs on every secret call, and a DELETE would take the profile's
     * write lock each time even with nothing to delete. */
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT 1 FROM sc_spk_old WHERE retired < ? LIMIT 1", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, retired_before);
    int due = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!due)
        return 0;
    if ((rc = prep(c, "DELETE FROM sc_spk_old WHERE retired < ?", &st, err)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, retired_before);
    return step_done(c, st, err);
}

int pl_sc_spk_old_load(parley_client *c, uint32_t id, sc_signed_prekey *out, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT sealed FROM sc_spk_old WHERE id = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        uint8_t *pt;
        size_t n;
        rc = unseal(c, "sc_spk_old", id, 0, sqlite3_column_blob(st, 0),
                    (size_t)sqlite3_column_bytes(st, 0), &pt, &n, err);
        if (rc == 0) {
            if (n == sizeof *out)
                memcpy(out, pt, sizeof *out);
            else
                rc = pl_err(err, PARLEY_E_PROFILE, "secret store: damaged signed prekey");
            wipe_free(pt, n);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int pl_sc_spk_old_count(parley_client *c)
{
    sqlite3_stmt *st;
    if (prep(c, "SELECT count(*) FROM sc_spk_old", &st, NULL) < 0)
        return -1;
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

int pl_sc_keys_set_next_otk(parley_client *c, uint32_t next_otk, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "UPDATE sc_device SET next_otk = ? WHERE k = 1", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, next_otk);
    return step_done(c, st, err);
}

int pl_sc_otk_store(parley_client *c, const sc_onetime_prekey *v, size_t n, parley_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *sealed;
        size_t len;
        int rc = seal(c, "sc_otk", v[i].id, 0, &v[i], sizeof v[i], &sealed, &len, err);
        if (rc < 0)
            return rc;
        sqlite3_stmt *st;
        if ((rc = prep(c, "INSERT OR REPLACE INTO sc_otk(id, sealed) VALUES (?, ?)", &st,
                       err)) < 0) {
            free(sealed);
            return rc;
        }
        sqlite3_bind_int64(st, 1, v[i].id);
        sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_STATIC);
        rc = step_done(c, st, err);
        free(sealed);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pl_sc_otk_load(parley_client *c, uint32_t id, sc_onetime_prekey *out, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT sealed FROM sc_otk WHERE id = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        uint8_t *pt;
        size_t n;
        rc = unseal(c, "sc_otk", id, 0, sqlite3_column_blob(st, 0),
                    (size_t)sqlite3_column_bytes(st, 0), &pt, &n, err);
        if (rc == 0) {
            if (n == sizeof *out)
                memcpy(out, pt, sizeof *out);
            else
                rc = pl_err(err, PARLEY_E_PROFILE, "secret store: damaged prekey");
            wipe_free(pt, n);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int pl_sc_otk_delete(parley_client *c, uint32_t id, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "DELETE FROM sc_otk WHERE id = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    return step_done(c, st, err);
}

/* ---- chats ------------------------------------------------------------------------------- */

void pl_sc_chat_clear(pl_sc_chat *ch)
{
    free(ch->peer_name);
    sc_session_free(&ch->sess);
    sodium_memzero(ch, sizeof *ch);
}

static int load_session(parley_client *c, pl_sc_chat *ch, const void *blob, size_t len,
                        parley_error *err)
{
    uint8_t *pt;
    size_t n;
    int rc = unseal(c, "sc_session", ch->id, 0, blob, len, &pt, &n, err);
    if (rc < 0)
        return rc;
    if (sc_session_parse(pt, n, &ch->sess) != 0)
        rc = pl_err(err, PARLEY_E_PROFILE, "secret store: damaged session of chat %lld",
                    (long long)ch->id);
    else
        ch->has_session = 1;
    wipe_free(pt, n);
    return rc;
}

int pl_sc_chat_load(parley_client *c, int64_t id, int with_session, pl_sc_chat *out,
                    parley_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT peer_user, peer_name, peer_device, peer_ik, role, state, timer,"
                  " verified, key_changed, created, next_seq, session FROM sc_chats"
                  " WHERE id = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return 1;
    }
    out->id = id;
    out->peer_user = sqlite3_column_int64(st, 0);
    const unsigned char *name = sqlite3_column_text(st, 1);
    out->peer_name = pl_strdup(name ? (const char *)name : "");
    out->peer_device = sqlite3_column_int64(st, 2);
    if (sqlite3_column_bytes(st, 3) == SC_KEY)
        memcpy(out->peer_ik, sqlite3_column_blob(st, 3), SC_KEY);
    out->role = sqlite3_column_int(st, 4);
    out->state = sqlite3_column_int(st, 5);
    out->timer = (uint32_t)sqlite3_column_int64(st, 6);
    out->verified = sqlite3_column_int(st, 7);
    out->key_changed = sqlite3_column_int(st, 8);
    out->created = sqlite3_column_int64(st, 9);
    out->next_seq = sqlite3_column_int64(st, 10);
    rc = out->peer_name ? 0 : pl_err(err, PARLEY_E_NOMEM, "out of memory");
    if (rc == 0 && with_session && sqlite3_column_type(st, 11) == SQLITE_BLOB)
        rc = load_session(c, out, sqlite3_column_blob(st, 11),
                          (size_t)sqlite3_column_bytes(st, 11), err);
    sqlite3_finalize(st);
    if (rc < 0)
        pl_sc_chat_clear(out);
    return rc;
}

int pl_sc_chat_save(parley_client *c, const pl_sc_chat *ch, parley_error *err)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int rc = 0;
    if (ch->has_session) {
        size_t n = sc_session_serialized_size(&ch->sess), len;
        uint8_t *buf = malloc(n);
        if (!buf)
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        if (sc_session_serialize(&ch->sess, buf, n, &len) != 0)
            rc = pl_err(err, PARLEY_E_INTERNAL, "cannot serialize a session");
        else
            rc = seal(c, "sc_session", ch->id, 0, buf, len, &sealed, &sealed_len, err);
        wipe_free(buf, n);
        if (rc < 0)
            return rc;
    }
    sqlite3_stmt *st;
    if ((rc = prep(c, "INSERT OR REPLACE INTO sc_chats(id, peer_user, peer_name, peer_device,"
                   " peer_ik, role, state, timer, verified, key_changed, created, next_seq,"
                   " session) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", &st, err)) < 0) {
        free(sealed);
        return rc;
    }
    sqlite3_bind_int64(st, 1, ch->id);
    sqlite3_bind_int64(st, 2, ch->peer_user);
    sqlite3_bind_text(st, 3, ch->peer_name ? ch->peer_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ch->peer_device);
    sqlite3_bind_blob(st, 5, ch->peer_ik, SC_KEY, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, ch->role);
    sqlite3_bind_int(st, 7, ch->state);
    sqlite3_bind_int64(st, 8, ch->timer);
    sqlite3_bind_int(st, 9, ch->verified);
    sqlite3_bind_int(st, 10, ch->key_changed);
    sqlite3_bind_int64(st, 11, ch->created);
    sqlite3_bind_int64(st, 12, ch->next_seq);
    if (sealed)
        sqlite3_bind_blob(st, 13, sealed, (int)sealed_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 13);
    rc = step_done(c, st, err);
    free(sealed);
    return rc;
}

static int ids_query(parley_client *c, sqlite3_stmt *st, int64_t **ids, size_t *n,
                     parley_error *err)
{
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *v = realloc(*ids, cap * sizeof *v);
            if (!v) {
                sqlite3_finalize(st);
                free(*ids);
                *ids = NULL;
                return pl_err(err, PARLEY_E_NOMEM, "out of memory");
            }
            *ids = v;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return db_fail(c, err, "cannot read");
    }
    return 0;
}

int pl_sc_chats_of_peer(parley_client *c, int64_t user, int64_t device, int64_t **ids,
                        size_t *n, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT id FROM sc_chats WHERE peer_user = ? AND peer_device = ?"
                  " AND session IS NOT NULL", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, device);
    return ids_query(c, st, ids, n, err);
}

int pl_sc_chat_ids(parley_client *c, int64_t **ids, size_t *n, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT id FROM sc_chats ORDER BY created DESC, id DESC", &st, err);
    return rc < 0 ? rc : ids_query(c, st, ids, n, err);
}

/* ---- messages ---------------------------------------------------------------------------- */

int pl_sc_msg_insert(parley_client *c, int64_t chat, const pl_sc_msg *m, parley_error *err)
{
    uint8_t *sealed;
    size_t len;
    const char *t = m->text ? m->text : "";
    int rc = seal(c, "sc_message", chat, m->id, t, strlen(t), &sealed, &len, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    if ((rc = prep(c, "INSERT OR IGNORE INTO sc_messages(chat, id, outgoing, service, date,"
                   " ttl, destroy_at, shown, sealed) VALUES (?,?,?,?,?,?,?,?,?)", &st,
                   err)) < 0) {
        free(sealed);
        return rc;
    }
    sqlite3_bind_int64(st, 1, chat);
    sqlite3_bind_int64(st, 2, m->id);
    sqlite3_bind_int(st, 3, m->outgoing);
    sqlite3_bind_int(st, 4, m->service);
    sqlite3_bind_int64(st, 5, m->date);
    sqlite3_bind_int64(st, 6, m->ttl);
    sqlite3_bind_int64(st, 7, m->destroy_at);
    sqlite3_bind_int(st, 8, m->shown);
    sqlite3_bind_blob(st, 9, sealed, (int)len, SQLITE_STATIC);
    rc = step_done(c, st, err);
    free(sealed);
    return rc;
}

int pl_sc_msg_delete(parley_client *c, int64_t chat, int64_t id, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "DELETE FROM sc_messages WHERE chat = ? AND id = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, chat);
    sqlite3_bind_int64(st, 2, id);
    if ((rc = step_done(c, st, err)) < 0)
        return rc;
    return sqlite3_changes(c->prof.db) ? 0 : 1;
}

int pl_sc_msg_delete_all(parley_client *c, int64_t chat, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "DELETE FROM sc_messages WHERE chat = ?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, chat);
    return step_done(c, st, err);
}

void pl_sc_msgs_free(pl_sc_msg *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i].text)
            wipe_free(v[i].text, strlen(v[i].text));
    free(v);
}

int pl_sc_msg_list(parley_client *c, int64_t chat, pl_sc_msg **out, size_t *n,
                   parley_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT id, outgoing, service, date, ttl, destroy_at, shown, sealed"
                  " FROM sc_messages WHERE chat = ? ORDER BY date, id", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, chat);
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            pl_sc_msg *v = calloc(cap, sizeof *v);
            if (!v) {
                rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
                break;
            }
            if (*out)
                memcpy(v, *out, *n * sizeof *v);
            free(*out);
            *out = v;
        }
        pl_sc_msg *m = &(*out)[*n];
        m->id = sqlite3_column_int64(st, 0);
        m->outgoing = sqlite3_column_int(st, 1);
        m->service = sqlite3_column_int(st, 2);
        m->date = sqlite3_column_int64(st, 3);
        m->ttl = (uint32_t)sqlite3_column_int64(st, 4);
        m->destroy_at = sqlite3_column_int64(st, 5);
        m->shown = sqlite3_column_int(st, 6);
        uint8_t *pt;
        size_t len;
        rc = unseal(c, "sc_message", chat, m->id, sqlite3_column_blob(st, 7),
                    (size_t)sqlite3_column_bytes(st, 7), &pt, &len, err);
        if (rc < 0)
            break;
        m->text = (char *)pt;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_fail(c, err, "cannot read");
    if (rc < 0) {
        pl_sc_msgs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int pl_sc_msg_mark_shown(parley_client *c, int64_t chat, int64_t id, int64_t now,
                         parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "UPDATE sc_messages SET shown = 1, destroy_at = CASE WHEN ttl > 0 AND"
                  " destroy_at = 0 THEN ? + ttl ELSE destroy_at END WHERE chat = ? AND"
                  " id <= ? AND outgoing = 0 AND shown = 0", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, chat);
    sqlite3_bind_int64(st, 3, id);
    return step_done(c, st, err);
}

int pl_sc_msg_peer_read(parley_client *c, int64_t chat, int64_t max_id, int64_t now,
                        parley_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(c, "UPDATE sc_messages SET shown = 1, destroy_at = CASE WHEN ttl > 0 THEN"
                  " ? + ttl ELSE 0 END WHERE chat = ? AND id <= ? AND outgoing = 1 AND"
                  " shown = 0", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, chat);
    sqlite3_bind_int64(st, 3, max_id);
    return step_done(c, st, err);
}

int pl_sc_sweep(parley_client *c, int64_t now, size_t *n, parley_error *err)
{
    sqlite3_stmt *st;
    *n = 0;
    int rc = prep(c, "DELETE FROM sc_messages WHERE destroy_at > 0 AND destroy_at <= ?", &st,
                  err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    if ((rc = step_done(c, st, err)) < 0)
        return rc;
    *n = (size_t)sqlite3_changes(c->prof.db);
    if (*n)
        pl_sc_scrub(c);
    return 0;
}
