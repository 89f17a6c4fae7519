/*
 * cmd_chat.c: message and chat commands: send, edit, delete, read, history, chats and
 * `chat autodelete`.
 *
 * Each handler checks all of its arguments before it opens the client, so a typo is a
 * usage error (exit 2) that never touches the network or the profile. Text is passed to
 * the library exactly as given; the library and the server judge its UTF-8 and length.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Shorthand for the common "parse, help exits 0" step. */
#define PARSE_OR_RETURN(ctx, cmd, argc, argv, opts, nopts, npos)                              \
    do {                                                                                  \
        int parse_rc_ = cli_parse(ctx, cmd, argc, argv, opts, nopts, npos);               \
        if (parse_rc_)                                                                    \
            return parse_rc_ == 1 ? 0 : parse_rc_;                                        \
    } while (0)

int cmd_send(cli_ctx *ctx, int argc, char **argv)
{
    cli_opt opts[] = {{"reply-to", 1, NULL}, {"ttl", 1, NULL}};
    int npos;
    PARSE_OR_RETURN(ctx, "send", argc, argv, opts, 2, &npos);
    if (npos < 2)
        return cli_usage(ctx, "send", npos ? "TEXT missing" : "CHAT and TEXT missing");
    if (npos > 2)
        return cli_usage(ctx, "send", "too many arguments: quote the text");
    parley_send_options so = {0};
    if (opts[0].value && cli_parse_id(opts[0].value, &so.reply_to) != 0)
        return cli_usage(ctx, "send", "--reply-to needs a message id, not '%s'", opts[0].value);
    if (opts[1].value && cli_parse_duration(opts[1].value, 0, CLI_MAX_TIMER, &so.ttl) != 0)
        return cli_usage(ctx, "send", "--ttl needs seconds (or 30s/5m/1h/1d/1w, at most 1 "
                         "year), not '%s'", opts[1].value);

    int64_t chat;
    int rc = cli_resolve_chat(ctx, "send", argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_message *m = NULL;
    if (parley_send(ctx->client, chat, argv[1], &so, &m, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    if (m)
        out_message(ctx, m, "message");
    parley_message_free(m);
    return 0;
}

int cmd_edit(cli_ctx *ctx, int argc, char **argv)
{
    int npos;
    PARSE_OR_RETURN(ctx, "edit", argc, argv, NULL, 0, &npos);
    if (npos != 3)
        return cli_usage(ctx, "edit", npos > 3 ? "too many arguments: quote the text"
                                               : "needs CHAT ID TEXT");
    int64_t id, chat;
    if (cli_parse_id(argv[1], &id) != 0)
        return cli_usage(ctx, "edit", "ID must be a message id, not '%s'", argv[1]);
    int rc = cli_resolve_chat(ctx, "edit", argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_message *m = NULL;
    if (parley_edit(ctx->client, chat, id, argv[2], &m, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    if (m)
        out_message(ctx, m, "edit");
    parley_message_free(m);
    return 0;
}

int cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
    cli_opt opts[] = {{"for-everyone", 0, NULL}};
    int npos;
    PARSE_OR_RETURN(ctx, "delete", argc, argv, opts, 1, &npos);
    if (npos < 2)
        return cli_usage(ctx, "delete", "needs CHAT and at least one message ID");
    size_t n = (size_t)npos - 1;
    if (n > 100)
        return cli_usage(ctx, "delete", "at most 100 ids at a time");
    int64_t ids[100];
    for (size_t i = 0; i < n; i++)
        if (cli_parse_id(argv[i + 1], &ids[i]) != 0)
            return cli_usage(ctx, "delete", "ID must be a message id, not '%s'", argv[i + 1]);
    int for_everyone = opts[0].value != NULL;

    int64_t chat;
    int rc = cli_resolve_chat(ctx, "delete", argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_delete(ctx->client, chat, ids, n, for_everyone, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    if (ctx->json) {
        out_json(json_deletion(chat, ids, n, for_everyone));
    } else {
        printf("deleted%s:", for_everyone ? " for everyone" : " for you");
        for (size_t i = 0; i < n; i++)
            printf(" [%lld]", (long long)ids[i]);
        printf("\n");
    }
    return 0;
}

int cmd_read(cli_ctx *ctx, int argc, char **argv)
{
    int npos;
    PARSE_OR_RETURN(ctx, "read", argc, argv, NULL, 0, &npos);
    if (npos < 1 || npos > 2)
        return cli_usage(ctx, "read", npos ? "too many arguments" : "CHAT missing");
    int64_t max_id = 0, chat;
    if (npos == 2 && cli_parse_id(argv[1], &max_id) != 0)
        return cli_usage(ctx, "read", "ID must be a message id, not '%s'", argv[1]);
    int rc = cli_resolve_chat(ctx, "read", argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_read(ctx->client, chat, max_id, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    if (!max_id) {
        /* "Everything": report the id the server actually recorded. */
        parley_chat *ch = NULL;
        if (parley_chat_get(ctx->client, chat, &ch, &err) != 0)
            return cli_fail(ctx, &err, argv[0]);
        max_id = ch->read_inbox_max_id ? ch->read_inbox_max_id : ch->top_message_id;
        parley_chat_free(ch);
    }
    const parley_user *me = parley_me(ctx->client);
    const char *by = me && me->username ? me->username : NULL;
    if (ctx->json)
        out_json(json_read(chat, by, max_id));
    else
        printf("#%lld read up to [%lld]\n", (long long)chat, (long long)max_id);
    return 0;
}

int cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    cli_opt opts[] = {{"limit", 1, NULL}, {"before", 1, NULL}};
    int npos;
    PARSE_OR_RETURN(ctx, "history", argc, argv, opts, 2, &npos);
    if (npos != 1)
        return cli_usage(ctx, "history", npos ? "too many arguments" : "CHAT missing");
    long long limit = 50;
    int64_t before = 0, chat;
    if (opts[0].value && cli_parse_range(opts[0].value, 1, 200, &limit) != 0)
        return cli_usage(ctx, "history", "--limit must be 1..200, not '%s'", opts[0].value);
    if (opts[1].value && cli_parse_id(opts[1].value, &before) != 0)
        return cli_usage(ctx, "history", "--before needs a message id, not '%s'",
                         opts[1].value);
    int rc = cli_resolve_chat(ctx, "history", argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_message *v = NULL;
    size_t n = 0;
    if (parley_history(ctx->client, chat, (uint32_t)limit, before, &v, &n, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    for (size_t i = 0; i < n; i++)
        out_message(ctx, &v[i], "message");
    parley_messages_free(v, n);
    return 0;
}

int cmd_chats(cli_ctx *ctx, int argc, char **argv)
{
    int npos;
    PARSE_OR_RETURN(ctx, "chats", argc, argv, NULL, 0, &npos);
    if (npos)
        return cli_usage(ctx, "chats", "takes no arguments");
    parley_client *c;
    int rc = cli_client(ctx, 1, &c);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_chat *v = NULL;
    size_t n = 0;
    if (parley_chats(c, &v, &n, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    for (size_t i = 0; i < n; i++)
        out_chat(ctx, &v[i]);
    if (n == 0 && !ctx->json)
        printf("no chats yet: `parley send @USER TEXT` starts one\n");
    parley_chats_free(v, n);
    return 0;
}

/* Prints the current state of a chat after a change (group and chat commands). */
int cli_show_chat(cli_ctx *ctx, int64_t chat, const char *subject)
{
    parley_error err = {0};
    parley_chat *ch = NULL;
    if (parley_chat_get(ctx->client, chat, &ch, &err) != 0)
        return cli_fail(ctx, &err, subject);
    out_chat(ctx, ch);
    parley_chat_free(ch);
    return 0;
}

int cmd_chat(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "autodelete") != 0) {
        int npos;
        PARSE_OR_RETURN(ctx, "chat", argc, argv, NULL, 0, &npos);
        return cli_usage(ctx, "chat", npos ? "unknown subcommand '%s'" : "subcommand missing",
                         npos ? argv[0] : "");
    }
    const char *cmd = "chat autodelete";
    int npos;
    PARSE_OR_RETURN(ctx, cmd, argc - 1, argv + 1, NULL, 0, &npos);
    argv++;
    if (npos != 2)
        return cli_usage(ctx, cmd, "needs CHAT and SECONDS (or off)");
    uint32_t secs;
    if (cli_parse_duration(argv[1], 1, CLI_MAX_TIMER, &secs) != 0)
        return cli_usage(ctx, cmd, "needs seconds, 30s/5m/1h/1d/1w (at most 1 year) or off, "
                         "not '%s'", argv[1]);
    int64_t chat;
    int rc = cli_resolve_chat(ctx, cmd, argv[0], &chat);
    if (rc)
        return rc;
    parley_error err = {0};
    if (parley_chat_autodelete(ctx->client, chat, secs, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    return cli_show_chat(ctx, chat, argv[0]);
}
