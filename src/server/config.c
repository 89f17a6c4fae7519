/*
 * config.c: builds parleyd's server_config. main.c calls config_from_args() once before any
 * thread starts; after that the config is read-only and shared by every thread.
 *
 * Errors are strict on purpose: an unknown key or a bad value stops the server with one clear
 * line (exit 2) rather than silently running with a setting the operator did not mean.
 */
#include "config.h"
#include "cidr.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8443
#define DEFAULT_DATA "./data"

int config_defaults(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = strdup(DEFAULT_HOST);
    cfg->data_dir = strdup(DEFAULT_DATA);
    cfg->listen_port = DEFAULT_PORT;
    cfg->log_level = LOG_INFO;
    cfg->flood_rate = 200;
    cfg->flood_burst = 1000;
    cfg->max_frame = 64 * 1024;
    cfg->argon2_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    cfg->argon2_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    cfg->login_fail_user = 5;
    cfg->login_fail_ip = 30;
    cfg->login_fail_window = 15 * 60;
    cfg->max_connections = 10000;
    cfg->reg_per_hour = 5;
    cfg->pw_jobs_per_source = 4;
    cfg->watchdog_seconds = 10;
    cfg->secret_inbox_max = 10000;
    cfg->secret_inbox_bytes = 64ULL << 20;
    cfg->turn_ttl = 3600;
    cfg->call_ring_timeout = 45;
    cfg->sfu = 1;
    cfg->sfu_bind = strdup("127.0.0.1");
    cfg->gc_max_participants = 1000;
    cfg->gc_max_video = 30;
    cfg->sfu_consent_timeout = 30;  /* RFC 7675 */
    cfg->secret_inbox_sender_max = 1000;           /* a tenth of the device's total */
    cfg->secret_inbox_sender_bytes = 4ULL << 20;   /* a sixteenth */
    cfg->secret_send_rate = 10;
    cfg->secret_send_burst = 200;
    cfg->secret_envelope_ttl_days = 30;
    cfg->prekey_fetch_per_minute = 30;
    cfg->prekey_fetch_burst = 30;
    cfg->prekey_otk_per_hour = 60;
    cfg->auth_timeout = 10;
    /* 64: a person's devices (one WebSocket each) and a browser's six HTTP connections,
     * for a household or small office behind one NAT, fit many times over, while one
     * address can take at most 64 of the 10,000 default slots (see README, "Limits"). */
    cfg->max_conns_per_source = 64;
    if (!cfg->sfu_bind) cfg->listen_host = NULL;  /* -> the out-of-memory path below */
    if (!cfg->listen_host || !cfg->data_dir) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

void config_free(server_config *cfg)
{
    free(cfg->listen_host);
    free(cfg->data_dir);
    free(cfg->web_dir);
    free(cfg->turn_urls);
    if (cfg->turn_secret) sodium_memzero(cfg->turn_secret, strlen(cfg->turn_secret));
    free(cfg->turn_secret);
    free(cfg->sfu_path);
    free(cfg->sfu_bind);
    free(cfg->trusted_proxies);
    cfg->sfu_path = cfg->sfu_bind = cfg->trusted_proxies = NULL;
    cfg->listen_host = cfg->data_dir = cfg->web_dir = NULL;
    cfg->turn_urls = cfg->turn_secret = NULL;
}

/* Unsigned decimal with an optional K/M/G (binary) suffix, within [min, max]. */
static int parse_size(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    if (!isdigit((unsigned char)s[0])) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1ULL << 10;
    else if (*end == 'M' || *end == 'm') mul = 1ULL << 20;
    else if (*end == 'G' || *end == 'g') mul = 1ULL << 30;
    if (mul != 1) end++;
    if (*end != '\0') return -1;
    if (v > ULLONG_MAX / mul) return -1;
    v *= mul;
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double min, double max, double *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int config_parse_listen(const char *s, char **host, int *port)
{
    const char *colon;
    size_t hlen;
    const char *h;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen)) return -1;  /* a bare IPv6 address needs brackets */
    }
    if (hlen == 0 || hlen > 255) return -1;
    const char *ps = colon + 1;
    size_t plen = strlen(ps);
    if (plen == 0 || plen > 5 || strspn(ps, "0123456789") != plen) return -1;
    long p = strtol(ps, NULL, 10);
    if (p > 65535) return -1;
    char *copy = strndup(h, hlen);
    if (!copy) return -1;
    *host = copy;
    *port = (int)p;
    return 0;
}

static int replace_string(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy) return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Sets an unsigned integer field; the range check keeps the value meaningful. */
static int set_uint(unsigned *field, const char *value, unsigned long long min,
                    unsigned long long max)
{
    unsigned long long v;
    if (parse_size(value, min, max, &v) != 0) return -1;
    *field = (unsigned)v;
    return 0;
}

/* The call settings (see config.h); same returns as set_key. */
static int set_call_key(server_config *cfg, const char *key, const char *value)
{
    if (strcmp(key, "turn_urls") == 0)
        return value[0] && strlen(value) <= 1024 ? replace_string(&cfg->turn_urls, value) : -1;
    if (strcmp(key, "turn_secret") == 0) {
        if (!value[0] || strlen(value) > 256) return -1;
        if (cfg->turn_secret) sodium_memzero(cfg->turn_secret, strlen(cfg->turn_secret));
        return replace_string(&cfg->turn_secret, value);
    }
    if (strcmp(key, "turn_ttl") == 0) return set_uint(&cfg->turn_ttl, value, 60, 86400 * 7);
    if (strcmp(key, "call_ring_timeout") == 0)
        return set_uint(&cfg->call_ring_timeout, value, 1, 600);
    return -2;
}

/* The group-call settings (see config.h); same returns as set_key. */
static int set_group_call_key(server_config *cfg, const char *key, const char *value)
{
    if (strcmp(key, "sfu") == 0) {
        if (strcmp(value, "on") == 0) cfg->sfu = 1;
        else if (strcmp(value, "off") == 0) cfg->sfu = 0;
        else return -1;
        return 0;
    }
    if (strcmp(key, "sfu_path") == 0)
        return value[0] && strlen(value) <= 4000 ? replace_string(&cfg->sfu_path, value) : -1;
    if (strcmp(key, "sfu_bind") == 0)
        return value[0] && strlen(value) <= 45 ? replace_string(&cfg->sfu_bind, value) : -1;
    if (strcmp(key, "sfu_port") == 0) return set_uint(&cfg->sfu_port, value, 0, 65535);
    if (strcmp(key, "sfu_consent_timeout") == 0)
        return set_uint(&cfg->sfu_consent_timeout, value, 1, 300);
    if (strcmp(key, "group_call_max_participants") == 0)
        return set_uint(&cfg->gc_max_participants, value, 2, 1000);
    if (strcmp(key, "group_call_max_video") == 0)
        return set_uint(&cfg->gc_max_video, value, 1, 30);
    return -2;
}

/* The secret-chat abuse limits. Returns 0 ok, -1 bad value, -2 not one of these keys. */
static int set_secret_key(server_config *cfg, const char *key, const char *value)
{
    if (strcmp(key, "secret_inbox_sender_max") == 0)
        return parse_size(value, 1, 10000000, &cfg->secret_inbox_sender_max);
    if (strcmp(key, "secret_inbox_sender_bytes") == 0)
        return parse_size(value, 1024, 1ULL << 40, &cfg->secret_inbox_sender_bytes);
    if (strcmp(key, "secret_send_rate") == 0)
        return parse_rate(value, 0.001, 1e6, &cfg->secret_send_rate);
    if (strcmp(key, "secret_send_burst") == 0)
        return parse_rate(value, 1, 1e7, &cfg->secret_send_burst);
    if (strcmp(key, "secret_envelope_ttl_days") == 0)
        return set_uint(&cfg->secret_envelope_ttl_days, value, 1, 3650);
    if (strcmp(key, "prekey_fetch_per_minute") == 0)
        return parse_rate(value, 0.01, 1e6, &cfg->prekey_fetch_per_minute);
    if (strcmp(key, "prekey_fetch_burst") == 0)
        return parse_rate(value, 1, 1e6, &cfg->prekey_fetch_burst);
    if (strcmp(key, "prekey_otk_per_hour") == 0)
        return set_uint(&cfg->prekey_otk_per_hour, value, 0, 1000000);
    return -2;
}

/* The connection settings (listener.c); same returns as set_key. */
static int set_conn_key(server_config *cfg, const char *key, const char *value)
{
    if (strcmp(key, "trusted_proxies") == 0) {
        cidr_list l;
        char why[160];
        if (strlen(value) > 4096 || cidr_list_parse(value, &l, why, sizeof why) != 0) return -1;
        size_t n = l.n;
        cidr_list_free(&l);
        if (n == 0) {             /* "trusted_proxies =": none */
            free(cfg->trusted_proxies);
            cfg->trusted_proxies = NULL;
            return 0;
        }
        return replace_string(&cfg->trusted_proxies, value);
    }
    if (strcmp(key, "auth_timeout_seconds") == 0)
        return set_uint(&cfg->auth_timeout, value, 1, 3600);
    if (strcmp(key, "max_connections_per_source") == 0)
        return set_uint(&cfg->max_conns_per_source, value, 1, 1000000);
    return -2;
}

/* Returns 0 ok, -1 bad value, -2 unknown key. */
static int set_key(server_config *cfg, const char *key, const char *value)
{
    unsigned long long v;
    if (strcmp(key, "listen") == 0) {
        char *host;
        int port;
        if (config_parse_listen(value, &host, &port) != 0) return -1;
        free(cfg->listen_host);
        cfg->listen_host = host;
        cfg->listen_port = port;
        return 0;
    }
    if (strcmp(key, "data") == 0)
        return value[0] ? replace_string(&cfg->data_dir, value) : -1;
    if (strcmp(key, "web") == 0)
        return value[0] ? replace_string(&cfg->web_dir, value) : -1;
    if (strcmp(key, "log_level") == 0) {
        int l = log_parse_level(value);
        if (l < 0) return -1;
        cfg->log_level = l;
        return 0;
    }
    if (strcmp(key, "flood_rate") == 0) return parse_rate(value, 0.001, 1e6, &cfg->flood_rate);
    if (strcmp(key, "flood_burst") == 0) return parse_rate(value, 1, 1e7, &cfg->flood_burst);
    if (strcmp(key, "max_frame") == 0) {
        if (parse_size(value, 1024, 16ULL << 20, &v) != 0) return -1;
        cfg->max_frame = (size_t)v;
        return 0;
    }
    if (strcmp(key, "argon2_ops") == 0) {
        if (parse_size(value, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_OPSLIMIT_SENSITIVE * 4,
                       &v) != 0)
            return -1;
        cfg->argon2_ops = v;
        return 0;
    }
    if (strcmp(key, "argon2_mem") == 0) {
        if (parse_size(value, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_MEMLIMIT_SENSITIVE * 4ULL,
                       &v) != 0)
            return -1;
        cfg->argon2_mem = (size_t)v;
        return 0;
    }
    if (strcmp(key, "login_fail_user") == 0)
        return set_uint(&cfg->login_fail_user, value, 1, 1000000);
    if (strcmp(key, "login_fail_ip") == 0)
        return set_uint(&cfg->login_fail_ip, value, 1, 1000000);
    if (strcmp(key, "login_fail_window") == 0)
        return set_uint(&cfg->login_fail_window, value, 1, 86400 * 7);
    if (strcmp(key, "registrations_per_source_per_hour") == 0)
        return set_uint(&cfg->reg_per_hour, value, 0, 1000000);
    if (strcmp(key, "password_jobs_per_source") == 0)
        return set_uint(&cfg->pw_jobs_per_source, value, 1, 1000);
    if (strcmp(key, "registration") == 0) {
        if (strcmp(value, "open") == 0) cfg->registration = REGISTRATION_OPEN;
        else if (strcmp(value, "invite") == 0) cfg->registration = REGISTRATION_INVITE;
        else if (strcmp(value, "closed") == 0) cfg->registration = REGISTRATION_CLOSED;
        else return -1;
        return 0;
    }
    if (strcmp(key, "secret_inbox_max") == 0)
        return parse_size(value, 1, 10000000, &cfg->secret_inbox_max);
    if (strcmp(key, "secret_inbox_bytes") == 0)
        return parse_size(value, 1024, 1ULL << 40, &cfg->secret_inbox_bytes);
    if (strcmp(key, "max_connections") == 0)
        return set_uint(&cfg->max_connections, value, 1, 1000000);
    if (strcmp(key, "watchdog_seconds") == 0) {
        /* Not 1: right after the whole process was stopped (SIGSTOP, a suspended machine)
         * the watchdog may wake once before the network thread beats again (watchdog.c). */
        unsigned secs;
        if (set_uint(&secs, value, 0, 3600) != 0 || secs == 1) return -1;
        cfg->watchdog_seconds = secs;
        return 0;
    }
    int rc = set_call_key(cfg, key, value);
    if (rc == -2) rc = set_group_call_key(cfg, key, value);
    if (rc == -2) rc = set_secret_key(cfg, key, value);
    return rc == -2 ? set_conn_key(cfg, key, value) : rc;
}

int config_set(server_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    int rc = set_key(cfg, key, value);
    if (rc == -2) {
        snprintf(err, errlen, "unknown setting '%s'", key);
        return -1;
    }
    if (rc != 0 && strcmp(key, "turn_secret") == 0) {
        snprintf(err, errlen, "bad value for turn_secret (1-256 characters)");  /* no echo */
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "bad value for %s: '%s'", key, value);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* One line of a config file; modifies it in place. */
static int apply_line(server_config *cfg, char *line, char *err, size_t errlen)
{
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *s = trim(line);
    if (*s == '\0') return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, errlen, "expected 'key = value'");
        return -1;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (*key == '\0') {
        snprintf(err, errlen, "missing key before '='");
        return -1;
    }
    return config_set(cfg, key, value, err, errlen);
}

int config_apply_text(server_config *cfg, const char *text, const char *name, char *err,
                      size_t errlen)
{
    char *copy = strdup(text);
    if (!copy) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    int lineno = 0, rc = 0;
    char *save = NULL;
    /* strtok_r would skip empty lines and lose numbering, so walk by hand. */
    for (char *line = copy; line && rc == 0; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        lineno++;
        char why[200];
        if (apply_line(cfg, line, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

int config_load(server_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* Config files are small; a hard cap keeps a wrong path (a huge file) harmless. */
    enum { MAX_CONFIG = 1 << 20 };
    char *buf = malloc(MAX_CONFIG + 1);
    size_t n = buf ? fread(buf, 1, MAX_CONFIG + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > MAX_CONFIG || memchr(buf, '\0', n)) {
        snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : bad ? "read error"
                 : "not a config file (too large or binary)");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    int rc = config_apply_text(cfg, buf, path, err, errlen);
    free(buf);
    return rc;
}

/* The command-line options that take a value and the config key each one sets. */
static const struct {
    const char *opt, *key;
} cli_options[] = {
    { "--data", "data" }, { "--listen", "listen" }, { "--log-level", "log_level" },
    { "--web", "web" },
    { "--config", NULL },
};

static int find_option(const char *arg, const char **key, const char **inline_value)
{
    for (size_t i = 0; i < sizeof cli_options / sizeof cli_options[0]; i++) {
        size_t n = strlen(cli_options[i].opt);
        if (strncmp(arg, cli_options[i].opt, n) != 0) continue;
        if (arg[n] != '\0' && arg[n] != '=') continue;
        *key = cli_options[i].key;
        *inline_value = arg[n] == '=' ? arg + n + 1 : NULL;
        return (int)i;
    }
    return -1;
}

/* Walks argv; pass 0 only loads --config, pass 1 applies everything else. */
static config_result walk_args(server_config *cfg, int argc, char **argv, int pass, char *err,
                               size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return CONFIG_HELP;
        if (strcmp(arg, "--make-invite") == 0) {
            cfg->make_invite = 1;
            continue;
        }
        const char *key, *value;
        if (find_option(arg, &key, &value) < 0) {
            snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
            return CONFIG_ERROR;
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option '%s' needs a value", arg);
                return CONFIG_ERROR;
            }
            value = argv[++i];
        }
        int is_config = key == NULL;
        if (pass == 0 && is_config && config_load(cfg, value, err, errlen) != 0)
            return CONFIG_ERROR;
        if (pass == 1 && !is_config && config_set(cfg, key, value, err, errlen) != 0)
            return CONFIG_ERROR;
    }
    return CONFIG_OK;
}

config_result config_from_args(server_config *cfg, int argc, char **argv, char *err,
                               size_t errlen)
{
    if (config_defaults(cfg) != 0) {
        snprintf(err, errlen, "out of memory");
        return CONFIG_ERROR;
    }
    config_result r = walk_args(cfg, argc, argv, 0, err, errlen);
    if (r == CONFIG_OK) r = walk_args(cfg, argc, argv, 1, err, errlen);
    if (r != CONFIG_OK) config_free(cfg);
    return r;
}

void config_usage(const char *prog)
{
    printf("Usage: %s [--data DIR] [--listen HOST:PORT] [--web DIR] [--config FILE]\n"
           "       [--log-level LEVEL] [--make-invite]\n"
           "\n"
           "parleyd is the Parley messenger server: one TLS listener serving WebSocket\n"
           "clients at /ws (subprotocol parley.v1), the web client at /, its login API\n"
           "at /api/ and GET /healthz.\n"
           "\n"
           "  --data DIR          data directory (default ./data; created 0700 with a\n"
           "                      self-signed certificate in DIR/tls on first start)\n"
           "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8443; IPv6 as\n"
           "                      [::1]:8443)\n"
           "  --web DIR           the built web client (default: web/dist under the current\n"
           "                      directory, else ../share/parley/web or ../../web/dist\n"
           "                      next to this binary; none found = no web client)\n"
           "  --config FILE       'key = value' lines, '#' comments; the options above win\n"
           "  --log-level LEVEL   debug, info, warn or error (default info)\n"
           "  --make-invite       add a single-use invite code to the store of --data, print\n"
           "                      it and exit (for registration = invite; parleyd may run)\n"
           "  --help              this text\n"
           "\n"
           "Config keys: listen, data, web, log_level, flood_rate (requests/s per connection,\n"
           "default 200), flood_burst (1000), max_frame (bytes, 65536), argon2_ops,\n"
           "argon2_mem (bytes; default libsodium's interactive limits), max_connections\n"
           "(10000), "
           "secret_inbox_max (secret-chat envelopes pending per device, 10000),\n"
           "secret_inbox_bytes (their bytes per device, 64M), watchdog_seconds (exit with\n"
           "status 70 when the network thread makes no progress this long; 0 = off, else\n"
           "2-3600; 10).\n"
           "Abuse limits, per source (an IPv4 address, or an IPv6 /64): login_fail_user\n"
           "(login attempts per username and source before delays that double from 4 s up\n"
           "to login_fail_window; also the logins checked at once per username and per\n"
           "source; 5), login_fail_ip (failed logins per source across usernames per window,\n"
           "30), login_fail_window (seconds, 900), registrations_per_source_per_hour (5;\n"
           "0 = no limit), password_jobs_per_source (Argon2 jobs in progress, 4),\n"
           "registration (open|invite|closed, open; invite: Register needs a code made with\n"
           "--make-invite).\n"
           "Calls: turn_urls (comma-separated ICE URLs handed to clients, e.g.\n"
           "turn:127.0.0.1:3478?transport=udp), turn_secret (coturn's static-auth-secret,\n"
           "use-auth-secret), turn_ttl (seconds a TURN credential lives, 3600),\n"
           "call_ring_timeout (seconds an unanswered call rings, 45).\n"
           "Group calls: sfu (on|off, on), sfu_path (default: parley-sfu beside parleyd),\n"
           "sfu_bind (the address browsers reach, 127.0.0.1), sfu_port (UDP, 0 = any),\n"
           "sfu_consent_timeout (seconds without ICE consent before a participant is dropped, 30),\n"
           "group_call_max_participants (1000), group_call_max_video (30).\n"
           "Secret chats: secret_inbox_sender_max (one account's share of a device's\n"
           "pending envelopes, 1000), secret_inbox_sender_bytes (4M), secret_send_rate\n"
           "(envelopes/s per account, 10), secret_send_burst (200), secret_envelope_ttl_days\n"
           "(uncollected envelopes are deleted after, 30), prekey_fetch_per_minute (bundles\n"
           "per requesting account, 30), prekey_fetch_burst (30), prekey_otk_per_hour\n"
           "(one-time prekeys handed out per device per hour, then bundles come without one;\n"
           "0 = no limit; 60).\n"
           "Connections: auth_timeout_seconds (a connection not logged in this long after\n"
           "it was accepted is closed, 1-3600; 10), max_connections_per_source (sockets\n"
           "open at once from one client address, an IPv6 address counting by its /64;\n"
           "64), trusted_proxies (addresses or networks, e.g. 127.0.0.1, 10.0.0.0/8, ::1,\n"
           "separated by commas: connections from them must begin with a PROXY protocol\n"
           "v2 header naming the client, as HAProxy's send-proxy-v2 sends; from anywhere\n"
           "else a PROXY header is refused; default none).\n"
           "Sizes accept a K, M or G suffix.\n", prog);
}
