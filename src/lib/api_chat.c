/*
 * api_chat.c: chats and groups: resolving "@name" to a private chat, listing chats, and
 * the group calls. A ChatResult carries the positions its request added to the account's
 * log (pts, pts_count), which this connection is not pushed: the client's position moves
 * over them, so its own changes are not fetched back as updates.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define MAX_TITLE 128
#define MAX_AUTODELETE 31536000u
#define MAX_MEMBERS 1000

static int unexpected(parley_client *c, pl_resp *r, parley_error *err)
{
    pl_resp_free(r);
    return pl_err(err, PARLEY_E_PROTOCOL, "unexpected answer from %s", c->url);
}

/* Takes the chat of a Chat or ChatResult answer (out may be NULL; LeaveChat's ChatResult has
 * no chat) and frees r. */
static int take_chat(parley_client *c, pl_resp *r, parley_chat **out, parley_error *err)
{
    const Parley__Chat *chat = NULL;
    if (r->r->result_case == PARLEY__RESPONSE__RESULT_CHAT_RESULT && r->r->chat_result) {
        pl_sync_on_result(c, r->r->chat_result->pts, r->r->chat_result->pts_count);
        chat = r->r->chat_result->chat;
    } else if (r->r->result_case == PARLEY__RESPONSE__RESULT_CHAT) {
        chat = r->r->chat;
    } else if (r->r->result_case != PARLEY__RESPONSE__RESULT_EMPTY || out) {
        return unexpected(c, r, err);
    }
    if (out) {
        if (!chat)
            return unexpected(c, r, err);
        *out = pl_conv_chat_new(chat);
        if (!*out) {
            pl_resp_free(r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
    }
    pl_resp_free(r);
    return 0;
}

static int call_chat(parley_client *c, Parley__ClientFrame *f, parley_chat **out,
                     parley_error *err)
{
    pl_resp r;
    int rc = pl_rpc(c, f, 1, &r, err);
    if (rc < 0)
        return rc;
    return take_chat(c, &r, out, err);
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int parley_resolve_chat(parley_client *c, const char *name, int64_t *chat_id,
                        parley_error *err)
{
    if (!c || !name || !name[0] || !chat_id)
        return pl_err(err, PARLEY_E_ARGUMENT, "give a chat as @username or a chat id");
    if (name[0] != '@' && all_digits(name)) {
        errno = 0;
        long long id = strtoll(name, NULL, 10);
        if (errno || id <= 0)
            return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id \"%.40s\"", name);
        *chat_id = id;       /* the server checks it when it is used */
        return 0;
    }
    const char *user = pl_bare_username(name);
    if (!user[0] || strlen(user) > 64)
        return pl_err(err, PARLEY_E_USERNAME_INVALID, "bad username \"%.70s\"", name);
    Parley__OpenPrivateChatRequest req = PARLEY__OPEN_PRIVATE_CHAT_REQUEST__INIT;
    req.username = (char *)user;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_OPEN_PRIVATE_CHAT;
    f.open_private_chat = &req;
    parley_chat *chat = NULL;
    int rc = call_chat(c, &f, &chat, err);
    if (rc < 0)
        return rc;
    *chat_id = chat->id;
    parley_chat_free(chat);
    return 0;
}

int parley_chats(parley_client *c, parley_chat **out, size_t *n, parley_error *err)
{
    if (!c || !out || !n)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    *n = 0;
    Parley__GetChatsRequest req = PARLEY__GET_CHATS_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_CHATS;
    f.get_chats = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_CHATS || !r.r->chats)
        return unexpected(c, &r, err);
    const Parley__ChatList *l = r.r->chats;
    parley_chat *v = calloc(l->n_chats ? l->n_chats : 1, sizeof(*v));
    if (!v) {
        pl_resp_free(&r);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n_chats; i++)
        if (pl_conv_chat(l->chats[i], &v[i]) < 0) {
            parley_chats_free(v, i);
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
    *out = v;
    *n = l->n_chats;
    pl_resp_free(&r);
    return 0;
}

int parley_chat_get(parley_client *c, int64_t chat_id, parley_chat **out, parley_error *err)
{
    if (!c || !out || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    *out = NULL;
    Parley__GetChatRequest req = PARLEY__GET_CHAT_REQUEST__INIT;
    req.chat_id = chat_id;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_CHAT;
    f.get_chat = &req;
    return call_chat(c, &f, out, err);
}

/* The usernames without '@', as the request wants them (pointers into the caller's
 * strings; only the array is allocated). */
static int bare_names(const char *const *usernames, size_t n, int allow_empty, char ***out,
                      parley_error *err)
{
    *out = NULL;
    if (n > MAX_MEMBERS)
        return pl_err(err, PARLEY_E_LIMIT_REACHED, "a group has at most %d members",
                      MAX_MEMBERS);
    if (!n && !allow_empty)
        return pl_err(err, PARLEY_E_ARGUMENT, "no usernames given");
    if (!n)
        return 0;
    if (!usernames)
        return pl_err(err, PARLEY_E_ARGUMENT, "no usernames given");
    char **v = calloc(n, sizeof(*v));
    if (!v)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *u = pl_bare_username(usernames[i]);
        if (!u || !u[0] || strlen(u) > 64) {
            free(v);
            return pl_err(err, PARLEY_E_USERNAME_INVALID, "bad username \"%.70s\"",
                          usernames[i] ? usernames[i] : "");
        }
        v[i] = (char *)u;
    }
    *out = v;
    return 0;
}

int parley_group_create(parley_client *c, const char *title, const char *const *usernames,
                        size_t n, parley_chat **out, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    if (out)
        *out = NULL;
    int rc = pl_check_text(title, MAX_TITLE, PARLEY_E_TITLE_INVALID, "group title", err);
    char **names = NULL;
    if (rc < 0 || (rc = bare_names(usernames, n, 1, &names, err)) < 0)
        return rc;
    Parley__CreateGroupRequest req = PARLEY__CREATE_GROUP_REQUEST__INIT;
    req.title = (char *)title;
    req.usernames = names;
    req.n_usernames = n;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_CREATE_GROUP;
    f.create_group = &req;
    rc = call_chat(c, &f, out, err);
    free(names);
    return rc;
}

static int members_change(parley_client *c, int add, int64_t chat_id,
                          const char *const *usernames, size_t n, parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    char **names = NULL;
    int rc = bare_names(usernames, n, 0, &names, err);
    if (rc < 0)
        return rc;
    Parley__ChatMembersRequest req = PARLEY__CHAT_MEMBERS_REQUEST__INIT;
    req.chat_id = chat_id;
    req.usernames = names;
    req.n_usernames = n;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    if (add) {
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_ADD_MEMBERS;
        f.add_members = &req;
    } else {
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_REMOVE_MEMBERS;
        f.remove_members = &req;
    }
    rc = call_chat(c, &f, NULL, err);
    free(names);
    return rc;
}

int parley_group_add(parley_client *c, int64_t chat_id, const char *const *usernames, size_t n,
                     parley_error *err)
{
    return members_change(c, 1, chat_id, usernames, n, err);
}

int parley_group_remove(parley_client *c, int64_t chat_id, const char *const *usernames,
                        size_t n, parley_error *err)
{
    return members_change(c, 0, chat_id, usernames, n, err);
}

int parley_group_leave(parley_client *c, int64_t chat_id, parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    Parley__LeaveChatRequest req = PARLEY__LEAVE_CHAT_REQUEST__INIT;
    req.chat_id = chat_id;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_LEAVE_CHAT;
    f.leave_chat = &req;
    return call_chat(c, &f, NULL, err);
}

int parley_group_rename(parley_client *c, int64_t chat_id, const char *title,
                        parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    int rc = pl_check_text(title, MAX_TITLE, PARLEY_E_TITLE_INVALID, "group title", err);
    if (rc < 0)
        return rc;
    Parley__RenameChatRequest req = PARLEY__RENAME_CHAT_REQUEST__INIT;
    req.chat_id = chat_id;
    req.title = (char *)title;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_RENAME_CHAT;
    f.rename_chat = &req;
    return call_chat(c, &f, NULL, err);
}

/* The account id of a username (ResolveUser). */
static int resolve_user(parley_client *c, const char *username, int64_t *id, parley_error *err)
{
    const char *u = pl_bare_username(username);
    if (!u || !u[0] || strlen(u) > 64)
        return pl_err(err, PARLEY_E_USERNAME_INVALID, "bad username");
    Parley__ResolveUserRequest req = PARLEY__RESOLVE_USER_REQUEST__INIT;
    req.username = (char *)u;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_RESOLVE_USER;
    f.resolve_user = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_USER || !r.r->user)
        return unexpected(c, &r, err);
    *id = r.r->user->id;
    pl_resp_free(&r);
    return 0;
}

int parley_group_set_role(parley_client *c, int64_t chat_id, const char *username,
                          parley_role role, parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    if (role != PARLEY_ROLE_MEMBER && role != PARLEY_ROLE_ADMIN)
        return pl_err(err, PARLEY_E_ARGUMENT, "role must be member or admin");
    int64_t user_id = 0;
    int rc = resolve_user(c, username, &user_id, err);
    if (rc < 0)
        return rc;
    Parley__SetRoleRequest req = PARLEY__SET_ROLE_REQUEST__INIT;
    req.chat_id = chat_id;
    req.user_id = user_id;
    req.role = (Parley__Role)role;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_SET_ROLE;
    f.set_role = &req;
    return call_chat(c, &f, NULL, err);
}

int parley_group_members(parley_client *c, int64_t chat_id, parley_member **out, size_t *n,
                         parley_error *err)
{
    if (!c || !out || !n || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    *out = NULL;
    *n = 0;
    Parley__GetMembersRequest req = PARLEY__GET_MEMBERS_REQUEST__INIT;
    req.chat_id = chat_id;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_MEMBERS;
    f.get_members = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_MEMBERS || !r.r->members)
        return unexpected(c, &r, err);
    const Parley__MemberList *l = r.r->members;
    parley_member *v = calloc(l->n_members ? l->n_members : 1, sizeof(*v));
    if (!v) {
        pl_resp_free(&r);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n_members; i++) {
        const Parley__Member *m = l->members[i];
        v[i].user.id = m->user ? m->user->id : 0;
        v[i].user.username = pl_strdup(m->user ? m->user->username : "");
        v[i].role = (parley_role)m->role;
        v[i].joined = m->joined;
        if (!v[i].user.username) {
            parley_members_free(v, i);
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
    }
    *out = v;
    *n = l->n_members;
    pl_resp_free(&r);
    return 0;
}

int parley_chat_autodelete(parley_client *c, int64_t chat_id, uint32_t seconds,
                           parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    if (seconds > MAX_AUTODELETE)
        return pl_err(err, PARLEY_E_ARGUMENT, "auto-delete is at most 1 year (%u s)",
                      MAX_AUTODELETE);
    Parley__SetAutoDeleteRequest req = PARLEY__SET_AUTO_DELETE_REQUEST__INIT;
    req.chat_id = chat_id;
    req.seconds = seconds;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_SET_AUTO_DELETE;
    f.set_auto_delete = &req;
    return call_chat(c, &f, NULL, err);
}
