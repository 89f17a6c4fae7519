/*
 * cli.h: internal interface of the `parley` command-line client, shared by its modules.
 *
 * main.c parses the global options into a cli_ctx and dispatches to a cmd_* handler; every
 * handler gets the context and its own argv (argv[0] = the command name) and returns the
 * process exit code. context.c opens the libparley client on demand and turns errors into
 * the one-line reports of the CLI contract; args.c parses command options and values;
 * output.c renders library objects as JSON lines (jansson) or human text; help.c holds every
 * help text. The CLI uses only include/parley.h, jansson and libc.
 *
 * Memory: the context owns its client (closed by main at exit). Output helpers borrow the
 * objects they print; JSON builders return a new reference the caller owns.
 */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "parley.h"

/* Exit codes of the CLI contract. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,     /* the server refused, or a local problem */
    CLI_EXIT_USAGE = 2,    /* bad arguments */
    CLI_EXIT_CONN = 3,     /* server unreachable, TLS not trusted, no answer */
};

/* Largest TTL / auto-delete timer the server accepts (one year), in seconds. */
#define CLI_MAX_TIMER 31536000u

typedef struct {
    const char *profile;   /* profile directory (points into argv, env or profile_buf) */
    const char *server;    /* --server, NULL = the one the profile remembers */
    const char *ca;        /* --ca, NULL = the one the profile remembers */
    int json;              /* --json */
    int timeout_ms;        /* --timeout-ms, 0 = the library default */
    char profile_buf[4096];
    parley_client *client; /* opened by cli_client(); closed by main */
} cli_ctx;

typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

/* ---- context.c: client and error reporting ------------------------------------------- */

/* Opens the client if needed. need_session: fail with "not logged in" unless the profile
 * holds a session. Returns 0, or an exit code after reporting the error. */
int cli_client(cli_ctx *ctx, int need_session, parley_client **out);
/* Reports a library error in one line (stderr, plus a JSON line with --json) and returns
 * the exit code for it. subject (may be NULL) names what the error is about, e.g. "@bob". */
int cli_fail(cli_ctx *ctx, const parley_error *err, const char *subject);
/* Reports a usage error for `cmd` (NULL = global) with a --help hint; returns 2. */
/* If argv[*i] is a global option (--json, --profile, --server, --ca, --timeout-ms), applies
 * it, consuming its value (*i advances), and returns 0; returns -1 if it is not one, or an
 * exit code for a bad value. Globals are accepted before and after the command. */
int cli_take_global(cli_ctx *ctx, int argc, char **argv, int *i);
int cli_usage(cli_ctx *ctx, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a local failure that is not a library error (exit code `code`). */
int cli_error(cli_ctx *ctx, int code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Resolves a CHAT argument ("@user" or a positive chat id) to a chat id. Returns 0 or an
 * exit code after reporting. */
int cli_resolve_chat(cli_ctx *ctx, const char *cmd, const char *arg, int64_t *chat_id);

/* ---- args.c: options and values ------------------------------------------------------ */

typedef struct {
    const char *name;      /* long name without "--", e.g. "limit" */
    int takes_value;
    const char *value;     /* out: the value (or "" for a flag) if given, else NULL */
} cli_opt;

/* Parses argv[1..argc) of command `cmd`: options from `opts` (as --name VALUE or
 * --name=VALUE, anywhere; "--" ends options) and positionals, which are moved to
 * argv[0..*npos). -h/--help prints the help of `cmd`. Returns 0, 1 if help was printed
 * (exit 0), or an exit code (2) after reporting a usage error. */
int cli_parse(cli_ctx *ctx, const char *cmd, int argc, char **argv, cli_opt *opts,
              size_t nopts, int *npos);
/* Positive decimal integer (a message, chat or session id); 0 on success. */
int cli_parse_id(const char *s, int64_t *out);
/* Decimal integer within [min, max]; 0 on success. */
int cli_parse_range(const char *s, long long min, long long max, long long *out);
/* Duration in seconds: digits with an optional s/m/h/d/w suffix, or "off" (= 0) if
 * allow_off. 0 on success; fails above max. */
int cli_parse_duration(const char *s, int allow_off, uint32_t max, uint32_t *out);

/* ---- output.c: rendering --------------------------------------------------------------- */

/* Prints `o` as one compact JSON line on stdout and drops the reference. */
void out_json(json_t *o);
json_t *json_message(const parley_message *m, const char *type);
json_t *json_chat(const parley_chat *c);
json_t *json_deletion(int64_t chat_id, const int64_t *ids, size_t n, int for_everyone);
json_t *json_read(int64_t chat_id, const char *by, int64_t max_id);
json_t *json_type_only(const char *type);

/* Human lines. show_chat prefixes the chat id (for output mixing several chats). */
void print_message(FILE *f, const parley_message *m, int show_chat, const char *tag);
void print_chat(FILE *f, const parley_chat *c);
/* Writes text with terminal control characters replaced, so that a message cannot
 * drive the reader's terminal. */
void print_safe(FILE *f, const char *s);
/* "2026-11-22 10:01" in local time. */
void format_time(int64_t t, char *buf, size_t n);
const char *role_name(parley_role r);

/* Secret chats (cmd_secret.c): {"type":"secret_chat",...} and its human line. */
json_t *json_secret_chat(const parley_secret_chat *s);
void print_secret_chat(FILE *f, const parley_secret_chat *s);
json_t *json_sas(const parley_sas *v);
void print_sas(FILE *f, const parley_sas *v);

/* One update, in JSON or human form. Unknown kinds print nothing. */
void out_update(const cli_ctx *ctx, const parley_update *u);
/* Messages, chats: JSON line or human line. */
void out_message(const cli_ctx *ctx, const parley_message *m, const char *type);
void out_chat(const cli_ctx *ctx, const parley_chat *c);
/* {"type":"ok"} with --json, else the human line `text` (may be NULL: nothing). */
void out_ok(const cli_ctx *ctx, const char *text);

/* ---- password.c ------------------------------------------------------------------------- */

/* Reads the password from $PARLEY_PASSWORD, else prompts on /dev/tty without echo (twice if
 * confirm). buf receives a NUL-terminated string; the caller wipes it with explicit_bzero.
 * Returns 0 or an exit code after reporting. */
int cli_password(cli_ctx *ctx, int confirm, char *buf, size_t n);

/* ---- help.c ------------------------------------------------------------------------------ */

void help_global(FILE *f);
/* Prints the help of a command ("send", "group add", ...); returns -1 if unknown. */
int help_command(FILE *f, const char *cmd);

/* ---- commands ----------------------------------------------------------------------- */

int cmd_register(cli_ctx *ctx, int argc, char **argv);
int cmd_login(cli_ctx *ctx, int argc, char **argv);
int cmd_logout(cli_ctx *ctx, int argc, char **argv);
int cmd_whoami(cli_ctx *ctx, int argc, char **argv);
int cmd_sessions(cli_ctx *ctx, int argc, char **argv);
int cmd_send(cli_ctx *ctx, int argc, char **argv);
int cmd_edit(cli_ctx *ctx, int argc, char **argv);
int cmd_delete(cli_ctx *ctx, int argc, char **argv);
int cmd_read(cli_ctx *ctx, int argc, char **argv);
int cmd_history(cli_ctx *ctx, int argc, char **argv);
int cmd_chats(cli_ctx *ctx, int argc, char **argv);
int cmd_chat(cli_ctx *ctx, int argc, char **argv);
int cmd_receive(cli_ctx *ctx, int argc, char **argv);
int cmd_group(cli_ctx *ctx, int argc, char **argv);
int cmd_secret(cli_ctx *ctx, int argc, char **argv);
int cmd_interactive(cli_ctx *ctx);
/* Prints the current state of a chat (after a change). Returns 0 or an exit code. */
int cli_show_chat(cli_ctx *ctx, int64_t chat, const char *subject);

/* ---- signals.c: clean stop on SIGINT / SIGTERM ------------------------------------------- */

/* Installs handlers that only set a flag (no SA_RESTART, so blocking reads return EINTR). */
void cli_catch_stop_signals(void);
/* The signal that asked us to stop, or 0. */
int cli_stop_requested(void);

#endif
