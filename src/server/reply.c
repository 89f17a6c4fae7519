/*
 * reply.c: the answers that are built on the transport's two primitives, conn_send()
 * (networking.h) and web_respond() (web.h): a Response frame, an error Response, a plain-text
 * HTTP answer.
 *
 * WHY a file of their own: they hold no transport state, so keeping them out of networking.c
 * and web_http.c lets the server fuzz harness (tests/fuzz/srv_harness.c), which stands in for
 * those two files, link these very functions instead of copies.
 */
#include "networking.h"
#include "web.h"

#include <stdlib.h>
#include <string.h>

void conn_respond(conn *c, Parley__Response *r)
{
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_RESPONSE;
    f.response = r;
    conn_send(c, &f);
}

void conn_respond_error(conn *c, uint64_t req_id, Parley__ErrorCode code, const char *message,
                        uint32_t retry_after)
{
    Parley__Error e = PARLEY__ERROR__INIT;
    e.code = code;
    e.message = (char *)(message ? message : "");
    e.retry_after = retry_after;
    Parley__Response r = PARLEY__RESPONSE__INIT;
    r.id = req_id;
    r.error = &e;
    conn_respond(c, &r);
}

int web_respond_text(struct lws *wsi, web_req *r, unsigned status, const char *text)
{
    free(r->out_owned);
    r->out_owned = NULL;
    r->status = status;
    r->mime = "text/plain; charset=utf-8";
    r->out = (const unsigned char *)text;
    r->out_len = strlen(text);
    return web_respond(wsi, r);
}
