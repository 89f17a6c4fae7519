/*
 * cmd_secret.c: `parley secret ...`: start, list, send, history, timer, delete, verify,
 * accept-key and close, on libparley's parley_secret_* calls (include/parley.h).
 *
 * Like the other commands, each subcommand checks its arguments before it opens the client.
 * Output: a secret chat is {"type":"secret_chat",...}; its messages are the core's message
 * objects with "secret":true and "secret_chat" added (output.c's json_message); `verify`
 * prints {"type":"fingerprint",...}. Incoming secret messages are printed by `receive`.
 *
 * `verify ID --start` / `--accept` run the interactive verification in this one process
 * (its state lives in the client's memory): they print {"type":"sas",...} objects as the
 * run moves on (and any other update, as `receive` would, so none is lost), and when the
 * emoji are shown they read the user's answer from stdin: "match" (or "yes") confirms,
 * anything else says they differ; end of input cancels. Exit 0 only once both sides have
 * confirmed and the chat is marked verified.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *state_name(parley_secret_state s)
{
    switch (s) {
    case PARLEY_SECRET_PENDING: return "pending";
    case PARLEY_SECRET_ACTIVE: return "active";
    case PARLEY_SECRET_CLOSED: return "closed";
    }
    return "?";
}

json_t *json_secret_chat(const parley_secret_chat *s)
{
    json_t *o = json_pack("{s:s,s:I,s:s,s:I,s:s,s:o,s:b}",
                          "type", "secret_chat",
                          "secret_chat", (json_int_t)s->id,
                          "peer", s->peer_username ? s->peer_username : "",
                          "peer_device", (json_int_t)s->peer_device,
                          "state", state_name(s->state),
                          "timer", s->timer ? json_integer(s->timer) : json_null(),
                          "verified", s->verified);
    if (o && s->key_changed)
        json_object_set_new(o, "key_changed", json_true());
    return o;
}

void print_secret_chat(FILE *f, const parley_secret_chat *s)
{
    fprintf(f, "secret [%lld] @", (long long)s->id);
    print_safe(f, s->peer_username ? s->peer_username : "?");
    fprintf(f, " (device %lld, %s", (long long)s->peer_device, state_name(s->state));
    if (s->timer)
        fprintf(f, ", self-destruct %us", s->timer);
    if (s->verified)
        fputs(", verified", f);
    if (s->key_changed)
        fputs(", IDENTITY KEY CHANGED: run `secret verify` and `secret accept-key`", f);
    fputs(")\n", f);
}

static void out_secret_chat(cli_ctx *ctx, const parley_secret_chat *s)
{
    if (ctx->json)
        out_json(json_secret_chat(s));
    else
        print_secret_chat(stdout, s);
}

static const char *sas_state_name(parley_sas_state s)
{
    static const char *const names[] = {"none", "requested", "started", "accepted", "show",
                                         "confirmed", "done", "cancelled"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

json_t *json_sas(const parley_sas *v)
{
    json_t *o = json_pack("{s:s,s:I,s:s}", "type", "sas", "secret_chat",
                          (json_int_t)v->chat_id, "state", sas_state_name(v->state));
    if (o && v->emoji[0])
        json_object_set_new(o, "emoji", json_string(v->emoji));
    if (o && v->state == PARLEY_SAS_CANCELLED) {
        json_object_set_new(o, "reason", json_string(v->reason));
        json_object_set_new(o, "code", json_integer(v->cancel_code));
        json_object_set_new(o, "by_peer", json_boolean(v->by_peer));
    }
    return o;
}

void print_sas(FILE *f, const parley_sas *v)
{
    fprintf(f, "secret [%lld] verification: %s", (long long)v->chat_id,
            sas_state_name(v->state));
    if (v->emoji[0])
        fprintf(f, "  %s", v->emoji);
    if (v->state == PARLEY_SAS_CANCELLED)
        fprintf(f, " (%s)", v->reason);
    fputc('\n', f);
}

/* Parses the chat ID argument. */
static int chat_arg(cli_ctx *ctx, const char *arg, int64_t *id)
{
    if (cli_parse_id(arg, id) != 0)
        return cli_usage(ctx, "secret", "ID must be a secret chat id, not '%s'", arg);
    return 0;
}

static int sub_start(cli_ctx *ctx, char **argv, int npos, const char *device)
{
    if (npos != 1)
        return cli_usage(ctx, "secret", npos ? "too many arguments" : "@USER missing");
    const char *u = argv[0][0] == '@' ? argv[0] + 1 : argv[0];
    int64_t dev = 0;
    if (!*u)
        return cli_usage(ctx, "secret", "'@' needs a username after it");
    if (device && cli_parse_id(device, &dev) != 0)
        return cli_usage(ctx, "secret", "--device needs a device id, not '%s'", device);
    parley_client *c;
    int rc = cli_client(ctx, 1, &c);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_secret_chat *s = NULL;
    if (parley_secret_start(c, u, dev, &s, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    out_secret_chat(ctx, s);
    parley_secret_chat_free(s);
    return 0;
}

static int sub_list(cli_ctx *ctx, int npos)
{
    if (npos)
        return cli_usage(ctx, "secret", "too many arguments");
    parley_client *c;
    int rc = cli_client(ctx, 1, &c);
    if (rc)
        return rc;
    parley_error err = {0};
    parley_secret_chat *v = NULL;
    size_t n = 0;
    if (parley_secret_list(c, &v, &n, &err) != 0)
        return cli_fail(ctx, &err, NULL);
    for (size_t i = 0; i < n; i++)
        out_secret_chat(ctx, &v[i]);
    parley_secret_chats_free(v, n);
    return 0;
}

static int sub_history(cli_ctx *ctx, parley_client *c, int64_t id, const char *subject)
{
    parley_error err = {0};
    parley_message *v = NULL;
    size_t n = 0;
    if (parley_secret_history(c, id, &v, &n, &err) != 0)
        return cli_fail(ctx, &err, subject);
    for (size_t i = 0; i < n; i++)
        out_message(ctx, &v[i], "message");
    parley_messages_free(v, n);
    return 0;
}

static int sub_verify(cli_ctx *ctx, parley_client *c, int64_t id, int mark, const char *subj)
{
    parley_error err = {0};
    parley_fingerprint fp;
    char long_number[PARLEY_FP_LONG_LEN + 1];
    if (parley_secret_verify(c, id, mark, &fp, &err) != 0 ||
        parley_secret_verify_long(c, id, long_number, &err) != 0)
        return cli_fail(ctx, &err, subj);
    if (ctx->json)
        out_json(json_pack("{s:s,s:I,s:s,s:s,s:b}", "type", "fingerprint", "secret_chat",
                           (json_int_t)id, "number", fp.number, "long_number", long_number,
                           "verified", mark));
    else
        printf("secret [%lld] fingerprint:\n  %s\nlong form (compare this one for full "
               "strength):\n  %s\n%s", (long long)id, fp.number, long_number,
               mark ? "marked verified\n"
                    : "compare with the other device; --mark-verified records a match, or "
                      "run `secret verify ID --start` with both devices online\n");
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void out_sas(cli_ctx *ctx, const parley_sas *v)
{
    if (ctx->json)
        out_json(json_sas(v));
    else
        print_sas(stdout, v);
    fflush(stdout);
}

/* The emoji are shown: asks the user (stdin) and confirms or rejects. 0, or an exit code. */
static int sas_answer(cli_ctx *ctx, parley_client *c, int64_t id, const char *subj)
{
    char line[64];
    if (!ctx->json) {
        printf("Do the other device's emoji match? Type \"match\" if they do, "
               "\"no match\" if not: ");
        fflush(stdout);
    }
    parley_error err = {0};
    if (!fgets(line, sizeof line, stdin)) {
        parley_secret_sas_cancel(c, id, 0, NULL);
        return cli_error(ctx, CLI_EXIT_FAIL, "VERIFICATION_CANCELLED",
                         "no answer (end of input): verification cancelled, nothing marked");
    }
    line[strcspn(line, "\r\n")] = '\0';
    int match = strcmp(line, "match") == 0 || strcmp(line, "yes") == 0;
    if (parley_secret_sas_confirm(c, id, match, &err) != 0)
        return cli_fail(ctx, &err, subj);
    return 0;
}

/* Reports a state just reached; 1 = the run is over (*rc set), 0 = go on. */
static int sas_step(cli_ctx *ctx, parley_client *c, int64_t id, const parley_sas *v,
                    const char *subj, int *rc)
{
    out_sas(ctx, v);
    if (v->state == PARLEY_SAS_DONE) {
        *rc = 0;
        return 1;
    }
    if (v->state == PARLEY_SAS_CANCELLED) {
        *rc = cli_error(ctx, CLI_EXIT_FAIL, "VERIFICATION_CANCELLED",
                        "verification cancelled, nothing marked: %s", v->reason);
        return 1;
    }
    if (v->state != PARLEY_SAS_SHOW)
        return 0;
    parley_sas now;
    parley_error err = {0};
    if ((*rc = sas_answer(ctx, c, id, subj)) != 0)
        return 1;
    if (parley_secret_sas_get(c, id, &now, &err) != 0) {
        *rc = cli_fail(ctx, &err, subj);
        return 1;
    }
    return sas_step(ctx, c, id, &now, subj, rc);
}

/* `verify ID --start|--accept`: runs the interactive verification to its end. */
static int sub_sas(cli_ctx *ctx, parley_client *c, int64_t id, int start, uint32_t timeout_s,
                   const char *subj)
{
    parley_error err = {0};
    parley_sas v;
    if (parley_connect(c, &err) != 0 ||
        (start && parley_secret_sas_start(c, id, &err) != 0))
        return cli_fail(ctx, &err, subj);
    if (start && parley_secret_sas_get(c, id, &v, &err) == 0)
        out_sas(ctx, &v);
    int accepted = start, rc = 0;
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    cli_catch_stop_signals();
    while (!cli_stop_requested()) {
        /* Past the deadline, one last call takes what is pending (a confirmation that came
         * while the user was answering), as `receive` does. */
        int64_t left = deadline - mono_ms();
        if (!accepted && parley_secret_sas_get(c, id, &v, &err) == 0 &&
            v.state == PARLEY_SAS_REQUESTED) {
            if (parley_secret_sas_accept(c, id, &err) != 0)
                return cli_fail(ctx, &err, subj);
            accepted = 1;
            if (parley_secret_sas_get(c, id, &v, &err) == 0)
                out_sas(ctx, &v);
        }
        parley_update *u = NULL;
        int r = parley_next_update(c, left <= 0 ? 0 : left > 250 ? 250 : (int)left, &u, &err);
        if (r == -PARLEY_E_TIMEOUT && left <= 0)
            break;
        if (r == -PARLEY_E_TIMEOUT)
            continue;
        if (r != 0)
            return cli_fail(ctx, &err, NULL);
        int over = 0;
        if (u->kind == PARLEY_UPDATE_SECRET_SAS && u->sas && u->chat_id == id) {
            if (u->sas->state != PARLEY_SAS_REQUESTED || accepted)
                over = sas_step(ctx, c, id, u->sas, subj, &rc);
        } else {
            out_update(ctx, u);
        }
        parley_update_free(u);
        if (over)
            return rc;
    }
    if (parley_secret_sas_cancel(c, id, 1, NULL) == 0 &&
        parley_secret_sas_get(c, id, &v, &err) == 0)
        out_sas(ctx, &v);
    return cli_error(ctx, CLI_EXIT_FAIL, "VERIFICATION_CANCELLED",
                     "%s: verification cancelled, nothing marked",
                     cli_stop_requested() ? "stopped" : "timed out");
}

/* verify's options: --mark-verified, --start, --accept, --timeout. */
typedef struct {
    int mark, start, accept;
    uint32_t timeout_s;
} verify_opts;

/* Subcommands that take ID (+ one argument for send/timer/delete). */
static int sub_with_id(cli_ctx *ctx, const char *sub, char **argv, int npos,
                       const verify_opts *vo)
{
    int want = strcmp(sub, "send") == 0 || strcmp(sub, "timer") == 0 ||
               strcmp(sub, "delete") == 0 ? 2 : 1;
    if (npos != want)
        return cli_usage(ctx, "secret", npos > want ? "too many arguments%s"
                                                    : "needs ID%s",
                         want == 2 && npos > want && strcmp(sub, "send") == 0
                             ? ": quote the text" : want == 2 && npos < want ? " and a value"
                                                                             : "");
    int64_t id, msg_id = 0;
    uint32_t secs = 0;
    int rc = chat_arg(ctx, argv[0], &id);
    if (rc)
        return rc;
    if (strcmp(sub, "timer") == 0 &&
        cli_parse_duration(argv[1], 1, 604800, &secs) != 0)
        return cli_usage(ctx, "secret", "the timer is seconds (or 30s/5m/1h/1d/1w, at most "
                         "1 week) or off, not '%s'", argv[1]);
    if (strcmp(sub, "delete") == 0 && cli_parse_id(argv[1], &msg_id) != 0)
        return cli_usage(ctx, "secret", "MSG_ID must be a message id, not '%s'", argv[1]);
    parley_client *c;
    if ((rc = cli_client(ctx, 1, &c)) != 0)
        return rc;
    parley_error err = {0};
    parley_message *m = NULL;
    if (strcmp(sub, "history") == 0)
        return sub_history(ctx, c, id, argv[0]);
    if (strcmp(sub, "verify") == 0 && (vo->start || vo->accept))
        return sub_sas(ctx, c, id, vo->start, vo->timeout_s, argv[0]);
    if (strcmp(sub, "verify") == 0)
        return sub_verify(ctx, c, id, vo->mark, argv[0]);
    if (strcmp(sub, "send") == 0)
        rc = parley_secret_send(c, id, argv[1], &m, &err);
    else if (strcmp(sub, "timer") == 0)
        rc = parley_secret_set_timer(c, id, secs, &m, &err);
    else if (strcmp(sub, "delete") == 0)
        rc = parley_secret_delete(c, id, msg_id, &err);
    else if (strcmp(sub, "accept-key") == 0)
        rc = parley_secret_accept_key(c, id, &err);
    else
        rc = parley_secret_close(c, id, &err);
    if (rc != 0)
        return cli_fail(ctx, &err, argv[0]);
    if (m) {
        out_message(ctx, m, "message");
        parley_message_free(m);
        return 0;
    }
    if (strcmp(sub, "delete") == 0) {
        json_t *o = ctx->json ? json_deletion(id, &msg_id, 1, 1) : NULL;
        if (o) {
            json_object_set_new(o, "secret", json_true());
            json_object_set_new(o, "secret_chat", json_integer((json_int_t)id));
            out_json(o);
        } else if (!ctx->json) {
            printf("deleted for everyone: [%lld]\n", (long long)msg_id);
        }
        return 0;
    }
    parley_secret_chat *s = NULL;
    if (parley_secret_get(c, id, &s, &err) != 0)
        return cli_fail(ctx, &err, argv[0]);
    out_secret_chat(ctx, s);
    parley_secret_chat_free(s);
    return 0;
}

int cmd_secret(cli_ctx *ctx, int argc, char **argv)
{
    static const char *const subs[] = {"start", "list", "send", "history", "timer",
                                       "delete", "verify", "accept-key", "close"};
    const char *sub = NULL;
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i]) == 0)
            sub = subs[i];
    cli_opt opts[] = {{"device", 1, NULL}, {"mark-verified", 0, NULL}, {"start", 0, NULL},
                      {"accept", 0, NULL}, {"timeout", 1, NULL}};
    int npos, rc;
    if (!sub) {
        rc = cli_parse(ctx, "secret", argc, argv, NULL, 0, &npos);
        if (rc)
            return rc == 1 ? 0 : rc;
        return npos ? cli_usage(ctx, "secret", "unknown subcommand '%s'", argv[0])
                    : cli_usage(ctx, "secret", "subcommand missing");
    }
    rc = cli_parse(ctx, "secret", argc - 1, argv + 1, opts, 5, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    argv++;
    if (opts[0].value && strcmp(sub, "start") != 0)
        return cli_usage(ctx, "secret", "--device is only for `secret start`");
    if ((opts[1].value || opts[2].value || opts[3].value || opts[4].value) &&
        strcmp(sub, "verify") != 0)
        return cli_usage(ctx, "secret", "--mark-verified, --start, --accept and --timeout are "
                         "only for `secret verify`");
    verify_opts vo = {opts[1].value != NULL, opts[2].value != NULL, opts[3].value != NULL,
                      120};
    if (vo.mark + vo.start + vo.accept > 1)
        return cli_usage(ctx, "secret", "give one of --mark-verified, --start, --accept");
    if (opts[4].value && !vo.start && !vo.accept)
        return cli_usage(ctx, "secret", "--timeout is for --start and --accept");
    if (opts[4].value && (cli_parse_duration(opts[4].value, 0, PARLEY_SAS_TIMEOUT,
                                             &vo.timeout_s) != 0 || vo.timeout_s == 0))
        return cli_usage(ctx, "secret", "--timeout needs seconds (at most %d), not '%s'",
                         PARLEY_SAS_TIMEOUT, opts[4].value);
    if (strcmp(sub, "start") == 0)
        return sub_start(ctx, argv, npos, opts[0].value);
    if (strcmp(sub, "list") == 0)
        return sub_list(ctx, npos);
    return sub_with_id(ctx, sub, argv, npos, &vo);
}
