/*
 * target.h: what parley-bench needs from a messaging system under test, so that the driver
 * (scheduler, measurement, report in run.c and report.c) stays the same for every server:
 * Parley (target_parley.c), XMPP servers through libstrophe (target_xmpp.c), MQTT brokers
 * through libmosquitto (target_mqtt.c), NATS through the NATS C client (target_nats.c) and
 * the bare TLS WebSocket relay (target_relay.c, bench/relay.c).
 *
 * Model: clients 0..N-1, paired as (0,1), (2,3), ...; client i sends to its peer i^1 over a
 * one-to-one conversation. In fan-out mode (cfg.fanout) all clients are members of one
 * group (a group chat, a topic, ...): only client 0 sends, to the group, and every other
 * member receives each message. Clients are split into shards; a shard is one event loop, driven
 * by exactly one thread at a time (setup may happen on the main thread, the run on a worker
 * thread after pthread_create). Payloads are opaque, NUL-terminated UTF-8 text the driver
 * builds and parses (len excludes the NUL).
 *
 * Memory: a target owns its shards' clients; shard_free() before target_free(). Payloads
 * passed to send() are borrowed for the call only; the payload passed to on_deliver is valid
 * only during the callback.
 */
#ifndef BENCH_TARGET_H
#define BENCH_TARGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *server_url;      /* e.g. "wss://127.0.0.1:8443", "mqtts://127.0.0.1:8883" */
    const char *ca_file;         /* PEM to trust, or NULL */
    const char *xmpp_domain;     /* XMPP: the JIDs' domain (accounts exist already) */
    const char *run_id;          /* makes account names unique to this run: [a-z0-9], <= 8 */
    int n_clients;
    int fanout;                  /* 1: one group of all clients, client 0 sends to it */
    int parallel;                /* concurrent account creations */
    int verbose;                 /* progress lines on stderr */
} bench_target_config;

/* Called on the shard's thread. `client` is the receiving (on_deliver) or sending (on_ack)
 * client's index; code is 0 or the target's error code (for Parley, a parley_code). */
typedef struct {
    void (*on_deliver)(void *ud, int client, const char *payload, size_t len);
    void (*on_ack)(void *ud, int client, int code, const char *payload, size_t len);
    void *ud;
} bench_callbacks;

typedef struct bench_target bench_target;
typedef struct bench_shard bench_shard;

typedef struct {
    const char *name;
    /* Creates the accounts of all clients (the slow, one-time part: e.g. password hashing on
     * the server). NULL with a reason in err. */
    bench_target *(*create)(const bench_target_config *cfg, char *err, size_t errlen);
    /* A shard owning clients [first, first+count). */
    bench_shard *(*shard_new)(bench_target *t, int first, int count, const bench_callbacks *cb,
                              char *err, size_t errlen);
    /* Starts connecting more of the shard's first `limit` clients without blocking, keeping
     * at most `max_pending` handshakes in flight; returns how many are connected and
     * authenticated now. Call it between polls until enough are ready. */
    int (*connect_step)(bench_shard *s, int limit, int max_pending);
    /* Makes each connected client ready to talk to its peer (e.g. opens the conversation),
     * or in fan-out mode to receive from the group. Blocking; returns the number of clients
     * that are ready (to send, or in fan-out mode to receive). */
    int (*open_peers)(bench_shard *s, char *err, size_t errlen);
    /* 1 if `client` is connected and open_peers made it ready to send (in fan-out mode:
     * only client 0). */
    int (*can_send)(bench_shard *s, int client);
    /* Queues one message from `client` to its peer; 0 or an error code. */
    int (*send)(bench_shard *s, int client, const char *payload, size_t len);
    /* Runs the shard's network work for at most timeout_ms. */
    void (*poll)(bench_shard *s, int timeout_ms);
    /* Clients of the shard connected and authenticated right now. */
    int (*ready_count)(bench_shard *s);
    void (*shard_free)(bench_shard *s);
    void (*target_free)(bench_target *t);
    /* Target-specific counters worth reporting (e.g. extra work a client library did),
     * summed over shards by the driver: fills up to max names (static strings) and values,
     * returns how many. May be NULL. Call only when the shard's thread is done with it. */
    int (*counters)(bench_shard *s, const char **names, uint64_t *values, int max);
    /* Short name of an error code for the report. */
    const char *(*code_name)(int code);
} bench_target_ops;

extern const bench_target_ops bench_target_parley;
extern const bench_target_ops bench_target_xmpp;
extern const bench_target_ops bench_target_mqtt;
extern const bench_target_ops bench_target_nats;
extern const bench_target_ops bench_target_relay;

#endif
