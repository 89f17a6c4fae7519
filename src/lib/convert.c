/*
 * convert.c: turns decoded protobuf objects into the public structs of parley.h. Every
 * string is copied, so a result outlives the ServerFrame it came from; the public *_free
 * functions below release exactly what these functions allocate. Service messages get a
 * rendered one-line description as their text, so programs can show them like any message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

char *pl_strdup(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- service text ----------------------------------------------------------------------- */

void pl_format_duration(uint32_t s, char *buf, size_t len)
{
    static const struct { uint32_t secs; char unit; } units[] = {
        { 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (s >= units[i].secs && s % units[i].secs == 0) {
            snprintf(buf, len, "%u%c", s / units[i].secs, units[i].unit);
            return;
        }
    snprintf(buf, len, "%us", s);
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* "bob, carol" from the service users (usernames, or ids when a name is missing). */
static char *join_users(const Parley__Message *m)
{
    size_t cap = 1;
    for (size_t i = 0; i < m->n_service_users; i++) {
        const char *u = m->service_users[i]->username;
        cap += (u ? strlen(u) : 0) + 24;
    }
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m->n_service_users; i++) {
        const Parley__User *u = m->service_users[i];
        const char *sep = i ? ", " : "";
        if (u->username && u->username[0])
            off += (size_t)snprintf(out + off, cap - off, "%s%s", sep, u->username);
        else
            off += (size_t)snprintf(out + off, cap - off, "%suser %lld", sep,
                                    (long long)u->id);
    }
    return out;
}

static const char *role_phrase(Parley__Role r)
{
    switch (r) {
    case PARLEY__ROLE__ADMIN: return "an admin";
    case PARLEY__ROLE__MEMBER: return "a member";
    case PARLEY__ROLE__CREATOR: return "the creator";
    default: return "a non-member";
    }
}

char *pl_service_text(const Parley__Message *m)
{
    const char *who = m->from_username && m->from_username[0] ? m->from_username : "someone";
    const char *title = m->service_title ? m->service_title : "";
    char *users = join_users(m);
    if (!users)
        return NULL;
    char dur[32];
    char *out;
    switch (m->service_action) {
    case PARLEY__SERVICE_ACTION__GROUP_CREATED:
        out = format("%s created group \"%s\"", who, title);
        break;
    case PARLEY__SERVICE_ACTION__MEMBERS_ADDED:
        out = format("%s added %s", who, users);
        break;
    case PARLEY__SERVICE_ACTION__MEMBER_REMOVED:
        out = format("%s removed %s", who, users);
        break;
    case PARLEY__SERVICE_ACTION__MEMBER_LEFT:
        out = format("%s left", who);
        break;
    case PARLEY__SERVICE_ACTION__TITLE_CHANGED:
        out = format("%s renamed the group to \"%s\"", who, title);
        break;
    case PARLEY__SERVICE_ACTION__AUTODELETE_CHANGED:
        if (m->service_seconds) {
            pl_format_duration(m->service_seconds, dur, sizeof(dur));
            out = format("%s set messages to auto-delete after %s", who, dur);
        } else {
            out = format("%s turned off auto-delete", who);
        }
        break;
    case PARLEY__SERVICE_ACTION__ROLE_CHANGED:
        out = format("%s made %s %s", who, users, role_phrase(m->service_role));
        break;
    default:
        /* An action newer than this library: the server's text, if any, is all we have. */
        out = pl_strdup(m->text && m->text[0] ? m->text : "(chat event)");
        break;
    }
    free(users);
    return out;
}

/* A call's history entry (Message.kind CALL, posted with the caller as sender) as one line,
 * so the CLI and other programs show it like a service message. */
static char *call_text(const Parley__Message *m)
{
    const char *who = m->from_username && m->from_username[0] ? m->from_username : "someone";
    const char *what = m->call && m->call->video ? "video call" : "voice call";
    char dur[32];
    switch (m->call ? m->call->outcome : PARLEY__CALL_OUTCOME__CALL_OUTCOME_NONE) {
    case PARLEY__CALL_OUTCOME__CALL_MISSED:
        return format("missed %s from %s", what, who);
    case PARLEY__CALL_OUTCOME__CALL_DECLINED:
        return format("%s from %s, declined", what, who);
    case PARLEY__CALL_OUTCOME__CALL_BUSY_OUTCOME:
        return format("%s from %s, busy", what, who);
    case PARLEY__CALL_OUTCOME__CALL_CANCELLED:
        return format("%s from %s, cancelled", what, who);
    case PARLEY__CALL_OUTCOME__CALL_ENDED:
    case PARLEY__CALL_OUTCOME__GROUP_CALL_ENDED: {
        uint32_t d = m->call->duration;       /* m:ss, or h:mm:ss past an hour */
        if (d >= 3600) snprintf(dur, sizeof dur, "%u:%02u:%02u", d / 3600, d / 60 % 60, d % 60);
        else snprintf(dur, sizeof dur, "%u:%02u", d / 60, d % 60);
        if (m->call->outcome == PARLEY__CALL_OUTCOME__GROUP_CALL_ENDED)
            return format("group call ended, %s", dur);
        return format("%s from %s, %s", what, who, dur);
    }
    case PARLEY__CALL_OUTCOME__GROUP_CALL_STARTED:
        return format("%s started a group call", who);
    default:
        return format("%s from %s", what, who);
    }
}

/* ---- objects ---------------------------------------------------------------------------- */

void pl_message_clear(parley_message *m)
{
    if (!m)
        return;
    free(m->from_username);
    free(m->text);
    memset(m, 0, sizeof(*m));
}

int pl_conv_message(const Parley__Message *in, parley_message *out)
{
    memset(out, 0, sizeof(*out));
    out->chat_id = in->chat_id;
    out->id = in->id;
    out->from_user = in->from_user;
    out->date = in->date;
    out->edit_date = in->edit_date;
    out->reply_to = in->reply_to;
    out->ttl = in->ttl;
    out->expires_at = in->expires_at;
    out->is_service = in->kind == PARLEY__MESSAGE_KIND__SERVICE ||
                      in->kind == PARLEY__MESSAGE_KIND__CALL;
    out->from_username = pl_strdup(in->from_username);
    if (in->kind == PARLEY__MESSAGE_KIND__CALL) out->text = call_text(in);
    else out->text = out->is_service ? pl_service_text(in) : pl_strdup(in->text);
    if (!out->from_username || !out->text) {
        pl_message_clear(out);
        return -PARLEY_E_NOMEM;
    }
    return 0;
}

parley_message *pl_conv_message_new(const Parley__Message *in)
{
    parley_message *m = malloc(sizeof(*m));
    if (m && pl_conv_message(in, m) < 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void pl_chat_clear(parley_chat *c)
{
    if (!c)
        return;
    free(c->title);
    parley_message_free(c->last_message);
    memset(c, 0, sizeof(*c));
}

int pl_conv_chat(const Parley__Chat *in, parley_chat *out)
{
    memset(out, 0, sizeof(*out));
    out->id = in->id;
    out->kind = in->kind == PARLEY__CHAT_KIND__GROUP ? PARLEY_CHAT_GROUP : PARLEY_CHAT_PRIVATE;
    out->member_count = in->member_count;
    out->unread = in->unread;
    out->top_message_id = in->top_message_id;
    out->auto_delete = in->auto_delete;
    out->read_inbox_max_id = in->read_inbox_max_id;
    out->read_outbox_max_id = in->read_outbox_max_id;
    out->peer_user_id = in->peer_user_id;
    out->my_role = (parley_role)in->my_role;
    out->title = pl_strdup(in->title);
    if (!out->title)
        return -PARLEY_E_NOMEM;
    if (in->last_message) {
        out->last_message = pl_conv_message_new(in->last_message);
        if (!out->last_message) {
            pl_chat_clear(out);
            return -PARLEY_E_NOMEM;
        }
    }
    return 0;
}

parley_chat *pl_conv_chat_new(const Parley__Chat *in)
{
    parley_chat *c = malloc(sizeof(*c));
    if (c && pl_conv_chat(in, c) < 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static int copy_ids(const Parley__MessageIds *in, parley_update *u)
{
    u->chat_id = in->chat_id;
    if (!in->n_ids)
        return 0;
    u->ids = malloc(in->n_ids * sizeof(int64_t));
    if (!u->ids)
        return -PARLEY_E_NOMEM;
    memcpy(u->ids, in->ids, in->n_ids * sizeof(int64_t));
    u->n_ids = in->n_ids;
    return 0;
}

/* Fills the kind-specific part; returns 0, -NOMEM, or 1 for a kind this library does not
 * know (or one with its object missing). */
static int conv_update_body(const Parley__Update *in, parley_update *u)
{
    switch (in->kind_case) {
    case PARLEY__UPDATE__KIND_NEW_MESSAGE:
    case PARLEY__UPDATE__KIND_EDIT_MESSAGE: {
        const Parley__Message *m = in->kind_case == PARLEY__UPDATE__KIND_NEW_MESSAGE
                                       ? in->new_message : in->edit_message;
        if (!m)
            return 1;
        u->kind = in->kind_case == PARLEY__UPDATE__KIND_NEW_MESSAGE ? PARLEY_UPDATE_MESSAGE
                                                                      : PARLEY_UPDATE_EDIT;
        u->chat_id = m->chat_id;
        u->message = pl_conv_message_new(m);
        return u->message ? 0 : -PARLEY_E_NOMEM;
    }
    case PARLEY__UPDATE__KIND_DELETE_MESSAGES:
    case PARLEY__UPDATE__KIND_HIDE_MESSAGES: {
        const Parley__MessageIds *ids = in->kind_case == PARLEY__UPDATE__KIND_DELETE_MESSAGES
                                            ? in->delete_messages : in->hide_messages;
        if (!ids)
            return 1;
        u->kind = in->kind_case == PARLEY__UPDATE__KIND_DELETE_MESSAGES ? PARLEY_UPDATE_DELETE
                                                                          : PARLEY_UPDATE_HIDE;
        return copy_ids(ids, u);
    }
    case PARLEY__UPDATE__KIND_READ:
        if (!in->read)
            return 1;
        u->kind = PARLEY_UPDATE_READ;
        u->chat_id = in->read->chat_id;
        u->read_by.id = in->read->by_user;
        u->max_id = in->read->max_id;
        u->read_by.username = pl_strdup(in->read->by_username);
        return u->read_by.username ? 0 : -PARLEY_E_NOMEM;
    case PARLEY__UPDATE__KIND_CHAT:
        if (!in->chat)
            return 1;
        u->kind = PARLEY_UPDATE_CHAT;
        u->chat_id = in->chat->id;
        u->chat = pl_conv_chat_new(in->chat);
        return u->chat ? 0 : -PARLEY_E_NOMEM;
    case PARLEY__UPDATE__KIND_CHAT_REMOVED:
        if (!in->chat_removed)
            return 1;
        u->kind = PARLEY_UPDATE_CHAT_REMOVED;
        u->chat_id = in->chat_removed->chat_id;
        return 0;
    case PARLEY__UPDATE__KIND_SESSION_ENDED:
        if (!in->session_ended)
            return 1;
        u->kind = PARLEY_UPDATE_SESSION_ENDED;
        u->session_id = in->session_ended->id;
        return 0;
    default:
        return 1;
    }
}

parley_update *pl_conv_update(const Parley__Update *in)
{
    parley_update *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->pts = in->pts;
    u->date = in->date;
    if (conv_update_body(in, u) != 0) {
        parley_update_free(u);
        return NULL;
    }
    return u;
}

/* ---- public free functions -------------------------------------------------------------- */

void parley_message_free(parley_message *m)
{
    if (!m)
        return;
    pl_message_clear(m);
    free(m);
}

void parley_messages_free(parley_message *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        pl_message_clear(&v[i]);
    free(v);
}

void parley_chat_free(parley_chat *c)
{
    if (!c)
        return;
    pl_chat_clear(c);
    free(c);
}

void parley_chats_free(parley_chat *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        pl_chat_clear(&v[i]);
    free(v);
}

void parley_members_free(parley_member *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].user.username);
    free(v);
}

void parley_sessions_free(parley_session *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].device);
    free(v);
}

void parley_update_free(parley_update *u)
{
    if (!u)
        return;
    parley_message_free(u->message);
    parley_chat_free(u->chat);
    free(u->ids);
    free(u->read_by.username);
    parley_secret_chat_free(u->secret);
    free(u->sas);
    free(u);
}

void parley_user_free(parley_user *u)
{
    if (!u)
        return;
    free(u->username);
    u->username = NULL;
}
