/*
 * procstat.c: /proc and getrusage() readers for parley-bench (see procstat.h). The server's
 * figures come from /proc/PID/stat (CPU ticks) and /proc/PID/status (VmRSS, VmHWM), which work
 * for any process the bench may read, spawned or not.
 */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return ticks * (1000000000ULL / (uint64_t)hz);
}

/* /proc/PID/stat: the command name (field 2) may contain spaces and parentheses, so parsing
 * starts after the LAST ')'. utime and stime are fields 14 and 15, num_threads field 20. */
static int read_stat(pid_t pid, proc_sample *out)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    p++;
    /* Fields after ')' start with field 3 (state). */
    unsigned long long utime = 0, stime = 0;
    long threads = 0;
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (field == 14)
            utime = strtoull(tok, NULL, 10);
        else if (field == 15)
            stime = strtoull(tok, NULL, 10);
        else if (field == 20) {
            threads = strtol(tok, NULL, 10);
            break;
        }
    }
    if (field != 20) {
        errno = EINVAL;
        return -1;
    }
    out->cpu_ns = ticks_to_ns(utime + stime);
    out->threads = (int)threads;
    return 0;
}

static int read_status(pid_t pid, proc_sample *out)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    out->rss_kib = out->hwm_kib = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            out->rss_kib = strtoull(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            out->hwm_kib = strtoull(line + 6, NULL, 10);
    }
    fclose(f);
    return 0;
}

int proc_sample_read(pid_t pid, proc_sample *out)
{
    memset(out, 0, sizeof *out);
    if (read_stat(pid, out) != 0)
        return -1;
    return read_status(pid, out);
}

int sys_sample_read(sys_sample *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4) {
        errno = EINVAL;
        return -1;
    }
    /* guest and guest_nice (8, 9) are already counted in user and nice. */
    uint64_t total = 0;
    for (int i = 0; i < n && i < 8; i++)
        total += v[i];
    uint64_t idle = v[3] + (n > 4 ? v[4] : 0);
    out->total_ticks = total;
    out->busy_ticks = total - idle;
    return 0;
}

uint64_t self_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
}

uint64_t self_rss_kib(void)
{
    proc_sample s;
    if (read_status(getpid(), &s) != 0)
        return 0;
    return s.rss_kib;
}
