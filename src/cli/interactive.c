/*
 * interactive.c: `parley` without a command: a line-based chat for a person.
 *
 * libparley starts no threads, so one loop alternates between a short poll() on stdin and
 * a short parley_next_update(); whichever has something is handled, and neither wait is
 * long enough for the other side to feel slow. stdin is read with read() into our own line
 * buffer rather than stdio, because stdio could hold a typed line in its buffer where
 * poll() cannot see it.
 *
 * Plain lines go to the open chat; lines starting with '/' are commands (`//` sends a
 * literal '/'). Updates of the open chat are shown in full and mark it read; updates of
 * other chats are shown with their chat id so the person can /open it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define STDIN_POLL_MS 50
#define UPDATE_WAIT_MS 150
/* Room for the longest message (4096 code points of up to 4 bytes) plus a command. */
#define LINE_MAX_BYTES 16600
#define DEFAULT_HISTORY 20
/* How many recently printed message ids of the open chat are remembered (see ia_state). */
#define SHOWN_IDS 256

typedef struct {
    cli_ctx *ctx;
    parley_client *c;
    int64_t open_chat;      /* 0 = none */
    /* Message ids of the open chat printed lately (our own sends, the history we showed):
     * a new-message update for one of them is not printed again. A set, not a maximum:
     * another member's message may get a lower id than ours yet arrive after it. */
    int64_t shown[SHOWN_IDS];
    size_t n_shown;         /* total ever added; the ring holds the last SHOWN_IDS */
    char line[LINE_MAX_BYTES + 1];
    size_t line_len;
    int line_too_long;      /* dropping the rest of an overlong line */
    int quit;               /* 0 = go on, else 1 + exit code */
    int last_error;         /* last update error reported, so a down server is said once */
} ia_state;

static void ia_remember(ia_state *st, int64_t id)
{
    st->shown[st->n_shown++ % SHOWN_IDS] = id;
}

static int ia_was_shown(const ia_state *st, int64_t id)
{
    size_t n = st->n_shown < SHOWN_IDS ? st->n_shown : SHOWN_IDS;
    for (size_t i = 0; i < n; i++)
        if (st->shown[i] == id)
            return 1;
    return 0;
}

/* Reports a library error in one line; a terminated session ends the program. */
static void ia_fail(ia_state *st, const parley_error *err, const char *subject)
{
    int rc = cli_fail(st->ctx, err, subject);
    int code = err->code < 0 ? -err->code : err->code;
    if (code == PARLEY_E_SESSION_TERMINATED || code == PARLEY_E_NO_SESSION)
        st->quit = 1 + rc;
}

static void ia_help(void)
{
    puts("Type a line to send it to the open chat. Commands:\n"
         "  /chats                 list your chats\n"
         "  /open @user | ID       open a private chat or a chat by its [id]\n"
         "  /history [N]           show the last N messages (default 20)\n"
         "  /reply ID text         reply to message ID\n"
         "  /edit ID text          replace the text of your message ID\n"
         "  /delete ID...          delete messages for everyone\n"
         "  /hide ID...            delete messages for you only\n"
         "  /read                  mark the open chat read\n"
         "  /members               list the members of the open group\n"
         "  /help   /quit          (a line starting with // sends a literal /)");
}

static void ia_chats(ia_state *st)
{
    parley_error err = {0};
    parley_chat *v = NULL;
    size_t n = 0;
    if (parley_chats(st->c, &v, &n, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    if (n == 0)
        puts("no chats yet: /open @user to start one");
    for (size_t i = 0; i < n; i++)
        print_chat(stdout, &v[i]);
    parley_chats_free(v, n);
}

/* Shows the newest `limit` messages of the open chat. */
static void ia_history(ia_state *st, uint32_t limit)
{
    parley_error err = {0};
    parley_message *v = NULL;
    size_t n = 0;
    if (parley_history(st->c, st->open_chat, limit, 0, &v, &n, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        print_message(stdout, &v[i], 0, NULL);
        ia_remember(st, v[i].id);
    }
    parley_messages_free(v, n);
}

static void ia_mark_read(ia_state *st, int64_t max_id)
{
    parley_error err = {0};
    if (parley_read(st->c, st->open_chat, max_id, &err) != 0)
        ia_fail(st, &err, NULL);
}

static void ia_open(ia_state *st, const char *arg)
{
    int64_t id, chat;
    if (!*arg || (arg[0] != '@' && cli_parse_id(arg, &id) != 0) ||
        (arg[0] == '@' && !arg[1])) {
        puts("usage: /open @user or /open ID (the [id] shown by /chats)");
        return;
    }
    parley_error err = {0};
    if (parley_resolve_chat(st->c, arg, &chat, &err) != 0) {
        ia_fail(st, &err, arg);
        return;
    }
    parley_chat *ch = NULL;
    if (parley_chat_get(st->c, chat, &ch, &err) != 0) {
        ia_fail(st, &err, arg);
        return;
    }
    st->open_chat = chat;
    st->n_shown = 0;
    fputs("--- ", stdout);
    print_chat(stdout, ch);
    parley_chat_free(ch);
    ia_history(st, DEFAULT_HISTORY);
    ia_mark_read(st, 0);
}

static int ia_need_chat(const ia_state *st)
{
    if (st->open_chat)
        return 1;
    puts("no chat open: /open @user or /open ID first");
    return 0;
}

static void ia_send(ia_state *st, const char *text, int64_t reply_to)
{
    if (!ia_need_chat(st))
        return;
    parley_send_options so = {.reply_to = reply_to};
    parley_error err = {0};
    parley_message *m = NULL;
    if (parley_send(st->c, st->open_chat, text, &so, &m, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    if (m) {
        print_message(stdout, m, 0, NULL);
        ia_remember(st, m->id);
    }
    parley_message_free(m);
}

/* Splits "ID rest" into an id and the rest; returns 0 on success. */
static int split_id(char *arg, int64_t *id, char **rest)
{
    char *sp = strchr(arg, ' ');
    if (!sp)
        return -1;
    *sp = '\0';
    *rest = sp + 1;
    return cli_parse_id(arg, id) == 0 && **rest ? 0 : -1;
}

static void ia_edit(ia_state *st, char *arg)
{
    int64_t id;
    char *text;
    if (!ia_need_chat(st))
        return;
    if (split_id(arg, &id, &text) != 0) {
        puts("usage: /edit ID text");
        return;
    }
    parley_error err = {0};
    parley_message *m = NULL;
    if (parley_edit(st->c, st->open_chat, id, text, &m, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    if (m)
        print_message(stdout, m, 0, "edited");
    parley_message_free(m);
}

static void ia_delete(ia_state *st, char *arg, int for_everyone)
{
    int64_t ids[100];
    size_t n = 0;
    if (!ia_need_chat(st))
        return;
    for (char *save = NULL, *tok = strtok_r(arg, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (n == 100 || cli_parse_id(tok, &ids[n]) != 0) {
            puts("usage: /delete ID... (up to 100 message ids)");
            return;
        }
        n++;
    }
    if (n == 0) {
        puts(for_everyone ? "usage: /delete ID..." : "usage: /hide ID...");
        return;
    }
    parley_error err = {0};
    if (parley_delete(st->c, st->open_chat, ids, n, for_everyone, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    printf("deleted%s:", for_everyone ? " for everyone" : " for you");
    for (size_t i = 0; i < n; i++)
        printf(" [%lld]", (long long)ids[i]);
    putchar('\n');
}

static void ia_members(ia_state *st)
{
    if (!ia_need_chat(st))
        return;
    parley_error err = {0};
    parley_member *m = NULL;
    size_t n = 0;
    if (parley_group_members(st->c, st->open_chat, &m, &n, &err) != 0) {
        ia_fail(st, &err, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *role = role_name(m[i].role);
        fputs("  ", stdout);
        print_safe(stdout, m[i].user.username ? m[i].user.username : "?");
        printf("  %s\n", role ? role : "");
    }
    parley_members_free(m, n);
}

/* Handles one "/command args" line. */
static void ia_command(ia_state *st, char *line)
{
    char *arg = strchr(line, ' ');
    if (arg) {
        *arg++ = '\0';
        while (*arg == ' ')
            arg++;
    } else {
        arg = line + strlen(line);
    }
    int64_t id;
    char *text;
    if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
        st->quit = 1;
    } else if (!strcmp(line, "/help")) {
        ia_help();
    } else if (!strcmp(line, "/chats")) {
        ia_chats(st);
    } else if (!strcmp(line, "/open")) {
        ia_open(st, arg);
    } else if (!strcmp(line, "/history")) {
        long long n = DEFAULT_HISTORY;
        if (*arg && cli_parse_range(arg, 1, 200, &n) != 0)
            puts("usage: /history [N]  (N = 1..200)");
        else if (ia_need_chat(st))
            ia_history(st, (uint32_t)n);
    } else if (!strcmp(line, "/reply")) {
        if (split_id(arg, &id, &text) != 0)
            puts("usage: /reply ID text");
        else
            ia_send(st, text, id);
    } else if (!strcmp(line, "/edit")) {
        ia_edit(st, arg);
    } else if (!strcmp(line, "/delete") || !strcmp(line, "/hide")) {
        ia_delete(st, arg, line[1] == 'd');
    } else if (!strcmp(line, "/read")) {
        if (ia_need_chat(st))
            ia_mark_read(st, 0);
    } else if (!strcmp(line, "/members")) {
        ia_members(st);
    } else {
        printf("unknown command %s: /help lists them\n", line);
    }
}

static void ia_line(ia_state *st, char *line)
{
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0)
        return;
    if (line[0] == '/' && line[1] != '/') {
        while (len && line[len - 1] == ' ')   /* "/open @bob " still means @bob */
            line[--len] = '\0';
        ia_command(st, line);
    }
    else
        ia_send(st, line[0] == '/' ? line + 1 : line, 0);
}

/* Reads what stdin has and handles each complete line. Returns -1 at end of input. */
static int ia_read_input(ia_state *st)
{
    char buf[4096];
    ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (r == 0)
        return -1;
    for (ssize_t i = 0; i < r && !st->quit; i++) {
        if (buf[i] != '\n') {
            if (st->line_len < LINE_MAX_BYTES)
                st->line[st->line_len++] = buf[i];
            else
                st->line_too_long = 1;
            continue;
        }
        st->line[st->line_len] = '\0';
        if (st->line_too_long)
            puts("line too long: not sent");
        else
            ia_line(st, st->line);
        st->line_len = 0;
        st->line_too_long = 0;
    }
    return 0;
}

static void ia_update(ia_state *st, const parley_update *u)
{
    int64_t chat = u->message ? u->message->chat_id : u->chat ? u->chat->id : u->chat_id;
    int in_open = st->open_chat && chat == st->open_chat;
    if (u->kind == PARLEY_UPDATE_MESSAGE && in_open && u->message) {
        if (ia_was_shown(st, u->message->id))
            return;   /* already shown: our own send, or in the history we printed */
        print_message(stdout, u->message, 0, NULL);
        ia_remember(st, u->message->id);
        const parley_user *me = parley_me(st->c);
        if (!me || u->message->from_user != me->id)
            ia_mark_read(st, u->message->id);
        return;
    }
    if (u->kind == PARLEY_UPDATE_EDIT && in_open && u->message) {
        print_message(stdout, u->message, 0, "edited");
        return;
    }
    out_update(st->ctx, u);
    if (u->kind == PARLEY_UPDATE_CHAT_REMOVED && in_open)
        st->open_chat = 0;
}

/* Waits briefly for updates and shows all that arrived. */
static void ia_poll_updates(ia_state *st)
{
    int wait = UPDATE_WAIT_MS;
    while (!st->quit && !cli_stop_requested()) {
        parley_update *u = NULL;
        parley_error err = {0};
        int r = parley_next_update(st->c, wait, &u, &err);
        if (r == -PARLEY_E_TIMEOUT)
            return;
        if (r != 0) {
            if (err.code != st->last_error)
                ia_fail(st, &err, NULL);
            st->last_error = err.code;
            return;
        }
        st->last_error = 0;
        ia_update(st, u);
        parley_update_free(u);
        wait = 0;   /* drain what is already here without waiting again */
    }
}

int cmd_interactive(cli_ctx *ctx)
{
    ia_state *st = calloc(1, sizeof *st);
    if (!st)
        return cli_error(ctx, CLI_EXIT_FAIL, "NOMEM", "out of memory");
    st->ctx = ctx;
    int rc = cli_client(ctx, 1, &st->c);
    parley_error err = {0};
    if (rc == 0 && parley_connect(st->c, &err) != 0)
        rc = cli_fail(ctx, &err, NULL);
    if (rc) {
        free(st);
        return rc;
    }
    const parley_user *me = parley_me(st->c);
    printf("parley %s: logged in as %s. /help for commands, /quit to leave.\n",
           PARLEY_VERSION, me && me->username ? me->username : "?");
    ia_chats(st);
    cli_catch_stop_signals();
    while (!st->quit && !cli_stop_requested()) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int pr = poll(&p, 1, STDIN_POLL_MS);
        if (pr > 0 && ia_read_input(st) < 0)
            break;
        if (!st->quit)
            ia_poll_updates(st);
    }
    rc = st->quit > 1 ? st->quit - 1 : 0;
    free(st);
    return rc;
}
