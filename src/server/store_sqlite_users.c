/*
 * store_sqlite_users.c: accounts and sessions of the SQLite store backend (see store.h for
 * the contract, store_sqlite.c for the schema). Sessions are found by the SHA-256 of their
 * token: the token is 256 random bits, so the hash needs no salt or slowness, and the
 * database never holds a usable token.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

store_rc store_user_create(store *s, const char *username, const char *pwhash, int64_t now,
                           int64_t *user_id)
{
    if (!username || !*username || !pwhash) return STORE_ERR_INVALID;
    sqlite3_stmt *st = sq_get(s, Q_USER_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) return STORE_ERR_EXISTS;
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    if (user_id) *user_id = sqlite3_last_insert_rowid(s->db);
    return STORE_OK;
}

store_rc store_invite_add(store *s, const uint8_t code_hash[32], int64_t now)
{
    sqlite3_stmt *st = sq_get(s, Q_INVITE_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_blob(st, 1, code_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_ERR_EXISTS;
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_invite_use(store *s, const uint8_t code_hash[32])
{
    sqlite3_stmt *st = sq_get(s, Q_INVITE_USE);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_blob(st, 1, code_hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_ERR_FORBIDDEN;
}

static store_rc user_row(sqlite3_stmt *st, store_user *out)
{
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_ERR_NO_USER : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->username = sq_strdup_col(st, 1);
        out->pwhash = sq_strdup_col(st, 2);
        r = out->username && out->pwhash ? STORE_OK : STORE_ERR_INTERNAL;
        if (r != STORE_OK) store_user_free(out);
    }
    sq_done(st);
    return r;
}

store_rc store_user_by_name(store *s, const char *username, store_user *out)
{
    memset(out, 0, sizeof *out);
    if (!username) return STORE_ERR_NO_USER;
    sqlite3_stmt *st = sq_get(s, Q_USER_BY_NAME);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    return user_row(st, out);
}

store_rc store_user_by_id(store *s, int64_t id, store_user *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sq_get(s, Q_USER_BY_ID);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, id);
    return user_row(st, out);
}

store_rc store_current_pts(store *s, int64_t user_id, uint64_t *pts)
{
    *pts = 0;
    return current_pts(s, user_id, pts);
}

store_rc store_session_create(store *s, int64_t user_id, const uint8_t token_hash[32],
                              const char *device, int64_t now, int64_t *session_id)
{
    if (!token_hash) return STORE_ERR_INVALID;
    uint64_t pts;
    store_rc r = current_pts(s, user_id, &pts);      /* NO_USER, rather than an FK error */
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_SESSION_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_blob(st, 2, token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, device && *device ? device : "unknown", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) return STORE_ERR_EXISTS;
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    if (session_id) *session_id = sqlite3_last_insert_rowid(s->db);
    return STORE_OK;
}

static store_rc session_from_row(sqlite3_stmt *st, store_session *out)
{
    out->id = sqlite3_column_int64(st, 0);
    out->user_id = sqlite3_column_int64(st, 1);
    out->device = sq_strdup_col(st, 2);
    out->created = sqlite3_column_int64(st, 3);
    out->last_active = sqlite3_column_int64(st, 4);
    return out->device ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_session_by_token(store *s, const uint8_t token_hash[32], store_session *out)
{
    memset(out, 0, sizeof *out);
    if (!token_hash) return STORE_ERR_NO_SESSION;
    sqlite3_stmt *st = sq_get(s, Q_SESSION_BY_TOKEN);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_ERR_NO_SESSION : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) r = session_from_row(st, out);
    sq_done(st);
    if (r != STORE_OK) store_session_free(out);
    return r;
}

store_rc store_session_touch(store *s, int64_t session_id, int64_t now)
{
    sqlite3_stmt *st = sq_get(s, Q_SESSION_TOUCH);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, session_id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    return sqlite3_changes(s->db) ? STORE_OK : STORE_ERR_NO_SESSION;
}

store_rc store_session_list(store *s, int64_t user_id, store_session **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = sq_get(s, Q_SESSION_LIST);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    store_session *v = NULL;
    size_t k = 0;
    int rc;
    store_rc r = STORE_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_session *nv = realloc(v, (k + 1) * sizeof *v);
        if (!nv) {
            r = STORE_ERR_INTERNAL;
            break;
        }
        v = nv;
        memset(&v[k], 0, sizeof v[k]);
        r = session_from_row(st, &v[k++]);
        if (r != STORE_OK) break;
    }
    if (r == STORE_OK && rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
    sq_done(st);
    if (r != STORE_OK) {
        store_sessions_free(v, k);
        return r;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}

/* Collects the ids to end: one owned session, or all of the user's but keep_id. */
static store_rc sessions_to_end(store *s, int64_t user_id, int64_t session_id, int64_t keep_id,
                                int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (session_id > 0) {
        st = sq_get(s, Q_SESSION_OWNED);
        if (!st) return STORE_ERR_INTERNAL;
        sqlite3_bind_int64(st, 1, session_id);
        sqlite3_bind_int64(st, 2, user_id);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc == SQLITE_DONE) return STORE_ERR_NO_SESSION;
        if (rc != SQLITE_ROW || !(*ids = malloc(sizeof **ids))) return STORE_ERR_INTERNAL;
        (*ids)[0] = session_id;
        *n = 1;
        return STORE_OK;
    }
    st = sq_get(s, Q_SESSION_OTHERS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, keep_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *v = realloc(*ids, (*n + 1) * sizeof *v);
        if (!v) break;
        *ids = v;
        v[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sq_done(st);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

store_rc store_session_delete(store *s, int64_t user_id, int64_t session_id, int64_t keep_id,
                              int64_t now, int64_t **ended, size_t *n_ended, store_fanouts *fo)
{
    *ended = NULL;
    *n_ended = 0;
    if (session_id < 0) return STORE_ERR_INVALID;
    size_t mark;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    int64_t *ids = NULL;
    size_t n = 0;
    store_rc r = sessions_to_end(s, user_id, session_id, keep_id, &ids, &n);
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        sqlite3_stmt *st = sq_get(s, Q_SESSION_DELETE);
        if (!st) {
            r = STORE_ERR_INTERNAL;
            break;
        }
        sqlite3_bind_int64(st, 1, ids[i]);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc != SQLITE_DONE) {
            r = STORE_ERR_INTERNAL;
            break;
        }
        logrow lr = {.kind = STORE_UPD_SESSION_ENDED, .date = now, .session_id = ids[i]};
        store_fanout *f = fo_push(fo);
        if (!f) r = STORE_ERR_INTERNAL;
        if (r == STORE_OK) r = log_to_accounts(s, &user_id, 1, &lr, f);
        if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) {
        free(ids);
        return r;
    }
    *ended = ids;
    *n_ended = n;
    return STORE_OK;
}
