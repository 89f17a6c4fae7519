/*
 * output.c: how the CLI shows library objects: one JSON object per line (built with jansson,
 * never by hand, so every string is escaped correctly) or compact human lines.
 *
 * The JSON shapes are a contract with scripts (see `parley --help`); fields are only ever
 * appended. Human output is for people, so message text is passed through print_safe(): a
 * sender must not be able to move the reader's cursor, retitle the terminal or hide text
 * with escape sequences.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- JSON ------------------------------------------------------------------------------ */

/* A JSON string, or null for NULL / text jansson rejects (it only takes valid UTF-8, which
 * the server guarantees; null keeps the line parseable if that is ever broken). */
static json_t *jstr(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* A number, or null when the value means "none" (0). */
static json_t *jopt(int64_t v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

void out_json(json_t *o)
{
    if (!o) {
        fprintf(stderr, "parley: out of memory\n");
        return;
    }
    if (json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
        fputc('\n', stdout);
    json_decref(o);
}

json_t *json_type_only(const char *type)
{
    return json_pack("{s:s}", "type", type);
}

json_t *json_message(const parley_message *m, const char *type)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:o}",
                          "type", type,
                          "chat", (json_int_t)m->chat_id,
                          "id", (json_int_t)m->id,
                          "from", jstr(m->from_username),
                          "text", jstr(m->text),
                          "date", (json_int_t)m->date,
                          "edit_date", jopt(m->edit_date),
                          "reply_to", jopt(m->reply_to),
                          "ttl", jopt(m->ttl));
    if (o && m->is_service)
        json_object_set_new(o, "service", json_true());
    if (o && m->secret_chat) {
        json_object_set_new(o, "secret", json_true());
        json_object_set_new(o, "secret_chat", json_integer((json_int_t)m->secret_chat));
    }
    return o;
}

const char *role_name(parley_role r)
{
    switch (r) {
    case PARLEY_ROLE_CREATOR: return "creator";
    case PARLEY_ROLE_ADMIN: return "admin";
    case PARLEY_ROLE_MEMBER: return "member";
    default: return NULL;
    }
}

json_t *json_chat(const parley_chat *c)
{
    return json_pack("{s:s,s:I,s:s,s:o,s:I,s:I,s:o,s:o,s:o}",
                     "type", "chat",
                     "chat", (json_int_t)c->id,
                     "kind", c->kind == PARLEY_CHAT_GROUP ? "group" : "private",
                     "title", jstr(c->title),
                     "members", (json_int_t)c->member_count,
                     "unread", (json_int_t)c->unread,
                     "auto_delete", jopt(c->auto_delete),
                     "last_message_id", jopt(c->top_message_id),
                     "role", jstr(role_name(c->my_role)));
}

static json_t *json_ids(const int64_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)ids[i]));
    return a;
}

json_t *json_deletion(int64_t chat_id, const int64_t *ids, size_t n, int for_everyone)
{
    return json_pack("{s:s,s:I,s:o,s:b}", "type", "delete", "chat", (json_int_t)chat_id,
                     "ids", json_ids(ids, n), "for_everyone", for_everyone);
}

json_t *json_read(int64_t chat_id, const char *by, int64_t max_id)
{
    return json_pack("{s:s,s:I,s:o,s:I}", "type", "read", "chat", (json_int_t)chat_id,
                     "by", jstr(by), "max_id", (json_int_t)max_id);
}

/* ---- human text ---------------------------------------------------------------------- */

void print_safe(FILE *f, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            fputs("\n    ", f);      /* continuation lines stay visibly part of the message */
        } else if (*p == '\t') {
            fputc('\t', f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fputc('?', f);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fputc('?', f);           /* C1 controls (U+0080..U+009F), e.g. CSI */
            p++;
        } else {
            fputc(*p, f);
        }
    }
}

void format_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
}

/* "90s" -> "90s", 300 -> "5m", 86400 -> "1d": the largest unit that divides exactly. */
static void format_duration(uint32_t s, char *buf, size_t n)
{
    static const struct { uint32_t secs; char unit; } units[] = {
        {604800, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (s % units[i].secs == 0) {
            snprintf(buf, n, "%u%c", s / units[i].secs, units[i].unit);
            return;
        }
}

void print_message(FILE *f, const parley_message *m, int show_chat, const char *tag)
{
    char when[64], dur[32];
    format_time(m->date, when, sizeof when);
    if (show_chat && m->secret_chat)
        fprintf(f, "secret #%lld ", (long long)m->secret_chat);
    else if (show_chat)
        fprintf(f, "#%lld ", (long long)m->chat_id);
    if (tag)
        fprintf(f, "%s ", tag);
    fprintf(f, "[%lld] %s ", (long long)m->id, when);
    if (m->is_service) {
        fputs("* ", f);
        print_safe(f, m->text);
        fputc('\n', f);
        return;
    }
    print_safe(f, m->from_username ? m->from_username : "?");
    if (m->reply_to)
        fprintf(f, " \xe2\x86\xaa[%lld]", (long long)m->reply_to);   /* U+21AA hook arrow */
    fputs(": ", f);
    print_safe(f, m->text);
    if (m->edit_date && !tag)   /* an "edited" tag already says so */
        fputs(" (edited)", f);
    if (m->ttl) {
        format_duration(m->ttl, dur, sizeof dur);
        fprintf(f, " [ttl %s]", dur);
    }
    fputc('\n', f);
}

void print_chat(FILE *f, const parley_chat *c)
{
    char dur[32];
    fprintf(f, "[%lld] ", (long long)c->id);
    if (c->kind == PARLEY_CHAT_PRIVATE)
        fputc('@', f);
    print_safe(f, c->title);
    if (c->kind == PARLEY_CHAT_GROUP)
        fprintf(f, " (group, %u members", c->member_count);
    else
        fputs(" (private", f);
    if (c->unread)
        fprintf(f, ", %u unread", c->unread);
    if (c->auto_delete) {
        format_duration(c->auto_delete, dur, sizeof dur);
        fprintf(f, ", auto-delete %s", dur);
    }
    fputc(')', f);
    if (c->last_message && c->last_message->text) {
        fputs(" last: ", f);
        if (!c->last_message->is_service && c->last_message->from_username) {
            print_safe(f, c->last_message->from_username);
            fputs(": ", f);
        }
        /* Only the first line: the chat list stays one line per chat. */
        const char *t = c->last_message->text, *nl = strchr(t, '\n');
        size_t len = nl ? (size_t)(nl - t) : strlen(t);
        char *first = strndup(t, len > 60 ? 60 : len);
        if (first) {
            print_safe(f, first);
            if (len > 60 || nl)
                fputs("...", f);
            free(first);
        }
    }
    fputc('\n', f);
}

static void print_update(FILE *f, const parley_update *u)
{
    switch (u->kind) {
    case PARLEY_UPDATE_MESSAGE:
        if (u->message)
            print_message(f, u->message, 1, NULL);
        break;
    case PARLEY_UPDATE_EDIT:
        if (u->message)
            print_message(f, u->message, 1, "edited");
        break;
    case PARLEY_UPDATE_DELETE:
    case PARLEY_UPDATE_HIDE:
        fprintf(f, "#%lld deleted%s", (long long)u->chat_id,
                u->kind == PARLEY_UPDATE_HIDE ? " for you" : "");
        for (size_t i = 0; i < u->n_ids; i++)
            fprintf(f, " [%lld]", (long long)u->ids[i]);
        fputc('\n', f);
        break;
    case PARLEY_UPDATE_READ:
        fprintf(f, "#%lld ", (long long)u->chat_id);
        print_safe(f, u->read_by.username ? u->read_by.username : "?");
        fprintf(f, " read up to [%lld]\n", (long long)u->max_id);
        break;
    case PARLEY_UPDATE_CHAT:
        if (u->chat) {
            fputs("chat updated: ", f);
            print_chat(f, u->chat);
        }
        break;
    case PARLEY_UPDATE_CHAT_REMOVED:
        fprintf(f, "#%lld removed: you are no longer in this chat\n", (long long)u->chat_id);
        break;
    case PARLEY_UPDATE_SESSION_ENDED:
        fprintf(f, "session %lld ended\n", (long long)u->session_id);
        break;
    case PARLEY_UPDATE_SECRET_MESSAGE:
        if (u->message)
            print_message(f, u->message, 1, NULL);
        break;
    case PARLEY_UPDATE_SECRET_DELETE:
        fprintf(f, "secret #%lld deleted", (long long)u->chat_id);
        for (size_t i = 0; i < u->n_ids; i++)
            fprintf(f, " [%lld]", (long long)u->ids[i]);
        fputc('\n', f);
        break;
    case PARLEY_UPDATE_SECRET_CHAT:
        if (u->secret)
            print_secret_chat(f, u->secret);
        break;
    case PARLEY_UPDATE_SECRET_SAS:
        if (u->sas)
            print_sas(f, u->sas);
        break;
    }
}

static json_t *json_update(const parley_update *u)
{
    switch (u->kind) {
    case PARLEY_UPDATE_MESSAGE:
        return u->message ? json_message(u->message, "message") : NULL;
    case PARLEY_UPDATE_EDIT:
        return u->message ? json_message(u->message, "edit") : NULL;
    case PARLEY_UPDATE_DELETE:
    case PARLEY_UPDATE_HIDE:
        return json_deletion(u->chat_id, u->ids, u->n_ids, u->kind == PARLEY_UPDATE_DELETE);
    case PARLEY_UPDATE_READ:
        return json_read(u->chat_id, u->read_by.username, u->max_id);
    case PARLEY_UPDATE_CHAT:
        return u->chat ? json_chat(u->chat) : NULL;
    case PARLEY_UPDATE_CHAT_REMOVED:
        return json_pack("{s:s,s:I}", "type", "chat_removed", "chat", (json_int_t)u->chat_id);
    case PARLEY_UPDATE_SESSION_ENDED:
        return json_pack("{s:s,s:I}", "type", "session_ended", "session",
                         (json_int_t)u->session_id);
    case PARLEY_UPDATE_SECRET_MESSAGE:
        return u->message ? json_message(u->message, "message") : NULL;
    case PARLEY_UPDATE_SECRET_DELETE: {
        json_t *o = json_deletion(u->chat_id, u->ids, u->n_ids, 1);
        if (o) {
            json_object_set_new(o, "secret", json_true());
            json_object_set_new(o, "secret_chat", json_integer((json_int_t)u->chat_id));
        }
        return o;
    }
    case PARLEY_UPDATE_SECRET_CHAT:
        return u->secret ? json_secret_chat(u->secret) : NULL;
    case PARLEY_UPDATE_SECRET_SAS:
        return u->sas ? json_sas(u->sas) : NULL;
    }
    return NULL;
}

void out_update(const cli_ctx *ctx, const parley_update *u)
{
    if (!ctx->json) {
        print_update(stdout, u);
        return;
    }
    json_t *o = json_update(u);
    if (o)
        out_json(o);
}

void out_message(const cli_ctx *ctx, const parley_message *m, const char *type)
{
    if (ctx->json)
        out_json(json_message(m, type));
    else
        print_message(stdout, m, 0, strcmp(type, "edit") == 0 ? "edited" : NULL);
}

void out_chat(const cli_ctx *ctx, const parley_chat *c)
{
    if (ctx->json)
        out_json(json_chat(c));
    else
        print_chat(stdout, c);
}

void out_ok(const cli_ctx *ctx, const char *text)
{
    if (ctx->json)
        out_json(json_type_only("ok"));
    else if (text)
        printf("%s\n", text);
}
