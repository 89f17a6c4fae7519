/*
 * peerutil.h: small pieces the peer targets of parley-bench share (target_mqtt.c,
 * target_nats.c, target_xmpp.c, target_relay.c): parsing the --server URL, and a FIFO of
 * sent-but-unacknowledged messages for protocols whose acknowledgements carry a number
 * (MQTT PUBACK: the message id; XMPP stream management <a h=N/>: a count) rather than the
 * message, so the target can hand the driver the payload it needs for the ack latency.
 *
 * Memory: a pending_fifo owns its arrays; pending_free() releases them. Not thread-safe: one
 * FIFO belongs to one client on one shard thread.
 */
#ifndef BENCH_PEERUTIL_H
#define BENCH_PEERUTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char scheme[16];             /* e.g. "mqtt", "mqtts", "nats", "tls", "xmpp", "wss" */
    char host[128];
    int port;
    char path[128];              /* "" or what follows host:port, starting with '/' */
} bench_url;

/* "scheme://host[:port][/path]"; port defaults to default_port. 0 or -1. */
int bench_url_parse(const char *url, int default_port, bench_url *u);

/* The driver's payload starts "<ns> <seq> ": this much of it is kept per pending message,
 * enough for run.c to compute the acknowledgement latency. */
#define PENDING_HDR 40

typedef struct {
    uint32_t *keys;
    char (*hdr)[PENDING_HDR];
    size_t head, len, cap;       /* ring buffer */
} pending_fifo;

/* Appends (key, first bytes of payload). 0, or -1 when out of memory. */
int pending_push(pending_fifo *q, uint32_t key, const char *payload, size_t len);
/* Removes the oldest entry into *key and hdr (NUL-terminated). 0, or -1 when empty. */
int pending_pop(pending_fifo *q, uint32_t *key, char hdr[PENDING_HDR]);
/* The oldest entry's key, or -1 when empty. */
int pending_front(const pending_fifo *q, uint32_t *key);
void pending_free(pending_fifo *q);

/* A shard's list of clients whose sends are "acknowledged" at the next poll because the
 * protocol gives no acknowledgement (NATS core, the bare relay, XMPP without XEP-0198):
 * the driver still needs one on_ack per send to account for it. */
typedef struct {
    int *client;
    size_t len, cap;
} ack_list;

int ack_list_add(ack_list *l, int client);
void ack_list_free(ack_list *l);

#endif
