/*
 * throttle.c: flood token bucket, login throttle, per-source windows and counters (see
 * throttle.h).
 *
 * All keyed state lives in one kind of hash table (win_table) whose entries carry what any
 * of the users needs: a ring of the last `limit` event times (an exact sliding window: when
 * the ring is full and its oldest entry is still inside the window, the key is over its
 * limit until that entry leaves it), a pending count, and a failure count with the time of
 * the last attempt (the login backoff).
 */
#include "throttle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- token bucket ----------------------------------------------------------------------- */

void flood_init(flood_bucket *b, double burst, int64_t now_us)
{
    b->tokens = burst;
    b->last_us = now_us;
}

flood_verdict flood_take(flood_bucket *b, double rate, double burst, int64_t now_us,
                         uint32_t *retry_after)
{
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) / 1e6 * rate;
        if (b->tokens > burst) b->tokens = burst;
        b->last_us = now_us;
    }
    b->tokens -= 1;
    if (b->tokens >= 0) return FLOOD_ALLOW;
    if (b->tokens < -FLOOD_DEBT_FACTOR * burst) return FLOOD_DISCONNECT;
    /* Seconds until the debt is repaid and one token is back. */
    double wait = (1 - b->tokens) / rate;
    *retry_after = wait < 1 ? 1 : (uint32_t)ceil(wait);
    return FLOOD_WAIT;
}

/* ---- keyed tables ------------------------------------------------------------------------ */

/* A username (<= 32 bytes), a 0x1f separator and a source key (< 48): the longest key. */
#define KEY_MAX 96
#define MAX_KEYS (1u << 18)    /* memory bound against floods of distinct keys */

typedef struct win_entry {
    struct win_entry *next;
    uint32_t hash;
    unsigned count;            /* events stored in the ring, <= limit */
    unsigned head;             /* index of the oldest stored event */
    unsigned pending;          /* begun and not yet ended */
    unsigned fails;            /* login pairs: attempts charged since the last forgetting */
    int64_t last;              /* login pairs: time of the last charged attempt */
    int64_t forget_at;         /* login pairs: when `fails` is forgotten (see pair_wait) */
    char key[KEY_MAX];
    int64_t times[];           /* ring of `limit` event times */
} win_entry;

typedef struct {
    win_entry **buckets;
    size_t n_buckets;          /* power of two */
    size_t n;
    unsigned limit;
} win_table;

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int table_init(win_table *t, unsigned limit)
{
    t->n_buckets = 256;
    t->n = 0;
    t->limit = limit ? limit : 1;
    t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

static void table_free(win_table *t)
{
    if (!t->buckets) return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        win_entry *e = t->buckets[i];
        while (e) {
            win_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

/* Doubles the bucket array; on allocation failure the table just stays denser. */
static void table_grow(win_table *t)
{
    size_t nb = t->n_buckets * 2;
    win_entry **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        win_entry *e = t->buckets[i];
        while (e) {
            win_entry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
}

/* Keys are compared as truncated to KEY_MAX - 1 bytes, as they are stored. */
static win_entry **table_slot(win_table *t, const char *key, uint32_t h)
{
    win_entry **p = &t->buckets[h & (t->n_buckets - 1)];
    while (*p && ((*p)->hash != h || strncmp((*p)->key, key, KEY_MAX - 1) != 0))
        p = &(*p)->next;
    return p;
}

static uint32_t hash_stored(const char *key)
{
    char k[KEY_MAX];
    snprintf(k, sizeof k, "%s", key);
    return hash_key(k);
}

static win_entry *table_find(win_table *t, const char *key)
{
    return *table_slot(t, key, hash_stored(key));
}

static win_entry *table_get_or_add(win_table *t, const char *key)
{
    uint32_t h = hash_stored(key);
    win_entry **p = table_slot(t, key, h);
    if (*p) return *p;
    if (t->n >= MAX_KEYS) return NULL;
    win_entry *e = calloc(1, sizeof *e + t->limit * sizeof e->times[0]);
    if (!e) return NULL;
    e->hash = h;
    snprintf(e->key, sizeof e->key, "%s", key); /* at most KEY_MAX - 1 bytes, terminated */
    *p = e;
    t->n++;
    if (t->n > t->n_buckets) table_grow(t);
    return e;
}

static void table_remove(win_table *t, win_entry *e)
{
    win_entry **p = table_slot(t, e->key, e->hash);
    if (*p != e) return;
    *p = e->next;
    free(e);
    t->n--;
}

static int64_t newest(const win_table *t, const win_entry *e)
{
    return e->times[(e->head + e->count - 1) % t->limit];
}

/* Seconds until `e` is under its limit again, 0 if it is already. */
static uint32_t entry_wait(const win_table *t, const win_entry *e, unsigned window, int64_t now)
{
    if (!e || e->count < t->limit) return 0;
    int64_t until = e->times[e->head] + window;
    return until > now ? (uint32_t)(until - now) : 0;
}

static void entry_add(const win_table *t, win_entry *e, int64_t now)
{
    if (e->count < t->limit) {
        e->times[(e->head + e->count) % t->limit] = now;
        e->count++;
    } else {
        e->times[e->head] = now;
        e->head = (e->head + 1) % t->limit;
    }
}

/* Gives back the newest event (a charged attempt that turned out to be legitimate). */
static void entry_pop_newest(win_entry *e)
{
    if (e->count > 0) e->count--;
}

/* Whether an entry has nothing left to remember at `now`: nothing pending, no login backoff
 * running, no event inside the window. */
static int entry_idle(const win_table *t, const win_entry *e, unsigned window, int64_t now)
{
    if (e->pending) return 0;
    if (e->fails && e->forget_at > now) return 0;
    return e->count == 0 || newest(t, e) + window <= now;
}

static void table_sweep(win_table *t, unsigned window, int64_t now)
{
    for (size_t i = 0; i < t->n_buckets; i++) {
        win_entry **p = &t->buckets[i];
        while (*p) {
            win_entry *e = *p;
            if (entry_idle(t, e, window, now)) {
                *p = e->next;
                free(e);
                t->n--;
            } else {
                p = &e->next;
            }
        }
    }
}

/* ---- login throttle ----------------------------------------------------------------------- */

struct login_throttle {
    win_table pairs;           /* "user\x1fsource": backoff and pending */
    win_table srcs;            /* source: sliding window of attempts, pending */
    win_table users;           /* username: pending only */
    unsigned pair_limit;
    unsigned window;
};

login_throttle *login_throttle_new(unsigned pair_limit, unsigned src_limit, unsigned window)
{
    login_throttle *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->pair_limit = pair_limit ? pair_limit : 1;
    t->window = window;
    if (table_init(&t->pairs, 1) != 0 || table_init(&t->srcs, src_limit) != 0 ||
        table_init(&t->users, 1) != 0) {
        login_throttle_free(t);
        return NULL;
    }
    return t;
}

void login_throttle_free(login_throttle *t)
{
    if (!t) return;
    table_free(&t->pairs);
    table_free(&t->srcs);
    table_free(&t->users);
    free(t);
}

static void pair_key(char out[KEY_MAX], const char *user, const char *src)
{
    snprintf(out, KEY_MAX, "%s\x1f%s", user, src);
}

/* The delay after a pair's free attempts: base, 2x base, 4x ... capped at the window. */
static int64_t pair_delay(const login_throttle *t, unsigned fails)
{
    if (fails < t->pair_limit) return 0;
    unsigned k = fails - t->pair_limit;
    uint64_t delay = (uint64_t)LOGIN_BACKOFF_BASE_S << (k < 32 ? k : 32);
    return delay > t->window ? t->window : (int64_t)delay;
}

/* A pair is forgotten once a whole window passed without an attempt after its delay ran
 * out (so waiting out the delay does not wipe the count: the next delay is longer). */
static void pair_set_forget(const login_throttle *t, win_entry *e)
{
    e->forget_at = e->last + pair_delay(t, e->fails) + t->window;
}

static uint32_t pair_wait(const login_throttle *t, win_entry *e, int64_t now)
{
    if (!e) return 0;
    if (e->fails && e->forget_at <= now && !e->pending) e->fails = 0;
    int64_t until = e->last + pair_delay(t, e->fails);
    return e->fails >= t->pair_limit && until > now ? (uint32_t)(until - now) : 0;
}

uint32_t login_throttle_begin(login_throttle *t, const char *user, const char *src,
                              int64_t now)
{
    char pk[KEY_MAX];
    pair_key(pk, user, src);
    win_entry *p = table_find(&t->pairs, pk), *s = table_find(&t->srcs, src);
    win_entry *u = table_find(&t->users, user);
    uint32_t a = pair_wait(t, p, now), b = entry_wait(&t->srcs, s, t->window, now);
    uint32_t wait = a > b ? a : b;
    if (wait) return wait;
    /* Too many checks of this username or from this source at once: come back shortly. */
    if ((u && u->pending >= t->pair_limit) || (s && s->pending >= t->pair_limit)) return 1;
    if (!p) {
        p = table_get_or_add(&t->pairs, pk);
        if (!p) {  /* full: make room from idle keys, then try once more */
            login_throttle_sweep(t, now);
            p = table_get_or_add(&t->pairs, pk);
        }
    }
    if (!s) s = table_get_or_add(&t->srcs, src);
    if (!u) u = table_get_or_add(&t->users, user);
    /* WHY go ahead when a table is full (2^18 keys each): refusing would let whoever fills
     * it lock everyone out; the attempt is simply not tracked where it could not be. */
    if (p) {
        p->fails++;
        p->last = now;
        p->pending++;
        pair_set_forget(t, p);
    }
    if (s) {
        entry_add(&t->srcs, s, now);
        s->pending++;
    }
    if (u) u->pending++;
    return 0;
}

void login_throttle_end(login_throttle *t, const char *user, const char *src,
                        login_outcome outcome)
{
    int give_back = outcome != LOGIN_FAILED;
    char pk[KEY_MAX];
    pair_key(pk, user, src);
    win_entry *p = table_find(&t->pairs, pk), *s = table_find(&t->srcs, src);
    win_entry *u = table_find(&t->users, user);
    if (p && p->pending) {
        p->pending--;
        if (outcome == LOGIN_OK) p->fails = 0;
        else if (give_back && p->fails) p->fails--;
        pair_set_forget(t, p);
    }
    if (s && s->pending) {
        s->pending--;
        if (give_back) entry_pop_newest(s);
    }
    if (u && u->pending && --u->pending == 0) table_remove(&t->users, u);
}

void login_throttle_sweep(login_throttle *t, int64_t now)
{
    table_sweep(&t->pairs, t->window, now);
    table_sweep(&t->srcs, t->window, now);
    table_sweep(&t->users, t->window, now);
}

size_t login_throttle_size(const login_throttle *t)
{
    return t->pairs.n + t->srcs.n + t->users.n;
}

/* ---- rate windows ------------------------------------------------------------------------- */

struct rate_window {
    win_table t;
    unsigned window;
};

rate_window *rate_window_new(unsigned limit, unsigned window)
{
    rate_window *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->window = window;
    if (table_init(&w->t, limit) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void rate_window_free(rate_window *w)
{
    if (!w) return;
    table_free(&w->t);
    free(w);
}

uint32_t rate_window_take(rate_window *w, const char *key, int64_t now)
{
    win_entry *e = table_find(&w->t, key);
    uint32_t wait = entry_wait(&w->t, e, w->window, now);
    if (wait) return wait;
    if (!e) {
        e = table_get_or_add(&w->t, key);
        if (!e) {
            rate_window_sweep(w, now);
            e = table_get_or_add(&w->t, key);
        }
        /* Still full of live keys: refuse rather than let the limit go untracked (what is
         * limited here is optional work, e.g. creating accounts). */
        if (!e) return 1;
    }
    entry_add(&w->t, e, now);
    return 0;
}

void rate_window_sweep(rate_window *w, int64_t now)
{
    table_sweep(&w->t, w->window, now);
}

size_t rate_window_size(const rate_window *w)
{
    return w->t.n;
}

/* ---- counts in progress ------------------------------------------------------------------- */

struct key_counts {
    win_table t;               /* only `pending` is used */
};

key_counts *key_counts_new(void)
{
    key_counts *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    if (table_init(&k->t, 1) != 0) {
        free(k);
        return NULL;
    }
    return k;
}

void key_counts_free(key_counts *k)
{
    if (!k) return;
    table_free(&k->t);
    free(k);
}

int key_counts_take(key_counts *k, const char *key, unsigned max)
{
    win_entry *e = table_get_or_add(&k->t, key);
    if (!e || e->pending >= max) {
        if (e && e->pending == 0) table_remove(&k->t, e);
        return -1;
    }
    e->pending++;
    return 0;
}

void key_counts_give(key_counts *k, const char *key)
{
    win_entry *e = table_find(&k->t, key);
    if (e && e->pending && --e->pending == 0) table_remove(&k->t, e);
}

unsigned key_counts_get(key_counts *k, const char *key)
{
    win_entry *e = table_find(&k->t, key);
    return e ? e->pending : 0;
}

size_t key_counts_size(const key_counts *k)
{
    return k->t.n;
}
