/* test_server_web.c: the web side's pure parts: the Origin rule, session cookie parsing,
 * HTTP status mapping, request path rules, MIME types, and loading a web directory into the
 * in-memory table (what is served, what never is). */
#include "http_static.h"
#include "parley.pb-c.h"
#include "unit.h"
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

TEST(origin_rule) {
    CHECK(web_origin_matches("https://127.0.0.1:8443", "127.0.0.1:8443"));
    CHECK(web_origin_matches("HTTPS://Chat.Example.org", "chat.example.org"));
    CHECK(!web_origin_matches("http://127.0.0.1:8443", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("https://127.0.0.1:8444", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("https://evil.example", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("https://127.0.0.1:8443.evil.example", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("null", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("", "127.0.0.1:8443"));
    CHECK(!web_origin_matches("https://", ""));
    CHECK(!web_origin_matches(NULL, "x"));
}

TEST(cookie_parsing) {
    uint8_t t[32];
    CHECK_EQ_INT(web_cookie_token("parley_session=" HEX64, t), 0);
    CHECK_EQ_INT(t[0], 0x00);
    CHECK_EQ_INT(t[1], 0x11);
    CHECK_EQ_INT(t[31], 0xff);
    CHECK_EQ_INT(web_cookie_token("a=b; parley_session=" HEX64 "; c=d", t), 0);
    CHECK_EQ_INT(web_cookie_token("  parley_session=" HEX64 "  ", t), 0);
    CHECK_EQ_INT(web_cookie_token("", t), -1);
    CHECK_EQ_INT(web_cookie_token("parley_session=", t), -1);
    CHECK_EQ_INT(web_cookie_token("parley_session=" HEX64 "00", t), -1);   /* too long */
    CHECK_EQ_INT(web_cookie_token("parley_session=zz112233445566778899aabbccddeeff"
                                  "00112233445566778899aabbccddeeff", t), -1);
    CHECK_EQ_INT(web_cookie_token("xparley_session=" HEX64, t), -1);
    CHECK_EQ_INT(web_cookie_token("parley_sessio=" HEX64, t), -1);
    /* A bad first one does not hide a good second one. */
    CHECK_EQ_INT(web_cookie_token("parley_session=bad; parley_session=" HEX64, t), 0);
}

TEST(status_mapping) {
    CHECK_EQ_INT(web_status_for(0), 200);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__INVALID_CREDENTIALS), 401);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__FORBIDDEN), 403);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__USERNAME_TAKEN), 409);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__TOO_LARGE), 413);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__FLOOD_WAIT), 429);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__BUSY), 503);
    CHECK_EQ_INT(web_status_for(PARLEY__ERROR_CODE__USERNAME_INVALID), 400);
}

TEST(path_rules) {
    CHECK(web_path_ok("/"));
    CHECK(web_path_ok("/index.html"));
    CHECK(web_path_ok("/assets/app-1.2.js"));
    CHECK(!web_path_ok(""));
    CHECK(!web_path_ok("index.html"));
    CHECK(!web_path_ok("/../etc/passwd"));
    CHECK(!web_path_ok("/a/../b"));
    CHECK(!web_path_ok("/.git/config"));
    CHECK(!web_path_ok("//etc/passwd"));
    CHECK(!web_path_ok("/%2e%2e/x"));
    CHECK(!web_path_ok("/a\\b"));
    CHECK(!web_path_ok("/a b"));
    CHECK(web_mime_type("x.js") && !strncmp(web_mime_type("x.js"), "text/javascript", 15));
    CHECK(web_mime_type("x.html") && !strncmp(web_mime_type("x.html"), "text/html", 9));
    CHECK(web_mime_type("x.css") != NULL);
    CHECK(web_mime_type("x.db") == NULL);
    CHECK(web_mime_type("Makefile") == NULL);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(load_directory) {
    char dir[] = "/tmp/parley-web-unit-XXXXXX", p[512], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof p, "%s/index.html", dir); put(p, "<!doctype html>");
    snprintf(p, sizeof p, "%s/app.js", dir); put(p, "console.log(1)");
    snprintf(p, sizeof p, "%s/app.js.gz", dir); put(p, "GZ");
    snprintf(p, sizeof p, "%s/secret.db", dir); put(p, "no");
    snprintf(p, sizeof p, "%s/.hidden.js", dir); put(p, "no");
    snprintf(p, sizeof p, "%s/sub", dir); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sub/x.css", dir); put(p, "a{}");
    web_files *w = web_files_load(dir, err, sizeof err);
    CHECK(w != NULL);
    if (w) {
        const web_file *f = web_files_find(w, "/");
        CHECK(f && f->len == 15);
        f = web_files_find(w, "/app.js");
        CHECK(f && f->len == 14 && f->gz && f->gz_len == 2);
        CHECK(web_files_find(w, "/sub/x.css") != NULL);
        CHECK(web_files_find(w, "/secret.db") == NULL);   /* unknown kind: never loaded */
        CHECK(web_files_find(w, "/.hidden.js") == NULL);
        CHECK(web_files_find(w, "/app.js.gz") == NULL);   /* only as app.js's variant */
        CHECK(web_files_find(w, "/sub/../app.js") == NULL);
        CHECK(web_files_find(w, "/missing.js") == NULL);
        web_files_free(w);
    }
    /* No index.html: refused with a reason. */
    snprintf(p, sizeof p, "%s/index.html", dir); unlink(p);
    CHECK(web_files_load(dir, err, sizeof err) == NULL);
    CHECK(strstr(err, "index.html") != NULL);
    CHECK(web_files_load("/nonexistent/parley", err, sizeof err) == NULL);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    CHECK(system(p) == 0);
}

int main(void)
{
    RUN(origin_rule);
    RUN(cookie_parsing);
    RUN(status_mapping);
    RUN(path_rules);
    RUN(load_directory);
    return UNIT_DONE("test_server_web");
}
