/*
 * expiry.h: self-destructing messages. A timer on the network thread (lws_sul) submits a
 * store_expire job whenever the next expiry is due, and at least every EXPIRY_MAX_SLEEP_S
 * seconds; the job's delete fan-outs are pushed like any other update.
 *
 * Network thread only. The state lives in server->expiry; the job is owned like any
 * storeq job (see storeq.h).
 */
#ifndef PARLEY_EXPIRY_H
#define PARLEY_EXPIRY_H

#include <stdint.h>

#include "server.h"

#define EXPIRY_MAX_SLEEP_S 2
#define EXPIRY_BATCH 500

void expiry_start(server *srv);
void expiry_stop(server *srv);
/* A message now expires at `expires_at` (unix seconds): make sure the timer fires by then. */
void expiry_hint(server *srv, int64_t expires_at);
/* Timers may have started (messages were read): look again soon. */
void expiry_poke(server *srv);

#endif
