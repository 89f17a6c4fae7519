/*
 * lib.h: libparley's private structures and the interfaces between its modules.
 *
 *   api_*.c     the public calls of include/parley.h; they validate arguments, build a
 *               ClientFrame and use rpc.c to get the Response.
 *   rpc.c       request ids, the per-client list of calls waiting for an answer, and the
 *               blocking wrapper ("sync on async") that runs the loop until an answer comes.
 *   conn.c      the loop (one lws_context, one vhost per trusted CA), the WebSocket connection
 *               of a client, its outgoing frame queue and the Hello/Resume handshake.
 *   sync.c      update ordering by pts, GetDifference paging and the update queue.
 *   profile.c   the profile directory (profile.db + ca.pem).
 *   convert.c   protobuf -> public structs (deep copies) and the public *_free functions.
 *   errors.c    parley_error helpers and parley_code_name.
 *   api_secret_rpc.c  internal secret-chat requests and pushed envelopes (secret_rpc.h).
 *   secret_store.c    the device's secret-chat keys, chats and messages, sealed at rest.
 *   api_secret.c      the public secret-chat calls and incoming envelopes (secret_store.h).
 *
 * Memory: a parley_client owns everything hanging off it (queues, calls, buffers) and frees it
 * in parley_close. A received ServerFrame is owned by whoever the dispatcher hands it to (a
 * blocking call keeps it until the API function frees it with pl_resp_free).
 * Threading: everything here runs on the loop's thread; only parley_loop_wakeup is not.
 */
#ifndef PARLEY_LIB_H
#define PARLEY_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <libwebsockets.h>

#include "parley.h"
#include "parley.pb-c.h"
#include "profile.h"
#include "sync.h"

#define PL_MAX_FRAME 65536           /* protocol limit for one client frame (server: max_frame) */
/* Server frames are not held to 64 KiB: a history page (200 messages of up to 4096
 * characters) or a difference page can be a few MiB (docs/PROTOCOL.md). The bound only
 * keeps a broken server from exhausting memory. */
#define PL_MAX_RX_FRAME (16u << 20)
#define PL_PROTOCOL_VERSION 1
#define PL_DEFAULT_TIMEOUT_MS 15000

/* ---- errors.c ---------------------------------------------------------------------------- */

/* Fills err (if not NULL) and returns -code. */
int pl_err(parley_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A server Error: keeps its code, message and retry_after. Returns -code. */
int pl_err_server(parley_error *err, const Parley__Error *e);
/* Copies src into dst (if not NULL) and returns -src->code. */
int pl_err_copy(parley_error *dst, const parley_error *src);

/* ---- loop (conn.c) ----------------------------------------------------------------------- */

typedef struct pl_vhost {
    struct pl_vhost *next;
    unsigned char key[32];           /* SHA-256 of the trusted CA PEM; zeros = system store */
    struct lws_vhost *vh;
    SSL_CTX *tls;                    /* owned here; lws only borrows it */
} pl_vhost;

struct parley_loop {
    struct lws_context *ctx;
    struct pl_uv *uv;                /* the event loop lws runs in, and its timer (conn.c) */
    pl_vhost *vhosts;                /* few entries: one per distinct CA */
    int n_vhosts;
    int n_clients;
    int in_service;                  /* set while lws_service runs: blocking calls refuse */
};

int64_t pl_now_ms(void);
/* A new SendMessage idempotency key: non-zero, increasing per client, time-ordered
 * (api_message.c says why). */
uint64_t pl_new_random_id(parley_client *c);
/* Runs one service round, waiting at most until deadline_ms (pl_now_ms time base; -1 =
 * no limit, 0 = do not wait). */
int pl_loop_service(parley_loop *l, int64_t deadline_ms);
/* One round that waits for I/O at most wait_ms (-1: no limit; 0: the deadline is due at once,
 * as it is for a caller that lost the CPU before the wait began), then returns. */
int pl_loop_wait(parley_loop *l, int64_t wait_ms);

/* ---- client ------------------------------------------------------------------------------ */

enum {
    CONN_IDLE = 0,        /* no connection */
    CONN_CONNECTING,      /* TCP/TLS/WebSocket handshake */
    CONN_HELLO,           /* Hello sent */
    CONN_AUTH,            /* Resume sent */
    CONN_OPEN,            /* Hello done; `authed` says whether a session is active */
};

typedef struct pl_out {             /* one packed frame, LWS_PRE bytes of headroom first */
    struct pl_out *next;
    size_t len;
    unsigned char buf[];
} pl_out;

typedef struct pl_call pl_call;
struct pl_envelope;                  /* secret_rpc.h */
/* Completion of an asynchronous call: err is NULL on success (resp is then set); on failure
 * resp is the server's Response if there was one, else NULL. The call is freed afterwards. */
typedef void (*pl_done_fn)(parley_client *c, pl_call *call, const Parley__Response *resp,
                           const parley_error *err);

struct pl_call {
    pl_call *prev, *next;
    uint64_t id;
    pl_done_fn done;                 /* NULL: a blocking caller polls `finished` */
    void *ud;
    int heap;                        /* free() after completion */
    int held;                        /* its frame waits for authentication */
    /* blocking calls: */
    int finished;
    int lost;                        /* failed because the connection went away */
    Parley__ServerFrame *frame;      /* the answer (owned by the call until taken) */
    parley_error err;
    int rc;                          /* 0 or -code */
};

struct parley_client {
    parley_loop *loop;
    int own_loop;
    pl_profile prof;

    char *url;                       /* normalised "wss://host:port", may be NULL */
    char *host;
    int port;
    char *ca_pem;                    /* CA to trust (NULL = system store) */
    size_t ca_len;
    char *device;
    char *client_name;
    int timeout_ms;

    /* session */
    int has_session;
    uint8_t token[32];
    parley_user me;
    int64_t session_id;
    uint64_t last_random_id;         /* the last SendMessage key (api_message.c) */

    /* connection */
    struct lws *wsi;
    int state;
    int authed;
    unsigned conn_gen;               /* bumped at every connection attempt */
    int64_t connect_started_ms;
    unsigned failed_gen;             /* == conn_gen once that attempt/connection failed */
    parley_error conn_err;           /* why the last connection failed or ended */
    parley_error hs_err;             /* Resume refused (connection stays open) */
    int goodbye_code;
    char goodbye_reason[200];
    int tls_failed;
    char fingerprint[96];
    uint64_t server_pts;
    pl_out *out_head, *out_tail;     /* ready for the socket */
    pl_out *held_head, *held_tail;   /* async calls made before authentication */
    unsigned char *rx;
    size_t rx_len, rx_cap;
    uint64_t next_id;
    pl_call *calls_head, *calls_tail;

    /* updates */
    pl_sync sync;
    uint64_t saved_pts;              /* last position written to the profile */
    unsigned saved_own_changes;      /* sync.own_changes when the own positions were saved */
    unsigned unsaved;                /* updates returned since the position was last saved */
    int pts_known;                   /* 0: no stored position; take the server's at auth */
    parley_update_cb upd_cb;
    void *upd_ud;

    /* secret chats: where pushed envelopes go (secret_rpc.h) */
    void (*secret_cb)(parley_client *c, void *ud, const struct pl_envelope *e);
    void *secret_ud;
    struct pl_sc *sc;                /* the secret-chat layer (secret_store.h), NULL until used */
};

/* conn.c */
int pl_conn_start(parley_client *c, parley_error *err);
/* Waits until connected (and authenticated if need_auth) or deadline. */
int pl_conn_ready(parley_client *c, int need_auth, int64_t deadline_ms, parley_error *err);
/* Closes the connection now (if any) and fails its calls with err. */
void pl_conn_drop(parley_client *c, const parley_error *err);
/* Queues packed bytes for the socket (or for after authentication if held). */
int pl_conn_queue(parley_client *c, const Parley__ClientFrame *f, int held);
void pl_conn_authed(parley_client *c);
/* Sends Resume on an open, unauthenticated connection. */
void pl_conn_resume(parley_client *c);
void pl_forget_session(parley_client *c);
struct lws_protocols;
extern const struct lws_protocols pl_protocols[];

/* ---- rpc.c ------------------------------------------------------------------------------- */

typedef struct {
    Parley__ServerFrame *frame;      /* owner */
    Parley__Response *r;             /* frame->response */
    int lost;                        /* the call failed because the connection went away */
} pl_resp;

/* Assigns an id, registers the call and queues the frame. held: send after authentication. */
int pl_rpc_start(parley_client *c, pl_call *call, Parley__ClientFrame *f, int held);
/* Blocking request: connects as needed, sends, waits. On success *out holds the Response
 * (free with pl_resp_free); on failure returns -code and fills err. */
int pl_rpc(parley_client *c, Parley__ClientFrame *f, int need_auth, pl_resp *out,
           parley_error *err);
void pl_resp_free(pl_resp *r);
void pl_rpc_on_response(parley_client *c, Parley__ServerFrame *f);
/* Fails every waiting call (connection gone). */
void pl_rpc_fail_all(parley_client *c, const parley_error *err, int lost);
/* Fails only the calls whose frames were held for authentication (Resume refused). */
void pl_rpc_fail_held(parley_client *c, const parley_error *err);
/* Their frames were released to the socket: they are ordinary waiting calls now. */
void pl_rpc_release_held(parley_client *c);
/* now + the client's timeout for blocking calls (pl_now_ms time base). */
int64_t pl_deadline(const parley_client *c);
int pl_check_not_in_service(parley_client *c, parley_error *err);

/* ---- sync.c (client glue; the pure part is in sync.h) ------------------------------------ */

void pl_sync_on_update(parley_client *c, const Parley__Update *u);
void pl_sync_fetch_difference(parley_client *c);
void pl_sync_on_result(parley_client *c, uint64_t pts, uint32_t count);
void pl_sync_on_authed(parley_client *c);
/* Writes the safe position to the profile if it moved. */
void pl_sync_save(parley_client *c);

/* ---- convert.c --------------------------------------------------------------------------- */

char *pl_strdup(const char *s);
int pl_conv_message(const Parley__Message *in, parley_message *out);
parley_message *pl_conv_message_new(const Parley__Message *in);
int pl_conv_chat(const Parley__Chat *in, parley_chat *out);
parley_chat *pl_conv_chat_new(const Parley__Chat *in);
parley_update *pl_conv_update(const Parley__Update *in);
void pl_message_clear(parley_message *m);
void pl_chat_clear(parley_chat *c);
/* The text shown for a service message, e.g. 'alice added bob, carol'. malloc'ed. */
char *pl_service_text(const Parley__Message *m);
/* "30s", "5m", "1h", "2d", "1w". */
void pl_format_duration(uint32_t seconds, char *buf, size_t len);

/* ---- helpers shared by api_*.c ----------------------------------------------------------- */

/* Checks text is 1..max code points of strict UTF-8; otherwise returns -code with a
 * message naming `what`. */
int pl_check_text(const char *text, long max, int code, const char *what, parley_error *err);
/* Parses "wss://host:port" or "https://host:port" (port 443 if absent) into the normalised
 * "wss://host:port", the host and the port. */
int pl_parse_url(const char *url, char **norm, char **host, int *port, parley_error *err);
/* Strips a leading '@'. */
const char *pl_bare_username(const char *name);

#endif
