/*
 * store_sqlite_msgs.c: messages of the SQLite store backend: send (idempotent by random_id),
 * edit, delete for everyone / hide for me, read markers and self-destruct timers, history,
 * expiry and the update-log difference. See store.h for the contract and store_sqlite.c for
 * the schema.
 *
 * The send path is the hot one: it is a fixed handful of cached, indexed statements whatever
 * the chat size (access check, duplicate probe, id allocation, one bulk pts bump, one message
 * insert, one bulk log insert).
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TTL 31536000u
#define MAX_DELETE_IDS 100

/* ---- rows <-> structs ------------------------------------------------------------------- */

static store_rc service_users_load(store *s, sqlite3_stmt *st, store_msg *m)
{
    int64_t *ids;
    size_t n;
    if (ids_read(st, 13, &ids, &n)) return STORE_ERR_INTERNAL;
    if (n == 0) return STORE_OK;
    m->service_users = calloc(n, sizeof *m->service_users);
    store_rc r = m->service_users ? STORE_OK : STORE_ERR_INTERNAL;
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        m->service_users[i].id = ids[i];
        m->n_service_users = i + 1;
        r = user_name(s, ids[i], &m->service_users[i].username);
        if (r == STORE_ERR_NO_USER) r = STORE_ERR_INTERNAL;
    }
    free(ids);
    return r;
}

store_rc msg_from_row(store *s, sqlite3_stmt *st, int64_t viewer, store_msg *out)
{
    memset(out, 0, sizeof *out);
    out->chat_id = sqlite3_column_int64(st, 0);
    out->id = sqlite3_column_int64(st, 1);
    out->from_user = sqlite3_column_int64(st, 2);
    out->from_username = sq_strdup_col(st, 3);
    out->text = text_open(st, 4, MSG_COL_KEY);
    out->date = sqlite3_column_int64(st, 5);
    out->edit_date = sqlite3_column_int64(st, 6);
    out->reply_to = sqlite3_column_int64(st, 7);
    out->ttl = (uint32_t)sqlite3_column_int64(st, 8);
    out->expires_at = sqlite3_column_int64(st, 9);
    /* the idempotency key is the sender's business only */
    if (viewer < 0 || viewer == out->from_user)
        out->random_id = (uint64_t)sqlite3_column_int64(st, 10);
    out->kind = sqlite3_column_int(st, 11);
    out->service_action = sqlite3_column_int(st, 12);
    if (sqlite3_column_type(st, 14) != SQLITE_NULL &&
        !(out->service_title = sq_strdup_col(st, 14)))
        goto fail;
    out->service_seconds = (uint32_t)sqlite3_column_int64(st, 15);
    out->service_role = sqlite3_column_int(st, 16);
    if (!out->from_username || !out->text) goto fail;
    if (service_users_load(s, st, out) != STORE_OK) goto fail;
    return STORE_OK;
fail:
    store_msg_free(out);
    return STORE_ERR_INTERNAL;
}

static store_rc msg_copy(store_msg *dst, const store_msg *src)
{
    *dst = *src;
    dst->from_username = NULL;
    dst->text = NULL;
    dst->service_users = NULL;
    dst->n_service_users = 0;
    dst->service_title = NULL;
    if (!(dst->from_username = strdup(src->from_username ? src->from_username : "")) ||
        !(dst->text = strdup(src->text ? src->text : "")) ||
        (src->service_title && !(dst->service_title = strdup(src->service_title))))
        goto fail;
    if (src->n_service_users) {
        dst->service_users = calloc(src->n_service_users, sizeof *dst->service_users);
        if (!dst->service_users) goto fail;
        for (size_t i = 0; i < src->n_service_users; i++) {
            dst->service_users[i].id = src->service_users[i].id;
            dst->n_service_users = i + 1;
            const char *u = src->service_users[i].username;
            if (!(dst->service_users[i].username = strdup(u ? u : ""))) goto fail;
        }
    }
    return STORE_OK;
fail:
    store_msg_free(dst);
    return STORE_ERR_INTERNAL;
}

/* Loads (chat_id, id); viewer as in msg_from_row. NO_MESSAGE if absent. */
static store_rc msg_load(store *s, int q, int64_t chat_id, int64_t id, int64_t viewer,
                         store_msg *out, uint64_t *from_pts)
{
    sqlite3_stmt *st = sq_get(s, q);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, id);
    if (q == Q_MSG_VISIBLE) sqlite3_bind_int64(st, 3, viewer);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_ERR_NO_MESSAGE : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        r = msg_from_row(s, st, viewer, out);
        if (from_pts) *from_pts = (uint64_t)sqlite3_column_int64(st, MSG_COL_FROM_PTS);
    }
    sq_done(st);
    return r;
}

/* Attaches a copy of m to the shared update of a NEW/EDIT fan-out. */
static store_rc fo_attach_msg(store_fanout *f, const store_msg *m)
{
    f->update.msg = calloc(1, sizeof *f->update.msg);
    if (!f->update.msg) return STORE_ERR_INTERNAL;
    store_rc r = msg_copy(f->update.msg, m);
    if (r != STORE_OK) {
        free(f->update.msg);
        f->update.msg = NULL;
    }
    return r;
}

static store_rc alloc_msg_id(store *s, int64_t chat_id, int64_t now, int64_t *id)
{
    sqlite3_stmt *st = sq_get(s, Q_CHAT_ALLOC_ID);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_ERR_INTERNAL;
}

/* Inserts m (id already allocated), its text sealed under a new key. svc: the service users
 * as ids (NULL for text). */
static store_rc msg_insert(store *s, const store_msg *m, const int64_t *svc, size_t n_svc,
                           uint64_t from_pts)
{
    int64_t key_id;
    unsigned char *body;
    size_t len;
    store_rc r = text_seal(s, m->text ? m->text : "", &key_id, &body, &len);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_MSG_INSERT);
    if (!st) {
        free(body);
        return STORE_ERR_INTERNAL;
    }
    sqlite3_bind_int64(st, 1, m->chat_id);
    sqlite3_bind_int64(st, 2, m->id);
    sqlite3_bind_int64(st, 3, m->from_user);
    if (m->random_id) sqlite3_bind_int64(st, 4, (int64_t)m->random_id);
    sqlite3_bind_int(st, 5, m->kind);
    sqlite3_bind_blob(st, 6, body, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, m->date);
    sqlite3_bind_int64(st, 8, m->reply_to);
    sqlite3_bind_int64(st, 9, m->ttl);
    sqlite3_bind_int64(st, 10, m->expires_at);
    sqlite3_bind_int(st, 11, m->service_action);
    int rc = ids_bind(st, 12, svc, n_svc);
    sq_text_or_null(st, 13, m->service_title);
    sqlite3_bind_int64(st, 14, m->service_seconds);
    sqlite3_bind_int(st, 15, m->service_role);
    sqlite3_bind_int64(st, 16, (int64_t)from_pts);
    if (key_id) sqlite3_bind_int64(st, 17, key_id);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sq_done(st);
    sqlite3_clear_bindings(st);
    free(body);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

/* ---- shared mutations --------------------------------------------------------------------- */

store_rc service_post(store *s, int64_t chat_id, int64_t actor, const svc_spec *v, int64_t now,
                      store_fanouts *fo)
{
    store_msg m = {.chat_id = chat_id, .from_user = actor, .text = "", .date = now,
                   .kind = v->kind ? v->kind : STORE_MSG_SERVICE, .service_action = v->action,
                   .service_title = (char *)v->title, .service_seconds = v->seconds,
                   .service_role = v->role};
    store_rc r = alloc_msg_id(s, chat_id, now, &m.id);
    if (r != STORE_OK) return r;
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_NEW_MESSAGE, .date = now, .chat_id = chat_id, .msg_id = m.id};
    r = log_to_members(s, chat_id, &lr, f);
    if (r == STORE_OK) r = msg_insert(s, &m, v->users, v->n_users, fo_pts_of(f, actor));
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    store_msg full;
    if (r == STORE_OK) r = msg_load(s, Q_MSG_GET, chat_id, m.id, -1, &full, NULL);
    if (r == STORE_OK) {
        r = fo_attach_msg(f, &full);
        store_msg_free(&full);
    }
    if (r == STORE_OK) fo_drop_if_empty(fo);
    return r;
}

store_rc msgs_delete_everyone(store *s, int64_t chat_id, const int64_t *ids, size_t n,
                              int64_t now, store_fanouts *fo)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = sq_get(s, Q_MSG_DELETE);
        if (!st) return STORE_ERR_INTERNAL;
        sqlite3_bind_int64(st, 1, chat_id);
        sqlite3_bind_int64(st, 2, ids[i]);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    }
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_DELETE_MESSAGES, .date = now, .chat_id = chat_id,
                 .ids = ids, .n_ids = n};
    store_rc r = log_to_members(s, chat_id, &lr, f);
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    if (r == STORE_OK) fo_drop_if_empty(fo);
    return r;
}

/* ---- send ----------------------------------------------------------------------------------- */

/* Looks for an earlier send with the same key; *found = 1 and out filled if there is one. */
static store_rc find_duplicate(store *s, int64_t chat_id, int64_t sender, uint64_t random_id,
                               store_msg *out, uint64_t *pts, int *found)
{
    *found = 0;
    sqlite3_stmt *st = sq_get(s, Q_MSG_BY_RANDOM);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, sender);
    sqlite3_bind_int64(st, 3, (int64_t)random_id);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        r = msg_from_row(s, st, sender, out);
        *pts = (uint64_t)sqlite3_column_int64(st, MSG_COL_FROM_PTS);
        *found = r == STORE_OK;
    }
    sq_done(st);
    return r;
}

static store_rc reply_target_ok(store *s, int64_t chat_id, int64_t reply_to)
{
    if (reply_to == 0) return STORE_OK;
    sqlite3_stmt *st = sq_get(s, Q_MSG_OWNER);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, reply_to);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_ERR_INVALID : STORE_ERR_INTERNAL;
}

/* The new message's writes: id, log entries of every member, the row itself. */
static store_rc send_new(store *s, const chat_access *ca, store_msg *m, uint64_t *sender_pts,
                         store_fanouts *fo)
{
    store_rc r = alloc_msg_id(s, m->chat_id, m->date, &m->id);
    if (r != STORE_OK) return r;
    if (ca->kind == STORE_CHAT_GROUP && m->ttl) m->expires_at = m->date + m->ttl;
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_NEW_MESSAGE, .date = m->date, .chat_id = m->chat_id,
                 .msg_id = m->id};
    r = log_to_members(s, m->chat_id, &lr, f);
    *sender_pts = fo_pts_of(f, m->from_user);
    if (r == STORE_OK) r = msg_insert(s, m, NULL, 0, *sender_pts);
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    if (r == STORE_OK) r = user_name(s, m->from_user, &m->from_username);
    if (r == STORE_OK) r = fo_attach_msg(f, m);
    return r;
}

store_rc store_message_send(store *s, int64_t sender, int64_t chat_id, const char *text,
                            int64_t reply_to, uint32_t ttl, uint64_t random_id, int64_t now,
                            store_msg *out, uint64_t *sender_pts, int *duplicate,
                            store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    *sender_pts = 0;
    *duplicate = 0;
    if (!text || !*text || random_id == 0 || ttl > MAX_TTL || reply_to < 0)
        return STORE_ERR_INVALID;
    size_t mark;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, sender, chat_id, &ca);
    if (r == STORE_OK) r = find_duplicate(s, chat_id, sender, random_id, out, sender_pts,
                                          duplicate);
    if (r == STORE_OK && !*duplicate) {
        r = reply_target_ok(s, chat_id, reply_to);
        out->chat_id = chat_id;
        out->from_user = sender;
        out->date = now;
        out->reply_to = reply_to;
        out->ttl = ttl ? ttl : ca.auto_delete;
        out->random_id = random_id;
        out->kind = STORE_MSG_TEXT;
        if (r == STORE_OK && !(out->text = strdup(text))) r = STORE_ERR_INTERNAL;
        if (r == STORE_OK) r = send_new(s, &ca, out, sender_pts, fo);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) {
        store_msg_free(out);
        *sender_pts = 0;
        *duplicate = 0;
    }
    return r;
}

/* ---- edit and delete ------------------------------------------------------------------------ */

static store_rc msg_owner(store *s, int64_t chat_id, int64_t id, int64_t *from, int *kind)
{
    sqlite3_stmt *st = sq_get(s, Q_MSG_OWNER);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *from = sqlite3_column_int64(st, 0);
        *kind = sqlite3_column_int(st, 1);
    }
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_ERR_NO_MESSAGE
                                                            : STORE_ERR_INTERNAL;
}

/* Replaces the text under a new key; the trigger zeroes the old key, which makes every
 * stale copy of the old ciphertext unreadable. */
static store_rc msg_rewrite(store *s, int64_t chat_id, int64_t id, const char *text, int64_t now)
{
    int64_t key_id;
    unsigned char *body;
    size_t len;
    store_rc r = text_seal(s, text, &key_id, &body, &len);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_MSG_EDIT);
    if (!st) r = STORE_ERR_INTERNAL;
    else {
        sqlite3_bind_int64(st, 1, chat_id);
        sqlite3_bind_int64(st, 2, id);
        sqlite3_bind_blob(st, 3, body, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, key_id);
        if (sqlite3_step(st) != SQLITE_DONE) r = STORE_ERR_INTERNAL;
        sq_done(st);
        sqlite3_clear_bindings(st);
    }
    free(body);
    return r;
}

store_rc store_message_edit(store *s, int64_t editor, int64_t chat_id, int64_t id,
                            const char *text, int64_t now, store_msg *out, uint64_t *editor_pts,
                            store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    *editor_pts = 0;
    if (!text || !*text) return STORE_ERR_INVALID;
    size_t mark;
    chat_access ca;
    int64_t from = 0;
    int kind = 0;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, editor, chat_id, &ca);
    if (r == STORE_OK) r = msg_owner(s, chat_id, id, &from, &kind);
    if (r == STORE_OK && (from != editor || kind != STORE_MSG_TEXT)) r = STORE_ERR_FORBIDDEN;
    if (r == STORE_OK) r = msg_rewrite(s, chat_id, id, text, now);
    store_fanout *f = NULL;
    if (r == STORE_OK && !(f = fo_push(fo))) r = STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_EDIT_MESSAGE, .date = now, .chat_id = chat_id, .msg_id = id};
    if (r == STORE_OK) r = log_to_members(s, chat_id, &lr, f);
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    if (r == STORE_OK) r = msg_load(s, Q_MSG_GET, chat_id, id, editor, out, NULL);
    if (r == STORE_OK) r = fo_attach_msg(f, out);
    if (r == STORE_OK) *editor_pts = fo_pts_of(f, editor);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) {
        store_msg_free(out);
        *editor_pts = 0;
    }
    return r;
}

/* Keeps the ids that exist; FORBIDDEN if deleting one for everyone is not the actor's right. */
static store_rc deletable(store *s, const chat_access *ca, int64_t actor, int64_t chat_id,
                          int for_everyone, int64_t *ids, size_t *n)
{
    int admin = ca->kind == STORE_CHAT_GROUP && ca->role >= STORE_ROLE_ADMIN;
    size_t j = 0;
    for (size_t i = 0; i < *n; i++) {
        int64_t from;
        int kind;
        store_rc r = msg_owner(s, chat_id, ids[i], &from, &kind);
        if (r == STORE_ERR_NO_MESSAGE) continue;
        if (r != STORE_OK) return r;
        if (for_everyone && from != actor && !admin) return STORE_ERR_FORBIDDEN;
        ids[j++] = ids[i];
    }
    *n = j;
    return STORE_OK;
}

static store_rc hide_for(store *s, int64_t actor, int64_t chat_id, const int64_t *ids, size_t n,
                         int64_t now, store_fanouts *fo)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = sq_get(s, Q_HIDE);
        if (!st) return STORE_ERR_INTERNAL;
        sqlite3_bind_int64(st, 1, chat_id);
        sqlite3_bind_int64(st, 2, ids[i]);
        sqlite3_bind_int64(st, 3, actor);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    }
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_HIDE_MESSAGES, .date = now, .chat_id = chat_id, .ids = ids,
                 .n_ids = n};
    store_rc r = log_to_accounts(s, &actor, 1, &lr, f);
    return r == STORE_OK ? fo_fill_shared(f, &lr, NULL) : r;
}

store_rc store_message_delete(store *s, int64_t actor, int64_t chat_id, const int64_t *ids,
                              size_t n, int for_everyone, int64_t now, int64_t **deleted,
                              size_t *n_deleted, uint64_t *actor_pts, store_fanouts *fo)
{
    *deleted = NULL;
    *n_deleted = 0;
    *actor_pts = 0;
    if (!ids || n == 0 || n > MAX_DELETE_IDS) return STORE_ERR_INVALID;
    size_t mark, k = 0;
    int64_t *v = NULL;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, actor, chat_id, &ca);
    if (r == STORE_OK) r = uniq_ids(ids, n, 0, &v, &k);
    if (r == STORE_OK) r = deletable(s, &ca, actor, chat_id, for_everyone, v, &k);
    size_t idx = fo->n;
    if (r == STORE_OK && k == 0) r = current_pts(s, actor, actor_pts);
    else if (r == STORE_OK) {
        r = for_everyone ? msgs_delete_everyone(s, chat_id, v, k, now, fo)
                         : hide_for(s, actor, chat_id, v, k, now, fo);
        if (r == STORE_OK) *actor_pts = fo_pts_of(&fo->items[idx], actor);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK || k == 0) {
        free(v);
        if (r != STORE_OK) *actor_pts = 0;
        return r;
    }
    *deleted = v;
    *n_deleted = k;
    return STORE_OK;
}

/* ---- read ------------------------------------------------------------------------------------ */

/* Who learns about a read: the reader's other devices, the peer of a private chat, or in a
 * group the (current member) senders of the newest 1000 messages just covered. */
static store_rc read_audience(store *s, const chat_access *ca, int64_t reader, int64_t chat_id,
                              int64_t from, int64_t to, int64_t **acc, size_t *n)
{
    *acc = malloc(sizeof **acc);
    if (!*acc) return STORE_ERR_INTERNAL;
    (*acc)[0] = reader;
    *n = 1;
    if (ca->kind == STORE_CHAT_PRIVATE) {
        int64_t *v = realloc(*acc, 2 * sizeof *v);
        if (!v) return STORE_ERR_INTERNAL;
        *acc = v;
        v[(*n)++] = ca->user_a == reader ? ca->user_b : ca->user_a;
        return STORE_OK;
    }
    sqlite3_stmt *st = sq_get(s, Q_READ_SENDERS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    sqlite3_bind_int64(st, 4, reader);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *v = realloc(*acc, (*n + 1) * sizeof *v);
        if (!v) break;
        *acc = v;
        v[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_read(store *s, int64_t reader, int64_t chat_id, int64_t max_id, int64_t now,
                    int64_t *read_max, uint64_t *reader_pts, store_fanouts *fo)
{
    *read_max = 0;
    *reader_pts = 0;
    if (max_id < 0) return STORE_ERR_INVALID;
    size_t mark, n = 0;
    int64_t *acc = NULL;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, reader, chat_id, &ca);
    int64_t target = max_id == 0 || max_id > ca.top_id ? ca.top_id : max_id;
    if (r == STORE_OK && target <= ca.read_inbox) {     /* never moves backwards */
        *read_max = ca.read_inbox;
        r = current_pts(s, reader, reader_pts);
    } else if (r == STORE_OK) {
        *read_max = target;
        sqlite3_stmt *st = sq_get(s, Q_MEMBER_SET_READ);
        if (!st) r = STORE_ERR_INTERNAL;
        else {
            sqlite3_bind_int64(st, 1, chat_id);
            sqlite3_bind_int64(st, 2, reader);
            sqlite3_bind_int64(st, 3, target);
            if (sqlite3_step(st) != SQLITE_DONE) r = STORE_ERR_INTERNAL;
            sq_done(st);
        }
        /* private chats: self-destruct timers of the peer's messages start when read */
        if (r == STORE_OK && ca.kind == STORE_CHAT_PRIVATE && !(st = sq_get(s, Q_TTL_START)))
            r = STORE_ERR_INTERNAL;
        else if (r == STORE_OK && ca.kind == STORE_CHAT_PRIVATE) {
            sqlite3_bind_int64(st, 1, chat_id);
            sqlite3_bind_int64(st, 2, ca.read_inbox);
            sqlite3_bind_int64(st, 3, target);
            sqlite3_bind_int64(st, 4, reader);
            sqlite3_bind_int64(st, 5, now);
            if (sqlite3_step(st) != SQLITE_DONE) r = STORE_ERR_INTERNAL;
            sq_done(st);
        }
        if (r == STORE_OK) r = read_audience(s, &ca, reader, chat_id, ca.read_inbox, target,
                                             &acc, &n);
        store_fanout *f = NULL;
        if (r == STORE_OK && !(f = fo_push(fo))) r = STORE_ERR_INTERNAL;
        logrow lr = {.kind = STORE_UPD_READ, .date = now, .chat_id = chat_id, .by_user = reader,
                     .max_id = target};
        if (r == STORE_OK) r = log_to_accounts(s, acc, n, &lr, f);
        char *name = NULL;
        if (r == STORE_OK) r = user_name(s, reader, &name);
        if (r == STORE_OK) r = fo_fill_shared(f, &lr, name);
        free(name);
        if (r == STORE_OK) *reader_pts = fo_pts_of(f, reader);
    }
    free(acc);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) {
        *read_max = 0;
        *reader_pts = 0;
    }
    return r;
}

/* ---- history and expiry -------------------------------------------------------------------- */

store_rc store_history(store *s, int64_t viewer, int64_t chat_id, int64_t before_id,
                       uint32_t limit, store_msg **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > STORE_MAX_HISTORY || before_id < 0) return STORE_ERR_INVALID;
    chat_access ca;
    store_rc r = chat_access_get(s, viewer, chat_id, &ca);
    if (r != STORE_OK) return r;
    store_msg *v = calloc(limit, sizeof *v);
    if (!v) return STORE_ERR_INTERNAL;
    sqlite3_stmt *st = sq_get(s, Q_HISTORY);
    if (!st) {
        free(v);
        return STORE_ERR_INTERNAL;
    }
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, before_id ? before_id : INT64_MAX);
    sqlite3_bind_int64(st, 3, viewer);
    sqlite3_bind_int64(st, 4, limit);
    size_t k = 0;
    int rc = SQLITE_DONE;
    /* newest first from the index; stored oldest first */
    while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = msg_from_row(s, st, viewer, &v[limit - 1 - k]);
        if (r != STORE_OK) break;
        k++;
    }
    sq_done(st);
    if (r == STORE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) r = STORE_ERR_INTERNAL;
    if (r == STORE_OK && k < limit) memmove(v, v + (limit - k), k * sizeof *v);
    if (r != STORE_OK) {
        for (size_t i = 0; i < k; i++) store_msg_free(&v[limit - 1 - i]);
        free(v);
        return r;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}

typedef struct { int64_t chat_id, id; } msg_key;

static int cmp_key(const void *a, const void *b)
{
    const msg_key *x = a, *y = b;
    if (x->chat_id != y->chat_id) return (x->chat_id > y->chat_id) - (x->chat_id < y->chat_id);
    return (x->id > y->id) - (x->id < y->id);
}

static store_rc expire_due(store *s, int64_t now, size_t max, msg_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = sq_get(s, Q_EXPIRE_DUE);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        msg_key *v = realloc(*out, (*n + 1) * sizeof *v);
        if (!v) break;
        *out = v;
        v[*n].chat_id = sqlite3_column_int64(st, 0);
        v[(*n)++].id = sqlite3_column_int64(st, 1);
    }
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_expire(store *s, int64_t now, size_t max, size_t *n_expired, int64_t *next_expiry,
                      store_fanouts *fo)
{
    *n_expired = 0;
    *next_expiry = 0;
    size_t mark, n = 0;
    msg_key *due = NULL;
    int64_t *ids = NULL;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = max ? expire_due(s, now, max, &due, &n) : STORE_OK;
    if (r == STORE_OK && n) {
        qsort(due, n, sizeof *due, cmp_key);
        if (!(ids = malloc(n * sizeof *ids))) r = STORE_ERR_INTERNAL;
    }
    /* one DELETE_MESSAGES fan-out per chat */
    for (size_t i = 0; r == STORE_OK && i < n;) {
        size_t j = i, k = 0;
        while (j < n && due[j].chat_id == due[i].chat_id) ids[k++] = due[j++].id;
        r = msgs_delete_everyone(s, due[i].chat_id, ids, k, now, fo);
        i = j;
    }
    sqlite3_stmt *st = r == STORE_OK ? sq_get(s, Q_EXPIRE_NEXT) : NULL;
    if (r == STORE_OK && !st) r = STORE_ERR_INTERNAL;
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) *next_expiry = sqlite3_column_int64(st, 0);
        else r = STORE_ERR_INTERNAL;
        sq_done(st);
    }
    free(due);
    free(ids);
    r = mut_end(s, r, fo, mark);
    if (r == STORE_OK) *n_expired = n;
    else *next_expiry = 0;
    return r;
}

/* ---- difference ---------------------------------------------------------------------------- */

/* Membership of the account in chat_id, remembered across consecutive log rows. */
typedef struct {
    int64_t chat_id;
    int member;
} member_memo;

static store_rc is_member(store *s, int64_t user, int64_t chat_id, member_memo *mm)
{
    if (mm->chat_id == chat_id) return STORE_OK;
    chat_access ca;
    store_rc r = chat_access_get(s, user, chat_id, &ca);
    if (r != STORE_OK && r != STORE_ERR_NO_CHAT) return r;
    mm->chat_id = chat_id;
    mm->member = r == STORE_OK;
    return STORE_OK;
}

/* Rebuilds one log row for the account. *keep = 0: the entry's content is gone (deleted
 * message, hidden message, a chat the account has left) and only its pts counts. */
static store_rc update_from_row(store *s, int64_t user, sqlite3_stmt *st, member_memo *mm,
                                store_update *u, int *keep)
{
    memset(u, 0, sizeof *u);
    *keep = 1;
    u->pts = (uint64_t)sqlite3_column_int64(st, 0);
    u->date = sqlite3_column_int64(st, 1);
    u->kind = (store_upd_kind)sqlite3_column_int(st, 2);
    u->chat_id = sqlite3_column_int64(st, 3);
    int64_t msg_id = sqlite3_column_int64(st, 4);
    store_rc r = STORE_OK;
    switch (u->kind) {
    case STORE_UPD_NEW_MESSAGE:
    case STORE_UPD_EDIT_MESSAGE:
    case STORE_UPD_CHAT:
    case STORE_UPD_READ:
        r = is_member(s, user, u->chat_id, mm);
        if (r != STORE_OK || !mm->member) {
            *keep = 0;
            return r;
        }
        break;
    default:
        break;
    }
    switch (u->kind) {
    case STORE_UPD_NEW_MESSAGE:
    case STORE_UPD_EDIT_MESSAGE:
        if (!(u->msg = calloc(1, sizeof *u->msg))) return STORE_ERR_INTERNAL;
        r = msg_load(s, Q_MSG_VISIBLE, u->chat_id, msg_id, user, u->msg, NULL);
        break;
    case STORE_UPD_CHAT:
        if (!(u->chat = calloc(1, sizeof *u->chat))) return STORE_ERR_INTERNAL;
        r = chat_build(s, user, u->chat_id, u->chat);
        break;
    case STORE_UPD_READ:
        u->by_user = sqlite3_column_int64(st, 5);
        u->max_id = sqlite3_column_int64(st, 6);
        r = user_name(s, u->by_user, &u->by_username);
        break;
    case STORE_UPD_DELETE_MESSAGES:
    case STORE_UPD_HIDE_MESSAGES:
        r = ids_read(st, 8, &u->ids, &u->n_ids) ? STORE_ERR_INTERNAL : STORE_OK;
        break;
    case STORE_UPD_SESSION_ENDED:
        u->session_id = sqlite3_column_int64(st, 7);
        break;
    default:
        break;
    }
    if (r == STORE_ERR_NO_MESSAGE || r == STORE_ERR_NO_CHAT) {
        *keep = 0;
        r = STORE_OK;
    }
    if (!*keep || r != STORE_OK) store_update_free(u);
    return r;
}

store_rc store_get_difference(store *s, int64_t user_id, uint64_t since, uint32_t limit,
                              store_update **out, size_t *n, uint64_t *pts, int *more)
{
    *out = NULL;
    *n = 0;
    *pts = 0;
    *more = 0;
    if (limit == 0 || limit > STORE_MAX_DIFFERENCE || since > INT64_MAX) return STORE_ERR_INVALID;
    uint64_t cur;
    store_rc r = current_pts(s, user_id, &cur);
    if (r != STORE_OK) return r;
    /* Skipped entries cost a step each; bound the scan so one call stays cheap even after
     * mass deletions, and let the client page on with *more. */
    size_t scan_cap = (size_t)limit * 4 + 64, scanned = 0, k = 0;
    store_update *v = calloc(limit, sizeof *v);
    if (!v) return STORE_ERR_INTERNAL;
    sqlite3_stmt *st = sq_get(s, Q_DIFF);
    if (!st) {
        free(v);
        return STORE_ERR_INTERNAL;
    }
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, (int64_t)since);
    sqlite3_bind_int64(st, 3, (int64_t)scan_cap + 1);
    member_memo mm = {.chat_id = 0};
    uint64_t last = since;
    size_t text = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == limit || scanned == scan_cap || text >= STORE_DIFF_TEXT_BYTES) {
            *more = 1;
            break;
        }
        scanned++;
        int keep;
        r = update_from_row(s, user_id, st, &mm, &v[k], &keep);
        if (r != STORE_OK) break;
        last = (uint64_t)sqlite3_column_int64(st, 0);
        if (keep && v[k].msg && v[k].msg->text) text += strlen(v[k].msg->text);
        if (keep) k++;
    }
    sq_done(st);
    if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
    if (r != STORE_OK) {
        store_updates_free(v, k);
        *more = 0;
        return r;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    *pts = *more ? last : cur;
    return STORE_OK;
}
