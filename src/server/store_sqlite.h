/*
 * store_sqlite.h: private header shared by the SQLite backend of store.h
 * (store_sqlite.c: lifecycle, schema, statements, update log, freeing;
 *  store_sqlite_users.c: accounts and sessions; store_sqlite_chats.c: chats and groups;
 *  store_sqlite_msgs.c: messages, read markers, history, expiry and sync;
 *  store_sqlite_ckpt.c: WAL checkpoints on a thread of their own;
 *  store_sqlite_pts.c: the accounts' update positions, cached by the writer).
 * Nothing outside these files includes it.
 *
 * Conventions used by every backend file:
 *   - All SQL lives in the statement table of store_sqlite.c, indexed by the Q_* enum below,
 *     and is prepared once per handle (SQLITE_PREPARE_PERSISTENT), so hot paths never parse
 *     SQL. sq_get() hands out a reset statement; the user must sq_done() it before any other
 *     code could sq_get() the same Q_* (a reset statement also releases its read snapshot,
 *     which store_scrub's TRUNCATE checkpoint needs).
 *   - Every mutating function runs inside mut_begin()/mut_end(): a savepoint of its own, so
 *     any failure (SQLite error or a rule violated half-way) leaves the database unchanged and
 *     drops the fan-outs the function had appended, whatever the caller's batching.
 */
#ifndef PARLEY_STORE_SQLITE_H
#define PARLEY_STORE_SQLITE_H

#include <sqlite3.h>
#include <stdint.h>

#include "store.h"
#include "store_sqlite_secret.h"

enum {
    /* transactions */
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_OP_BEGIN, Q_OP_RELEASE, Q_OP_ROLLBACK,
    Q_MUT_BEGIN, Q_MUT_RELEASE, Q_MUT_ROLLBACK,
    /* users and sessions */
    Q_USER_INSERT, Q_USER_BY_NAME, Q_USER_BY_ID, Q_USER_PTS, Q_USERNAME,
    Q_SESSION_INSERT, Q_SESSION_BY_TOKEN, Q_SESSION_TOUCH, Q_SESSION_LIST, Q_SESSION_OWNED,
    Q_SESSION_OTHERS, Q_SESSION_DELETE,
    /* update log */
    Q_LOG_TOP, Q_LOG_INSERT, Q_MEMBER_IDS, Q_DIFF,
    /* chats and members */
    Q_ACCESS, Q_CHAT_INSERT, Q_PRIVATE_FIND, Q_CHAT_ALLOC_ID, Q_CHAT_MAX_ID, Q_CHAT_SET_TITLE,
    Q_CHAT_SET_AUTODELETE, Q_CHAT_COUNT_ADJ, Q_CHAT_LIST, Q_UNREAD, Q_READ_OUTBOX,
    Q_MEMBER_INSERT, Q_MEMBER_DELETE, Q_MEMBER_ROLE, Q_MEMBER_SET_ROLE, Q_MEMBER_SET_READ,
    Q_MEMBER_LIST, Q_SUCCESSOR,
    /* messages */
    Q_MSG_GET, Q_MSG_BY_RANDOM, Q_MSG_VISIBLE, Q_HISTORY, Q_MSG_OWNER, Q_MSG_INSERT,
    Q_MSG_EDIT, Q_KEY_INSERT, Q_MSG_DELETE, Q_HIDE, Q_TTL_START, Q_READ_SENDERS, Q_EXPIRE_DUE, Q_EXPIRE_NEXT,
    /* secret chats (store_sqlite_secret.h) */
    SECRET_Q_ENUM,
    /* calls */
    Q_CALL_SETTINGS_GET, Q_CALL_SETTINGS_SET,
    /* invite codes */
    Q_INVITE_INSERT, Q_INVITE_USE,
    Q_COUNT
};

/* ---- checkpointer (store_sqlite_ckpt.c) ---- */
typedef struct ckpt ckpt;
/* Opens a second connection to path and starts the thread; NULL with err filled. */
ckpt *ckpt_start(const char *path, char *err, size_t errlen);
/* Makes the writer's commits drive the checkpointer (and replaces its autocheckpoint). */
void ckpt_attach(ckpt *k, sqlite3 *writer);
/* The WAL's cycle in frames (default 65,536 = 256 MiB); tests make it short. Writer
 * thread, before the first commit. */
void ckpt_set_cycle(ckpt *k, int reset_frames);
/* Stops the thread, closes its connection, frees k (NULL is fine). */
void ckpt_stop(ckpt *k);
/* CLOCK_MONOTONIC in microseconds: the batch timings and the WAL hook's timestamps. */
int64_t sqlite_monotonic_us(void);
/* What the WAL hook saw at the writer's last COMMIT; writer thread only. */
typedef struct {
    int64_t hook_at_us;        /* CLOCK_MONOTONIC when the hook ran: the frames were synced */
    int64_t ckpt_us;           /* spent in the writer's own checkpoint inside the hook */
    int frames;                /* frames in the WAL after the COMMIT */
} ckpt_commit_info;
void ckpt_last_commit(const ckpt *k, ckpt_commit_info *out);
/* The thread's passes since the previous call (store_bg_stats_take); any thread. */
void ckpt_take_stats(ckpt *k, store_bg_stats *out);

/* ---- update positions (store_sqlite_pts.c) ---- */
typedef struct { int64_t acc; uint64_t pts; } pts_slot;          /* acc 0 = empty */
typedef struct { int64_t acc; uint64_t before; } pts_undo_entry;
typedef struct {
    pts_slot *slots;           /* open addressing, cap a power of two */
    size_t cap, used;
    pts_undo_entry *undo;      /* bumps not yet committed, oldest first */
    size_t n_undo, cap_undo;
} pts_cache;

#define MUT_DEPTH_MAX 16

struct store {
    sqlite3 *db;
    ckpt *ckpt;                /* checkpoints the WAL beside the writer */
    sqlite3_stmt *stmts[Q_COUNT];
    int in_batch;              /* inside store_batch_begin .. commit/rollback */
    store_batch_timing timing; /* of the last batch (store_batch_timing_get) */
    pts_cache pts;
    size_t op_pts_mark;        /* pts_mark() at store_op_begin */
    size_t mut_pts_mark[MUT_DEPTH_MAX];   /* pts_mark() of each open mut_begin */
    int mut_depth;
};

/* The account's current position (0 = no entry yet). */
store_rc pts_get(store *s, int64_t acc, uint64_t *pts);
/* Advances it by one inside the current transaction; *pts is the new entry's position. */
store_rc pts_bump(store *s, int64_t acc, uint64_t *pts);
/* Rollback support: a mark before a savepoint, undo back to it after a rollback, settle
 * when the outermost transaction committed. */
size_t pts_mark(const store *s);
void pts_undo(store *s, size_t mark);
void pts_settle(store *s);
void pts_cache_free(pts_cache *c);

/* ---- statements ---- */
sqlite3_stmt *sq_get(store *s, int q);      /* NULL on prepare failure */
void sq_done(sqlite3_stmt *st);             /* reset; NULL is fine */
/* Runs a statement that returns no rows (or ignores them). */
store_rc sq_run(store *s, int q);
/* Binds helpers that map SQLite failures to STORE_ERR_INTERNAL-friendly ints (0 = ok). */
int sq_text_or_null(sqlite3_stmt *st, int i, const char *v);
char *sq_strdup_col(sqlite3_stmt *st, int col);   /* NULL column -> "" ; NULL on OOM */

/* ---- mutation savepoints ---- */
store_rc mut_begin(store *s, store_fanouts *fo, size_t *mark);
/* Releases on rc == STORE_OK, else rolls back and frees fan-outs appended after mark. */
store_rc mut_end(store *s, store_rc rc, store_fanouts *fo, size_t mark);

/* ---- compact int64 lists (service users, deleted ids): little-endian 8 bytes each ---- */
int ids_bind(sqlite3_stmt *st, int i, const int64_t *ids, size_t n);
int ids_read(sqlite3_stmt *st, int col, int64_t **out, size_t *n);   /* 0 ok, -1 OOM/bad */

/* ---- update log ---- */
typedef struct {
    store_upd_kind kind;
    int64_t date;
    int64_t chat_id;
    int64_t msg_id;            /* NEW_MESSAGE / EDIT_MESSAGE */
    int64_t by_user;           /* READ */
    int64_t max_id;            /* READ */
    int64_t session_id;        /* SESSION_ENDED */
    const int64_t *ids;        /* DELETE / HIDE */
    size_t n_ids;
} logrow;

/* Appends an empty fan-out to fo; NULL on OOM. */
store_fanout *fo_push(store_fanouts *fo);
/* Appends r to the logs of every current member of chat_id (two statements whatever the
 * member count) and records accounts/pts in f. */
store_rc log_to_members(store *s, int64_t chat_id, const logrow *r, store_fanout *f);
/* Appends r to the logs of the given accounts. */
store_rc log_to_accounts(store *s, const int64_t *acc, size_t n, const logrow *r,
                         store_fanout *f);
/* Fills f->update from r (shared content, without msg/chat). */
store_rc fo_fill_shared(store_fanout *f, const logrow *r, const char *by_username);
/* Turns a logged CHAT fan-out into per-account updates, each chat built for its account. */
store_rc fo_build_chats(store *s, store_fanout *f);
/* Removes the last fan-out of fo if it reached nobody (e.g. a group without members). */
void fo_drop_if_empty(store_fanouts *fo);
/* Sorted copy of ids without duplicates and without `exclude`; NULL *out when k == 0. */
store_rc uniq_ids(const int64_t *in, size_t n, int64_t exclude, int64_t **out, size_t *k);
/* pts of the account in a fan-out, 0 if absent. */
uint64_t fo_pts_of(const store_fanout *f, int64_t account);

/* ---- shared reads ---- */
typedef struct {
    int kind;
    int role;
    uint32_t member_count;
    uint32_t auto_delete;
    int64_t user_a, user_b;    /* private chats: the two members, lower id first */
    int64_t top_id;            /* last message id handed out */
    int64_t read_inbox;
    int64_t created;
} chat_access;
/* The caller's view of a chat; STORE_ERR_NO_CHAT unless user is a member. */
store_rc chat_access_get(store *s, int64_t user, int64_t chat_id, chat_access *ca);
/* The per-viewer chat (title, unread, markers, last visible message); NO_CHAT for
 * non-members. */
store_rc chat_build(store *s, int64_t viewer, int64_t chat_id, store_chat *out);
/* Reads a message row laid out as MSG_SELECT; decrypts the text. viewer: random_id is
 * cleared unless viewer is the sender (-1 keeps it). */
store_rc msg_from_row(store *s, sqlite3_stmt *st, int64_t viewer, store_msg *out);
/* Username of a user (caller frees); NO_USER if unknown. */
store_rc user_name(store *s, int64_t id, char **out);
/* The account's last log position; NO_USER if unknown (also the "user exists" check). */
store_rc current_pts(store *s, int64_t user_id, uint64_t *pts);

/* What a service message says (see the STORE_SVC_* comments in parley.proto). */
typedef struct {
    int action;
    const int64_t *users;
    size_t n_users;
    const char *title;
    uint32_t seconds;
    int role;
    int kind;                  /* STORE_MSG_SERVICE when 0; STORE_MSG_CALL for call entries */
} svc_spec;
/* Posts a service message by `actor` and fans NEW_MESSAGE out to the current members. */
store_rc service_post(store *s, int64_t chat_id, int64_t actor, const svc_spec *v, int64_t now,
                      store_fanouts *fo);
/* Deletes existing messages ids[0..n) of chat_id for everyone and fans DELETE_MESSAGES out to
 * the members (no permission checks: callers decide). */
store_rc msgs_delete_everyone(store *s, int64_t chat_id, const int64_t *ids, size_t n,
                              int64_t now, store_fanouts *fo);

/* Column list read by msg_from_row; prefix for every message SELECT. */
#define MSG_SELECT \
    "SELECT m.chat_id, m.id, m.from_user, u.username, m.body, m.date, m.edit_date, " \
    "m.reply_to, m.ttl, m.expires_at, m.random_id, m.kind, m.svc_action, m.svc_users, " \
    "m.svc_title, m.svc_seconds, m.svc_role, m.from_pts, k.k " \
    "FROM messages m JOIN users u ON u.id = m.from_user " \
    "LEFT JOIN msg_keys k ON k.id = m.key_id "
#define MSG_COL_FROM_PTS 17
#define MSG_COL_KEY 18

/* ---- message text (and secret-chat envelopes) at rest ---- */
/* Encrypts len bytes under a fresh single-use key stored in msg_keys (XChaCha20, zero
 * nonce); *key_id names the key, *body (caller frees) holds the len bytes of ciphertext. */
store_rc bytes_seal(store *s, const unsigned char *in, size_t len, int64_t *key_id,
                    unsigned char **body);
/* Encrypts text under a fresh single-use key stored in msg_keys; *key_id names it, *body
 * (caller frees) holds the ciphertext. Empty text is stored as-is without a key. */
store_rc text_seal(store *s, const char *text, int64_t *key_id, unsigned char **body,
                   size_t *len);
/* Decrypts column `col` of st with the key in column `kcol`; NULL on OOM or bad data. */
char *text_open(sqlite3_stmt *st, int col, int kcol);

#endif
