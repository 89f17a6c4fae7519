/*
 * throttle.h: rate limits that need no disk: the per-connection request token bucket
 * (flood control), the login throttle per (username, source), and per-source windows and
 * counters (registrations per hour, password jobs in progress).
 *
 * Both are used only on the network (lws service) thread and take the current time as an
 * argument, so they are deterministic and unit-tested without clocks.
 *
 * Memory: each *_new() returns a table the caller frees with the matching *_free(); keys
 * passed in are copied (and truncated to KEY_MAX - 1 bytes). A flood_bucket is a plain value embedded in the connection.
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

/* ---- login attempts ----------------------------------------------------------------------
 *
 * Keyed on (username, source) so that an attacker's guesses slow the attacker, not the
 * account's owner (who logs in from another source, or is already logged in: Resume never
 * consults this). A source is source_key() of the client's address (source.h).
 *
 * An attempt is charged BEFORE its password is checked (login_throttle_begin) and given back
 * when the password was right (login_throttle_end with ok), so parallel guesses cannot all
 * reach Argon2 before the first failure is counted:
 *   - per (username, source): `pair_limit` attempts are free; after that each further one
 *     waits a delay that doubles (LOGIN_BACKOFF_BASE_S, 2x, 4x ... at most `window`) from the
 *     pair's last attempt; a pair with no attempt for `window` seconds is forgotten;
 *   - per source, across usernames: at most `src_limit` attempts per sliding `window`;
 *   - at most `pair_limit` attempts pending (charged, not yet ended) per username and per
 *     source at once, so no more than the window's allowance is ever being checked.
 */

#define LOGIN_BACKOFF_BASE_S 4

typedef struct login_throttle login_throttle;

/* NULL if out of memory. */
login_throttle *login_throttle_new(unsigned pair_limit, unsigned src_limit, unsigned window);
void login_throttle_free(login_throttle *t);

/* 0: the attempt is charged and pending, go ahead and check the password (then call
 * login_throttle_end exactly once). Otherwise nothing is charged and the result is the
 * seconds to wait (at least 1). */
uint32_t login_throttle_begin(login_throttle *t, const char *user, const char *src,
                              int64_t now);
/* The attempt begun with the same user and src is over (see login_outcome; on LOGIN_OK the
 * source's other failures stay counted). */
typedef enum {
    LOGIN_FAILED = 0,          /* wrong password (or no such user): the attempt stays counted */
    LOGIN_OK = 1,              /* right password: given back, the pair's failures cleared */
    LOGIN_UNCHECKED = 2,       /* never checked (queue full, store error, shutdown): given
                                  back, nothing cleared */
} login_outcome;
void login_throttle_end(login_throttle *t, const char *user, const char *src,
                        login_outcome outcome);
/* Drops entries with nothing pending and nothing left to remember; called periodically. */
void login_throttle_sweep(login_throttle *t, int64_t now);
/* Number of keys held (for tests). */
size_t login_throttle_size(const login_throttle *t);

/* ---- per-source windows and counters ------------------------------------------------------
 *
 * rate_window: at most `limit` events per key in any sliding `window` seconds (e.g.
 * registrations per source per hour). Each take is charged; nothing is given back.
 * key_counts: a count of things in progress per key (e.g. password jobs per source). */

typedef struct rate_window rate_window;
rate_window *rate_window_new(unsigned limit, unsigned window);
void rate_window_free(rate_window *w);
/* 0: charged. Otherwise nothing is charged and the result is the seconds to wait. */
uint32_t rate_window_take(rate_window *w, const char *key, int64_t now);
void rate_window_sweep(rate_window *w, int64_t now);
size_t rate_window_size(const rate_window *w);

typedef struct key_counts key_counts;
key_counts *key_counts_new(void);
void key_counts_free(key_counts *k);
/* 0 and the key's count raised by one, or -1 when it is already `max` (or memory ran out). */
int key_counts_take(key_counts *k, const char *key, unsigned max);
/* Lowers the key's count (taken before) by one; a key at 0 is dropped. */
void key_counts_give(key_counts *k, const char *key);
unsigned key_counts_get(key_counts *k, const char *key);
size_t key_counts_size(const key_counts *k);

#endif
