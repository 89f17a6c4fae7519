/*
 * web_http.c: routes parleyd's HTTP requests (other than /healthz) to the web client's files
 * or the login API, and writes every response with the same security headers (see web.h).
 *
 * WHY the headers: the page must load nothing from another origin and run no script but its
 * own bundle (Content-Security-Policy), must not be framed (clickjacking), sniffed into
 * another type, or leak its URL to others (Referrer-Policy). Strict-Transport-Security
 * (HSTS) makes a browser that once reached the server over valid HTTPS refuse plain HTTP and
 * certificate errors for it from then on (web.h, HSTS).
 */
#include "http_static.h"
#include "log.h"
#include "networking.h"
#include "web.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* connect-src 'self' covers wss:// to this same host and port (CSP level 3).
 * 'wasm-unsafe-eval' lets the page compile WebAssembly (the RNNoise noise suppressor,
 * dist/rnnoise.wasm, fetched from 'self'); it allows no eval() of JavaScript. */
#define CSP "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " \
            "img-src 'self'; " \
            "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; " \
            "frame-ancestors 'none'"
#define BODY_CHUNK 16384
#define NOT_BUILT "the web client is not installed: build it with make (web/dist) or start " \
                  "parleyd with --web DIR\n"

void web_req_reset(server *srv, web_req *r)
{
    if (r->conn_id) {
        conn *c = conn_find(srv, r->conn_id);
        if (c) net_conn_close(srv, c);
    }
    if (r->body) {
        sodium_memzero(r->body, r->body_len);
        free(r->body);
    }
    free(r->out_owned);
    memset(r, 0, sizeof *r);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_headers(struct lws *wsi, web_req *r)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
                  *end = buf + sizeof buf - 1;
    char num[16];
    if (lws_add_http_common_headers(wsi, r->status, r->mime, r->out_len, &p, end) ||
        add_header(wsi, "content-security-policy:", CSP, &p, end) ||
        add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
        add_header(wsi, "x-frame-options:", "DENY", &p, end) ||
        add_header(wsi, "strict-transport-security:", HSTS, &p, end) ||
        add_header(wsi, "cross-origin-opener-policy:", "same-origin", &p, end) ||
        add_header(wsi, "cross-origin-resource-policy:", "same-origin", &p, end) ||
        add_header(wsi, "cache-control:", r->cache ? r->cache : "no-store", &p, end))
        return -1;
    if (r->gzip && add_header(wsi, "content-encoding:", "gzip", &p, end)) return -1;
    if (r->vary && add_header(wsi, "vary:", "Accept-Encoding", &p, end)) return -1;
    if (r->set_cookie[0] && add_header(wsi, "set-cookie:", r->set_cookie, &p, end)) return -1;
    if (r->allow && add_header(wsi, "allow:", r->allow, &p, end)) return -1;
    if (r->retry_after) {
        snprintf(num, sizeof num, "%u", r->retry_after);
        if (add_header(wsi, "retry-after:", num, &p, end)) return -1;
    }
    if (r->close_after && add_header(wsi, "connection:", "close", &p, end)) return -1;
    int rc = lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
    sodium_memzero(buf, sizeof buf);  /* held the Set-Cookie token */
    return rc;
}

int web_respond(struct lws *wsi, web_req *r)
{
    r->responding = 1;
    r->headers_sent = 0;
    r->out_off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

/* One step of writing the response: the headers, then the body in chunks. Returns the lws
 * callback's result: -1 closes the connection. */
static int write_some(server *srv, struct lws *wsi, web_req *r)
{
    if (!r->headers_sent) {
        if (write_headers(wsi, r) != 0) return -1;
        r->headers_sent = 1;
        if (r->out_len > 0) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        unsigned char buf[LWS_PRE + BODY_CHUNK];
        size_t n = r->out_len - r->out_off;
        if (n > BODY_CHUNK) n = BODY_CHUNK;
        memcpy(buf + LWS_PRE, r->out + r->out_off, n);
        int final = r->out_off + n == r->out_len;
        if (lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
            (int)n)
            return -1;
        r->out_off += n;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    int close_after = r->close_after;
    web_req_reset(srv, r);
    if (close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int accepts_gzip(struct lws *wsi)
{
    char v[256];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING) <= 0 ||
        lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_ACCEPT_ENCODING) < 0)
        return 0;
    return strstr(v, "gzip") != NULL;
}

static int serve_file(server *srv, struct lws *wsi, web_req *r, const char *path)
{
    int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    if (!get) {
        r->allow = "GET";
        return web_respond_text(wsi, r, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    if (!srv->web) return web_respond_text(wsi, r, HTTP_STATUS_NOT_FOUND, NOT_BUILT);
    const web_file *f = web_files_find(srv->web, path);
    if (!f) return web_respond_text(wsi, r, HTTP_STATUS_NOT_FOUND, "not found\n");
    r->status = HTTP_STATUS_OK;
    r->mime = f->mime;
    /* no-cache: revalidate, so a rebuilt client is picked up at once; files are small. */
    r->cache = "no-cache";
    r->vary = f->gz != NULL;
    r->gzip = f->gz && accepts_gzip(wsi);
    r->out = r->gzip ? f->gz : f->body;
    r->out_len = r->gzip ? f->gz_len : f->len;
    return web_respond(wsi, r);
}

int web_http_begin(server *srv, struct lws *wsi, web_req *r, const char *path)
{
    web_req_reset(srv, r);
    r->active = 1;
    if (strncmp(path, "/api/", 5) == 0) return web_auth_begin(srv, wsi, r, path);
    return serve_file(srv, wsi, r, path);
}

int web_http_event(server *srv, struct lws *wsi, int reason, web_req *r, void *in, size_t len,
                   int *rc)
{
    if (!r) return 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP_BODY:
        if (!r->active) return 0;
        *rc = web_auth_body(wsi, r, in, len);
        return 1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!r->active) return 0;
        *rc = web_auth_body_done(srv, wsi, r);
        return 1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!r->active) return 0;
        *rc = r->responding ? write_some(srv, wsi, r) : web_auth_poll(srv, wsi, r);
        return 1;
    case LWS_CALLBACK_CLOSED_HTTP:
        web_req_reset(srv, r);
        return 0;
    default:
        return 0;
    }
}
