/*
 * cmd_account.c: account and session commands: register, login, logout, whoami, sessions.
 *
 * The password is read before any network work (so a prompt never races a timeout), kept
 * in one stack buffer, and wiped as soon as the library has used it.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Longer than the server's 1024-byte limit, so the server's rule decides, not truncation. */
#define PASSWORD_BUF 1100

/* Prints the logged-in user. The session id is not part of parley_me(), so it comes from
 * the session list (which also proves the session is alive on the server). */
static int print_user(cli_ctx *ctx, parley_client *c, const char *verb)
{
    parley_error err = {0};
    parley_session *s = NULL;
    size_t n = 0;
    int64_t sid = 0;
    if (parley_sessions(c, &s, &n, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    for (size_t i = 0; i < n; i++)
        if (s[i].current)
            sid = s[i].id;
    parley_sessions_free(s, n);

    const parley_user *me = parley_me(c);
    if (!me)
        return cli_error(ctx, CLI_EXIT_FAIL, "INTERNAL", "the library did not report the "
                         "logged-in user");
    if (ctx->json) {
        json_t *o = json_pack("{s:s,s:I,s:s?,s:o}", "type", "user", "id", (json_int_t)me->id,
                              "username", me->username,
                              "session", sid ? json_integer(sid) : json_null());
        out_json(o);
    } else {
        printf("%s%s (user id %lld, session %lld)\n", verb, me->username ? me->username : "?",
               (long long)me->id, (long long)sid);
    }
    return 0;
}

static int authenticate(cli_ctx *ctx, const char *cmd, int argc, char **argv, int is_register)
{
    int npos, rc = cli_parse(ctx, cmd, argc, argv, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos != 1)
        return cli_usage(ctx, cmd, npos ? "too many arguments" : "USERNAME missing");
    const char *username = argv[0][0] == '@' ? argv[0] + 1 : argv[0];

    char pw[PASSWORD_BUF];
    if ((rc = cli_password(ctx, is_register, pw, sizeof pw)) != 0)
        return rc;
    parley_client *c;
    if ((rc = cli_client(ctx, 0, &c)) != 0) {
        explicit_bzero(pw, sizeof pw);
        return rc;
    }
    parley_error err = {0};
    /* A server with registration = invite wants the code its operator handed out. */
    int r = is_register ? parley_register_invite(c, username, pw, getenv("PARLEY_INVITE"), &err)
                        : parley_login(c, username, pw, &err);
    explicit_bzero(pw, sizeof pw);
    if (r != 0)
        return cli_fail(ctx, &err, NULL);
    return print_user(ctx, c, is_register ? "registered and logged in as " : "logged in as ");
}

int cmd_register(cli_ctx *ctx, int argc, char **argv)
{
    return authenticate(ctx, "register", argc, argv, 1);
}

int cmd_login(cli_ctx *ctx, int argc, char **argv)
{
    return authenticate(ctx, "login", argc, argv, 0);
}

int cmd_logout(cli_ctx *ctx, int argc, char **argv)
{
    int npos, rc = cli_parse(ctx, "logout", argc, argv, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos)
        return cli_usage(ctx, "logout", "takes no arguments");
    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    if (parley_logout(c, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    out_ok(ctx, "logged out");
    return 0;
}

int cmd_whoami(cli_ctx *ctx, int argc, char **argv)
{
    int npos, rc = cli_parse(ctx, "whoami", argc, argv, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos)
        return cli_usage(ctx, "whoami", "takes no arguments");
    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    if (parley_connect(c, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    return print_user(ctx, c, "");
}

static void print_session(const cli_ctx *ctx, const parley_session *s)
{
    if (ctx->json) {
        out_json(json_pack("{s:s,s:I,s:s?,s:I,s:I,s:b}", "type", "session",
                           "id", (json_int_t)s->id, "device", s->device,
                           "created", (json_int_t)s->created,
                           "last_active", (json_int_t)s->last_active, "current", s->current));
        return;
    }
    char created[64], active[64];
    format_time(s->created, created, sizeof created);
    format_time(s->last_active, active, sizeof active);
    printf("%s %lld  ", s->current ? "*" : " ", (long long)s->id);
    print_safe(stdout, s->device ? s->device : "?");
    printf("  (since %s, last active %s)%s\n", created, active,
           s->current ? "  <- this device" : "");
}

static int sessions_terminate(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "sessions terminate";
    cli_opt opts[] = {{"others", 0, NULL}};
    int npos, rc = cli_parse(ctx, cmd, argc, argv, opts, 1, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    int64_t id = 0;
    if (opts[0].value) {
        if (npos)
            return cli_usage(ctx, cmd, "give either SESSION_ID or --others");
    } else if (npos != 1) {
        return cli_usage(ctx, cmd, npos ? "too many arguments" : "SESSION_ID or --others "
                         "missing");
    } else if (cli_parse_id(argv[0], &id) != 0) {
        return cli_usage(ctx, cmd, "SESSION_ID must be a positive number, not '%s'", argv[0]);
    }
    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    if (parley_sessions_terminate(c, id, &ids, &n, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    if (ctx->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
            json_array_append_new(a, json_integer((json_int_t)ids[i]));
        out_json(json_pack("{s:s,s:o}", "type", "terminated", "ids", a));
    } else if (n == 0) {
        printf("no sessions terminated\n");
    } else {
        printf("terminated:");
        for (size_t i = 0; i < n; i++)
            printf(" %lld", (long long)ids[i]);
        printf("\n");
    }
    free(ids);
    return 0;
}

int cmd_sessions(cli_ctx *ctx, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "terminate") == 0)
        return sessions_terminate(ctx, argc - 1, argv + 1);
    int npos, rc = cli_parse(ctx, "sessions", argc, argv, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos)
        return cli_usage(ctx, "sessions", "unknown subcommand '%s'", argv[0]);
    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    parley_session *s = NULL;
    size_t n = 0;
    if (parley_sessions(c, &s, &n, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    for (size_t i = 0; i < n; i++)
        print_session(ctx, &s[i]);
    parley_sessions_free(s, n);
    return 0;
}
