/*
 * store_sqlite_chats.c: chats of the SQLite store backend: private chats (get-or-create),
 * groups and their membership, per-viewer chat views. See store.h for the contract and
 * store_sqlite.c for the schema.
 *
 * Group rules enforced here:
 *   - add / remove / rename / auto-delete: admins and the creator; nobody removes the
 *     creator, an admin removes only plain members; roles change only by the creator.
 *   - leave: the creator hands over to the oldest admin, else the oldest member; the last
 *     member leaving leaves an empty group behind. Private chats cannot be left.
 *   - every change is a SERVICE message (NEW_MESSAGE to the members) plus CHAT updates built
 *     for each member; accounts that lose access get CHAT_REMOVED and nothing afterwards.
 * Anything about a chat the caller is not a member of is STORE_ERR_NO_CHAT.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TTL 31536000u

static void access_from_row(sqlite3_stmt *st, chat_access *ca)
{
    ca->kind = sqlite3_column_int(st, 0);
    ca->member_count = (uint32_t)sqlite3_column_int64(st, 1);
    ca->auto_delete = (uint32_t)sqlite3_column_int64(st, 2);
    ca->user_a = sqlite3_column_int64(st, 3);
    ca->user_b = sqlite3_column_int64(st, 4);
    ca->top_id = sqlite3_column_int64(st, 5);
    ca->role = sqlite3_column_int(st, 6);
    ca->read_inbox = sqlite3_column_int64(st, 7);
    ca->created = sqlite3_column_int64(st, 8);
}

store_rc chat_access_get(store *s, int64_t user, int64_t chat_id, chat_access *ca)
{
    memset(ca, 0, sizeof *ca);
    sqlite3_stmt *st = sq_get(s, Q_ACCESS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) access_from_row(st, ca);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_ERR_NO_CHAT : STORE_ERR_INTERNAL;
}

/* One-integer query helper: binds ?1 = a, ?2 = b (if used), reads column 0. */
static store_rc query_i64(store *s, int q, int64_t a, int64_t b, int64_t *v)
{
    sqlite3_stmt *st = sq_get(s, q);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_ERR_INTERNAL;
}

/* The newest message the viewer may see (not hidden for them), or NULL. */
static store_rc last_visible(store *s, int64_t viewer, int64_t chat_id, store_msg **out)
{
    *out = NULL;
    sqlite3_stmt *st = sq_get(s, Q_HISTORY);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, INT64_MAX);
    sqlite3_bind_int64(st, 3, viewer);
    sqlite3_bind_int64(st, 4, 1);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        store_msg *m = calloc(1, sizeof *m);
        r = m ? msg_from_row(s, st, viewer, m) : STORE_ERR_INTERNAL;
        if (r == STORE_OK) *out = m;
        else free(m);
    }
    sq_done(st);
    return r;
}

store_rc chat_build(store *s, int64_t viewer, int64_t chat_id, store_chat *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sq_get(s, Q_ACCESS);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, viewer);
    chat_access ca;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        access_from_row(st, &ca);
        out->title = sq_strdup_col(st, 9);
    }
    sq_done(st);
    if (rc == SQLITE_DONE) return STORE_ERR_NO_CHAT;
    if (rc != SQLITE_ROW || !out->title) goto fail;
    out->id = chat_id;
    out->kind = ca.kind;
    out->member_count = ca.member_count;
    out->auto_delete = ca.auto_delete;
    out->read_inbox_max_id = ca.read_inbox;
    out->my_role = ca.role;
    out->created = ca.created;
    if (ca.kind == STORE_CHAT_PRIVATE) {
        out->peer_user_id = ca.user_a == viewer ? ca.user_b : ca.user_a;
        free(out->title);
        if (user_name(s, out->peer_user_id, &out->title) != STORE_OK) goto fail;
    }
    int64_t v = 0;
    if (query_i64(s, Q_CHAT_MAX_ID, chat_id, 0, &v) != STORE_OK) goto fail;
    out->top_message_id = v;
    if (query_i64(s, Q_READ_OUTBOX, chat_id, viewer, &v) != STORE_OK) goto fail;
    out->read_outbox_max_id = v;
    st = sq_get(s, Q_UNREAD);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, ca.read_inbox);
    sqlite3_bind_int64(st, 3, viewer);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out->unread = (uint32_t)sqlite3_column_int64(st, 0);
    sq_done(st);
    if (rc != SQLITE_ROW) goto fail;
    if (last_visible(s, viewer, chat_id, &out->last_message) != STORE_OK) goto fail;
    return STORE_OK;
fail:
    store_chat_free(out);
    return STORE_ERR_INTERNAL;
}

/* ---- small writers ---------------------------------------------------------------------- */

static store_rc run_i64(store *s, int q, int64_t a, int64_t b, int64_t c, int64_t d)
{
    sqlite3_stmt *st = sq_get(s, q);
    if (!st) return STORE_ERR_INTERNAL;
    int np = sqlite3_bind_parameter_count(st);
    int64_t v[4] = {a, b, c, d};
    for (int i = 0; i < np && i < 4; i++) sqlite3_bind_int64(st, i + 1, v[i]);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

static store_rc member_role(store *s, int64_t chat_id, int64_t user, int *role)
{
    *role = STORE_ROLE_NONE;
    sqlite3_stmt *st = sq_get(s, Q_MEMBER_ROLE);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    sqlite3_bind_int64(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *role = sqlite3_column_int(st, 0);
    sq_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

static store_rc users_exist(store *s, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t pts;
        store_rc r = current_pts(s, ids[i], &pts);
        if (r != STORE_OK) return r;
    }
    return STORE_OK;
}

/* Appends a CHAT update for chat_id to the given accounts (acc == NULL: every member) and
 * remembers its position in fo; the per-account views are built by finish_chat_fanout once
 * the whole change (including its service message) is in place. */
static store_rc chat_fanout(store *s, int64_t chat_id, const int64_t *acc, size_t n, int64_t now,
                            store_fanouts *fo, size_t *idx)
{
    *idx = fo->n;
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_CHAT, .date = now, .chat_id = chat_id};
    store_rc r = acc ? log_to_accounts(s, acc, n, &lr, f) : log_to_members(s, chat_id, &lr, f);
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    return r;
}

static store_rc finish_chat_fanout(store *s, store_fanouts *fo, size_t idx)
{
    store_rc r = fo_build_chats(s, &fo->items[idx]);
    if (r != STORE_OK || fo->items[idx].n_accounts) return r;
    /* nobody to tell (an emptied group): drop it, keeping later items in order */
    store_fanout tmp = fo->items[idx];
    memmove(&fo->items[idx], &fo->items[idx + 1], (fo->n - idx - 1) * sizeof tmp);
    fo->items[fo->n - 1] = tmp;
    fo_drop_if_empty(fo);
    return STORE_OK;
}

static store_rc chat_removed_fanout(store *s, int64_t chat_id, const int64_t *acc, size_t n,
                                    int64_t now, store_fanouts *fo)
{
    store_fanout *f = fo_push(fo);
    if (!f) return STORE_ERR_INTERNAL;
    logrow lr = {.kind = STORE_UPD_CHAT_REMOVED, .date = now, .chat_id = chat_id};
    store_rc r = log_to_accounts(s, acc, n, &lr, f);
    if (r == STORE_OK) r = fo_fill_shared(f, &lr, NULL);
    return r;
}

static store_rc add_members(store *s, int64_t chat_id, const int64_t *ids, size_t n, int role,
                            int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        store_rc r = run_i64(s, Q_MEMBER_INSERT, chat_id, ids[i], role, now);
        if (r != STORE_OK) return r;
    }
    return n ? run_i64(s, Q_CHAT_COUNT_ADJ, chat_id, (int64_t)n, 0, 0) : STORE_OK;
}

static store_rc insert_chat(store *s, int kind, const char *title, int64_t now, int64_t a,
                            int64_t b, int64_t *chat_id)
{
    sqlite3_stmt *st = sq_get(s, Q_CHAT_INSERT);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, 0);       /* add_members counts */
    if (a) sqlite3_bind_int64(st, 5, a);
    if (b) sqlite3_bind_int64(st, 6, b);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_DONE) return STORE_ERR_INTERNAL;
    *chat_id = sqlite3_last_insert_rowid(s->db);
    return STORE_OK;
}

/* ---- private chats ------------------------------------------------------------------------ */

store_rc store_private_chat(store *s, int64_t me, int64_t peer, int64_t now, store_chat *out,
                            store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (me == peer) return STORE_ERR_INVALID;
    int64_t pair[2] = {me, peer};
    store_rc r = users_exist(s, pair, 2);
    if (r != STORE_OK) return r;
    int64_t a = me < peer ? me : peer, b = me < peer ? peer : me, chat_id = 0;
    size_t mark, idx;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    sqlite3_stmt *st = sq_get(s, Q_PRIVATE_FIND);
    if (!st) r = STORE_ERR_INTERNAL;
    else {
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) chat_id = sqlite3_column_int64(st, 0);
        else if (rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
        sq_done(st);
    }
    if (r == STORE_OK && !chat_id) {
        r = insert_chat(s, STORE_CHAT_PRIVATE, "", now, a, b, &chat_id);
        if (r == STORE_OK) r = add_members(s, chat_id, pair, 2, STORE_ROLE_MEMBER, now);
        if (r == STORE_OK) r = chat_fanout(s, chat_id, pair, 2, now, fo, &idx);
        if (r == STORE_OK) r = finish_chat_fanout(s, fo, idx);
    }
    if (r == STORE_OK) r = chat_build(s, me, chat_id, out);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

/* ---- groups --------------------------------------------------------------------------------- */

/* Common tail of every group change: service message, CHAT views, the actor's view. */
static store_rc group_announce(store *s, int64_t actor, int64_t chat_id, const svc_spec *v,
                               const int64_t *chat_to, size_t n_chat_to, int64_t now,
                               store_chat *out, store_fanouts *fo)
{
    size_t idx;
    store_rc r = chat_fanout(s, chat_id, chat_to, n_chat_to, now, fo, &idx);
    if (r == STORE_OK) r = service_post(s, chat_id, actor, v, now, fo);
    if (r == STORE_OK) r = finish_chat_fanout(s, fo, idx);
    if (r == STORE_OK && out) r = chat_build(s, actor, chat_id, out);
    return r;
}

store_rc store_group_create(store *s, int64_t creator, const char *title, const int64_t *members,
                            size_t n_members, int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (!title || !*title || (n_members && !members)) return STORE_ERR_INVALID;
    if (n_members > 16 * STORE_MAX_GROUP_MEMBERS) return STORE_ERR_LIMIT;
    int64_t *uniq = NULL;
    size_t k = 0, mark;
    store_rc r = users_exist(s, &creator, 1);
    if (r == STORE_OK) r = uniq_ids(members, n_members, creator, &uniq, &k);
    if (r == STORE_OK && k + 1 > STORE_MAX_GROUP_MEMBERS) r = STORE_ERR_LIMIT;
    if (r == STORE_OK) r = users_exist(s, uniq, k);
    if (r != STORE_OK) {
        free(uniq);
        return r;
    }
    if (mut_begin(s, fo, &mark) != STORE_OK) {
        free(uniq);
        return STORE_ERR_INTERNAL;
    }
    int64_t chat_id = 0;
    r = insert_chat(s, STORE_CHAT_GROUP, title, now, 0, 0, &chat_id);
    if (r == STORE_OK) r = add_members(s, chat_id, &creator, 1, STORE_ROLE_CREATOR, now);
    if (r == STORE_OK) r = add_members(s, chat_id, uniq, k, STORE_ROLE_MEMBER, now);
    svc_spec v = {.action = STORE_SVC_GROUP_CREATED, .title = title};
    if (r == STORE_OK) r = group_announce(s, creator, chat_id, &v, NULL, 0, now, out, fo);
    free(uniq);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

/* Membership and role checks shared by the admin operations. */
static store_rc group_admin_access(store *s, int64_t actor, int64_t chat_id, chat_access *ca)
{
    store_rc r = chat_access_get(s, actor, chat_id, ca);
    if (r != STORE_OK) return r;
    if (ca->kind != STORE_CHAT_GROUP) return STORE_ERR_INVALID;
    return ca->role >= STORE_ROLE_ADMIN ? STORE_OK : STORE_ERR_FORBIDDEN;
}

/* Keeps the users of ids[0..*n) that are not members yet. */
static store_rc drop_members(store *s, int64_t chat_id, int64_t *ids, size_t *n)
{
    size_t j = 0;
    for (size_t i = 0; i < *n; i++) {
        int role;
        store_rc r = member_role(s, chat_id, ids[i], &role);
        if (r != STORE_OK) return r;
        if (role == STORE_ROLE_NONE) ids[j++] = ids[i];
    }
    *n = j;
    return STORE_OK;
}

store_rc store_group_add(store *s, int64_t actor, int64_t chat_id, const int64_t *users, size_t n,
                         int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || !users) return STORE_ERR_INVALID;
    if (n > 16 * STORE_MAX_GROUP_MEMBERS) return STORE_ERR_LIMIT;
    size_t mark, k = 0;
    int64_t *add = NULL;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = group_admin_access(s, actor, chat_id, &ca);
    if (r == STORE_OK) r = uniq_ids(users, n, actor, &add, &k);
    if (r == STORE_OK) r = users_exist(s, add, k);
    if (r == STORE_OK) r = drop_members(s, chat_id, add, &k);
    if (r == STORE_OK && ca.member_count + k > STORE_MAX_GROUP_MEMBERS) r = STORE_ERR_LIMIT;
    if (r == STORE_OK && k == 0) r = chat_build(s, actor, chat_id, out);
    else if (r == STORE_OK) {
        r = add_members(s, chat_id, add, k, STORE_ROLE_MEMBER, now);
        svc_spec v = {.action = STORE_SVC_MEMBERS_ADDED, .users = add, .n_users = k};
        if (r == STORE_OK) r = group_announce(s, actor, chat_id, &v, NULL, 0, now, out, fo);
    }
    free(add);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

/* Checks every target before anything changes; keeps only current members in rm. */
static store_rc removable(store *s, int64_t chat_id, const chat_access *ca, int64_t actor,
                          int64_t *rm, size_t *n)
{
    store_rc r = users_exist(s, rm, *n);
    size_t j = 0;
    for (size_t i = 0; r == STORE_OK && i < *n; i++) {
        int role;
        if (rm[i] == actor) return STORE_ERR_INVALID;      /* that is store_group_leave */
        r = member_role(s, chat_id, rm[i], &role);
        if (r != STORE_OK || role == STORE_ROLE_NONE) continue;
        if (role == STORE_ROLE_CREATOR) return STORE_ERR_FORBIDDEN;
        if (role == STORE_ROLE_ADMIN && ca->role != STORE_ROLE_CREATOR) return STORE_ERR_FORBIDDEN;
        rm[j++] = rm[i];
    }
    *n = j;
    return r;
}

store_rc store_group_remove(store *s, int64_t actor, int64_t chat_id, const int64_t *users,
                            size_t n, int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || !users) return STORE_ERR_INVALID;
    if (n > 16 * STORE_MAX_GROUP_MEMBERS) return STORE_ERR_LIMIT;
    size_t mark, k = 0, idx;
    int64_t *rm = NULL;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = group_admin_access(s, actor, chat_id, &ca);
    if (r == STORE_OK) r = uniq_ids(users, n, 0, &rm, &k);
    if (r == STORE_OK) r = removable(s, chat_id, &ca, actor, rm, &k);
    for (size_t i = 0; r == STORE_OK && i < k; i++)
        r = run_i64(s, Q_MEMBER_DELETE, chat_id, rm[i], 0, 0);
    if (r == STORE_OK && k) r = run_i64(s, Q_CHAT_COUNT_ADJ, chat_id, -(int64_t)k, 0, 0);
    if (r == STORE_OK && k) r = chat_removed_fanout(s, chat_id, rm, k, now, fo);
    if (r == STORE_OK && k) r = chat_fanout(s, chat_id, NULL, 0, now, fo, &idx);
    for (size_t i = 0; r == STORE_OK && i < k; i++) {
        svc_spec v = {.action = STORE_SVC_MEMBER_REMOVED, .users = &rm[i], .n_users = 1};
        r = service_post(s, chat_id, actor, &v, now, fo);
    }
    if (r == STORE_OK && k) r = finish_chat_fanout(s, fo, idx);
    if (r == STORE_OK) r = chat_build(s, actor, chat_id, out);
    free(rm);
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

store_rc store_group_leave(store *s, int64_t actor, int64_t chat_id, int64_t now,
                           store_fanouts *fo)
{
    size_t mark;
    chat_access ca;
    int64_t heir = 0;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, actor, chat_id, &ca);
    if (r == STORE_OK && ca.kind != STORE_CHAT_GROUP) r = STORE_ERR_INVALID;
    if (r == STORE_OK && ca.role == STORE_ROLE_CREATOR) {
        sqlite3_stmt *st = sq_get(s, Q_SUCCESSOR);
        if (!st) r = STORE_ERR_INTERNAL;
        else {
            sqlite3_bind_int64(st, 1, chat_id);
            sqlite3_bind_int64(st, 2, actor);
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) heir = sqlite3_column_int64(st, 0);
            else if (rc != SQLITE_DONE) r = STORE_ERR_INTERNAL;
            sq_done(st);
        }
        if (r == STORE_OK && heir)
            r = run_i64(s, Q_MEMBER_SET_ROLE, chat_id, heir, STORE_ROLE_CREATOR, 0);
    }
    if (r == STORE_OK) r = run_i64(s, Q_MEMBER_DELETE, chat_id, actor, 0, 0);
    if (r == STORE_OK) r = run_i64(s, Q_CHAT_COUNT_ADJ, chat_id, -1, 0, 0);
    if (r == STORE_OK) r = chat_removed_fanout(s, chat_id, &actor, 1, now, fo);
    size_t idx;
    if (r == STORE_OK) r = chat_fanout(s, chat_id, NULL, 0, now, fo, &idx);
    svc_spec left = {.action = STORE_SVC_MEMBER_LEFT};
    if (r == STORE_OK) r = service_post(s, chat_id, actor, &left, now, fo);
    svc_spec handover = {.action = STORE_SVC_ROLE_CHANGED, .users = &heir, .n_users = 1,
                         .role = STORE_ROLE_CREATOR};
    if (r == STORE_OK && heir) r = service_post(s, chat_id, actor, &handover, now, fo);
    if (r == STORE_OK) r = finish_chat_fanout(s, fo, idx);
    return mut_end(s, r, fo, mark);
}

store_rc store_group_rename(store *s, int64_t actor, int64_t chat_id, const char *title,
                            int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (!title || !*title) return STORE_ERR_INVALID;
    size_t mark;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = group_admin_access(s, actor, chat_id, &ca);
    if (r == STORE_OK) r = chat_build(s, actor, chat_id, out);
    if (r == STORE_OK && strcmp(out->title, title) != 0) {
        store_chat_free(out);
        sqlite3_stmt *st = sq_get(s, Q_CHAT_SET_TITLE);
        if (!st) r = STORE_ERR_INTERNAL;
        else {
            sqlite3_bind_int64(st, 1, chat_id);
            sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE) r = STORE_ERR_INTERNAL;
            sq_done(st);
        }
        svc_spec v = {.action = STORE_SVC_TITLE_CHANGED, .title = title};
        if (r == STORE_OK) r = group_announce(s, actor, chat_id, &v, NULL, 0, now, out, fo);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

store_rc store_group_set_role(store *s, int64_t actor, int64_t chat_id, int64_t user, int role,
                              int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (role != STORE_ROLE_MEMBER && role != STORE_ROLE_ADMIN) return STORE_ERR_INVALID;
    size_t mark;
    chat_access ca;
    int cur = STORE_ROLE_NONE;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = group_admin_access(s, actor, chat_id, &ca);
    if (r == STORE_OK && ca.role != STORE_ROLE_CREATOR) r = STORE_ERR_FORBIDDEN;
    if (r == STORE_OK && user == actor) r = STORE_ERR_INVALID;
    if (r == STORE_OK) r = member_role(s, chat_id, user, &cur);
    if (r == STORE_OK && cur == STORE_ROLE_NONE) r = STORE_ERR_NO_USER;
    if (r == STORE_OK && cur == role) r = chat_build(s, actor, chat_id, out);
    else if (r == STORE_OK) {
        r = run_i64(s, Q_MEMBER_SET_ROLE, chat_id, user, role, 0);
        svc_spec v = {.action = STORE_SVC_ROLE_CHANGED, .users = &user, .n_users = 1,
                      .role = role};
        /* only the target's own view (my_role) changed */
        if (r == STORE_OK) r = group_announce(s, actor, chat_id, &v, &user, 1, now, out, fo);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

store_rc store_chat_set_autodelete(store *s, int64_t actor, int64_t chat_id, uint32_t seconds,
                                   int64_t now, store_chat *out, store_fanouts *fo)
{
    memset(out, 0, sizeof *out);
    if (seconds > MAX_TTL) return STORE_ERR_INVALID;
    size_t mark;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, actor, chat_id, &ca);
    /* in a private chat either side may set the timer; in a group only admins */
    if (r == STORE_OK && ca.kind == STORE_CHAT_GROUP && ca.role < STORE_ROLE_ADMIN)
        r = STORE_ERR_FORBIDDEN;
    if (r == STORE_OK && ca.auto_delete == seconds) r = chat_build(s, actor, chat_id, out);
    else if (r == STORE_OK) {
        r = run_i64(s, Q_CHAT_SET_AUTODELETE, chat_id, seconds, 0, 0);
        svc_spec v = {.action = STORE_SVC_AUTODELETE_CHANGED, .seconds = seconds};
        if (r == STORE_OK) r = group_announce(s, actor, chat_id, &v, NULL, 0, now, out, fo);
    }
    r = mut_end(s, r, fo, mark);
    if (r != STORE_OK) store_chat_free(out);
    return r;
}

/* ---- reads ------------------------------------------------------------------------------------ */

store_rc store_chat_get(store *s, int64_t viewer, int64_t chat_id, store_chat *out)
{
    return chat_build(s, viewer, chat_id, out);
}

store_rc store_chat_list(store *s, int64_t viewer, store_chat **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int64_t *ids = NULL;
    size_t k = 0;
    sqlite3_stmt *st = sq_get(s, Q_CHAT_LIST);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, viewer);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *v = realloc(ids, (k + 1) * sizeof *v);
        if (!v) break;
        ids = v;
        ids[k++] = sqlite3_column_int64(st, 0);
    }
    sq_done(st);
    store_rc r = rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
    store_chat *v = NULL;
    if (r == STORE_OK && k && !(v = calloc(k, sizeof *v))) r = STORE_ERR_INTERNAL;
    size_t built = 0;
    for (; r == STORE_OK && built < k; built++) {
        r = chat_build(s, viewer, ids[built], &v[built]);
    }
    free(ids);
    if (r != STORE_OK) {
        store_chats_free(v, k);
        return r;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}

store_rc store_chat_members(store *s, int64_t viewer, int64_t chat_id, store_member **out,
                            size_t *n)
{
    *out = NULL;
    *n = 0;
    chat_access ca;
    store_rc r = chat_access_get(s, viewer, chat_id, &ca);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = sq_get(s, Q_MEMBER_LIST);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, chat_id);
    store_member *v = NULL;
    size_t k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_member *nv = realloc(v, (k + 1) * sizeof *nv);
        if (!nv) break;
        v = nv;
        v[k].user_id = sqlite3_column_int64(st, 0);
        v[k].username = sq_strdup_col(st, 1);
        v[k].role = sqlite3_column_int(st, 2);
        v[k].joined = sqlite3_column_int64(st, 3);
        if (!v[k++].username) break;
    }
    sq_done(st);
    if (rc != SQLITE_DONE) {
        store_members_free(v, k);
        return STORE_ERR_INTERNAL;
    }
    *out = v;
    *n = k;
    return STORE_OK;
}
