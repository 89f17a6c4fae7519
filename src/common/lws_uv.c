/*
 * lws_uv.c: joining and leaving a caller-owned libuv loop with libwebsockets (see lws_uv.h).
 */
#include "lws_uv.h"

struct lws_context *lws_uv_create(struct lws_context_creation_info *info, uv_loop_t *loop,
                                  struct lws_context **slot)
{
    void *loops[1] = {loop};
    info->options |= LWS_SERVER_OPTION_LIBUV;
    info->foreign_loops = loops;      /* read only during lws_create_context() */
    info->pcontext = slot;            /* lws clears *slot when the context is fully gone */
    *slot = lws_create_context(info);
    info->foreign_loops = NULL;       /* `loops` ends here */
    return *slot;
}

/* lws 4.1 with a foreign loop closes its libuv handles inside the loop after the first
 * lws_context_destroy() and frees the context only on a second call once they are closed
 * (with one call, ASan finds the context leaked). Whether the first call already finished
 * depends on what was open, so the second is made only while lws has not cleared *slot. */
void lws_uv_destroy(struct lws_context **slot, uv_loop_t *loop)
{
    if (*slot) {
        lws_context_destroy(*slot);
        uv_run(loop, UV_RUN_DEFAULT);
        if (*slot) lws_context_destroy(*slot);
        *slot = NULL;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}
