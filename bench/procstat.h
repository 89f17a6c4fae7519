/*
 * procstat.h: the resource figures parley-bench reports, read from /proc and getrusage():
 * a process's CPU time and memory (the server under test), the machine's CPU use (the bench
 * shares the 2 cores with the server, so readers need to see who used what), and the
 * bench's own CPU time.
 *
 * All functions return 0 on success or -1 (errno set) and allocate nothing.
 */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    uint64_t cpu_ns;        /* utime + stime of all threads */
    uint64_t rss_kib;       /* VmRSS */
    uint64_t hwm_kib;       /* VmHWM: peak RSS */
    int threads;
} proc_sample;

typedef struct {
    uint64_t busy_ticks;    /* everything but idle and iowait */
    uint64_t total_ticks;
} sys_sample;

int proc_sample_read(pid_t pid, proc_sample *out);
int sys_sample_read(sys_sample *out);
/* CPU time (user + system) of this process, all threads. */
uint64_t self_cpu_ns(void);
/* Current RSS of this process in KiB (0 if unknown). */
uint64_t self_rss_kib(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);
int online_cpus(void);

#endif
