/*
 * web.h: everything parleyd does for browsers on its HTTP side: the web client's files
 * (http_static.c), the login API (web_auth.c), and the response writer and router they
 * share (web_http.c). networking.c hands every HTTP event except /healthz to
 * web_http_begin() / web_http_event(), and asks web_ws_filter() / web_ws_attach() at each
 * WebSocket upgrade.
 *
 * Network thread only. A web_req lives inside lws's per-connection HTTP state; it is reset
 * at the start of each transaction (keep-alive) and its buffers are freed at the end of it
 * or when lws closes the connection (web_http_event with LWS_CALLBACK_CLOSED_HTTP).
 */
#ifndef PARLEY_WEB_H
#define PARLEY_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* The largest request body the API reads (a LoginRequest is well under 1.2 KiB). */
#define WEB_API_BODY_MAX 4096
#define WEB_COOKIE_NAME "parley_session"
/* Strict-Transport-Security on every HTTPS response (web_http.c, and /healthz in
 * networking.c). Two years: long enough that a browser which visited once stays protected
 * between visits (and the length the HSTS preload list asks for), while a server that stops
 * serving HTTPS is a rare event for a messenger whose clients pin its certificate anyway. No
 * includeSubDomains: parleyd does not know what else runs under its host name, and a
 * browser ignores the header over a connection with a certificate error (a self-signed
 * certificate not yet accepted), so it only takes effect for servers with a valid one. */
#define HSTS "max-age=63072000"

typedef enum { WEB_API_NONE = 0, WEB_API_REGISTER, WEB_API_LOGIN, WEB_API_LOGOUT } web_api;

typedef struct {
    int active;                /* this transaction is ours (not /healthz) */
    /* API requests (web_auth.c). */
    web_api api;
    unsigned char *body;       /* request body, malloc'd, wiped before it is freed */
    size_t body_len;
    int body_too_large;
    uint64_t conn_id;          /* the internal conn running the request, 0 = none */
    uint64_t wait_id;          /* the request id whose Response we wait for */
    /* The response being written. */
    int responding;
    unsigned status;
    const char *mime;
    char set_cookie[160];      /* "" = none */
    unsigned retry_after;      /* Retry-After header when non-zero */
    const char *allow;         /* Allow header for 405, or NULL */
    const char *cache;         /* Cache-Control value */
    int gzip;                  /* Content-Encoding: gzip */
    int vary;                  /* Vary: Accept-Encoding */
    int close_after;           /* close instead of keep-alive (unread body left) */
    const unsigned char *out;  /* body: borrowed (a web file, a static text) or out_owned */
    unsigned char *out_owned;
    size_t out_len, out_off;
    int headers_sent;
} web_req;

/* LWS_CALLBACK_HTTP for any path but /healthz. Returns what the lws callback returns. */
int web_http_begin(server *srv, struct lws *wsi, web_req *r, const char *path);
/* Any later HTTP event (body, writeable, close). Returns 1 and sets *rc when it handled
 * the event, 0 to let lws's default handling run. */
int web_http_event(server *srv, struct lws *wsi, int reason, web_req *r, void *in, size_t len,
                   int *rc);

/* ---- shared by web_http.c and web_auth.c ---- */

/* Starts writing r's response (status, mime, out... set by the caller). 0 or -1. */
int web_respond(struct lws *wsi, web_req *r);
/* A short plain-text response. */
int web_respond_text(struct lws *wsi, web_req *r, unsigned status, const char *text);
/* Frees r's buffers (wiping the body) and clears it for the next transaction. */
void web_req_reset(server *srv, web_req *r);

/* ---- web_auth.c ---- */

int web_auth_begin(server *srv, struct lws *wsi, web_req *r, const char *path);
int web_auth_body(struct lws *wsi, web_req *r, const void *in, size_t len);
int web_auth_body_done(server *srv, struct lws *wsi, web_req *r);
/* HTTP_WRITEABLE while the request runs: turns its answer into the response once there. */
int web_auth_poll(server *srv, struct lws *wsi, web_req *r);

/* At a WebSocket upgrade: 0 to accept, -1 to refuse (a request with a Cookie whose Origin
 * is missing or not ours). */
int web_ws_filter(struct lws *wsi);
/* On an established WebSocket: keeps the session cookie's token on c (c->cookie) for a
 * ResumeRequest without a token. */
void web_ws_attach(conn *c, struct lws *wsi);

/* Pure helpers, unit-tested. */
/* 1 if `origin` is "https://" + host (ASCII case-insensitive). */
int web_origin_matches(const char *origin, const char *host);
/* Finds parley_session=<64 hex> in a Cookie header. 0 and the token, or -1. */
int web_cookie_token(const char *cookie_header, uint8_t token[32]);
/* The HTTP status for an API answer with this error code (0 = success). */
unsigned web_status_for(int error_code);

#endif
