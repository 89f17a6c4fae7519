/*
 * store_sqlite_calls.c: what the SQLite store keeps about calls (see store.h, "calls"): the
 * history entry a finished call leaves in its private chat, and the per-account "always
 * relay calls" setting (table call_settings, migration 2 in store_sqlite.c).
 *
 * Call state itself (ringing, who is bound to which connection) is never stored: it lives in
 * memory on the network thread (call.c) and ends with the process.
 */
#include "store_sqlite.h"

static store_rc record(store *s, int64_t chat_id, int64_t caller, int outcome, uint32_t duration,
                       int video, int private_only, int64_t now, store_fanouts *fo)
{
    size_t mark;
    chat_access ca;
    if (mut_begin(s, fo, &mark) != STORE_OK) return STORE_ERR_INTERNAL;
    store_rc r = chat_access_get(s, caller, chat_id, &ca);
    if (r == STORE_OK && private_only && ca.kind != STORE_CHAT_PRIVATE) r = STORE_ERR_NO_CHAT;
    svc_spec v = {.action = outcome, .seconds = duration, .role = video ? 1 : 0,
                  .kind = STORE_MSG_CALL};
    if (r == STORE_OK) r = service_post(s, chat_id, caller, &v, now, fo);
    return mut_end(s, r, fo, mark);
}

store_rc store_call_record(store *s, int64_t chat_id, int64_t caller, int outcome,
                           uint32_t duration, int video, int64_t now, store_fanouts *fo)
{
    return record(s, chat_id, caller, outcome, duration, video, 1, now, fo);
}

store_rc store_group_call_record(store *s, int64_t chat_id, int64_t from, int outcome,
                                 uint32_t duration, int64_t now, store_fanouts *fo)
{
    return record(s, chat_id, from, outcome, duration, 1, 0, now, fo);
}

store_rc store_call_settings_get(store *s, int64_t user_id, int *always_relay)
{
    sqlite3_stmt *st = sq_get(s, Q_CALL_SETTINGS_GET);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    int rc = sqlite3_step(st);
    *always_relay = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) != 0 : 0;
    sq_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}

store_rc store_call_settings_set(store *s, int64_t user_id, int always_relay)
{
    sqlite3_stmt *st = sq_get(s, Q_CALL_SETTINGS_SET);
    if (!st) return STORE_ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int(st, 2, always_relay ? 1 : 0);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR_INTERNAL;
}
