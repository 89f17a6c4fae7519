/*
 * api_message.c: sending, editing, deleting, reading and history. parley_send gives every
 * message a random non-zero idempotency key (random_id); if the connection drops before the
 * answer it reconnects once and resends with the same key, and the server returns the
 * message it already stored instead of storing a second copy.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "lib.h"

#define MAX_TEXT 4096
#define MAX_TTL 31536000u
#define MAX_DELETE 100
#define MAX_HISTORY 200
#define DEFAULT_HISTORY 50

static int unexpected(parley_client *c, pl_resp *r, parley_error *err)
{
    pl_resp_free(r);
    return pl_err(err, PARLEY_E_PROTOCOL, "unexpected answer from %s", c->url);
}

static int check_send(parley_client *c, int64_t chat_id, const char *text,
                      const parley_send_options *opt, parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    if (opt && opt->ttl > MAX_TTL)
        return pl_err(err, PARLEY_E_ARGUMENT, "self-destruct timer is at most 1 year (%u s)",
                      MAX_TTL);
    if (opt && opt->reply_to < 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad reply-to message id");
    return pl_check_text(text, MAX_TEXT, PARLEY_E_TEXT_INVALID, "message text", err);
}

/* A new random_id: unique per (chat, sender) for the server's duplicate check, and
 * increasing.
 *
 * WHY increasing: the server keeps every message's (chat, sender, random_id) in a B-tree
 * index. Uniformly random keys put each new entry on a random page of that index, so every
 * message dirties one more page, and each WAL checkpoint must write back pages from all over
 * an index that grows with the history (on a 1M-message database, 2,400 sends dirtied 2,496
 * pages with random keys and 810 with increasing ones; the difference grew the server's
 * checkpoint writes and its commit latency over a long run). Increasing keys land where the
 * previous one did.
 *
 * Layout: milliseconds since 2020-01-01 UTC (41 bits, until 2089) << 23, plus 23 random bits;
 * and at least the last one this client issued + 1, so that a burst within one millisecond
 * stays unique and ordered. Two devices of one account sending into one chat within the same
 * millisecond collide with probability about 2^-23 per such pair (the server would then take
 * the second for a resend of the first); a client clock that jumps back only makes keys smaller,
 * never equal to an earlier one of this client. Zero is never used. */
uint64_t pl_new_random_id(parley_client *c)
{
    const uint64_t epoch_ms = 1577836800000ULL;          /* 2020-01-01T00:00:00Z */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t ms = now > epoch_ms ? now - epoch_ms : 0;
    uint32_t low = randombytes_uniform(1u << 23);
    uint64_t id = ((ms & ((1ULL << 41) - 1)) << 23) | low;
    if (id <= c->last_random_id)
        id = c->last_random_id + 1;
    if (id == 0)
        id = 1;
    c->last_random_id = id;
    return id;
}

/* Fills the frame; req and f live in the caller. */
static void build_send(parley_client *c, Parley__SendMessageRequest *req, Parley__ClientFrame *f,
                       int64_t chat_id, const char *text, const parley_send_options *opt)
{
    parley__send_message_request__init(req);
    req->chat_id = chat_id;
    req->text = (char *)text;
    req->reply_to = opt ? opt->reply_to : 0;
    req->ttl = opt ? opt->ttl : 0;
    req->random_id = pl_new_random_id(c);
    parley__client_frame__init(f);
    f->request_case = PARLEY__CLIENT_FRAME__REQUEST_SEND_MESSAGE;
    f->send_message = req;
}

/* A SendResult/EditResult message: moves the position over the request's entries and copies
 * the message out. */
static int take_message(parley_client *c, const Parley__Message *m, uint64_t pts,
                        uint32_t pts_count, parley_message **out, parley_error *err)
{
    pl_sync_on_result(c, pts, pts_count);
    if (!out)
        return 0;
    if (!m)
        return pl_err(err, PARLEY_E_PROTOCOL, "answer without the message from %s", c->url);
    *out = pl_conv_message_new(m);
    return *out ? 0 : pl_err(err, PARLEY_E_NOMEM, "out of memory");
}

int parley_send(parley_client *c, int64_t chat_id, const char *text,
                const parley_send_options *opt, parley_message **out, parley_error *err)
{
    if (out)
        *out = NULL;
    int rc = check_send(c, chat_id, text, opt, err);
    if (rc < 0)
        return rc;
    Parley__SendMessageRequest req;
    Parley__ClientFrame f;
    build_send(c, &req, &f, chat_id, text, opt);
    pl_resp r;
    rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0 && r.lost)        /* same frame, same random_id: never stored twice */
        rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_SENT || !r.r->sent)
        return unexpected(c, &r, err);
    rc = take_message(c, r.r->sent->message, r.r->sent->pts, r.r->sent->pts_count, out, err);
    pl_resp_free(&r);
    return rc;
}

typedef struct {
    pl_call call;                 /* first: the completion gets &call */
    parley_send_cb cb;
    void *ud;
} send_call;

static void send_done(parley_client *c, pl_call *call, const Parley__Response *resp,
                      const parley_error *err)
{
    send_call *s = (send_call *)call;
    int code = 0;
    parley_message m;
    int have = 0;
    if (err) {
        code = -err->code;
    } else if (resp->result_case != PARLEY__RESPONSE__RESULT_SENT || !resp->sent ||
               !resp->sent->message) {
        code = -PARLEY_E_PROTOCOL;
    } else {
        pl_sync_on_result(c, resp->sent->pts, resp->sent->pts_count);
        if (pl_conv_message(resp->sent->message, &m) == 0)
            have = 1;
        else
            code = -PARLEY_E_NOMEM;
    }
    if (s->cb)
        s->cb(c, s->ud, code, have ? &m : NULL);
    if (have)
        pl_message_clear(&m);
}

int parley_send_async(parley_client *c, int64_t chat_id, const char *text,
                      const parley_send_options *opt, parley_send_cb cb, void *ud,
                      parley_error *err)
{
    int rc = check_send(c, chat_id, text, opt, err);
    if (rc < 0)
        return rc;
    if (!c->has_session)
        return pl_err(err, PARLEY_E_NO_SESSION, "not logged in (this profile has no session)");
    if (c->state == CONN_IDLE && (rc = pl_conn_start(c, err)) < 0)
        return rc;
    send_call *s = calloc(1, sizeof(*s));
    if (!s)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    s->call.heap = 1;
    s->call.done = send_done;
    s->cb = cb;
    s->ud = ud;
    Parley__SendMessageRequest req;
    Parley__ClientFrame f;
    build_send(c, &req, &f, chat_id, text, opt);
    rc = pl_rpc_start(c, &s->call, &f, 1);     /* frees s on failure */
    if (rc < 0)
        return pl_err(err, -rc, "cannot queue the message");
    return 0;
}

int parley_edit(parley_client *c, int64_t chat_id, int64_t id, const char *text,
                parley_message **out, parley_error *err)
{
    if (out)
        *out = NULL;
    if (!c || chat_id <= 0 || id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat or message id");
    int rc = pl_check_text(text, MAX_TEXT, PARLEY_E_TEXT_INVALID, "message text", err);
    if (rc < 0)
        return rc;
    Parley__EditMessageRequest req = PARLEY__EDIT_MESSAGE_REQUEST__INIT;
    req.chat_id = chat_id;
    req.id = id;
    req.text = (char *)text;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_EDIT_MESSAGE;
    f.edit_message = &req;
    pl_resp r;
    if ((rc = pl_rpc(c, &f, 1, &r, err)) < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_EDITED || !r.r->edited)
        return unexpected(c, &r, err);
    rc = take_message(c, r.r->edited->message, r.r->edited->pts, r.r->edited->pts_count, out,
                      err);
    pl_resp_free(&r);
    return rc;
}

int parley_delete(parley_client *c, int64_t chat_id, const int64_t *ids, size_t n,
                  int for_everyone, parley_error *err)
{
    if (!c || chat_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat id");
    if (!ids || n < 1 || n > MAX_DELETE)
        return pl_err(err, PARLEY_E_ARGUMENT, "give 1-%d message ids", MAX_DELETE);
    for (size_t i = 0; i < n; i++)
        if (ids[i] <= 0)
            return pl_err(err, PARLEY_E_ARGUMENT, "bad message id %lld", (long long)ids[i]);
    Parley__DeleteMessagesRequest req = PARLEY__DELETE_MESSAGES_REQUEST__INIT;
    req.chat_id = chat_id;
    req.ids = (int64_t *)ids;
    req.n_ids = n;
    req.for_everyone = for_everyone != 0;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_DELETE_MESSAGES;
    f.delete_messages = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_DELETED || !r.r->deleted)
        return unexpected(c, &r, err);
    pl_sync_on_result(c, r.r->deleted->pts, r.r->deleted->pts_count);
    pl_resp_free(&r);
    return 0;
}

int parley_read(parley_client *c, int64_t chat_id, int64_t max_id, parley_error *err)
{
    if (!c || chat_id <= 0 || max_id < 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat or message id");
    Parley__ReadHistoryRequest req = PARLEY__READ_HISTORY_REQUEST__INIT;
    req.chat_id = chat_id;
    req.max_id = max_id;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_READ_HISTORY;
    f.read_history = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_READ || !r.r->read)
        return unexpected(c, &r, err);
    pl_sync_on_result(c, r.r->read->pts, r.r->read->pts_count);
    pl_resp_free(&r);
    return 0;
}

/* One GetHistory page, converted into v[0..*n) (v has room for `limit`). */
static int history_page(parley_client *c, int64_t chat_id, uint32_t limit, int64_t before_id,
                        parley_message *v, size_t *n, int *more, parley_error *err)
{
    Parley__GetHistoryRequest req = PARLEY__GET_HISTORY_REQUEST__INIT;
    req.chat_id = chat_id;
    req.before_id = before_id;
    req.limit = limit;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.request_case = PARLEY__CLIENT_FRAME__REQUEST_GET_HISTORY;
    f.get_history = &req;
    pl_resp r;
    int rc = pl_rpc(c, &f, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r.r->result_case != PARLEY__RESPONSE__RESULT_MESSAGES || !r.r->messages ||
        r.r->messages->n_messages > limit)
        return unexpected(c, &r, err);
    const Parley__MessageList *l = r.r->messages;
    for (size_t i = 0; i < l->n_messages; i++)
        if (pl_conv_message(l->messages[i], &v[i]) < 0) {
            while (i-- > 0)
                pl_message_clear(&v[i]);
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
    *n = l->n_messages;
    /* A server older than MessageList.more never cuts a page short: a page without it is
     * the whole answer, as before. */
    *more = l->more && l->n_messages > 0;
    pl_resp_free(&r);
    return 0;
}

/* The server cuts a page at about 1 MiB, so a page of long messages may be shorter than
 * `limit` while older ones remain: ask again (before the oldest so far) until there are
 * `limit` messages or the server says there are no more. Pages arrive newest first and
 * are stored from the end of v, so v stays oldest first. */
int parley_history(parley_client *c, int64_t chat_id, uint32_t limit, int64_t before_id,
                   parley_message **out, size_t *n, parley_error *err)
{
    if (!c || !out || !n || chat_id <= 0 || before_id < 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad chat or message id");
    *out = NULL;
    *n = 0;
    if (limit > MAX_HISTORY)
        return pl_err(err, PARLEY_E_ARGUMENT, "history limit is 1-%d", MAX_HISTORY);
    if (!limit)
        limit = DEFAULT_HISTORY;
    parley_message *v = calloc(limit, sizeof(*v));
    if (!v)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    size_t have = 0, got = 0;
    int more = 1;
    while (more && have < limit) {
        /* v[limit - have ..) holds what we have; the page lands at v[0 ..) */
        int rc = history_page(c, chat_id, (uint32_t)(limit - have), before_id, v, &got, &more,
                              err);
        if (rc < 0) {
            for (size_t i = limit - have; i < limit; i++)
                pl_message_clear(&v[i]);
            free(v);
            return rc;
        }
        memmove(v + limit - have - got, v, got * sizeof(*v));
        have += got;
        memset(v, 0, (limit - have) * sizeof(*v));
        if (got)
            before_id = v[limit - have].id;
    }
    memmove(v, v + limit - have, have * sizeof(*v));
    *out = v;
    *n = have;
    return 0;
}
