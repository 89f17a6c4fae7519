/*
 * store_sqlite_secret.h: the SQL of the secret-chat tables (store_sqlite_secret.c), kept
 * apart so that store_sqlite.c only names it: store_sqlite.h splices SECRET_Q_ENUM into
 * the statement enum, store_sqlite.c splices SECRET_Q_SQL into its statement table and
 * SECRET_SCHEMA into its migrations. Only those two files include it.
 *
 * Tables (schema step 2):
 *   device_keys(session_id PK, identity_key, spk_id, spk_public, spk_signature, published,
 *       pending_n, pending_bytes): one row per device that published keys. pending_* count
 *       the device's inbox, kept by triggers, so the cap check costs one row read.
 *   one_time_prekeys(session_id, id, public_key) WITHOUT ROWID: handed out once, lowest id
 *       first, deleted in the transaction that hands it out.
 *   secret_inbox(id AUTOINCREMENT, to_device, from_user, from_device, secret_chat,
 *       random_id, size, date, key_id, envelope): pending envelopes. AUTOINCREMENT so that
 *       an id is never reused after an ack (clients may remember acknowledged ids). The
 *       envelope is stored encrypted under its own key in msg_keys, for the same reason
 *       message text is (see store_sqlite.c): the key row is zeroed in place on delete.
 *   secret_sent(from_device, random_id, id, date) WITHOUT ROWID: the idempotency record of
 *       each send, which outlives the acknowledged envelope, for SECRET_SENT_KEEP seconds:
 *       each send deletes up to 4 records older than that (index on date), so the table
 *       holds about one window of sends however long a device lives.
 * Step 5 adds two indexes and two columns of device_keys (SECRET_SCHEMA_5, below).
 * Step 7 adds sessions.identity_key (DEVICE_KEY_SCHEMA, below): a device's identity key
 * registered without secret-chat prekeys (browser devices, for signing group-call keys).
 * Ending a session (DELETE FROM sessions) removes that device's rows of all four tables by
 * trigger, so every path that ends a session does it in the same transaction.
 */
#ifndef PARLEY_STORE_SQLITE_SECRET_H
#define PARLEY_STORE_SQLITE_SECRET_H

/* How long a (device, random_id) is remembered: a resend within it returns the first send. */
#define SECRET_SENT_KEEP (7 * 86400)

#define SECRET_SCHEMA \
    "CREATE TABLE device_keys(" \
    "  session_id INTEGER PRIMARY KEY," \
    "  identity_key BLOB NOT NULL," \
    "  spk_id INTEGER NOT NULL," \
    "  spk_public BLOB NOT NULL," \
    "  spk_signature BLOB NOT NULL," \
    "  published INTEGER NOT NULL," \
    "  pending_n INTEGER NOT NULL DEFAULT 0," \
    "  pending_bytes INTEGER NOT NULL DEFAULT 0);" \
    "CREATE TABLE one_time_prekeys(" \
    "  session_id INTEGER NOT NULL," \
    "  id INTEGER NOT NULL," \
    "  public_key BLOB NOT NULL," \
    "  PRIMARY KEY(session_id, id)) WITHOUT ROWID;" \
    "CREATE TABLE secret_inbox(" \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," \
    "  to_device INTEGER NOT NULL," \
    "  from_user INTEGER NOT NULL REFERENCES users(id)," \
    "  from_device INTEGER NOT NULL," \
    "  secret_chat INTEGER NOT NULL," \
    "  random_id INTEGER NOT NULL," \
    "  size INTEGER NOT NULL," \
    "  date INTEGER NOT NULL," \
    "  key_id INTEGER NOT NULL," \
    "  envelope BLOB NOT NULL);" \
    "CREATE INDEX secret_inbox_by_device ON secret_inbox(to_device, id);" \
    "CREATE TABLE secret_sent(" \
    "  from_device INTEGER NOT NULL," \
    "  random_id INTEGER NOT NULL," \
    "  id INTEGER NOT NULL," \
    "  date INTEGER NOT NULL," \
    "  PRIMARY KEY(from_device, random_id)) WITHOUT ROWID;" \
    "CREATE INDEX secret_sent_by_date ON secret_sent(date);" \
    "CREATE TRIGGER secret_inbox_added AFTER INSERT ON secret_inbox BEGIN" \
    "  UPDATE device_keys SET pending_n = pending_n + 1, pending_bytes = pending_bytes + NEW.size" \
    "  WHERE session_id = NEW.to_device; END;" \
    "CREATE TRIGGER secret_inbox_gone AFTER DELETE ON secret_inbox BEGIN" \
    "  UPDATE msg_keys SET k = zeroblob(length(k)) WHERE id = OLD.key_id;" \
    "  UPDATE device_keys SET pending_n = pending_n - 1, pending_bytes = pending_bytes - OLD.size" \
    "  WHERE session_id = OLD.to_device; END;" \
    "CREATE TRIGGER sessions_secret_gone AFTER DELETE ON sessions BEGIN" \
    "  DELETE FROM secret_inbox WHERE to_device = OLD.id;" \
    "  DELETE FROM one_time_prekeys WHERE session_id = OLD.id;" \
    "  DELETE FROM device_keys WHERE session_id = OLD.id;" \
    "  DELETE FROM secret_sent WHERE from_device = OLD.id; END;"

/* Schema step 5 (issue 16): the per-sender share of an inbox is counted through
 * secret_inbox_by_sender (at most one share of rows per count), envelopes never collected
 * expire through secret_inbox_by_date, and device_keys counts the one-time prekeys handed
 * out in the current hour (otk_hour, otk_given) for the per-device hand-out limit. */
#define SECRET_SCHEMA_5 \
    "CREATE INDEX secret_inbox_by_sender ON secret_inbox(to_device, from_user);" \
    "CREATE INDEX secret_inbox_by_date ON secret_inbox(date);" \
    "ALTER TABLE device_keys ADD COLUMN otk_hour INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE device_keys ADD COLUMN otk_given INTEGER NOT NULL DEFAULT 0;"

/* Schema step 7: the identity key a device registered with RegisterDeviceKey (NULL: none).
 * It lives on the session row, so it ends with the device like everything else. */
#define DEVICE_KEY_SCHEMA "ALTER TABLE sessions ADD COLUMN identity_key BLOB;"

#define SECRET_Q_ENUM \
    Q_DK_GET, Q_DK_SET, \
    Q_SK_SESSION, Q_SK_GET, Q_SK_INSERT, Q_SK_SET_SPK, Q_OTK_COUNT, Q_OTK_INSERT, Q_OTK_TAKE, \
    Q_DEV_LIST, Q_DEV_GET, Q_DEV_NEWEST, Q_SENT_GET, Q_SENT_INSERT, Q_ENV_INSERT, Q_ENV_INBOX, \
    Q_ENV_ACK, Q_SENT_PRUNE, Q_ENV_SENDER, Q_ENV_EXPIRE, Q_OTK_GIVEN_GET, Q_OTK_GIVEN_SET

/* Devices are always looked up through sessions: a session that ended is no device. */
#define SECRET_Q_SQL \
    [Q_DK_GET] = "SELECT coalesce(s.identity_key, k.identity_key) FROM sessions s" \
                 " LEFT JOIN device_keys k ON k.session_id = s.id WHERE s.id = ?1", \
    [Q_DK_SET] = "UPDATE sessions SET identity_key = ?2 WHERE id = ?1", \
    [Q_SK_SESSION] = "SELECT user_id FROM sessions WHERE id = ?1", \
    [Q_SK_GET] = "SELECT identity_key FROM device_keys WHERE session_id = ?1", \
    [Q_SK_INSERT] = "INSERT INTO device_keys(session_id, identity_key, spk_id, spk_public," \
                    " spk_signature, published) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", \
    [Q_SK_SET_SPK] = "UPDATE device_keys SET spk_id = ?2, spk_public = ?3, spk_signature = ?4," \
                     " published = ?5 WHERE session_id = ?1", \
    [Q_OTK_COUNT] = "SELECT count(*) FROM one_time_prekeys WHERE session_id = ?1", \
    [Q_OTK_INSERT] = "INSERT INTO one_time_prekeys(session_id, id, public_key)" \
                     " VALUES(?1, ?2, ?3)", \
    [Q_OTK_TAKE] = "DELETE FROM one_time_prekeys WHERE session_id = ?1 AND id =" \
                   " (SELECT min(id) FROM one_time_prekeys WHERE session_id = ?1)" \
                   " RETURNING id, public_key", \
    [Q_DEV_LIST] = "SELECT s.id, s.device, s.last_active, k.identity_key FROM device_keys k" \
                   " JOIN sessions s ON s.id = k.session_id WHERE s.user_id = ?1 ORDER BY s.id", \
    [Q_DEV_GET] = "SELECT k.identity_key, k.spk_id, k.spk_public, k.spk_signature," \
                  " k.pending_n, k.pending_bytes FROM device_keys k" \
                  " JOIN sessions s ON s.id = k.session_id" \
                  " WHERE s.user_id = ?1 AND k.session_id = ?2", \
    [Q_DEV_NEWEST] = "SELECT k.session_id FROM device_keys k JOIN sessions s" \
                     " ON s.id = k.session_id WHERE s.user_id = ?1" \
                     " ORDER BY k.session_id DESC LIMIT 1", \
    [Q_SENT_GET] = "SELECT id, date FROM secret_sent WHERE from_device = ?1 AND random_id = ?2", \
    [Q_SENT_INSERT] = "INSERT INTO secret_sent(from_device, random_id, id, date)" \
                      " VALUES(?1, ?2, ?3, ?4)", \
    [Q_ENV_INSERT] = "INSERT INTO secret_inbox(to_device, from_user, from_device, secret_chat," \
                     " random_id, size, date, key_id, envelope)" \
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", \
    [Q_ENV_INBOX] = "SELECT i.id, i.from_user, u.username, i.from_device, i.secret_chat," \
                    " i.date, i.envelope, k.k FROM secret_inbox i" \
                    " JOIN users u ON u.id = i.from_user LEFT JOIN msg_keys k ON k.id = i.key_id" \
                    " WHERE i.to_device = ?1 AND i.id > ?2 ORDER BY i.id LIMIT ?3", \
    [Q_ENV_ACK] = "DELETE FROM secret_inbox WHERE id = ?1 AND to_device = ?2", \
    [Q_SENT_PRUNE] = "DELETE FROM secret_sent WHERE (from_device, random_id) IN" \
                     " (SELECT from_device, random_id FROM secret_sent WHERE date < ?1" \
                     " ORDER BY date LIMIT 4)", \
    [Q_ENV_SENDER] = "SELECT count(*), coalesce(sum(size), 0) FROM secret_inbox" \
                     " WHERE to_device = ?1 AND from_user = ?2", \
    [Q_ENV_EXPIRE] = "DELETE FROM secret_inbox WHERE id IN (SELECT id FROM secret_inbox" \
                     " WHERE date < ?1 ORDER BY date LIMIT ?2)", \
    [Q_OTK_GIVEN_GET] = "SELECT otk_hour, otk_given FROM device_keys WHERE session_id = ?1", \
    [Q_OTK_GIVEN_SET] = "UPDATE device_keys SET otk_hour = ?2, otk_given = ?3" \
                        " WHERE session_id = ?1"

#endif
