/*
 * server.h: the one `server` object that ties parleyd's subsystems together, and the
 * connection object they share.
 *
 * Threads: everything in struct server and struct conn is touched only by the network
 * (lws service) thread, except `stop` (set from the signal handler) and the queues inside
 * storeq/auth_pool, which lock for themselves. The store thread and Argon2 workers never
 * see a connection: jobs name connections by their 64-bit id.
 *
 * Memory: main.c owns the server (server_run/server_free); networking.c owns the conns.
 */
#ifndef PARLEY_SERVER_H
#define PARLEY_SERVER_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "idmap.h"
#include "storeq.h"
#include "throttle.h"

typedef struct server server;
typedef struct conn conn;

/* One encoded ServerFrame waiting to be written: LWS_PRE bytes of headroom, then len. */
typedef struct out_frame {
    struct out_frame *next;
    size_t len;
    unsigned char data[];
} out_frame;

/* One complete WebSocket message read but not yet dispatched (networking.c's backlog). */
typedef struct in_frame {
    struct in_frame *next;
    size_t len;
    unsigned char data[];
} in_frame;

typedef enum {
    CONN_HELLO = 0,            /* waiting for Hello */
    CONN_READY,                /* Hello done; may or may not be authenticated */
    CONN_CLOSING,              /* Goodbye queued; input ignored; closes once flushed */
} conn_state;

struct conn {
    uint64_t id;               /* never reused while the process runs */
    struct lws *wsi;
    server *srv;
    conn_state state;
    int64_t user_id;           /* 0 until Register/Login/Resume succeeded */
    int64_t session_id;
    unsigned auth_pending : 1; /* a Register/Login/Resume is in flight */
    unsigned rx_paused : 1;    /* lws_rx_flow_control(0) is in force */
    unsigned discarding : 1;   /* dropping the rest of an oversized message (rx_len counts) */
    unsigned websocket : 1;    /* a /ws connection (not web_auth's HTTP-request conn, whose
                                  frames web_auth collects as the HTTP body) */
    unsigned write_failed : 1; /* a direct lws_write failed: close at the next WRITEABLE */
    unsigned paced : 1;        /* on the pacer's list (networking.c): flow to be re-checked */
    unsigned close_status;     /* WebSocket close code once CLOSING; 0 once the close frame
                                  is written (networking.c waits for the answer) */
    unsigned inflight;         /* requests submitted and not yet answered */
    /* Assembly of a message that arrives in pieces; NULL when idle (keeps idle conns small). */
    unsigned char *rx;
    size_t rx_len, rx_cap;
    /* Messages that arrived while the connection was over its bounds, in order: they are
     * dispatched as in-flight requests finish (networking.c). */
    in_frame *bl_head, *bl_tail;
    size_t bl_bytes;
    /* Outbound queue. */
    out_frame *out_head, *out_tail;
    size_t out_bytes;
    unsigned out_frames;
    flood_bucket flood;
    /* Push registry links (push.c): the account's and the session's connections. */
    conn *acc_prev, *acc_next, *ses_prev, *ses_next;
    char ip[48];               /* peer address, for login throttling and logs */
    uint8_t *cookie;           /* the browser's session cookie token (32 bytes), or NULL */
};

/* The expiry timer's state (expiry.c). */
typedef struct {
    lws_sorted_usec_list_t sul;
    int job_in_flight;
    int64_t due_us;            /* when the timer is set to fire (lws_now_usecs), 0 = unset */
    int64_t hint;              /* earliest expires_at learned while a job was in flight */
} expiry_state;

struct server {
    server_config cfg;
    struct lws_context *lws;
    struct uv_loop_s *uv;      /* the event loop lws runs in (networking.c owns it) */
    struct net_pacer *pacer;   /* back-pressure between event-loop rounds (networking.c) */
    struct listener *listener; /* the listening socket, accepted sockets' records (listener.c) */
    struct watchdog *watchdog; /* ends the process if the event loop stops (watchdog.c) */
    storeq *sq;
    auth_pool *auth;
    login_throttle *throttle;
    rate_window *reg_limit;    /* registrations per source per hour; NULL = no limit */
    key_counts *pw_jobs;       /* password (Argon2) jobs in progress per source */
    idmap conns;               /* conn id -> conn */
    idmap push_accounts;       /* account id -> first conn of its list (push.c) */
    idmap push_sessions;       /* session id -> first conn of its list (push.c) */
    uint64_t next_conn_id;
    size_t n_conns;
    /* Requests in flight on all connections (networking.c): above a high-water mark every
     * connection that submits stops reading, so the store queue fills no further. */
    size_t inflight_total;
    int inflight_paused;       /* the high-water mark was hit and not yet drained below low */
    expiry_state expiry;
    lws_sorted_usec_list_t housekeeping;
    struct calls *calls;       /* the calls in progress (call.c) */
    struct groupcalls *groupcalls; /* the running group calls (groupcall.c) */
    struct sfu_link *sfu;      /* the supervised parley-sfu (sfu_link.c) */
    struct web_files *web;     /* the web client's files (http_static.h), NULL = none */
    struct secret_limits *secret_limits; /* per-account secret-chat rates (req_secret.c) */
    atomic_int stop;           /* set by SIGTERM/SIGINT */
    int shutting_down;         /* no new work is started once set */
};

/* Unix seconds, the protocol's timestamps. */
int64_t server_now(void);

#endif
