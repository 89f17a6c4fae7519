/*
 * throttle.h: rate limits that need no disk: the per-connection request token bucket
 * (flood control) and the login-failure windows per username and per source address.
 *
 * Both are used only on the network (lws service) thread and take the current time as an
 * argument, so they are deterministic and unit-tested without clocks.
 *
 * Memory: login_throttle_new() returns a table the caller frees with login_throttle_free();
 * keys passed in are copied. A flood_bucket is a plain value embedded in the connection.
 */
#ifndef PARLEY_THROTTLE_H
#define PARLEY_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

/* ---- per-connection token bucket -------------------------------------------------------- */

/* tokens may go negative: the debt of a client that keeps sending while throttled. A debt
 * beyond FLOOD_DEBT_FACTOR * burst is a sustained flood and ends the connection. */
#define FLOOD_DEBT_FACTOR 3

typedef struct {
    double tokens;
    int64_t last_us;
} flood_bucket;

typedef enum { FLOOD_ALLOW = 0, FLOOD_WAIT, FLOOD_DISCONNECT } flood_verdict;

void flood_init(flood_bucket *b, double burst, int64_t now_us);
/* Charges one request. On FLOOD_WAIT *retry_after is the whole seconds until a request
 * would be allowed again (at least 1). */
flood_verdict flood_take(flood_bucket *b, double rate, double burst, int64_t now_us,
                         uint32_t *retry_after);

/* ---- login failures --------------------------------------------------------------------- */

typedef struct login_throttle login_throttle;

/* At most `user_limit` failures per username and `ip_limit` per address within `window`
 * seconds. NULL if out of memory. */
login_throttle *login_throttle_new(unsigned user_limit, unsigned ip_limit, unsigned window);
void login_throttle_free(login_throttle *t);

/* 0 when a login attempt may proceed, else the seconds to wait. */
uint32_t login_throttle_check(login_throttle *t, const char *user, const char *ip, int64_t now);
void login_throttle_fail(login_throttle *t, const char *user, const char *ip, int64_t now);
/* A correct password clears the username's failures (not the address's). */
void login_throttle_success(login_throttle *t, const char *user);
/* Drops entries with no failure inside the window; called periodically. */
void login_throttle_sweep(login_throttle *t, int64_t now);
/* Number of keys held (for tests). */
size_t login_throttle_size(const login_throttle *t);

#endif
