/*
 * store_sqlite.c: the SQLite backend of store.h (lifecycle, schema and migrations, the
 * statement cache, batches and savepoints, the per-account update log, freeing).
 * The operations themselves live in store_sqlite_users.c, store_sqlite_chats.c and
 * store_sqlite_msgs.c; store_sqlite.h holds what these files share.
 *
 * One database file DIR/parley.db in WAL mode with synchronous=FULL (a COMMIT is on stable
 * storage when it returns), secure_delete=ON (freed cells and pages are zeroed, so deleted
 * or overwritten text leaves no bytes in the file) and foreign keys on. store_scrub()
 * checkpoints with TRUNCATE so the WAL holds no older page images either.
 *
 * WHY 1 KiB pages (new databases; an existing one keeps the size it was made with): every
 * COMMIT appends each page it changed, whole, to the WAL, and a send changes about seven
 * (the message and key table tails, the chat's two index leaves, two update-log leaves, the
 * chat row) to add a few hundred bytes. With SQLite's default 4 KiB pages a 1,500/s load
 * wrote 40 MB/s of WAL, and on the development machine's disk the longest fsync of each
 * minute went from ~20-30 ms to ~100 ms after about 12 minutes of that (docs/BENCHMARKS.md,
 * "Held rate"). 1 KiB pages write a third as many bytes per send (more frames, each a
 * quarter of the size; a 20-minute run had no such step) and cost less CPU per send in the
 * store's own benchmark; the trees are a level deeper, which the page cache hides.
 *
 * Tables (schema version 2):
 *   users(id, username UNIQUE NOCASE, pwhash, created)
 *       (version 1 also kept each account's pts here; it is max(updates.pts), see
 *       store_sqlite_pts.c)
 *   sessions(id, user_id, token_hash BLOB UNIQUE (SHA-256 of the token), device, created,
 *       last_active)
 *   chats(id, kind, title, created, last_date, top_id, auto_delete, member_count,
 *       user_a, user_b)
 *       top_id = last message id handed out in the chat (ids increase per chat and are never
 *       reused); last_date orders the chat list; user_a < user_b identify a private chat
 *       (UNIQUE, NULL for groups).
 *   members(rowid = join order, chat_id, user_id, role, joined, read_inbox) UNIQUE(chat, user),
 *       index (chat_id, read_inbox) for the "read by others up to" marker
 *   messages(key, chat_id, id, from_user, random_id, kind, body, key_id, date, edit_date,
 *       reply_to, ttl, expires_at, svc_*, from_pts) UNIQUE(chat_id, id),
 *       UNIQUE(chat_id, from_user, random_id) for idempotent sends,
 *       partial index on expires_at > 0 for expiry.
 *       A rowid table on purpose: its interior b-tree pages hold only integer keys.
 *       body = the text encrypted (XChaCha20) under its own random key in msg_keys.
 *       from_pts = the sender's pts of the NEW_MESSAGE entry, returned again for duplicates.
 *   msg_keys(id, k): one 32-byte key per stored text. Rows are only ever appended and then
 *       overwritten with zeros of the same size (triggers on delete / re-key of a message).
 *   hidden(chat_id, msg_id, user_id): messages deleted "for me"; cascades with the message.
 *   updates(account_id, pts, date, kind, chat_id, msg_id, by_user, max_id, session_id, ids)
 *       WITHOUT ROWID, the per-account ordered log. It never copies text: NEW/EDIT entries
 *       refer to (chat_id, msg_id) and are rebuilt from the current row (and skipped if it is
 *       gone), CHAT entries are rebuilt from the current chat for the account; READ, HIDE,
 *       DELETE, CHAT_REMOVED and SESSION_ENDED carry their few numbers in the row.
 *   call_settings(user_id, always_relay) (version 2): the account's "always relay calls".
 *       A call's history entry is a messages row of kind CALL (store_sqlite_calls.c).
 *   invites(code_hash BLOB, created) WITHOUT ROWID (migration step 5): the SHA-256 of each
 *       unused invite code (parleyd --make-invite); registering with one deletes it in the
 *       same savepoint that creates the account.
 *
 * Why the text is encrypted at rest although secure_delete is on: secure_delete zeroes a
 * deleted cell, but SQLite's b-tree balancing moves live cells between pages and leaves the
 * old bytes in the unused gap of the rebuilt page, where they outlive a later deletion (seen
 * in a stress run: a few texts in ten thousand survived). Moved ciphertext is harmless once
 * its key is zeroed, and key rows never move: msg_keys is append-only (new rows go to the
 * right-most leaf without redistributing cells) and a same-size UPDATE is done in place.
 *
 * Secret chats (schema step 2): device_keys, one_time_prekeys, secret_inbox, secret_sent,
 * documented with their SQL in store_sqlite_secret.h. Step 7: sessions.identity_key, the
 * identity key a device registered (RegisterDeviceKey), also there.
 *
 * Migrations: `migrations[]` is an ordered list; PRAGMA user_version counts the steps applied.
 * store_open applies the missing ones in one IMMEDIATE transaction, so a crash mid-way leaves
 * the previous version intact. A database newer than this binary is refused.
 */
#include "store_sqlite.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  pwhash TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  pts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  token_hash BLOB NOT NULL UNIQUE,"
    "  device TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  last_active INTEGER NOT NULL);"
    "CREATE INDEX sessions_by_user ON sessions(user_id);"
    "CREATE TABLE chats("
    "  id INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  last_date INTEGER NOT NULL,"
    "  top_id INTEGER NOT NULL DEFAULT 0,"
    "  auto_delete INTEGER NOT NULL DEFAULT 0,"
    "  member_count INTEGER NOT NULL DEFAULT 0,"
    "  user_a INTEGER REFERENCES users(id),"
    "  user_b INTEGER REFERENCES users(id),"
    "  UNIQUE(user_a, user_b));"
    "CREATE TABLE members("
    "  id INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL REFERENCES chats(id),"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  role INTEGER NOT NULL,"
    "  joined INTEGER NOT NULL,"
    "  read_inbox INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE(chat_id, user_id));"
    "CREATE INDEX members_by_user ON members(user_id);"
    "CREATE INDEX members_by_read ON members(chat_id, read_inbox);"
    "CREATE TABLE messages("
    "  key INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL REFERENCES chats(id),"
    "  id INTEGER NOT NULL,"
    "  from_user INTEGER NOT NULL REFERENCES users(id),"
    "  random_id INTEGER,"
    "  kind INTEGER NOT NULL,"
    "  body BLOB NOT NULL,"
    "  key_id INTEGER,"
    "  date INTEGER NOT NULL,"
    "  edit_date INTEGER NOT NULL DEFAULT 0,"
    "  reply_to INTEGER NOT NULL DEFAULT 0,"
    "  ttl INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL DEFAULT 0,"
    "  svc_action INTEGER NOT NULL DEFAULT 0,"
    "  svc_users BLOB,"
    "  svc_title TEXT,"
    "  svc_seconds INTEGER NOT NULL DEFAULT 0,"
    "  svc_role INTEGER NOT NULL DEFAULT 0,"
    "  from_pts INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE(chat_id, id),"
    "  UNIQUE(chat_id, from_user, random_id));"
    "CREATE INDEX messages_expiry ON messages(expires_at) WHERE expires_at > 0;"
    "CREATE TABLE msg_keys("
    "  id INTEGER PRIMARY KEY,"
    "  k BLOB NOT NULL);"
    /* Shredding: a message's key is overwritten (same size, so in place) when the message
     * is deleted or its text replaced; every deletion path goes through these triggers. */
    "CREATE TRIGGER messages_shred_deleted AFTER DELETE ON messages"
    "  WHEN OLD.key_id IS NOT NULL BEGIN"
    "  UPDATE msg_keys SET k = zeroblob(length(k)) WHERE id = OLD.key_id; END;"
    "CREATE TRIGGER messages_shred_rekeyed AFTER UPDATE OF key_id ON messages"
    "  WHEN OLD.key_id IS NOT NULL AND OLD.key_id IS NOT NEW.key_id BEGIN"
    "  UPDATE msg_keys SET k = zeroblob(length(k)) WHERE id = OLD.key_id; END;"
    "CREATE TABLE hidden("
    "  chat_id INTEGER NOT NULL,"
    "  msg_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  PRIMARY KEY(chat_id, msg_id, user_id),"
    "  FOREIGN KEY(chat_id, msg_id) REFERENCES messages(chat_id, id) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "CREATE TABLE updates("
    "  account_id INTEGER NOT NULL REFERENCES users(id),"
    "  pts INTEGER NOT NULL,"
    "  date INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  chat_id INTEGER NOT NULL DEFAULT 0,"
    "  msg_id INTEGER NOT NULL DEFAULT 0,"
    "  by_user INTEGER NOT NULL DEFAULT 0,"
    "  max_id INTEGER NOT NULL DEFAULT 0,"
    "  session_id INTEGER NOT NULL DEFAULT 0,"
    "  ids BLOB,"
    "  PRIMARY KEY(account_id, pts)) WITHOUT ROWID;",
    /* 2: an account's pts is read from its log (store_sqlite_pts.c), not kept in users */
    "ALTER TABLE users DROP COLUMN pts;",
    /* 3: secret chats: device keys, envelope inboxes (store_sqlite_secret.h) */
    SECRET_SCHEMA,
    /* 4: per-account call settings (store_sqlite_calls.c) */
    "CREATE TABLE call_settings("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id),"
    "  always_relay INTEGER NOT NULL DEFAULT 0);",
    /* 5: secret chats hold up under abuse: per-sender shares, expiry, prekey hand-out limit */
    SECRET_SCHEMA_5,
    /* 6: unused invite codes, by SHA-256 (registration = invite; store_sqlite_users.c) */
    "CREATE TABLE invites("
    "  code_hash BLOB PRIMARY KEY NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;",
    /* 7: a device's identity key without secret-chat prekeys (store_sqlite_secret.h) */
    DEVICE_KEY_SCHEMA,
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* Every statement of the backend, prepared once per handle on first use. */
static const char *const sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_OP_BEGIN] = "SAVEPOINT op",
    [Q_OP_RELEASE] = "RELEASE op",
    [Q_OP_ROLLBACK] = "ROLLBACK TO op",
    [Q_MUT_BEGIN] = "SAVEPOINT mut",
    [Q_MUT_RELEASE] = "RELEASE mut",
    [Q_MUT_ROLLBACK] = "ROLLBACK TO mut",

    [Q_USER_INSERT] = "INSERT INTO users(username, pwhash, created) VALUES(?1, ?2, ?3)",
    [Q_USER_BY_NAME] = "SELECT id, username, pwhash FROM users WHERE username = ?1",
    [Q_USER_BY_ID] = "SELECT id, username, pwhash FROM users WHERE id = ?1",
    [Q_USER_PTS] = "SELECT 1 FROM users WHERE id = ?1",
    [Q_USERNAME] = "SELECT username FROM users WHERE id = ?1",
    [Q_SESSION_INSERT] = "INSERT INTO sessions(user_id, token_hash, device, created, last_active)"
                         " VALUES(?1, ?2, ?3, ?4, ?4)",
    [Q_SESSION_BY_TOKEN] = "SELECT id, user_id, device, created, last_active FROM sessions"
                           " WHERE token_hash = ?1",
    [Q_SESSION_TOUCH] = "UPDATE sessions SET last_active = max(last_active, ?2) WHERE id = ?1",
    [Q_SESSION_LIST] = "SELECT id, user_id, device, created, last_active FROM sessions"
                       " WHERE user_id = ?1 ORDER BY id",
    [Q_SESSION_OWNED] = "SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2",
    [Q_SESSION_OTHERS] = "SELECT id FROM sessions WHERE user_id = ?1 AND id <> ?2 ORDER BY id",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",

    [Q_LOG_TOP] = "SELECT coalesce(max(pts), 0) FROM updates WHERE account_id = ?1",
    [Q_LOG_INSERT] = "INSERT INTO updates(account_id, pts, date, kind, chat_id, msg_id, by_user,"
                     " max_id, session_id, ids) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_MEMBER_IDS] = "SELECT user_id FROM members WHERE chat_id = ?1",
    [Q_DIFF] = "SELECT pts, date, kind, chat_id, msg_id, by_user, max_id, session_id, ids"
               " FROM updates WHERE account_id = ?1 AND pts > ?2 ORDER BY pts LIMIT ?3",

    [Q_ACCESS] = "SELECT c.kind, c.member_count, c.auto_delete, c.user_a, c.user_b, c.top_id,"
                 " m.role, m.read_inbox, c.created, c.title"
                 " FROM members m JOIN chats c ON c.id = m.chat_id"
                 " WHERE m.chat_id = ?1 AND m.user_id = ?2",
    [Q_CHAT_INSERT] = "INSERT INTO chats(kind, title, created, last_date, member_count, user_a,"
                      " user_b) VALUES(?1, ?2, ?3, ?3, ?4, ?5, ?6)",
    [Q_PRIVATE_FIND] = "SELECT id FROM chats WHERE user_a = ?1 AND user_b = ?2",
    [Q_CHAT_ALLOC_ID] = "UPDATE chats SET top_id = top_id + 1, last_date = max(last_date, ?2)"
                        " WHERE id = ?1 RETURNING top_id",
    [Q_CHAT_MAX_ID] = "SELECT max(id) FROM messages WHERE chat_id = ?1",
    [Q_CHAT_SET_TITLE] = "UPDATE chats SET title = ?2 WHERE id = ?1",
    [Q_CHAT_SET_AUTODELETE] = "UPDATE chats SET auto_delete = ?2 WHERE id = ?1",
    [Q_CHAT_COUNT_ADJ] = "UPDATE chats SET member_count = member_count + ?2 WHERE id = ?1",
    [Q_CHAT_LIST] = "SELECT c.id FROM members m JOIN chats c ON c.id = m.chat_id"
                    " WHERE m.user_id = ?1 ORDER BY c.last_date DESC, c.id DESC",
    /* Bounded: looks at no more than the newest 9999 messages above the marker, so a chat
     * with a million unread (or a million own) messages costs the same as one with 9999. */
    [Q_UNREAD] = "SELECT count(*) FROM (SELECT id, from_user FROM messages"
                 " WHERE chat_id = ?1 AND id > ?2 ORDER BY id DESC LIMIT 9999) x"
                 " WHERE x.from_user <> ?3 AND NOT EXISTS (SELECT 1 FROM hidden h"
                 " WHERE h.chat_id = ?1 AND h.msg_id = x.id AND h.user_id = ?3)",
    /* members_by_read makes this O(log n) in a 1000-member group instead of a scan. */
    [Q_READ_OUTBOX] = "SELECT coalesce((SELECT read_inbox FROM members"
                      " WHERE chat_id = ?1 AND user_id <> ?2 ORDER BY read_inbox DESC LIMIT 1),"
                      " 0)",
    [Q_MEMBER_INSERT] = "INSERT INTO members(chat_id, user_id, role, joined) VALUES(?1, ?2, ?3, ?4)",
    [Q_MEMBER_DELETE] = "DELETE FROM members WHERE chat_id = ?1 AND user_id = ?2",
    [Q_MEMBER_ROLE] = "SELECT role FROM members WHERE chat_id = ?1 AND user_id = ?2",
    [Q_MEMBER_SET_ROLE] = "UPDATE members SET role = ?3 WHERE chat_id = ?1 AND user_id = ?2",
    [Q_MEMBER_SET_READ] = "UPDATE members SET read_inbox = ?3 WHERE chat_id = ?1 AND user_id = ?2",
    [Q_MEMBER_LIST] = "SELECT m.user_id, u.username, m.role, m.joined FROM members m"
                      " JOIN users u ON u.id = m.user_id WHERE m.chat_id = ?1 ORDER BY m.id",
    /* The creator's successor: the oldest admin, else the oldest member. */
    [Q_SUCCESSOR] = "SELECT user_id FROM members WHERE chat_id = ?1 AND user_id <> ?2"
                    " ORDER BY role = 2 DESC, id LIMIT 1",

    [Q_MSG_GET] = MSG_SELECT "WHERE m.chat_id = ?1 AND m.id = ?2",
    [Q_MSG_BY_RANDOM] = MSG_SELECT "WHERE m.chat_id = ?1 AND m.from_user = ?2 AND m.random_id = ?3",
    [Q_MSG_VISIBLE] = MSG_SELECT "WHERE m.chat_id = ?1 AND m.id = ?2 AND NOT EXISTS"
                      " (SELECT 1 FROM hidden h WHERE h.chat_id = ?1 AND h.msg_id = ?2"
                      " AND h.user_id = ?3)",
    [Q_HISTORY] = MSG_SELECT "WHERE m.chat_id = ?1 AND m.id < ?2 AND NOT EXISTS"
                  " (SELECT 1 FROM hidden h WHERE h.chat_id = ?1 AND h.msg_id = m.id"
                  " AND h.user_id = ?3) ORDER BY m.id DESC LIMIT ?4",
    [Q_MSG_OWNER] = "SELECT from_user, kind FROM messages WHERE chat_id = ?1 AND id = ?2",
    [Q_MSG_INSERT] = "INSERT INTO messages(chat_id, id, from_user, random_id, kind, body, date,"
                     " reply_to, ttl, expires_at, svc_action, svc_users, svc_title, svc_seconds,"
                     " svc_role, from_pts, key_id)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                     " ?17)",
    [Q_MSG_EDIT] = "UPDATE messages SET body = ?3, edit_date = ?4, key_id = ?5"
                   " WHERE chat_id = ?1 AND id = ?2",
    [Q_KEY_INSERT] = "INSERT INTO msg_keys(k) VALUES(?1)",
    [Q_MSG_DELETE] = "DELETE FROM messages WHERE chat_id = ?1 AND id = ?2",
    [Q_HIDE] = "INSERT OR IGNORE INTO hidden(chat_id, msg_id, user_id) VALUES(?1, ?2, ?3)",
    [Q_TTL_START] = "UPDATE messages SET expires_at = ?5 + ttl WHERE chat_id = ?1 AND id > ?2"
                    " AND id <= ?3 AND from_user <> ?4 AND ttl > 0 AND expires_at = 0",
    /* Bounded: only the newest 1000 messages of the newly read range name their senders. */
    [Q_READ_SENDERS] = "SELECT DISTINCT x.from_user FROM (SELECT from_user FROM messages"
                       " WHERE chat_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id DESC"
                       " LIMIT 1000) x JOIN members m ON m.chat_id = ?1"
                       " AND m.user_id = x.from_user WHERE x.from_user <> ?4",
    [Q_EXPIRE_DUE] = "SELECT chat_id, id FROM messages WHERE expires_at > 0 AND expires_at <= ?1"
                     " ORDER BY expires_at LIMIT ?2",
    [Q_EXPIRE_NEXT] = "SELECT min(expires_at) FROM messages WHERE expires_at > 0",
    SECRET_Q_SQL,
    [Q_CALL_SETTINGS_GET] = "SELECT always_relay FROM call_settings WHERE user_id = ?1",
    [Q_CALL_SETTINGS_SET] = "INSERT INTO call_settings(user_id, always_relay) VALUES(?1, ?2) "
                            "ON CONFLICT(user_id) DO UPDATE SET always_relay = ?2",
    [Q_INVITE_INSERT] = "INSERT INTO invites(code_hash, created) VALUES(?1, ?2)",
    [Q_INVITE_USE] = "DELETE FROM invites WHERE code_hash = ?1",
};

/* ---- statements ---------------------------------------------------------------------- */

sqlite3_stmt *sq_get(store *s, int q)
{
    sqlite3_stmt *st = s->stmts[q];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK)
            return NULL;
        s->stmts[q] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

void sq_done(sqlite3_stmt *st)
{
    if (st) sqlite3_reset(st);
}

store_rc sq_run(store *s, int q)
{
    sqlite3_stmt *st = sq_get(s, q);
    if (!st) return STORE_ERR_INTERNAL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    sq_done(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    return (rc & 0xff) == SQLITE_FULL ? STORE_ERR_FULL : STORE_ERR_INTERNAL;
}

int sq_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

char *sq_strdup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

/* ---- int64 lists ----------------------------------------------------------------------- */

int ids_bind(sqlite3_stmt *st, int i, const int64_t *ids, size_t n)
{
    if (!ids || n == 0) return sqlite3_bind_null(st, i);
    unsigned char *b = malloc(n * 8);
    if (!b) return SQLITE_NOMEM;
    for (size_t k = 0; k < n; k++) {
        uint64_t v = (uint64_t)ids[k];
        for (int j = 0; j < 8; j++) b[k * 8 + j] = (unsigned char)(v >> (8 * j));
    }
    return sqlite3_bind_blob64(st, i, b, n * 8, free);
}

int ids_read(sqlite3_stmt *st, int col, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const unsigned char *b = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    if (!b || len == 0) return 0;
    if (len % 8) return -1;
    int64_t *v = malloc(len);
    if (!v) return -1;
    for (size_t k = 0; k < len / 8; k++) {
        uint64_t x = 0;
        for (int j = 0; j < 8; j++) x |= (uint64_t)b[k * 8 + j] << (8 * j);
        v[k] = (int64_t)x;
    }
    *out = v;
    *n = len / 8;
    return 0;
}

/* ---- message text at rest -------------------------------------------------------------- */

#define MSG_KEY_BYTES crypto_stream_xchacha20_KEYBYTES

/* Each key encrypts exactly one text (an edit gets a new key), so a fixed all-zero nonce is
 * safe; the cipher only has to make the bytes unreadable once the key row is zeroed. */
static const unsigned char zero_nonce[crypto_stream_xchacha20_NONCEBYTES];

store_rc bytes_seal(store *s, const unsigned char *in, size_t len, int64_t *key_id,
                    unsigned char **body)
{
    *key_id = 0;
    *body = malloc(len ? len : 1);
    if (!*body) return STORE_ERR_INTERNAL;
    unsigned char key[MSG_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    sqlite3_stmt *st = sq_get(s, Q_KEY_INSERT);
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sq_done(st);
        sqlite3_clear_bindings(st);
    }
    if (rc == SQLITE_DONE) {
        *key_id = sqlite3_last_insert_rowid(s->db);
        crypto_stream_xchacha20_xor(*body, in, len, zero_nonce, key);
    }
    sodium_memzero(key, sizeof key);
    if (rc != SQLITE_DONE) {
        free(*body);
        *body = NULL;
        return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

store_rc text_seal(store *s, const char *text, int64_t *key_id, unsigned char **body,
                   size_t *len)
{
    *len = strlen(text);
    if (*len == 0) {               /* nothing to hide: no key row */
        *key_id = 0;
        *body = malloc(1);
        return *body ? STORE_OK : STORE_ERR_INTERNAL;
    }
    return bytes_seal(s, (const unsigned char *)text, *len, key_id, body);
}

char *text_open(sqlite3_stmt *st, int col, int kcol)
{
    const unsigned char *c = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    const unsigned char *key = sqlite3_column_blob(st, kcol);
    size_t klen = (size_t)sqlite3_column_bytes(st, kcol);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    out[len] = 0;
    if (len == 0) return out;
    if (!c || !key || klen != MSG_KEY_BYTES) {
        free(out);
        return NULL;
    }
    crypto_stream_xchacha20_xor((unsigned char *)out, c, len, zero_nonce, key);
    return out;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int exec_simple(sqlite3 *db, const char *q, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, errlen, "store: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

static int pragma_int(sqlite3 *db, const char *q, int64_t *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    if (exec_simple(db, "BEGIN IMMEDIATE", err, errlen)) return -1;
    int64_t version = 0;
    if (pragma_int(db, "PRAGMA user_version", &version)) {
        snprintf(err, errlen, "store: cannot read schema version: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (version > N_MIGRATIONS || version < 0) {
        snprintf(err, errlen, "store: database schema version %lld is newer than this parleyd (%d)",
                 (long long)version, N_MIGRATIONS);
        goto fail;
    }
    for (int v = (int)version; v < N_MIGRATIONS; v++)
        if (exec_simple(db, migrations[v], err, errlen)) goto fail;
    if (version < N_MIGRATIONS) {
        char q[64];
        snprintf(q, sizeof q, "PRAGMA user_version = %d", N_MIGRATIONS);
        if (exec_simple(db, q, err, errlen)) goto fail;
    }
    if (exec_simple(db, "COMMIT", err, errlen)) goto fail;
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

#ifndef STORE_PAGE_SIZE_STR
#define STORE_PAGE_SIZE_STR "1024"
#endif

store *store_open(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (!dir || snprintf(path, sizeof path, "%s/parley.db", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "store: data directory path too long");
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "store: libsodium cannot start");
        return NULL;
    }
    /* The database holds everyone's messages: create it private to parleyd (SQLite gives the
     * -wal and -shm files the same mode). An existing file keeps the operator's choice. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd >= 0) close(fd);
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "store: out of memory");
        return NULL;
    }
    /* Process-wide and only possible before SQLite initialises (later calls fail harmlessly):
     * without memory statistics every sqlite3_malloc/free skips a global mutex, which was
     * ~5% of the store thread's time. Nothing in parleyd reads those statistics. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* NOMUTEX: the handle belongs to one thread (see store.h), so SQLite's locking is waste. */
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "store: cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* Only a new, empty database takes a page size; an existing one keeps its own. */
    if (exec_simple(s->db, "PRAGMA page_size=" STORE_PAGE_SIZE_STR, err, errlen)) goto fail;
    char mode[16] = "";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "store: cannot switch %s to WAL mode: %s", path,
                 sqlite3_errmsg(s->db));
        goto fail;
    }
    if (exec_simple(s->db,
                    "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;"
                    "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                    err, errlen))
        goto fail;
    if (migrate(s->db, err, errlen)) goto fail;
    if (!(s->ckpt = ckpt_start(path, err, errlen))) goto fail;
    ckpt_attach(s->ckpt, s->db);
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store *s)
{
    if (!s) return;
    ckpt_stop(s->ckpt);        /* first: the writer's close is then the last one */
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->stmts[i]);
    pts_cache_free(&s->pts);
    if (s->db) {
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s);
}

/* ---- batches and savepoints ------------------------------------------------------------ */

int64_t sqlite_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

store_rc store_batch_begin(store *s)
{
    if (s->in_batch) return STORE_ERR_INTERNAL;
    memset(&s->timing, 0, sizeof s->timing);
    int cur = 0, hi = 0;
    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 1);   /* resets it */
    int64_t t0 = sqlite_monotonic_us();
    store_rc rc = sq_run(s, Q_BEGIN);
    s->timing.begin_us = sqlite_monotonic_us() - t0;
    if (rc == STORE_OK) s->in_batch = 1;
    return rc;
}

/* The WAL hook runs inside the COMMIT right after the frames were written and synced, so its
 * timestamp splits the commit into "write and fsync" and "checkpoint". */
static void commit_timing(store *s, int64_t t0)
{
    s->timing.commit_us = sqlite_monotonic_us() - t0;
    int misses = 0, hi = 0;
    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_MISS, &misses, &hi, 0);
    s->timing.pages_read = misses;
    ckpt_commit_info ci;
    ckpt_last_commit(s->ckpt, &ci);
    if (ci.hook_at_us < t0) return;            /* no hook: the commit wrote nothing */
    s->timing.sync_us = ci.hook_at_us - t0;
    s->timing.ckpt_us = ci.ckpt_us;
    s->timing.log_frames = ci.frames;
}

void store_batch_timing_get(const store *s, store_batch_timing *t)
{
    *t = s->timing;
}

void store_bg_stats_take(store *s, store_bg_stats *out)
{
    ckpt_take_stats(s->ckpt, out);
}

store_rc store_batch_commit(store *s)
{
    if (!s->in_batch) return STORE_ERR_INTERNAL;
    int64_t t0 = sqlite_monotonic_us();
    store_rc rc = sq_run(s, Q_COMMIT);
    commit_timing(s, t0);
    if (rc != STORE_OK) {
        /* A failed COMMIT may leave the transaction open; nothing of it may survive. */
        if (!sqlite3_get_autocommit(s->db)) sq_run(s, Q_ROLLBACK);
        pts_undo(s, 0);
    } else {
        pts_settle(s);
    }
    s->in_batch = 0;
    return rc;
}

void store_batch_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sq_run(s, Q_ROLLBACK);
    pts_undo(s, 0);
    s->in_batch = 0;
}

store_rc store_op_begin(store *s)
{
    s->op_pts_mark = pts_mark(s);
    return sq_run(s, Q_OP_BEGIN);
}

void store_op_end(store *s, int ok)
{
    if (!ok) {
        sq_run(s, Q_OP_ROLLBACK);
        pts_undo(s, s->op_pts_mark);
    }
    sq_run(s, Q_OP_RELEASE);
}

store_rc store_scrub(store *s)
{
    if (s->in_batch || !sqlite3_get_autocommit(s->db)) return STORE_ERR_INTERNAL;
    int nlog = 0, nckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
    return rc == SQLITE_OK ? STORE_OK : STORE_ERR_INTERNAL;
}

static void fanout_free_one(store_fanout *f)
{
    store_update_free(&f->update);
    if (f->per_account) {
        for (size_t k = 0; k < f->n_accounts; k++) store_update_free(&f->per_account[k]);
        free(f->per_account);
    }
    free(f->accounts);
    free(f->pts);
    memset(f, 0, sizeof *f);
}

store_rc mut_begin(store *s, store_fanouts *fo, size_t *mark)
{
    *mark = fo ? fo->n : 0;
    if (s->mut_depth == MUT_DEPTH_MAX) return STORE_ERR_INTERNAL;
    store_rc rc = sq_run(s, Q_MUT_BEGIN);
    if (rc == STORE_OK) s->mut_pts_mark[s->mut_depth++] = pts_mark(s);
    return rc;
}

store_rc mut_end(store *s, store_rc rc, store_fanouts *fo, size_t mark)
{
    size_t pmark = s->mut_pts_mark[--s->mut_depth];
    if (rc == STORE_OK) {
        if (sq_run(s, Q_MUT_RELEASE) == STORE_OK) {
            /* Outside any transaction the release was the commit. */
            if (sqlite3_get_autocommit(s->db)) pts_settle(s);
            return STORE_OK;
        }
        rc = STORE_ERR_INTERNAL;
    }
    /* The failed statement was the operation's last call: its error code is still the
     * connection's (the rollback below resets it). A full disk is told apart from other
     * failures so that the client hears "try again later", not "internal error". */
    if (rc == STORE_ERR_INTERNAL && sqlite3_errcode(s->db) == SQLITE_FULL) rc = STORE_ERR_FULL;
    sq_run(s, Q_MUT_ROLLBACK);
    sq_run(s, Q_MUT_RELEASE);
    pts_undo(s, pmark);
    if (fo) {
        for (size_t i = mark; i < fo->n; i++) fanout_free_one(&fo->items[i]);
        fo->n = mark;
        if (mark == 0) {
            free(fo->items);
            fo->items = NULL;
        }
    }
    return rc;
}

/* ---- update log ------------------------------------------------------------------------ */

store_fanout *fo_push(store_fanouts *fo)
{
    store_fanout *v = realloc(fo->items, (fo->n + 1) * sizeof *v);
    if (!v) return NULL;
    fo->items = v;
    memset(&v[fo->n], 0, sizeof v[0]);
    return &v[fo->n++];
}

static int fo_add(store_fanout *f, int64_t account, uint64_t pts)
{
    int64_t *a = realloc(f->accounts, (f->n_accounts + 1) * sizeof *a);
    if (!a) return -1;
    f->accounts = a;
    uint64_t *p = realloc(f->pts, (f->n_accounts + 1) * sizeof *p);
    if (!p) return -1;
    f->pts = p;
    a[f->n_accounts] = account;
    p[f->n_accounts] = pts;
    f->n_accounts++;
    return 0;
}

void fo_drop_if_empty(store_fanouts *fo)
{
    if (fo->n && fo->items[fo->n - 1].n_accounts == 0) {
        fanout_free_one(&fo->items[fo->n - 1]);
        fo->n--;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

store_rc uniq_ids(const int64_t *in, size_t n, int64_t exclude, int64_t **out, size_t *k)
{
    *out = NULL;
    *k = 0;
    if (n == 0) return STORE_OK;
    int64_t *v = malloc(n * sizeof *v);
    if (!v) return STORE_ERR_INTERNAL;
    memcpy(v, in, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_i64);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != exclude && (j == 0 || v[j - 1] != v[i])) v[j++] = v[i];
    if (j == 0) {
        free(v);
        return STORE_OK;
    }
    *out = v;
    *k = j;
    return STORE_OK;
}

uint64_t fo_pts_of(const store_fanout *f, int64_t account)
{
    for (size_t i = 0; i < f->n_accounts; i++)
        if (f->accounts[i] == account) return f->pts[i];
    return 0;
}

/* Appends one entry to the account's log; *pts is its position. */
static store_rc log_append(store *s, int64_t account, const logrow *r, uint64_t *pts)
{
    store_rc pr = pts_bump(s, account, pts);
    if (pr != STORE_OK) return pr;
    sqlite3_stmt *st = sq_get(s, Q_LOG_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_int64(st, 2, (int64_t)*pts);
    sqlite3_bind_int64(st, 3, r->date);
    sqlite3_bind_int(st, 4, (int)r->kind);
    sqlite3_bind_int64(st, 5, r->chat_id);
    sqlite3_bind_int64(st, 6, r->msg_id);
    sqlite3_bind_int64(st, 7, r->by_user);
    sqlite3_bind_int64(st, 8, r->max_id);
    sqlite3_bind_int64(st, 9, r->session_id);
    int rc = ids_bind(st, 10, r->ids, r->n_ids);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc log_to_members(store *s, int64_t chat_id, const logrow *r, store_fanout *f)
{
    /* The member ids first: the statement must be reset before log_append runs others. */
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = sq_get(s, Q_MEMBER_IDS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *v = realloc(ids, cap * sizeof *v);
            if (!v) {
                rc = SQLITE_NOMEM;
                break;
            }
            ids = v;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sq_done(st);
    store_rc r2 = rc == SQLITE_DONE ? log_to_accounts(s, ids, n, r, f) : STORE_ERR_INTERNAL;
    free(ids);
    return r2;
}

store_rc log_to_accounts(store *s, const int64_t *acc, size_t n, const logrow *r,
                         store_fanout *f)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t pts;
        store_rc rc = log_append(s, acc[i], r, &pts);
        if (rc != STORE_OK) return rc;
        if (fo_add(f, acc[i], pts)) return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

store_rc fo_fill_shared(store_fanout *f, const logrow *r, const char *by_username)
{
    store_update *u = &f->update;
    u->date = r->date;
    u->kind = r->kind;
    u->chat_id = r->chat_id;
    u->by_user = r->by_user;
    u->max_id = r->max_id;
    u->session_id = r->session_id;
    if (r->n_ids) {
        u->ids = malloc(r->n_ids * sizeof *u->ids);
        if (!u->ids) return STORE_ERR_INTERNAL;
        memcpy(u->ids, r->ids, r->n_ids * sizeof *u->ids);
        u->n_ids = r->n_ids;
    }
    if (by_username && !(u->by_username = strdup(by_username))) return STORE_ERR_INTERNAL;
    return STORE_OK;
}

store_rc fo_build_chats(store *s, store_fanout *f)
{
    if (f->n_accounts == 0) return STORE_OK;
    f->per_account = calloc(f->n_accounts, sizeof *f->per_account);
    if (!f->per_account) return STORE_ERR_INTERNAL;
    for (size_t i = 0; i < f->n_accounts; i++) {
        store_update *u = &f->per_account[i];
        u->pts = f->pts[i];
        u->date = f->update.date;
        u->kind = STORE_UPD_CHAT;
        u->chat_id = f->update.chat_id;
        u->chat = calloc(1, sizeof *u->chat);
        if (!u->chat) return STORE_ERR_INTERNAL;
        store_rc rc = chat_build(s, f->accounts[i], f->update.chat_id, u->chat);
        if (rc != STORE_OK) return rc == STORE_ERR_NO_CHAT ? STORE_ERR_INTERNAL : rc;
    }
    return STORE_OK;
}

store_rc current_pts(store *s, int64_t user_id, uint64_t *pts)
{
    sqlite3_stmt *st = sq_get(s, Q_USER_PTS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc == SQLITE_DONE) return STORE_ERR_NO_USER;
    return rc == SQLITE_ROW ? pts_get(s, user_id, pts) : STORE_ERR_INTERNAL;
}

store_rc user_name(store *s, int64_t id, char **out)
{
    *out = NULL;
    sqlite3_stmt *st = sq_get(s, Q_USERNAME);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    store_rc r = STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) r = (*out = sq_strdup_col(st, 0)) ? STORE_OK : STORE_ERR_INTERNAL;
    else if (rc == SQLITE_DONE) r = STORE_ERR_NO_USER;
    sq_done(st);
    return r;
}

/* ---- freeing --------------------------------------------------------------------------- */

void store_user_free(store_user *u)
{
    if (!u) return;
    free(u->username);
    if (u->pwhash) {
        /* the hash is not the password, but it is what an offline attacker wants */
        memset(u->pwhash, 0, strlen(u->pwhash));
        free(u->pwhash);
    }
    memset(u, 0, sizeof *u);
}

void store_session_free(store_session *x)
{
    if (!x) return;
    free(x->device);
    memset(x, 0, sizeof *x);
}

void store_sessions_free(store_session *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) store_session_free(&v[i]);
    free(v);
}

void store_msg_free(store_msg *m)
{
    if (!m) return;
    free(m->from_username);
    free(m->text);
    for (size_t i = 0; i < m->n_service_users; i++) free(m->service_users[i].username);
    free(m->service_users);
    free(m->service_title);
    memset(m, 0, sizeof *m);
}

void store_msgs_free(store_msg *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) store_msg_free(&v[i]);
    free(v);
}

void store_chat_free(store_chat *c)
{
    if (!c) return;
    free(c->title);
    if (c->last_message) {
        store_msg_free(c->last_message);
        free(c->last_message);
    }
    memset(c, 0, sizeof *c);
}

void store_chats_free(store_chat *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) store_chat_free(&v[i]);
    free(v);
}

void store_members_free(store_member *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].username);
    free(v);
}

void store_update_free(store_update *u)
{
    if (!u) return;
    if (u->msg) {
        store_msg_free(u->msg);
        free(u->msg);
    }
    free(u->ids);
    free(u->by_username);
    if (u->chat) {
        store_chat_free(u->chat);
        free(u->chat);
    }
    memset(u, 0, sizeof *u);
}

void store_updates_free(store_update *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) store_update_free(&v[i]);
    free(v);
}

void store_fanouts_free(store_fanouts *fo)
{
    if (!fo) return;
    for (size_t i = 0; i < fo->n; i++) fanout_free_one(&fo->items[i]);
    free(fo->items);
    fo->items = NULL;
    fo->n = 0;
}
