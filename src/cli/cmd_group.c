/*
 * cmd_group.c: `parley group ...`: create, add, remove, leave, rename, members, admin and
 * unadmin. Each subcommand has its own help page ("group add") and checks its arguments
 * before any network work. Commands that change a group print its new state.
 */
#include <string.h>

#include "cli.h"

/* Checks a list of "@user" arguments ('@' optional). Returns 0 or an exit code. */
static int check_users(cli_ctx *ctx, const char *cmd, char **users, int n)
{
    for (int i = 0; i < n; i++) {
        const char *u = users[i][0] == '@' ? users[i] + 1 : users[i];
        if (!*u)
            return cli_usage(ctx, cmd, "'@' needs a username after it");
    }
    return 0;
}

/* The subject for error messages: the user if there is exactly one. */
static const char *one_user(char **users, int n)
{
    return n == 1 ? users[0] : NULL;
}

static int group_create(cli_ctx *ctx, const char *cmd, char **argv, int npos)
{
    if (npos < 1)
        return cli_usage(ctx, cmd, "TITLE missing");
    int rc = check_users(ctx, cmd, argv + 1, npos - 1);
    parley_client *c;
    if (rc || (rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    parley_chat *ch = NULL;
    if (parley_group_create(c, argv[0], (const char *const *)(argv + 1), (size_t)npos - 1,
                            &ch, &err) != 0)
        return cli_fail(ctx, &err, one_user(argv + 1, npos - 1));
    out_chat(ctx, ch);
    parley_chat_free(ch);
    return 0;
}

/* add / remove / admin / unadmin: CHAT @user... */
static int group_members_change(cli_ctx *ctx, const char *cmd, const char *sub, char **argv,
                                int npos)
{
    int single = strcmp(sub, "admin") == 0 || strcmp(sub, "unadmin") == 0;
    if (npos < 2)
        return cli_usage(ctx, cmd, "needs CHAT and %s", single ? "@user" : "@user...");
    if (single && npos > 2)
        return cli_usage(ctx, cmd, "one user at a time");
    int64_t chat;
    int rc = check_users(ctx, cmd, argv + 1, npos - 1);
    if (rc || (rc = cli_resolve_chat(ctx, cmd, argv[0], &chat)) != 0)
        return rc;
    parley_error err = {0};
    const char *const *users = (const char *const *)(argv + 1);
    size_t n = (size_t)npos - 1;
    int r;
    if (strcmp(sub, "add") == 0)
        r = parley_group_add(ctx->client, chat, users, n, &err);
    else if (strcmp(sub, "remove") == 0)
        r = parley_group_remove(ctx->client, chat, users, n, &err);
    else
        r = parley_group_set_role(ctx->client, chat, users[0],
                                  strcmp(sub, "admin") == 0 ? PARLEY_ROLE_ADMIN
                                                            : PARLEY_ROLE_MEMBER, &err);
    if (r != 0) {
        /* Errors about the chat name the chat; USER_NOT_FOUND names the user. */
        int code = err.code < 0 ? -err.code : err.code;
        return cli_fail(ctx, &err, code == PARLEY_E_USER_NOT_FOUND ? one_user(argv + 1, npos - 1)
                                                                   : argv[0]);
    }
    return cli_show_chat(ctx, chat, argv[0]);
}

static int group_leave(cli_ctx *ctx, const char *cmd, char **argv, int npos)
{
    if (npos != 1)
        return cli_usage(ctx, cmd, npos ? "too many arguments" : "CHAT missing");
    int64_t chat;
    int rc = cli_resolve_chat(ctx, cmd, argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_group_leave(ctx->client, chat, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    out_ok(ctx, "left the group");
    return 0;
}

static int group_rename(cli_ctx *ctx, const char *cmd, char **argv, int npos)
{
    if (npos != 2)
        return cli_usage(ctx, cmd, npos > 2 ? "too many arguments: quote the title"
                                            : "needs CHAT and TITLE");
    int64_t chat;
    int rc = cli_resolve_chat(ctx, cmd, argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_group_rename(ctx->client, chat, argv[1], &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    return cli_show_chat(ctx, chat, argv[0]);
}

static int group_members(cli_ctx *ctx, const char *cmd, char **argv, int npos)
{
    if (npos != 1)
        return cli_usage(ctx, cmd, npos ? "too many arguments" : "CHAT missing");
    int64_t chat;
    int rc = cli_resolve_chat(ctx, cmd, argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_member *m = NULL;
    size_t n = 0;
    if (parley_group_members(ctx->client, chat, &m, &n, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    for (size_t i = 0; i < n; i++) {
        const char *role = role_name(m[i].role);
        if (ctx->json) {
            out_json(json_pack("{s:s,s:I,s:I,s:s?,s:s?}", "type", "member",
                               "chat", (json_int_t)chat, "id", (json_int_t)m[i].user.id,
                               "username", m[i].user.username, "role", role));
        } else {
            print_safe(stdout, m[i].user.username ? m[i].user.username : "?");
            printf("  %s\n", role ? role : "?");
        }
    }
    parley_members_free(m, n);
    return 0;
}

int cmd_group(cli_ctx *ctx, int argc, char **argv)
{
    static const char *const subs[] = {"create", "add", "remove", "leave", "rename",
                                       "members", "admin", "unadmin"};
    const char *sub = NULL;
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i]) == 0)
            sub = subs[i];
    int npos, rc;
    if (!sub) {
        rc = cli_parse(ctx, "group", argc, argv, NULL, 0, &npos);
        if (rc)
            return rc == 1 ? 0 : rc;
        return npos ? cli_usage(ctx, "group", "unknown subcommand '%s'", argv[0])
                    : cli_usage(ctx, "group", "subcommand missing");
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "group %s", sub);
    rc = cli_parse(ctx, cmd, argc - 1, argv + 1, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    argv++;   /* the positionals now start at argv[0] */
    if (strcmp(sub, "create") == 0)
        return group_create(ctx, cmd, argv, npos);
    if (strcmp(sub, "leave") == 0)
        return group_leave(ctx, cmd, argv, npos);
    if (strcmp(sub, "rename") == 0)
        return group_rename(ctx, cmd, argv, npos);
    if (strcmp(sub, "members") == 0)
        return group_members(ctx, cmd, argv, npos);
    return group_members_change(ctx, cmd, sub, argv, npos);
}
