/* test_server_wire.c: store structs -> protobuf (round trip through pack/unpack), random_id
 * shown only to the sender, per-kind updates, store_rc -> ErrorCode mapping, and the input
 * limits of validate.c. */
#include "unit.h"
#include "validate.h"
#include "wire.h"

#include <stdlib.h>

static Parley__ServerFrame *roundtrip_update(const store_update *u, uint64_t pts, int64_t viewer)
{
    wire_arena a;
    wire_arena_init(&a);
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_UPDATE;
    f.update = wire_update(&a, u, pts, viewer);
    Parley__ServerFrame *out = NULL;
    size_t len = 0;
    uint8_t *buf = f.update ? wire_pack(&f, 16, &len) : NULL;
    if (buf) out = parley__server_frame__unpack(NULL, len, buf + 16);
    free(buf);
    wire_arena_free(&a);
    return out;
}

static store_msg sample_msg(void)
{
    static store_user_ref users[2] = { { 7, "carol" }, { 8, "dave_1" } };
    store_msg m = { 0 };
    m.chat_id = 3;
    m.id = 42;
    m.from_user = 5;
    m.from_username = "alice";
    m.text = "h\xc3\xa9llo";
    m.date = 1700000000;
    m.ttl = 30;
    m.expires_at = 1700000030;
    m.random_id = 99;
    m.kind = STORE_MSG_SERVICE;
    m.service_action = STORE_SVC_MEMBERS_ADDED;
    m.service_users = users;
    m.n_service_users = 2;
    return m;
}

TEST(new_message_update) {
    store_msg m = sample_msg();
    store_update u = { 0 };
    u.kind = STORE_UPD_NEW_MESSAGE;
    u.date = 1700000001;
    u.msg = &m;
    Parley__ServerFrame *f = roundtrip_update(&u, 17, 5);
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(f->update->pts, 17);
    CHECK_EQ_INT(f->update->kind_case, PARLEY__UPDATE__KIND_NEW_MESSAGE);
    Parley__Message *o = f->update->new_message;
    CHECK_EQ_INT(o->id, 42);
    CHECK_EQ_STR(o->text, "h\xc3\xa9llo");
    CHECK_EQ_STR(o->from_username, "alice");
    CHECK_EQ_INT(o->random_id, 99);          /* the sender sees it */
    CHECK_EQ_INT(o->n_service_users, 2);
    CHECK_EQ_STR(o->service_users[1]->username, "dave_1");
    CHECK_EQ_STR(o->service_title, "");      /* NULL in the store */
    CHECK_EQ_INT(o->service_action, PARLEY__SERVICE_ACTION__MEMBERS_ADDED);
    parley__server_frame__free_unpacked(f, NULL);
    f = roundtrip_update(&u, 17, 6);
    CHECK(f && f->update->new_message->random_id == 0);  /* others do not */
    if (f) parley__server_frame__free_unpacked(f, NULL);
}

TEST(other_updates) {
    int64_t ids[] = { 4, 9 };
    store_update u = { 0 };
    u.kind = STORE_UPD_DELETE_MESSAGES;
    u.chat_id = 3;
    u.ids = ids;
    u.n_ids = 2;
    Parley__ServerFrame *f = roundtrip_update(&u, 1, 1);
    CHECK(f && f->update->kind_case == PARLEY__UPDATE__KIND_DELETE_MESSAGES);
    if (f) {
        CHECK_EQ_INT(f->update->delete_messages->n_ids, 2);
        CHECK_EQ_INT(f->update->delete_messages->ids[1], 9);
        parley__server_frame__free_unpacked(f, NULL);
    }
    store_update r = { 0 };
    r.kind = STORE_UPD_READ;
    r.chat_id = 3;
    r.by_user = 2;
    r.by_username = NULL;
    r.max_id = 8;
    f = roundtrip_update(&r, 2, 1);
    CHECK(f && f->update->read->max_id == 8 && f->update->read->by_username[0] == '\0');
    if (f) parley__server_frame__free_unpacked(f, NULL);
    store_chat c = { 0 };
    c.id = 11;
    c.kind = STORE_CHAT_GROUP;
    c.title = "Team";
    c.member_count = 3;
    c.my_role = STORE_ROLE_ADMIN;
    store_update cu = { 0 };
    cu.kind = STORE_UPD_CHAT;
    cu.chat = &c;
    f = roundtrip_update(&cu, 3, 1);
    CHECK(f && f->update->chat->id == 11 && f->update->chat->kind == PARLEY__CHAT_KIND__GROUP);
    CHECK(f && f->update->chat->my_role == PARLEY__ROLE__ADMIN && !f->update->chat->last_message);
    if (f) parley__server_frame__free_unpacked(f, NULL);
    store_update s = { 0 };
    s.kind = STORE_UPD_SESSION_ENDED;
    s.session_id = 77;
    f = roundtrip_update(&s, 4, 1);
    CHECK(f && f->update->session_ended->id == 77);
    if (f) parley__server_frame__free_unpacked(f, NULL);
    store_update bad = { 0 };
    bad.kind = STORE_UPD_NEW_MESSAGE;  /* without its message */
    CHECK(roundtrip_update(&bad, 5, 1) == NULL);
}

TEST(arena_large_and_many) {
    wire_arena a;
    wire_arena_init(&a);
    for (int i = 0; i < 5000; i++) CHECK(wire_alloc(&a, 24) != NULL);
    char *big = wire_alloc(&a, 100000);
    CHECK(big != NULL);
    if (big) big[99999] = 1;
    CHECK(!a.failed);
    wire_arena_free(&a);
}

TEST(error_mapping) {
    CHECK_EQ_INT(wire_store_error(STORE_ERR_NO_CHAT), PARLEY__ERROR_CODE__CHAT_NOT_FOUND);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_NO_USER), PARLEY__ERROR_CODE__USER_NOT_FOUND);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_EXISTS), PARLEY__ERROR_CODE__USERNAME_TAKEN);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_FORBIDDEN), PARLEY__ERROR_CODE__FORBIDDEN);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_LIMIT), PARLEY__ERROR_CODE__LIMIT_REACHED);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_NO_MESSAGE), PARLEY__ERROR_CODE__MESSAGE_NOT_FOUND);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_INVALID), PARLEY__ERROR_CODE__BAD_REQUEST);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_NO_SESSION), PARLEY__ERROR_CODE__SESSION_TERMINATED);
    CHECK_EQ_INT(wire_store_error(STORE_ERR_INTERNAL), PARLEY__ERROR_CODE__INTERNAL);
}

TEST(usernames) {
    char a[] = "Alice_01", b[] = "abcd", c[] = "1abcde", d[] = "abc-de", e[40];
    CHECK(valid_username(a));
    CHECK_EQ_STR(a, "alice_01");  /* lower-cased in place */
    CHECK(!valid_username(b));
    CHECK(!valid_username(c));
    CHECK(!valid_username(d));
    memset(e, 'a', 32);
    e[32] = '\0';
    CHECK(valid_username(e));
    e[32] = 'a';
    e[33] = '\0';
    CHECK(!valid_username(e));
    char f[] = "\xc3\x84lice";
    CHECK(!valid_username(f));
}

TEST(texts_and_limits) {
    CHECK(valid_password("12345678"));
    CHECK(!valid_password("1234567"));
    char *pw = malloc(1026);
    memset(pw, 'p', 1025);
    pw[1025] = '\0';
    CHECK(!valid_password(pw));
    pw[1024] = '\0';
    CHECK(valid_password(pw));
    free(pw);
    CHECK(valid_device(""));
    CHECK(valid_device("my phone \xf0\x9f\x93\xb1"));
    CHECK(!valid_device("\xff"));
    CHECK(!valid_text("", TEXT_MAX));
    CHECK(!valid_text("\xed\xa0\x80", TEXT_MAX));  /* surrogate */
    /* 4096 four-byte characters are fine, one more is not. */
    char *t = malloc(4 * 4097 + 1);
    for (int i = 0; i < 4097; i++) memcpy(t + 4 * i, "\xf0\x9f\x98\x80", 4);
    t[4 * 4096] = '\0';
    CHECK(valid_text(t, TEXT_MAX));
    t[4 * 4096] = (char)0xf0;
    t[4 * 4097] = '\0';
    CHECK(!valid_text(t, TEXT_MAX));
    free(t);
    CHECK(valid_ttl(0) && valid_ttl(1) && valid_ttl(31536000) && !valid_ttl(31536001));
}

int main(void) {
    RUN(new_message_update);
    RUN(other_updates);
    RUN(arena_large_and_many);
    RUN(error_mapping);
    RUN(usernames);
    RUN(texts_and_limits);
    return UNIT_DONE("server_wire");
}
