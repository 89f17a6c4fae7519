/*
 * source.h: what counts as one "source" of traffic for the per-source limits (connections,
 * registrations, logins, password jobs).
 *
 * A source is the client's address as parleyd sees it (after any trusted proxy has named
 * the real client, see networking.c), reduced so that one party cannot dodge a limit by
 * changing an address it controls cheaply: an IPv4 address counts as itself, an IPv6
 * address by its /64 (one subscriber's network: any host is given at least a /64, so
 * counting single IPv6 addresses would give an attacker 2^64 of them), and an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) as the IPv4
 * address.
 *
 * Pure functions on strings: no state, no allocation.
 */
#ifndef PARLEY_SOURCE_H
#define PARLEY_SOURCE_H

#include <stddef.h>

/* Enough for "ffff:ffff:ffff:ffff::/64" and any IPv4 address. */
#define SOURCE_KEY_MAX 48

/* Writes the source key of the numeric address `ip` ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1") into out. An address that is not numeric (e.g. a Unix socket peer,
 * or empty) is its own key, truncated to fit; a numeric one that does not fit leaves out
 * empty. Returns out. */
char *source_key(const char *ip, char *out, size_t outlen);

#endif
