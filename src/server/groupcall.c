/*
 * groupcall.c: the registry of running group calls and their pushes (see groupcall.h).
 *
 * Calls and participants are kept in small arrays scanned linearly: a node holds a few
 * hundred calls of at most 1,000 participants, and the scans happen per request or per SFU
 * event, never per media packet (media never passes parleyd).
 */
#include "groupcall.h"

#include "call.h"
#include "log.h"
#include "networking.h"
#include "sfu_link.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct groupcalls {
    gc_call **calls;
    size_t n, cap;
    uint64_t next_call_id;
    uint32_t next_room, next_sfu_id;
};

/* ---- registry ----------------------------------------------------------------------------- */

int groupcall_start(server *srv)
{
    struct groupcalls *g = calloc(1, sizeof *g);
    if (!g) return -1;
    /* Random starting points: ids of a restarted server do not repeat the last run's. */
    randombytes_buf(&g->next_call_id, sizeof g->next_call_id);
    g->next_call_id = (g->next_call_id >> 12) | 1;
    g->next_room = 1;
    g->next_sfu_id = 1;
    srv->groupcalls = g;
    return 0;
}

static void part_free(gc_part *p)
{
    free(p->views);
    sodium_memzero(p, sizeof *p);
    free(p);
}

static void call_free(gc_call *c)
{
    for (size_t i = 0; i < c->n_parts; i++) part_free(c->parts[i]);
    free(c->parts);
    free(c->members);
    free(c);
}

void groupcall_stop(server *srv)
{
    struct groupcalls *g = srv->groupcalls;
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) call_free(g->calls[i]);
    free(g->calls);
    free(g);
    srv->groupcalls = NULL;
}

gc_call *groupcall_by_chat(server *srv, int64_t chat_id)
{
    struct groupcalls *g = srv->groupcalls;
    for (size_t i = 0; g && i < g->n; i++)
        if (g->calls[i]->chat_id == chat_id) return g->calls[i];
    return NULL;
}

gc_call *groupcall_by_id(server *srv, uint64_t call_id)
{
    struct groupcalls *g = srv->groupcalls;
    for (size_t i = 0; g && i < g->n; i++)
        if (g->calls[i]->id == call_id) return g->calls[i];
    return NULL;
}

gc_part *groupcall_part(gc_call *call, uint32_t participant_id)
{
    for (size_t i = 0; call && i < call->n_parts; i++)
        if (call->parts[i]->id == participant_id) return call->parts[i];
    return NULL;
}

gc_part *groupcall_part_of_conn(server *srv, uint64_t conn_id, gc_call **call)
{
    struct groupcalls *g = srv->groupcalls;
    for (size_t i = 0; g && i < g->n; i++)
        for (size_t k = 0; k < g->calls[i]->n_parts; k++) {
            gc_part *p = g->calls[i]->parts[k];
            if (p->conn_id == conn_id && !p->presentation_of) {
                if (call) *call = g->calls[i];
                return p;
            }
        }
    return NULL;
}

size_t groupcall_count(const gc_call *call, int video_only)
{
    size_t n = 0;
    for (size_t i = 0; i < call->n_parts; i++) {
        const gc_part *p = call->parts[i];
        if (!p->pending && (!video_only || (p->video && !p->presentation_of))) n++;
    }
    return n;
}

static void send_simple(server *srv, Parley__Sfu__ToSfu__OpCase op, void *msg)
{
    Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
    t.op_case = op;
    t.create_room = msg;  /* every op member is a pointer in the same union */
    if (sfu_send(srv, &t, NULL, NULL) != 0) log_warn("sfu: request %d not sent", (int)op);
}

gc_call *groupcall_create(server *srv, int64_t chat_id, int64_t by, const char *by_name)
{
    struct groupcalls *g = srv->groupcalls;
    gc_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        gc_call **n = realloc(g->calls, cap * sizeof *n);
        if (!n) {
            free(c);
            return NULL;
        }
        g->calls = n;
        g->cap = cap;
    }
    c->id = g->next_call_id++;
    c->chat_id = chat_id;
    c->room = g->next_room++;
    c->started = server_now();
    c->started_by = by;
    snprintf(c->started_by_name, sizeof c->started_by_name, "%s", by_name);
    c->next_pid = 1;
    g->calls[g->n++] = c;
    Parley__Sfu__CreateRoom cr = PARLEY__SFU__CREATE_ROOM__INIT;
    cr.room = c->room;
    send_simple(srv, PARLEY__SFU__TO_SFU__OP_CREATE_ROOM, &cr);
    return c;
}

void groupcall_set_members(gc_call *call, int64_t *ids, size_t n)
{
    free(call->members);
    call->members = ids;
    call->n_members = n;
}

gc_part *groupcall_add(server *srv, gc_call *call, const conn *c, const char *username,
                       const uint8_t key[GC_KEY_BYTES], uint32_t presentation_of)
{
    if (call->n_parts == call->cap_parts) {
        size_t cap = call->cap_parts ? call->cap_parts * 2 : 8;
        gc_part **n = realloc(call->parts, cap * sizeof *n);
        if (!n) return NULL;
        call->parts = n;
        call->cap_parts = cap;
    }
    gc_part *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->id = call->next_pid++;
    p->sfu_id = srv->groupcalls->next_sfu_id++;
    p->user_id = c->user_id;
    p->session_id = c->session_id;
    snprintf(p->username, sizeof p->username, "%s", username);
    p->conn_id = c->id;
    memcpy(p->key, key, GC_KEY_BYTES);
    p->presentation_of = presentation_of;
    p->joined = server_now();
    p->pending = 1;
    call->parts[call->n_parts++] = p;
    return p;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static Parley__GroupCallParticipant *encode_part(const gc_part *p, wire_arena *a)
{
    Parley__GroupCallParticipant *m = wire_alloc(a, sizeof *m);
    Parley__User *u = wire_alloc(a, sizeof *u);
    if (!m || !u) return NULL;
    parley__group_call_participant__init(m);
    parley__user__init(u);
    u->id = p->user_id;
    u->username = (char *)p->username;
    m->participant_id = p->id;
    m->user = u;
    m->device_id = p->session_id;
    m->call_key.data = (uint8_t *)p->key;
    m->call_key.len = GC_KEY_BYTES;
    m->audio = p->audio;
    m->video = p->video;
    m->hand_raised = p->hand;
    m->presentation_of = p->presentation_of;
    m->connected = p->connected;
    m->joined = p->joined;
    if (p->is_signed) {   /* both only once signed: a key without signature proves nothing */
        m->identity_key = (ProtobufCBinaryData){ GC_KEY_BYTES, (uint8_t *)p->identity };
        m->call_key_signature = (ProtobufCBinaryData){ GC_SIG_BYTES, (uint8_t *)p->sig };
    }
    return m;
}

int groupcall_state(const gc_call *call, uint32_t after, Parley__GroupCallState *st,
                    wire_arena *a)
{
    parley__group_call_state__init(st);
    st->call_id = call->id;
    st->chat_id = call->chat_id;
    st->speaker = call->speaker;
    st->version = call->version;
    st->started = call->started;
    st->participant_count = (uint32_t)groupcall_count(call, 0);
    Parley__User *by = wire_alloc(a, sizeof *by);
    st->participants = wire_alloc(a, GC_PAGE * sizeof *st->participants);
    if (!by || !st->participants) return -1;
    parley__user__init(by);
    by->id = call->started_by;
    by->username = (char *)call->started_by_name;
    st->started_by = by;
    for (size_t i = 0; i < call->n_parts; i++) {
        const gc_part *p = call->parts[i];
        if (p->pending || p->id <= after) continue;
        if (st->n_participants == GC_PAGE) {
            st->more = 1;
            break;
        }
        if (!(st->participants[st->n_participants++] = encode_part(p, a))) return -1;
    }
    return 0;
}

/* ---- pushes ------------------------------------------------------------------------------- */

static void event_init(Parley__GroupCallEvent *ev, const gc_call *call)
{
    parley__group_call_event__init(ev);
    ev->call_id = call->id;
    ev->chat_id = call->chat_id;
    ev->version = call->version;
    ev->participant_count = (uint32_t)groupcall_count(call, 0);
}

static uint8_t *pack_event(Parley__GroupCallEvent *ev, size_t *len)
{
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_GROUP_CALL;
    f.group_call = ev;
    return wire_pack(&f, 0, len);
}

/* One packed frame to every online connection of the call's members. */
static void push_event(server *srv, const gc_call *call, Parley__GroupCallEvent *ev)
{
    size_t len = 0;
    uint8_t *buf = pack_event(ev, &len);
    if (!buf) {
        log_warn("groupcall: could not encode an event for call %llu",
                 (unsigned long long)call->id);
        return;  /* clients see the version gap and re-read the state */
    }
    for (size_t i = 0; i < call->n_members; i++) {
        conn *c = idmap_get(&srv->push_accounts, (uint64_t)call->members[i]);
        while (c) {
            conn *next = c->acc_next;  /* conn_send_packed never unlinks synchronously */
            if (c->state == CONN_READY) conn_send_packed(c, buf, len);
            c = next;
        }
    }
    free(buf);
}

static void push_part_event(server *srv, gc_call *call, gc_part *p, int changed)
{
    wire_arena a;
    wire_arena_init(&a);
    Parley__GroupCallEvent ev;
    event_init(&ev, call);
    Parley__GroupCallParticipant *m = encode_part(p, &a);
    if (m) {
        ev.kind_case = changed ? PARLEY__GROUP_CALL_EVENT__KIND_CHANGED
                               : PARLEY__GROUP_CALL_EVENT__KIND_JOINED;
        if (changed) ev.changed = m;
        else ev.joined = m;
        push_event(srv, call, &ev);
    }
    wire_arena_free(&a);
}

/* The first visible participant makes the call known: `started` with the state. */
static void push_started(server *srv, gc_call *call)
{
    wire_arena a;
    wire_arena_init(&a);
    Parley__GroupCallEvent ev;
    event_init(&ev, call);
    Parley__GroupCallState *st = wire_alloc(&a, sizeof *st);
    if (st && groupcall_state(call, 0, st, &a) == 0) {
        ev.kind_case = PARLEY__GROUP_CALL_EVENT__KIND_STARTED;
        ev.started = st;
        push_event(srv, call, &ev);
    }
    wire_arena_free(&a);
}

void groupcall_publish_join(server *srv, gc_call *call, gc_part *p)
{
    p->pending = 0;
    call->version++;
    if (!call->opened) {
        /* The chat's history says a call was opened (and, at its end, for how long). */
        call->opened = server_now();
        call->opened_by = p->user_id;
        call_log_entry(srv, call->chat_id, p->user_id, PARLEY__CALL_OUTCOME__GROUP_CALL_STARTED, 1, 0);
    }
    if (groupcall_count(call, 0) == 1) push_started(srv, call);
    else push_part_event(srv, call, p, 0);
}

void groupcall_changed(server *srv, gc_call *call, gc_part *p)
{
    call->version++;
    push_part_event(srv, call, p, 1);
}

int groupcall_push_key(server *srv, gc_call *call, uint32_t from, const gc_part *to,
                       uint32_t epoch, const uint8_t *sealed, size_t len)
{
    conn *c = conn_find(srv, to->conn_id);
    if (!c || c->state != CONN_READY) return 0;
    Parley__GroupCallEvent ev;
    event_init(&ev, call);
    Parley__GroupCallKey k = PARLEY__GROUP_CALL_KEY__INIT;
    k.from_participant = from;
    k.to_participant = to->id;
    k.epoch = epoch;
    k.sealed.data = (uint8_t *)sealed;
    k.sealed.len = len;
    ev.kind_case = PARLEY__GROUP_CALL_EVENT__KIND_KEY;
    ev.key = &k;
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_GROUP_CALL;
    f.group_call = &ev;
    return conn_send(c, &f) == 0;
}

/* ---- removal ------------------------------------------------------------------------------ */

static void end_call(server *srv, gc_call *call, int tell_sfu, int push)
{
    struct groupcalls *g = srv->groupcalls;
    if (push) {
        call->version++;
        Parley__GroupCallEvent ev;
        event_init(&ev, call);
        Parley__Empty e = PARLEY__EMPTY__INIT;
        ev.kind_case = PARLEY__GROUP_CALL_EVENT__KIND_ENDED;
        ev.ended = &e;
        push_event(srv, call, &ev);
    }
    if (call->opened) {
        int64_t secs = server_now() - call->opened;
        call_log_entry(srv, call->chat_id, call->opened_by, PARLEY__CALL_OUTCOME__GROUP_CALL_ENDED, 1,
                       secs > 0 ? (uint32_t)secs : 0);
    }
    if (tell_sfu) {
        Parley__Sfu__DestroyRoom d = PARLEY__SFU__DESTROY_ROOM__INIT;
        d.room = call->room;
        send_simple(srv, PARLEY__SFU__TO_SFU__OP_DESTROY_ROOM, &d);
    }
    for (size_t i = 0; i < g->n; i++)
        if (g->calls[i] == call) {
            g->calls[i] = g->calls[--g->n];
            break;
        }
    call_free(call);
}

/* Drops p from the arrays (and from everyone's views); pushes `left` if it was visible. */
static void drop_one(server *srv, gc_call *call, gc_part *p, int tell_sfu)
{
    if (tell_sfu) {
        Parley__Sfu__RemoveParticipant r = PARLEY__SFU__REMOVE_PARTICIPANT__INIT;
        r.participant = p->sfu_id;
        send_simple(srv, PARLEY__SFU__TO_SFU__OP_REMOVE_PARTICIPANT, &r);
    }
    size_t k = 0;
    for (size_t i = 0; i < call->n_parts; i++)
        if (call->parts[i] != p) call->parts[k++] = call->parts[i];
    call->n_parts = k;
    for (size_t i = 0; i < call->n_parts; i++) {
        gc_part *o = call->parts[i];
        size_t m = 0;
        for (size_t v = 0; v < o->n_views; v++)
            if (o->views[v].publisher != p->id) o->views[m++] = o->views[v];
        o->n_views = m;
    }
    if (call->speaker == p->id) call->speaker = 0;
    if (!p->pending) {
        call->version++;
        Parley__GroupCallEvent ev;
        event_init(&ev, call);
        ev.kind_case = PARLEY__GROUP_CALL_EVENT__KIND_LEFT;
        ev.left = p->id;
        push_event(srv, call, &ev);
    }
    part_free(p);
}

void groupcall_remove(server *srv, gc_call *call, gc_part *p, int tell_sfu)
{
    if (!p->presentation_of) {
        for (size_t i = 0; i < call->n_parts; i++)
            if (call->parts[i]->presentation_of == p->id) {
                drop_one(srv, call, call->parts[i], 1);
                break;  /* one presentation per owner */
            }
    }
    drop_one(srv, call, p, tell_sfu);
    if (call->n_parts == 0) end_call(srv, call, 1, 1);
}

/* ---- hooks -------------------------------------------------------------------------------- */

static gc_part *part_by_sfu_id(server *srv, uint32_t sfu_id, gc_call **call)
{
    struct groupcalls *g = srv->groupcalls;
    for (size_t i = 0; g && i < g->n; i++)
        for (size_t k = 0; k < g->calls[i]->n_parts; k++)
            if (g->calls[i]->parts[k]->sfu_id == sfu_id) {
                *call = g->calls[i];
                return g->calls[i]->parts[k];
            }
    return NULL;
}

void groupcall_sfu_event(server *srv, const Parley__Sfu__Event *ev)
{
    gc_call *call = NULL;
    gc_part *p = part_by_sfu_id(srv, ev->participant, &call);
    switch (ev->kind) {
    case PARLEY__SFU__EVENT__KIND__CONNECTED:
        if (p && !p->connected) {
            p->connected = 1;
            if (!p->pending) groupcall_changed(srv, call, p);
        }
        break;
    case PARLEY__SFU__EVENT__KIND__GONE:
        if (p) groupcall_remove(srv, call, p, 0);  /* the SFU removed it already */
        break;
    case PARLEY__SFU__EVENT__KIND__SPEAKER:
        if (p && !p->pending && call->speaker != p->id) {
            call->speaker = p->id;
            call->version++;
            Parley__GroupCallEvent e;
            event_init(&e, call);
            e.kind_case = PARLEY__GROUP_CALL_EVENT__KIND_SPEAKER;
            e.speaker = p->id;
            push_event(srv, call, &e);
        }
        break;
    default:
        break;  /* KEYFRAME_NEEDED and future kinds: nothing for parleyd to do */
    }
}

void groupcall_sfu_down(server *srv)
{
    struct groupcalls *g = srv->groupcalls;
    while (g && g->n) end_call(srv, g->calls[g->n - 1], 0, !srv->shutting_down);
}

void groupcall_conn_gone(server *srv, conn *c)
{
    struct groupcalls *g = srv->groupcalls;
    for (size_t i = 0; g && i < g->n; i++) {
        gc_call *call = g->calls[i];
        for (size_t k = 0; k < call->n_parts; k++) {
            gc_part *p = call->parts[k];
            if (p->conn_id != c->id || p->presentation_of) continue;
            groupcall_remove(srv, call, p, 1);  /* takes its presentation too */
            return;  /* a connection is in at most one call */
        }
    }
}

/* The audience follows membership at once: the account leaves the push list before its
 * participants are dropped, so not even their `left` reaches it (it learns of the removal
 * from its chat update), and nothing of the call (participants, device ids, keys) after. */
static void audience_drop(gc_call *call, int64_t user_id)
{
    size_t k = 0;
    for (size_t i = 0; i < call->n_members; i++)
        if (call->members[i] != user_id) call->members[k++] = call->members[i];
    call->n_members = k;
}

void groupcall_member_removed(server *srv, int64_t chat_id, int64_t user_id)
{
    gc_call *call = groupcall_by_chat(srv, chat_id);
    if (call) audience_drop(call, user_id);
    for (size_t k = 0; call && k < call->n_parts;) {
        gc_part *p = call->parts[k];
        if (p->user_id != user_id || p->presentation_of) {
            k++;
            continue;
        }
        groupcall_remove(srv, call, p, 1);
        call = groupcall_by_chat(srv, chat_id);  /* NULL once the call ended */
        k = 0;
    }
}
