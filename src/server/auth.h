/*
 * auth.h: password hashing off the network thread, and session tokens.
 *
 * The Argon2 pool is a few worker threads behind two bounded queues, one for logins
 * (AUTH_VERIFY) and one for registrations (AUTH_HASH): Argon2id is slow and memory-hard on
 * purpose, so it must never run on the network thread, and a flood must not queue unbounded
 * work (a full queue means BUSY for the client). WHY two: registrations can never fill the
 * logins' queue, and a worker always takes a waiting login before a registration, so a
 * flood of registrations cannot make other people's logins wait or answer BUSY. (Per-source
 * caps in front of the pool, req_account.c, keep one source from filling either queue.)
 *
 * Memory and threads: an auth_job is owned by the submitter until auth_pool_submit()
 * succeeds, then by the pool, then by its `done` callback on the network thread (run from
 * auth_pool_drain()). The password it points to is borrowed and must stay valid and
 * unchanged until `done` or `discard`. Jobs never handed back are released via `discard`
 * at auth_pool_stop().
 */
#ifndef PARLEY_AUTH_H
#define PARLEY_AUTH_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_BYTES 32
#define AUTH_POOL_THREADS 2
#define AUTH_VERIFY_QUEUE_MAX 48
#define AUTH_HASH_QUEUE_MAX 16

typedef enum { AUTH_HASH, AUTH_VERIFY } auth_kind;

typedef struct auth_job auth_job;
struct auth_job {
    auth_job *next;
    auth_kind kind;
    const char *password;      /* borrowed, NUL-terminated */
    /* VERIFY: the stored hash (input). HASH: the new hash (output). */
    char hash[crypto_pwhash_STRBYTES];
    int ok;                    /* HASH: hash was made; VERIFY: password matched */
    void (*done)(auth_job *job);
    void (*discard)(auth_job *job);
};

typedef struct auth_pool auth_pool;

/* Starts the workers with the given Argon2id cost. `wake` is called from a worker when a
 * result is ready. NULL on failure. */
auth_pool *auth_pool_start(unsigned long long ops, size_t mem, void (*wake)(void *),
                           void *wake_arg);
/* 0, or -1 when the queue is full or stopping (the caller keeps the job: answer BUSY). */
int auth_pool_submit(auth_pool *p, auth_job *job);
/* Network thread: runs `done` for every finished job. */
void auth_pool_drain(auth_pool *p);
/* Waits for running hashes, discards queued and finished jobs, frees p. */
void auth_pool_stop(auth_pool *p);

/* An encoded hash of a random password with the pool's cost: verifying against it takes as
 * long as a real verification, so unknown usernames are not revealed by timing. */
const char *auth_pool_dummy_hash(const auth_pool *p);

/* 32 random bytes. */
void auth_token_new(uint8_t token[AUTH_TOKEN_BYTES]);
/* SHA-256 of a token: what the store keeps instead of the token. */
void auth_token_hash(const uint8_t *token, size_t len, uint8_t out[32]);

#endif
