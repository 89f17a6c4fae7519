/*
 * peerutil.c: URL parsing and the pending-acknowledgement FIFO shared by parley-bench's peer
 * targets (see peerutil.h).
 */
#include "peerutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_url_parse(const char *url, int default_port, bench_url *u)
{
    memset(u, 0, sizeof *u);
    if (!url)
        return -1;
    const char *sep = strstr(url, "://");
    if (!sep || sep == url || (size_t)(sep - url) >= sizeof u->scheme)
        return -1;
    memcpy(u->scheme, url, (size_t)(sep - url));
    const char *h = sep + 3;
    const char *slash = strchr(h, '/');
    size_t hostport = slash ? (size_t)(slash - h) : strlen(h);
    if (slash && snprintf(u->path, sizeof u->path, "%s", slash) >= (int)sizeof u->path)
        return -1;
    /* [v6]:port or host:port */
    const char *colon = NULL;
    if (*h == '[') {
        const char *close = memchr(h, ']', hostport);
        if (!close)
            return -1;
        if ((size_t)(close - h - 1) >= sizeof u->host)
            return -1;
        memcpy(u->host, h + 1, (size_t)(close - h - 1));
        if (close + 1 < h + hostport && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(h, ':', hostport);
        size_t hl = colon ? (size_t)(colon - h) : hostport;
        if (hl == 0 || hl >= sizeof u->host)
            return -1;
        memcpy(u->host, h, hl);
    }
    u->port = default_port;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end != h + hostport || p <= 0 || p > 65535)
            return -1;
        u->port = (int)p;
    }
    return u->port > 0 ? 0 : -1;
}

static int pending_grow(pending_fifo *q)
{
    size_t cap = q->cap ? q->cap * 2 : 64;
    uint32_t *k = malloc(cap * sizeof *k);
    char (*h)[PENDING_HDR] = malloc(cap * sizeof *h);
    if (!k || !h) {
        free(k);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < q->len; i++) {       /* unwrap the ring into the new arrays */
        size_t j = (q->head + i) % q->cap;
        k[i] = q->keys[j];
        memcpy(h[i], q->hdr[j], PENDING_HDR);
    }
    free(q->keys);
    free(q->hdr);
    q->keys = k;
    q->hdr = h;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int pending_push(pending_fifo *q, uint32_t key, const char *payload, size_t len)
{
    if (q->len == q->cap && pending_grow(q) != 0)
        return -1;
    size_t j = (q->head + q->len) % q->cap;
    size_t n = len < PENDING_HDR - 1 ? len : PENDING_HDR - 1;
    q->keys[j] = key;
    memcpy(q->hdr[j], payload, n);
    q->hdr[j][n] = '\0';
    q->len++;
    return 0;
}

int pending_front(const pending_fifo *q, uint32_t *key)
{
    if (q->len == 0)
        return -1;
    *key = q->keys[q->head];
    return 0;
}

int pending_pop(pending_fifo *q, uint32_t *key, char hdr[PENDING_HDR])
{
    if (q->len == 0)
        return -1;
    *key = q->keys[q->head];
    memcpy(hdr, q->hdr[q->head], PENDING_HDR);
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return 0;
}

void pending_free(pending_fifo *q)
{
    free(q->keys);
    free(q->hdr);
    memset(q, 0, sizeof *q);
}

int ack_list_add(ack_list *l, int client)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        int *c = realloc(l->client, cap * sizeof *c);
        if (!c)
            return -1;
        l->client = c;
        l->cap = cap;
    }
    l->client[l->len++] = client;
    return 0;
}

void ack_list_free(ack_list *l)
{
    free(l->client);
    memset(l, 0, sizeof *l);
}
