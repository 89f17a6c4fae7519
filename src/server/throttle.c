/*
 * throttle.c: flood token bucket and login-failure windows (see throttle.h).
 *
 * Login windows: each key (a username or an address) keeps a ring of its last `limit`
 * failure times. When the ring is full and its oldest entry is still inside the window, the
 * key is over its limit until that entry leaves the window: an exact sliding window that
 * needs `limit` timestamps per key and nothing else.
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

/* ---- login windows ---------------------------------------------------------------------- */

#define KEY_MAX 48             /* usernames are <= 32 bytes, textual addresses <= 45 */
#define MAX_KEYS (1u << 18)    /* memory bound against floods of distinct usernames */

typedef struct win_entry {
    struct win_entry *next;
    uint32_t hash;
    unsigned count;            /* failures stored, <= limit */
    unsigned head;             /* index of the oldest stored failure */
    char key[KEY_MAX];
    int64_t times[];           /* ring of `limit` failure times */
} win_entry;

typedef struct {
    win_entry **buckets;
    size_t n_buckets;          /* power of two */
    size_t n;
    unsigned limit;
} win_table;

struct login_throttle {
    win_table users, ips;
    unsigned window;
};

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
    t->limit = limit;
    t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

static void table_free(win_table *t)
{
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

static win_entry **table_slot(win_table *t, const char *key, uint32_t h)
{
    win_entry **p = &t->buckets[h & (t->n_buckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0)) p = &(*p)->next;
    return p;
}

static win_entry *table_find(win_table *t, const char *key)
{
    return *table_slot(t, key, hash_key(key));
}

static win_entry *table_get_or_add(win_table *t, const char *key)
{
    uint32_t h = hash_key(key);
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

static void table_remove(win_table *t, const char *key)
{
    win_entry **p = table_slot(t, key, hash_key(key));
    if (!*p) return;
    win_entry *e = *p;
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

static void table_sweep(win_table *t, unsigned window, int64_t now)
{
    for (size_t i = 0; i < t->n_buckets; i++) {
        win_entry **p = &t->buckets[i];
        while (*p) {
            win_entry *e = *p;
            if (e->count == 0 || newest(t, e) + window <= now) {
                *p = e->next;
                free(e);
                t->n--;
            } else {
                p = &e->next;
            }
        }
    }
}

login_throttle *login_throttle_new(unsigned user_limit, unsigned ip_limit, unsigned window)
{
    login_throttle *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->window = window;
    if (table_init(&t->users, user_limit ? user_limit : 1) != 0 ||
        table_init(&t->ips, ip_limit ? ip_limit : 1) != 0) {
        login_throttle_free(t);
        return NULL;
    }
    return t;
}

void login_throttle_free(login_throttle *t)
{
    if (!t) return;
    table_free(&t->users);
    table_free(&t->ips);
    free(t);
}

uint32_t login_throttle_check(login_throttle *t, const char *user, const char *ip, int64_t now)
{
    uint32_t a = entry_wait(&t->users, table_find(&t->users, user), t->window, now);
    uint32_t b = entry_wait(&t->ips, table_find(&t->ips, ip), t->window, now);
    return a > b ? a : b;
}

void login_throttle_fail(login_throttle *t, const char *user, const char *ip, int64_t now)
{
    win_entry *e = table_get_or_add(&t->users, user);
    if (!e) {
        /* Full: make room from expired keys, then try once more. */
        login_throttle_sweep(t, now);
        e = table_get_or_add(&t->users, user);
    }
    if (e) entry_add(&t->users, e, now);
    e = table_get_or_add(&t->ips, ip);
    if (e) entry_add(&t->ips, e, now);
}

void login_throttle_success(login_throttle *t, const char *user)
{
    table_remove(&t->users, user);
}

void login_throttle_sweep(login_throttle *t, int64_t now)
{
    table_sweep(&t->users, t->window, now);
    table_sweep(&t->ips, t->window, now);
}

size_t login_throttle_size(const login_throttle *t)
{
    return t->users.n + t->ips.n;
}
