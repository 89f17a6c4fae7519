/*
 * rpc.c: requests and their answers. Each request gets the client's next id and a pl_call
 * in the client's list of waiting calls; the Response with that id completes it, either by
 * running its completion function (asynchronous use) or by marking it finished for a
 * blocking caller that runs the loop until then (pl_rpc, "sync on async").
 *
 * The server answers roughly in order, so the answer almost always matches the oldest
 * waiting call: looking it up from the head of the list is O(1) in practice, and the list
 * is per client, so a loop with many clients never scans across them.
 */
#include <stdlib.h>
#include <string.h>

#include "lib.h"

static void link_call(parley_client *c, pl_call *call)
{
    call->next = NULL;
    call->prev = c->calls_tail;
    if (c->calls_tail)
        c->calls_tail->next = call;
    else
        c->calls_head = call;
    c->calls_tail = call;
}

static void unlink_call(parley_client *c, pl_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls_head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        c->calls_tail = call->prev;
    call->prev = call->next = NULL;
}

int pl_rpc_start(parley_client *c, pl_call *call, Parley__ClientFrame *f, int held)
{
    held = held && !(c->state == CONN_OPEN && c->authed);
    int rc;
    if (!held && !c->wsi) {
        rc = -PARLEY_E_CONNECT;
    } else {
        call->id = ++c->next_id;
        f->id = call->id;
        rc = pl_conn_queue(c, f, held);
    }
    if (rc < 0) {
        if (call->heap)
            free(call);
        return rc;
    }
    call->held = held;
    link_call(c, call);
    return 0;
}

/* Completes a call that failed without (or with) a server answer. */
static void complete_failed(parley_client *c, pl_call *call, const Parley__Response *resp,
                            const parley_error *err, int lost)
{
    if (call->done) {
        call->done(c, call, resp, err);
        if (call->heap)
            free(call);
        return;
    }
    call->finished = 1;
    call->lost = lost;
    call->rc = pl_err_copy(&call->err, err);
}

void pl_rpc_on_response(parley_client *c, Parley__ServerFrame *f)
{
    const Parley__Response *r = f->response;
    pl_call *call = c->calls_head;
    while (call && call->id != r->id)
        call = call->next;
    if (!call) {
        /* The answer to a call that timed out: nobody waits for it any more. */
        parley__server_frame__free_unpacked(f, NULL);
        return;
    }
    unlink_call(c, call);
    if (r->error && r->error->code != PARLEY__ERROR_CODE__OK) {
        parley_error e;
        pl_err_server(&e, r->error);
        complete_failed(c, call, r, &e, 0);
        parley__server_frame__free_unpacked(f, NULL);
        return;
    }
    if (call->done) {
        call->done(c, call, r, NULL);
        if (call->heap)
            free(call);
        parley__server_frame__free_unpacked(f, NULL);
        return;
    }
    call->finished = 1;
    call->frame = f;
}

void pl_rpc_fail_all(parley_client *c, const parley_error *err, int lost)
{
    /* Detach first: completion functions may start new calls. */
    pl_call *list = c->calls_head;
    c->calls_head = c->calls_tail = NULL;
    while (list) {
        pl_call *next = list->next;
        list->prev = list->next = NULL;
        complete_failed(c, list, NULL, err, lost);
        list = next;
    }
}

void pl_rpc_fail_held(parley_client *c, const parley_error *err)
{
    pl_call *held = NULL, **tail = &held;
    for (pl_call *call = c->calls_head, *next; call; call = next) {
        next = call->next;
        if (call->held) {
            unlink_call(c, call);
            *tail = call;
            tail = &call->next;
        }
    }
    while (held) {
        pl_call *next = held->next;
        held->next = NULL;
        complete_failed(c, held, NULL, err, 0);
        held = next;
    }
}

void pl_rpc_release_held(parley_client *c)
{
    for (pl_call *call = c->calls_head; call; call = call->next)
        call->held = 0;
}

int64_t pl_deadline(const parley_client *c)
{
    return pl_now_ms() + c->timeout_ms;
}

int pl_check_not_in_service(parley_client *c, parley_error *err)
{
    /* A blocking call from inside a callback would run the loop re-entrantly. */
    if (c->loop->in_service)
        return pl_err(err, PARLEY_E_ARGUMENT, "blocking call made from a libparley callback");
    return 0;
}

int pl_rpc(parley_client *c, Parley__ClientFrame *f, int need_auth, pl_resp *out,
           parley_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = pl_check_not_in_service(c, err);
    if (rc < 0)
        return rc;
    int64_t deadline = pl_deadline(c);
    rc = pl_conn_ready(c, need_auth, deadline, err);
    if (rc < 0)
        return rc;
    pl_call call;
    memset(&call, 0, sizeof(call));
    rc = pl_rpc_start(c, &call, f, 0);
    if (rc == -PARLEY_E_TOO_LARGE)
        return pl_err(err, PARLEY_E_TOO_LARGE, "request over the 64 KiB frame limit");
    if (rc < 0)
        return pl_err(err, -rc, "cannot send the request to %s", c->url);
    while (!call.finished) {
        if (pl_now_ms() >= deadline) {
            unlink_call(c, &call);
            return pl_err(err, PARLEY_E_TIMEOUT, "no answer from %s within %d ms", c->url,
                          c->timeout_ms);
        }
        pl_loop_service(c->loop, deadline);
    }
    if (call.rc < 0) {
        out->lost = call.lost;
        return pl_err_copy(err, &call.err);
    }
    out->frame = call.frame;
    out->r = call.frame->response;
    return 0;
}

void pl_resp_free(pl_resp *r)
{
    if (r->frame)
        parley__server_frame__free_unpacked(r->frame, NULL);
    memset(r, 0, sizeof(*r));
}
