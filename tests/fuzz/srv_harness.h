/*
 * srv_harness.h: a whole parleyd, minus its sockets, for the fuzz targets that drive the
 * server's request path (fuzz_srv_dispatch.c, fuzz_srv_webauth.c).
 *
 * WHY this seam: dispatch_frame() and everything behind it (the request handlers, the auth
 * gate, validation, push fan-out, the Argon2 pool, the store thread and a real SQLite store)
 * talk to the network only through networking.h (conn_send, conn_respond, conn_goodbye,
 * conn_find, ...) and web_auth.c to the HTTP writer only through web_respond(). srv_harness.c
 * implements exactly those functions over in-memory queues, so the fuzz targets link every
 * other server module unchanged (main.c, networking.c and web_http.c are left out): real
 * coverage of the request path with no socket, no TLS and no change to networking.c.
 * The store lives in a fresh directory (under /dev/shm when it exists: fsync costs nothing
 * there, so a store round trip is microseconds). Argon2 runs with libsodium's minimum
 * limits and the login throttle is generous, so login paths are reached without stalling.
 *
 * Global state: one harness per process (libFuzzer gives LLVMFuzzerTestOneInput no
 * context), created by the first srv_h_get() and never torn down (the process exits).
 */
#ifndef PARLEY_FUZZ_SRV_HARNESS_H
#define PARLEY_FUZZ_SRV_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

typedef struct {
    server *srv;
    char user[2][32];          /* two accounts made at start: "fuzza", "fuzzb" */
    char password[32];
    int64_t user_id[2];
    int64_t private_chat;      /* fuzza <-> fuzzb */
    int64_t group_chat;        /* both, fuzza creator */
} srv_h;

srv_h *srv_h_get(void);

/* A new conn that said Hello (state READY). Closed with net_conn_close(). */
conn *srv_h_conn(srv_h *h);
/* A new conn logged in as account `who` (0 or 1), by a real LoginRequest. NULL on failure. */
conn *srv_h_login(srv_h *h, int who);

/* Runs the server's completions (store thread, Argon2 pool) on this thread until no
 * request is in flight. Aborts if that takes longer than a generous deadline: a request
 * that never completes is a hang, which is a finding. */
void srv_h_settle(srv_h *h);

/* Dispatches one frame on c and settles. */
void srv_h_dispatch(srv_h *h, conn *c, const uint8_t *data, size_t len);

/* Takes every frame queued for c off its queue; each must decode as a ServerFrame (else
 * abort). Counts Responses whose id is `req_id` into *answers and Goodbyes into *goodbyes
 * (either may be NULL). */
void srv_h_drain(conn *c, uint64_t req_id, unsigned *answers, unsigned *goodbyes);

/* Drains every conn's queue (pushes to the other accounts' conns pile up otherwise). */
void srv_h_drain_all(srv_h *h);

#endif
