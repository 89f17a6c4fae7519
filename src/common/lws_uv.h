/*
 * lws_uv.h: libwebsockets run inside a libuv loop that the caller owns (lws's "foreign
 * loop"), the way parleyd and libparley both use it: epoll instead of lws's own poll() over
 * every socket. The caller creates, runs and frees the uv_loop_t; these two functions hold
 * the lws 4.1 details of joining and leaving it.
 */
#ifndef PARLEY_LWS_UV_H
#define PARLEY_LWS_UV_H

#include <libwebsockets.h>
#include <uv.h>

/* lws_create_context() on `loop`. The context is stored in *slot, which lws clears when the
 * context is fully destroyed (info.pcontext), so *slot must live as long as the context.
 * Returns *slot (NULL on failure). info is read only during the call. */
struct lws_context *lws_uv_create(struct lws_context_creation_info *info, uv_loop_t *loop,
                                  struct lws_context **slot);

/* Destroys *slot (if any), runs `loop` until no handle is left and closes it (the caller
 * frees the memory). The caller closes its own handles on `loop` first. */
void lws_uv_destroy(struct lws_context **slot, uv_loop_t *loop);

#endif
