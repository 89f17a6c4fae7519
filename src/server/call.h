/*
 * call.h: the in-memory state machine of 1:1 calls (see docs/CALLS.md and the "Calls"
 * section of parley.proto). parleyd only relays signalling between the two browsers; it never
 * sees media or media keys.
 *
 * A call is RINGING (every online device of the callee was told; the ring timer runs) or
 * ACTIVE (one callee device accepted: the call is bound to that connection and the caller's,
 * and SDP/ICE pass only between those two). An account is in at most one call at a time:
 * that is the busy rule. Every end (decline, busy, cancel, hang-up, timeout, a bound
 * connection closing) removes the call and submits its history entry (a CALL message in the
 * private chat) as a store job, whose fan-out is pushed like any message.
 *
 * Network thread only. The registry (struct calls, owned by the server, made by
 * calls_start, freed by calls_stop) owns every call; connections are named by id, never
 * by pointer, like everywhere else.
 */
#ifndef PARLEY_CALL_H
#define PARLEY_CALL_H

#include <stdint.h>

#include "parley.pb-c.h"
#include "server.h"

/* Per call: candidates each side may send, and offers (first one plus renegotiations). */
#define CALL_MAX_CANDIDATES 100
#define CALL_MAX_OFFERS 32
#define CALL_MAX_MEDIA 1000           /* `media` signals per call, both sides together */
#define CALL_SDP_MAX 16384
#define CALL_CANDIDATE_MAX 1024
#define CALL_MID_MAX 64
/* Calls one account may start per minute (each rings the callee and writes an entry). */
#define CALL_MAX_STARTS_PER_MINUTE 10
/* Past this many accounts with a start window, stale windows are swept. */
#define CALL_START_ACCOUNTS_SWEEP 4096

/* 0, or -1 when out of memory. */
int calls_start(server *srv);
/* Drops every call (no history entries: the store is stopping) and frees the registry. */
void calls_stop(server *srv);

/* Starts a call from connection c (account c->user_id, `caller_name`) to `callee` in private
 * chat chat_id. OK with *call_id set (every callee device was told), or FLOOD_WAIT (over
 * CALL_MAX_STARTS_PER_MINUTE; *retry_after set), CALL_BUSY (either side already in a call; a
 * busy callee also gets a BUSY history entry), or INTERNAL. */
Parley__ErrorCode call_start(server *srv, conn *c, int64_t chat_id, int64_t callee,
                             const char *caller_name, const char *callee_name, int video,
                             uint64_t *call_id, const char **why, uint32_t *retry_after);

/* Applies one client signal (not `start`) from c. OK, or an error with a static reason;
 * an error never changes this or any other call. */
Parley__ErrorCode call_signal(server *srv, conn *c, const Parley__CallSignal *sig,
                              const char **why);

/* c is going away (closed, or no longer authenticated): a call bound to it hangs up, a call
 * it is ringing out cancels. Safe for any conn. */
void call_conn_gone(server *srv, conn *c);

/* Submits a call's history entry (a Message of kind CALL from `from`) to chat_id through the
 * store queue, pushed to the chat's members once stored. 1:1 outcomes need a private chat;
 * the group-call ones (GROUP_CALL_STARTED/ENDED) any chat `from` is a member of. A failure
 * (queue full, shutting down, no longer a member) costs the entry, never the call. */
void call_log_entry(server *srv, int64_t chat_id, int64_t from, int outcome, int video,
                    uint32_t duration);

#endif
