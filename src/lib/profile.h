/*
 * profile.h: the profile directory of one device: profile.db (SQLite, a key/value table) and
 * ca.pem (the certificate the device trusts). Several processes may use one profile at the
 * same time (e.g. `receive --follow` and `send`), so every write is its own short
 * transaction and SQLite waits for a busy lock instead of failing.
 *
 * An ephemeral profile (dir NULL) stores nothing: every setter succeeds without effect and
 * every getter reports "missing".
 *
 * Memory: strings returned through out-parameters are malloc'ed and freed by the caller.
 */
#ifndef PARLEY_PROFILE_H
#define PARLEY_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "parley.h"

typedef struct pl_profile {
    char *dir;               /* NULL when ephemeral */
    struct sqlite3 *db;
} pl_profile;

/* Keys of the kv table. */
#define PK_SERVER_URL "server_url"
#define PK_TOKEN "session_token"
#define PK_USER_ID "user_id"
#define PK_USERNAME "username"
#define PK_SESSION_ID "session_id"
#define PK_DEVICE "device_name"
#define PK_PTS "pts"
#define PK_OWN "own_pts"     /* own-action positions ahead of PK_PTS (see sync.h) */

/* Opens (creating it mode 0700 with its parents, and profile.db mode 0600) or, with dir
 * NULL, an ephemeral profile. */
int pl_profile_open(pl_profile *p, const char *dir, parley_error *err);
void pl_profile_close(pl_profile *p);

/* Getters return 0 when found, 1 when missing, <0 (-PARLEY_E_PROFILE) on failure. */
int pl_profile_get_text(pl_profile *p, const char *key, char **out, parley_error *err);
int pl_profile_get_int(pl_profile *p, const char *key, int64_t *out, parley_error *err);
/* The blob must have exactly len bytes, else it counts as missing. */
int pl_profile_get_blob(pl_profile *p, const char *key, void *out, size_t len,
                        parley_error *err);

int pl_profile_set_text(pl_profile *p, const char *key, const char *v, parley_error *err);
int pl_profile_set_int(pl_profile *p, const char *key, int64_t v, parley_error *err);

/* Stores the sync position and the own-action positions (NULL/"" = none) together. */
int pl_profile_set_position(pl_profile *p, uint64_t pts, const char *own, parley_error *err);

/* Stores a new session (login/register) in one transaction. */
int pl_profile_save_session(pl_profile *p, const char *url, const uint8_t token[32],
                            int64_t user_id, const char *username, int64_t session_id,
                            uint64_t pts, parley_error *err);
/* Removes the session keys (token, user, session id, pts, own positions). */
int pl_profile_forget_session(pl_profile *p, parley_error *err);

/* Copies pem into <dir>/ca.pem (mode 0600, atomically) unless it already holds exactly
 * that. */
int pl_profile_store_ca(pl_profile *p, const char *pem, size_t len, parley_error *err);
/* Reads <dir>/ca.pem: 0 found, 1 missing, <0 error. */
int pl_profile_load_ca(pl_profile *p, char **pem, size_t *len, parley_error *err);

/* Reads a whole (small) file: 0 or -PARLEY_E_* (ARGUMENT if it does not exist). */
int pl_read_file(const char *path, size_t max, char **out, size_t *len, parley_error *err);

#endif
