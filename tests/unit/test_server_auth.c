/* test_server_auth.c: session tokens (random, SHA-256 as the stored form, checked against a
 * known vector), the Argon2 pool (hash then verify, wrong password, the dummy hash, logins
 * queued apart from registrations and taken first) and the
 * id map used for connections and the push registry. */
#include "auth.h"
#include "idmap.h"
#include "unit.h"

#include <pthread.h>
#include <stdlib.h>

TEST(token_hash_vector) {
    uint8_t out[32];
    auth_token_hash((const uint8_t *)"abc", 3, out);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(tokens_are_random) {
    uint8_t a[AUTH_TOKEN_BYTES], b[AUTH_TOKEN_BYTES], ha[32], hb[32];
    auth_token_new(a);
    auth_token_new(b);
    CHECK(sodium_memcmp(a, b, sizeof a) != 0);
    auth_token_hash(a, sizeof a, ha);
    auth_token_hash(a, sizeof a, hb);
    CHECK(sodium_memcmp(ha, hb, 32) == 0);
}

/* A tiny wake-up: the test thread waits until the pool reports a finished job. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int wakes, done_count;

static void wake(void *arg)
{
    pthread_mutex_lock(&mu);
    wakes++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_done(auth_job *j) { done_count++; }
static void on_discard(auth_job *j) { }

static void run_one(auth_pool *p, auth_job *j)
{
    int before = done_count;
    CHECK_EQ_INT(auth_pool_submit(p, j), 0);
    while (done_count == before) {
        pthread_mutex_lock(&mu);
        while (wakes == 0) pthread_cond_wait(&cv, &mu);
        wakes = 0;
        pthread_mutex_unlock(&mu);
        auth_pool_drain(p);
    }
}

TEST(argon2_pool) {
    auth_pool *p = auth_pool_start(crypto_pwhash_OPSLIMIT_MIN, 8192 * 1024, wake, NULL);
    CHECK(p != NULL);
    if (!p) return;
    auth_job h = { .kind = AUTH_HASH, .password = "correct horse", .done = on_done,
                   .discard = on_discard };
    run_one(p, &h);
    CHECK(h.ok);
    CHECK(strncmp(h.hash, "$argon2id$", 10) == 0);
    auth_job v = { .kind = AUTH_VERIFY, .password = "correct horse", .done = on_done,
                   .discard = on_discard };
    memcpy(v.hash, h.hash, sizeof h.hash);
    run_one(p, &v);
    CHECK(v.ok);
    auth_job w = v;
    w.password = "wrong horse";
    run_one(p, &w);
    CHECK(!w.ok);
    auth_job d = { .kind = AUTH_VERIFY, .password = "anything", .done = on_done,
                   .discard = on_discard };
    memcpy(d.hash, auth_pool_dummy_hash(p), strlen(auth_pool_dummy_hash(p)) + 1);
    run_one(p, &d);
    CHECK(!d.ok);
    auth_pool_stop(p);
}

/* Logins and registrations have separate queues, logins taken first: with the
 * registrations' queue full, a login is still accepted and checked before the queued
 * registrations. */
static int order_next;
static void on_done_ordered(auth_job *j)
{
    j->ok = order_next++;  /* reused as the completion index */
    done_count++;
}

TEST(login_queue_separate_and_first) {
    auth_pool *p = auth_pool_start(3, 8192 * 1024, wake, NULL);
    CHECK(p != NULL);
    if (!p) return;
    enum { N = AUTH_HASH_QUEUE_MAX + AUTH_POOL_THREADS + 8 };
    static auth_job hs[N];
    int accepted = 0;
    order_next = 0;
    int before = done_count;
    for (int i = 0; i < N; i++) {
        hs[i] = (auth_job){ .kind = AUTH_HASH, .password = "registration pw",
                            .done = on_done_ordered, .discard = on_discard };
        if (auth_pool_submit(p, &hs[i]) != 0) break;
        accepted++;
    }
    CHECK(accepted >= AUTH_HASH_QUEUE_MAX && accepted < N);  /* the hash queue filled up */
    auth_job v = { .kind = AUTH_VERIFY, .password = "login pw", .done = on_done_ordered,
                   .discard = on_discard };
    memcpy(v.hash, auth_pool_dummy_hash(p), strlen(auth_pool_dummy_hash(p)) + 1);
    CHECK_EQ_INT(auth_pool_submit(p, &v), 0);
    while (done_count - before < accepted + 1) {
        pthread_mutex_lock(&mu);
        while (wakes == 0) pthread_cond_wait(&cv, &mu);
        wakes = 0;
        pthread_mutex_unlock(&mu);
        auth_pool_drain(p);
    }
    /* at most the jobs the workers were already running (plus one picked in a race) came
     * before it, not the whole queue */
    CHECK(v.ok <= AUTH_POOL_THREADS + 1);
    auth_pool_stop(p);
}

TEST(idmap_basics) {
    idmap m;
    idmap_init(&m);
    CHECK(idmap_get(&m, 5) == NULL);
    int vals[3000];
    for (int i = 0; i < 3000; i++) CHECK_EQ_INT(idmap_put(&m, (uint64_t)i + 1, &vals[i]), 0);
    CHECK_EQ_INT(m.n, 3000);
    for (int i = 0; i < 3000; i += 2) CHECK(idmap_del(&m, (uint64_t)i + 1) == &vals[i]);
    CHECK_EQ_INT(m.n, 1500);
    int ok = 1;
    for (int i = 0; i < 3000; i++)
        ok &= idmap_get(&m, (uint64_t)i + 1) == (i % 2 ? &vals[i] : NULL);
    CHECK(ok);
    CHECK(idmap_del(&m, 1) == NULL);
    CHECK_EQ_INT(idmap_put(&m, 0, &vals[0]), -1);
    idmap_put(&m, 2, &vals[5]);  /* replace */
    CHECK(idmap_get(&m, 2) == &vals[5]);
    CHECK_EQ_INT(m.n, 1500);
    idmap_free(&m);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(token_hash_vector);
    RUN(tokens_are_random);
    RUN(argon2_pool);
    RUN(login_queue_separate_and_first);
    RUN(idmap_basics);
    return UNIT_DONE("server_auth");
}
