/*
 * groupcall.h: the in-memory registry of running group calls (docs/GROUP_CALLS.md, the
 * "Group calls" section of parley.proto) and the pushes that tell clients about them.
 *
 * A chat has at most one running call. A call maps to one SFU room; each participant (a
 * device's connection, or that device's screen share) maps to one SFU participant with a
 * server-wide id. A participant is `pending` from the moment its Join is sent to the SFU
 * until the SFU answers; only then do others see it. The call ends when its last
 * participant goes (Leave, connection closed, SFU consent timeout, removal from the chat),
 * or when the SFU stops (all calls end).
 *
 * Pushes: every change goes as one GroupCallEvent frame (packed once) to every online
 * connection of the chat's members (as read at the latest join), so that members outside
 * the call see `started`, counts and `ended`; sealed keys go only to their recipient's
 * connection.
 *
 * Network thread only. The registry (srv->groupcalls, made by groupcall_start, freed by
 * groupcall_stop) owns calls and participants; connections are named by id. The request
 * side lives in req_groupcall.c, which uses the structures below directly.
 */
#ifndef PARLEY_GROUPCALL_H
#define PARLEY_GROUPCALL_H

#include <stddef.h>
#include <stdint.h>

#include "parley.pb-c.h"
#include "server.h"
#include "sfu.pb-c.h"
#include "wire.h"

#define GC_SDP_MAX 60000
#define GC_KEY_BYTES 32
#define GC_MAX_VIEWS 1000
#define GC_MAX_KEYS 500
#define GC_SEALED_MAX 256
#define GC_PAGE 200          /* participants per GroupCallState page: ~100 bytes each, up
                              * to ~230 with identity key and signature (64 KiB frames) */
#define GC_SIG_BYTES 64
#define GC_MID_MAX 16

typedef struct {
    uint32_t publisher;      /* participant id */
    uint32_t max_height;
} gc_view;

typedef struct {
    uint32_t id;             /* within the call, never reused */
    uint32_t sfu_id;         /* server-wide, the SFU's participant id */
    int64_t user_id, session_id;
    char username[33];
    uint64_t conn_id;
    uint8_t key[GC_KEY_BYTES];
    uint8_t identity[GC_KEY_BYTES];  /* the device's identity key, if has_identity */
    uint8_t sig[GC_SIG_BYTES];       /* its signature of key (GroupCallSign), if is_signed */
    unsigned has_identity : 1, is_signed : 1;
    unsigned audio : 1, video : 1, hand : 1, connected : 1;
    unsigned pending : 1;    /* the SFU has not answered its Join yet: invisible */
    uint32_t presentation_of;
    int64_t joined;
    gc_view *views;          /* what it receives (malloc'd), n_views of them */
    size_t n_views;
} gc_part;

typedef struct {
    uint64_t id;
    int64_t chat_id;
    uint32_t room;           /* the SFU room */
    uint64_t version;
    int64_t started;
    int64_t started_by;
    int64_t opened;          /* when the first participant became visible; 0: not yet */
    int64_t opened_by;       /* its account: the sender of the call's history entries */
    char started_by_name[33];
    uint32_t next_pid;
    uint32_t speaker;
    gc_part **parts;         /* owned, ordered by id (ids only grow) */
    size_t n_parts, cap_parts;
    int64_t *members;        /* chat member ids for pushes (malloc'd) */
    size_t n_members;
} gc_call;

/* 0, or -1 when out of memory. */
int groupcall_start(server *srv);
/* Frees every call without pushes (parleyd is stopping). */
void groupcall_stop(server *srv);

gc_call *groupcall_by_chat(server *srv, int64_t chat_id);
gc_call *groupcall_by_id(server *srv, uint64_t call_id);
gc_part *groupcall_part(gc_call *call, uint32_t participant_id);
/* The participant of connection conn_id in any call (not a presentation), or NULL. */
gc_part *groupcall_part_of_conn(server *srv, uint64_t conn_id, gc_call **call);
/* Visible (non-pending) participants, and those of them sending camera video. */
size_t groupcall_count(const gc_call *call, int video_only);

/* A new call for chat_id (and its SFU room, CreateRoom sent). NULL if out of memory. */
gc_call *groupcall_create(server *srv, int64_t chat_id, int64_t by, const char *by_name);
/* Replaces the call's member list (takes ownership of ids). */
void groupcall_set_members(gc_call *call, int64_t *ids, size_t n);
/* Adds a pending participant. NULL if out of memory. */
gc_part *groupcall_add(server *srv, gc_call *call, const conn *c, const char *username,
                       const uint8_t key[GC_KEY_BYTES], uint32_t presentation_of);
/* The SFU accepted p's offer: p becomes visible, `joined` is pushed. */
void groupcall_publish_join(server *srv, gc_call *call, gc_part *p);
/* Removes p (and its presentation): RemoveParticipant to the SFU unless tell_sfu is 0,
 * `left` pushed for each visible one; ends the call when nobody is left. The call may be
 * freed: do not use it afterwards. */
void groupcall_remove(server *srv, gc_call *call, gc_part *p, int tell_sfu);
/* Bumps the version and pushes `changed` for p. */
void groupcall_changed(server *srv, gc_call *call, gc_part *p);
/* Pushes a sealed key to its recipient's connection. 1 if sent. */
int groupcall_push_key(server *srv, gc_call *call, uint32_t from, const gc_part *to,
                       uint32_t epoch, const uint8_t *sealed, size_t len);
/* Fills st with a page of the call (after participant `after`), allocating from a. 0 or -1. */
int groupcall_state(const gc_call *call, uint32_t after, Parley__GroupCallState *st,
                    wire_arena *a);

/* Hooks. */
void groupcall_sfu_event(server *srv, const Parley__Sfu__Event *ev);
void groupcall_sfu_down(server *srv);
void groupcall_conn_gone(server *srv, conn *c);
void groupcall_member_removed(server *srv, int64_t chat_id, int64_t user_id);

#endif
