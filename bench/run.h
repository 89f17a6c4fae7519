/*
 * run.h: parley-bench's measurement driver. bench_run_load() runs the open-loop message
 * benchmark, bench_run_idle() the idle-connection memory benchmark; both work through a
 * bench_target_ops (target.h) and fill a bench_result that report.c prints.
 *
 * Threads: the caller's thread samples /proc while worker threads (one per shard, each with
 * its own event loop) connect, send and receive. Workers merge their counters and histograms
 * into the result after they are joined, so no result field is shared while running.
 *
 * Memory: bench_result is a plain struct owned by the caller; nothing in it is allocated.
 */
#ifndef BENCH_RUN_H
#define BENCH_RUN_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "procstat.h"
#include "target.h"

#define BENCH_MAX_THREADS 8
#define BENCH_MAX_CODES 128          /* error codes counted individually; others go to 127 */

typedef struct {
    const char *server_url;
    const char *ca_file;
    const char *spawn_path;      /* parleyd to start, or NULL with server_url */
    const char *server_log;      /* copy the spawned parleyd's log here at the end, or NULL */
    const char *target;          /* bench_target_ops name: parley, xmpp, mqtt, nats, relay */
    const char *xmpp_domain;
    int server_cpu;              /* spawned parleyd's CPU, or -1 */
    pid_t server_pid;            /* 0 = unknown (no server figures) */
    int clients;
    int threads;
    int idle;                    /* > 0: idle mode with this many connections */
    int catchup;                 /* > 0: offline catch-up of this many updates (catchup.c) */
    int fanout;                  /* 1: client 0 sends to a group of all the others */
    int json;
    int quiet;
    int size;                    /* message text bytes */
    int register_parallel;
    int max_pending;             /* handshakes in flight per shard while connecting */
    long max_inflight;           /* unacknowledged sends per shard before it stops sending */
    double rate;                 /* messages per second, all clients together */
    double duration, warmup, grace, settle; /* seconds */
    double interval;             /* > 0: latency per slice of this many seconds (--interval) */
} bench_opts;

/* One slice of the measured window (--interval): the latency of the messages whose intended
 * send time fell in it, so that a long run shows whether its tail grew over time. */
#define BENCH_MAX_INTERVALS 256
typedef struct {
    double start_s;              /* from the window's start */
    uint64_t count;
    uint64_t p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
} bench_interval;

typedef struct {
    /* what ran */
    const char *target;
    int mode_idle;
    int clients_wanted, clients_ready, clients_paired;
    double setup_s, connect_s;

    /* load mode; "window" = the measured interval after warm-up */
    uint64_t scheduled;          /* messages whose intended send time came before the end */
    uint64_t sent;               /* accepted by the target's send call */
    uint64_t unsent;             /* scheduled but never sent (bench behind or inflight cap) */
    uint64_t send_failed;        /* refused by the send call */
    uint64_t acked;              /* acknowledged with code 0 */
    uint64_t ack_errors;
    uint64_t delivered;
    uint64_t lost;               /* acked but not delivered by the end of the grace period
                                  * (fan-out: acked x receivers - delivered) */
    int receivers;               /* deliveries each message should have (fan-out: members-1) */
    uint64_t unanswered;         /* sent but neither acked nor refused by then */
    uint64_t out_of_order;       /* arrived with a sequence number above the next one */
    uint64_t duplicates;         /* arrived with a sequence number already seen (or passed) */
    uint64_t window_sent;        /* sent, with an intended time inside the window */
    uint64_t window_delivered;   /* delivered at a time inside the window */
    double window_s;
    double delivered_per_s, sent_per_s;
    uint64_t errors[BENCH_MAX_CODES];
    int n_counters;              /* the target's own counters (target.h), summed */
    const char *counter_names[8];
    uint64_t counter_values[8];
    bench_hist latency;          /* intended send -> delivery, messages scheduled in window */
    bench_hist ack_latency;      /* intended send -> acknowledgement, same messages */
    bench_hist send_lag;         /* intended send -> the send call: the bench's own delay */
    int n_intervals;             /* --interval: slices of the window, in order */
    bench_interval intervals[BENCH_MAX_INTERVALS];

    /* resources over the window (load) or at the samples (idle) */
    int have_server;
    proc_sample srv_start, srv_end;
    double srv_cpu_pct;          /* % of one core */
    double bench_cpu_pct;
    double machine_busy_pct;     /* all cores together = 100% */
    int cpus;
    uint64_t bench_rss_kib;

    /* idle mode */
    int idle_warm;               /* connections open at the first sample */
    uint64_t idle_rss_base_kib, idle_rss_warm_kib, idle_rss_full_kib;
    double idle_bytes_per_conn;          /* (full - base) / connections */
    double idle_bytes_per_conn_marginal; /* (full - warm) / (connections - warm) */

    int interrupted;
    char note[512];              /* why a run fell short, for the report */
} bench_result;

/* Set from the signal handler: Ctrl-C ends the run early but still reports. */
extern volatile sig_atomic_t bench_stop;

int bench_run_load(const bench_target_ops *ops, bench_target *t, const bench_opts *o,
                   bench_result *r, char *err, size_t errlen);
/* The offline catch-up scenario (Parley only; prints its own report). 0 ok, 1 checks
 * failed, -1 with a reason in err. */
int bench_run_catchup(const bench_opts *o, const char *run_id, char *err, size_t errlen);
int bench_run_idle(const bench_target_ops *ops, bench_target *t, const bench_opts *o,
                   bench_result *r, char *err, size_t errlen);

#endif
