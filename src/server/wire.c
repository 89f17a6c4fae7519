/*
 * wire.c: store structs -> protobuf-c messages, built in an arena (see wire.h).
 *
 * The arena exists because a response is a tree of dozens of small messages (a chat list
 * with last messages and service users): building it in bump-allocated blocks and dropping
 * the blocks after packing is both faster and far harder to leak than freeing node by node.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 8192

struct wire_block {
    wire_block *next;
    size_t used, size;
    max_align_t data[];
};

void wire_arena_init(wire_arena *a)
{
    a->head = NULL;
    a->failed = 0;
}

void wire_arena_free(wire_arena *a)
{
    while (a->head) {
        wire_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->failed = 0;
}

void *wire_alloc(wire_arena *a, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    wire_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        b = malloc(sizeof *b + cap);
        if (!b) {
            a->failed = 1;
            return NULL;
        }
        b->size = cap;
        b->used = 0;
        /* Oversized blocks go behind the head so the head keeps its free space. */
        if (size > BLOCK_SIZE && a->head) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

/* protobuf-c wants non-NULL strings; the store may leave optional ones NULL. */
static char *str(const char *s)
{
    return (char *)(s ? s : "");
}

/* One constructor per message type: arena memory plus the generated __init (descriptor). */
#define DEFINE_NEW(type, init)                                                               \
    static type *new_##type(wire_arena *a)                                                  \
    {                                                                                        \
        type *p = wire_alloc(a, sizeof *p);                                                  \
        if (p) init(p);                                                                      \
        return p;                                                                            \
    }
DEFINE_NEW(Parley__User, parley__user__init)
DEFINE_NEW(Parley__Message, parley__message__init)
DEFINE_NEW(Parley__Chat, parley__chat__init)
DEFINE_NEW(Parley__Member, parley__member__init)
DEFINE_NEW(Parley__SessionInfo, parley__session_info__init)
DEFINE_NEW(Parley__MessageIds, parley__message_ids__init)
DEFINE_NEW(Parley__ReadMarker, parley__read_marker__init)
DEFINE_NEW(Parley__ChatRemoved, parley__chat_removed__init)
DEFINE_NEW(Parley__Update, parley__update__init)
DEFINE_NEW(Parley__Error, parley__error__init)

Parley__User *wire_user(wire_arena *a, int64_t id, const char *username)
{
    Parley__User *u = new_Parley__User(a);
    if (!u) return NULL;
    u->id = id;
    u->username = str(username);
    return u;
}

static int service_users(wire_arena *a, Parley__Message *out, const store_msg *m)
{
    if (m->n_service_users == 0) return 0;
    out->service_users = wire_alloc(a, m->n_service_users * sizeof *out->service_users);
    if (!out->service_users) return -1;
    for (size_t i = 0; i < m->n_service_users; i++) {
        out->service_users[i] = wire_user(a, m->service_users[i].id,
                                          m->service_users[i].username);
        if (!out->service_users[i]) return -1;
    }
    out->n_service_users = m->n_service_users;
    return 0;
}

/* A CALL message's CallInfo lives in the service columns (see store.h). */
static Parley__Message *wire_call_info(wire_arena *a, Parley__Message *o, const store_msg *m)
{
    Parley__CallInfo *ci = wire_alloc(a, sizeof *ci);
    if (!ci) return NULL;
    parley__call_info__init(ci);
    ci->outcome = (Parley__CallOutcome)m->service_action;
    ci->duration = m->service_seconds;
    ci->video = m->service_role != 0;
    o->call = ci;
    return o;
}

Parley__Message *wire_message(wire_arena *a, const store_msg *m, int64_t viewer)
{
    Parley__Message *o = new_Parley__Message(a);
    if (!o) return NULL;
    o->chat_id = m->chat_id;
    o->id = m->id;
    o->from_user = m->from_user;
    o->from_username = str(m->from_username);
    o->text = str(m->text);
    o->date = m->date;
    o->edit_date = m->edit_date;
    o->reply_to = m->reply_to;
    o->ttl = m->ttl;
    o->expires_at = m->expires_at;
    o->kind = (Parley__MessageKind)m->kind;
    o->random_id = m->from_user == viewer ? m->random_id : 0;
    if (m->kind == STORE_MSG_CALL) return wire_call_info(a, o, m);
    o->service_action = (Parley__ServiceAction)m->service_action;
    o->service_title = str(m->service_title);
    o->service_seconds = m->service_seconds;
    o->service_role = (Parley__Role)m->service_role;
    return service_users(a, o, m) == 0 ? o : NULL;
}

Parley__Chat *wire_chat(wire_arena *a, const store_chat *c, int64_t viewer)
{
    Parley__Chat *o = new_Parley__Chat(a);
    if (!o) return NULL;
    o->id = c->id;
    o->kind = (Parley__ChatKind)c->kind;
    o->title = str(c->title);
    o->member_count = c->member_count;
    o->unread = c->unread;
    o->top_message_id = c->top_message_id;
    if (c->last_message && !(o->last_message = wire_message(a, c->last_message, viewer)))
        return NULL;
    o->auto_delete = c->auto_delete;
    o->read_inbox_max_id = c->read_inbox_max_id;
    o->read_outbox_max_id = c->read_outbox_max_id;
    o->peer_user_id = c->peer_user_id;
    o->my_role = (Parley__Role)c->my_role;
    o->created = c->created;
    return o;
}

Parley__Member *wire_member(wire_arena *a, const store_member *m)
{
    Parley__Member *o = new_Parley__Member(a);
    if (!o || !(o->user = wire_user(a, m->user_id, m->username))) return NULL;
    o->role = (Parley__Role)m->role;
    o->joined = m->joined;
    return o;
}

Parley__SessionInfo *wire_session(wire_arena *a, const store_session *s, int64_t current)
{
    Parley__SessionInfo *o = new_Parley__SessionInfo(a);
    if (!o) return NULL;
    o->id = s->id;
    o->device = str(s->device);
    o->created = s->created;
    o->last_active = s->last_active;
    o->current = s->id == current;
    return o;
}

static Parley__MessageIds *message_ids(wire_arena *a, const store_update *u)
{
    Parley__MessageIds *o = new_Parley__MessageIds(a);
    if (!o) return NULL;
    o->chat_id = u->chat_id;
    o->n_ids = u->n_ids;
    o->ids = u->ids;  /* borrowed, like the strings */
    return o;
}

static Parley__ReadMarker *read_marker(wire_arena *a, const store_update *u)
{
    Parley__ReadMarker *o = new_Parley__ReadMarker(a);
    if (!o) return NULL;
    o->chat_id = u->chat_id;
    o->by_user = u->by_user;
    o->by_username = str(u->by_username);
    o->max_id = u->max_id;
    return o;
}

/* Fills the oneof of `o` from `u`; 0, or -1 if the update lacks its content. */
static int update_kind(wire_arena *a, Parley__Update *o, const store_update *u, int64_t viewer)
{
    switch (u->kind) {
    case STORE_UPD_NEW_MESSAGE:
    case STORE_UPD_EDIT_MESSAGE: {
        if (!u->msg) return -1;
        Parley__Message *m = wire_message(a, u->msg, viewer);
        int is_new = u->kind == STORE_UPD_NEW_MESSAGE;
        o->kind_case = is_new ? PARLEY__UPDATE__KIND_NEW_MESSAGE : PARLEY__UPDATE__KIND_EDIT_MESSAGE;
        if (is_new) o->new_message = m;
        else o->edit_message = m;
        return m ? 0 : -1;
    }
    case STORE_UPD_DELETE_MESSAGES:
        o->kind_case = PARLEY__UPDATE__KIND_DELETE_MESSAGES;
        return (o->delete_messages = message_ids(a, u)) ? 0 : -1;
    case STORE_UPD_HIDE_MESSAGES:
        o->kind_case = PARLEY__UPDATE__KIND_HIDE_MESSAGES;
        return (o->hide_messages = message_ids(a, u)) ? 0 : -1;
    case STORE_UPD_READ:
        o->kind_case = PARLEY__UPDATE__KIND_READ;
        return (o->read = read_marker(a, u)) ? 0 : -1;
    case STORE_UPD_CHAT:
        if (!u->chat) return -1;
        o->kind_case = PARLEY__UPDATE__KIND_CHAT;
        return (o->chat = wire_chat(a, u->chat, viewer)) ? 0 : -1;
    case STORE_UPD_CHAT_REMOVED:
        o->kind_case = PARLEY__UPDATE__KIND_CHAT_REMOVED;
        o->chat_removed = new_Parley__ChatRemoved(a);
        if (!o->chat_removed) return -1;
        o->chat_removed->chat_id = u->chat_id;
        return 0;
    case STORE_UPD_SESSION_ENDED:
        o->kind_case = PARLEY__UPDATE__KIND_SESSION_ENDED;
        o->session_ended = new_Parley__SessionInfo(a);
        if (!o->session_ended) return -1;
        o->session_ended->id = u->session_id;
        return 0;
    }
    return -1;
}

Parley__Update *wire_update(wire_arena *a, const store_update *u, uint64_t pts, int64_t viewer)
{
    Parley__Update *o = new_Parley__Update(a);
    if (!o) return NULL;
    o->pts = pts;
    o->date = u->date;
    return update_kind(a, o, u, viewer) == 0 ? o : NULL;
}

Parley__Error *wire_error(wire_arena *a, Parley__ErrorCode code, const char *message,
                          uint32_t retry_after)
{
    Parley__Error *e = new_Parley__Error(a);
    if (!e) return NULL;
    e->code = code;
    e->message = str(message);
    e->retry_after = retry_after;
    return e;
}

uint8_t *wire_pack(const Parley__ServerFrame *f, size_t headroom, size_t *len)
{
    size_t n = parley__server_frame__get_packed_size(f);
    uint8_t *buf = malloc(headroom + n);
    if (!buf) return NULL;
    *len = parley__server_frame__pack(f, buf + headroom);
    return buf;
}

Parley__ErrorCode wire_store_error(store_rc rc)
{
    switch (rc) {
    case STORE_OK: return PARLEY__ERROR_CODE__OK;
    case STORE_ERR_EXISTS: return PARLEY__ERROR_CODE__USERNAME_TAKEN;
    case STORE_ERR_NO_USER: return PARLEY__ERROR_CODE__USER_NOT_FOUND;
    case STORE_ERR_NO_CHAT: return PARLEY__ERROR_CODE__CHAT_NOT_FOUND;
    case STORE_ERR_NO_MESSAGE: return PARLEY__ERROR_CODE__MESSAGE_NOT_FOUND;
    case STORE_ERR_FORBIDDEN: return PARLEY__ERROR_CODE__FORBIDDEN;
    case STORE_ERR_LIMIT: return PARLEY__ERROR_CODE__LIMIT_REACHED;
    case STORE_ERR_INVALID: return PARLEY__ERROR_CODE__BAD_REQUEST;
    case STORE_ERR_NO_SESSION: return PARLEY__ERROR_CODE__SESSION_TERMINATED;
    case STORE_ERR_FULL: return PARLEY__ERROR_CODE__BUSY;  /* temporary: retry later */
    case STORE_ERR_INTERNAL: break;
    }
    return PARLEY__ERROR_CODE__INTERNAL;
}
