/* test_lib_profile.c: the profile directory on a real SQLite file: modes, a session round
 * trip across reopen, forgetting, the CA copy, two handles at once, and ephemeral mode. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static char dir[256];

TEST(create_and_modes) {
    pl_profile p;
    parley_error e;
    CHECK_EQ_INT(pl_profile_open(&p, dir, &e), 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    char path[300];
    snprintf(path, sizeof(path), "%s/profile.db", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    pl_profile_close(&p);
}

TEST(session_round_trip) {
    pl_profile p, q;
    parley_error e;
    uint8_t tok[32], got[32];
    for (int i = 0; i < 32; i++)
        tok[i] = (uint8_t)(i * 7 + 1);
    CHECK_EQ_INT(pl_profile_open(&p, dir, &e), 0);
    CHECK_EQ_INT(pl_profile_save_session(&p, "wss://h:1", tok, 42, "alice", 7, 99, &e), 0);
    /* a second handle (another process) sees it and can write too */
    CHECK_EQ_INT(pl_profile_open(&q, dir, &e), 0);
    CHECK_EQ_INT(pl_profile_set_int(&q, PK_PTS, 100, &e), 0);
    pl_profile_close(&q);
    pl_profile_close(&p);

    CHECK_EQ_INT(pl_profile_open(&p, dir, &e), 0);
    CHECK_EQ_INT(pl_profile_get_blob(&p, PK_TOKEN, got, 32, &e), 0);
    CHECK(memcmp(got, tok, 32) == 0);
    CHECK_EQ_INT(pl_profile_get_blob(&p, PK_TOKEN, got, 16, &e), 1);   /* wrong size */
    int64_t v = 0;
    CHECK_EQ_INT(pl_profile_get_int(&p, PK_USER_ID, &v, &e), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(pl_profile_get_int(&p, PK_PTS, &v, &e), 0);
    CHECK_EQ_INT(v, 100);
    char *s = NULL;
    CHECK_EQ_INT(pl_profile_get_text(&p, PK_USERNAME, &s, &e), 0);
    CHECK_EQ_STR(s, "alice");
    free(s);
    CHECK_EQ_INT(pl_profile_get_text(&p, PK_SERVER_URL, &s, &e), 0);
    CHECK_EQ_STR(s, "wss://h:1");
    free(s);

    CHECK_EQ_INT(pl_profile_forget_session(&p, &e), 0);
    CHECK_EQ_INT(pl_profile_get_blob(&p, PK_TOKEN, got, 32, &e), 1);
    CHECK_EQ_INT(pl_profile_get_int(&p, PK_PTS, &v, &e), 1);
    CHECK_EQ_INT(pl_profile_get_text(&p, PK_SERVER_URL, &s, &e), 0);    /* server stays */
    free(s);
    pl_profile_close(&p);
}

TEST(ca_copy) {
    pl_profile p;
    parley_error e;
    CHECK_EQ_INT(pl_profile_open(&p, dir, &e), 0);
    char *pem;
    size_t len;
    CHECK_EQ_INT(pl_profile_load_ca(&p, &pem, &len, &e), 1);
    CHECK_EQ_INT(pl_profile_store_ca(&p, "PEM-A", 5, &e), 0);
    CHECK_EQ_INT(pl_profile_store_ca(&p, "PEM-BB", 6, &e), 0);
    CHECK_EQ_INT(pl_profile_load_ca(&p, &pem, &len, &e), 0);
    CHECK_EQ_INT(len, 6);
    CHECK_EQ_STR(pem, "PEM-BB");
    free(pem);
    char path[300];
    struct stat st;
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    pl_profile_close(&p);
}

TEST(ephemeral) {
    pl_profile p;
    parley_error e;
    CHECK_EQ_INT(pl_profile_open(&p, NULL, &e), 0);
    CHECK_EQ_INT(pl_profile_set_int(&p, PK_PTS, 5, &e), 0);
    int64_t v;
    CHECK_EQ_INT(pl_profile_get_int(&p, PK_PTS, &v, &e), 1);
    pl_profile_close(&p);
}

TEST(not_a_directory) {
    char path[300];
    snprintf(path, sizeof(path), "%s/profile.db", dir);
    pl_profile p;
    parley_error e;
    CHECK_EQ_INT(pl_profile_open(&p, path, &e), -PARLEY_E_PROFILE);
    CHECK_EQ_INT(e.code, PARLEY_E_PROFILE);
}

int main(void) {
    char tmpl[] = "/tmp/parley-unit-XXXXXX";
    if (!mkdtemp(tmpl))
        return 1;
    snprintf(dir, sizeof(dir), "%s/a/profile", tmpl);     /* parents are created too */
    RUN(create_and_modes);
    RUN(session_round_trip);
    RUN(ca_copy);
    RUN(ephemeral);
    RUN(not_a_directory);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpl);
    return UNIT_DONE("lib_profile");
}
