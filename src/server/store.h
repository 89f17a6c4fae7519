/*
 * store.h: the storage interface of parleyd.
 *
 * Everything parleyd keeps on disk goes through this interface; no SQL exists outside the
 * backend that implements it (today store_sqlite.c; a PostgreSQL backend later implements the
 * same functions). The interface speaks in plain C structs, not protobuf, so a backend knows
 * nothing of the wire.
 *
 * Threading: a store handle is used by exactly one thread (the store thread, see
 * storeq.c). Calls block on disk; that is why they never run on the network thread.
 *
 * Transactions and group commit: the caller brackets a batch of operations with
 * store_batch_begin() / store_batch_commit(). Each operation inside runs in its own savepoint:
 * if it fails, its partial writes are rolled back and the batch goes on. Nothing is durable
 * (and no result may be sent to a client) until store_batch_commit() returned STORE_OK, which
 * means the batch reached stable storage (fsync). One commit covers many requests.
 *
 * Memory: every out-parameter that points to heap memory is owned by the caller and freed
 * with the matching store_*_free() function. Input pointers are borrowed for the call only.
 *
 * Deleted means gone: a message deleted for everyone or expired, and the earlier text of an
 * edited message, must leave no readable bytes in the backend's files (database, WAL, indexes,
 * update log). The update log therefore refers to messages by (chat_id, id) and never copies
 * their text. store_scrub() finishes the job for anything the backend could not overwrite
 * in place (for SQLite: checkpoint and truncate the WAL); the caller runs it after each batch
 * that deleted or edited something.
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Result codes. Map 1:1 onto wire errors in dispatch.c. */
typedef enum {
    STORE_OK = 0,
    STORE_ERR_INTERNAL,        /* I/O or database failure; the op changed nothing */
    STORE_ERR_EXISTS,          /* e.g. username taken */
    STORE_ERR_NO_USER,
    STORE_ERR_NO_CHAT,         /* no such chat or caller is not a member */
    STORE_ERR_NO_MESSAGE,
    STORE_ERR_FORBIDDEN,       /* not own message / not admin / not creator */
    STORE_ERR_LIMIT,           /* member limit reached */
    STORE_ERR_INVALID,         /* argument the backend rejects (e.g. reply_to unknown) */
    STORE_ERR_NO_SESSION,
    STORE_ERR_FULL,            /* the disk is full (SQLITE_FULL); the op changed nothing */
} store_rc;

#define STORE_MAX_GROUP_MEMBERS 1000
#define STORE_MAX_HISTORY       200
#define STORE_MAX_DIFFERENCE    1000
/* store_get_difference() stops loading once the message texts it has kept reach this many
 * bytes: a page of long messages is cut to PAGE_MAX_BYTES (validate.h) of encoded entries
 * anyway, where the exact sizes are known (req_chat.c), and without this bound the store
 * would read up to 1000 x 16 KiB of text per call only for most of it to be dropped. Texts
 * are a lower bound of the encoded size, so this never cuts before the exact budget would. */
#define STORE_DIFF_TEXT_BYTES   (1u << 20)

enum { STORE_CHAT_PRIVATE = 1, STORE_CHAT_GROUP = 2 };
enum { STORE_ROLE_NONE = 0, STORE_ROLE_MEMBER = 1, STORE_ROLE_ADMIN = 2, STORE_ROLE_CREATOR = 3 };
enum { STORE_MSG_TEXT = 0, STORE_MSG_SERVICE = 1, STORE_MSG_CALL = 2 };
/* A CALL message keeps its CallInfo in the service columns: service_action = outcome
 * (parley.CallOutcome numbers), service_seconds = duration, service_role = 1 for video. */
/* Service actions: same numbers as parley.ServiceAction. */
enum {
    STORE_SVC_NONE = 0, STORE_SVC_GROUP_CREATED, STORE_SVC_MEMBERS_ADDED, STORE_SVC_MEMBER_REMOVED,
    STORE_SVC_MEMBER_LEFT, STORE_SVC_TITLE_CHANGED, STORE_SVC_AUTODELETE_CHANGED,
    STORE_SVC_ROLE_CHANGED,
};

typedef struct {
    int64_t id;
    char *username;            /* lower case */
    char *pwhash;              /* Argon2id encoded string (crypto_pwhash_str) */
} store_user;

typedef struct {
    int64_t id;
    int64_t user_id;
    char *device;
    int64_t created;
    int64_t last_active;
} store_session;

typedef struct {
    int64_t id;
    char *username;
} store_user_ref;

typedef struct {
    int64_t chat_id;
    int64_t id;
    int64_t from_user;
    char *from_username;
    char *text;                /* NUL-terminated UTF-8; "" for service messages */
    int64_t date;
    int64_t edit_date;
    int64_t reply_to;
    uint32_t ttl;
    int64_t expires_at;
    uint64_t random_id;
    int kind;                  /* STORE_MSG_* */
    int service_action;        /* STORE_SVC_* */
    store_user_ref *service_users;
    size_t n_service_users;
    char *service_title;       /* NULL when unused */
    uint32_t service_seconds;
    int service_role;
} store_msg;

/* A chat as seen by one account (unread, roles and read markers are per viewer). */
typedef struct {
    int64_t id;
    int kind;                  /* STORE_CHAT_* */
    char *title;               /* group title, or the peer's username for private chats */
    uint32_t member_count;
    uint32_t unread;
    int64_t top_message_id;
    store_msg *last_message;   /* NULL if the chat shows no message to this viewer */
    uint32_t auto_delete;
    int64_t read_inbox_max_id;
    int64_t read_outbox_max_id;
    int64_t peer_user_id;
    int my_role;
    int64_t created;
} store_chat;

typedef struct {
    int64_t user_id;
    char *username;
    int role;
    int64_t joined;
} store_member;

/* Update kinds: same meaning as the oneof in parley.Update. */
typedef enum {
    STORE_UPD_NEW_MESSAGE = 1,
    STORE_UPD_EDIT_MESSAGE,
    STORE_UPD_DELETE_MESSAGES,
    STORE_UPD_HIDE_MESSAGES,
    STORE_UPD_READ,
    STORE_UPD_CHAT,
    STORE_UPD_CHAT_REMOVED,
    STORE_UPD_SESSION_ENDED,
} store_upd_kind;

/*
 * One update, as stored in an account's log and as returned by store_get_difference().
 * Which fields are set depends on kind:
 *   NEW_MESSAGE/EDIT_MESSAGE: msg (current content; the log never holds text itself)
 *   DELETE_MESSAGES/HIDE_MESSAGES: chat_id, ids
 *   READ: chat_id, by_user, by_username, max_id
 *   CHAT: chat (as seen by the owning account), CHAT_REMOVED: chat_id
 *   SESSION_ENDED: session_id
 */
typedef struct {
    uint64_t pts;
    int64_t date;
    store_upd_kind kind;
    int64_t chat_id;
    store_msg *msg;
    int64_t *ids;
    size_t n_ids;
    int64_t by_user;
    char *by_username;
    int64_t max_id;
    store_chat *chat;
    int64_t session_id;
} store_update;

/*
 * Fan-out produced by a mutation: the same change appended to several accounts' logs.
 * For update kinds whose content differs per viewer (CHAT: unread, role), `per_account`
 * holds one store_update per account; otherwise `update` is shared and only pts differ.
 * accounts[i] got pts[i]. The caller pushes each to the online sessions of accounts[i].
 */
typedef struct {
    store_update update;       /* shared content; update.pts is unused (see pts[]) */
    store_update *per_account; /* NULL, or n_accounts entries (then `update` is unused) */
    int64_t *accounts;
    uint64_t *pts;
    size_t n_accounts;
} store_fanout;

/* A list of fan-outs; most operations produce one or two (e.g. a service message plus the
 * chat change). */
typedef struct {
    store_fanout *items;
    size_t n;
} store_fanouts;

/* ---- lifecycle ------------------------------------------------------------------------ */

/* Opens (creating or migrating) the store in directory `dir`. On failure returns NULL and
 * writes a one-line reason into err. */
store *store_open(const char *dir, char *err, size_t errlen);
void store_close(store *s);

store_rc store_batch_begin(store *s);
store_rc store_batch_commit(store *s);     /* durable on return STORE_OK */
void store_batch_rollback(store *s);

/* Where the last batch's begin and commit spent their time, in microseconds, so that the
 * store thread can name the cause of a slow batch. A backend fills what it can tell apart
 * and leaves the rest 0. */
typedef struct {
    int64_t begin_us;          /* opening the transaction (write lock, read snapshot) */
    int64_t commit_us;         /* the whole commit, everything below included */
    int64_t sync_us;           /* of it: writing the log and waiting for stable storage */
    int64_t ckpt_us;           /* of it: a checkpoint the commit had to run itself */
    int64_t log_frames;        /* SQLite: frames in the WAL after the commit */
    int64_t pages_read;        /* pages the batch read from the files (not in the cache) */
} store_batch_timing;
void store_batch_timing_get(const store *s, store_batch_timing *t);

/* The backend's own background work (SQLite: the checkpointer thread's passes) since the
 * previous call, for the store thread's periodic statistics line; any thread. A backend
 * without background work leaves it zero. */
typedef struct {
    int64_t passes;            /* background passes finished */
    int64_t busy_us;           /* their total time */
    int64_t max_us;            /* the longest */
    int64_t frames;            /* log frames they copied into the database file */
} store_bg_stats;
void store_bg_stats_take(store *s, store_bg_stats *out);

/* Per-operation savepoints inside a batch (the store queue wraps each op in these). */
store_rc store_op_begin(store *s);
void store_op_end(store *s, int ok);       /* ok != 0: keep; 0: roll the op back */

/* Removes every trace of deleted/overwritten content the backend could not overwrite in
 * place. Must not be called inside a batch. */
store_rc store_scrub(store *s);

/* ---- accounts and sessions ------------------------------------------------------------ */

store_rc store_user_create(store *s, const char *username, const char *pwhash, int64_t now,
                           int64_t *user_id);
/* Invite codes (registration = invite), kept as the SHA-256 of the code. Add: a new unused
 * code (STORE_ERR_EXISTS if it is there already). Use: consumes it: STORE_OK, or
 * STORE_ERR_FORBIDDEN when no such unused code exists. */
store_rc store_invite_add(store *s, const uint8_t code_hash[32], int64_t now);
store_rc store_invite_use(store *s, const uint8_t code_hash[32]);
store_rc store_user_by_name(store *s, const char *username, store_user *out);
store_rc store_user_by_id(store *s, int64_t id, store_user *out);
store_rc store_current_pts(store *s, int64_t user_id, uint64_t *pts);

store_rc store_session_create(store *s, int64_t user_id, const uint8_t token_hash[32],
                              const char *device, int64_t now, int64_t *session_id);
/* Looks a session up by the hash of its token (a 256-bit random token needs no slow hash). */
store_rc store_session_by_token(store *s, const uint8_t token_hash[32], store_session *out);
store_rc store_session_touch(store *s, int64_t session_id, int64_t now);
store_rc store_session_list(store *s, int64_t user_id, store_session **out, size_t *n);
/* Deletes one session of user_id (session_id > 0) or all but keep_id (session_id == 0).
 * Writes the ended ids (caller frees) and appends SESSION_ENDED to the account's log. */
store_rc store_session_delete(store *s, int64_t user_id, int64_t session_id, int64_t keep_id,
                              int64_t now, int64_t **ended, size_t *n_ended, store_fanouts *fo);

/* ---- chats ---------------------------------------------------------------------------- */

store_rc store_private_chat(store *s, int64_t me, int64_t peer, int64_t now, store_chat *out,
                            store_fanouts *fo);
store_rc store_group_create(store *s, int64_t creator, const char *title, const int64_t *members,
                            size_t n_members, int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_group_add(store *s, int64_t actor, int64_t chat_id, const int64_t *users, size_t n,
                         int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_group_remove(store *s, int64_t actor, int64_t chat_id, const int64_t *users,
                            size_t n, int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_group_leave(store *s, int64_t actor, int64_t chat_id, int64_t now,
                           store_fanouts *fo);
store_rc store_group_rename(store *s, int64_t actor, int64_t chat_id, const char *title,
                            int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_group_set_role(store *s, int64_t actor, int64_t chat_id, int64_t user, int role,
                              int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_chat_set_autodelete(store *s, int64_t actor, int64_t chat_id, uint32_t seconds,
                                   int64_t now, store_chat *out, store_fanouts *fo);
store_rc store_chat_get(store *s, int64_t viewer, int64_t chat_id, store_chat *out);
store_rc store_chat_list(store *s, int64_t viewer, store_chat **out, size_t *n);
store_rc store_chat_members(store *s, int64_t viewer, int64_t chat_id, store_member **out,
                            size_t *n);

/* ---- messages ------------------------------------------------------------------------- */

/* Sends a text message. ttl 0 means "use the chat's auto-delete timer". A repeated
 * (sender, chat, random_id) returns the first message with *duplicate = 1 and no fan-out.
 * *sender_pts receives the pts of the sender's own NEW_MESSAGE update. */
store_rc store_message_send(store *s, int64_t sender, int64_t chat_id, const char *text,
                            int64_t reply_to, uint32_t ttl, uint64_t random_id, int64_t now,
                            store_msg *out, uint64_t *sender_pts, int *duplicate,
                            store_fanouts *fo);
store_rc store_message_edit(store *s, int64_t editor, int64_t chat_id, int64_t id,
                            const char *text, int64_t now, store_msg *out, uint64_t *editor_pts,
                            store_fanouts *fo);
/* for_everyone: own messages, or any for group admins/creator; physically removes them.
 * Otherwise hides them for `actor` only. Unknown ids are skipped; *deleted lists the rest. */
store_rc store_message_delete(store *s, int64_t actor, int64_t chat_id, const int64_t *ids,
                              size_t n, int for_everyone, int64_t now, int64_t **deleted,
                              size_t *n_deleted, uint64_t *actor_pts, store_fanouts *fo);
/* max_id 0 = the chat's newest. Starts private-chat TTL timers of messages now read. */
store_rc store_read(store *s, int64_t reader, int64_t chat_id, int64_t max_id, int64_t now,
                    int64_t *read_max, uint64_t *reader_pts, store_fanouts *fo);
/* Oldest first; before_id 0 = newest; limit 1..STORE_MAX_HISTORY. */
store_rc store_history(store *s, int64_t viewer, int64_t chat_id, int64_t before_id,
                       uint32_t limit, store_msg **out, size_t *n);

/* Deletes (for everyone) every message whose expires_at <= now, at most `max` of them.
 * *next_expiry receives the earliest expires_at still pending (0 = none). */
store_rc store_expire(store *s, int64_t now, size_t max, size_t *n_expired, int64_t *next_expiry,
                      store_fanouts *fo);

/* ---- calls (store_sqlite_calls.c) ------------------------------------------------------ */

/* Appends a call's history entry (kind CALL, from `caller`) to private chat chat_id and fans
 * NEW_MESSAGE out to both members. NO_CHAT unless caller is a member of that private chat. */
store_rc store_call_record(store *s, int64_t chat_id, int64_t caller, int outcome,
                           uint32_t duration, int video, int64_t now, store_fanouts *fo);
/* The same for a group call (opened, or ended after `duration` s) in any chat kind: NO_CHAT
 * unless `from` is a member of chat_id. */
store_rc store_group_call_record(store *s, int64_t chat_id, int64_t from, int outcome,
                                 uint32_t duration, int64_t now, store_fanouts *fo);
/* The account's "always relay calls" setting (0 when never set). */
store_rc store_call_settings_get(store *s, int64_t user_id, int *always_relay);
store_rc store_call_settings_set(store *s, int64_t user_id, int always_relay);

/* ---- sync ----------------------------------------------------------------------------- */

/* Updates of `user_id` with pts > since, ordered, at most limit, and no more once their
 * texts reach STORE_DIFF_TEXT_BYTES. Entries whose message no longer exists are skipped.
 * *pts = position covered; *more = 1 if more remain. */
store_rc store_get_difference(store *s, int64_t user_id, uint64_t since, uint32_t limit,
                              store_update **out, size_t *n, uint64_t *pts, int *more);

/* ---- freeing -------------------------------------------------------------------------- */

void store_user_free(store_user *u);
void store_session_free(store_session *x);
void store_sessions_free(store_session *v, size_t n);
void store_msg_free(store_msg *m);         /* frees the contents, not m itself */
void store_msgs_free(store_msg *v, size_t n);
void store_chat_free(store_chat *c);       /* contents only */
void store_chats_free(store_chat *v, size_t n);
void store_members_free(store_member *v, size_t n);
void store_update_free(store_update *u);   /* contents only */
void store_updates_free(store_update *v, size_t n);
void store_fanouts_free(store_fanouts *fo);/* contents only; leaves fo empty */

/* ---- secret chats: device keys and envelope inboxes ----------------------------------- */
#include "store_secret.h"

#endif
