/*
 * relay.c: parley-relay, the "bare relay" of the peers benchmark (bench/run-peers): the
 * least a server can do with Parley's transport. It accepts TLS WebSocket connections on
 * /r/<n> (libwebsockets, the same library, TLS settings and framing as parleyd) and forwards
 * every binary message from client n to client n^1 as it is: no parsing, no storage, no
 * authentication, no acknowledgement. Fan-out: a message from /g/0 goes to every other /g/<n>. What it reaches on a machine is the ceiling for any
 * server speaking Parley's transport there; the bench's `relay` target drives it.
 *
 * One thread, one lws context. Output per connection is a FIFO of copied frames, capped
 * (RELAY_MAX_QUEUED): past the cap frames are dropped and counted, so a reader that stops
 * reading cannot exhaust memory. It stops on SIGINT/SIGTERM or after --max-seconds.
 *
 * Memory: a frame is malloc'd when received and freed after lws_write or when its connection
 * closes; the table of connections by index is owned by main.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELAY_MAX_QUEUED 100000      /* frames waiting on one connection */
#define RELAY_MAX_FRAME (1 << 20)

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char buf[];          /* LWS_PRE bytes of headroom, then the payload */
} frame;

typedef struct {
    int index;                    /* -1 until ESTABLISHED parsed the path */
    int group;                    /* connected on /g/<n>: a fan-out member */
    frame *head, *tail;
    size_t queued;
    unsigned char *in;            /* message being assembled from fragments */
    size_t in_len;
} session;

typedef struct {
    struct lws **by_index;        /* connection of client n, or NULL */
    struct lws **group;           /* fan-out member n, or NULL */
    int group_top;                /* highest member index connected so far, + 1 */
    int max_clients;
    unsigned long long forwarded, dropped_no_peer, dropped_full, connections;
} relay;

static volatile sig_atomic_t stop_flag;
static struct lws_context *g_ctx;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    if (g_ctx)
        lws_cancel_service(g_ctx);
}

static void session_clear(session *s)
{
    for (frame *f = s->head, *next; f; f = next) {
        next = f->next;
        free(f);
    }
    s->head = s->tail = NULL;
    s->queued = 0;
    free(s->in);
    s->in = NULL;
    s->in_len = 0;
}

/* "/r/<n>" or "/g/<n>" -> n (and *group), or -1. */
static int parse_index(struct lws *wsi, int max, int *group)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        (strncmp(uri, "/r/", 3) && strncmp(uri, "/g/", 3)))
        return -1;
    *group = uri[1] == 'g';
    char *end;
    long n = strtol(uri + 3, &end, 10);
    return *end == '\0' && n >= 0 && n < max ? (int)n : -1;
}

/* Appends the assembled message to one peer's queue and asks for a writable callback. */
static void forward_to(relay *r, session *from, struct lws *peer)
{
    session *ps = lws_wsi_user(peer);
    if (ps->queued >= RELAY_MAX_QUEUED) {
        r->dropped_full++;
        return;
    }
    frame *f = malloc(sizeof *f + LWS_PRE + from->in_len);
    if (!f) {
        r->dropped_full++;
        return;
    }
    f->next = NULL;
    f->len = from->in_len;
    memcpy(f->buf + LWS_PRE, from->in, from->in_len);
    if (ps->tail)
        ps->tail->next = f;
    else
        ps->head = f;
    ps->tail = f;
    ps->queued++;
    r->forwarded++;
    lws_callback_on_writable(peer);
}

static void forward(relay *r, session *from)
{
    if (from->group) {           /* only member 0 sends to the group */
        for (int i = 1; from->index == 0 && i < r->group_top; i++)
            if (r->group[i])
                forward_to(r, from, r->group[i]);
        return;
    }
    struct lws *peer = r->by_index[from->index ^ 1];
    if (!peer) {
        r->dropped_no_peer++;
        return;
    }
    forward_to(r, from, peer);
}

static int on_receive(relay *r, struct lws *wsi, session *s, const void *in, size_t len)
{
    if (s->in_len + len > RELAY_MAX_FRAME)
        return -1;
    unsigned char *b = realloc(s->in, s->in_len + len + 1);
    if (!b)
        return -1;
    s->in = b;
    memcpy(s->in + s->in_len, in, len);
    s->in_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        forward(r, s);
        s->in_len = 0;
    }
    return 0;
}

static int on_writeable(struct lws *wsi, session *s)
{
    for (int i = 0; i < 64 && s->head && !lws_send_pipe_choked(wsi); i++) {
        frame *f = s->head;
        if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY) < (int)f->len)
            return -1;
        s->head = f->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        free(f);
    }
    if (s->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    session *s = user;
    relay *r = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        s->index = parse_index(wsi, r->max_clients, &s->group);
        if (s->index < 0) {
            return -1;           /* bad path */
        }
        struct lws **slot = s->group ? &r->group[s->index] : &r->by_index[s->index];
        if (*slot) {
            s->index = -1;       /* that client is already connected */
            return -1;
        }
        *slot = wsi;
        if (s->group && s->index >= r->group_top)
            r->group_top = s->index + 1;
        r->connections++;
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return s->index >= 0 ? on_receive(r, wsi, s, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        if (s->index >= 0 && !s->group && r->by_index[s->index] == wsi)
            r->by_index[s->index] = NULL;
        if (s->index >= 0 && s->group && r->group[s->index] == wsi)
            r->group[s->index] = NULL;
        session_clear(s);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { "relay", callback, sizeof(session), 4096, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: parley-relay --cert PEM --key PEM [--port N] [--host 127.0.0.1]\n"
               "                    [--max-clients N] [--max-seconds S]\n"
               "Forwards binary WebSocket messages from /r/<n> to /r/<n^1> over TLS,\n"
               "and from /g/0 to every other /g/<n>.\n");
}

/* Parses argv into the context info; -1 on a bad option. */
static int parse(int argc, char **argv, struct lws_context_creation_info *info, relay *r,
                 double *max_s)
{
    for (int a = 1; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!strcmp(argv[a], "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v)
            return -1;
        if (!strcmp(argv[a], "--cert")) info->ssl_cert_filepath = v;
        else if (!strcmp(argv[a], "--key")) info->ssl_private_key_filepath = v;
        else if (!strcmp(argv[a], "--port")) info->port = atoi(v);
        else if (!strcmp(argv[a], "--host")) info->iface = v;
        else if (!strcmp(argv[a], "--max-clients")) r->max_clients = atoi(v);
        else if (!strcmp(argv[a], "--max-seconds")) *max_s = atof(v);
        else return -1;
        a++;
    }
    if (!info->ssl_cert_filepath || !info->ssl_private_key_filepath || info->port <= 0 ||
        r->max_clients < 2 || *max_s <= 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    relay r = { .max_clients = 200000 };
    double max_s = 3600;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.iface = "127.0.0.1";
    if (parse(argc, argv, &info, &r, &max_s) != 0) {
        usage(stderr);
        return 2;
    }
    r.by_index = calloc((size_t)r.max_clients, sizeof *r.by_index);
    r.group = calloc((size_t)r.max_clients, sizeof *r.group);
    if (!r.by_index || !r.group)
        return 1;
    lws_set_log_level(LLL_ERR, NULL);
    info.protocols = protocols;
    info.user = &r;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!strchr(info.iface, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 20;
    g_ctx = lws_create_context(&info);
    if (!g_ctx) {
        fprintf(stderr, "parley-relay: cannot listen on %s:%d\n", info.iface, info.port);
        free(r.by_index);
        free(r.group);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    time_t end = time(NULL) + (time_t)max_s;
    while (!stop_flag && time(NULL) < end)
        if (lws_service(g_ctx, 0) < 0)
            break;
    lws_context_destroy(g_ctx);
    fprintf(stderr, "parley-relay: %llu connections, %llu forwarded, %llu dropped (no peer), "
                    "%llu dropped (queue full)\n", r.connections, r.forwarded,
            r.dropped_no_peer, r.dropped_full);
    free(r.by_index);
    free(r.group);
    return 0;
}
