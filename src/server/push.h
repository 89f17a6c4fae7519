/*
 * push.h: who is online. Maps each account to its authenticated connections and each
 * session to its connections, and delivers committed updates to them.
 *
 * Network thread only. The registry stores borrowed conn pointers; networking.c calls
 * push_remove() before a conn is freed, so the lists never hold a dangling pointer.
 */
#ifndef PARLEY_PUSH_H
#define PARLEY_PUSH_H

#include <stdint.h>

#include "parley.pb-c.h"
#include "server.h"
#include "store.h"
#include "wire.h"

/* Links an authenticated connection (c->user_id, c->session_id set). 0 or -1 (no memory). */
int push_add(server *srv, conn *c);
/* Unlinks c if it is linked; safe to call for any conn. */
void push_remove(server *srv, conn *c);

/* Sends each fan-out's update to every connection of accounts[i] with pts[i], except the
 * connection `except` (the one whose request caused it; 0 = none). */
void push_fanouts(server *srv, const store_fanouts *fo, uint64_t except);

/* Goodbye{SESSION_TERMINATED} and close for every connection of these sessions, except
 * `except`, which is only unlinked (it gets its answer instead; 0 = none). */
void push_terminate_sessions(server *srv, const int64_t *ids, size_t n, uint64_t except);

/* Sends frame f (packed once) to every connection of one session, i.e. one device, and to
 * no other: how secret-chat envelopes are delivered. */
void push_session_frame(server *srv, int64_t session_id, const Parley__ServerFrame *f);

/* The range of positions fo gives `account`, as a requester's result carries it: *count
 * entries ending at *pts (both 0 if none). */
void push_range_for(const store_fanouts *fo, int64_t account, uint64_t *pts, uint32_t *count);
/* Those entries as Updates for `account`, in pts order (*n of them; NULL if out of memory,
 * with a->failed set). */
Parley__Update **push_updates_for(wire_arena *a, const store_fanouts *fo, int64_t account,
                                  size_t *n);

#endif
