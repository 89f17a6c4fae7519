/*
 * report.c: prints a bench_result (see report.h). The table is for people reading a terminal
 * or docs/BENCHMARKS.md; the JSON line is for scripts comparing runs, so its keys only grow.
 */
#include "report.h"

#include <string.h>

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double mib(uint64_t kib)
{
    return (double)kib / 1024.0;
}

/* JSON string for text the user typed (the server URL): escape what JSON requires. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void text_resources(FILE *f, const bench_result *r)
{
    if (r->have_server)
        fprintf(f, "server:      CPU %.0f%% of one core; RSS %.1f MiB -> %.1f MiB (peak %.1f "
                   "MiB); %d threads\n", r->srv_cpu_pct, mib(r->srv_start.rss_kib),
                mib(r->srv_end.rss_kib), mib(r->srv_end.hwm_kib), r->srv_end.threads);
    else
        fprintf(f, "server:      no figures (pass --server-pid PID, or let the bench spawn "
                   "parleyd)\n");
    fprintf(f, "bench:       CPU %.0f%% of one core; RSS %.1f MiB\n", r->bench_cpu_pct,
            mib(r->bench_rss_kib));
    /* What neither process used: the kernel's own threads (fsync, softirq) and any other
     * program on the machine. A large share means the figures are disturbed. */
    double rest = r->machine_busy_pct * r->cpus - r->bench_cpu_pct -
                  (r->have_server ? r->srv_cpu_pct : 0);
    fprintf(f, "machine:     %.0f%% busy across %d cores; %.0f%% of one core used by neither "
               "(kernel threads, other programs)\n", r->machine_busy_pct, r->cpus,
            rest > 0 ? rest : 0);
}

static void text_hist(FILE *f, const char *name, const bench_hist *h)
{
    if (h->total == 0) {
        fprintf(f, "%-12s no samples\n", name);
        return;
    }
    fprintf(f, "%-12s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f ms"
               "  (%llu msgs)\n", name,
            ms(hist_quantile(h, 0.50)), ms(hist_quantile(h, 0.90)), ms(hist_quantile(h, 0.99)),
            ms(hist_quantile(h, 0.999)), ms(h->max), hist_mean(h) / 1e6,
            (unsigned long long)h->total);
}

/* --interval: one line per slice, so a tail that grows over a long run shows. */
static void text_intervals(FILE *f, const bench_result *r)
{
    for (int i = 0; i < r->n_intervals; i++) {
        const bench_interval *iv = &r->intervals[i];
        fprintf(f, "  from %6.0f s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  (%llu msgs)\n",
                iv->start_s, ms(iv->p50_ns), ms(iv->p90_ns), ms(iv->p99_ns), ms(iv->p999_ns),
                ms(iv->max_ns), (unsigned long long)iv->count);
    }
}

static void text_errors(FILE *f, const bench_result *r, const bench_target_ops *ops)
{
    int any = 0;
    for (int c = 1; c < BENCH_MAX_CODES; c++) {
        if (!r->errors[c])
            continue;
        fprintf(f, "%s%s %llu", any ? ", " : "errors:      ", ops->code_name(c),
                (unsigned long long)r->errors[c]);
        any = 1;
    }
    if (any)
        fputc('\n', f);
}

void report_text(FILE *f, const bench_opts *o, const bench_result *r,
                 const bench_target_ops *ops)
{
    fprintf(f, "target:      %s at %s%s\n", r->target, o->server_url,
            o->spawn_path ? " (spawned by the bench)" : "");
    if (r->mode_idle) {
        fprintf(f, "idle:        %d connections asked, %d authenticated (%d at the first "
                   "sample); connecting took %.1f s\n", r->clients_wanted, r->clients_ready,
                r->idle_warm, r->connect_s);
        fprintf(f, "server RSS:  %.1f MiB before, %.1f MiB with %d, %.1f MiB with %d\n",
                mib(r->idle_rss_base_kib), mib(r->idle_rss_warm_kib), r->idle_warm,
                mib(r->idle_rss_full_kib), r->clients_ready);
        fprintf(f, "per conn:    %.0f bytes (all, from before), %.0f bytes (marginal, %d -> %d)"
                   "\n", r->idle_bytes_per_conn, r->idle_bytes_per_conn_marginal, r->idle_warm,
                r->clients_ready);
        text_resources(f, r);
    } else {
        fprintf(f, "clients:     %d asked, %d connected, %d sending; %d thread(s); connect + "
                   "chats %.1f s\n", r->clients_wanted, r->clients_ready, r->clients_paired,
                o->threads, r->connect_s);
        if (o->fanout)
            fprintf(f, "fan-out:     client 0 sends to a group; %d members receive each message "
                       "(deliveries below count one per member)\n", r->receivers);
        fprintf(f, "schedule:    %.0f msg/s open loop, %d-byte texts, warm-up %.0f s, window "
                   "%.1f s, grace %.0f s\n", o->rate, o->size, o->warmup, r->window_s, o->grace);
        fprintf(f, "throughput:  %.0f delivered/s in the window (%.0f sent/s)\n",
                r->delivered_per_s, r->sent_per_s);
        fprintf(f, "messages:    scheduled %llu, sent %llu, acknowledged %llu, delivered %llu\n"
                   "             lost %llu, unanswered %llu, never sent %llu, send refused %llu, "
                   "ack errors %llu, out of order %llu, duplicates %llu\n",
                (unsigned long long)r->scheduled, (unsigned long long)r->sent,
                (unsigned long long)r->acked, (unsigned long long)r->delivered,
                (unsigned long long)r->lost, (unsigned long long)r->unanswered,
                (unsigned long long)r->unsent, (unsigned long long)r->send_failed,
                (unsigned long long)r->ack_errors, (unsigned long long)r->out_of_order,
                (unsigned long long)r->duplicates);
        text_errors(f, r, ops);
        for (int c = 0; c < r->n_counters; c++)
            fprintf(f, "%s%s %llu%s", c ? ", " : "target says: ", r->counter_names[c],
                    (unsigned long long)r->counter_values[c], c == r->n_counters - 1 ? "\n" : "");
        text_hist(f, "latency:", &r->latency);
        if (r->window_sent > r->latency.total)
            fprintf(f, "             %llu of the window's %llu sent messages never arrived and are "
                       "NOT in these percentiles\n",
                    (unsigned long long)(r->window_sent - r->latency.total),
                    (unsigned long long)r->window_sent);
        text_intervals(f, r);
        text_hist(f, "ack:", &r->ack_latency);
        text_hist(f, "send lag:", &r->send_lag);
        fprintf(f, "             (all from each message's intended send time: corrected for "
                   "coordinated omission)\n");
        text_resources(f, r);
    }
    if (r->interrupted)
        fprintf(f, "note:        interrupted; figures cover the part that ran\n");
    if (r->note[0])
        fprintf(f, "note:        %s\n", r->note);
}

static void json_hist(FILE *f, const char *name, const bench_hist *h)
{
    fprintf(f, ",\"%s\":{\"count\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,"
               "\"p999_ns\":%llu,\"max_ns\":%llu,\"mean_ns\":%.0f}", name,
            (unsigned long long)h->total, (unsigned long long)hist_quantile(h, 0.50),
            (unsigned long long)hist_quantile(h, 0.90), (unsigned long long)hist_quantile(h, 0.99),
            (unsigned long long)hist_quantile(h, 0.999), (unsigned long long)h->max,
            hist_mean(h));
}

static void json_intervals(FILE *f, const bench_result *r)
{
    if (r->n_intervals == 0)
        return;
    fprintf(f, ",\"intervals\":[");
    for (int i = 0; i < r->n_intervals; i++) {
        const bench_interval *iv = &r->intervals[i];
        fprintf(f, "%s{\"start_s\":%.3f,\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
                   "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}", i ? "," : "",
                iv->start_s, (unsigned long long)iv->count, ms(iv->p50_ns), ms(iv->p90_ns),
                ms(iv->p99_ns), ms(iv->p999_ns), ms(iv->max_ns));
    }
    fputc(']', f);
}

static void json_resources(FILE *f, const bench_result *r)
{
    if (r->have_server)
        fprintf(f, ",\"server\":{\"cpu_pct\":%.1f,\"rss_start_bytes\":%llu,"
                   "\"rss_end_bytes\":%llu,\"rss_peak_bytes\":%llu,\"threads\":%d}",
                r->srv_cpu_pct, (unsigned long long)r->srv_start.rss_kib * 1024,
                (unsigned long long)r->srv_end.rss_kib * 1024,
                (unsigned long long)r->srv_end.hwm_kib * 1024, r->srv_end.threads);
    else
        fprintf(f, ",\"server\":null");
    fprintf(f, ",\"bench\":{\"cpu_pct\":%.1f,\"rss_bytes\":%llu},\"machine\":{\"busy_pct\":%.1f,"
               "\"cpus\":%d}", r->bench_cpu_pct, (unsigned long long)r->bench_rss_kib * 1024,
            r->machine_busy_pct, r->cpus);
}

void report_json(FILE *f, const bench_opts *o, const bench_result *r,
                 const bench_target_ops *ops)
{
    fprintf(f, "{\"target\":");
    json_str(f, r->target);
    fprintf(f, ",\"server_url\":");
    json_str(f, o->server_url);
    fprintf(f, ",\"spawned\":%s,\"mode\":\"%s\",\"clients\":%d,\"connected\":%d",
            o->spawn_path ? "true" : "false", r->mode_idle ? "idle" : "load", r->clients_wanted,
            r->clients_ready);
    if (r->mode_idle) {
        fprintf(f, ",\"warm_connections\":%d,\"connect_s\":%.2f,\"rss_base_bytes\":%llu,"
                   "\"rss_warm_bytes\":%llu,\"rss_full_bytes\":%llu,\"bytes_per_conn\":%.0f,"
                   "\"bytes_per_conn_marginal\":%.0f", r->idle_warm, r->connect_s,
                (unsigned long long)r->idle_rss_base_kib * 1024,
                (unsigned long long)r->idle_rss_warm_kib * 1024,
                (unsigned long long)r->idle_rss_full_kib * 1024, r->idle_bytes_per_conn,
                r->idle_bytes_per_conn_marginal);
    } else {
        fprintf(f, ",\"sending\":%d,\"threads\":%d,\"rate\":%.0f,\"size\":%d,\"warmup_s\":%.1f,"
                   "\"window_s\":%.2f,\"window_sent\":%llu,\"grace_s\":%.1f,\"connect_s\":%.2f,"
                   "\"delivered_per_s\":%.1f,\"sent_per_s\":%.1f,\"scheduled\":%llu,\"sent\":%llu,"
                   "\"acked\":%llu,\"delivered\":%llu,\"lost\":%llu,\"unanswered\":%llu,\"unsent\":%llu,"
                   "\"send_refused\":%llu,\"ack_errors\":%llu,\"out_of_order\":%llu,"
                   "\"duplicates\":%llu,\"fanout\":%s,\"receivers\":%d",
                r->clients_paired, o->threads, o->rate, o->size, o->warmup, r->window_s,
                (unsigned long long)r->window_sent, o->grace,
                r->connect_s, r->delivered_per_s, r->sent_per_s,
                (unsigned long long)r->scheduled, (unsigned long long)r->sent,
                (unsigned long long)r->acked, (unsigned long long)r->delivered,
                (unsigned long long)r->lost, (unsigned long long)r->unanswered,
                (unsigned long long)r->unsent,
                (unsigned long long)r->send_failed, (unsigned long long)r->ack_errors,
                (unsigned long long)r->out_of_order, (unsigned long long)r->duplicates,
                o->fanout ? "true" : "false", r->receivers);
        fprintf(f, ",\"errors\":{");
        int any = 0;
        for (int c = 1; c < BENCH_MAX_CODES; c++) {
            if (!r->errors[c])
                continue;
            fprintf(f, "%s", any ? "," : "");
            json_str(f, ops->code_name(c));
            fprintf(f, ":%llu", (unsigned long long)r->errors[c]);
            any = 1;
        }
        fputc('}', f);
        fprintf(f, ",\"target_counters\":{");
        for (int c = 0; c < r->n_counters; c++) {
            fprintf(f, "%s", c ? "," : "");
            json_str(f, r->counter_names[c]);
            fprintf(f, ":%llu", (unsigned long long)r->counter_values[c]);
        }
        fputc('}', f);
        json_hist(f, "latency", &r->latency);
        json_intervals(f, r);
        json_hist(f, "ack_latency", &r->ack_latency);
        json_hist(f, "send_lag", &r->send_lag);
    }
    json_resources(f, r);
    fprintf(f, ",\"interrupted\":%s,\"note\":", r->interrupted ? "true" : "false");
    json_str(f, r->note);
    fprintf(f, "}\n");
}
