/*
 * listener.h: parleyd's listening socket and everything that happens to a connection before
 * libwebsockets sees it: the client's address (from a PROXY protocol v2 header when the peer
 * is a trusted proxy), the per-source and total connection caps, and the deadline by which a
 * connection must have logged in (auth_timeout_seconds). See listener.c for why parleyd
 * accepts its connections itself.
 *
 * Everything runs on the network thread. Memory: the listener (srv->listener) is made by
 * listener_open() and released by listener_free(); it owns one small record per accepted
 * socket (a "peer", the wsi's opaque user data once lws has it), freed when lws destroys
 * the wsi (listener_wsi_destroyed) or when the socket is dropped before that.
 */
#ifndef PARLEY_LISTENER_H
#define PARLEY_LISTENER_H

#include <stddef.h>

#include "server.h"

/* Binds and listens on srv->cfg's address (nothing is accepted yet). 0, or -1 with a
 * reason in err. max_sockets bounds the sockets open at once (all phases). */
int listener_open(server *srv, unsigned max_sockets, char *err, size_t errlen);
/* The port actually listened on. */
int listener_port(const server *srv);
/* Starts accepting into the vhost (the lws context exists by now). */
void listener_start(server *srv, struct lws_vhost *vh);
/* Stops accepting and drops the sockets lws has not been given; before the lws context is
 * destroyed. Handles finish closing in the loop's last run. */
void listener_close(server *srv);
/* Releases the listener once the loop has run for the last time. */
void listener_free(server *srv);

/* lws callbacks' hooks: */
/* The client's address of this connection (PROXY header or socket peer) into out. */
void listener_peer_ip(struct lws *wsi, char *out, size_t outlen);
/* A complete HTTP request arrived: the login deadline no longer applies to plain HTTP. */
void listener_http_request(struct lws *wsi);
/* The connection became WebSocket conn c: it must log in by the deadline (and again
 * within auth_timeout_seconds of any logout). */
void listener_ws_established(struct lws *wsi, conn *c);
/* LWS_CALLBACK_WSI_DESTROY: releases the socket's record and its per-source count. */
void listener_wsi_destroyed(struct lws *wsi);

#endif
