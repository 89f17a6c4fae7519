/*
 * request.h: the request job shared by dispatch.c (generic lifecycle) and the request
 * handlers in req_account.c, req_chat.c and req_secret.c.
 *
 * A req_job carries one client request through its stages: validation on the network
 * thread, optionally an Argon2 job, one or more store jobs, and the answer. It owns the
 * decoded ClientFrame (the store thread reads its fields; nobody else touches the job while
 * it is queued) and every store output it collects; req_job_free() releases all of it and
 * wipes secrets (passwords, tokens).
 *
 * Connections are named by id only: by the time a stage completes, the connection may be
 * gone, and then the answer is dropped (fan-outs are still pushed: they are committed).
 */
#ifndef PARLEY_REQUEST_H
#define PARLEY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "parley.pb-c.h"
#include "server.h"
#include "source.h"
#include "store.h"
#include "storeq.h"
#include "validate.h"
#include "wire.h"

typedef struct req_job req_job;

typedef struct {
    /* Network thread, before any job: checks and normalises the request (e.g. lower-cases
     * usernames). Returns OK or an error code with a static reason in *why. NULL = no check. */
    Parley__ErrorCode (*validate)(req_job *j, const char **why);
    /* Network thread: a custom first step (e.g. hash a password) instead of a store job. */
    void (*start)(req_job *j);
    /* Store thread: the work. */
    store_rc (*run)(store *s, req_job *j);
    /* Network thread after commit: a custom continuation instead of the generic answer;
     * takes ownership of j. */
    void (*complete)(req_job *j);
    /* Network thread, success: fills the Response's result. */
    void (*reply)(req_job *j, Parley__Response *r, wire_arena *a);
    /* Network thread, success, after the answer was queued: side effects on connections
     * (authenticate, terminate sessions). c is NULL if the requester is gone. */
    void (*after)(req_job *j, conn *c);
} req_handler;

struct req_job {
    storeq_job sq;
    auth_job aj;
    server *srv;
    const req_handler *h;
    uint64_t conn_id;
    uint64_t req_id;
    int64_t user_id, session_id;   /* the requester's, at submit time */
    int64_t now;
    int auth_request;              /* clears conn->auth_pending when freed */
    char ip[48];                   /* the requester's address (login throttling) */
    char src[SOURCE_KEY_MAX];      /* source_key(ip), set by the password requests */
    unsigned holds_pw_job : 1;     /* counted in srv->pw_jobs under src */
    unsigned holds_login : 1;      /* a login attempt begun in srv->throttle */
    unsigned has_invite : 1;       /* Register with an invite code: its SHA-256 below */
    uint8_t invite_hash[32];
    Parley__ClientFrame *frame;
    /* Inputs prepared on the network thread. */
    uint8_t token[AUTH_TOKEN_BYTES];
    uint8_t token_hash[32];
    /* Error override: when err != OK it replaces the mapping of sq.rc. */
    Parley__ErrorCode err;
    char err_msg[96];
    int has_token;                 /* token goes into the AuthResult */
    /* The account an auth request ended up with. */
    int64_t auth_user_id;
    char auth_username[USERNAME_MAX + 1];
    /* Outputs. Each is freed by req_job_free when set. */
    store_user user;
    int has_user;
    int64_t out_session_id;
    uint64_t pts;
    int64_t max_id;
    int duplicate;
    int more;
    int64_t *user_ids;             /* resolved member lists (malloc'd) */
    size_t n_user_ids;
    store_chat chat;
    int has_chat;
    store_chat *chats;
    size_t n_chats;
    store_msg msg;
    int has_msg;
    store_msg *msgs;
    size_t n_msgs;
    store_member *members;
    size_t n_members;
    store_session *sessions;
    size_t n_sessions;
    store_update *updates;
    size_t n_updates;
    int64_t *ids;
    size_t n_ids;
    store_fanouts fo;
    /* Outputs of handlers with result types of their own (req_secret.c); req_job_free
     * calls ext_free(ext) when set. */
    void *ext;
    void (*ext_free)(void *ext);
    /* Calls (req_call.c). */
    int always_relay;
    /* Group calls (req_groupcall.c): the call and participant a Join made, and the SFU's
     * answer (malloc'd, freed by req_job_free). */
    uint64_t gc_call_id;
    uint32_t gc_pid;
    char *gc_answer;
    uint8_t gc_identity[32];       /* the joining device's identity key, if gc_has_identity */
    int gc_has_identity;
};

/* The handler of a request type, or NULL if this server does not know it. */
const req_handler *req_account_handler(Parley__ClientFrame__RequestCase kind);
const req_handler *req_chat_handler(Parley__ClientFrame__RequestCase kind);
const req_handler *req_secret_handler(Parley__ClientFrame__RequestCase kind);
const req_handler *req_call_handler(Parley__ClientFrame__RequestCase kind);
const req_handler *req_groupcall_handler(Parley__ClientFrame__RequestCase kind);
/* Frees the secret-chat rate buckets (req_secret.c); at shutdown. */
void req_secret_stop(server *srv);

/* Submits j to the store thread with handler h (answers BUSY and frees j on failure). */
void req_submit_store(req_job *j, const req_handler *h);
/* Answers j on the network thread (no store job): fill sets the result, or leaves it unset
 * (or fails the arena) for INTERNAL. Frees j; nothing is sent if the requester is gone. */
void req_answer_now(req_job *j, void (*fill)(req_job *, Parley__Response *, wire_arena *));
/* Answers j's request with an error (if the connection is still there) and frees j. */
void req_fail(req_job *j, Parley__ErrorCode code, const char *message, uint32_t retry_after);
/* The generic completion: answer (result or mapped error), fan-outs, `after`; frees j. */
void req_finish(req_job *j);
void req_job_free(req_job *j);
/* Gives back what a Register/Login still holds in the per-source limits (req_account.c):
 * an attempt never checked, a password job slot. Called by req_job_free. */
void req_account_release(req_job *j);

#endif
