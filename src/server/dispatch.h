/*
 * dispatch.h: turns one received WebSocket message into work. Decodes the ClientFrame,
 * enforces the connection's protocol state (Hello first, authentication), the flood bucket
 * and the per-request limits, then either answers at once or starts a request job; when
 * the job comes back it answers, pushes the fan-outs and applies session changes.
 *
 * Network thread only. `data` is borrowed for the call.
 */
#ifndef PARLEY_DISPATCH_H
#define PARLEY_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

void dispatch_frame(conn *c, const uint8_t *data, size_t len);

/* Starts / stops the periodic housekeeping (login throttle sweep). */
void dispatch_start(server *srv);
void dispatch_stop(server *srv);

#endif
