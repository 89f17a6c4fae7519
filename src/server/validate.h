/*
 * validate.h: the protocol's input limits (usernames, passwords, texts, titles, timers),
 * checked on the network thread before any work is queued. Pure functions; unit-tested.
 */
#ifndef PARLEY_VALIDATE_H
#define PARLEY_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#define USERNAME_MIN 5
#define USERNAME_MAX 32
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define DEVICE_MAX 64
#define TEXT_MAX 4096
#define TITLE_MAX 128
#define TTL_MAX 31536000u
#define DELETE_IDS_MAX 100
#define HISTORY_DEFAULT 50
#define DIFFERENCE_DEFAULT 500
/* Most encoded bytes of entries in one paged answer (GetHistory, GetDifference); a page
 * holds fewer than `limit` entries rather than exceed it, and always at least one, so it
 * still makes progress (one entry is at most 16 KiB of text plus a little). 1 MiB keeps a
 * page at a quarter of the server's per-connection output cap (CONN_MAX_OUT_BYTES, 4 MiB)
 * with room for pushes and a few pipelined answers queued behind it, and still fits 60+
 * maximal messages, so a catch-up of long messages needs few round trips. */
#define PAGE_MAX_BYTES (1u << 20)

/* Lower-cases ASCII letters in place, then checks 5-32 of [a-z0-9_] starting with a
 * letter. 1 if valid. */
int valid_username(char *name);
int valid_password(const char *pw);
/* 1-64 code points of strict UTF-8; "" is valid (it becomes "unknown"). */
int valid_device(const char *dev);
/* 1..max code points of strict UTF-8 (no NUL). */
int valid_text(const char *s, long max_chars);
/* 0, or 1..TTL_MAX seconds. */
int valid_ttl(uint32_t seconds);

#endif
