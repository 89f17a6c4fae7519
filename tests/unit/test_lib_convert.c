/* test_lib_convert.c: protobuf -> public structs (deep copies that outlive the frame),
 * service message rendering, server URL parsing and error names. */
#include <stdlib.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static Parley__User *user(int64_t id, const char *name)
{
    Parley__User *u = malloc(sizeof(*u));
    parley__user__init(u);
    u->id = id;
    u->username = (char *)name;
    return u;
}

static char *service(Parley__ServiceAction a, const char *title, uint32_t secs,
                     Parley__User **users, size_t n)
{
    Parley__Message m = PARLEY__MESSAGE__INIT;
    m.kind = PARLEY__MESSAGE_KIND__SERVICE;
    m.from_username = "alice";
    m.service_action = a;
    m.service_title = (char *)title;
    m.service_seconds = secs;
    m.service_users = users;
    m.n_service_users = n;
    m.service_role = PARLEY__ROLE__ADMIN;
    return pl_service_text(&m);
}

TEST(service_texts) {
    Parley__User *two[2] = { user(2, "bob"), user(3, "carol") };
    char *s;
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__GROUP_CREATED, "Friends", 0, NULL, 0),
                 "alice created group \"Friends\"");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__MEMBERS_ADDED, "", 0, two, 2),
                 "alice added bob, carol");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__MEMBER_REMOVED, "", 0, two, 1),
                 "alice removed bob");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__MEMBER_LEFT, "", 0, NULL, 0), "alice left");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__TITLE_CHANGED, "X", 0, NULL, 0),
                 "alice renamed the group to \"X\"");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__AUTODELETE_CHANGED, "", 3600, NULL, 0),
                 "alice set messages to auto-delete after 1h");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__AUTODELETE_CHANGED, "", 0, NULL, 0),
                 "alice turned off auto-delete");
    free(s);
    CHECK_EQ_STR(s = service(PARLEY__SERVICE_ACTION__ROLE_CHANGED, "", 0, two + 1, 1),
                 "alice made carol an admin");
    free(s);
    free(two[0]);
    free(two[1]);
}

TEST(durations) {
    char b[32];
    pl_format_duration(30, b, sizeof(b));
    CHECK_EQ_STR(b, "30s");
    pl_format_duration(300, b, sizeof(b));
    CHECK_EQ_STR(b, "5m");
    pl_format_duration(5400, b, sizeof(b));
    CHECK_EQ_STR(b, "90m");
    pl_format_duration(172800, b, sizeof(b));
    CHECK_EQ_STR(b, "2d");
    pl_format_duration(604800, b, sizeof(b));
    CHECK_EQ_STR(b, "1w");
    pl_format_duration(61, b, sizeof(b));
    CHECK_EQ_STR(b, "61s");
}

TEST(message_and_chat_copies) {
    char text[] = "hello";
    char name[] = "bob";
    Parley__Message m = PARLEY__MESSAGE__INIT;
    m.chat_id = 5; m.id = 9; m.from_user = 2; m.from_username = name; m.text = text;
    m.date = 1000; m.edit_date = 1001; m.reply_to = 3; m.ttl = 60; m.expires_at = 1060;
    Parley__Chat ch = PARLEY__CHAT__INIT;
    ch.id = 5; ch.kind = PARLEY__CHAT_KIND__GROUP; ch.title = "T"; ch.member_count = 3;
    ch.unread = 2; ch.top_message_id = 9; ch.last_message = &m; ch.auto_delete = 60;
    ch.my_role = PARLEY__ROLE__CREATOR;
    parley_chat *c = pl_conv_chat_new(&ch);
    CHECK(c != NULL);
    text[0] = 'X';                 /* the copy must not share the frame's memory */
    name[0] = 'X';
    CHECK_EQ_INT(c->kind, PARLEY_CHAT_GROUP);
    CHECK_EQ_STR(c->title, "T");
    CHECK_EQ_INT(c->my_role, PARLEY_ROLE_CREATOR);
    CHECK(c->last_message != NULL);
    CHECK_EQ_STR(c->last_message->text, "hello");
    CHECK_EQ_STR(c->last_message->from_username, "bob");
    CHECK_EQ_INT(c->last_message->expires_at, 1060);
    CHECK_EQ_INT(c->last_message->is_service, 0);
    parley_chat_free(c);
}

/* A call's history entry becomes a service line naming the caller and the outcome. */
TEST(call_entries) {
    Parley__CallInfo ci = PARLEY__CALL_INFO__INIT;
    Parley__Message m = PARLEY__MESSAGE__INIT;
    m.kind = PARLEY__MESSAGE_KIND__CALL;
    m.from_username = "alice";
    m.text = "";
    m.call = &ci;
    struct { Parley__CallOutcome o; uint32_t dur; int video; const char *want; } cases[] = {
        { PARLEY__CALL_OUTCOME__CALL_MISSED, 0, 0, "missed voice call from alice" },
        { PARLEY__CALL_OUTCOME__CALL_DECLINED, 0, 1, "video call from alice, declined" },
        { PARLEY__CALL_OUTCOME__CALL_BUSY_OUTCOME, 0, 0, "voice call from alice, busy" },
        { PARLEY__CALL_OUTCOME__CALL_CANCELLED, 0, 0, "voice call from alice, cancelled" },
        { PARLEY__CALL_OUTCOME__CALL_ENDED, 125, 1, "video call from alice, 2:05" },
        { PARLEY__CALL_OUTCOME__CALL_ENDED, 3725, 0, "voice call from alice, 1:02:05" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ci.outcome = cases[i].o;
        ci.duration = cases[i].dur;
        ci.video = cases[i].video;
        parley_message *pm = pl_conv_message_new(&m);
        CHECK(pm != NULL);
        if (!pm) continue;
        CHECK_EQ_INT(pm->is_service, 1);
        CHECK_EQ_STR(pm->text, cases[i].want);
        parley_message_free(pm);
    }
    m.call = NULL;                 /* a CALL message without its CallInfo still reads */
    parley_message *pm = pl_conv_message_new(&m);
    CHECK(pm != NULL);
    if (pm) CHECK_EQ_STR(pm->text, "voice call from alice");
    parley_message_free(pm);
}

TEST(updates) {
    int64_t ids[] = { 4, 5 };
    Parley__MessageIds mi = PARLEY__MESSAGE_IDS__INIT;
    mi.chat_id = 7; mi.ids = ids; mi.n_ids = 2;
    Parley__Update u = PARLEY__UPDATE__INIT;
    u.pts = 12; u.date = 99;
    u.kind_case = PARLEY__UPDATE__KIND_DELETE_MESSAGES;
    u.delete_messages = &mi;
    parley_update *p = pl_conv_update(&u);
    CHECK(p != NULL);
    CHECK_EQ_INT(p->kind, PARLEY_UPDATE_DELETE);
    CHECK_EQ_INT(p->pts, 12);
    CHECK_EQ_INT(p->chat_id, 7);
    CHECK_EQ_INT(p->n_ids, 2);
    CHECK_EQ_INT(p->ids[1], 5);
    parley_update_free(p);

    Parley__ReadMarker rm = PARLEY__READ_MARKER__INIT;
    rm.chat_id = 3; rm.by_user = 8; rm.by_username = "carol"; rm.max_id = 44;
    u.kind_case = PARLEY__UPDATE__KIND_READ;
    u.read = &rm;
    p = pl_conv_update(&u);
    CHECK(p && p->kind == PARLEY_UPDATE_READ && p->max_id == 44 && p->read_by.id == 8);
    CHECK_EQ_STR(p ? p->read_by.username : NULL, "carol");
    parley_update_free(p);

    u.kind_case = PARLEY__UPDATE__KIND__NOT_SET;    /* unknown kinds are skipped */
    CHECK(pl_conv_update(&u) == NULL);
}

TEST(urls) {
    char *n, *h;
    int port;
    parley_error e;
    CHECK_EQ_INT(pl_parse_url("wss://Example.org:8443", &n, &h, &port, &e), 0);
    CHECK_EQ_STR(n, "wss://example.org:8443");
    CHECK_EQ_STR(h, "example.org");
    CHECK_EQ_INT(port, 8443);
    free(n); free(h);
    CHECK_EQ_INT(pl_parse_url("https://127.0.0.1:9/", &n, &h, &port, &e), 0);
    CHECK_EQ_STR(n, "wss://127.0.0.1:9");
    free(n); free(h);
    CHECK_EQ_INT(pl_parse_url("wss://[::1]:8443", &n, &h, &port, &e), 0);
    CHECK_EQ_STR(h, "::1");
    CHECK_EQ_STR(n, "wss://[::1]:8443");
    free(n); free(h);
    CHECK_EQ_INT(pl_parse_url("wss://host", &n, &h, &port, &e), 0);
    CHECK_EQ_INT(port, 443);
    free(n); free(h);
    CHECK_EQ_INT(pl_parse_url("http://host:1", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("ws://host:1", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("wss://host:0", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("wss://host:70000", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("wss://:1", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("wss://ho st:1", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_parse_url("wss://host:1/other", &n, &h, &port, &e), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(e.code, PARLEY_E_ARGUMENT);
}

TEST(code_names) {
    CHECK_EQ_STR(parley_code_name(PARLEY_E_USER_NOT_FOUND), "USER_NOT_FOUND");
    CHECK_EQ_STR(parley_code_name(-PARLEY_E_TLS_UNTRUSTED), "TLS_UNTRUSTED");
    CHECK_EQ_STR(parley_code_name(PARLEY_E_TITLE_INVALID), "TITLE_INVALID");
    CHECK_EQ_STR(parley_code_name(999), "UNKNOWN");
    for (int code = 0; code <= PARLEY_E_NOMEM; code++)
        CHECK(parley_code_name(code) != NULL);
}

int main(void) {
    RUN(service_texts);
    RUN(durations);
    RUN(message_and_chat_copies);
    RUN(call_entries);
    RUN(updates);
    RUN(urls);
    RUN(code_names);
    return UNIT_DONE("lib_convert");
}
