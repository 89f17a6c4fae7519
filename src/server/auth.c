/*
 * auth.c: the Argon2 worker pool and session-token helpers (see auth.h).
 *
 * Workers take jobs from two bounded FIFOs, logins first, and put results on a done list;
 * the network thread is woken through the `wake` callback (lws_cancel_service) and drains
 * the done list.
 */
#include "auth.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    auth_job *head, *tail;
    size_t n;
} auth_list;

struct auth_pool {
    pthread_t threads[AUTH_POOL_THREADS];
    unsigned n_threads;
    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t cond;
    auth_list verify, hash, finished; /* queued logins, queued registrations, done */
    int stopping;
    unsigned long long ops;
    size_t mem;
    void (*wake)(void *);
    void *wake_arg;
    char dummy[crypto_pwhash_STRBYTES];
};

static void push(auth_list *l, auth_job *j)
{
    j->next = NULL;
    if (l->tail) l->tail->next = j;
    else l->head = j;
    l->tail = j;
    l->n++;
}

static auth_job *pop(auth_list *l)
{
    auth_job *j = l->head;
    if (!j) return NULL;
    l->head = j->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    j->next = NULL;
    return j;
}

static void run_job(const auth_pool *p, auth_job *j)
{
    size_t len = strlen(j->password);
    if (j->kind == AUTH_HASH)
        j->ok = crypto_pwhash_str(j->hash, j->password, len, p->ops, p->mem) == 0;
    else
        j->ok = crypto_pwhash_str_verify(j->hash, j->password, len) == 0;
}

static void *worker(void *arg)
{
    auth_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->verify.head && !p->hash.head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping) break;
        auth_job *j = p->verify.head ? pop(&p->verify) : pop(&p->hash);
        pthread_mutex_unlock(&p->lock);
        run_job(p, j);
        pthread_mutex_lock(&p->lock);
        push(&p->finished, j);
        pthread_mutex_unlock(&p->lock);
        p->wake(p->wake_arg);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int make_dummy(auth_pool *p)
{
    char pw[33];
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    int rc = crypto_pwhash_str(p->dummy, pw, strlen(pw), p->ops, p->mem);
    sodium_memzero(pw, sizeof pw);
    return rc;
}

auth_pool *auth_pool_start(unsigned long long ops, size_t mem, void (*wake)(void *),
                           void *wake_arg)
{
    auth_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ops = ops;
    p->mem = mem;
    p->wake = wake;
    p->wake_arg = wake_arg;
    if (make_dummy(p) != 0) {
        log_error("auth: cannot compute Argon2id hashes with argon2_mem=%zu", mem);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (; p->n_threads < AUTH_POOL_THREADS; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) != 0) break;
    if (p->n_threads == 0) {
        auth_pool_stop(p);
        return NULL;
    }
    return p;
}

int auth_pool_submit(auth_pool *p, auth_job *job)
{
    int rc = -1;
    pthread_mutex_lock(&p->lock);
    auth_list *q = job->kind == AUTH_VERIFY ? &p->verify : &p->hash;
    size_t max = job->kind == AUTH_VERIFY ? AUTH_VERIFY_QUEUE_MAX : AUTH_HASH_QUEUE_MAX;
    if (!p->stopping && q->n < max) {
        push(q, job);
        pthread_cond_signal(&p->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void auth_pool_drain(auth_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        auth_job *j = pop(&p->finished);
        pthread_mutex_unlock(&p->lock);
        if (!j) return;
        j->done(j);
    }
}

void auth_pool_stop(auth_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    auth_job *j;
    while ((j = pop(&p->verify)) != NULL) j->discard(j);
    while ((j = pop(&p->hash)) != NULL) j->discard(j);
    while ((j = pop(&p->finished)) != NULL) j->discard(j);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    sodium_memzero(p->dummy, sizeof p->dummy);
    free(p);
}

const char *auth_pool_dummy_hash(const auth_pool *p)
{
    return p->dummy;
}

void auth_token_new(uint8_t token[AUTH_TOKEN_BYTES])
{
    randombytes_buf(token, AUTH_TOKEN_BYTES);
}

void auth_token_hash(const uint8_t *token, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, token, len);
}
