/*
 * fuzz_srv_webauth.c: libFuzzer target for the browser login API's request bodies
 * (POST /api/register and /api/login, src/server/web_auth.c): the body as it arrives in
 * pieces (web_auth_body), its wrapping into a ClientFrame and run through dispatch on an
 * internal conn (web_auth_body_done), the answer turned into an HTTP response with the
 * token moved into the cookie (web_auth_poll). The server is tests/fuzz/srv_harness.c
 * (see srv_harness.h); HTTP headers (Origin, Content-Length) are lws's parsing and are
 * checked before the body is read, so they are not part of this target.
 *
 * Input: byte 0 picks the endpoint (even: register, odd: login), byte 1 where the body is
 * cut in two pieces, the rest is the body (beyond WEB_API_BODY_MAX it must be refused).
 *
 * Checks: every request is answered (no hang, no silence); the status is one the API
 * documents; a session cookie is set only on 200 and a 200 always sets one; the answer's
 * body is a Response that never carries the token (it lives only in the cookie).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "networking.h"
#include "srv_harness.h"
#include "web.h"

static void fail(const char *why)
{
    fprintf(stderr, "fuzz_srv_webauth: %s\n", why);
    abort();
}

static void check_answer(const web_req *r)
{
    static const unsigned ok[] = { 200, 400, 401, 403, 409, 413, 429, 500, 503 };
    int known = 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) known |= r->status == ok[i];
    if (!known) fail("unexpected HTTP status");
    if (r->set_cookie[0] && r->status != 200) fail("a cookie on an error");
    if (r->status == 200 && !r->set_cookie[0]) fail("200 without a session cookie");
    Parley__Response *resp = parley__response__unpack(NULL, r->out_len, r->out);
    if (!resp) fail("the answer is not a Response");
    if (resp->result_case == PARLEY__RESPONSE__RESULT_AUTH && resp->auth->token.len)
        fail("the token is in the answer's body");
    parley__response__free_unpacked(resp, NULL);
}

static void reset(srv_h *h, web_req *r)
{
    if (r->conn_id) {
        conn *c = conn_find(h->srv, r->conn_id);
        if (c) net_conn_close(h->srv, c);
    }
    if (r->body) {
        sodium_memzero(r->body, r->body_len);
        free(r->body);
    }
    free(r->out_owned);
    memset(r, 0, sizeof *r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    srv_h *h = srv_h_get();
    web_req r;
    memset(&r, 0, sizeof r);
    r.active = 1;
    r.api = data[0] & 1 ? WEB_API_LOGIN : WEB_API_REGISTER;
    const uint8_t *body = data + 2;
    size_t len = size - 2, cut = len * data[1] / 255;
    if (web_auth_body(NULL, &r, body, cut) != 0 ||
        web_auth_body(NULL, &r, body + cut, len - cut) != 0)
        fail("out of memory");
    web_auth_body_done(h->srv, NULL, &r);
    if (!r.responding) {
        srv_h_settle(h);
        web_auth_poll(h->srv, NULL, &r);
    }
    if (!r.responding) fail("the request was never answered");
    check_answer(&r);
    reset(h, &r);
    srv_h_drain_all(h);
    return 0;
}
