/*
 * networking.h: the network thread. One libwebsockets context with one TLS listener: HTTP
 * (GET /healthz) and the WebSocket endpoint /ws (subprotocol parley.v1). It assembles
 * binary messages, hands them to dispatch.c, queues encoded frames per connection and
 * applies back-pressure (in-flight cap, outbound queue cap, flood bucket).
 *
 * Memory: networking.c allocates a conn when a WebSocket is established and frees it when
 * lws reports it closed; nobody else may keep a conn pointer across a return to the event
 * loop: keep conn->id and look it up with conn_find(). Frames passed to the conn_send*
 * functions are copied or packed; the caller keeps its own.
 */
#ifndef PARLEY_NETWORKING_H
#define PARLEY_NETWORKING_H

#include <stddef.h>
#include <stdint.h>

#include "parley.pb-c.h"
#include "server.h"
#include "storeq.h"

/* Requests a connection may have in flight before we stop reading from it. */
#define CONN_MAX_INFLIGHT 128
/* Server-wide in-flight requests at which connections stop reading, and at which they all
 * resume. Each request holds at most one store job, so staying under STOREQ_QUEUE_MAX makes
 * a pipelining client meet back-pressure instead of BUSY. */
#define NET_INFLIGHT_HIGH (STOREQ_QUEUE_MAX / 2)
#define NET_INFLIGHT_LOW (STOREQ_QUEUE_MAX / 4)
/* Outbound queue bounds: beyond either the client is too slow and is disconnected. */
#define CONN_MAX_OUT_BYTES (4u << 20)
#define CONN_MAX_OUT_FRAMES 8192
/* Above this much queued output we also stop reading (answers would only pile up). */
#define CONN_PAUSE_OUT_BYTES (1u << 20)

/* Creates the lws context and listener. 0, or -1 with a reason in err. */
int net_start(server *srv, const char *cert_path, const char *key_path, char *err,
              size_t errlen);
/* Runs the event loop until srv->stop is set. */
void net_run(server *srv);
/* Closes every connection and destroys the context. */
void net_stop(server *srv);
/* Wakes the event loop from any thread (and from the signal handler). */
void net_wake(void *srv);

conn *conn_find(server *srv, uint64_t id);

/* A conn for `wsi`: networking.c makes one per WebSocket; web_auth.c makes an internal one
 * per HTTP API request, so that request runs through dispatch like any other. The caller
 * of net_conn_open() closes it with net_conn_close() (lws's CLOSED does for WebSockets). */
conn *net_conn_open(server *srv, struct lws *wsi);
void net_conn_close(server *srv, conn *c);
/* Takes the oldest queued frame off c's queue (internal conns read their answers this way);
 * the caller frees it. NULL when empty. */
out_frame *conn_pop_frame(conn *c);

/* Packs and queues a frame. -1 if it could not be queued (the connection is then being
 * closed as too slow, or memory ran out). */
int conn_send(conn *c, const Parley__ServerFrame *f);
/* Queues an already packed frame (copied). */
int conn_send_packed(conn *c, const uint8_t *data, size_t len);
void conn_respond(conn *c, Parley__Response *r);
void conn_respond_error(conn *c, uint64_t req_id, Parley__ErrorCode code, const char *message,
                        uint32_t retry_after);
/* Queues Goodbye{code, reason} and closes with `close_status` once it is written.
 * drop_queue discards frames not yet written (used when the client is too slow). */
void conn_goodbye(conn *c, Parley__ErrorCode code, const char *reason, unsigned close_status,
                  int drop_queue);

/* In-flight accounting for back-pressure. */
void conn_request_begin(conn *c);
void conn_request_end(conn *c);

#endif
