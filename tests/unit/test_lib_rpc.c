/* test_lib_rpc.c: request ids and waiting calls without a network: ids increase per client,
 * answers complete the call with the same id even out of order, server errors keep their
 * code and message, unknown ids are ignored, and a lost connection fails every call. */
#include <stdlib.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static int order[8], n_done, codes[8];

static void done(parley_client *c, pl_call *call, const Parley__Response *resp,
                 const parley_error *err)
{
    order[n_done] = (int)call->id;
    codes[n_done] = err ? err->code : 0;
    n_done++;
}

static pl_call *start(parley_client *c)
{
    pl_call *call = calloc(1, sizeof(*call));
    call->heap = 1;
    call->done = done;
    Parley__GetChatsRequest req = PARLEY__GET_CHATS_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_CHATS;
    f.get_chats = &req;
    /* held: not connected, so the frame waits for authentication */
    CHECK_EQ_INT(pl_rpc_start(c, call, &f, 1), 0);
    return call;
}

/* A ServerFrame as the dispatcher would hand it over (heap, owned by the callee). */
static void answer(parley_client *c, uint64_t id, int error_code)
{
    Parley__ServerFrame *f = calloc(1, sizeof(*f));
    parley__server_frame__init(f);
    Parley__Response *r = calloc(1, sizeof(*r));
    parley__response__init(r);
    r->id = id;
    if (error_code) {
        Parley__Error *e = calloc(1, sizeof(*e));
        parley__error__init(e);
        e->code = (Parley__ErrorCode)error_code;
        e->message = strdup("no such chat");
        r->error = e;
    } else {
        Parley__ChatList *l = calloc(1, sizeof(*l));
        parley__chat_list__init(l);
        r->result_case = PARLEY__RESPONSE__RESULT_CHATS;
        r->chats = l;
    }
    f->frame_case = PARLEY__SERVER_FRAME__FRAME_RESPONSE;
    f->response = r;
    /* frames from the dispatcher are freed with free_unpacked, which uses the system
     * allocator for every part, as calloc/strdup above */
    pl_rpc_on_response(c, f);
}

TEST(ids_and_matching) {
    parley_client *c = calloc(1, sizeof(*c));
    n_done = 0;
    start(c);
    start(c);
    start(c);
    CHECK(c->calls_head && c->calls_head->id == 1 && c->calls_tail->id == 3);
    CHECK(c->held_head != NULL && c->out_head == NULL);
    answer(c, 2, 0);
    answer(c, 99, 0);                  /* nobody waits for it: ignored */
    answer(c, 1, PARLEY_E_CHAT_NOT_FOUND);
    CHECK_EQ_INT(n_done, 2);
    CHECK_EQ_INT(order[0], 2);
    CHECK_EQ_INT(codes[0], 0);
    CHECK_EQ_INT(order[1], 1);
    CHECK_EQ_INT(codes[1], PARLEY_E_CHAT_NOT_FOUND);
    CHECK(c->calls_head && c->calls_head == c->calls_tail && c->calls_head->id == 3);
    parley_error e;
    pl_err(&e, PARLEY_E_CONNECT, "connection lost");
    pl_rpc_fail_all(c, &e, 1);
    CHECK_EQ_INT(n_done, 3);
    CHECK_EQ_INT(order[2], 3);
    CHECK_EQ_INT(codes[2], PARLEY_E_CONNECT);
    CHECK(c->calls_head == NULL && c->calls_tail == NULL);
    start(c);                          /* ids keep increasing */
    CHECK_EQ_INT(c->calls_head->id, 4);
    pl_rpc_fail_held(c, &e);
    CHECK_EQ_INT(n_done, 4);
    CHECK(c->calls_head == NULL);
    for (pl_out *o = c->held_head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    free(c);
}

TEST(errors) {
    parley_error e;
    Parley__Error se = PARLEY__ERROR__INIT;
    se.code = PARLEY__ERROR_CODE__FLOOD_WAIT;
    se.message = "slow down";
    se.retry_after = 7;
    CHECK_EQ_INT(pl_err_server(&e, &se), -PARLEY_E_FLOOD_WAIT);
    CHECK_EQ_STR(e.message, "slow down");
    CHECK_EQ_INT(e.retry_after, 7);
    se.message = "";
    pl_err_server(&e, &se);
    CHECK_EQ_STR(e.message, "FLOOD_WAIT");
    CHECK_EQ_INT(pl_err(NULL, PARLEY_E_TIMEOUT, "x"), -PARLEY_E_TIMEOUT);
}

int main(void) {
    RUN(ids_and_matching);
    RUN(errors);
    return UNIT_DONE("lib_rpc");
}
