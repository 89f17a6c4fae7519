/*
 * control.h: parley-sfu's control server: a Unix-domain stream socket on which parleyd sends
 * length-prefixed ToSfu requests (proto/sfu.proto) and receives FromSfu responses and events.
 * It only translates between protobuf and the sfu_core API (sfu.h); no media logic here.
 * Ownership: sfu_control_new returns an object freed by sfu_control_free, which closes the
 * listener and all connections (run the loop afterwards so the close callbacks finish).
 */
#ifndef PARLEY_SFU_CONTROL_H
#define PARLEY_SFU_CONTROL_H
#include "sfu.h"
#include <uv.h>

#define SFU_CONTROL_MAX_FRAME (256 * 1024)
#define SFU_CONTROL_MAX_CLIENTS 8

typedef struct sfu_control sfu_control;

sfu_control *sfu_control_new(uv_loop_t *loop);
/* Starts listening on path (an existing socket file is replaced). 0 or -1 with err. */
int sfu_control_listen(sfu_control *c, sfu_core *core, const char *path, char *err, size_t err_len);
/* Pushes an event to every connected client. */
void sfu_control_event(sfu_control *c, const sfu_event *ev);
void sfu_control_free(sfu_control *c);

#endif
