/*
 * test_server_store.c: the SQLite store backend (store.h) against real database files in
 * temporary directories: accounts, sessions, chats and groups with their permission rules,
 * messages (idempotent sends, edits, deletes, hide-for-me, TTL), read markers and unread
 * counts, the update log and its difference, batches/savepoints, migration on re-open, and
 * that deleted or edited text leaves no bytes in parley.db / -wal / -shm after store_scrub.
 * Ends with a rough throughput figure for the send path (printed, not asserted).
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_sqlite.h"    /* ckpt_set_cycle: a short WAL cycle for the checkpoint test */
#include "unit.h"
#include "store_fixture.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t pts_of(store *s, int64_t user)
{
    uint64_t p = 0;
    CHECK_EQ_INT(store_current_pts(s, user, &p), STORE_OK);
    return p;
}

/* Number of fan-outs of `kind` (shared or per account) reaching `account` (0: anyone). */
static int fo_count(const store_fanouts *fo, store_upd_kind kind, int64_t account)
{
    int c = 0;
    for (size_t i = 0; i < fo->n; i++) {
        const store_fanout *f = &fo->items[i];
        store_upd_kind k = f->per_account ? f->per_account[0].kind : f->update.kind;
        if (k != kind) continue;
        for (size_t j = 0; j < f->n_accounts; j++)
            if (!account || f->accounts[j] == account) c++;
    }
    return c;
}

static int64_t chat_private(store *s, int64_t a, int64_t b)
{
    store_chat c;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_private_chat(s, a, b, 1000, &c, &fo), STORE_OK);
    int64_t id = c.id;
    store_chat_free(&c);
    store_fanouts_free(&fo);
    return id;
}

static int64_t send_text(store *s, int64_t from, int64_t chat, const char *text, uint32_t ttl,
                         uint64_t rnd, int64_t now)
{
    store_msg m;
    uint64_t p;
    int dup;
    store_fanouts fo = {0};
    store_rc rc = store_message_send(s, from, chat, text, 0, ttl, rnd, now, &m, &p, &dup, &fo);
    CHECK_EQ_INT(rc, STORE_OK);
    int64_t id = m.id;
    store_msg_free(&m);
    store_fanouts_free(&fo);
    return rc == STORE_OK ? id : -1;
}

static store_rc send_rc(store *s, int64_t from, int64_t chat, const char *text, int64_t reply,
                        uint64_t rnd)
{
    store_msg m;
    uint64_t p;
    int dup;
    store_fanouts fo = {0};
    store_rc rc = store_message_send(s, from, chat, text, reply, 0, rnd, 2000, &m, &p, &dup, &fo);
    store_msg_free(&m);
    store_fanouts_free(&fo);
    return rc;
}

static int64_t group_of(store *s, int64_t creator, const char *title, const int64_t *m, size_t n)
{
    store_chat c;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_group_create(s, creator, title, m, n, 1000, &c, &fo), STORE_OK);
    int64_t id = c.id;
    store_chat_free(&c);
    store_fanouts_free(&fo);
    return id;
}

static int history_has(store *s, int64_t viewer, int64_t chat, int64_t id)
{
    store_msg *v;
    size_t n;
    if (store_history(s, viewer, chat, 0, STORE_MAX_HISTORY, &v, &n) != STORE_OK) return -1;
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= v[i].id == id;
    store_msgs_free(v, n);
    return found;
}

static store_chat get_chat(store *s, int64_t viewer, int64_t chat)
{
    store_chat c;
    CHECK_EQ_INT(store_chat_get(s, viewer, chat, &c), STORE_OK);
    return c;
}

/* Does any of the store's files contain needle? */
static int file_has(const char *dir, const char *name, const void *needle, size_t nlen)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    int found = buf && memmem(buf, len, needle, nlen) != NULL;
    free(buf);
    return found;
}

static int disk_has_bin(const char *dir, const void *needle, size_t len)
{
    return file_has(dir, "parley.db", needle, len) || file_has(dir, "parley.db-wal", needle, len) ||
           file_has(dir, "parley.db-shm", needle, len);
}

static int disk_has(const char *dir, const char *needle)
{
    return disk_has_bin(dir, needle, strlen(needle));
}

/* The at-rest key of a message, read over a second connection (0 = found). */
static int msg_key(const char *dir, int64_t chat, int64_t id, unsigned char key[32])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT k.k FROM messages m JOIN msg_keys k ON k.id = m.key_id"
                           " WHERE m.chat_id = ?1 AND m.id = ?2", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, chat);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
            memcpy(key, sqlite3_column_blob(st, 0), 32);
            found = 0;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

TEST(open_migrate_reopen)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    int64_t m1 = send_text(s, a, chat, "persisted", 0, 1, 1100);
    store_close(s);

    /* schema version is recorded */
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    /* 2: pts from the log, 3: secret chats, 4: call settings, 5: secret-chat limits,
     * 6: invite codes, 7: sessions.identity_key */
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 7);
    sqlite3_finalize(st);
    sqlite3_close(db);

    s = open_in(dir);            /* re-open: no migration re-run, data intact */
    CHECK(s != NULL);
    if (s) {
        store_user u;
        CHECK_EQ_INT(store_user_by_name(s, "alice", &u), STORE_OK);
        CHECK_EQ_INT(u.id, a);
        store_user_free(&u);
        CHECK_EQ_INT(history_has(s, b, chat, m1), 1);
        CHECK(pts_of(s, a) >= 2);
        store_close(s);
    }

    /* a database from a newer parleyd is refused, with a reason */
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    s = store_open(dir, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "newer") != NULL);
    store_close(s);
    tmp_remove(dir);
}

/* A version-1 database kept each account's pts in users; migration 2 drops that column and
 * the positions continue from the update log, without a gap or a repeat. */
TEST(migration_2_positions_continue)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    send_text(s, a, chat, "one", 0, 1, 1100);
    send_text(s, b, chat, "two", 0, 2, 1101);
    uint64_t pa = pts_of(s, a), pb = pts_of(s, b);
    store_close(s);

    /* Make it look like version 1 wrote it (the old column, holding the old copies). */
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "ALTER TABLE users ADD COLUMN pts INTEGER NOT NULL DEFAULT 0;"
                              "UPDATE users SET pts = (SELECT max(pts) FROM updates"
                              " WHERE account_id = users.id);"
                              /* and without migrations 3-7 (secret chats, calls,
                               * secret-chat limits, invites, device identity keys) */
                              "ALTER TABLE sessions DROP COLUMN identity_key;"
                              "DROP TABLE invites;"
                              "DROP TRIGGER sessions_secret_gone; DROP TRIGGER secret_inbox_gone;"
                              "DROP TRIGGER secret_inbox_added; DROP TABLE secret_sent;"
                              "DROP TABLE secret_inbox; DROP TABLE one_time_prekeys;"
                              "DROP TABLE device_keys; DROP TABLE call_settings; PRAGMA user_version = 1;",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return tmp_remove(dir);
    CHECK_EQ_INT(pts_of(s, a), pa);
    CHECK_EQ_INT(pts_of(s, b), pb);
    send_text(s, a, chat, "three", 0, 3, 1102);
    CHECK_EQ_INT(pts_of(s, a), pa + 1);
    CHECK_EQ_INT(pts_of(s, b), pb + 1);
    store_close(s);

    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "SELECT pts FROM users", NULL, NULL, NULL), SQLITE_ERROR);
    sqlite3_close(db);
    tmp_remove(dir);
}

TEST(open_failures)
{
    char err[256] = "";
    store *s = store_open("/nonexistent/parley/dir", err, sizeof err);
    CHECK(s == NULL);
    CHECK(err[0] != 0);
    char *dir = tmp_make();
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 4096; i++) fputc('x', f);
        fclose(f);
    }
    err[0] = 0;
    s = store_open(dir, err, sizeof err);
    CHECK(s == NULL);
    CHECK(err[0] != 0);
    store_close(s);
    tmp_remove(dir);
}

/* ---- accounts and sessions ------------------------------------------------------------ */

TEST(users)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice");
    int64_t id = 0;
    CHECK_EQ_INT(store_user_create(s, "alice", "h", 1, &id), STORE_ERR_EXISTS);
    CHECK_EQ_INT(store_user_create(s, "ALICE", "h", 1, &id), STORE_ERR_EXISTS);
    CHECK_EQ_INT(store_user_create(s, "", "h", 1, &id), STORE_ERR_INVALID);
    store_user u;
    CHECK_EQ_INT(store_user_by_id(s, a, &u), STORE_OK);
    CHECK_EQ_STR(u.username, "alice");
    CHECK_EQ_STR(u.pwhash, "$argon2id$fake");
    store_user_free(&u);
    CHECK_EQ_INT(store_user_by_name(s, "nobody", &u), STORE_ERR_NO_USER);
    CHECK(u.username == NULL);
    CHECK_EQ_INT(store_user_by_id(s, 9999, &u), STORE_ERR_NO_USER);
    uint64_t p = 7;
    CHECK_EQ_INT(store_current_pts(s, a, &p), STORE_OK);
    CHECK_EQ_INT(p, 0);
    CHECK_EQ_INT(store_current_pts(s, 9999, &p), STORE_ERR_NO_USER);
    store_close(s);
    tmp_remove(dir);
}

TEST(sessions)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    uint8_t h1[32], h2[32], h3[32], hb[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    memset(h3, 3, 32);
    memset(hb, 4, 32);
    int64_t s1, s2, s3, sb;
    CHECK_EQ_INT(store_session_create(s, a, h1, "laptop", 100, &s1), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, a, h2, "", 101, &s2), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, a, h3, "phone", 102, &s3), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, b, hb, "b", 103, &sb), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, a, h1, "dup", 104, &s1), STORE_ERR_EXISTS);
    CHECK_EQ_INT(store_session_create(s, 9999, hb, "x", 104, &sb), STORE_ERR_NO_USER);

    store_session x;
    CHECK_EQ_INT(store_session_by_token(s, h2, &x), STORE_OK);
    CHECK_EQ_INT(x.id, s2);
    CHECK_EQ_INT(x.user_id, a);
    CHECK_EQ_STR(x.device, "unknown");
    CHECK_EQ_INT(x.created, 101);
    store_session_free(&x);
    uint8_t none[32] = {0};
    CHECK_EQ_INT(store_session_by_token(s, none, &x), STORE_ERR_NO_SESSION);

    store_close(s);
    tmp_remove(dir);
}

TEST(session_touch_list_end)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    uint8_t h1[32], h2[32], h3[32], hb[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    memset(h3, 3, 32);
    memset(hb, 4, 32);
    int64_t s1, s2, s3, sb;
    CHECK_EQ_INT(store_session_create(s, a, h1, "laptop", 100, &s1), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, a, h2, "", 101, &s2), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, a, h3, "phone", 102, &s3), STORE_OK);
    CHECK_EQ_INT(store_session_create(s, b, hb, "b", 103, &sb), STORE_OK);
    CHECK(s2 > s1);
    store_session x;
    CHECK_EQ_INT(store_session_touch(s, s1, 500), STORE_OK);
    CHECK_EQ_INT(store_session_touch(s, 9999, 500), STORE_ERR_NO_SESSION);
    store_session *v;
    size_t n;
    CHECK_EQ_INT(store_session_list(s, a, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(v[0].id, s1);
        CHECK_EQ_INT(v[0].last_active, 500);
        CHECK_EQ_STR(v[2].device, "phone");
    }
    store_sessions_free(v, n);

    /* someone else's session cannot be ended */
    int64_t *ended;
    size_t ne;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_session_delete(s, a, sb, 0, 600, &ended, &ne, &fo), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(fo.n, 0);
    uint64_t before = pts_of(s, a);
    CHECK_EQ_INT(store_session_delete(s, a, s3, 0, 600, &ended, &ne, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 1);
    if (ne == 1) CHECK_EQ_INT(ended[0], s3);
    free(ended);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_SESSION_ENDED, a), 1);
    CHECK_EQ_INT(fo.items[0].pts[0], before + 1);
    CHECK_EQ_INT(fo.items[0].update.session_id, s3);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_session_by_token(s, h3, &x), STORE_ERR_NO_SESSION);
    int64_t first_ended = s3;

    /* all but the current one */
    CHECK_EQ_INT(store_session_create(s, a, h3, "again", 700, &s3), STORE_OK);
    CHECK_EQ_INT(store_session_delete(s, a, 0, s1, 800, &ended, &ne, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 2);
    free(ended);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_SESSION_ENDED, a), 2);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_session_list(s, a, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 1);
    store_sessions_free(v, n);
    CHECK_EQ_INT(store_session_by_token(s, hb, &x), STORE_OK);  /* b untouched */
    store_session_free(&x);

    /* the ends are in the log */
    store_update *u;
    uint64_t p;
    int more;
    CHECK_EQ_INT(store_get_difference(s, a, before, 100, &u, &n, &p, &more), STORE_OK);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(u[i].kind, STORE_UPD_SESSION_ENDED);
    if (n == 3) CHECK_EQ_INT(u[0].session_id, first_ended);
    CHECK_EQ_INT(p, pts_of(s, a));
    store_updates_free(u, n);
    store_close(s);
    tmp_remove(dir);
}

/* ---- chats -------------------------------------------------------------------------------- */

TEST(private_chat)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    store_chat ch;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_private_chat(s, a, b, 1000, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.kind, STORE_CHAT_PRIVATE);
    CHECK_EQ_STR(ch.title, "bobby");
    CHECK_EQ_INT(ch.peer_user_id, b);
    CHECK_EQ_INT(ch.member_count, 2);
    CHECK(ch.last_message == NULL);
    int64_t id = ch.id;
    store_chat_free(&ch);
    CHECK_EQ_INT(fo.n, 1);
    if (fo.n == 1 && fo.items[0].per_account) {
        const store_fanout *f = &fo.items[0];
        CHECK_EQ_INT(f->n_accounts, 2);
        for (size_t i = 0; i < f->n_accounts; i++) {
            CHECK_EQ_INT(f->per_account[i].kind, STORE_UPD_CHAT);
            CHECK_EQ_INT(f->per_account[i].pts, f->pts[i]);
            CHECK_EQ_STR(f->per_account[i].chat->title, f->accounts[i] == a ? "bobby" : "alice");
        }
    } else {
        CHECK(!"per-account CHAT fan-out");
    }
    store_fanouts_free(&fo);
    CHECK(fo.items == NULL && fo.n == 0);

    /* get, not create: same chat from either side, no fan-out */
    CHECK_EQ_INT(store_private_chat(s, b, a, 1001, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.id, id);
    CHECK_EQ_STR(ch.title, "alice");
    CHECK_EQ_INT(fo.n, 0);
    store_chat_free(&ch);
    CHECK_EQ_INT(store_private_chat(s, a, a, 1001, &ch, &fo), STORE_ERR_INVALID);
    CHECK_EQ_INT(store_private_chat(s, a, 9999, 1001, &ch, &fo), STORE_ERR_NO_USER);
    CHECK_EQ_INT(fo.n, 0);

    /* outsiders see nothing */
    CHECK_EQ_INT(store_chat_get(s, c, id, &ch), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_chat_get(s, a, 4242, &ch), STORE_ERR_NO_CHAT);
    store_member *mv;
    size_t n;
    CHECK_EQ_INT(store_chat_members(s, c, id, &mv, &n), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_chat_members(s, a, id, &mv, &n), STORE_OK);
    CHECK_EQ_INT(n, 2);
    store_members_free(mv, n);
    store_msg *hv;
    CHECK_EQ_INT(store_history(s, c, id, 0, 10, &hv, &n), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(send_rc(s, c, id, "hi", 0, 1), STORE_ERR_NO_CHAT);
    store_close(s);
    tmp_remove(dir);
}

TEST(chat_list_order)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    int64_t ab = chat_private(s, a, b), ac = chat_private(s, a, c);
    int64_t g = group_of(s, a, "grp", &b, 1);
    send_text(s, b, ab, "x", 0, 1, 3000);
    send_text(s, c, ac, "y", 0, 1, 2000);
    store_chat *v;
    size_t n;
    CHECK_EQ_INT(store_chat_list(s, a, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(v[0].id, ab);
        CHECK_EQ_INT(v[1].id, ac);
        CHECK_EQ_INT(v[2].id, g);
        CHECK_EQ_INT(v[0].unread, 1);
        CHECK(v[0].last_message && !strcmp(v[0].last_message->text, "x"));
        CHECK_EQ_STR(v[2].title, "grp");
        CHECK_EQ_INT(v[2].my_role, STORE_ROLE_CREATOR);
    }
    store_chats_free(v, n);
    CHECK_EQ_INT(store_chat_list(s, c, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 1);
    store_chats_free(v, n);
    int64_t d = mkuser(s, "dave_");
    CHECK_EQ_INT(store_chat_list(s, d, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(v == NULL);
    store_close(s);
    tmp_remove(dir);
}

/* ---- messages ----------------------------------------------------------------------------- */

TEST(send_and_duplicates)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    store_msg m;
    uint64_t sp;
    int dup;
    store_fanouts fo = {0};
    uint64_t pa = pts_of(s, a), pb = pts_of(s, b);
    CHECK_EQ_INT(store_message_send(s, a, chat, "hello", 0, 0, 77, 1500, &m, &sp, &dup, &fo),
                 STORE_OK);
    CHECK_EQ_INT(m.id, 1);
    CHECK_EQ_INT(m.chat_id, chat);
    CHECK_EQ_STR(m.text, "hello");
    CHECK_EQ_STR(m.from_username, "alice");
    CHECK_EQ_INT(m.random_id, 77);
    CHECK_EQ_INT(m.date, 1500);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(sp, pa + 1);
    CHECK_EQ_INT(fo.n, 1);
    if (fo.n == 1) {
        const store_fanout *f = &fo.items[0];
        CHECK_EQ_INT(f->update.kind, STORE_UPD_NEW_MESSAGE);
        CHECK(f->update.msg && !strcmp(f->update.msg->text, "hello"));
        CHECK_EQ_INT(f->n_accounts, 2);
        for (size_t i = 0; i < f->n_accounts; i++)
            CHECK_EQ_INT(f->pts[i], f->accounts[i] == b ? pb + 1 : pa + 1);
    }
    store_msg_free(&m);
    store_fanouts_free(&fo);

    /* the same random_id again: the first message, no new log entry */
    CHECK_EQ_INT(store_message_send(s, a, chat, "hello again", 0, 0, 77, 1600, &m, &sp, &dup,
                                    &fo), STORE_OK);
    CHECK_EQ_INT(dup, 1);
    CHECK_EQ_INT(m.id, 1);
    CHECK_EQ_STR(m.text, "hello");
    CHECK_EQ_INT(sp, pa + 1);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(pts_of(s, a), pa + 1);
    store_msg_free(&m);
    /* the key is per sender */
    CHECK_EQ_INT(store_message_send(s, b, chat, "mine", 1, 0, 77, 1700, &m, &sp, &dup, &fo),
                 STORE_OK);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(m.id, 2);
    CHECK_EQ_INT(m.reply_to, 1);
    store_msg_free(&m);
    store_fanouts_free(&fo);

    CHECK_EQ_INT(send_rc(s, a, chat, "r", 55, 5), STORE_ERR_INVALID);   /* unknown reply_to */
    CHECK_EQ_INT(send_rc(s, a, chat, "", 0, 6), STORE_ERR_INVALID);
    CHECK_EQ_INT(send_rc(s, a, chat, "z", 0, 0), STORE_ERR_INVALID);    /* random_id 0 */
    CHECK_EQ_INT(send_rc(s, a, 999, "z", 0, 7), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(pts_of(s, a), pa + 2);                                 /* failures left no trace */
    store_close(s);
    tmp_remove(dir);
}

TEST(history_paging)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    send_text(s, a, chat, "hello", 0, 77, 1500);
    send_text(s, b, chat, "mine", 0, 77, 1501);

    /* history: oldest first, before_id exclusive; random_id only for its sender */
    store_msg *v;
    size_t n;
    CHECK_EQ_INT(store_history(s, a, chat, 0, 50, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(v[0].id, 1);
        CHECK_EQ_INT(v[1].id, 2);
        CHECK_EQ_INT(v[0].random_id, 77);
        CHECK_EQ_INT(v[1].random_id, 0);
    }
    store_msgs_free(v, n);
    CHECK_EQ_INT(store_history(s, a, chat, 2, 50, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 1);
    store_msgs_free(v, n);
    CHECK_EQ_INT(store_history(s, a, chat, 0, 0, &v, &n), STORE_ERR_INVALID);
    CHECK_EQ_INT(store_history(s, a, chat, 0, STORE_MAX_HISTORY + 1, &v, &n), STORE_ERR_INVALID);
    for (int i = 0; i < 10; i++) send_text(s, a, chat, "more", 0, 100 + (uint64_t)i, 1800 + i);
    CHECK_EQ_INT(store_history(s, b, chat, 10, 3, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(v[0].id, 7);
        CHECK_EQ_INT(v[2].id, 9);
    }
    store_msgs_free(v, n);
    store_close(s);
    tmp_remove(dir);
}

TEST(edit_rules)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    int64_t chat = chat_private(s, a, b);
    int64_t id = send_text(s, a, chat, "first", 0, 1, 1500);
    store_msg m;
    uint64_t ep;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_message_edit(s, a, chat, id, "second", 1600, &m, &ep, &fo), STORE_OK);
    CHECK_EQ_STR(m.text, "second");
    CHECK_EQ_INT(m.edit_date, 1600);
    CHECK_EQ_INT(m.date, 1500);
    CHECK_EQ_INT(ep, pts_of(s, a));
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_EDIT_MESSAGE, 0), 2);
    CHECK(fo.n == 1 && fo.items[0].update.msg && !strcmp(fo.items[0].update.msg->text, "second"));
    store_msg_free(&m);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_message_edit(s, b, chat, id, "hijack", 1700, &m, &ep, &fo),
                 STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_message_edit(s, a, chat, 999, "x", 1700, &m, &ep, &fo),
                 STORE_ERR_NO_MESSAGE);
    CHECK_EQ_INT(store_message_edit(s, c, chat, id, "x", 1700, &m, &ep, &fo), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_message_edit(s, a, chat, id, "", 1700, &m, &ep, &fo), STORE_ERR_INVALID);
    CHECK_EQ_INT(fo.n, 0);
    /* service messages are nobody's to edit */
    int64_t g = group_of(s, a, "g", &b, 1);
    CHECK_EQ_INT(store_message_edit(s, a, g, 1, "x", 1700, &m, &ep, &fo), STORE_ERR_FORBIDDEN);
    store_msg *v;
    size_t n;
    CHECK_EQ_INT(store_history(s, b, chat, 0, 10, &v, &n), STORE_OK);
    CHECK(n == 1 && !strcmp(v[0].text, "second"));
    store_msgs_free(v, n);
    store_close(s);
    tmp_remove(dir);
}

TEST(delete_rules)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    int64_t chat = chat_private(s, a, b);
    int64_t m1 = send_text(s, a, chat, "one", 0, 1, 1500);
    int64_t m2 = send_text(s, b, chat, "two", 0, 1, 1501);
    int64_t *del;
    size_t nd;
    uint64_t ap;
    store_fanouts fo = {0};
    /* someone else's message in a private chat: refused, and nothing of the op happens */
    int64_t both[2] = {m1, m2};
    CHECK_EQ_INT(store_message_delete(s, a, chat, both, 2, 1, 1600, &del, &nd, &ap, &fo),
                 STORE_ERR_FORBIDDEN);
    CHECK(del == NULL && fo.n == 0);
    CHECK_EQ_INT(history_has(s, a, chat, m1), 1);
    int64_t own[3] = {m1, 555, m1};
    CHECK_EQ_INT(store_message_delete(s, a, chat, own, 3, 1, 1600, &del, &nd, &ap, &fo),
                 STORE_OK);
    CHECK_EQ_INT(nd, 1);
    if (nd == 1) CHECK_EQ_INT(del[0], m1);
    free(del);
    CHECK_EQ_INT(ap, pts_of(s, a));
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_DELETE_MESSAGES, b), 1);
    CHECK(fo.n == 1 && fo.items[0].update.n_ids == 1 && fo.items[0].update.ids[0] == m1);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(history_has(s, a, chat, m1), 0);
    CHECK_EQ_INT(history_has(s, b, chat, m1), 0);
    int64_t gone = 555;
    CHECK_EQ_INT(store_message_delete(s, a, chat, &gone, 1, 1, 1600, &del, &nd, &ap, &fo),
                 STORE_OK);
    CHECK_EQ_INT(nd, 0);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(ap, pts_of(s, a));
    CHECK_EQ_INT(store_message_delete(s, c, chat, &m2, 1, 1, 1600, &del, &nd, &ap, &fo),
                 STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_message_delete(s, a, chat, &m2, 0, 1, 1600, &del, &nd, &ap, &fo),
                 STORE_ERR_INVALID);

    /* groups: admins and the creator delete anyone's message, members only their own */
    int64_t mem[2] = {b, c};
    int64_t g = group_of(s, a, "g", mem, 2);
    int64_t gb = send_text(s, b, g, "by b", 0, 1, 1700);
    int64_t gc = send_text(s, c, g, "by c", 0, 1, 1701);
    CHECK_EQ_INT(store_message_delete(s, b, g, &gc, 1, 1, 1800, &del, &nd, &ap, &fo),
                 STORE_ERR_FORBIDDEN);
    store_chat ch;
    CHECK_EQ_INT(store_group_set_role(s, a, g, b, STORE_ROLE_ADMIN, 1800, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_message_delete(s, b, g, &gc, 1, 1, 1800, &del, &nd, &ap, &fo), STORE_OK);
    CHECK_EQ_INT(nd, 1);
    free(del);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_DELETE_MESSAGES, 0), 3);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_message_delete(s, a, g, &gb, 1, 1, 1800, &del, &nd, &ap, &fo), STORE_OK);
    free(del);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(history_has(s, c, g, gb), 0);
    CHECK_EQ_INT(history_has(s, c, g, gc), 0);
    store_close(s);
    tmp_remove(dir);
}

TEST(hide_for_me_and_unread)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    int64_t m1 = send_text(s, a, chat, "one", 0, 1, 1500);
    int64_t m2 = send_text(s, a, chat, "two", 0, 2, 1501);
    int64_t m3 = send_text(s, a, chat, "three", 0, 3, 1502);
    store_chat cb = get_chat(s, b, chat), ca = get_chat(s, a, chat);
    CHECK_EQ_INT(cb.unread, 3);
    CHECK_EQ_INT(ca.unread, 0);                    /* own messages are never unread */
    CHECK_EQ_INT(cb.top_message_id, m3);
    store_chat_free(&cb);
    store_chat_free(&ca);

    uint64_t pa = pts_of(s, a);
    int64_t *del;
    size_t nd;
    uint64_t bp;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_message_delete(s, b, chat, &m3, 1, 0, 1600, &del, &nd, &bp, &fo), STORE_OK);
    free(del);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_HIDE_MESSAGES, b), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_HIDE_MESSAGES, a), 0);
    CHECK_EQ_INT(bp, pts_of(s, b));
    store_fanouts_free(&fo);
    CHECK_EQ_INT(pts_of(s, a), pa);                /* the peer hears nothing */
    CHECK_EQ_INT(history_has(s, b, chat, m3), 0);
    CHECK_EQ_INT(history_has(s, a, chat, m3), 1);
    cb = get_chat(s, b, chat);
    CHECK_EQ_INT(cb.unread, 2);
    CHECK(cb.last_message && cb.last_message->id == m2);
    store_chat_free(&cb);
    ca = get_chat(s, a, chat);
    CHECK(ca.last_message && ca.last_message->id == m3);
    store_chat_free(&ca);
    /* hiding one's own message works too (for-me only) */
    CHECK_EQ_INT(store_message_delete(s, a, chat, &m1, 1, 0, 1600, &del, &nd, &bp, &fo), STORE_OK);
    free(del);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(history_has(s, a, chat, m1), 0);
    CHECK_EQ_INT(history_has(s, b, chat, m1), 1);
    store_close(s);
    tmp_remove(dir);
}

TEST(read_markers)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    int64_t chat = chat_private(s, a, b);
    for (int i = 0; i < 3; i++) send_text(s, a, chat, "m", 0, (uint64_t)i + 1, 1500 + i);
    int64_t rm;
    uint64_t rp;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_read(s, b, chat, 2, 1600, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(rm, 2);
    CHECK_EQ_INT(rp, pts_of(s, b));
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, a), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, b), 1);
    CHECK(fo.n == 1 && fo.items[0].update.by_user == b && fo.items[0].update.max_id == 2 &&
          fo.items[0].update.by_username && !strcmp(fo.items[0].update.by_username, "bobby"));
    store_fanouts_free(&fo);
    store_chat cb = get_chat(s, b, chat), ca = get_chat(s, a, chat);
    CHECK_EQ_INT(cb.unread, 1);
    CHECK_EQ_INT(cb.read_inbox_max_id, 2);
    CHECK_EQ_INT(ca.read_outbox_max_id, 2);
    store_chat_free(&cb);
    store_chat_free(&ca);
    /* never backwards; no update for a no-op */
    CHECK_EQ_INT(store_read(s, b, chat, 1, 1601, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(rm, 2);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(rp, pts_of(s, b));
    /* 0 = everything; beyond the top clamps */
    CHECK_EQ_INT(store_read(s, b, chat, 0, 1602, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(rm, 3);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_read(s, a, chat, 99, 1602, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(rm, 3);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_read(s, c, chat, 0, 1602, &rm, &rp, &fo), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_read(s, b, chat, -1, 1602, &rm, &rp, &fo), STORE_ERR_INVALID);

    /* groups: the reader's devices and the senders of newly read messages */
    int64_t d = mkuser(s, "dave_");
    int64_t mem[3] = {b, c, d};
    int64_t g = group_of(s, a, "g", mem, 3);
    send_text(s, b, g, "from b", 0, 1, 1700);
    send_text(s, c, g, "from c", 0, 1, 1701);
    CHECK_EQ_INT(store_read(s, d, g, 0, 1702, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, d), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, b), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, c), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, a), 1);  /* the creator's GROUP_CREATED message */
    store_fanouts_free(&fo);
    store_chat cc = get_chat(s, c, g);
    CHECK_EQ_INT(cc.read_outbox_max_id, 3);
    store_chat_free(&cc);
    CHECK_EQ_INT(store_read(s, b, g, 2, 1703, &rm, &rp, &fo), STORE_OK);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, c), 0);  /* b covered only its own message */
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_READ, a), 1);
    store_fanouts_free(&fo);
    store_close(s);
    tmp_remove(dir);
}

static int64_t expires_of(store *s, int64_t viewer, int64_t chat, int64_t id)
{
    store_msg *v;
    size_t n;
    int64_t e = -1;
    if (store_history(s, viewer, chat, id + 1, 1, &v, &n) != STORE_OK) return -2;
    if (n == 1 && v[0].id == id) e = v[0].expires_at;
    store_msgs_free(v, n);
    return e;
}

TEST(ttl_and_expire)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    /* private: the timer starts when the recipient reads */
    int64_t m1 = send_text(s, a, chat, "secret", 10, 1, 100);
    int64_t m2 = send_text(s, a, chat, "plain", 0, 2, 100);
    CHECK_EQ_INT(expires_of(s, a, chat, m1), 0);
    int64_t rm;
    uint64_t rp;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_read(s, a, chat, 0, 150, &rm, &rp, &fo), STORE_OK);  /* own: no effect */
    store_fanouts_free(&fo);
    CHECK_EQ_INT(expires_of(s, a, chat, m1), 0);
    CHECK_EQ_INT(store_read(s, b, chat, 0, 200, &rm, &rp, &fo), STORE_OK);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(expires_of(s, a, chat, m1), 210);
    CHECK_EQ_INT(expires_of(s, a, chat, m2), 0);

    /* group: at send; ttl 0 takes the chat's auto-delete */
    int64_t g = group_of(s, a, "g", &b, 1);
    int64_t g1 = send_text(s, b, g, "soon", 5, 1, 300);
    CHECK_EQ_INT(expires_of(s, a, g, g1), 305);
    store_chat ch;
    CHECK_EQ_INT(store_chat_set_autodelete(s, b, g, 60, 300, &ch, &fo), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_chat_set_autodelete(s, a, g, 60, 300, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.auto_delete, 60);
    CHECK(ch.last_message && ch.last_message->service_action == STORE_SVC_AUTODELETE_CHANGED &&
          ch.last_message->service_seconds == 60);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_chat_set_autodelete(s, a, g, 31536001, 300, &ch, &fo), STORE_ERR_INVALID);
    store_msg m;
    uint64_t sp;
    int dup;
    CHECK_EQ_INT(store_message_send(s, a, g, "auto", 0, 0, 9, 310, &m, &sp, &dup, &fo), STORE_OK);
    CHECK_EQ_INT(m.ttl, 60);
    CHECK_EQ_INT(m.expires_at, 370);
    int64_t g2 = m.id;
    store_msg_free(&m);
    store_fanouts_free(&fo);

    size_t ne;
    int64_t next;
    CHECK_EQ_INT(store_expire(s, 209, 100, &ne, &next, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 0);
    CHECK_EQ_INT(next, 210);
    CHECK_EQ_INT(fo.n, 0);
    /* at most `max`, the rest stays due */
    CHECK_EQ_INT(store_expire(s, 400, 1, &ne, &next, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 1);
    CHECK_EQ_INT(next, 305);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_DELETE_MESSAGES, a), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_DELETE_MESSAGES, b), 1);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(history_has(s, b, chat, m1), 0);
    CHECK_EQ_INT(history_has(s, b, chat, m2), 1);
    CHECK_EQ_INT(store_expire(s, 400, 100, &ne, &next, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 2);
    CHECK_EQ_INT(next, 0);
    CHECK_EQ_INT(fo.n, 1);                          /* both in one chat: one fan-out */
    if (fo.n == 1) CHECK_EQ_INT(fo.items[0].update.n_ids, 2);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(history_has(s, a, g, g1), 0);
    CHECK_EQ_INT(history_has(s, a, g, g2), 0);
    store_close(s);
    tmp_remove(dir);
}

/* ---- groups ------------------------------------------------------------------------------- */

TEST(group_membership)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol"),
            d = mkuser(s, "dave_"), e = mkuser(s, "erin_");
    store_chat ch;
    store_fanouts fo = {0};
    int64_t init[4] = {c, b, a, b};                 /* duplicates and the creator are ignored */
    CHECK_EQ_INT(store_group_create(s, a, "team", init, 4, 1000, &ch, &fo), STORE_OK);
    int64_t g = ch.id;
    CHECK_EQ_INT(ch.kind, STORE_CHAT_GROUP);
    CHECK_EQ_INT(ch.member_count, 3);
    CHECK_EQ_INT(ch.my_role, STORE_ROLE_CREATOR);
    CHECK(ch.last_message && ch.last_message->kind == STORE_MSG_SERVICE &&
          ch.last_message->service_action == STORE_SVC_GROUP_CREATED &&
          !strcmp(ch.last_message->service_title, "team"));
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, 0), 3);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, 0), 3);
    for (size_t i = 0; i < fo.n; i++)
        if (fo.items[i].per_account)
            for (size_t j = 0; j < fo.items[i].n_accounts; j++)
                CHECK_EQ_INT(fo.items[i].per_account[j].chat->my_role,
                             fo.items[i].accounts[j] == a ? STORE_ROLE_CREATOR : STORE_ROLE_MEMBER);
    store_fanouts_free(&fo);
    int64_t ghost = 4242;
    CHECK_EQ_INT(store_group_create(s, a, "x", &ghost, 1, 1000, &ch, &fo), STORE_ERR_NO_USER);
    CHECK_EQ_INT(store_group_create(s, a, "", NULL, 0, 1000, &ch, &fo), STORE_ERR_INVALID);

    /* add: admins only */
    CHECK_EQ_INT(store_group_add(s, b, g, &d, 1, 1100, &ch, &fo), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_group_set_role(s, b, g, c, STORE_ROLE_ADMIN, 1100, &ch, &fo),
                 STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_group_set_role(s, a, g, b, STORE_ROLE_CREATOR, 1100, &ch, &fo),
                 STORE_ERR_INVALID);
    CHECK_EQ_INT(store_group_set_role(s, a, g, d, STORE_ROLE_ADMIN, 1100, &ch, &fo),
                 STORE_ERR_NO_USER);
    CHECK_EQ_INT(store_group_set_role(s, a, g, b, STORE_ROLE_ADMIN, 1100, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, b), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, 0), 3);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_group_set_role(s, b, g, c, STORE_ROLE_ADMIN, 1100, &ch, &fo),
                 STORE_ERR_FORBIDDEN);               /* only the creator changes roles */
    int64_t add[3] = {d, e, c};
    CHECK_EQ_INT(store_group_add(s, b, g, add, 3, 1200, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.member_count, 5);
    CHECK(ch.last_message && ch.last_message->service_action == STORE_SVC_MEMBERS_ADDED &&
          ch.last_message->n_service_users == 2);
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, d), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, e), 1);
    store_fanouts_free(&fo);
    store_close(s);
    tmp_remove(dir);
}

static void set_role(store *s, int64_t actor, int64_t chat, int64_t user, int role)
{
    store_chat ch;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_group_set_role(s, actor, chat, user, role, 1100, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
}

TEST(group_remove_and_rename)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol"),
            d = mkuser(s, "dave_");
    int64_t init[3] = {b, c, d};
    int64_t g = group_of(s, a, "team", init, 3);
    set_role(s, a, g, b, STORE_ROLE_ADMIN);
    store_chat ch;
    store_fanouts fo = {0};

    /* remove: nobody removes the creator; admins only plain members */
    CHECK_EQ_INT(store_group_remove(s, b, g, &a, 1, 1300, &ch, &fo), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_group_remove(s, c, g, &d, 1, 1300, &ch, &fo), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_group_remove(s, b, g, &b, 1, 1300, &ch, &fo), STORE_ERR_INVALID);
    CHECK_EQ_INT(fo.n, 0);
    uint64_t pd = pts_of(s, d);
    CHECK_EQ_INT(store_group_remove(s, b, g, &d, 1, 1300, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.member_count, 3);
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT_REMOVED, d), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, d), 0);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, a), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, d), 0);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(pts_of(s, d), pd + 1);
    /* the removed member is an outsider now and hears nothing more */
    CHECK_EQ_INT(send_rc(s, d, g, "still here?", 0, 1), STORE_ERR_NO_CHAT);
    send_text(s, a, g, "after", 0, 50, 1400);
    CHECK_EQ_INT(pts_of(s, d), pd + 1);
    store_member *mv;
    size_t n;
    CHECK_EQ_INT(store_chat_members(s, d, g, &mv, &n), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_chat_members(s, a, g, &mv, &n), STORE_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(mv[0].user_id, a);
        CHECK_EQ_INT(mv[0].role, STORE_ROLE_CREATOR);
        CHECK_EQ_STR(mv[1].username, "bobby");
        CHECK_EQ_INT(mv[1].role, STORE_ROLE_ADMIN);
    }
    store_members_free(mv, n);

    /* rename: admins */
    CHECK_EQ_INT(store_group_rename(s, c, g, "nope", 1500, &ch, &fo), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_group_rename(s, b, g, "renamed", 1500, &ch, &fo), STORE_OK);
    CHECK_EQ_STR(ch.title, "renamed");
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, 0), 3);
    store_fanouts_free(&fo);
    store_chat cc = get_chat(s, c, g);
    CHECK_EQ_STR(cc.title, "renamed");
    store_chat_free(&cc);
    /* group operations on a private chat */
    int64_t p = chat_private(s, a, b);
    CHECK_EQ_INT(store_group_add(s, a, p, &c, 1, 1500, &ch, &fo), STORE_ERR_INVALID);
    CHECK_EQ_INT(store_group_leave(s, a, p, 1500, &fo), STORE_ERR_INVALID);
    store_close(s);
    tmp_remove(dir);
}

TEST(group_leave_handover)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    int64_t mem[2] = {b, c};
    int64_t g = group_of(s, a, "g", mem, 2);
    store_chat ch;
    store_fanouts fo = {0};
    /* c is the admin, b the older member: the admin inherits */
    CHECK_EQ_INT(store_group_set_role(s, a, g, c, STORE_ROLE_ADMIN, 1100, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_group_leave(s, a, g, 1200, &fo), STORE_OK);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT_REMOVED, a), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, a), 0);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, b), 2);   /* left + role changed */
    store_fanouts_free(&fo);
    ch = get_chat(s, c, g);
    CHECK_EQ_INT(ch.my_role, STORE_ROLE_CREATOR);
    CHECK_EQ_INT(ch.member_count, 2);
    store_chat_free(&ch);
    CHECK_EQ_INT(store_chat_get(s, a, g, &ch), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(store_group_leave(s, a, g, 1200, &fo), STORE_ERR_NO_CHAT);

    /* no admin: the oldest member inherits */
    int64_t d = mkuser(s, "dave_");
    int64_t mem2[2] = {b, d};
    int64_t g2 = group_of(s, a, "g2", mem2, 2);
    CHECK_EQ_INT(store_group_leave(s, a, g2, 1300, &fo), STORE_OK);
    store_fanouts_free(&fo);
    ch = get_chat(s, b, g2);
    CHECK_EQ_INT(ch.my_role, STORE_ROLE_CREATOR);
    store_chat_free(&ch);
    /* everyone leaves: an empty group stays behind, nobody is told anything */
    CHECK_EQ_INT(store_group_leave(s, b, g2, 1400, &fo), STORE_OK);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_group_leave(s, d, g2, 1500, &fo), STORE_OK);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT_REMOVED, d), 1);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, 0), 0);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_CHAT, 0), 0);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_chat_get(s, d, g2, &ch), STORE_ERR_NO_CHAT);
    store_close(s);
    tmp_remove(dir);
}

TEST(member_limit)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    enum { N = STORE_MAX_GROUP_MEMBERS + 1 };
    int64_t *u = malloc(N * sizeof *u);
    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "user%04d", i);
        u[i] = mkuser(s, name);
    }
    CHECK_EQ_INT(store_batch_commit(s), STORE_OK);
    store_chat ch;
    store_fanouts fo = {0};
    /* creator + 1000 others is one too many */
    CHECK_EQ_INT(store_group_create(s, u[0], "big", u + 1, N - 1, 1000, &ch, &fo),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(store_group_create(s, u[0], "big", u + 1, N - 2, 1000, &ch, &fo), STORE_OK);
    int64_t g = ch.id;
    CHECK_EQ_INT(ch.member_count, STORE_MAX_GROUP_MEMBERS);
    store_chat_free(&ch);
    CHECK_EQ_INT(fo_count(&fo, STORE_UPD_NEW_MESSAGE, 0), STORE_MAX_GROUP_MEMBERS);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_group_add(s, u[0], g, &u[N - 1], 1, 1100, &ch, &fo), STORE_ERR_LIMIT);
    /* a send to 1000 members is still one bulk log write */
    CHECK(send_text(s, u[5], g, "to everyone", 0, 1, 1200) > 0);
    CHECK_EQ_INT(pts_of(s, u[999]), 3);   /* CHAT + created + message */
    CHECK_EQ_INT(pts_of(s, u[N - 1]), 0);
    int64_t out1 = u[1];
    CHECK_EQ_INT(store_group_remove(s, u[0], g, &out1, 1, 1300, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_group_add(s, u[0], g, &u[N - 1], 1, 1400, &ch, &fo), STORE_OK);
    CHECK_EQ_INT(ch.member_count, STORE_MAX_GROUP_MEMBERS);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    free(u);
    store_close(s);
    tmp_remove(dir);
}

/* ---- sync ---------------------------------------------------------------------------------- */

TEST(difference)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);                        /* b: pts 1 CHAT */
    int64_t m1 = send_text(s, a, chat, "one", 0, 1, 1500);       /* 2 */
    int64_t m2 = send_text(s, a, chat, "two", 0, 2, 1501);       /* 3 */
    int64_t m3 = send_text(s, a, chat, "three", 0, 3, 1502);     /* 4 */
    store_msg m;
    uint64_t xp;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_message_edit(s, a, chat, m3, "three!", 1503, &m, &xp, &fo), STORE_OK);
    store_msg_free(&m);                                          /* 5 */
    store_fanouts_free(&fo);
    int64_t *del;
    size_t nd;
    CHECK_EQ_INT(store_message_delete(s, a, chat, &m2, 1, 1, 1504, &del, &nd, &xp, &fo),
                 STORE_OK);                                      /* 6 */
    free(del);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(pts_of(s, b), 6);

    store_update *u;
    size_t n;
    uint64_t p;
    int more;
    CHECK_EQ_INT(store_get_difference(s, b, 0, 100, &u, &n, &p, &more), STORE_OK);
    CHECK_EQ_INT(p, 6);
    CHECK_EQ_INT(more, 0);
    CHECK_EQ_INT(n, 5);                                          /* m2's NEW_MESSAGE skipped */
    if (n == 5) {
        CHECK_EQ_INT(u[0].kind, STORE_UPD_CHAT);
        CHECK(u[0].chat && !strcmp(u[0].chat->title, "alice"));
        CHECK_EQ_INT(u[1].kind, STORE_UPD_NEW_MESSAGE);
        CHECK(u[1].msg && u[1].msg->id == m1 && u[1].msg->random_id == 0);
        CHECK_EQ_INT(u[2].pts, 4);
        CHECK(u[2].msg && !strcmp(u[2].msg->text, "three!"));    /* current content */
        CHECK_EQ_INT(u[3].kind, STORE_UPD_EDIT_MESSAGE);
        CHECK_EQ_INT(u[4].kind, STORE_UPD_DELETE_MESSAGES);
        CHECK(u[4].n_ids == 1 && u[4].ids[0] == m2);
        for (size_t i = 1; i < n; i++) CHECK(u[i].pts > u[i - 1].pts);
    }
    store_updates_free(u, n);

    /* paging */
    uint64_t since = 0;
    size_t total = 0;
    int rounds = 0;
    do {
        CHECK_EQ_INT(store_get_difference(s, b, since, 2, &u, &n, &p, &more), STORE_OK);
        CHECK(n <= 2);
        CHECK(p > since || (!more && p == since));
        total += n;
        since = p;
        store_updates_free(u, n);
    } while (more && ++rounds < 10);
    CHECK_EQ_INT(total, 5);
    CHECK_EQ_INT(since, 6);
    CHECK_EQ_INT(store_get_difference(s, b, 6, 100, &u, &n, &p, &more), STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(u == NULL);
    CHECK_EQ_INT(p, 6);
    CHECK_EQ_INT(store_get_difference(s, b, 0, 0, &u, &n, &p, &more), STORE_ERR_INVALID);
    CHECK_EQ_INT(store_get_difference(s, b, 0, STORE_MAX_DIFFERENCE + 1, &u, &n, &p, &more),
                 STORE_ERR_INVALID);
    CHECK_EQ_INT(store_get_difference(s, 9999, 0, 10, &u, &n, &p, &more), STORE_ERR_NO_USER);
    store_close(s);
    tmp_remove(dir);
}

/* A difference of long messages stops once their texts reach STORE_DIFF_TEXT_BYTES: the
 * store does not load 1000 x 16 KiB only for the handler to drop most of it. The page ends
 * at its last entry and paging on brings every message once, in order. */
TEST(difference_text_budget)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);                        /* b: pts 1 CHAT */
    enum { LONG = 16000, N = 100 };                              /* 1.6 MB of text */
    char *text = malloc(LONG + 1);
    CHECK(text != NULL);
    if (!text) return;
    memset(text, 'x', LONG);
    text[LONG] = 0;
    for (int i = 0; i < N; i++) send_text(s, a, chat, text, 0, 100 + (uint64_t)i, 1500 + i);
    free(text);
    store_update *u;
    size_t n, total = 0;
    uint64_t p, since = 0;
    int more, pages = 0;
    do {
        CHECK_EQ_INT(store_get_difference(s, b, since, STORE_MAX_DIFFERENCE, &u, &n, &p, &more),
                     STORE_OK);
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++) bytes += u[i].msg ? strlen(u[i].msg->text) : 0;
        /* it stops at the first entry that reaches the bound, not one later */
        CHECK(bytes < STORE_DIFF_TEXT_BYTES + LONG);
        if (more) CHECK(n > 0 && p == u[n - 1].pts);
        for (size_t i = 0; i < n; i++) CHECK_EQ_INT(u[i].pts, since + 1 + i);
        total += n;
        since = p;
        store_updates_free(u, n);
    } while (more && ++pages < 10);
    CHECK_EQ_INT(pages, 1);                                      /* two pages */
    CHECK_EQ_INT(total, N + 1);
    CHECK_EQ_INT(since, N + 1);
    store_close(s);
    tmp_remove(dir);
}

TEST(difference_visibility)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);                        /* b: pts 1 CHAT */
    int64_t m1 = send_text(s, a, chat, "one", 0, 1, 1500);       /* 2 */
    send_text(s, a, chat, "two", 0, 2, 1501);                    /* 3 */
    store_update *u;
    size_t n, nd;
    uint64_t p, xp;
    int more;
    int64_t *del;
    store_msg m;
    store_fanouts fo = {0};

    /* hidden messages disappear from the hider's difference only */
    CHECK_EQ_INT(store_message_delete(s, b, chat, &m1, 1, 0, 1600, &del, &nd, &xp, &fo),
                 STORE_OK);
    free(del);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_get_difference(s, b, 0, 100, &u, &n, &p, &more), STORE_OK);
    CHECK_EQ_INT(n, 3);                                          /* CHAT, NEW(two), HIDE */
    if (n == 3) CHECK_EQ_INT(u[2].kind, STORE_UPD_HIDE_MESSAGES);
    CHECK_EQ_INT(p, 4);
    store_updates_free(u, n);
    CHECK_EQ_INT(store_get_difference(s, a, 0, 100, &u, &n, &p, &more), STORE_OK);
    int saw_m1 = 0;
    for (size_t i = 0; i < n; i++)
        saw_m1 |= u[i].kind == STORE_UPD_NEW_MESSAGE && u[i].msg && u[i].msg->id == m1;
    CHECK(saw_m1);
    store_updates_free(u, n);

    /* a removed member's old entries no longer show the chat's current content */
    int64_t c = mkuser(s, "carol");
    int64_t g = group_of(s, a, "g", &c, 1);
    int64_t gm = send_text(s, a, g, "before removal", 0, 1, 1700);
    store_chat ch;
    CHECK_EQ_INT(store_group_remove(s, a, g, &c, 1, 1701, &ch, &fo), STORE_OK);
    store_chat_free(&ch);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_message_edit(s, a, g, gm, "edited after", 1702, &m, &xp, &fo), STORE_OK);
    store_msg_free(&m);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_get_difference(s, c, 0, 100, &u, &n, &p, &more), STORE_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_INT(u[0].kind, STORE_UPD_CHAT_REMOVED);
    CHECK_EQ_INT(p, pts_of(s, c));
    store_updates_free(u, n);
    store_close(s);
    tmp_remove(dir);
}

/* ---- batches ------------------------------------------------------------------------------- */

TEST(batches_and_savepoints)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    CHECK_EQ_INT(store_batch_begin(s), STORE_ERR_INTERNAL);     /* no nesting */
    CHECK_EQ_INT(store_scrub(s), STORE_ERR_INTERNAL);           /* not inside a batch */
    CHECK_EQ_INT(store_op_begin(s), STORE_OK);
    int64_t kept = send_text(s, a, chat, "kept", 0, 1, 1500);
    store_op_end(s, 1);
    CHECK_EQ_INT(store_op_begin(s), STORE_OK);
    int64_t dropped = send_text(s, a, chat, "dropped", 0, 2, 1501);
    store_op_end(s, 0);
    CHECK_EQ_INT(store_op_begin(s), STORE_OK);
    CHECK_EQ_INT(send_rc(s, a, chat, "bad reply", 99, 3), STORE_ERR_INVALID);
    store_op_end(s, 0);
    CHECK_EQ_INT(store_batch_commit(s), STORE_OK);
    CHECK_EQ_INT(history_has(s, b, chat, kept), 1);
    CHECK_EQ_INT(dropped, kept + 1);
    CHECK_EQ_INT(history_has(s, b, chat, dropped), 0);
    CHECK_EQ_INT(pts_of(s, a), 2);                  /* CHAT + the kept message only */
    /* the rolled back id is handed out again: nothing of the op survived */
    CHECK_EQ_INT(send_text(s, a, chat, "next", 0, 2, 1502), kept + 1);

    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    send_text(s, a, chat, "rolled back", 0, 4, 1503);
    store_batch_rollback(s);
    CHECK_EQ_INT(pts_of(s, a), 3);
    CHECK_EQ_INT(store_batch_commit(s), STORE_ERR_INTERNAL);    /* no batch open */
    CHECK_EQ_INT(store_scrub(s), STORE_OK);
    store_close(s);
    tmp_remove(dir);
}

/* ---- deleted means gone -------------------------------------------------------------------- */

static void commit_and_scrub(store *s)
{
    CHECK_EQ_INT(store_batch_commit(s), STORE_OK);
    CHECK_EQ_INT(store_scrub(s), STORE_OK);
}

TEST(deleted_means_gone_on_disk)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int64_t chat = chat_private(s, a, b);
    int64_t g = group_of(s, a, "g", &b, 1);
    char big[12000];                                /* spills into overflow pages */
    for (size_t i = 0; i + 1 < sizeof big; i++) big[i] = "SECRET-BIG-"[i % 11];
    big[sizeof big - 1] = 0;

    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    int64_t d1 = send_text(s, a, chat, "zq-delete-me-7f3a9c", 0, 1, 1500);
    int64_t e1 = send_text(s, a, chat, "zq-edit-me-b81d02", 0, 2, 1501);
    int64_t x1 = send_text(s, b, g, "zq-expire-me-41c6e0", 30, 3, 1502);
    int64_t d2 = send_text(s, a, chat, big, 0, 4, 1503);
    int64_t k1 = send_text(s, a, chat, "zq-keep-me-0a0a0a", 0, 5, 1504);
    commit_and_scrub(s);
    /* text is never on disk in the clear... */
    CHECK(!disk_has(dir, "zq-delete-me-7f3a9c"));
    CHECK(!disk_has(dir, "SECRET-BIG-SECRET-BIG"));
    CHECK(!disk_has(dir, "zq-keep-me-0a0a0a"));
    /* ...but its keys are, before deletion (so the checks below can fail) */
    unsigned char kd1[32], ke1[32], kx1[32], kd2[32], kk1[32], kn[32];
    CHECK_EQ_INT(msg_key(dir, chat, d1, kd1), 0);
    CHECK_EQ_INT(msg_key(dir, chat, e1, ke1), 0);
    CHECK_EQ_INT(msg_key(dir, g, x1, kx1), 0);
    CHECK_EQ_INT(msg_key(dir, chat, d2, kd2), 0);
    CHECK_EQ_INT(msg_key(dir, chat, k1, kk1), 0);
    CHECK(disk_has_bin(dir, kd1, 32) && disk_has_bin(dir, ke1, 32) && disk_has_bin(dir, kx1, 32) &&
          disk_has_bin(dir, kd2, 32));

    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    int64_t *del;
    size_t nd;
    uint64_t xp;
    store_fanouts fo = {0};
    int64_t ids[2] = {d1, d2};
    CHECK_EQ_INT(store_message_delete(s, a, chat, ids, 2, 1, 1600, &del, &nd, &xp, &fo), STORE_OK);
    CHECK_EQ_INT(nd, 2);
    free(del);
    store_msg m;
    CHECK_EQ_INT(store_message_edit(s, a, chat, e1, "zq-edited-c0ffee", 1601, &m, &xp, &fo),
                 STORE_OK);
    store_msg_free(&m);
    size_t ne;
    int64_t next;
    CHECK_EQ_INT(store_expire(s, 1600, 10, &ne, &next, &fo), STORE_OK);
    CHECK_EQ_INT(ne, 1);
    store_fanouts_free(&fo);
    commit_and_scrub(s);

    CHECK(!disk_has_bin(dir, kd1, 32));             /* deleted for everyone */
    CHECK(!disk_has_bin(dir, kd2, 32));
    CHECK(!disk_has_bin(dir, ke1, 32));             /* the edited-away text */
    CHECK(!disk_has_bin(dir, kx1, 32));             /* expired */
    CHECK(disk_has_bin(dir, kk1, 32));              /* live messages keep theirs */
    CHECK_EQ_INT(msg_key(dir, chat, e1, kn), 0);
    CHECK(disk_has_bin(dir, kn, 32));
    CHECK(memcmp(kn, ke1, 32) != 0);
    CHECK(!disk_has(dir, "zq-edit-me-b81d02"));
    CHECK(!disk_has(dir, "zq-edited-c0ffee"));
    store_msg *v;
    size_t n;
    CHECK_EQ_INT(store_history(s, b, chat, 0, 10, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(v[0].text, "zq-edited-c0ffee");
        CHECK_EQ_STR(v[1].text, "zq-keep-me-0a0a0a");
    }
    store_msgs_free(v, n);
    CHECK_EQ_INT(history_has(s, b, g, x1), 0);
    store_close(s);
    CHECK(!disk_has_bin(dir, kd1, 32));             /* and after a clean close too */
    CHECK(disk_has_bin(dir, kk1, 32));
    tmp_remove(dir);
}

/* ---- throughput ---------------------------------------------------------------------------- */

/* Sends `total` texts into chat in transactions of `batch`, round-robin over the senders,
 * with random ids from rid0 up; returns how many were stored. */
static int send_batches(store *s, int64_t chat, const int64_t *senders, int n_senders,
                        int total, int batch, const char *text, uint64_t rid0)
{
    int ok = 0;
    for (int i = 0; i < total;) {
        if (store_batch_begin(s) != STORE_OK) break;
        for (int j = 0; j < batch && i < total; j++, i++) {
            store_msg m;
            uint64_t p;
            int dup;
            store_fanouts fo = {0};
            store_op_begin(s);
            store_rc rc = store_message_send(s, senders[i % n_senders], chat, text, 0, 0,
                                             rid0 + (uint64_t)i, 5000, &m, &p, &dup, &fo);
            store_op_end(s, rc == STORE_OK);
            ok += rc == STORE_OK;
            store_msg_free(&m);
            store_fanouts_free(&fo);
        }
        if (store_batch_commit(s) != STORE_OK) break;
    }
    return ok;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_sends(store *s, int64_t chat, const int64_t *senders, int n_senders, int total,
                        int batch, const char *label)
{
    double t0 = now_s();
    clock_t c0 = clock();
    int ok = send_batches(s, chat, senders, n_senders, total, batch,
                          "a typical short chat message of some length", 1000000);
    double dt = now_s() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK_EQ_INT(ok, total);
    printf("  store bench: %s: %d sends in %.3f s = %.0f msg/s (batches of %d, fsync per batch;"
           " CPU %.3f s = %.0f msg/s per core)\n", label, total, dt, total / (dt > 0 ? dt : 1e-9),
           batch, cpu, total / (cpu > 0 ? cpu : 1e-9));
}

TEST(throughput)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    int64_t u[10];
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench%02d", i);
        u[i] = mkuser(s, name);
    }
    int64_t chat = chat_private(s, u[0], u[1]);
    int64_t g = group_of(s, u[0], "bench", u + 1, 9);
    bench_sends(s, chat, u, 2, 20000, 200, "private chat");
    bench_sends(s, g, u, 10, 10000, 200, "10-member group");
    store_close(s);
    tmp_remove(dir);
}

static long long file_size(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Commits never run the WAL checkpoint themselves below the cycle's end, yet the pages reach
 * parley.db while the store stays open: the checkpointer thread copied them. ~24 MiB of
 * 4,000-byte texts runs through a 2,048-frame (8 MiB) cycle three times; the WAL restarts
 * instead of growing with everything ever written. */
static int page_size_of(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db = NULL;
    int size = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        size = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return size;
}

/* A new database gets 1 KiB pages (less WAL per send, see store_sqlite.c); one made with
 * another page size keeps it and works as before. */
TEST(page_size_new_and_existing)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    store_close(s);
    CHECK_EQ_INT(page_size_of(dir), 1024);
    tmp_remove(dir);

    dir = tmp_make();
    char path[4200];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA page_size=4096; VACUUM;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = open_in(dir);
    CHECK(s != NULL);
    if (s) {
        int64_t a = mkuser(s, "pagea"), b = mkuser(s, "pageb");
        CHECK(a > 0 && b > 0);
        store_close(s);
    }
    CHECK_EQ_INT(page_size_of(dir), 4096);
    tmp_remove(dir);
}

TEST(wal_checkpointed_beside_the_writer)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    if (!s) return tmp_remove(dir);
    ckpt_set_cycle(((struct store *)s)->ckpt, 2048);
    int64_t a = mkuser(s, "ckpta"), b = mkuser(s, "ckptb");
    int64_t chat = chat_private(s, a, b);
    char text[4001];
    memset(text, 'w', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    long long before = file_size(dir, "parley.db");
    CHECK_EQ_INT(send_batches(s, chat, &a, 1, 6000, 300, text, 7000000), 6000);
    long long after = -1;
    for (int t = 0; t < 100; t++) {           /* up to 10 s for the thread to finish a copy */
        after = file_size(dir, "parley.db");
        if (after - before > (8ll << 20)) break;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    if (after - before <= (8ll << 20))
        printf("  db %lld -> %lld, wal %lld\n", before, after, file_size(dir, "parley.db-wal"));
    CHECK(after - before > (8ll << 20));
    /* One cycle and the batch that crossed its end, not everything written (~24 MiB). */
    CHECK(file_size(dir, "parley.db-wal") < (14ll << 20));
    /* The passes are counted for the store thread's statistics line, then start again. */
    store_bg_stats bg;
    store_bg_stats_take(s, &bg);
    CHECK(bg.passes >= 2);                     /* ~24 MiB through 8 MiB cycles */
    CHECK(bg.frames >= 2048);
    CHECK(bg.busy_us >= bg.max_us && bg.max_us > 0);
    store_bg_stats_take(s, &bg);
    CHECK(bg.passes == 0 && bg.frames == 0);
    store_close(s);
    tmp_remove(dir);
}

/* Invite codes: added once, used once, in the savepoint of the account they made. */
TEST(invite_codes)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return tmp_remove(dir);
    uint8_t h1[32], h2[32];
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    CHECK_EQ_INT(store_invite_use(s, h1), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_invite_add(s, h1, 100), STORE_OK);
    CHECK_EQ_INT(store_invite_add(s, h1, 100), STORE_ERR_EXISTS);
    CHECK_EQ_INT(store_invite_add(s, h2, 100), STORE_OK);
    CHECK_EQ_INT(store_invite_use(s, h1), STORE_OK);
    CHECK_EQ_INT(store_invite_use(s, h1), STORE_ERR_FORBIDDEN);
    store_close(s);
    s = open_in(dir);                 /* kept across a restart */
    CHECK(s != NULL);
    if (!s) return tmp_remove(dir);
    CHECK_EQ_INT(store_invite_use(s, h2), STORE_OK);
    store_close(s);
    tmp_remove(dir);
}

int main(void)
{
    RUN(open_migrate_reopen);
    RUN(page_size_new_and_existing);
    RUN(migration_2_positions_continue);
    RUN(invite_codes);
    RUN(open_failures);
    RUN(users);
    RUN(sessions);
    RUN(session_touch_list_end);
    RUN(private_chat);
    RUN(chat_list_order);
    RUN(send_and_duplicates);
    RUN(history_paging);
    RUN(edit_rules);
    RUN(delete_rules);
    RUN(hide_for_me_and_unread);
    RUN(read_markers);
    RUN(ttl_and_expire);
    RUN(group_membership);
    RUN(group_remove_and_rename);
    RUN(group_leave_handover);
    RUN(member_limit);
    RUN(difference);
    RUN(difference_text_budget);
    RUN(difference_visibility);
    RUN(batches_and_savepoints);
    RUN(deleted_means_gone_on_disk);
    RUN(wal_checkpointed_beside_the_writer);
    RUN(throughput);
    return UNIT_DONE("store");
}
