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

/* The highest pts fo gives `account` (0 if none): the pts a requester's result carries. */
uint64_t push_pts_for(const store_fanouts *fo, int64_t account);

#endif
