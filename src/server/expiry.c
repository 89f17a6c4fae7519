/*
 * expiry.c: runs store_expire() when messages are due (see expiry.h), and with it
 * store_secret_expire() for secret-chat envelopes never collected within
 * secret_envelope_ttl_days (checked on every run: at least every EXPIRY_MAX_SLEEP_S).
 *
 * At most one expire job is in flight. While it is, new hints are remembered and folded
 * into the next schedule when the job completes. The timer aims just past the second in
 * which the next message expires, since expiry times are whole unix seconds: firing early
 * would find nothing due and spin.
 */
#include "expiry.h"
#include "log.h"
#include "push.h"

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#define MARGIN_US 20000        /* land safely inside the due second */
#define MIN_SLEEP_US 50000     /* never spin on a backend that reports a past expiry */
#define POKE_US 100000

typedef struct {
    storeq_job sq;
    server *srv;
    int64_t now;
    size_t n_expired;
    int64_t next;
    store_fanouts fo;
    int64_t envelopes_before;  /* secret envelopes queued before this were never collected */
    size_t n_envelopes;
} expiry_job;

static void fire(lws_sorted_usec_list_t *sul);

static int64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds from now until unix second `t` has begun (0 if it has). */
static int64_t until_second(int64_t t)
{
    int64_t d = t * 1000000 - realtime_us() + MARGIN_US;
    return d > 0 ? d : 0;
}

/* Fires after delay_us unless the timer is already set to fire sooner. */
static void schedule_in(server *srv, int64_t delay_us)
{
    expiry_state *e = &srv->expiry;
    int64_t due = lws_now_usecs() + delay_us;
    if (e->due_us && e->due_us <= due) return;
    e->due_us = due;
    lws_sul_schedule(srv->lws, 0, &e->sul, fire, delay_us);
}

static store_rc job_run(store *s, storeq_job *sq)
{
    expiry_job *j = (expiry_job *)sq;
    store_rc rc = store_expire(s, j->now, EXPIRY_BATCH, &j->n_expired, &j->next, &j->fo);
    if (rc == STORE_OK)
        rc = store_secret_expire(s, j->envelopes_before, EXPIRY_BATCH, &j->n_envelopes);
    sq->scrub = j->n_expired > 0 || j->n_envelopes > 0;
    return rc;
}

static void job_free(expiry_job *j)
{
    store_fanouts_free(&j->fo);
    free(j);
}

static void job_discard(storeq_job *sq)
{
    job_free((expiry_job *)sq);
}

static int64_t next_delay(const expiry_job *j, int64_t hint)
{
    if (j->sq.rc != STORE_OK) return EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC;
    if (j->n_expired >= EXPIRY_BATCH || j->n_envelopes >= EXPIRY_BATCH)
        return 0;  /* more are due right now */
    int64_t next = j->next;
    if (hint && (!next || hint < next)) next = hint;
    int64_t d = next ? until_second(next) : EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC;
    if (d > EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC) d = EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC;
    return d < MIN_SLEEP_US ? MIN_SLEEP_US : d;
}

static void job_done(storeq_job *sq)
{
    expiry_job *j = (expiry_job *)sq;
    server *srv = j->srv;
    srv->expiry.job_in_flight = 0;
    if (j->sq.rc == STORE_OK) {
        if (j->n_expired) log_debug("expiry: %zu message(s) expired", j->n_expired);
        if (j->n_envelopes)
            log_debug("expiry: %zu uncollected secret envelope(s) deleted", j->n_envelopes);
        push_fanouts(srv, &j->fo, 0);
    } else {
        log_warn("expiry: store_expire failed; retrying");
    }
    int64_t hint = srv->expiry.hint;
    srv->expiry.hint = 0;
    schedule_in(srv, next_delay(j, hint));
    job_free(j);
}

static void fire(lws_sorted_usec_list_t *sul)
{
    server *srv = (server *)((char *)sul - offsetof(server, expiry.sul));
    srv->expiry.due_us = 0;
    if (srv->expiry.job_in_flight || srv->shutting_down) return;
    expiry_job *j = calloc(1, sizeof *j);
    if (!j) {
        schedule_in(srv, EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC);
        return;
    }
    j->srv = srv;
    j->now = server_now();
    j->envelopes_before = j->now - (int64_t)srv->cfg.secret_envelope_ttl_days * 86400;
    j->sq.run = job_run;
    j->sq.done = job_done;
    j->sq.discard = job_discard;
    if (storeq_submit(srv->sq, &j->sq) != 0) {
        job_free(j);
        schedule_in(srv, EXPIRY_MAX_SLEEP_S * LWS_US_PER_SEC);
        return;
    }
    srv->expiry.job_in_flight = 1;
}

void expiry_start(server *srv)
{
    schedule_in(srv, 0);
}

void expiry_stop(server *srv)
{
    lws_sul_cancel(&srv->expiry.sul);
    srv->expiry.due_us = 0;
}

void expiry_hint(server *srv, int64_t expires_at)
{
    if (expires_at <= 0) return;
    if (srv->expiry.job_in_flight) {
        if (!srv->expiry.hint || expires_at < srv->expiry.hint) srv->expiry.hint = expires_at;
        return;
    }
    schedule_in(srv, until_second(expires_at));
}

void expiry_poke(server *srv)
{
    if (srv->expiry.job_in_flight) {
        srv->expiry.hint = server_now();  /* look again right after the current job */
        return;
    }
    schedule_in(srv, POKE_US);
}
