/*
 * test_server_store_calls.c: what the SQLite store keeps about calls (store_sqlite_calls.c)
 * against a real database in a temporary directory: a call's history entry (kind CALL, the
 * CallInfo in the service columns, fanned out to both members, read back by history and the
 * difference, not editable), the refusals (group chat, non-member: nothing written), and the
 * per-account "always relay" setting surviving a re-open.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

static int64_t top_id(store *s, int64_t viewer, int64_t chat)
{
    store_chat c;
    if (store_chat_get(s, viewer, chat, &c) != STORE_OK) return -1;
    int64_t t = c.top_message_id;
    store_chat_free(&c);
    return t;
}

TEST(call_entry) {
    char *dir = tmp_make();
    store *s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return;
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby"), c = mkuser(s, "carol");
    store_chat pc;
    store_fanouts fo = {0};
    CHECK_EQ_INT(store_private_chat(s, a, b, 1000, &pc, &fo), STORE_OK);
    store_fanouts_free(&fo);
    CHECK_EQ_INT(store_call_record(s, pc.id, a, 5, 83, 1, 2000, &fo), STORE_OK);
    /* one NEW_MESSAGE fan-out to both members, carrying the entry */
    CHECK_EQ_INT(fo.n, 1);
    if (fo.n == 1) {
        CHECK_EQ_INT(fo.items[0].n_accounts, 2);
        CHECK_EQ_INT(fo.items[0].update.kind, STORE_UPD_NEW_MESSAGE);
        const store_msg *m = fo.items[0].update.msg;
        CHECK(m != NULL);
        if (m) {
            CHECK_EQ_INT(m->kind, STORE_MSG_CALL);
            CHECK_EQ_INT(m->from_user, a);
            CHECK_EQ_INT(m->service_action, 5);
            CHECK_EQ_INT(m->service_seconds, 83);
            CHECK_EQ_INT(m->service_role, 1);
        }
    }
    store_fanouts_free(&fo);
    store_msg *h = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_history(s, b, pc.id, 0, 10, &h, &n), STORE_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_INT(h[0].kind, STORE_MSG_CALL);
    int64_t id = n ? h[0].id : 0;
    store_msgs_free(h, n);
    /* nobody edits a call entry, not even the caller */
    store_msg e;
    uint64_t p;
    CHECK_EQ_INT(store_message_edit(s, a, pc.id, id, "x", 2100, &e, &p, &fo), STORE_ERR_FORBIDDEN);
    store_fanouts_free(&fo);
    /* refused: a non-member caller, a group chat; nothing is written */
    CHECK_EQ_INT(store_call_record(s, pc.id, c, 1, 0, 0, 2200, &fo), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(fo.n, 0);
    store_chat g;
    CHECK_EQ_INT(store_group_create(s, a, "g", &b, 1, 1000, &g, &fo), STORE_OK);
    store_fanouts_free(&fo);
    int64_t gtop = top_id(s, a, g.id);
    CHECK_EQ_INT(store_call_record(s, g.id, a, 1, 0, 0, 2300, &fo), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(top_id(s, a, g.id), gtop);
    CHECK_EQ_INT(top_id(s, a, pc.id), id);
    /* a group call's entries go to a group too (to both members), never from a non-member */
    CHECK_EQ_INT(store_group_call_record(s, g.id, c, 7, 60, 2400, &fo), STORE_ERR_NO_CHAT);
    CHECK_EQ_INT(fo.n, 0);
    CHECK_EQ_INT(top_id(s, a, g.id), gtop);
    CHECK_EQ_INT(store_group_call_record(s, g.id, b, 7, 61, 2500, &fo), STORE_OK);
    CHECK_EQ_INT(fo.n, 1);
    if (fo.n == 1) {
        CHECK_EQ_INT(fo.items[0].n_accounts, 2);
        const store_msg *m = fo.items[0].update.msg;
        CHECK(m && m->kind == STORE_MSG_CALL && m->from_user == b && m->service_action == 7 &&
              m->service_seconds == 61);
    }
    store_fanouts_free(&fo);
    CHECK(top_id(s, a, g.id) != gtop);
    store_chat_free(&g);
    store_chat_free(&pc);
    store_close(s);
    tmp_remove(dir);
}

TEST(always_relay_setting) {
    char *dir = tmp_make();
    store *s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return;
    int64_t a = mkuser(s, "alice"), b = mkuser(s, "bobby");
    int on = -1;
    CHECK_EQ_INT(store_call_settings_get(s, a, &on), STORE_OK);
    CHECK_EQ_INT(on, 0);
    CHECK_EQ_INT(store_call_settings_set(s, a, 1), STORE_OK);
    CHECK_EQ_INT(store_call_settings_set(s, a, 1), STORE_OK);   /* idempotent */
    store_close(s);
    s = open_in(dir);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(store_call_settings_get(s, a, &on), STORE_OK);
    CHECK_EQ_INT(on, 1);
    CHECK_EQ_INT(store_call_settings_get(s, b, &on), STORE_OK);
    CHECK_EQ_INT(on, 0);
    CHECK_EQ_INT(store_call_settings_set(s, a, 0), STORE_OK);
    CHECK_EQ_INT(store_call_settings_get(s, a, &on), STORE_OK);
    CHECK_EQ_INT(on, 0);
    store_close(s);
    tmp_remove(dir);
}

int main(void)
{
    RUN(call_entry);
    RUN(always_relay_setting);
    return UNIT_DONE("store_calls");
}
