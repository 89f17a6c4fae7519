/*
 * api_account.c: register, login, logout and the session list. A successful register or
 * login stores the new session (token, account, position) in the profile; logout forgets
 * it. Cheap checks happen here to give clear errors; the server still decides.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lib.h"
#include "secret_store.h"

static int check_username(const char *u, parley_error *err)
{
    size_t n = u ? strlen(u) : 0;
    if (n < 5 || n > 32 || !isalpha((unsigned char)u[0]))
        return pl_err(err, PARLEY_E_USERNAME_INVALID,
                      "username must be 5-32 characters of a-z, 0-9 and _, starting with a "
                      "letter");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)u[i]) && u[i] != '_')
            return pl_err(err, PARLEY_E_USERNAME_INVALID,
                          "username must be 5-32 characters of a-z, 0-9 and _, starting "
                          "with a letter");
    return 0;
}

static int check_password(const char *p, parley_error *err)
{
    size_t n = p ? strlen(p) : 0;
    if (n < 8 || n > 1024)
        return pl_err(err, PARLEY_E_PASSWORD_INVALID, "password must be 8-1024 bytes");
    return 0;
}

/* Takes the session of an AuthResult: memory, profile, and the open connection. */
static int adopt_session(parley_client *c, const Parley__AuthResult *a, parley_error *err)
{
    if (!a->user || a->token.len != sizeof(c->token))
        return pl_err(err, PARLEY_E_PROTOCOL, "%s sent a malformed login answer", c->url);
    char *name = pl_strdup(a->user->username);
    if (!name)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    free(c->me.username);
    c->me.username = name;
    c->me.id = a->user->id;
    memcpy(c->token, a->token.data, sizeof(c->token));
    c->has_session = 1;
    c->session_id = a->session_id;
    c->server_pts = a->pts;
    /* A new device starts at the account's current position, not at its first update. */
    pl_sync_clear(&c->sync);
    c->sync.pts = a->pts;
    c->saved_pts = a->pts;
    c->pts_known = 1;
    int rc = pl_profile_save_session(&c->prof, c->url, c->token, c->me.id, c->me.username,
                                     c->session_id, a->pts, err);
    if (rc == 0)
        rc = pl_profile_set_text(&c->prof, PK_DEVICE, c->device, err);
    pl_conn_authed(c);
    return rc;
}

static int auth_common(parley_client *c, int is_register, const char *username,
                       const char *password, const char *invite, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    username = pl_bare_username(username);
    int rc;
    if (is_register) {
        if ((rc = check_username(username, err)) < 0 || (rc = check_password(password, err)) < 0)
            return rc;
    } else if (!username || !username[0] || !password || strlen(password) > 1024) {
        return pl_err(err, PARLEY_E_INVALID_CREDENTIALS, "wrong username or password");
    }
    /* Connecting resumes a stored session first; if that session is dead it is forgotten. */
    int64_t deadline = pl_deadline(c);
    if ((rc = pl_check_not_in_service(c, err)) < 0)
        return rc;
    rc = pl_conn_ready(c, 0, deadline, err);
    if (rc < 0)
        return rc;
    if (c->has_session)
        return pl_err(err, PARLEY_E_ALREADY_AUTHENTICATED,
                      "this profile is already logged in as %s; log out first",
                      c->me.username ? c->me.username : "another account");
    Parley__RegisterRequest reg = PARLEY__REGISTER_REQUEST__INIT;
    Parley__LoginRequest login = PARLEY__LOGIN_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    if (is_register) {
        reg.username = (char *)username;
        reg.password = (char *)password;
        reg.device = c->device;
        reg.invite = (char *)(invite ? invite : "");
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_REGISTER;
        f.register_ = &reg;
    } else {
        login.username = (char *)username;
        login.password = (char *)password;
        login.device = c->device;
        f.request_case = PARLEY__CLIENT_FRAME__REQUEST_LOGIN;
        f.login = &login;
    }
    pl_resp r;
    rc = pl_rpc(c, &f, 0, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case == PARLEY__RESPONSE__RESULT_AUTH && r.r->auth)
        rc = adopt_session(c, r.r->auth, err);
    else
        rc = pl_err(err, PARLEY_E_PROTOCOL, "unexpected answer from %s", c->url);
    /* The answer held the session token: do not leave it in freed memory. */
    if (r.r->result_case == PARLEY__RESPONSE__RESULT_AUTH && r.r->auth && r.r->auth->token.data)
        sodium_memzero(r.r->auth->token.data, r.r->auth->token.len);
    pl_resp_free(&r);
    if (rc == 0)
        pl_sc_on_new_session(c);    /* publish this device's secret-chat keys */
    return rc;
}

int parley_register(parley_client *c, const char *username, const char *password,
                    parley_error *err)
{
    return auth_common(c, 1, username, password, NULL, err);
}

int parley_register_invite(parley_client *c, const char *username, const char *password,
                           const char *invite, parley_error *err)
{
    if (invite && strlen(invite) > 64)
        return pl_err(err, PARLEY_E_ARGUMENT, "invite code must be 1-64 characters");
    return auth_common(c, 1, username, password, invite, err);
}

int parley_login(parley_client *c, const char *username, const char *password,
                 parley_error *err)
{
    return auth_common(c, 0, username, password, NULL, err);
}

int parley_logout(parley_client *c, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    Parley__LogoutRequest req = PARLEY__LOGOUT_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_LOGOUT;
    f.logout = &req;
    pl_resp r;
    parley_error e;
    int rc = pl_rpc(c, &f, 1, &r, &e);
    pl_resp_free(&r);
    /* SESSION_TERMINATED: the server ended the session before (or instead of) answering,
     * which is what was asked. */
    if (rc == 0 || rc == -PARLEY_E_SESSION_TERMINATED) {
        pl_sc_wipe_device(c);      /* the device is gone: so are its secret chats */
        if (c->has_session)
            pl_forget_session(c);
        memset(&c->hs_err, 0, sizeof(c->hs_err));
        parley_error bye;
        pl_err(&bye, PARLEY_E_NO_SESSION, "logged out");
        pl_conn_drop(c, &bye);
        return 0;
    }
    return pl_err_copy(err, &e);
}

int parley_sessions(parley_client *c, parley_session **out, size_t *n, parley_error *err)
{
    if (!c || !out || !n)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    *n = 0;
    Parley__ListSessionsRequest req = PARLEY__LIST_SESSIONS_REQUEST__INIT;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_LIST_SESSIONS;
    f.list_sessions = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_SESSIONS || !r.r->sessions) {
        pl_resp_free(&r);
        return pl_err(err, PARLEY_E_PROTOCOL, "unexpected answer from %s", c->url);
    }
    const Parley__SessionList *l = r.r->sessions;
    parley_session *v = calloc(l->n_sessions ? l->n_sessions : 1, sizeof(*v));
    if (!v) {
        pl_resp_free(&r);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n_sessions; i++) {
        const Parley__SessionInfo *s = l->sessions[i];
        v[i].id = s->id;
        v[i].created = s->created;
        v[i].last_active = s->last_active;
        v[i].current = s->current;
        v[i].device = pl_strdup(s->device);
        if (!v[i].device) {
            parley_sessions_free(v, i);
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
    }
    *out = v;
    *n = l->n_sessions;
    pl_resp_free(&r);
    return 0;
}

int parley_sessions_terminate(parley_client *c, int64_t session_id, int64_t **terminated,
                              size_t *n, parley_error *err)
{
    if (!c || session_id < 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad session id");
    if (terminated)
        *terminated = NULL;
    if (n)
        *n = 0;
    Parley__TerminateSessionRequest req = PARLEY__TERMINATE_SESSION_REQUEST__INIT;
    req.session_id = session_id;
    req.others = session_id == 0;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_TERMINATE_SESSION;
    f.terminate_session = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    const Parley__TerminateResult *t =
        r.r->result_case == PARLEY__RESPONSE__RESULT_TERMINATED ? r.r->terminated : NULL;
    if (t)      /* one session_ended entry per ended session, not pushed to this connection */
        pl_sync_on_result(c, t->pts, t->pts_count);
    size_t count = t ? t->n_terminated : 0;
    if (terminated && count) {
        *terminated = malloc(count * sizeof(int64_t));
        if (!*terminated) {
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
        memcpy(*terminated, t->terminated, count * sizeof(int64_t));
    }
    if (n)
        *n = count;
    pl_resp_free(&r);
    return 0;
}
