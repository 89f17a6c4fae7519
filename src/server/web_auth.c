/*
 * web_auth.c: the browser's login, carried by HTTP so that the session token can live in
 * an HttpOnly cookie that page script never sees (see web.h).
 *
 *   POST /api/register   body: a RegisterRequest (protobuf)   answer: a Response (protobuf)
 *   POST /api/login      body: a LoginRequest
 *   POST /api/logout     no body; ends the cookie's session, clears the cookie
 *
 * WHY through dispatch: each API call becomes the very ClientFrame a WebSocket client would
 * send, run on an internal conn (net_conn_open) through dispatch_frame(). So validation,
 * the login throttle, the Argon2 pool (never on this thread), the dummy-hash timing defence
 * and session termination are the same code as for the CLI. The only difference is at the
 * end: the AuthResult's token is taken out of the answer and put into
 *   Set-Cookie: parley_session=HEX; Path=/; HttpOnly; Secure; SameSite=Strict
 * The WebSocket then authenticates with a ResumeRequest without a token, which means "the
 * session of this connection's cookie" (req_account.c).
 *
 * Cross-site requests: every API call and every WebSocket upgrade that carries a cookie
 * must come with Origin = https://<Host>; SameSite=Strict already keeps other sites from
 * sending the cookie, the Origin check also stops login CSRF and cross-site WebSocket
 * hijacking on browsers that ignore SameSite.
 */
#include "dispatch.h"
#include "log.h"
#include "networking.h"
#include "web.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COOKIE_ATTRS "; Path=/; HttpOnly; Secure; SameSite=Strict"
/* 400 days, the longest a browser keeps a cookie: a browser is a device, like a profile. */
#define COOKIE_MAX_AGE "34560000"
#define API_TIMEOUT_S 30
#define PROTOBUF_MIME "application/x-protobuf"

/* ClientFrame field numbers (proto/parley.proto) of the requests the API runs. */
#define FIELD_REGISTER 11
#define FIELD_LOGIN 12
#define FIELD_RESUME 13
#define FIELD_LOGOUT 14

/* ---- pure helpers ------------------------------------------------------------------------- */

int web_origin_matches(const char *origin, const char *host)
{
    if (!origin || !host || strncasecmp(origin, "https://", 8) != 0 || !host[0]) return 0;
    return strcasecmp(origin + 8, host) == 0;
}

int web_cookie_token(const char *h, uint8_t token[32])
{
    const size_t nl = strlen(WEB_COOKIE_NAME);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len == nl + 1 + 64 && strncmp(p, WEB_COOKIE_NAME "=", nl + 1) == 0) {
            size_t got = 0;
            if (sodium_hex2bin(token, 32, p + nl + 1, 64, NULL, &got, NULL) == 0 && got == 32)
                return 0;
            sodium_memzero(token, 32);
        }
        p = end;
    }
    return -1;
}

unsigned web_status_for(int code)
{
    switch (code) {
    case PARLEY__ERROR_CODE__OK: return HTTP_STATUS_OK;
    case PARLEY__ERROR_CODE__INVALID_CREDENTIALS: return HTTP_STATUS_UNAUTHORIZED;
    case PARLEY__ERROR_CODE__USERNAME_TAKEN: return HTTP_STATUS_CONFLICT;
    case PARLEY__ERROR_CODE__FORBIDDEN: return HTTP_STATUS_FORBIDDEN;
    case PARLEY__ERROR_CODE__TOO_LARGE: return HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
    case PARLEY__ERROR_CODE__FLOOD_WAIT: return 429;
    case PARLEY__ERROR_CODE__BUSY: return HTTP_STATUS_SERVICE_UNAVAILABLE;
    case PARLEY__ERROR_CODE__INTERNAL: return HTTP_STATUS_INTERNAL_SERVER_ERROR;
    default: return HTTP_STATUS_BAD_REQUEST;
    }
}

/* ---- headers ------------------------------------------------------------------------------ */

/* A header's value into buf; "" when absent or too long. */
static const char *header(struct lws *wsi, enum lws_token_indexes t, char *buf, int size)
{
    buf[0] = '\0';
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0 || n >= size || lws_hdr_copy(wsi, buf, size, t) < 0) buf[0] = '\0';
    return buf;
}

static int origin_ok(struct lws *wsi)
{
    char origin[300], host[300];
    return web_origin_matches(header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin),
                              header(wsi, WSI_TOKEN_HOST, host, sizeof host));
}

/* 0 and the token of the request's cookie, or -1. */
static int request_cookie(struct lws *wsi, uint8_t token[32])
{
    char cookie[4096];
    if (!header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie)[0]) return -1;
    return web_cookie_token(cookie, token);
}

/* WHY only with a cookie: the cookie is the one credential a browser attaches by itself, so
 * it is what a hostile page could ride on (cross-site WebSocket hijacking). A connection
 * without it must still log in with a password or token, which another site does not have;
 * non-browser clients send whatever Origin they like (python's websocket-client sends
 * http://HOST) and are not refused for it. */
int web_ws_filter(struct lws *wsi)
{
    char origin[300];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE) <= 0) return 0;
    if (origin_ok(wsi)) return 0;
    log_info("refusing a WebSocket with a cookie from origin '%.200s'",
             header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin));
    return -1;
}

void web_ws_attach(conn *c, struct lws *wsi)
{
    uint8_t t[32];
    if (request_cookie(wsi, t) != 0) return;
    c->cookie = malloc(32);
    if (c->cookie) memcpy(c->cookie, t, 32);
    sodium_memzero(t, sizeof t);
}

/* ---- the API ------------------------------------------------------------------------------ */

static const unsigned char *api_error(web_req *r, Parley__ErrorCode code, const char *msg)
{
    Parley__Error e = PARLEY__ERROR__INIT;
    e.code = code;
    e.message = (char *)msg;
    Parley__Response resp = PARLEY__RESPONSE__INIT;
    resp.error = &e;
    size_t n = parley__response__get_packed_size(&resp);
    free(r->out_owned);
    r->out_owned = malloc(n ? n : 1);
    if (!r->out_owned) return NULL;
    r->out_len = parley__response__pack(&resp, r->out_owned);
    r->out = r->out_owned;
    r->status = web_status_for(code);
    r->mime = PROTOBUF_MIME;
    return r->out;
}

/* Answers with Response{error}; falls back to text if even that cannot be allocated. */
static int respond_error(struct lws *wsi, web_req *r, Parley__ErrorCode code, const char *msg)
{
    if (!api_error(r, code, msg)) return web_respond_text(wsi, r, 500, "out of memory\n");
    return web_respond(wsi, r);
}

int web_auth_begin(server *srv, struct lws *wsi, web_req *r, const char *path)
{
    if (!strcmp(path, "/api/register")) r->api = WEB_API_REGISTER;
    else if (!strcmp(path, "/api/login")) r->api = WEB_API_LOGIN;
    else if (!strcmp(path, "/api/logout")) r->api = WEB_API_LOGOUT;
    else return web_respond_text(wsi, r, HTTP_STATUS_NOT_FOUND, "not found\n");
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0) {
        r->allow = "POST";
        return web_respond_text(wsi, r, HTTP_STATUS_METHOD_NOT_ALLOWED, "use POST\n");
    }
    if (!origin_ok(wsi)) {
        r->close_after = 1;  /* the body (if any) is not read */
        return respond_error(wsi, r, PARLEY__ERROR_CODE__FORBIDDEN,
                             "Origin must be this server's own https origin");
    }
    /* A length is required: libwebsockets does not deliver chunked request bodies. */
    char cl[32];
    header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
    if (!cl[0] || strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 9) {
        r->close_after = 1;
        if (!api_error(r, PARLEY__ERROR_CODE__BAD_REQUEST, "a Content-Length is required"))
            return web_respond_text(wsi, r, 500, "out of memory\n");
        r->status = HTTP_STATUS_LENGTH_REQUIRED;
        return web_respond(wsi, r);
    }
    long n = atol(cl);
    if (n > WEB_API_BODY_MAX) {
        r->close_after = 1;
        return respond_error(wsi, r, PARLEY__ERROR_CODE__TOO_LARGE, "request body too large");
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, API_TIMEOUT_S);
    if (n == 0) return web_auth_body_done(srv, wsi, r);
    return 0;  /* the body follows in LWS_CALLBACK_HTTP_BODY */
}

int web_auth_body(struct lws *wsi, web_req *r, const void *in, size_t len)
{
    if (len == 0 || r->body_too_large || r->responding || r->conn_id) return 0;
    if (r->body_len + len > WEB_API_BODY_MAX) {
        r->body_too_large = 1;
        return 0;
    }
    if (!r->body && !(r->body = malloc(WEB_API_BODY_MAX))) return -1;
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    return 0;
}

/* The ClientFrame {id = `id`, field = body} as bytes into out (>= len + 16). */
static size_t wrap_frame(uint8_t *out, uint64_t id, unsigned field, const uint8_t *body,
                         size_t len)
{
    size_t n = 0;
    out[n++] = 0x08;  /* field 1, varint */
    out[n++] = (uint8_t)id;
    out[n++] = (uint8_t)(field << 3 | 2);  /* length-delimited */
    for (size_t v = len; ; v >>= 7) {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f) break;
    }
    if (len) memcpy(out + n, body, len);
    return n + len;
}

static int web_auth_finish_logout(struct lws *wsi, web_req *r);

/* Runs one request on r's internal conn; its answer comes back in web_auth_poll(). */
static void run_request(conn *c, web_req *r, uint64_t id, unsigned field, const uint8_t *body,
                        size_t len)
{
    uint8_t frame[WEB_API_BODY_MAX + 16];
    size_t n = wrap_frame(frame, id, field, body, len);
    r->wait_id = id;
    dispatch_frame(c, frame, n);
    sodium_memzero(frame, n);  /* may hold a password */
}

int web_auth_body_done(server *srv, struct lws *wsi, web_req *r)
{
    /* Already answered or running (an empty body is handled at once in web_auth_begin, and
     * lws may still report its completion). */
    if (r->responding || r->conn_id) return 0;
    if (r->body_too_large) {
        r->close_after = 1;
        return respond_error(wsi, r, PARLEY__ERROR_CODE__TOO_LARGE, "request body too large");
    }
    if (r->api != WEB_API_LOGOUT && r->body_len == 0)
        return respond_error(wsi, r, PARLEY__ERROR_CODE__BAD_REQUEST, "empty request body");
    conn *c = net_conn_open(srv, wsi);
    if (!c) return respond_error(wsi, r, PARLEY__ERROR_CODE__BUSY, "server busy");
    r->conn_id = c->id;
    c->state = CONN_READY;  /* no Hello: the HTTP request is the whole conversation */
    if (r->api == WEB_API_LOGOUT) {
        uint8_t t[32];
        if (request_cookie(wsi, t) != 0 || !(c->cookie = malloc(32))) {
            sodium_memzero(t, sizeof t);
            return web_auth_finish_logout(wsi, r);
        }
        memcpy(c->cookie, t, 32);
        sodium_memzero(t, sizeof t);
        run_request(c, r, 1, FIELD_RESUME, NULL, 0);
        return 0;
    }
    run_request(c, r, 1, r->api == WEB_API_REGISTER ? FIELD_REGISTER : FIELD_LOGIN, r->body,
                r->body_len);
    return 0;
}

/* Logout's answer either way: the cookie is cleared; the session, if the cookie named a
 * live one, has been ended (and its other connections closed) by the Logout request. */
static int web_auth_finish_logout(struct lws *wsi, web_req *r)
{
    Parley__Empty e = PARLEY__EMPTY__INIT;
    Parley__Response resp = PARLEY__RESPONSE__INIT;
    resp.result_case = PARLEY__RESPONSE__RESULT_EMPTY;
    resp.empty = &e;
    free(r->out_owned);
    r->out_owned = malloc(parley__response__get_packed_size(&resp) + 1);
    if (!r->out_owned) return web_respond_text(wsi, r, 500, "out of memory\n");
    r->out_len = parley__response__pack(&resp, r->out_owned);
    r->out = r->out_owned;
    r->status = HTTP_STATUS_OK;
    r->mime = PROTOBUF_MIME;
    snprintf(r->set_cookie, sizeof r->set_cookie, WEB_COOKIE_NAME "=" COOKIE_ATTRS "; Max-Age=0");
    return web_respond(wsi, r);
}

/* Register/Login answered: moves the token from the answer into the cookie and answers
 * with the rest. resp is modified (the token is wiped). */
static int answer_auth(struct lws *wsi, web_req *r, Parley__Response *resp)
{
    int code = resp->error ? (int)resp->error->code : 0;
    if (!code && resp->result_case == PARLEY__RESPONSE__RESULT_AUTH &&
        resp->auth->token.len == 32) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, resp->auth->token.data, 32);
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 WEB_COOKIE_NAME "=%s" COOKIE_ATTRS "; Max-Age=" COOKIE_MAX_AGE, hex);
        sodium_memzero(hex, sizeof hex);
        sodium_memzero(resp->auth->token.data, 32);
        resp->auth->token.len = 0;
    } else if (!code) {  /* an answer without a session: never expected */
        return respond_error(wsi, r, PARLEY__ERROR_CODE__INTERNAL, "no session was made");
    }
    free(r->out_owned);
    r->out_owned = malloc(parley__response__get_packed_size(resp) + 1);
    if (!r->out_owned) return web_respond_text(wsi, r, 500, "out of memory\n");
    r->out_len = parley__response__pack(resp, r->out_owned);
    r->out = r->out_owned;
    r->status = web_status_for(code);
    r->mime = PROTOBUF_MIME;
    if (resp->error && resp->error->retry_after) r->retry_after = resp->error->retry_after;
    return web_respond(wsi, r);
}

/* What one queued frame means for the request: 1 = answered (respond), 0 = keep waiting. */
static int handle_frame(server *srv, struct lws *wsi, web_req *r, conn *c,
                        Parley__ServerFrame *f, int *rc)
{
    if (f->frame_case == PARLEY__SERVER_FRAME__FRAME_GOODBYE) {
        *rc = r->api == WEB_API_LOGOUT
                  ? web_auth_finish_logout(wsi, r)
                  : respond_error(wsi, r, PARLEY__ERROR_CODE__BAD_REQUEST,
                                  "the request body is not a valid protobuf message");
        return 1;
    }
    if (f->frame_case != PARLEY__SERVER_FRAME__FRAME_RESPONSE || f->response->id != r->wait_id)
        return 0;  /* an update pushed to the account meanwhile: not ours to answer */
    Parley__Response *resp = f->response;
    if (r->api != WEB_API_LOGOUT) {
        *rc = answer_auth(wsi, r, resp);
        return 1;
    }
    if (r->wait_id == 1 && !resp->error) {  /* resumed: now end the session */
        run_request(c, r, 2, FIELD_LOGOUT, NULL, 0);
        return 0;
    }
    *rc = web_auth_finish_logout(wsi, r);
    return 1;
}

int web_auth_poll(server *srv, struct lws *wsi, web_req *r)
{
    conn *c = r->conn_id ? conn_find(srv, r->conn_id) : NULL;
    if (!c) return respond_error(wsi, r, PARLEY__ERROR_CODE__INTERNAL, "request lost");
    out_frame *o;
    int rc = 0;
    while ((o = conn_pop_frame(c)) != NULL) {
        Parley__ServerFrame *f = parley__server_frame__unpack(NULL, o->len, o->data + LWS_PRE);
        int done = f && handle_frame(srv, wsi, r, c, f, &rc);
        if (f) {
            if (f->frame_case == PARLEY__SERVER_FRAME__FRAME_RESPONSE &&
                f->response->result_case == PARLEY__RESPONSE__RESULT_AUTH &&
                f->response->auth->token.data)
                sodium_memzero(f->response->auth->token.data, f->response->auth->token.len);
            parley__server_frame__free_unpacked(f, NULL);
        }
        sodium_memzero(o->data + LWS_PRE, o->len);  /* an AuthResult holds the token */
        free(o);
        if (done) return rc;
    }
    return 0;
}
