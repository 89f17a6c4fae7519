/*
 * main.c: parleyd's entry point. Reads the configuration, prepares the data directory and
 * TLS identity, opens the store, starts the threads (store thread, Argon2 pool, lws service
 * on this thread) and tears everything down again on SIGTERM/SIGINT.
 *
 * Exit codes: 0 after a clean shutdown, 1 when start-up fails, 2 for usage/config errors.
 */
#include "call.h"
#include "groupcall.h"
#include "sfu_link.h"
#include "config.h"
#include "dispatch.h"
#include "expiry.h"
#include "http_static.h"
#include "log.h"
#include "networking.h"
#include "request.h"
#include "server.h"
#include "store.h"
#include "tls_cert.h"
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The signal handler needs the server; a signal handler can reach nothing but globals. */
static server *signal_target;

static void on_signal(int sig)
{
    (void)sig;
    server *srv = signal_target;
    if (!srv) return;
    atomic_store(&srv->stop, 1);
    /* lws_cancel_service() only writes to lws's wake-up pipe: safe in a handler. */
    net_wake(srv);
}

static void install_signals(server *srv)
{
    signal_target = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Creates the data directory (0700) and the TLS identity, and logs the fingerprint. */
static int prepare_data_dir(const server_config *cfg, char *cert, size_t certlen, char *key,
                            size_t keylen)
{
    char err[512];
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    int created = 0;
    if (tls_cert_ensure(cfg->data_dir, &created, err, sizeof err) != 0) {
        log_error("TLS identity: %s", err);
        return -1;
    }
    tls_cert_paths(cfg->data_dir, cert, certlen, key, keylen);
    char fp[128];
    if (tls_cert_fingerprint(cert, fp, sizeof fp) != 0) {
        log_error("cannot read the certificate %s", cert);
        return -1;
    }
    log_info("%s TLS certificate %s", created ? "created" : "using", cert);
    log_info("certificate SHA-256 fingerprint: %s", fp);
    return 0;
}

static int open_store(server *srv, store **st)
{
    char err[512] = "";
    *st = store_open(srv->cfg.data_dir, err, sizeof err);
    if (!*st) {
        log_error("cannot open the store in %s: %s", srv->cfg.data_dir, err);
        return -1;
    }
    return 0;
}

/* parleyd --make-invite: adds one single-use invite code to the store and prints it on
 * stdout. Only the code's SHA-256 is stored, like session tokens. SQLite's locking lets
 * this run while the server runs on the same data directory. */
static int make_invite(const server_config *cfg)
{
    char err[512] = "", code[33];
    uint8_t raw[16], hash[32];
    store *st = store_open(cfg->data_dir, err, sizeof err);
    if (!st) {
        fprintf(stderr, "parleyd: cannot open the store in %s: %s\n", cfg->data_dir, err);
        return 1;
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(code, sizeof code, raw, sizeof raw);
    auth_token_hash((const uint8_t *)code, strlen(code), hash);
    store_rc rc = store_invite_add(st, hash, server_now());
    store_close(st);
    if (rc == STORE_OK) printf("%s\n", code);
    else fprintf(stderr, "parleyd: cannot store the invite code (store error %d)\n", (int)rc);
    sodium_memzero(code, sizeof code);
    sodium_memzero(raw, sizeof raw);
    return rc == STORE_OK ? 0 : 1;
}

/* The web client is optional unless --web named it: without it / answers 404. */
static int load_web(server *srv)
{
    char err[512] = "";
    srv->web = web_files_locate(srv->cfg.web_dir, err, sizeof err);
    if (srv->web) {
        log_info("web client: %s (%zu files) at https://HOST:PORT/", srv->web->dir, srv->web->n);
        return 0;
    }
    if (srv->cfg.web_dir) {
        log_error("web client: %s", err);
        return -1;
    }
    log_warn("no web client: %s", err);
    return 0;
}

/* Starts every subsystem; on failure the caller still runs shutdown() for what started. */
static int startup(server *srv, store **st)
{
    char cert[4200], key[4200], err[512];
    if (prepare_data_dir(&srv->cfg, cert, sizeof cert, key, sizeof key) != 0) return -1;
    if (open_store(srv, st) != 0) return -1;
    if (load_web(srv) != 0) return -1;
    srv->throttle = login_throttle_new(srv->cfg.login_fail_user, srv->cfg.login_fail_ip,
                                       srv->cfg.login_fail_window);
    if (!srv->throttle) return -1;
    if (srv->cfg.reg_per_hour &&
        !(srv->reg_limit = rate_window_new(srv->cfg.reg_per_hour, 3600)))
        return -1;
    if (!(srv->pw_jobs = key_counts_new())) return -1;
    if (net_start(srv, cert, key, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    srv->auth = auth_pool_start(srv->cfg.argon2_ops, srv->cfg.argon2_mem, net_wake, srv);
    if (!srv->auth) {
        log_error("cannot start the password hashing threads");
        return -1;
    }
    srv->sq = storeq_start(*st, net_wake, srv);
    if (!srv->sq) {
        log_error("cannot start the store thread");
        return -1;
    }
    if (groupcall_start(srv) != 0 || sfu_link_start(srv) != 0) {
        log_error("out of memory");
        return -1;
    }
    if (calls_start(srv) != 0) {
        log_error("out of memory");
        return -1;
    }
    dispatch_start(srv);
    expiry_start(srv);
    return 0;
}

/* Order matters: stop taking work, let the store finish its batch, then close sockets. */
static void shutdown_server(server *srv, store *st)
{
    srv->shutting_down = 1;
    signal_target = NULL;  /* the context is about to go away */
    if (srv->lws) {
        dispatch_stop(srv);
        expiry_stop(srv);
        calls_stop(srv);                   /* cancels the ring timers */
        sfu_link_stop(srv);                /* stops parley-sfu; group calls end */
        groupcall_stop(srv);
    }
    if (srv->sq) storeq_stop(srv->sq);     /* finishes queued jobs, closes the store */
    else if (st) store_close(st);
    auth_pool_stop(srv->auth);
    net_stop(srv);                         /* frees every conn */
    login_throttle_free(srv->throttle);
    req_secret_stop(srv);
    rate_window_free(srv->reg_limit);
    key_counts_free(srv->pw_jobs);
    web_files_free(srv->web);
    idmap_free(&srv->conns);
    idmap_free(&srv->push_accounts);
    idmap_free(&srv->push_sessions);
    config_free(&srv->cfg);
}

int main(int argc, char **argv)
{
    static server srv;  /* static: the signal handler reaches it through signal_target */
    char err[512] = "";
    switch (config_from_args(&srv.cfg, argc, argv, err, sizeof err)) {
    case CONFIG_HELP:
        config_usage(argv[0]);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "parleyd: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    log_set_level((log_level)srv.cfg.log_level);
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        config_free(&srv.cfg);
        return 1;
    }
    if (srv.cfg.make_invite) {
        int rc = make_invite(&srv.cfg);
        config_free(&srv.cfg);
        return rc;
    }
    idmap_init(&srv.conns);
    idmap_init(&srv.push_accounts);
    idmap_init(&srv.push_sessions);
    install_signals(&srv);
    store *st = NULL;
    int ok = startup(&srv, &st) == 0;
    if (ok) {
        log_info("parleyd ready");
        srv.watchdog = watchdog_start(srv.cfg.watchdog_seconds, pthread_self());
        if (!srv.watchdog && srv.cfg.watchdog_seconds)
            log_warn("cannot start the watchdog thread: running without it");
        net_run(&srv);
        watchdog_stop(srv.watchdog);
        srv.watchdog = NULL;
        log_info("shutting down");
    }
    shutdown_server(&srv, st);
    if (ok) log_info("bye");
    return ok ? 0 : 1;
}
