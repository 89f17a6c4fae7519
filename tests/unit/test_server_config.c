/* test_server_config.c: parleyd configuration: defaults, file syntax, strict errors, the
 * command line overriding the file, and listen address parsing (IPv4, [IPv6], bad forms). */
#include "config.h"
#include "log.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char err[256];

TEST(defaults) {
    server_config c;
    CHECK_EQ_INT(config_defaults(&c), 0);
    CHECK_EQ_STR(c.listen_host, "127.0.0.1");
    CHECK_EQ_INT(c.listen_port, 8443);
    CHECK_EQ_STR(c.data_dir, "./data");
    CHECK_EQ_INT(c.max_frame, 65536);
    CHECK_EQ_INT((long long)c.flood_rate, 200);
    CHECK_EQ_INT((long long)c.flood_burst, 1000);
    CHECK_EQ_INT(c.log_level, LOG_INFO);
    config_free(&c);
}

TEST(listen_forms) {
    char *h = NULL;
    int p = 0;
    CHECK_EQ_INT(config_parse_listen("127.0.0.1:9000", &h, &p), 0);
    CHECK_EQ_STR(h, "127.0.0.1");
    CHECK_EQ_INT(p, 9000);
    free(h);
    CHECK_EQ_INT(config_parse_listen("[::1]:8443", &h, &p), 0);
    CHECK_EQ_STR(h, "::1");
    CHECK_EQ_INT(p, 8443);
    free(h);
    CHECK_EQ_INT(config_parse_listen("localhost:0", &h, &p), 0);
    CHECK_EQ_INT(p, 0);
    free(h);
    CHECK_EQ_INT(config_parse_listen("::1:8443", &h, &p), -1);   /* needs brackets */
    CHECK_EQ_INT(config_parse_listen("127.0.0.1", &h, &p), -1);
    CHECK_EQ_INT(config_parse_listen("127.0.0.1:", &h, &p), -1);
    CHECK_EQ_INT(config_parse_listen("127.0.0.1:65536", &h, &p), -1);
    CHECK_EQ_INT(config_parse_listen("127.0.0.1:80x", &h, &p), -1);
    CHECK_EQ_INT(config_parse_listen(":80", &h, &p), -1);
    CHECK_EQ_INT(config_parse_listen("[::1]8443", &h, &p), -1);
}

TEST(file_text) {
    server_config c;
    config_defaults(&c);
    const char *text = "# comment\n\n  listen = [::1]:7000  \nflood_rate=5 # trailing\n"
                       "flood_burst = 10\nmax_frame = 128K\nargon2_ops = 1\nargon2_mem = 8M\n"
                       "login_fail_user = 3\nlogin_fail_ip = 9\nmax_connections = 77\n"
                       "log_level = debug\ndata = /tmp/somewhere\n";
    CHECK_EQ_INT(config_apply_text(&c, text, "t.conf", err, sizeof err), 0);
    CHECK_EQ_STR(c.listen_host, "::1");
    CHECK_EQ_INT(c.listen_port, 7000);
    CHECK_EQ_INT((long long)c.flood_rate, 5);
    CHECK_EQ_INT((long long)c.flood_burst, 10);
    CHECK_EQ_INT(c.max_frame, 128 * 1024);
    CHECK_EQ_INT(c.argon2_ops, 1);
    CHECK_EQ_INT(c.argon2_mem, 8 << 20);
    CHECK_EQ_INT(c.login_fail_user, 3);
    CHECK_EQ_INT(c.login_fail_ip, 9);
    CHECK_EQ_INT(c.max_connections, 77);
    CHECK_EQ_INT(c.log_level, LOG_DEBUG);
    CHECK_EQ_STR(c.data_dir, "/tmp/somewhere");
    config_free(&c);
}

TEST(file_errors) {
    server_config c;
    config_defaults(&c);
    CHECK_EQ_INT(config_apply_text(&c, "a = 1\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_STR(err, "x.conf:1: unknown setting 'a'");
    CHECK_EQ_INT(config_apply_text(&c, "\n\nflood_rate = fast\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_STR(err, "x.conf:3: bad value for flood_rate: 'fast'");
    CHECK_EQ_INT(config_apply_text(&c, "listen\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "max_frame = 10\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "max_connections = -1\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "log_level = loud\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "argon2_mem = 1\n", "x.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "= 5\n", "x.conf", err, sizeof err), -1);
    config_free(&c);
}

TEST(args_override_file) {
    char path[] = "/tmp/parley-test-conf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("listen = 127.0.0.1:1111\ndata = /from/file\nflood_rate = 7\n", f);
    fclose(f);
    char *argv[] = { "parleyd", "--listen", "[::1]:2222", "--config", path, "--log-level=warn",
                     NULL };
    server_config c;
    CHECK_EQ_INT(config_from_args(&c, 6, argv, err, sizeof err), CONFIG_OK);
    CHECK_EQ_STR(c.listen_host, "::1");
    CHECK_EQ_INT(c.listen_port, 2222);
    CHECK_EQ_STR(c.data_dir, "/from/file");
    CHECK_EQ_INT((long long)c.flood_rate, 7);
    CHECK_EQ_INT(c.log_level, LOG_WARN);
    config_free(&c);
    unlink(path);
}

TEST(web_dir) {
    server_config c;
    char *a1[] = { "parleyd", NULL };
    CHECK_EQ_INT(config_from_args(&c, 1, a1, err, sizeof err), CONFIG_OK);
    CHECK(c.web_dir == NULL);   /* default: look in the usual places */
    config_free(&c);
    char *a2[] = { "parleyd", "--web", "/srv/parley/web", NULL };
    CHECK_EQ_INT(config_from_args(&c, 3, a2, err, sizeof err), CONFIG_OK);
    CHECK_EQ_STR(c.web_dir, "/srv/parley/web");
    CHECK_EQ_INT(config_set(&c, "web", "", err, sizeof err), -1);
    CHECK_EQ_STR(c.web_dir, "/srv/parley/web");   /* a bad value changes nothing */
    CHECK_EQ_INT(config_set(&c, "web", "other", err, sizeof err), 0);
    CHECK_EQ_STR(c.web_dir, "other");
    config_free(&c);
}

TEST(args_errors) {
    server_config c;
    char *a1[] = { "parleyd", "--help", NULL };
    CHECK_EQ_INT(config_from_args(&c, 2, a1, err, sizeof err), CONFIG_HELP);
    char *a2[] = { "parleyd", "--nope", NULL };
    CHECK_EQ_INT(config_from_args(&c, 2, a2, err, sizeof err), CONFIG_ERROR);
    char *a3[] = { "parleyd", "--data", NULL };
    CHECK_EQ_INT(config_from_args(&c, 2, a3, err, sizeof err), CONFIG_ERROR);
    CHECK_EQ_STR(err, "option '--data' needs a value");
    char *a4[] = { "parleyd", "--config", "/nonexistent/parley.conf", NULL };
    CHECK_EQ_INT(config_from_args(&c, 3, a4, err, sizeof err), CONFIG_ERROR);
    char *a5[] = { "parleyd", "--listen", "nowhere", NULL };
    CHECK_EQ_INT(config_from_args(&c, 3, a5, err, sizeof err), CONFIG_ERROR);
}

TEST(secret_inbox_caps) {
    server_config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.secret_inbox_max, 10000);
    CHECK_EQ_INT(c.secret_inbox_bytes, 64ll << 20);
    CHECK_EQ_INT(config_apply_text(&c, "secret_inbox_max = 3\nsecret_inbox_bytes = 4K\n",
                                   "s.conf", err, sizeof err), 0);
    CHECK_EQ_INT(c.secret_inbox_max, 3);
    CHECK_EQ_INT(c.secret_inbox_bytes, 4096);
    CHECK_EQ_INT(config_apply_text(&c, "secret_inbox_max = 0\n", "s.conf", err, sizeof err), -1);
    CHECK_EQ_INT(config_apply_text(&c, "secret_inbox_bytes = 10\n", "s.conf", err, sizeof err),
                 -1);
    CHECK_EQ_INT(c.secret_inbox_max, 3);
    config_free(&c);
}

TEST(secret_abuse_keys) {
    server_config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.secret_inbox_sender_max, 1000);
    CHECK_EQ_INT(c.secret_inbox_sender_bytes, 4ll << 20);
    CHECK(c.secret_send_rate == 10 && c.secret_send_burst == 200);
    CHECK_EQ_INT(c.secret_envelope_ttl_days, 30);
    CHECK(c.prekey_fetch_per_minute == 30 && c.prekey_fetch_burst == 30);
    CHECK_EQ_INT(c.prekey_otk_per_hour, 60);
    CHECK_EQ_INT(config_apply_text(&c,
                                   "secret_inbox_sender_max = 5\nsecret_inbox_sender_bytes = 2K\n"
                                   "secret_send_rate = 0.5\nsecret_send_burst = 3\n"
                                   "secret_envelope_ttl_days = 7\nprekey_fetch_per_minute = 2\n"
                                   "prekey_fetch_burst = 4\nprekey_otk_per_hour = 0\n",
                                   "s.conf", err, sizeof err), 0);
    CHECK_EQ_INT(c.secret_inbox_sender_max, 5);
    CHECK_EQ_INT(c.secret_inbox_sender_bytes, 2048);
    CHECK(c.secret_send_rate == 0.5 && c.secret_send_burst == 3);
    CHECK_EQ_INT(c.secret_envelope_ttl_days, 7);
    CHECK(c.prekey_fetch_per_minute == 2 && c.prekey_fetch_burst == 4);
    CHECK_EQ_INT(c.prekey_otk_per_hour, 0);
    const char *bad[] = { "secret_inbox_sender_max = 0\n", "secret_inbox_sender_bytes = 10\n",
                          "secret_send_rate = 0\n", "secret_send_burst = 0.5\n",
                          "secret_envelope_ttl_days = 0\n", "prekey_fetch_per_minute = -1\n",
                          "prekey_fetch_burst = x\n", "prekey_otk_per_hour = -3\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(config_apply_text(&c, bad[i], "s.conf", err, sizeof err), -1);
    CHECK_EQ_INT(c.secret_inbox_sender_max, 5);
    CHECK_EQ_INT(c.secret_envelope_ttl_days, 7);
    config_free(&c);
}

TEST(group_call_keys) {
    server_config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.sfu, 1);
    CHECK(strcmp(c.sfu_bind, "127.0.0.1") == 0);
    CHECK_EQ_INT(c.gc_max_participants, 1000);
    CHECK_EQ_INT(c.gc_max_video, 30);
    CHECK_EQ_INT(c.sfu_consent_timeout, 30);
    CHECK_EQ_INT(config_apply_text(&c, "sfu = off\nsfu_bind = ::1\nsfu_port = 40000\n"
                                   "group_call_max_video = 4\nsfu_path = /opt/sfu\n",
                                   "g.conf", err, sizeof err), 0);
    CHECK_EQ_INT(c.sfu, 0);
    CHECK(strcmp(c.sfu_bind, "::1") == 0 && strcmp(c.sfu_path, "/opt/sfu") == 0);
    CHECK_EQ_INT(c.sfu_port, 40000);
    CHECK_EQ_INT(c.gc_max_video, 4);
    /* out of range or malformed: refused, the value stays */
    const char *bad[] = { "sfu = maybe\n", "sfu_port = 70000\n", "group_call_max_video = 31\n",
                          "group_call_max_participants = 1\n", "sfu_consent_timeout = 0\n",
                          "sfu_bind = \n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(config_apply_text(&c, bad[i], "g.conf", err, sizeof err), -1);
    CHECK_EQ_INT(c.sfu, 0);
    CHECK_EQ_INT(c.gc_max_video, 4);
    config_free(&c);
}

/* Issue 16's abuse limits: defaults (a fresh server is open, with per-source limits) and
 * bounds. */
TEST(abuse_limits) {
    server_config c;
    char e_buf[256];
    CHECK_EQ_INT(config_defaults(&c), 0);
    CHECK_EQ_INT(c.reg_per_hour, 5);
    CHECK_EQ_INT(c.pw_jobs_per_source, 4);
    CHECK_EQ_INT(c.registration, REGISTRATION_OPEN);
    CHECK_EQ_INT(config_apply_text(&c, "registrations_per_source_per_hour = 0\n"
                                       "password_jobs_per_source = 9\nregistration = closed\n",
                                   "t.conf", e_buf, sizeof e_buf), 0);
    CHECK_EQ_INT(c.reg_per_hour, 0);
    CHECK_EQ_INT(c.pw_jobs_per_source, 9);
    CHECK_EQ_INT(c.registration, REGISTRATION_CLOSED);
    CHECK_EQ_INT(config_set(&c, "registration", "invite", e_buf, sizeof e_buf), 0);
    CHECK_EQ_INT(c.registration, REGISTRATION_INVITE);
    CHECK_EQ_INT(config_set(&c, "registration", "open", e_buf, sizeof e_buf), 0);
    CHECK_EQ_INT(c.registration, REGISTRATION_OPEN);
    CHECK_EQ_INT(config_set(&c, "registration", "invites", e_buf, sizeof e_buf), -1);
    CHECK_EQ_INT(c.registration, REGISTRATION_OPEN);
    CHECK_EQ_INT(config_set(&c, "password_jobs_per_source", "0", e_buf, sizeof e_buf), -1);
    CHECK_EQ_INT(config_set(&c, "registrations_per_source_per_hour", "-1", e_buf, sizeof e_buf),
                 -1);
    CHECK_EQ_INT(c.pw_jobs_per_source, 9);   /* bad values change nothing */
    config_free(&c);
    char *argv[] = { "parleyd", "--data", "/srv/d", "--make-invite", NULL };
    CHECK_EQ_INT(config_from_args(&c, 4, argv, e_buf, sizeof e_buf), CONFIG_OK);
    CHECK_EQ_INT(c.make_invite, 1);
    CHECK_EQ_STR(c.data_dir, "/srv/d");
    config_free(&c);
}

/* Issue 16: the connection settings (listener.c). */
TEST(connection_keys) {
    server_config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.auth_timeout, 10);
    CHECK_EQ_INT(c.max_conns_per_source, 64);
    CHECK(c.trusted_proxies == NULL);
    CHECK_EQ_INT(config_apply_text(&c, "auth_timeout_seconds = 3\n"
                                   "max_connections_per_source = 5\n"
                                   "trusted_proxies = 127.0.0.1, 10.0.0.0/8 ::1\n",
                                   "n.conf", err, sizeof err), 0);
    CHECK_EQ_INT(c.auth_timeout, 3);
    CHECK_EQ_INT(c.max_conns_per_source, 5);
    CHECK_EQ_STR(c.trusted_proxies, "127.0.0.1, 10.0.0.0/8 ::1");
    /* refused, and the value stays */
    const char *bad[] = { "auth_timeout_seconds = 0\n", "auth_timeout_seconds = 3601\n",
                          "max_connections_per_source = 0\n",
                          "trusted_proxies = 10.0.0.1/8\n",   /* host bits past the prefix */
                          "trusted_proxies = 127.0.0.1, example.org\n",
                          "trusted_proxies = 10.0.0.0/33\n", "trusted_proxies = ::1/129\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(config_apply_text(&c, bad[i], "n.conf", err, sizeof err), -1);
        CHECK(strstr(err, "bad value") != NULL);
    }
    CHECK_EQ_INT(c.auth_timeout, 3);
    CHECK_EQ_INT(c.max_conns_per_source, 5);
    CHECK_EQ_STR(c.trusted_proxies, "127.0.0.1, 10.0.0.0/8 ::1");
    /* an empty list: no trusted proxy */
    CHECK_EQ_INT(config_apply_text(&c, "trusted_proxies =\n", "n.conf", err, sizeof err), 0);
    CHECK(c.trusted_proxies == NULL);
    config_free(&c);
}

int main(void) {
    RUN(defaults);
    RUN(listen_forms);
    RUN(file_text);
    RUN(file_errors);
    RUN(args_override_file);
    RUN(args_errors);
    RUN(web_dir);
    RUN(abuse_limits);
    RUN(secret_inbox_caps);
    RUN(secret_abuse_keys);
    RUN(group_call_keys);
    RUN(connection_keys);
    return UNIT_DONE("server_config");
}
