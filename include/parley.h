/*
 * parley.h: libparley, the Parley client library. This is its only public header.
 *
 * A parley_client is one device of one account: it owns a profile directory (the device's
 * session token, the server it talks to, the certificate it trusts, its sync position) and
 * one TLS WebSocket connection to parleyd.
 *
 * Threading: the library starts no threads. A parley_loop drives the network for any number
 * of clients; a client and its loop are used from one thread at a time. The blocking calls
 * (everything without _async) run the client's loop until their answer arrives, so a program
 * with one client never touches the loop. parley_loop_wakeup() is the only call that is safe
 * from another thread.
 *
 * Memory: objects returned through out-parameters are owned by the caller and freed with the
 * matching parley_*_free(). Strings passed in are borrowed for the call only.
 *
 * Errors: every call that can fail returns 0 on success or a negative parley_code and, if
 * `err` is not NULL, fills it. Server-side errors keep the server's code (positive numbers
 * in parley.proto's ErrorCode are returned negated, e.g. -PARLEY_E_USER_NOT_FOUND).
 *
 * Versioning: the API and ABI only grow; a field is never removed from a public struct and
 * new fields are only appended to structs the library allocates.
 */
#ifndef PARLEY_H
#define PARLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PARLEY_VERSION "0.1.0"

/* Marks the exported functions: libparley.so is built with -fvisibility=hidden, so only the
 * declarations below are visible to programs linking it. */
#if defined(PARLEY_BUILDING_SO)
#define PARLEY_API __attribute__((visibility("default")))
#else
#define PARLEY_API
#endif

/* Error codes. 1..99 mirror parley.proto's ErrorCode; 100+ happen on the client side. */
typedef enum {
    PARLEY_OK = 0,
    PARLEY_E_BAD_REQUEST = 1,
    PARLEY_E_UNSUPPORTED_VERSION = 2,
    PARLEY_E_UNKNOWN_REQUEST = 3,
    PARLEY_E_NOT_AUTHENTICATED = 4,
    PARLEY_E_ALREADY_AUTHENTICATED = 5,
    PARLEY_E_INVALID_CREDENTIALS = 6,
    PARLEY_E_USERNAME_INVALID = 7,
    PARLEY_E_USERNAME_TAKEN = 8,
    PARLEY_E_PASSWORD_INVALID = 9,
    PARLEY_E_FLOOD_WAIT = 10,
    PARLEY_E_USER_NOT_FOUND = 11,
    PARLEY_E_CHAT_NOT_FOUND = 12,
    PARLEY_E_MESSAGE_NOT_FOUND = 13,
    PARLEY_E_FORBIDDEN = 14,
    PARLEY_E_TEXT_INVALID = 15,
    PARLEY_E_TOO_LARGE = 16,
    PARLEY_E_LIMIT_REACHED = 17,
    PARLEY_E_SESSION_TERMINATED = 18,
    PARLEY_E_INTERNAL = 19,
    PARLEY_E_BUSY = 20,
    PARLEY_E_TITLE_INVALID = 21,
    PARLEY_E_DEVICE_NOT_FOUND = 30,      /* no such device of that user, or it has no keys */
    PARLEY_E_IDENTITY_KEY_CHANGED = 31,  /* secret chat: the peer's identity key changed;
                                            parley_secret_accept_key() before sending */
    PARLEY_E_KEYS_INVALID = 32,          /* malformed keys or signature */

    PARLEY_E_ARGUMENT = 100,     /* bad argument to a library call */
    PARLEY_E_CONNECT = 101,      /* server unreachable / connection lost */
    PARLEY_E_TLS_UNTRUSTED = 102,/* certificate not trusted; parley_error.fingerprint is set */
    PARLEY_E_TIMEOUT = 103,
    PARLEY_E_PROFILE = 104,      /* profile directory unreadable / unwritable */
    PARLEY_E_NO_SESSION = 105,   /* the profile is not logged in */
    PARLEY_E_PROTOCOL = 106,     /* the server sent something this library cannot parse */
    PARLEY_E_NOMEM = 107,
    PARLEY_E_CHAT_CLOSED = 108,  /* secret chat closed (by either side): nothing can be sent */
} parley_code;

typedef struct {
    int code;                    /* a parley_code */
    char message[256];           /* one line, for people */
    uint32_t retry_after;        /* seconds, for FLOOD_WAIT / BUSY */
    char fingerprint[96];        /* TLS_UNTRUSTED: the server certificate's SHA-256,
                                    "AB:CD:..." */
} parley_error;

/* Short name of a code, e.g. "USER_NOT_FOUND"; never NULL. */
PARLEY_API const char *parley_code_name(int code);

/* ---- objects -------------------------------------------------------------------------- */

typedef enum { PARLEY_CHAT_PRIVATE = 1, PARLEY_CHAT_GROUP = 2 } parley_chat_kind;
typedef enum {
    PARLEY_ROLE_NONE = 0, PARLEY_ROLE_MEMBER = 1, PARLEY_ROLE_ADMIN = 2, PARLEY_ROLE_CREATOR = 3
} parley_role;

typedef struct {
    int64_t id;
    char *username;
} parley_user;

typedef struct {
    int64_t chat_id;
    int64_t id;
    int64_t from_user;
    char *from_username;
    char *text;                  /* UTF-8; for service messages a rendered description */
    int64_t date;
    int64_t edit_date;           /* 0 = never */
    int64_t reply_to;            /* 0 = none */
    uint32_t ttl;                /* 0 = none */
    int64_t expires_at;          /* 0 = timer not started */
    int is_service;              /* 1: a chat event (member added, renamed, a call...) */
    int64_t secret_chat;         /* secret chat id (then chat_id is the same), 0 = cloud */
} parley_message;

typedef struct {
    int64_t id;
    parley_chat_kind kind;
    char *title;                 /* group title or the peer's username */
    uint32_t member_count;
    uint32_t unread;
    int64_t top_message_id;
    parley_message *last_message;/* NULL if none */
    uint32_t auto_delete;        /* seconds, 0 = off */
    int64_t read_inbox_max_id;
    int64_t read_outbox_max_id;
    int64_t peer_user_id;
    parley_role my_role;
} parley_chat;

typedef struct {
    parley_user user;
    parley_role role;
    int64_t joined;
} parley_member;

typedef struct {
    int64_t id;
    char *device;
    int64_t created;
    int64_t last_active;
    int current;
} parley_session;

typedef enum {
    PARLEY_UPDATE_MESSAGE = 1,   /* u.message */
    PARLEY_UPDATE_EDIT,          /* u.message */
    PARLEY_UPDATE_DELETE,        /* chat_id, ids: deleted for everyone or expired */
    PARLEY_UPDATE_HIDE,          /* chat_id, ids: deleted for this account only */
    PARLEY_UPDATE_READ,          /* chat_id, read_by, max_id */
    PARLEY_UPDATE_CHAT,          /* u.chat: created or changed */
    PARLEY_UPDATE_CHAT_REMOVED,  /* chat_id */
    PARLEY_UPDATE_SESSION_ENDED, /* session_id */
    PARLEY_UPDATE_SECRET_MESSAGE,/* u.message (secret_chat set): arrived on this device */
    PARLEY_UPDATE_SECRET_DELETE, /* chat_id = secret chat, ids: deleted by the peer */
    PARLEY_UPDATE_SECRET_CHAT,   /* u.secret: a secret chat appeared, changed or closed */
    PARLEY_UPDATE_SECRET_SAS,    /* u.sas: an interactive verification moved on */
} parley_update_kind;

typedef enum {
    PARLEY_SECRET_PENDING = 1,   /* started here; the peer device has not answered yet */
    PARLEY_SECRET_ACTIVE = 2,
    PARLEY_SECRET_CLOSED = 3,    /* keys and messages wiped on this device */
} parley_secret_state;

/* A secret chat: end to end encrypted between this device and one device of the peer. */
typedef struct {
    int64_t id;                  /* the same on both devices */
    int64_t peer_user_id;
    char *peer_username;
    int64_t peer_device;
    parley_secret_state state;
    uint32_t timer;              /* self-destruct seconds after reading, 0 = off */
    int verified;                /* marked verified on this device */
    int key_changed;             /* the peer's identity key changed: sending is refused
                                    until parley_secret_accept_key() */
    int64_t created;
} parley_secret_chat;

/* Interactive verification of a secret chat (docs/SECRET_CHATS.md, "Interactive
 * verification"): both devices online, the starter commits to its ephemeral key, the other
 * answers with its own, the starter reveals; both show the same 7 emoji (42 bits) only if
 * nobody in between substituted a key, and a man in the middle gets one guess per run. */
typedef enum {
    PARLEY_SAS_NONE = 0,
    PARLEY_SAS_REQUESTED = 1,    /* the peer started one: parley_secret_sas_accept() */
    PARLEY_SAS_STARTED = 2,      /* started here, waiting for the peer's key */
    PARLEY_SAS_ACCEPTED = 3,     /* accepted here, waiting for the starter's reveal */
    PARLEY_SAS_SHOW = 4,         /* emoji ready: the users compare, then
                                    parley_secret_sas_confirm() on both devices */
    PARLEY_SAS_CONFIRMED = 5,    /* confirmed here, waiting for the peer's confirmation */
    PARLEY_SAS_DONE = 6,         /* both confirmed: the chat is marked verified */
    PARLEY_SAS_CANCELLED = 7,    /* ended without marking anything: see cancel_code */
} parley_sas_state;

typedef enum {
    PARLEY_SAS_C_MISMATCH = 1,   /* a user said the emoji differ */
    PARLEY_SAS_C_TIMEOUT = 2,    /* no answer within PARLEY_SAS_TIMEOUT (or the caller's) */
    PARLEY_SAS_C_COMMITMENT = 3, /* the revealed key does not open the commitment */
    PARLEY_SAS_C_MAC = 4,        /* the peer's confirmation does not verify */
    PARLEY_SAS_C_UNEXPECTED = 5, /* a verification message out of order or of another run */
    PARLEY_SAS_C_USER = 6,       /* cancelled by a user */
    PARLEY_SAS_C_BOTH_STARTED = 7, /* both devices started at once: start again on one */
    PARLEY_SAS_C_BAD_KEY = 8,    /* the peer's ephemeral key is invalid */
    PARLEY_SAS_C_BUSY = 9,       /* the peer device is verifying another chat */
} parley_sas_cancel;

#define PARLEY_SAS_TIMEOUT 600   /* seconds a run may take at most, from its start */

typedef struct {
    int64_t chat_id;
    parley_sas_state state;
    char emoji[32];              /* SHOW, CONFIRMED, DONE: 7 emoji, UTF-8, NUL-terminated */
    int cancel_code;             /* CANCELLED: a parley_sas_cancel */
    int by_peer;                 /* CANCELLED: 1 if the peer device ended it */
    char reason[96];             /* CANCELLED: one line, for people */
} parley_sas;

typedef struct {
    parley_update_kind kind;
    uint64_t pts;
    int64_t date;
    int64_t chat_id;
    parley_message *message;
    parley_chat *chat;
    int64_t *ids;
    size_t n_ids;
    parley_user read_by;
    int64_t max_id;
    int64_t session_id;
    parley_secret_chat *secret;  /* PARLEY_UPDATE_SECRET_CHAT */
    parley_sas *sas;             /* PARLEY_UPDATE_SECRET_SAS */
} parley_update;

PARLEY_API void parley_message_free(parley_message *m);
PARLEY_API void parley_messages_free(parley_message *v, size_t n);  /* array from parley_history */
PARLEY_API void parley_chat_free(parley_chat *c);
PARLEY_API void parley_chats_free(parley_chat *v, size_t n);
PARLEY_API void parley_members_free(parley_member *v, size_t n);
PARLEY_API void parley_sessions_free(parley_session *v, size_t n);
PARLEY_API void parley_update_free(parley_update *u);
PARLEY_API void parley_user_free(parley_user *u);                  /* contents only */

/* ---- loop and client ------------------------------------------------------------------ */

typedef struct parley_loop parley_loop;
typedef struct parley_client parley_client;

/* A loop for many clients (benchmarks, bots). Most programs pass NULL to parley_open and
 * get a private loop. */
PARLEY_API parley_loop *parley_loop_new(parley_error *err);
/* Runs network work for all clients of the loop, waiting at most timeout_ms. */
PARLEY_API int parley_loop_run(parley_loop *loop, int timeout_ms);
/* Makes a parley_loop_run in another thread return early. Thread-safe. */
PARLEY_API void parley_loop_wakeup(parley_loop *loop);
PARLEY_API void parley_loop_free(parley_loop *loop);   /* after every client on it was closed */

typedef struct {
    const char *profile_dir;     /* required; created (mode 0700) if missing */
    const char *server_url;      /* "wss://host:port"; NULL = the one the profile remembers */
    const char *ca_file;         /* PEM to trust; NULL = the one the profile remembers, else the
                                    system store. Copied into the profile on first use. */
    const char *device_name;     /* for new sessions; NULL = "parley-cli on <hostname>" */
    const char *client_name;     /* sent in Hello; NULL = "libparley/" PARLEY_VERSION */
    int timeout_ms;              /* for blocking calls; 0 = 15000 */
    int ephemeral;               /* 1: keep nothing on disk (benchmarks); profile_dir may
                                    then be NULL */
} parley_options;

/* Opens the profile; does not connect. loop NULL = a private loop. */
PARLEY_API parley_client *parley_open(parley_loop *loop, const parley_options *opt,
                                      parley_error *err);
/* Saves the sync position, closes the connection and frees the client. */
PARLEY_API void parley_close(parley_client *c);

/* Connects (TLS, WebSocket, Hello) and, if the profile holds a session, resumes it.
 * Blocking calls connect on demand, so calling this is optional. */
PARLEY_API int parley_connect(parley_client *c, parley_error *err);
/* 1 if the profile holds a session (it may still have been terminated on the server). */
PARLEY_API int parley_logged_in(const parley_client *c);
/* The account of the profile's session (valid after a successful connect/login). */
PARLEY_API const parley_user *parley_me(const parley_client *c);

/* ---- accounts and sessions ------------------------------------------------------------ */

PARLEY_API int parley_register(parley_client *c, const char *username, const char *password,
                    parley_error *err);
/* Register on a server that asks for an invite code (its operator made it with
 * `parleyd --make-invite`); invite NULL or "" is parley_register. A missing, unknown or
 * used code fails with the server's FORBIDDEN. */
PARLEY_API int parley_register_invite(parley_client *c, const char *username,
                                      const char *password, const char *invite,
                                      parley_error *err);
PARLEY_API int parley_login(parley_client *c, const char *username, const char *password,
                 parley_error *err);
/* Ends this session on the server and forgets it locally. */
PARLEY_API int parley_logout(parley_client *c, parley_error *err);
PARLEY_API int parley_sessions(parley_client *c, parley_session **out, size_t *n,
                               parley_error *err);
/* session_id > 0: that session; 0: all but this one. */
PARLEY_API int parley_sessions_terminate(parley_client *c, int64_t session_id, int64_t **terminated,
                              size_t *n, parley_error *err);

/* ---- chats ---------------------------------------------------------------------------- */

/* "@username" (private chat, created if needed) or a decimal chat id. */
PARLEY_API int parley_resolve_chat(parley_client *c, const char *name, int64_t *chat_id,
                        parley_error *err);
PARLEY_API int parley_chats(parley_client *c, parley_chat **out, size_t *n, parley_error *err);
PARLEY_API int parley_chat_get(parley_client *c, int64_t chat_id, parley_chat **out,
                               parley_error *err);
/* usernames without '@' or with it; both are accepted. */
PARLEY_API int parley_group_create(parley_client *c, const char *title,
                                   const char *const *usernames, size_t n, parley_chat **out,
                                   parley_error *err);
PARLEY_API int parley_group_add(parley_client *c, int64_t chat_id, const char *const *usernames,
                                size_t n, parley_error *err);
PARLEY_API int parley_group_remove(parley_client *c, int64_t chat_id, const char *const *usernames,
                        size_t n, parley_error *err);
PARLEY_API int parley_group_leave(parley_client *c, int64_t chat_id, parley_error *err);
PARLEY_API int parley_group_rename(parley_client *c, int64_t chat_id, const char *title,
                        parley_error *err);
PARLEY_API int parley_group_set_role(parley_client *c, int64_t chat_id, const char *username,
                          parley_role role, parley_error *err);
PARLEY_API int parley_group_members(parley_client *c, int64_t chat_id, parley_member **out,
                                    size_t *n, parley_error *err);
/* seconds 0 = off. */
PARLEY_API int parley_chat_autodelete(parley_client *c, int64_t chat_id, uint32_t seconds,
                           parley_error *err);

/* ---- messages ------------------------------------------------------------------------- */

typedef struct {
    int64_t reply_to;            /* 0 = none */
    uint32_t ttl;                /* 0 = the chat's timer */
} parley_send_options;

/* Sends text; *out (may be NULL) receives the stored message. Retries after a lost
 * connection reuse the same idempotency key, so a message is never stored twice. */
PARLEY_API int parley_send(parley_client *c, int64_t chat_id, const char *text,
                const parley_send_options *opt, parley_message **out, parley_error *err);
PARLEY_API int parley_edit(parley_client *c, int64_t chat_id, int64_t id, const char *text,
                parley_message **out, parley_error *err);
PARLEY_API int parley_delete(parley_client *c, int64_t chat_id, const int64_t *ids, size_t n,
                  int for_everyone, parley_error *err);
/* max_id 0 = everything. */
PARLEY_API int parley_read(parley_client *c, int64_t chat_id, int64_t max_id, parley_error *err);
/* Oldest first; before_id 0 = the newest; limit 1..200. Returns `limit` messages unless the
 * chat has fewer before before_id: the server sends at most about 1 MiB a page, and this
 * asks again (before the oldest so far) until it has them. */
PARLEY_API int parley_history(parley_client *c, int64_t chat_id, uint32_t limit, int64_t before_id,
                   parley_message **out, size_t *n, parley_error *err);

/* ---- updates -------------------------------------------------------------------------- */

/* Returns the next update of this account in order: first everything since the profile's
 * saved position (fetched from the server, page by page), then updates pushed live. Waits
 * at most timeout_ms (-1 = forever); returns PARLEY_E_TIMEOUT if none came. timeout_ms 0
 * returns what is pending: it waits (up to the client's timeout_ms) only for the connection,
 * the resume and the catch-up in flight, never for new live updates. The position of the
 * updates returned is saved every 100 updates, whenever none is ready, and at close, so an
 * update shown before a crash may be shown again, never skipped. Updates caused by this
 * client's own calls (whose results carried their position) are not returned. Reconnects by
 * itself after a lost connection. */
PARLEY_API int parley_next_update(parley_client *c, int timeout_ms, parley_update **out,
                       parley_error *err);

/* ---- asynchronous use (many clients on one loop) --------------------------------------- */

/* Called on the loop's thread when the answer arrives: code 0 and msg set on success. */
typedef void (*parley_send_cb)(parley_client *c, void *ud, int code, const parley_message *msg);
/* Called on the loop's thread for every update pushed live to this client. */
typedef void (*parley_update_cb)(parley_client *c, void *ud, const parley_update *u);

/* Queues a send and returns at once; cb runs from parley_loop_run. */
PARLEY_API int parley_send_async(parley_client *c, int64_t chat_id, const char *text,
                      const parley_send_options *opt, parley_send_cb cb, void *ud,
                      parley_error *err);
/* Installs a live-update callback; updates then bypass parley_next_update's queue. */
PARLEY_API void parley_set_update_handler(parley_client *c, parley_update_cb cb, void *ud);
/* Starts connecting without blocking; parley_is_ready() turns 1 when authenticated. */
PARLEY_API int parley_connect_async(parley_client *c, parley_error *err);
PARLEY_API int parley_is_ready(const parley_client *c);
/* For ephemeral clients: the session token of the last register/login (32 bytes), so a
 * benchmark can resume many clients without storing profiles. */
PARLEY_API int parley_session_token(const parley_client *c, uint8_t out[32]);
PARLEY_API int parley_set_session_token(parley_client *c, const uint8_t token[32]);

/* ---- secret chats ---------------------------------------------------------------------
 * End-to-end encrypted chats between two devices (X3DH + Double Ratchet; docs/SECRET_CHATS.md).
 * They live only in this profile (encrypted at rest under <profile>/secret.key) and on the
 * peer's one device: the account's other devices never see them. The device's keys are made
 * and published at register/login (or at the first secret call). Incoming secret messages,
 * deletions and chat changes arrive through parley_next_update as PARLEY_UPDATE_SECRET_*;
 * returning an incoming message from parley_next_update or parley_secret_history counts as
 * reading it (a read notice goes to the sender and the self-destruct timer starts).
 * (Only parley_next_update delivers them: a parley_set_update_handler callback does not.)
 * Unknown ids are -PARLEY_E_CHAT_NOT_FOUND, a closed chat -PARLEY_E_CHAT_CLOSED, a peer key
 * change not yet accepted -PARLEY_E_IDENTITY_KEY_CHANGED. Objects returned are the caller's. */

/* Opens a secret chat with device_id of user ("@bob" or "bob"; 0 = the newest device with
 * keys). No round trip: messages can be sent at once. */
PARLEY_API int parley_secret_start(parley_client *c, const char *user, int64_t device_id,
                                   parley_secret_chat **out, parley_error *err);
PARLEY_API int parley_secret_get(parley_client *c, int64_t id, parley_secret_chat **out,
                                 parley_error *err);
/* Every secret chat of this device, closed ones included, newest first. */
PARLEY_API int parley_secret_list(parley_client *c, parley_secret_chat **out, size_t *n,
                                  parley_error *err);
/* *out (may be NULL) gets the stored message (its id is the same on both devices). The
 * message and the ratchet state are committed before the envelope goes out, so if sending
 * then fails (error returned) the message stays in this device's history undelivered. */
PARLEY_API int parley_secret_send(parley_client *c, int64_t id, const char *text,
                                  parley_message **out, parley_error *err);
/* Every stored message, oldest first (marks incoming ones read, see above). It does not
 * fetch new envelopes: parley_next_update does. */
PARLEY_API int parley_secret_history(parley_client *c, int64_t id, parley_message **out,
                                     size_t *n, parley_error *err);
/* seconds 0 = off, else 1..604800. *out (may be NULL) gets the service message. */
PARLEY_API int parley_secret_set_timer(parley_client *c, int64_t id, uint32_t seconds,
                                       parley_message **out, parley_error *err);
/* Deletes one message on both devices. */
PARLEY_API int parley_secret_delete(parley_client *c, int64_t id, int64_t msg_id,
                                    parley_error *err);

#define PARLEY_FP_NUMBER_LEN 71  /* 12 groups of 5 digits with single spaces */
typedef struct {
    char number[PARLEY_FP_NUMBER_LEN + 1];
    char emoji[24];              /* always "" now: 5 static emoji carried 30 bits and committed
                                    to nothing (a key-substituting server could search for a
                                    key with the same emoji); short emoji come only from
                                    the interactive verification (parley_secret_sas_*) */
} parley_fingerprint;
/* The 60-digit number both devices show (about 2^112 work per side for a server that
 * substitutes keys, see docs/SECRET_CHATS.md); mark_verified 1 records that the user
 * compared it (or the long form below). */
PARLEY_API int parley_secret_verify(parley_client *c, int64_t id, int mark_verified,
                                    parley_fingerprint *out, parley_error *err);
#define PARLEY_FP_LONG_LEN 95    /* 16 groups of 5 digits with single spaces */
/* The long form: 80 digits, 40 per device (at least 128 bits per side even without the
 * iteration cost); each side's first 30 digits are those of the 60-digit number. */
PARLEY_API int parley_secret_verify_long(parley_client *c, int64_t id,
                                         char out[PARLEY_FP_LONG_LEN + 1], parley_error *err);

/* Interactive verification, one run per client at a time, both devices online; the state
 * lives in this client's memory (the ephemeral secret key never reaches the disk), so the
 * same parley_client must see the run through. Progress arrives as PARLEY_UPDATE_SECRET_SAS
 * from parley_next_update. An incoming request is also remembered in the profile, so
 * parley_secret_sas_accept works in a later process too (within PARLEY_SAS_TIMEOUT).
 * A mismatch, a bad commitment or MAC, a timeout or a message out of order cancels the run
 * (the peer is told) and marks nothing. Errors: -PARLEY_E_ARGUMENT for a call that does not
 * fit the run's state (the message says why), and those of parley_secret_send. */
PARLEY_API int parley_secret_sas_start(parley_client *c, int64_t id, parley_error *err);
/* Answers the peer's request (REQUESTED) with this device's ephemeral key. */
PARLEY_API int parley_secret_sas_accept(parley_client *c, int64_t id, parley_error *err);
/* The run's state for chat id (state NONE if there is none). */
PARLEY_API int parley_secret_sas_get(parley_client *c, int64_t id, parley_sas *out,
                                     parley_error *err);
/* In SHOW: match 1 = the user saw the same emoji on both devices (sends the confirmation
 * MAC; the chat is marked verified once the peer's has verified too), 0 = they differ
 * (cancels with MISMATCH). */
PARLEY_API int parley_secret_sas_confirm(parley_client *c, int64_t id, int match,
                                         parley_error *err);
/* Cancels the run (code USER, or TIMEOUT when the caller's own deadline passed: timeout 1). */
PARLEY_API int parley_secret_sas_cancel(parley_client *c, int64_t id, int timeout,
                                        parley_error *err);
/* Accepts the peer's new identity key after a change (clears key_changed and verified). */
PARLEY_API int parley_secret_accept_key(parley_client *c, int64_t id, parley_error *err);
/* Tells the peer device, then wipes the chat's keys and messages here (state CLOSED). */
PARLEY_API int parley_secret_close(parley_client *c, int64_t id, parley_error *err);

PARLEY_API void parley_secret_chat_free(parley_secret_chat *s);
PARLEY_API void parley_secret_chats_free(parley_secret_chat *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
