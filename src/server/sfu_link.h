/*
 * sfu_link.h: parleyd's link to parley-sfu, the media server of group calls (docs/SFU.md).
 *
 * parleyd starts parley-sfu as a child process, waits for its ready line, connects to its
 * control socket (proto/sfu.proto: 4-byte big-endian length + one message) and keeps it
 * running: when the child exits or the socket breaks, every pending request is answered
 * with "gone" (a NULL response), groupcall.c ends every call, and the child is started
 * again after a back-off (0.5 s doubling to 10 s, reset by a successful start).
 *
 * Network thread only (it runs on parleyd's libuv loop). The link is owned by the server
 * (srv->sfu): made by sfu_link_start, freed by sfu_link_stop, which also stops the child.
 */
#ifndef PARLEY_SFU_LINK_H
#define PARLEY_SFU_LINK_H

#include "server.h"
#include "sfu.pb-c.h"

/* A request's answer: r is the SFU's Response, or NULL when the SFU went away first. The
 * response is valid only during the call. */
typedef void (*sfu_reply_fn)(server *srv, void *arg, const Parley__Sfu__Response *r);

/* Starts the supervisor (and the child, unless cfg.sfu is off). 0, or -1 if out of memory;
 * a child that cannot be started is logged and retried, never fatal. */
int sfu_link_start(server *srv);
/* Stops the child (SIGTERM, reaped), answers pending requests with NULL, frees the link. */
void sfu_link_stop(server *srv);
/* 1 when the control socket is connected and requests can be sent. */
int sfu_link_up(const server *srv);
/* Sends req (its id is set here). cb (may be NULL) is called exactly once, later, with the
 * response or NULL. Returns 0, or -1 when the link is down or memory ran out: then cb is
 * never called. The caller keeps req. */
int sfu_send(server *srv, Parley__Sfu__ToSfu *req, sfu_reply_fn cb, void *arg);

#endif
