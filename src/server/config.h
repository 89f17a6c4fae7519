/*
 * config.h: parleyd's settings, from defaults, an optional `key = value` file and the
 * command line (the command line wins over the file, the file over the defaults).
 *
 * Memory: a server_config owns its strings; config_free() releases them. All functions are
 * pure apart from config_load() reading the file, so they are unit-tested directly.
 */
#ifndef PARLEY_CONFIG_H
#define PARLEY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *listen_host;           /* "127.0.0.1", "::1", "0.0.0.0", ... (no brackets) */
    int listen_port;             /* 0 = let the kernel choose */
    char *data_dir;
    int log_level;               /* a log_level from log.h */
    double flood_rate;           /* requests per second per connection (token refill) */
    double flood_burst;          /* token bucket size */
    size_t max_frame;            /* largest assembled WebSocket message, bytes */
    unsigned long long argon2_ops;
    size_t argon2_mem;           /* bytes */
    unsigned login_fail_user;    /* login attempts per (username, source) before growing
                                    delays; also the pending logins per username and source */
    unsigned login_fail_ip;      /* failed logins per source per window, across usernames */
    unsigned login_fail_window;  /* seconds */
    unsigned max_connections;    /* WebSocket connections at once */
    unsigned reg_per_hour;       /* registrations_per_source_per_hour; 0 = no limit */
    unsigned pw_jobs_per_source; /* password_jobs_per_source: Argon2 jobs in progress */
    int registration;            /* a config_registration: who may create an account */
    int make_invite;             /* --make-invite: add an invite code to the store, exit */
    unsigned watchdog_seconds;   /* network thread without progress before exiting; 0 = off */
    char *web_dir;               /* the web client's files; NULL = look in the default places */
    unsigned long long secret_inbox_max;   /* secret-chat envelopes pending per device */
    unsigned long long secret_inbox_bytes; /* and their bytes */
    /* Calls (call.c, turn.c). */
    char *turn_urls;             /* comma-separated ICE server URLs handed to clients, or NULL */
    char *turn_secret;           /* coturn's static-auth-secret; wiped by config_free */
    unsigned turn_ttl;           /* seconds a TURN credential stays valid */
    unsigned call_ring_timeout;  /* seconds an unanswered call rings */
    /* Group calls (sfu_link.c, groupcall.c). */
    int sfu;                     /* start and supervise parley-sfu (default 1) */
    char *sfu_path;              /* NULL = parley-sfu beside parleyd's own executable */
    char *sfu_bind;              /* the address browsers reach; goes into the SDP answer */
    unsigned sfu_port;           /* UDP port, 0 = any */
    unsigned sfu_consent_timeout;/* seconds without ICE consent before the SFU drops one */
    unsigned gc_max_participants;/* per group call, presentations included */
    unsigned gc_max_video;       /* participants sending camera video at once */
    /* Secret chats under abuse (req_secret.c, expiry.c; docs/SECRET_CHATS.md). */
    unsigned long long secret_inbox_sender_max;   /* one account's share of a device's inbox */
    unsigned long long secret_inbox_sender_bytes; /* and its bytes */
    double secret_send_rate;     /* envelopes per second per account (token refill) */
    double secret_send_burst;    /* its bucket size */
    unsigned secret_envelope_ttl_days; /* envelopes never collected are deleted after this */
    double prekey_fetch_per_minute; /* prekey bundles per minute per requesting account */
    double prekey_fetch_burst;   /* its bucket size */
    unsigned prekey_otk_per_hour;/* one-time prekeys handed out per device per hour */
    /* Connections before and around authentication (listener.c). */
    char *trusted_proxies;       /* addresses/CIDRs (cidr.h) whose connections begin with a
                                    PROXY v2 header naming the client; NULL = none */
    unsigned auth_timeout;       /* auth_timeout_seconds: from accept to authenticated */
    unsigned max_conns_per_source; /* max_connections_per_source (source.h's sources) */
} server_config;

typedef enum {
    REGISTRATION_OPEN = 0,       /* anyone (within the per-source limits) */
    REGISTRATION_INVITE,         /* with an unused invite code (parleyd --make-invite) */
    REGISTRATION_CLOSED,         /* nobody */
} config_registration;

typedef enum {
    CONFIG_OK = 0,
    CONFIG_HELP,                 /* --help was given: print usage, exit 0 */
    CONFIG_ERROR,                /* err holds one line; exit 2 */
} config_result;

/* Fills cfg with the defaults. Returns -1 only if memory runs out. */
int config_defaults(server_config *cfg);
void config_free(server_config *cfg);

/* Sets one key (file syntax, e.g. "flood_rate", "200"). 0 or -1 with a reason in err. */
int config_set(server_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Parses "HOST:PORT" or "[V6]:PORT" into a malloc'd host and a port. 0 or -1. */
int config_parse_listen(const char *s, char **host, int *port);

/* Applies a whole file's text (name is for messages). 0 or -1 with "name:line: reason". */
int config_apply_text(server_config *cfg, const char *text, const char *name, char *err,
                      size_t errlen);
int config_load(server_config *cfg, const char *path, char *err, size_t errlen);

/* Defaults, then --config FILE, then the other options. */
config_result config_from_args(server_config *cfg, int argc, char **argv, char *err,
                               size_t errlen);

/* Writes the --help text to stdout. */
void config_usage(const char *prog);

#endif
