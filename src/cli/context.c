/*
 * context.c: the CLI's libparley client and its error reporting.
 *
 * Every command reports failure the same way, as the contract requires: ONE line on stderr
 * (`parley: <message>`), with --json also a `{"error":{"code":..,"message":..}}` line, and an
 * exit code that tells scripts what kind of problem it was (1 server/local, 2 usage,
 * 3 connection/TLS). The library's message is used unless the CLI can say something more
 * useful to a person (what to run next, the certificate fingerprint to check).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int exit_code_for(int code)
{
    switch (code) {
    case PARLEY_E_CONNECT:
    case PARLEY_E_TLS_UNTRUSTED:
    case PARLEY_E_TIMEOUT:
    case PARLEY_E_PROTOCOL:
    case PARLEY_E_UNSUPPORTED_VERSION:
        return CLI_EXIT_CONN;
    case PARLEY_E_ARGUMENT:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FAIL;
    }
}

/* Writes the error line(s). name is the machine-readable code for the JSON line. */
static void report(const cli_ctx *ctx, const char *name, const char *msg)
{
    fflush(stdout);   /* keep stdout lines printed before the error in order on a tty */
    fprintf(stderr, "parley: %s\n", msg);
    if (ctx && ctx->json) {
        json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", name, "message", msg);
        if (o) {
            char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (s)
                fprintf(stderr, "%s\n", s);
            free(s);
            json_decref(o);
        }
    }
}

/* The library's own text, or a fallback when it left none. */
static const char *lib_text(const parley_error *err, const char *fallback)
{
    return err->message[0] ? err->message : fallback;
}

int cli_fail(cli_ctx *ctx, const parley_error *err, const char *subject)
{
    char msg[512];
    int code = err->code < 0 ? -err->code : err->code;
    switch (code) {
    case PARLEY_E_NO_SESSION:
        snprintf(msg, sizeof msg, "not logged in: run `parley login USERNAME`");
        break;
    case PARLEY_E_SESSION_TERMINATED:
        /* Ended here or on another device, or a token the server does not know (it cannot
         * tell these apart): the profile has forgotten it either way. */
        snprintf(msg, sizeof msg, "this device's session was terminated (or is unknown to the "
                 "server): run `parley login USERNAME`");
        break;
    case PARLEY_E_TLS_UNTRUSTED:
        snprintf(msg, sizeof msg, "server certificate not trusted (SHA-256 fingerprint %s); "
                 "if that is your server's certificate, pass it with --ca FILE",
                 err->fingerprint[0] ? err->fingerprint : "unknown");
        break;
    case PARLEY_E_CONNECT:
        snprintf(msg, sizeof msg, "server unreachable: %s", lib_text(err, "cannot connect"));
        break;
    case PARLEY_E_TIMEOUT:
        snprintf(msg, sizeof msg, "no answer from the server in time (%s)",
                 lib_text(err, "timeout"));
        break;
    case PARLEY_E_USER_NOT_FOUND:
        if (subject)
            snprintf(msg, sizeof msg, "unknown user %s", subject);
        else
            snprintf(msg, sizeof msg, "unknown user: %s", lib_text(err, "no such user"));
        break;
    case PARLEY_E_CHAT_NOT_FOUND:
        if (subject)
            snprintf(msg, sizeof msg, "unknown chat %s (or you are not in it)", subject);
        else
            snprintf(msg, sizeof msg, "unknown chat: %s", lib_text(err, "no such chat"));
        break;
    case PARLEY_E_FLOOD_WAIT:
        snprintf(msg, sizeof msg, "too many requests: try again in %u s",
                 (unsigned)err->retry_after);
        break;
    case PARLEY_E_ALREADY_AUTHENTICATED:
        snprintf(msg, sizeof msg, "already logged in on this profile: run `parley logout` "
                 "first, or use another --profile");
        break;
    case PARLEY_E_INVALID_CREDENTIALS:
        snprintf(msg, sizeof msg, "wrong username or password");
        break;
    default:
        snprintf(msg, sizeof msg, "%s", lib_text(err, parley_code_name(code)));
        break;
    }
    report(ctx, parley_code_name(code), msg);
    return exit_code_for(code);
}

int cli_usage(cli_ctx *ctx, const char *cmd, const char *fmt, ...)
{
    char msg[512], line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        snprintf(line, sizeof line, "%s: %s (see `parley %s --help`)", cmd, msg, cmd);
    else
        snprintf(line, sizeof line, "%s (see `parley --help`)", msg);
    report(ctx, "USAGE", line);
    return CLI_EXIT_USAGE;
}

int cli_error(cli_ctx *ctx, int code, const char *name, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(ctx, name, msg);
    return code;
}

int cli_client(cli_ctx *ctx, int need_session, parley_client **out)
{
    parley_error err = {0};
    if (!ctx->client) {
        parley_options opt = {0};
        opt.profile_dir = ctx->profile;
        opt.server_url = ctx->server;
        opt.ca_file = ctx->ca;
        opt.client_name = "parley-cli/" PARLEY_VERSION;
        opt.timeout_ms = ctx->timeout_ms;
        ctx->client = parley_open(NULL, &opt, &err);
        if (!ctx->client)
            return cli_fail(ctx, &err, NULL);
    }
    if (need_session && !parley_logged_in(ctx->client)) {
        err.code = PARLEY_E_NO_SESSION;
        return cli_fail(ctx, &err, NULL);
    }
    *out = ctx->client;
    return 0;
}

int cli_resolve_chat(cli_ctx *ctx, const char *cmd, const char *arg, int64_t *chat_id)
{
    int64_t id;
    if (arg[0] != '@' && cli_parse_id(arg, &id) != 0)
        return cli_usage(ctx, cmd, "CHAT must be @username or a chat id, not '%s'", arg);
    if (arg[0] == '@' && arg[1] == '\0')
        return cli_usage(ctx, cmd, "'@' needs a username after it");
    parley_client *c;
    int rc = cli_client(ctx, 1, &c);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_resolve_chat(c, arg, chat_id, &err) != 0)
        return cli_fail(ctx, &err, arg);
    return 0;
}
