/*
 * api_client.c: opening and closing clients, connecting, and the small accessors of
 * parley.h. parley_open reads the profile (session, server, trusted CA, sync position) but
 * does not touch the network; connections are made on demand by the other calls.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "lib.h"
#include "secret_store.h"
#include "utf8.h"

#define MAX_DEVICE_CHARS 64

int pl_parse_url(const char *url, char **norm, char **host_out, int *port_out,
                 parley_error *err)
{
    const char *p;
    if (!strncasecmp(url, "wss://", 6))
        p = url + 6;
    else if (!strncasecmp(url, "https://", 8))
        p = url + 8;
    else
        return pl_err(err, PARLEY_E_ARGUMENT,
                      "unsupported server URL \"%.120s\": use wss://host:port", url);
    const char *h = p, *h_end;
    if (*p == '[') {                         /* IPv6 literal */
        h = ++p;
        while (*p && *p != ']')
            p++;
        if (*p != ']')
            return pl_err(err, PARLEY_E_ARGUMENT, "bad server URL \"%.120s\"", url);
        h_end = p++;
    } else {
        while (*p && *p != ':' && *p != '/')
            p++;
        h_end = p;
    }
    size_t hlen = (size_t)(h_end - h);
    if (hlen == 0 || hlen > 253)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad host in server URL \"%.120s\"", url);
    for (const char *q = h; q < h_end; q++)
        if (!isalnum((unsigned char)*q) && !strchr(".-_:%", *q))
            return pl_err(err, PARLEY_E_ARGUMENT, "bad host in server URL \"%.120s\"", url);
    long port = 443;
    if (*p == ':') {
        char *end;
        p++;
        if (!isdigit((unsigned char)*p))
            return pl_err(err, PARLEY_E_ARGUMENT, "bad port in server URL \"%.120s\"", url);
        port = strtol(p, &end, 10);
        if (port < 1 || port > 65535)
            return pl_err(err, PARLEY_E_ARGUMENT, "bad port in server URL \"%.120s\"", url);
        p = end;
    }
    if (*p && strcmp(p, "/") && strcmp(p, "/ws"))
        return pl_err(err, PARLEY_E_ARGUMENT,
                      "server URL \"%.120s\" must not have a path: use wss://host:port", url);
    char *host = strndup(h, hlen);
    if (!host)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    for (char *q = host; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    char *n = NULL;
    int v6 = memchr(h, ':', hlen) != NULL;
    if (asprintf(&n, v6 ? "wss://[%s]:%ld" : "wss://%s:%ld", host, port) < 0) {
        free(host);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    *norm = n;
    *host_out = host;
    *port_out = (int)port;
    return 0;
}

/* "parley-cli on <hostname>", cut to the device name limit. */
static char *default_device(void)
{
    char host[256] = "unknown";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    char buf[MAX_DEVICE_CHARS + 1];
    snprintf(buf, sizeof(buf), "parley-cli on %.50s", host);
    if (utf8_count(buf, strlen(buf)) < 0)
        snprintf(buf, sizeof(buf), "parley-cli");
    return pl_strdup(buf);
}

static int load_session(parley_client *c, parley_error *err)
{
    int rc = pl_profile_get_blob(&c->prof, PK_TOKEN, c->token, sizeof(c->token), err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    c->has_session = 1;
    int64_t v = 0;
    if ((rc = pl_profile_get_int(&c->prof, PK_USER_ID, &v, err)) < 0)
        return rc;
    c->me.id = v;
    if ((rc = pl_profile_get_text(&c->prof, PK_USERNAME, &c->me.username, err)) < 0)
        return rc;
    v = 0;
    if ((rc = pl_profile_get_int(&c->prof, PK_SESSION_ID, &v, err)) < 0)
        return rc;
    c->session_id = v;
    v = 0;
    if ((rc = pl_profile_get_int(&c->prof, PK_PTS, &v, err)) < 0)
        return rc;
    c->sync.pts = c->saved_pts = v > 0 ? (uint64_t)v : 0;
    c->pts_known = rc == 0;
    char *own = NULL;
    if ((rc = pl_profile_get_text(&c->prof, PK_OWN, &own, err)) < 0)
        return rc;
    pl_sync_own_parse(&c->sync, own);
    c->saved_own_changes = c->sync.own_changes;
    free(own);
    return 0;
}

static int setup_server(parley_client *c, const parley_options *opt, parley_error *err)
{
    char *stored = NULL;
    int rc = pl_profile_get_text(&c->prof, PK_SERVER_URL, &stored, err);
    if (rc < 0)
        return rc;
    const char *url = opt->server_url ? opt->server_url : stored;
    if (url) {
        rc = pl_parse_url(url, &c->url, &c->host, &c->port, err);
        if (rc == 0 && opt->server_url && stored && c->has_session && strcmp(stored, c->url)) {
            rc = pl_err(err, PARLEY_E_ARGUMENT,
                        "this profile is logged in to %.100s; log out first or use another "
                        "profile", stored);
        } else if (rc == 0 && opt->server_url && (!stored || strcmp(stored, c->url))) {
            rc = pl_profile_set_text(&c->prof, PK_SERVER_URL, c->url, err);
        }
    }
    free(stored);
    return rc;
}

static int setup_ca(parley_client *c, const parley_options *opt, parley_error *err)
{
    int rc;
    if (opt->ca_file) {
        rc = pl_read_file(opt->ca_file, 1024 * 1024, &c->ca_pem, &c->ca_len, err);
        if (rc < 0)
            return rc;
        if (!strstr(c->ca_pem, "-----BEGIN CERTIFICATE-----"))
            return pl_err(err, PARLEY_E_ARGUMENT, "%s holds no PEM certificate", opt->ca_file);
        return pl_profile_store_ca(&c->prof, c->ca_pem, c->ca_len, err);
    }
    rc = pl_profile_load_ca(&c->prof, &c->ca_pem, &c->ca_len, err);
    return rc < 0 ? rc : 0;
}

static int setup_names(parley_client *c, const parley_options *opt, parley_error *err)
{
    if (opt->device_name) {
        long n = utf8_count(opt->device_name, strlen(opt->device_name));
        if (n < 0 || n > MAX_DEVICE_CHARS)
            return pl_err(err, PARLEY_E_ARGUMENT,
                          "device name must be 1-%d characters of UTF-8", MAX_DEVICE_CHARS);
        c->device = pl_strdup(n ? opt->device_name : "unknown");
    } else {
        /* The name this device logged in with, so a later session gets the same one. */
        int rc = pl_profile_get_text(&c->prof, PK_DEVICE, &c->device, err);
        if (rc < 0)
            return rc;
        if (rc == 1 || !c->device[0]) {
            free(c->device);
            c->device = default_device();
        }
    }
    c->client_name = pl_strdup(opt->client_name ? opt->client_name
                                                : "libparley/" PARLEY_VERSION);
    if (!c->device || !c->client_name)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    return 0;
}

parley_client *parley_open(parley_loop *loop, const parley_options *opt, parley_error *err)
{
    if (!opt || (!opt->profile_dir && !opt->ephemeral) || opt->timeout_ms < 0) {
        pl_err(err, PARLEY_E_ARGUMENT, "parley_open needs options with a profile directory");
        return NULL;
    }
    parley_client *c = calloc(1, sizeof(*c));
    if (!c) {
        pl_err(err, PARLEY_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!loop) {
        loop = parley_loop_new(err);
        if (!loop) {
            free(c);
            return NULL;
        }
        c->own_loop = 1;
    }
    c->loop = loop;
    loop->n_clients++;
    c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : PL_DEFAULT_TIMEOUT_MS;
    /* sodium_init is idempotent; randombytes_buf needs it before parley_send. */
    int rc = sodium_init() < 0 ? pl_err(err, PARLEY_E_INTERNAL, "libsodium cannot start") : 0;
    if (rc == 0)
        rc = pl_profile_open(&c->prof, opt->ephemeral ? NULL : opt->profile_dir, err);
    if (rc == 0)
        rc = load_session(c, err);
    if (rc == 0)
        rc = setup_server(c, opt, err);
    if (rc == 0)
        rc = setup_ca(c, opt, err);
    if (rc == 0)
        rc = setup_names(c, opt, err);
    if (rc < 0) {
        parley_close(c);
        return NULL;
    }
    return c;
}

void parley_close(parley_client *c)
{
    if (!c)
        return;
    if (c->loop && !c->loop->in_service)
        pl_sc_flush_reads(c);      /* secret messages shown: their read notice */
    pl_sync_save(c);
    parley_error e;
    pl_err(&e, PARLEY_E_CONNECT, "client closed");
    pl_conn_drop(c, &e);
    pl_rpc_fail_all(c, &e, 0);
    pl_sync_clear(&c->sync);
    pl_sc_free(c);
    pl_profile_close(&c->prof);
    sodium_memzero(c->token, sizeof(c->token));
    free(c->url);
    free(c->host);
    free(c->ca_pem);
    free(c->device);
    free(c->client_name);
    free(c->me.username);
    parley_loop *loop = c->loop;
    int own = c->own_loop;
    free(c);
    if (loop) {
        loop->n_clients--;
        if (own)
            parley_loop_free(loop);
    }
}

int parley_connect(parley_client *c, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    int rc = pl_check_not_in_service(c, err);
    if (rc < 0)
        return rc;
    int64_t deadline = pl_deadline(c);
    return pl_conn_ready(c, c->has_session, deadline, err);
}

int parley_connect_async(parley_client *c, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    pl_conn_resume(c);
    return pl_conn_start(c, err);
}

int parley_is_ready(const parley_client *c)
{
    return c && c->state == CONN_OPEN && c->authed;
}

int parley_logged_in(const parley_client *c)
{
    return c && c->has_session;
}

const parley_user *parley_me(const parley_client *c)
{
    return c && c->has_session && c->me.id ? &c->me : NULL;
}

int parley_session_token(const parley_client *c, uint8_t out[32])
{
    if (!c || !out || !c->has_session)
        return -PARLEY_E_NO_SESSION;
    memcpy(out, c->token, 32);
    return 0;
}

int parley_set_session_token(parley_client *c, const uint8_t token[32])
{
    if (!c || !token)
        return -PARLEY_E_ARGUMENT;
    memcpy(c->token, token, 32);
    c->has_session = 1;
    c->pts_known = 0;
    c->authed = 0;
    /* Only ephemeral clients are meant to use this; a profile keeps what it was given. */
    if (c->prof.db)
        pl_profile_save_session(&c->prof, c->url, c->token, c->me.id, c->me.username,
                                c->session_id, c->sync.pts, NULL);
    /* An open connection re-authenticates on the next call that needs it. */
    return 0;
}

/* ---- helpers shared by the api files ----------------------------------------------------- */

int pl_check_text(const char *text, long max, int code, const char *what, parley_error *err)
{
    if (!text)
        return pl_err(err, code, "%s is missing", what);
    long n = utf8_count(text, strlen(text));
    if (n < 0)
        return pl_err(err, code, "%s is not valid UTF-8", what);
    if (n == 0 || n > max)
        return pl_err(err, code, "%s must be 1-%ld characters (got %ld)", what, max, n);
    return 0;
}

const char *pl_bare_username(const char *name)
{
    return name && name[0] == '@' ? name + 1 : name;
}
