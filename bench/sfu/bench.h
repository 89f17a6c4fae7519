/*
 * bench.h: the shared parts of parley-sfu-bench, the SFU load generator. A bench peer is one
 * WebRTC-shaped endpoint (own UDP socket, ICE, DTLS client, SRTP); bench_peer.c runs the
 * peers (ICE checks and answers, DTLS, sending and receiving media), and a target signals
 * them to one SFU: target_parley_sfu.c (parley-sfu over its control socket, ICE-lite) and
 * target_janus.c (Janus VideoRoom over its REST API, full ICE via libnice; janus_sdp.c writes
 * and reads the SDP it needs). sfu_bench.c parses the options, drives a target through the
 * same phases for both and prints the figures.
 */
#ifndef PARLEY_SFU_BENCH_H
#define PARLEY_SFU_BENCH_H
#include "dtls.h"
#include "srtp.h"
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_STREAMS 4 /* audio, video layers 0..2 (one layer: --video-pps) */

typedef struct {
    int fd;
    uint32_t id;
    bool publisher;
    bool count_only;               /* --measure: count SRTP datagrams, no decrypt/timing */
    char ufrag[16], pwd[40];       /* ours */
    char sfu_ufrag[260], sfu_pwd[260];
    struct sockaddr_in remote;     /* the SFU's candidate for this peer */
    /* ICE: a controlling peer sends checks until it gets a success response; with a full-ICE
     * SFU it must also have answered one of the SFU's checks before DTLS starts. */
    bool send_checks, need_their_check;
    bool got_response, got_check, dtls_started;
    uint64_t next_check_ns;
    int video_pt;                  /* the payload type video arrives with */
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    uint32_t ssrc[BENCH_STREAMS];
    uint16_t seq[BENCH_STREAMS];
    bool key_wanted[BENCH_STREAMS];
    uint64_t received;
    uint64_t handle;               /* Janus plugin handle */
} peer;

typedef struct {
    const char *target;            /* "parley-sfu" or "janus" */
    const char *sfu_bin, *janus_url;
    struct in_addr bind;           /* the peers' address, --bind (127.0.0.1) */
    int janus_pid;
    int publishers, subscribers, height, seconds;
    int pps[BENCH_STREAMS];        /* audio, layer 0..2 packets per second per publisher */
    bool single;                   /* one video stream (pps[1]) instead of three layers */
    int payload;
    int measure;                   /* subscribers that decrypt and time packets; -1 = all */
} options;

/* A target: how peers get signalled to one SFU. start() makes the room and returns the SFU's
 * pid (for CPU and RSS); add() signals one peer (publishers first, all of them before any
 * subscriber, which subscribes to every publisher); stop() ends what start() made. */
typedef struct {
    const char *name;
    pid_t (*start)(const options *o);
    int (*add)(peer *p, peer *publishers, int n_publishers, const char *fingerprint, const options *o);
    /* After all peers are connected: subscriptions not made by add() (parley-sfu). */
    int (*subscribe)(peer *peers, int n, const options *o);
    void (*stop)(void);
} bench_target;

extern const bench_target target_parley_sfu, target_janus;

uint64_t now_ns(void);
int peer_open(peer *p, uint32_t id, bool publisher, sfu_dtls_ctx *dctx, struct in_addr addr);
void peer_close(peer *p);
/* ICE then DTLS for peers [0, n), all in flight; every peer in all[0, n_all) keeps being
 * served (STUN answers, RTCP) meanwhile. 0 when all n have SRTP keys, -1 after 20 s. */
int peers_connect(peer *all, int n_all, peer *peers, int n, struct pollfd *pf);
/* Reads what arrived on every peer's socket, waiting up to timeout_ms. */
void peers_drain(peer *peers, int n, struct pollfd *pf, int timeout_ms);
/* Publishers [0, np) send at o->pps for dur_ns while everything received is counted. */
void peers_run_load(peer *peers, int np, int n, struct pollfd *pf, const options *o, uint64_t dur_ns);
/* Latency samples since the last reset, in ns; sorted by peers_latency_sort. */
void peers_latency_reset(void);
size_t peers_latency_sort(const uint64_t **out);

#endif
