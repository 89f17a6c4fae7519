/*
 * main.c: entry point of `parley`, the command-line client of Parley.
 *
 *   parley [--profile DIR] [--server URL] [--ca FILE] [--json] [--timeout-ms N] COMMAND ...
 *
 * Parses the global options (before the command, or after it as in `parley receive --json`;
 * text that starts with "--" goes after a "--" argument), picks the profile directory, and dispatches to the command handlers
 * in cmd_*.c; with no command it starts the interactive mode. The client a command opened
 * is closed here, which also saves the device's sync position.
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) {
        help_global(stdout);
        return 0;
    }
    char name[128];
    snprintf(name, sizeof name, "%s%s%s", argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
    if (help_command(stdout, name) != 0 && help_command(stdout, argv[1]) != 0)
        return cli_usage(ctx, NULL, "no help for unknown command '%s'", argv[1]);
    return 0;
}

static const struct {
    const char *name;
    cli_cmd_fn fn;
} commands[] = {
    {"register", cmd_register}, {"login", cmd_login}, {"logout", cmd_logout},
    {"whoami", cmd_whoami}, {"sessions", cmd_sessions}, {"send", cmd_send},
    {"edit", cmd_edit}, {"delete", cmd_delete}, {"read", cmd_read},
    {"history", cmd_history}, {"chats", cmd_chats}, {"chat", cmd_chat},
    {"receive", cmd_receive}, {"group", cmd_group}, {"secret", cmd_secret}, {"help", cmd_help},
};

/* $PARLEY_PROFILE, else ~/.parley. Returns 0 or an exit code after reporting. */
static int default_profile(cli_ctx *ctx)
{
    const char *env = getenv("PARLEY_PROFILE");
    if (env && *env) {
        ctx->profile = env;
        return 0;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
        return cli_usage(ctx, NULL, "cannot find a home directory: use --profile DIR");
    int n = snprintf(ctx->profile_buf, sizeof ctx->profile_buf, "%s/.parley", home);
    if (n < 0 || (size_t)n >= sizeof ctx->profile_buf)
        return cli_usage(ctx, NULL, "home directory path too long: use --profile DIR");
    ctx->profile = ctx->profile_buf;
    return 0;
}

/* 1 if long option `a` ("--name" or "--name=...") is `name`. */
static int is_option(const char *a, const char *name)
{
    size_t len = strlen(name);
    return strncmp(a + 2, name, len) == 0 && (a[2 + len] == '\0' || a[2 + len] == '=');
}

/* Stores the value of a global option that takes one. Returns 0 or an exit code. */
static int set_global(cli_ctx *ctx, const char *a, const char *v)
{
    if (is_option(a, "profile")) {
        if (!*v)
            return cli_usage(ctx, NULL, "--profile needs a directory");
        ctx->profile = v;
    } else if (is_option(a, "server")) {
        if (!*v)
            return cli_usage(ctx, NULL, "--server needs a URL like wss://host:port");
        ctx->server = v;
    } else if (is_option(a, "ca")) {
        if (!*v)
            return cli_usage(ctx, NULL, "--ca needs a PEM file");
        ctx->ca = v;
    } else {
        long long ms;
        if (cli_parse_range(v, 1, 86400000, &ms) != 0)
            return cli_usage(ctx, NULL, "--timeout-ms needs milliseconds (1..86400000), "
                             "not '%s'", v);
        ctx->timeout_ms = (int)ms;
    }
    return 0;
}

int cli_take_global(cli_ctx *ctx, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        ctx->json = 1;
        return 0;
    }
    if (a[0] != '-' || a[1] != '-' || !(is_option(a, "profile") || is_option(a, "server") ||
                                        is_option(a, "ca") || is_option(a, "timeout-ms")))
        return -1;
    const char *eq = strchr(a, '=');
    const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!v)
        return cli_usage(ctx, NULL, "option %s needs a value", a);
    return set_global(ctx, a, v);
}

/* Parses the global options before the command; *first receives the index of the command.
 * Returns -1 to go on, or an exit code (0 after --help / --version). */
static int parse_globals(cli_ctx *ctx, int argc, char **argv, int *first)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help_global(stdout);
            return 0;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("parley %s\n", PARLEY_VERSION);
            return 0;
        }
        int rc = cli_take_global(ctx, argc, argv, &i);
        if (rc == -1)
            return cli_usage(ctx, NULL, "unknown option '%s'", a);
        if (rc)
            return rc;
    }
    *first = i;
    return -1;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    /* Writing to a closed pipe (`parley receive --follow | head`) should end with an error
     * we can handle (and a clean close that saves the position), not a silent kill. */
    signal(SIGPIPE, SIG_IGN);
    /* Line buffering: every JSON line reaches a reading script at once (--follow). */
    setvbuf(stdout, NULL, _IOLBF, 0);

    int first = argc;
    int rc = parse_globals(&ctx, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!ctx.profile && (rc = default_profile(&ctx)) != 0)
        return rc;

    if (first >= argc) {
        if (ctx.json)
            return cli_usage(&ctx, NULL, "--json needs a command (the interactive mode is "
                             "for people)");
        rc = cmd_interactive(&ctx);
    } else {
        const char *name = argv[first];
        cli_cmd_fn fn = NULL;
        for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
            if (strcmp(commands[k].name, name) == 0)
                fn = commands[k].fn;
        if (!fn)
            rc = cli_usage(&ctx, NULL, "unknown command '%s'", name);
        else
            rc = fn(&ctx, argc - first, argv + first);
    }

    if (ctx.client)
        parley_close(ctx.client);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == 0)
            rc = CLI_EXIT_FAIL;
    }
    return rc;
}
