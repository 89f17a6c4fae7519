/*
 * listener.c: parleyd accepts its own connections and hands each to libwebsockets only
 * when it is known whose it is (see listener.h).
 *
 * WHY parleyd accepts instead of lws: a connection from a trusted proxy begins with a PROXY
 * protocol v2 header, in clear, before the TLS handshake; lws 4.1 reads a new socket
 * straight into OpenSSL and has no PROXY protocol support. So the listening socket is ours
 * (the lws vhost is created with CONTEXT_PORT_NO_LISTEN_SERVER: TLS set up, no listener),
 * and each accepted socket waits in a "pending" state under a libuv poll handle until its
 * first bytes arrive:
 *   - from a trusted proxy (trusted_proxies), exactly the PROXY header is read (first its
 *     16 fixed bytes, then the length they announce: never a byte of the TLS stream behind
 *     it), and its source address becomes the client's; a missing or malformed header
 *     closes the connection;
 *   - from anyone else the first bytes are only peeked: a PROXY header there is refused (and
 *     logged) instead of being taken for TLS, anything else is left for lws.
 * Then the poll handle is closed and the socket adopted into the lws vhost
 * (lws_adopt_descriptor_vhost_via_info), with the peer record as the wsi's opaque user
 * data, which is how the rest of parleyd learns the client's address (listener_peer_ip).
 * Waiting for the first bytes costs one more epoll registration per connection, and means a
 * socket that never sends anything never reaches lws at all.
 *
 * Limits applied here, all per accepted socket (TLS handshake, HTTP, WebSocket alike):
 *   - max_connections_per_source: sockets open at once per source (source.h: an IPv4
 *     address, an IPv6 /64); the excess is closed at once, before TLS;
 *   - a total bound (max_sockets, a little above max_connections, below the descriptor
 *     limit), so that accept() never fails for lack of descriptors;
 *   - auth_timeout_seconds from accept: until then a socket must have sent a complete HTTP
 *     request (plain HTTP is then lws's, with its keep-alive timeout) or, as a WebSocket,
 *     have logged in; a WebSocket that logs out gets the same time again. A sweep once a
 *     second closes the late ones: WebSockets with Goodbye{NOT_AUTHENTICATED}, the others
 *     (silent, mid-handshake) without a word. The sweep walks every socket: a few
 *     microseconds per thousand connections, against a timer per connection in each conn.
 */
#include "listener.h"
#include "cidr.h"
#include "log.h"
#include "networking.h"
#include "proxy_v2.h"
#include "source.h"
#include "srclimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define SWEEP_MS 1000
#define ACCEPT_BATCH 64        /* accepts per wake-up, so one burst cannot hog the loop */
#define ACCEPT_RETRY_MS 100    /* pause after accept() ran out of descriptors or memory */
#define PEEK_BYTES 16
/* TCP keepalive as lws set it on the sockets it accepted: find peers that vanished. */
#define KA_IDLE_S 300
#define KA_INTERVAL_S 30
#define KA_PROBES 3

typedef struct pending pending;
typedef struct net_peer net_peer;

/* One accepted socket, from accept() until lws destroys its wsi. */
struct net_peer {
    net_peer *prev, *next;     /* the listener's list of every socket */
    struct listener *ls;
    struct lws *wsi;           /* once adopted */
    pending *pend;             /* until adopted */
    uint64_t conn_id;          /* its WebSocket conn, once established */
    uint64_t deadline_ms;      /* uv_now() by which it must have logged in; 0 = none */
    unsigned counted : 1;      /* holds one count in ls->per_source under key */
    unsigned adopting : 1;     /* inside lws_adopt_...(): lws may destroy it meanwhile */
    unsigned destroyed : 1;    /* it did */
    unsigned orphan : 1;       /* lws refused it but still holds it: on ls->orphans */
    char ip[48];               /* the client's address (numeric) */
    char key[SOURCE_KEY_MAX];  /* source_key(ip) */
};

/* A socket waiting for its first bytes. Freed by the poll handle's close callback. */
struct pending {
    uv_poll_t poll;
    net_peer *peer;            /* NULL once it went on */
    int fd;
    int trusted;               /* from a trusted proxy: a PROXY header must come first */
    size_t have;               /* bytes of the header read so far (trusted only) */
    uint8_t hdr[];             /* PROXY_V2_MAX bytes when trusted */
};

/* At most one log line per second for each kind of refusal: an attacker must not be able
 * to fill the disk through us. */
typedef struct {
    uint64_t last_ms;
    unsigned quiet;            /* refusals not logged since the last line */
} log_limit;

struct listener {
    server *srv;
    struct lws_vhost *vh;
    int fd;
    int port;
    int polling;               /* the listening socket's poll handle is started */
    uv_poll_t poll;
    uv_timer_t sweep, retry;
    cidr_list trusted;
    srclimit *per_source;
    net_peer *head;
    net_peer *orphans;         /* refused by lws, whose wsi lws destroys later (adopt()) */
    size_t n_peers, max_peers;
    uint64_t timeout_ms;
    log_limit ll_source, ll_total, ll_spoof, ll_noproxy, ll_badproxy, ll_accept;
};

/* ---- helpers ----------------------------------------------------------------------------- */

static int log_now(log_limit *l, uint64_t now)
{
    if (l->last_ms && now - l->last_ms < 1000) {
        l->quiet++;
        return 0;
    }
    l->last_ms = now;
    return 1;
}

/* " (and N more)" for the refusals a limited line stands for. */
static const char *more(log_limit *l, char *buf, size_t len)
{
    buf[0] = '\0';
    if (l->quiet) snprintf(buf, len, " (and %u more in the last seconds)", l->quiet);
    l->quiet = 0;
    return buf;
}

/* The numeric address of a socket address; an IPv4-mapped IPv6 one as IPv4. */
static void addr_of(const struct sockaddr_storage *ss, char *ip, size_t iplen, int *family,
                    uint8_t addr[16])
{
    memset(addr, 0, 16);
    *family = AF_UNSPEC;
    ip[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(addr, &a->sin_addr, 4);
        *family = AF_INET;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a->sin6_addr.s6_addr, mapped, 12) == 0) {
            memcpy(addr, a->sin6_addr.s6_addr + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(addr, a->sin6_addr.s6_addr, 16);
            *family = AF_INET6;
        }
    }
    if (*family != AF_UNSPEC && !inet_ntop(*family, addr, ip, (socklen_t)iplen)) ip[0] = '\0';
}

static void set_socket_options(int fd)
{
    int one = 1, v;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  /* small frames, now */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    v = KA_IDLE_S;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v);
    v = KA_INTERVAL_S;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof v);
    v = KA_PROBES;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof v);
    v = 1000 * (KA_IDLE_S + KA_INTERVAL_S * KA_PROBES);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v);
}

static net_peer *peer_of(struct lws *wsi)
{
    return wsi ? lws_get_opaque_user_data(wsi) : NULL;
}

/* Takes one count of p's source; -1 (logged) when the source is at its cap. */
static int take_source(struct listener *ls, net_peer *p)
{
    unsigned cap = ls->srv->cfg.max_conns_per_source;
    if (srclimit_take(ls->per_source, p->key, cap) == 0) {
        p->counted = 1;
        return 0;
    }
    char m[64];
    if (log_now(&ls->ll_source, uv_now(ls->srv->uv)))
        log_warn("refusing a connection from %s: %u open (max_connections_per_source)%s",
                 p->key, srclimit_count(ls->per_source, p->key), more(&ls->ll_source, m,
                                                                      sizeof m));
    return -1;
}

static void list_unlink(net_peer **head, net_peer *p)
{
    if (p->prev) p->prev->next = p->next;
    else if (*head == p) *head = p->next;
    if (p->next) p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void list_push(net_peer **head, net_peer *p)
{
    p->prev = NULL;
    p->next = *head;
    if (*head) (*head)->prev = p;
    *head = p;
}

/* Unlinks p and gives back its counts; p itself is the caller's to free. */
static void peer_release(net_peer *p)
{
    struct listener *ls = p->ls;
    if (p->counted) srclimit_release(ls->per_source, p->key);
    p->counted = 0;
    list_unlink(&ls->head, p);
    ls->n_peers--;
}

/* ---- pending sockets ---------------------------------------------------------------------- */

static void pending_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Ends the pending phase: the poll handle closes (its memory goes in the callback). */
static int pending_end(net_peer *p)
{
    pending *pd = p->pend;
    int fd = pd->fd;
    p->pend = NULL;
    pd->peer = NULL;
    uv_close((uv_handle_t *)&pd->poll, pending_closed);  /* stops polling at once */
    return fd;
}

/* Closes a socket lws never got. */
static void pending_drop(net_peer *p)
{
    int fd = pending_end(p);
    close(fd);
    peer_release(p);
    free(p);
}

static void adopt(net_peer *p)
{
    struct listener *ls = p->ls;
    lws_adopt_desc_t d;
    memset(&d, 0, sizeof d);
    d.vh = ls->vh;
    d.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL;
    d.fd.sockfd = pending_end(p);
    d.opaque = p;
    p->adopting = 1;
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&d);  /* closes the fd on failure */
    p->adopting = 0;
    if (wsi) {
        p->wsi = wsi;
        return;
    }
    log_debug("lws did not take a connection from %s", p->ip);
    if (p->destroyed) {        /* listener_wsi_destroyed() released it already */
        free(p);
        return;
    }
    /* With a libuv loop lws may have closed the wsi without freeing it yet: its
     * WSI_DESTROY, with p as its opaque data, comes in a later loop round. Until then p
     * waits on the orphans list (freed there, or by listener_free() if lws dropped the
     * wsi without telling). */
    peer_release(p);
    p->orphan = 1;
    list_push(&ls->orphans, p);
}

/* Reads the PROXY header of a trusted proxy's connection, exactly and no further. */
static void read_proxy_header(net_peer *p)
{
    struct listener *ls = p->ls;
    pending *pd = p->pend;
    proxy_v2_info info;
    long r = proxy_v2_parse(pd->hdr, pd->have, &info);
    while (r == 0) {
        ssize_t n = recv(pd->fd, pd->hdr + pd->have, info.want - pd->have, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n <= 0) {          /* closed, or reset, before the header was whole */
            pending_drop(p);
            return;
        }
        pd->have += (size_t)n;
        r = proxy_v2_parse(pd->hdr, pd->have, &info);
    }
    char m[64];
    if (r < 0) {
        int none = pd->hdr[0] != 0x0D;  /* not even the signature's first byte */
        log_limit *ll = none ? &ls->ll_noproxy : &ls->ll_badproxy;
        if (log_now(ll, uv_now(ls->srv->uv)))
            log_warn("closing a connection from trusted proxy %s: %s PROXY v2 header%s",
                     p->ip, none ? "no" : "malformed", more(ll, m, sizeof m));
        pending_drop(p);
        return;
    }
    if (info.family == AF_INET || info.family == AF_INET6) {
        if (!inet_ntop(info.family, info.src_addr, p->ip, sizeof p->ip)) {
            pending_drop(p);
            return;
        }
    }  /* else LOCAL (the proxy's health check) or no address: the proxy is the source */
    source_key(p->ip, p->key, sizeof p->key);
    if (take_source(ls, p) != 0) {
        pending_drop(p);
        return;
    }
    adopt(p);
}

/* A direct connection's first bytes: a PROXY header from here is a spoofing attempt. */
static void check_direct(net_peer *p)
{
    struct listener *ls = p->ls;
    uint8_t b[PEEK_BYTES];
    ssize_t n = recv(p->pend->fd, b, sizeof b, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        pending_drop(p);
        return;
    }
    if (proxy_v2_looks_like_proxy(b, (size_t)n)) {
        char m[64];
        if (log_now(&ls->ll_spoof, uv_now(ls->srv->uv)))
            log_warn("refusing a PROXY header from %s: not in trusted_proxies%s", p->ip,
                     more(&ls->ll_spoof, m, sizeof m));
        pending_drop(p);
        return;
    }
    adopt(p);
}

static void on_pending_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    pending *pd = h->data;
    net_peer *p = pd->peer;
    if (!p) return;
    if (status < 0) pending_drop(p);
    else if (pd->trusted) read_proxy_header(p);
    else check_direct(p);
}

/* ---- accepting ---------------------------------------------------------------------------- */

static void accept_one(struct listener *ls, int fd, const struct sockaddr_storage *ss)
{
    server *srv = ls->srv;
    uint64_t now = uv_now(srv->uv);
    char m[64];
    if (srv->shutting_down || ls->n_peers >= ls->max_peers) {
        if (!srv->shutting_down && log_now(&ls->ll_total, now))
            log_warn("refusing a connection: %zu sockets open%s", ls->n_peers,
                     more(&ls->ll_total, m, sizeof m));
        close(fd);
        return;
    }
    int family;
    uint8_t addr[16];
    net_peer *p = calloc(1, sizeof *p);
    if (!p) {
        close(fd);
        return;
    }
    p->ls = ls;
    addr_of(ss, p->ip, sizeof p->ip, &family, addr);
    source_key(p->ip, p->key, sizeof p->key);
    int trusted = family != AF_UNSPEC && cidr_list_match(&ls->trusted, family, addr);
    /* A proxy's own address is not the source of what it relays: counted after the header. */
    if (!trusted && take_source(ls, p) != 0) {
        free(p);
        close(fd);
        return;
    }
    pending *pd = calloc(1, sizeof *pd + (trusted ? PROXY_V2_MAX : 0));
    if (!pd || uv_poll_init_socket(srv->uv, &pd->poll, fd) != 0) {
        if (p->counted) srclimit_release(ls->per_source, p->key);
        free(pd);
        free(p);
        close(fd);
        return;
    }
    set_socket_options(fd);
    pd->poll.data = pd;
    pd->peer = p;
    pd->fd = fd;
    pd->trusted = trusted;
    p->pend = pd;
    p->deadline_ms = now + ls->timeout_ms;
    list_push(&ls->head, p);
    ls->n_peers++;
    uv_poll_start(&pd->poll, UV_READABLE, on_pending_readable);
}


static void on_accept_retry(uv_timer_t *t);

static void on_listen_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct listener *ls = h->data;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(ls->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(ls, fd, &ss);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        /* Out of descriptors or memory: the socket stays readable, so back off briefly
         * instead of spinning on it. */
        char m[64];
        if (log_now(&ls->ll_accept, uv_now(ls->srv->uv)))
            log_warn("accept: %s%s", strerror(errno), more(&ls->ll_accept, m, sizeof m));
        uv_poll_stop(&ls->poll);
        uv_timer_start(&ls->retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
        return;
    }
}

static void on_accept_retry(uv_timer_t *t)
{
    struct listener *ls = t->data;
    if (ls->polling) uv_poll_start(&ls->poll, UV_READABLE, on_listen_readable);
}

/* ---- the login deadline ------------------------------------------------------------------- */

/* One socket at the sweep; returns 1 if it was closed for being late. */
static int sweep_one(struct listener *ls, net_peer *p, uint64_t now)
{
    if (p->pend) {
        if (now < p->deadline_ms) return 0;
        pending_drop(p);       /* silent since accept */
        return 1;
    }
    if (p->conn_id) {
        conn *c = conn_find(ls->srv, p->conn_id);
        if (!c || c->state == CONN_CLOSING) return 0;
        if (c->user_id) {
            p->deadline_ms = 0;
        } else if (!p->deadline_ms) {
            p->deadline_ms = now + ls->timeout_ms;  /* logged out since the last sweep */
        } else if (now >= p->deadline_ms && !c->auth_pending) {
            /* (A login still in flight waits for its answer: that delay is the server's,
             * and a failed one leaves the connection late at the next sweep.) */
            p->deadline_ms = 0;
            conn_goodbye(c, PARLEY__ERROR_CODE__NOT_AUTHENTICATED, "authentication timeout",
                         LWS_CLOSE_STATUS_POLICY_VIOLATION, 0);
            return 1;
        }
        return 0;
    }
    if (!p->deadline_ms || now < p->deadline_ms || !p->wsi) return 0;
    p->deadline_ms = 0;        /* TLS handshake or first request not done in time */
    lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return 1;
}

static void on_sweep(uv_timer_t *t)
{
    struct listener *ls = t->data;
    uint64_t now = uv_now(ls->srv->uv);
    unsigned late = 0;
    net_peer *next;
    for (net_peer *p = ls->head; p; p = next) {
        next = p->next;        /* p may be freed */
        late += (unsigned)sweep_one(ls, p, now);
    }
    if (late)
        log_info("closing %u connection%s not logged in within %llu s", late,
                 late == 1 ? "" : "s", (unsigned long long)(ls->timeout_ms / 1000));
}

/* ---- the API ------------------------------------------------------------------------------ */

/* socket(), bind(), listen() on the first address host:port resolves to. */
static int bind_listen(struct listener *ls, char *err, size_t errlen)
{
    const server_config *cfg = &ls->srv->cfg;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai = NULL;
    if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "cannot listen on %s:%s: unknown address", cfg->listen_host,
                 port);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", cfg->listen_host, port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ls->port = cfg->listen_port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        ls->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    ls->fd = fd;
    return 0;
}

int listener_open(server *srv, unsigned max_sockets, char *err, size_t errlen)
{
    struct listener *ls = calloc(1, sizeof *ls);
    if (!ls) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ls->srv = srv;
    ls->fd = -1;
    ls->max_peers = max_sockets;
    ls->timeout_ms = (uint64_t)srv->cfg.auth_timeout * 1000;
    char why[160];
    if (cidr_list_parse(srv->cfg.trusted_proxies ? srv->cfg.trusted_proxies : "", &ls->trusted,
                        why, sizeof why) != 0) {
        snprintf(err, errlen, "trusted_proxies: %s", why);
        free(ls);
        return -1;
    }
    ls->per_source = srclimit_new();
    if (!ls->per_source || bind_listen(ls, err, errlen) != 0) {
        if (!ls->per_source) snprintf(err, errlen, "out of memory");
        srclimit_free(ls->per_source);
        cidr_list_free(&ls->trusted);
        free(ls);
        return -1;
    }
    srv->listener = ls;
    return 0;
}

int listener_port(const server *srv)
{
    return srv->listener ? srv->listener->port : -1;
}

void listener_start(server *srv, struct lws_vhost *vh)
{
    struct listener *ls = srv->listener;
    ls->vh = vh;
    uv_poll_init_socket(srv->uv, &ls->poll, ls->fd);
    uv_timer_init(srv->uv, &ls->sweep);
    uv_timer_init(srv->uv, &ls->retry);
    ls->poll.data = ls->sweep.data = ls->retry.data = ls;
    ls->polling = 1;
    uv_poll_start(&ls->poll, UV_READABLE, on_listen_readable);
    uv_timer_start(&ls->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    if (ls->trusted.n)
        log_info("trusted proxies: %s (their connections must begin with a PROXY v2 header)",
                 srv->cfg.trusted_proxies);
}

static void handle_closed(uv_handle_t *h)
{
    (void)h;
}

void listener_close(server *srv)
{
    struct listener *ls = srv->listener;
    if (!ls) return;
    if (ls->polling) {
        ls->polling = 0;
        uv_close((uv_handle_t *)&ls->poll, handle_closed);
        uv_close((uv_handle_t *)&ls->sweep, handle_closed);
        uv_close((uv_handle_t *)&ls->retry, handle_closed);
    }
    if (ls->fd >= 0) close(ls->fd);
    ls->fd = -1;
    net_peer *next;
    for (net_peer *p = ls->head; p; p = next) {
        next = p->next;
        if (p->pend) pending_drop(p);
    }
}

void listener_free(server *srv)
{
    struct listener *ls = srv->listener;
    if (!ls) return;
    /* lws has destroyed every wsi by now (listener_wsi_destroyed); anything left was never
     * adopted. */
    while (ls->head) {
        net_peer *p = ls->head;
        peer_release(p);
        free(p);
    }
    while (ls->orphans) {
        net_peer *p = ls->orphans;
        list_unlink(&ls->orphans, p);
        free(p);
    }
    if (ls->fd >= 0) close(ls->fd);
    srclimit_free(ls->per_source);
    cidr_list_free(&ls->trusted);
    free(ls);
    srv->listener = NULL;
}

void listener_peer_ip(struct lws *wsi, char *out, size_t outlen)
{
    net_peer *p = peer_of(wsi);
    if (p) snprintf(out, outlen, "%s", p->ip);
    else lws_get_peer_simple(wsi, out, outlen);
}

void listener_http_request(struct lws *wsi)
{
    net_peer *p = peer_of(wsi);
    if (p && !p->conn_id) p->deadline_ms = 0;
}

void listener_ws_established(struct lws *wsi, conn *c)
{
    net_peer *p = peer_of(wsi);
    if (!p) return;
    p->conn_id = c->id;
    if (!p->deadline_ms) p->deadline_ms = uv_now(c->srv->uv) + p->ls->timeout_ms;
}

void listener_wsi_destroyed(struct lws *wsi)
{
    net_peer *p = peer_of(wsi);
    if (!p) return;
    lws_set_opaque_user_data(wsi, NULL);
    if (p->orphan) {
        list_unlink(&p->ls->orphans, p);
        free(p);
        return;
    }
    peer_release(p);
    if (p->adopting) p->destroyed = 1;  /* adopt() frees it when lws returns */
    else free(p);
}
