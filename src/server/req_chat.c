/*
 * req_chat.c: requests about chats, messages and sync: OpenPrivateChat, GetChats, GetChat,
 * GetHistory, SendMessage, EditMessage, DeleteMessages, ReadHistory, CreateGroup,
 * AddMembers, RemoveMembers, LeaveChat, RenameChat, GetMembers, SetRole, SetAutoDelete,
 * GetState, GetDifference (see request.h for the handler model).
 *
 * Each request is three small functions: validate (network thread, before any job),
 * run (store thread) and reply (network thread, after commit). Membership and permission
 * checks are the store's: it answers NO_CHAT for chats the caller is not in, so a stranger
 * cannot tell a foreign chat from a missing one.
 */
#include "expiry.h"
#include "networking.h"
#include "push.h"
#include "request.h"

#include <stdio.h>
#include <stdlib.h>

#define BAD PARLEY__ERROR_CODE__BAD_REQUEST
#define OK PARLEY__ERROR_CODE__OK
#define MEMBERS_MAX STORE_MAX_GROUP_MEMBERS

/* A page must leave room under the output cap for pushes and other answers queued behind
 * it, or a client catching up is disconnected as "too slow" (see PAGE_MAX_BYTES). */
_Static_assert(PAGE_MAX_BYTES * 4 <= CONN_MAX_OUT_BYTES, "a page must stay well under the cap");
/* The store's own early stop must not make pages smaller than the budget allows. */
_Static_assert(STORE_DIFF_TEXT_BYTES >= PAGE_MAX_BYTES, "the store stops after the budget");

/* Bytes one entry adds to a repeated field: its packed body plus the field tag and length
 * prefix (at most 1 + 10 bytes). */
#define ENTRY_BYTES(body) ((size_t)(body) + 11)

static Parley__ErrorCode need_chat(int64_t chat_id, const char **why)
{
    *why = "chat_id must be positive";
    return chat_id > 0 ? OK : BAD;
}

static Parley__ErrorCode check_text(const char *text, const char **why)
{
    *why = "text must be 1-4096 characters of valid UTF-8";
    return valid_text(text, TEXT_MAX) ? OK : PARLEY__ERROR_CODE__TEXT_INVALID;
}

static Parley__ErrorCode check_title(const char *title, const char **why)
{
    *why = "title must be 1-128 characters of valid UTF-8";
    return valid_text(title, TITLE_MAX) ? OK : PARLEY__ERROR_CODE__TITLE_INVALID;
}

/* ---- member lists ------------------------------------------------------------------------- */

static Parley__ErrorCode check_members(const int64_t *ids, size_t n_ids, char **names,
                                       size_t n_names, size_t max, const char **why)
{
    *why = "too many members";
    if (n_ids + n_names > max) return PARLEY__ERROR_CODE__LIMIT_REACHED;
    *why = "user ids must be positive";
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] <= 0) return BAD;
    *why = "username must be 5-32 characters of a-z, 0-9 and _, starting with a letter";
    for (size_t i = 0; i < n_names; i++)
        if (!valid_username(names[i])) return PARLEY__ERROR_CODE__USERNAME_INVALID;
    return OK;
}

static void add_unique(req_job *j, int64_t id)
{
    for (size_t i = 0; i < j->n_user_ids; i++)
        if (j->user_ids[i] == id) return;
    j->user_ids[j->n_user_ids++] = id;
}

/* Store thread: j->user_ids = ids plus the accounts of names, without repeats. An unknown
 * name fails the request with USER_NOT_FOUND naming it. */
static store_rc resolve_members(store *s, req_job *j, const int64_t *ids, size_t n_ids,
                                char **names, size_t n_names)
{
    j->user_ids = malloc((n_ids + n_names + 1) * sizeof *j->user_ids);
    if (!j->user_ids) return STORE_ERR_INTERNAL;
    for (size_t i = 0; i < n_ids; i++) add_unique(j, ids[i]);
    for (size_t i = 0; i < n_names; i++) {
        store_user u;
        store_rc rc = store_user_by_name(s, names[i], &u);
        if (rc == STORE_ERR_NO_USER) {
            j->err = PARLEY__ERROR_CODE__USER_NOT_FOUND;
            snprintf(j->err_msg, sizeof j->err_msg, "user '%s' not found", names[i]);
        }
        if (rc != STORE_OK) return rc;
        add_unique(j, u.id);
        store_user_free(&u);
    }
    return STORE_OK;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void reply_chat(req_job *j, Parley__Response *r, wire_arena *a)
{
    r->chat = wire_chat(a, &j->chat, j->user_id);
    r->result_case = PARLEY__RESPONSE__RESULT_CHAT;
}

/* The chat as the requester sees it (unset after LeaveChat), the range of positions the
 * request added to the requester's log (push_range_for: the requesting connection is not
 * pushed them), and the entries themselves: the chat change and the service messages, which
 * the result describes nowhere else. */
static void reply_chat_result(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__ChatResult *cr = wire_alloc(a, sizeof *cr);
    if (!cr) return;
    parley__chat_result__init(cr);
    if (j->has_chat) cr->chat = wire_chat(a, &j->chat, j->user_id);
    push_range_for(&j->fo, j->user_id, &cr->pts, &cr->pts_count);
    cr->updates = push_updates_for(a, &j->fo, j->user_id, &cr->n_updates);
    r->result_case = PARLEY__RESPONSE__RESULT_CHAT_RESULT;
    r->chat_result = cr;
}

/* ---- OpenPrivateChat ---------------------------------------------------------------------- */

static Parley__ErrorCode open_private_validate(req_job *j, const char **why)
{
    Parley__OpenPrivateChatRequest *r = j->frame->open_private_chat;
    if (r->username[0])
        return check_members(NULL, 0, &r->username, 1, 1, why);
    *why = "give a username or a user_id";
    return r->user_id > 0 ? OK : BAD;
}

static store_rc open_private_run(store *s, req_job *j)
{
    Parley__OpenPrivateChatRequest *r = j->frame->open_private_chat;
    int has_name = r->username[0] != '\0';
    store_rc rc = resolve_members(s, j, &r->user_id, has_name ? 0 : 1, &r->username,
                                  has_name ? 1 : 0);
    if (rc != STORE_OK) return rc;
    rc = store_private_chat(s, j->user_id, j->user_ids[0], j->now, &j->chat, &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

/* ---- GetChats / GetChat / GetMembers ------------------------------------------------------ */

static store_rc get_chats_run(store *s, req_job *j)
{
    return store_chat_list(s, j->user_id, &j->chats, &j->n_chats);
}

static void reply_chats(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__ChatList *l = wire_alloc(a, sizeof *l);
    if (!l) return;
    parley__chat_list__init(l);
    l->chats = wire_alloc(a, (j->n_chats + 1) * sizeof *l->chats);
    if (!l->chats) return;
    for (size_t i = 0; i < j->n_chats; i++)
        if ((l->chats[l->n_chats] = wire_chat(a, &j->chats[i], j->user_id))) l->n_chats++;
    r->result_case = PARLEY__RESPONSE__RESULT_CHATS;
    r->chats = l;
}

static Parley__ErrorCode get_chat_validate(req_job *j, const char **why)
{
    return need_chat(j->frame->get_chat->chat_id, why);
}

static store_rc get_chat_run(store *s, req_job *j)
{
    store_rc rc = store_chat_get(s, j->user_id, j->frame->get_chat->chat_id, &j->chat);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

static Parley__ErrorCode get_members_validate(req_job *j, const char **why)
{
    return need_chat(j->frame->get_members->chat_id, why);
}

static store_rc get_members_run(store *s, req_job *j)
{
    return store_chat_members(s, j->user_id, j->frame->get_members->chat_id, &j->members,
                              &j->n_members);
}

static void reply_members(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__MemberList *l = wire_alloc(a, sizeof *l);
    if (!l) return;
    parley__member_list__init(l);
    l->members = wire_alloc(a, (j->n_members + 1) * sizeof *l->members);
    if (!l->members) return;
    for (size_t i = 0; i < j->n_members; i++)
        if ((l->members[l->n_members] = wire_member(a, &j->members[i]))) l->n_members++;
    r->result_case = PARLEY__RESPONSE__RESULT_MEMBERS;
    r->members = l;
}

/* ---- GetHistory --------------------------------------------------------------------------- */

static Parley__ErrorCode history_validate(req_job *j, const char **why)
{
    Parley__GetHistoryRequest *r = j->frame->get_history;
    if (r->limit == 0) r->limit = HISTORY_DEFAULT;
    *why = "limit must be 1-200 and before_id not negative";
    if (r->limit > STORE_MAX_HISTORY || r->before_id < 0) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc history_run(store *s, req_job *j)
{
    Parley__GetHistoryRequest *r = j->frame->get_history;
    return store_history(s, j->user_id, r->chat_id, r->before_id, r->limit, &j->msgs,
                         &j->n_msgs);
}

/* The page is cut to PAGE_MAX_BYTES here, where the exact encoded sizes are known. It keeps
 * the NEWEST messages: the client pages backwards with before_id = the page's oldest id, so
 * the older ones it drops come with the next page. */
static void reply_messages(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__GetHistoryRequest *q = j->frame->get_history;
    Parley__MessageList *l = wire_alloc(a, sizeof *l);
    if (!l) return;
    parley__message_list__init(l);
    Parley__Message **v = wire_alloc(a, (j->n_msgs + 1) * sizeof *v);
    if (!v) return;
    size_t first = j->n_msgs, used = 0;
    int cut = 0;
    for (size_t i = j->n_msgs; i-- > 0;) {
        Parley__Message *m = wire_message(a, &j->msgs[i], j->user_id);
        if (!m) continue;
        size_t sz = ENTRY_BYTES(parley__message__get_packed_size(m));
        if (first < j->n_msgs && used + sz > PAGE_MAX_BYTES) {
            cut = 1;
            break;
        }
        used += sz;
        v[--first] = m;
    }
    l->messages = v + first;
    l->n_messages = j->n_msgs - first;
    /* A full page cannot tell whether older messages exist: the client asks once more. */
    l->more = cut || j->n_msgs >= q->limit;
    r->result_case = PARLEY__RESPONSE__RESULT_MESSAGES;
    r->messages = l;
}

/* ---- SendMessage / EditMessage ------------------------------------------------------------ */

static Parley__ErrorCode send_validate(req_job *j, const char **why)
{
    Parley__SendMessageRequest *r = j->frame->send_message;
    Parley__ErrorCode code = check_text(r->text, why);
    if (code != OK) return code;
    *why = "random_id must be set";
    if (r->random_id == 0) return BAD;
    *why = "ttl must be 0 or 1-31536000 seconds";
    if (!valid_ttl(r->ttl)) return BAD;
    *why = "reply_to must not be negative";
    if (r->reply_to < 0) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc send_run(store *s, req_job *j)
{
    Parley__SendMessageRequest *r = j->frame->send_message;
    store_rc rc = store_message_send(s, j->user_id, r->chat_id, r->text, r->reply_to, r->ttl,
                                     r->random_id, j->now, &j->msg, &j->pts, &j->duplicate,
                                     &j->fo);
    if (rc == STORE_OK) j->has_msg = 1;
    return rc;
}

static void reply_sent(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__SendResult *sr = wire_alloc(a, sizeof *sr);
    if (!sr) return;
    parley__send_result__init(sr);
    sr->message = wire_message(a, &j->msg, j->user_id);
    /* A resent random_id logs nothing new: the range is the first send's entry. */
    if (j->duplicate) {
        sr->pts = j->pts;
        sr->pts_count = j->pts ? 1 : 0;
    } else {
        push_range_for(&j->fo, j->user_id, &sr->pts, &sr->pts_count);
    }
    r->result_case = PARLEY__RESPONSE__RESULT_SENT;
    r->sent = sr;
}

static void after_sent(req_job *j, conn *c)
{
    if (j->msg.expires_at) expiry_hint(j->srv, j->msg.expires_at);
}

static Parley__ErrorCode edit_validate(req_job *j, const char **why)
{
    Parley__EditMessageRequest *r = j->frame->edit_message;
    Parley__ErrorCode code = check_text(r->text, why);
    if (code != OK) return code;
    *why = "id must be positive";
    if (r->id <= 0) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc edit_run(store *s, req_job *j)
{
    Parley__EditMessageRequest *r = j->frame->edit_message;
    store_rc rc = store_message_edit(s, j->user_id, r->chat_id, r->id, r->text, j->now, &j->msg,
                                     &j->pts, &j->fo);
    if (rc == STORE_OK) j->has_msg = 1;
    j->sq.scrub = 1;  /* the old text must leave the disk */
    return rc;
}

static void reply_edited(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__EditResult *er = wire_alloc(a, sizeof *er);
    if (!er) return;
    parley__edit_result__init(er);
    er->message = wire_message(a, &j->msg, j->user_id);
    push_range_for(&j->fo, j->user_id, &er->pts, &er->pts_count);
    r->result_case = PARLEY__RESPONSE__RESULT_EDITED;
    r->edited = er;
}

/* ---- DeleteMessages / ReadHistory --------------------------------------------------------- */

static Parley__ErrorCode delete_validate(req_job *j, const char **why)
{
    Parley__DeleteMessagesRequest *r = j->frame->delete_messages;
    *why = "give 1-100 positive message ids";
    if (r->n_ids < 1 || r->n_ids > DELETE_IDS_MAX) return BAD;
    for (size_t i = 0; i < r->n_ids; i++)
        if (r->ids[i] <= 0) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc delete_run(store *s, req_job *j)
{
    Parley__DeleteMessagesRequest *r = j->frame->delete_messages;
    j->sq.scrub = r->for_everyone;
    return store_message_delete(s, j->user_id, r->chat_id, r->ids, r->n_ids, r->for_everyone,
                                j->now, &j->ids, &j->n_ids, &j->pts, &j->fo);
}

static void reply_deleted(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__DeleteResult *d = wire_alloc(a, sizeof *d);
    if (!d) return;
    parley__delete_result__init(d);
    d->deleted = j->ids;  /* borrowed until the answer is packed */
    d->n_deleted = j->n_ids;
    push_range_for(&j->fo, j->user_id, &d->pts, &d->pts_count);
    r->result_case = PARLEY__RESPONSE__RESULT_DELETED;
    r->deleted = d;
}

static Parley__ErrorCode read_validate(req_job *j, const char **why)
{
    Parley__ReadHistoryRequest *r = j->frame->read_history;
    *why = "max_id must not be negative";
    if (r->max_id < 0) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc read_run(store *s, req_job *j)
{
    Parley__ReadHistoryRequest *r = j->frame->read_history;
    return store_read(s, j->user_id, r->chat_id, r->max_id, j->now, &j->max_id, &j->pts, &j->fo);
}

static void reply_read(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__ReadResult *rr = wire_alloc(a, sizeof *rr);
    if (!rr) return;
    parley__read_result__init(rr);
    rr->max_id = j->max_id;
    push_range_for(&j->fo, j->user_id, &rr->pts, &rr->pts_count);
    r->result_case = PARLEY__RESPONSE__RESULT_READ;
    r->read = rr;
}

/* Reading starts private-chat timers: have the expiry timer learn the new deadlines. */
static void after_read(req_job *j, conn *c)
{
    expiry_poke(j->srv);
}

/* ---- groups ------------------------------------------------------------------------------- */

static Parley__ErrorCode create_group_validate(req_job *j, const char **why)
{
    Parley__CreateGroupRequest *r = j->frame->create_group;
    Parley__ErrorCode code = check_title(r->title, why);
    if (code != OK) return code;
    return check_members(r->user_ids, r->n_user_ids, r->usernames, r->n_usernames,
                         MEMBERS_MAX - 1, why);
}

static store_rc create_group_run(store *s, req_job *j)
{
    Parley__CreateGroupRequest *r = j->frame->create_group;
    store_rc rc = resolve_members(s, j, r->user_ids, r->n_user_ids, r->usernames, r->n_usernames);
    if (rc != STORE_OK) return rc;
    rc = store_group_create(s, j->user_id, r->title, j->user_ids, j->n_user_ids, j->now, &j->chat,
                            &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

static Parley__ErrorCode members_validate(Parley__ChatMembersRequest *r, const char **why)
{
    *why = "give at least one user";
    if (r->n_user_ids + r->n_usernames == 0) return BAD;
    Parley__ErrorCode code = check_members(r->user_ids, r->n_user_ids, r->usernames,
                                           r->n_usernames, MEMBERS_MAX, why);
    return code != OK ? code : need_chat(r->chat_id, why);
}

static Parley__ErrorCode add_validate(req_job *j, const char **why)
{
    return members_validate(j->frame->add_members, why);
}

static Parley__ErrorCode remove_validate(req_job *j, const char **why)
{
    return members_validate(j->frame->remove_members, why);
}

static store_rc members_run(store *s, req_job *j, Parley__ChatMembersRequest *r, int add)
{
    store_rc rc = resolve_members(s, j, r->user_ids, r->n_user_ids, r->usernames, r->n_usernames);
    if (rc != STORE_OK) return rc;
    rc = add ? store_group_add(s, j->user_id, r->chat_id, j->user_ids, j->n_user_ids, j->now,
                               &j->chat, &j->fo)
             : store_group_remove(s, j->user_id, r->chat_id, j->user_ids, j->n_user_ids, j->now,
                                  &j->chat, &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

static store_rc add_run(store *s, req_job *j)
{
    return members_run(s, j, j->frame->add_members, 1);
}

static store_rc remove_run(store *s, req_job *j)
{
    return members_run(s, j, j->frame->remove_members, 0);
}

static Parley__ErrorCode leave_validate(req_job *j, const char **why)
{
    return need_chat(j->frame->leave_chat->chat_id, why);
}

static store_rc leave_run(store *s, req_job *j)
{
    return store_group_leave(s, j->user_id, j->frame->leave_chat->chat_id, j->now, &j->fo);
}

static Parley__ErrorCode rename_validate(req_job *j, const char **why)
{
    Parley__RenameChatRequest *r = j->frame->rename_chat;
    Parley__ErrorCode code = check_title(r->title, why);
    return code != OK ? code : need_chat(r->chat_id, why);
}

static store_rc rename_run(store *s, req_job *j)
{
    Parley__RenameChatRequest *r = j->frame->rename_chat;
    store_rc rc = store_group_rename(s, j->user_id, r->chat_id, r->title, j->now, &j->chat,
                                     &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

static Parley__ErrorCode set_role_validate(req_job *j, const char **why)
{
    Parley__SetRoleRequest *r = j->frame->set_role;
    *why = "role must be MEMBER or ADMIN, user_id positive";
    if ((r->role != PARLEY__ROLE__MEMBER && r->role != PARLEY__ROLE__ADMIN) || r->user_id <= 0)
        return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc set_role_run(store *s, req_job *j)
{
    Parley__SetRoleRequest *r = j->frame->set_role;
    store_rc rc = store_group_set_role(s, j->user_id, r->chat_id, r->user_id, (int)r->role,
                                       j->now, &j->chat, &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

static Parley__ErrorCode autodelete_validate(req_job *j, const char **why)
{
    Parley__SetAutoDeleteRequest *r = j->frame->set_auto_delete;
    *why = "seconds must be 0 or 1-31536000";
    if (!valid_ttl(r->seconds)) return BAD;
    return need_chat(r->chat_id, why);
}

static store_rc autodelete_run(store *s, req_job *j)
{
    Parley__SetAutoDeleteRequest *r = j->frame->set_auto_delete;
    store_rc rc = store_chat_set_autodelete(s, j->user_id, r->chat_id, r->seconds, j->now,
                                            &j->chat, &j->fo);
    if (rc == STORE_OK) j->has_chat = 1;
    return rc;
}

/* ---- sync --------------------------------------------------------------------------------- */

static store_rc state_run(store *s, req_job *j)
{
    return store_current_pts(s, j->user_id, &j->pts);
}

static void reply_state(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__State *st = wire_alloc(a, sizeof *st);
    if (!st) return;
    parley__state__init(st);
    st->pts = j->pts;
    st->date = j->now;
    r->result_case = PARLEY__RESPONSE__RESULT_STATE;
    r->state = st;
}

static Parley__ErrorCode difference_validate(req_job *j, const char **why)
{
    Parley__GetDifferenceRequest *r = j->frame->get_difference;
    if (r->limit == 0) r->limit = DIFFERENCE_DEFAULT;
    *why = "limit must be 1-1000";
    return r->limit <= STORE_MAX_DIFFERENCE ? OK : BAD;
}

static store_rc difference_run(store *s, req_job *j)
{
    Parley__GetDifferenceRequest *r = j->frame->get_difference;
    return store_get_difference(s, j->user_id, r->since_pts, r->limit, &j->updates,
                                &j->n_updates, &j->pts, &j->more);
}

static void reply_difference(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__Difference *d = wire_alloc(a, sizeof *d);
    if (!d) return;
    parley__difference__init(d);
    d->updates = wire_alloc(a, (j->n_updates + 1) * sizeof *d->updates);
    if (!d->updates) return;
    d->pts = j->pts;
    d->more = j->more != 0;
    /* Cut at PAGE_MAX_BYTES (always keeping one entry). The page then ends at its last
     * entry's pts, not the store's: positions after it that the store skipped (content gone)
     * are skipped again by the next call, and no existing entry is jumped over. */
    size_t used = 0;
    for (size_t i = 0; i < j->n_updates; i++) {
        const store_update *u = &j->updates[i];
        Parley__Update *o = wire_update(a, u, u->pts, j->user_id);
        if (!o) continue;
        size_t sz = ENTRY_BYTES(parley__update__get_packed_size(o));
        if (d->n_updates && used + sz > PAGE_MAX_BYTES) {
            d->pts = d->updates[d->n_updates - 1]->pts;
            d->more = 1;
            break;
        }
        used += sz;
        d->updates[d->n_updates++] = o;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_DIFFERENCE;
    r->difference = d;
}

/* ---- table -------------------------------------------------------------------------------- */

#define H(name, v, r, rep, aft) \
    static const req_handler name = { .validate = v, .run = r, .reply = rep, .after = aft }

H(h_open_private, open_private_validate, open_private_run, reply_chat_result, NULL);
H(h_get_chats, NULL, get_chats_run, reply_chats, NULL);
H(h_get_chat, get_chat_validate, get_chat_run, reply_chat, NULL);
H(h_history, history_validate, history_run, reply_messages, NULL);
H(h_send, send_validate, send_run, reply_sent, after_sent);
H(h_edit, edit_validate, edit_run, reply_edited, NULL);
H(h_delete, delete_validate, delete_run, reply_deleted, NULL);
H(h_read, read_validate, read_run, reply_read, after_read);
H(h_create_group, create_group_validate, create_group_run, reply_chat_result, NULL);
H(h_add, add_validate, add_run, reply_chat_result, NULL);
H(h_remove, remove_validate, remove_run, reply_chat_result, NULL);
H(h_leave, leave_validate, leave_run, reply_chat_result, NULL);
H(h_rename, rename_validate, rename_run, reply_chat_result, NULL);
H(h_members, get_members_validate, get_members_run, reply_members, NULL);
H(h_set_role, set_role_validate, set_role_run, reply_chat_result, NULL);
H(h_autodelete, autodelete_validate, autodelete_run, reply_chat_result, NULL);
H(h_state, NULL, state_run, reply_state, NULL);
H(h_difference, difference_validate, difference_run, reply_difference, NULL);

const req_handler *req_chat_handler(Parley__ClientFrame__RequestCase kind)
{
    switch (kind) {
    case PARLEY__CLIENT_FRAME__REQUEST_OPEN_PRIVATE_CHAT: return &h_open_private;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_CHATS: return &h_get_chats;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_CHAT: return &h_get_chat;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_HISTORY: return &h_history;
    case PARLEY__CLIENT_FRAME__REQUEST_SEND_MESSAGE: return &h_send;
    case PARLEY__CLIENT_FRAME__REQUEST_EDIT_MESSAGE: return &h_edit;
    case PARLEY__CLIENT_FRAME__REQUEST_DELETE_MESSAGES: return &h_delete;
    case PARLEY__CLIENT_FRAME__REQUEST_READ_HISTORY: return &h_read;
    case PARLEY__CLIENT_FRAME__REQUEST_CREATE_GROUP: return &h_create_group;
    case PARLEY__CLIENT_FRAME__REQUEST_ADD_MEMBERS: return &h_add;
    case PARLEY__CLIENT_FRAME__REQUEST_REMOVE_MEMBERS: return &h_remove;
    case PARLEY__CLIENT_FRAME__REQUEST_LEAVE_CHAT: return &h_leave;
    case PARLEY__CLIENT_FRAME__REQUEST_RENAME_CHAT: return &h_rename;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_MEMBERS: return &h_members;
    case PARLEY__CLIENT_FRAME__REQUEST_SET_ROLE: return &h_set_role;
    case PARLEY__CLIENT_FRAME__REQUEST_SET_AUTO_DELETE: return &h_autodelete;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_STATE: return &h_state;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_DIFFERENCE: return &h_difference;
    default: return NULL;
    }
}
