/*
 * req_groupcall.c: the group-call requests (see request.h for the handler model, groupcall.h
 * for the registry, and the "Group calls" section of parley.proto for the rules).
 *
 * Join and GetGroupCall read the store once (is the caller a member of the chat, its name,
 * the members to push to); everything else is answered on the network thread, because call
 * state lives in memory. Join, Renegotiate and Subscribe then wait for parley-sfu: the job
 * stays alive until every SFU answer is in (sfu_link guarantees each callback runs exactly
 * once, with NULL if the SFU went away), and the call is looked up again by id, since it may
 * have ended meanwhile.
 *
 * Every check happens before anything changes: a refused request leaves the call, its
 * version and the SFU as they were. A participant id is honoured only from the connection
 * that joined with it, so nobody acts for another user or another device.
 *
 * Also here: RegisterDeviceKey, which binds a device's identity key once (the browser's
 * group-call signing key), and GroupCallSign, which checks a participant's signature of its
 * call key against that identity key before anyone is shown it (docs/GROUP_CALLS.md, 2).
 */
#include "groupcall.h"
#include "networking.h"
#include "request.h"
#include "sfu_link.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD PARLEY__ERROR_CODE__BAD_REQUEST
#define OK PARLEY__ERROR_CODE__OK
#define NOT_FOUND PARLEY__ERROR_CODE__GROUP_CALL_NOT_FOUND
#define FULL PARLEY__ERROR_CODE__GROUP_CALL_FULL
#define UNAVAILABLE PARLEY__ERROR_CODE__SFU_UNAVAILABLE
#define TOO_LARGE PARLEY__ERROR_CODE__TOO_LARGE

/* ---- shared ------------------------------------------------------------------------------- */

static Parley__ErrorCode check_sdp(const char *sdp, const char **why)
{
    size_t n = sdp ? strlen(sdp) : 0;
    *why = "offer_sdp must be 1-60000 bytes";
    if (n == 0) return BAD;
    return n <= GC_SDP_MAX ? OK : TOO_LARGE;
}

/* The caller's own participant `pid` in call `call_id`; else NULL, and j was answered
 * GROUP_CALL_NOT_FOUND (and freed). */
static gc_part *own_part(req_job *j, uint64_t call_id, uint32_t pid, gc_call **call)
{
    *call = groupcall_by_id(j->srv, call_id);
    gc_part *p = groupcall_part(*call, pid);
    if (p && !p->pending && p->conn_id == j->conn_id) return p;
    req_fail(j, NOT_FOUND, "not a participant of yours in that call", 0);
    return NULL;
}

static void fill_empty(req_job *j, Parley__Response *r, wire_arena *a)
{
    if (!(r->empty = wire_alloc(a, sizeof *r->empty))) return;
    parley__empty__init(r->empty);
    r->result_case = PARLEY__RESPONSE__RESULT_EMPTY;
}

/* An SFU refusal as the client's error: the SFU's reason names what was wrong (the SDP). */
static void fail_sfu(req_job *j, const Parley__Sfu__Response *r)
{
    if (!r) {
        req_fail(j, UNAVAILABLE, "the media server stopped", 0);
        return;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "media server: %s", r->error && *r->error ? r->error : "refused");
    req_fail(j, BAD, msg, 0);
}

/* ---- Join --------------------------------------------------------------------------------- */

static Parley__ErrorCode join_validate(req_job *j, const char **why)
{
    const Parley__GroupCallJoinRequest *q = j->frame->group_call_join;
    *why = "chat_id is required";
    if (q->chat_id <= 0) return BAD;
    *why = "call_key must be 32 bytes";
    if (q->call_key.len != GC_KEY_BYTES) return BAD;
    return check_sdp(q->offer_sdp, why);
}

static void join_start(req_job *j)
{
    if (!sfu_link_up(j->srv)) req_fail(j, UNAVAILABLE, "the media server is not running", 0);
    else req_submit_store(j, j->h);
}

/* Store thread: membership (the same answer as "no call" otherwise), name, member list. */
static store_rc join_run(store *s, req_job *j)
{
    int64_t chat_id = j->frame->request_case == PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_JOIN
                  ? j->frame->group_call_join->chat_id
                  : j->frame->get_group_call->chat_id;
    store_rc rc = store_chat_get(s, j->user_id, chat_id, &j->chat);
    if (rc != STORE_OK) return rc;
    j->has_chat = 1;
    if ((rc = store_user_by_id(s, j->user_id, &j->user)) != STORE_OK)
        return rc == STORE_ERR_NO_USER ? STORE_ERR_INTERNAL : rc;
    j->has_user = 1;
    if (j->frame->request_case == PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_JOIN) {
        rc = store_device_key_get(s, j->session_id, j->gc_identity, &j->gc_has_identity);
        if (rc == STORE_ERR_INTERNAL) return rc;   /* an ended session: no key, no signing */
    }
    return store_chat_members(s, j->user_id, chat_id, &j->members, &j->n_members);
}

static int64_t *member_ids(const req_job *j)
{
    int64_t *ids = malloc((j->n_members ? j->n_members : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < j->n_members; i++) ids[i] = j->members[i].user_id;
    return ids;
}

static void fill_joined(req_job *j, Parley__Response *r, wire_arena *a)
{
    gc_call *call = groupcall_by_id(j->srv, j->gc_call_id);
    Parley__GroupCallJoined *jd = wire_alloc(a, sizeof *jd);
    Parley__GroupCallState *st = wire_alloc(a, sizeof *st);
    if (!call || !jd || !st || groupcall_state(call, 0, st, a) != 0) return;
    parley__group_call_joined__init(jd);
    jd->participant_id = j->gc_pid;
    jd->answer_sdp = j->gc_answer;
    jd->state = st;
    r->result_case = PARLEY__RESPONSE__RESULT_GROUP_CALL_JOINED;
    r->group_call_joined = jd;
}

static void join_answered(server *srv, void *arg, const Parley__Sfu__Response *r)
{
    req_job *j = arg;
    gc_call *call = groupcall_by_id(srv, j->gc_call_id);
    gc_part *p = groupcall_part(call, j->gc_pid);
    if (!p) {  /* the connection closed or the call ended while the SFU worked */
        req_fail(j, NOT_FOUND, "the call ended", 0);
        return;
    }
    if (!r || !r->ok) {
        groupcall_remove(srv, call, p, 0);  /* invisible: nobody was told */
        fail_sfu(j, r);
        return;
    }
    j->gc_answer = strdup(r->answer_sdp ? r->answer_sdp : "");
    if (!j->gc_answer) {
        groupcall_remove(srv, call, p, 1);
        req_fail(j, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        return;
    }
    groupcall_publish_join(srv, call, p);
    req_answer_now(j, fill_joined);
}

/* Network thread, after the store: the limits, then the pending participant and the SFU. */
static Parley__ErrorCode join_check(req_job *j, conn *c, gc_call *call, const char **why)
{
    const Parley__GroupCallJoinRequest *q = j->frame->group_call_join;
    const server_config *cfg = &j->srv->cfg;
    gc_call *mine = NULL;
    gc_part *own = groupcall_part_of_conn(j->srv, c->id, &mine);
    if (q->presentation_of) {
        gc_part *o = groupcall_part(call, q->presentation_of);
        *why = "presentation_of must be your own participant in this chat's call";
        if (!o || o != own || o->pending) return NOT_FOUND;
        *why = "you are already sharing a screen";
        for (size_t i = 0; i < call->n_parts; i++)
            if (call->parts[i]->presentation_of == o->id) return PARLEY__ERROR_CODE__CALL_BUSY;
    } else if (own) {
        *why = "this connection is already in a group call";
        return PARLEY__ERROR_CODE__CALL_BUSY;
    }
    *why = "the call is full";
    if (call && call->n_parts >= cfg->gc_max_participants) return FULL;
    *why = "the call has the most video senders it allows";
    if (call && q->video && !q->presentation_of && groupcall_count(call, 1) >= cfg->gc_max_video)
        return FULL;
    return OK;
}

static void join_complete(req_job *j)
{
    if (j->sq.rc != STORE_OK) {
        if (j->sq.rc == STORE_ERR_NO_CHAT) req_fail(j, NOT_FOUND, "no such chat", 0);
        else req_finish(j);
        return;
    }
    conn *c = conn_find(j->srv, j->conn_id);
    if (!c || c->state != CONN_READY || c->user_id != j->user_id) {
        req_job_free(j);
        return;
    }
    const Parley__GroupCallJoinRequest *q = j->frame->group_call_join;
    gc_call *call = groupcall_by_chat(j->srv, q->chat_id);
    const char *why = NULL;
    Parley__ErrorCode code = join_check(j, c, call, &why);
    if (code == OK && q->presentation_of && !call) code = NOT_FOUND;
    if (code == OK && !sfu_link_up(j->srv)) {
        code = UNAVAILABLE;
        why = "the media server is not running";
    }
    if (code != OK) {
        req_fail(j, code, why, 0);
        return;
    }
    int64_t *ids = member_ids(j);
    if (!ids || (!call && !(call = groupcall_create(j->srv, q->chat_id, j->user_id,
                                                     j->user.username)))) {
        free(ids);
        req_fail(j, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        return;
    }
    groupcall_set_members(call, ids, j->n_members);
    gc_part *p = groupcall_add(j->srv, call, c, j->user.username, q->call_key.data,
                               q->presentation_of);
    Parley__Sfu__AddParticipant ap = PARLEY__SFU__ADD_PARTICIPANT__INIT;
    Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
    if (p) {
        p->audio = q->audio && !q->presentation_of;
        p->video = q->video && !q->presentation_of;
        if (j->gc_has_identity) {
            memcpy(p->identity, j->gc_identity, GC_KEY_BYTES);
            p->has_identity = 1;
        }
        j->gc_call_id = call->id;
        j->gc_pid = p->id;
        ap.room = call->room;
        ap.participant = p->sfu_id;
        ap.offer_sdp = q->offer_sdp;
        t.op_case = PARLEY__SFU__TO_SFU__OP_ADD_PARTICIPANT;
        t.add_participant = &ap;
    }
    if (!p || sfu_send(j->srv, &t, join_answered, j) != 0) {
        /* An empty call left behind by running out of memory is reused by the next join. */
        if (p) groupcall_remove(j->srv, call, p, 0);
        req_fail(j, p ? UNAVAILABLE : PARLEY__ERROR_CODE__INTERNAL, "could not reach the SFU", 0);
    }
}

/* ---- GetGroupCall ------------------------------------------------------------------------- */

static Parley__ErrorCode get_validate(req_job *j, const char **why)
{
    *why = "chat_id is required";
    return j->frame->get_group_call->chat_id > 0 ? OK : BAD;
}

static void fill_state(req_job *j, Parley__Response *r, wire_arena *a)
{
    const Parley__GetGroupCallRequest *q = j->frame->get_group_call;
    Parley__GroupCallState *st = wire_alloc(a, sizeof *st);
    if (!st) return;
    gc_call *call = groupcall_by_chat(j->srv, q->chat_id);
    if (call && groupcall_count(call, 0) > 0) {
        if (groupcall_state(call, q->after_participant, st, a) != 0) return;
    } else {
        parley__group_call_state__init(st);  /* call_id 0: no running call */
        st->chat_id = q->chat_id;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_GROUP_CALL;
    r->group_call = st;
}

static void get_complete(req_job *j)
{
    if (j->sq.rc == STORE_ERR_NO_CHAT) req_fail(j, NOT_FOUND, "no such chat", 0);
    else if (j->sq.rc != STORE_OK) req_finish(j);
    else req_answer_now(j, fill_state);
}

/* ---- Leave -------------------------------------------------------------------------------- */

static void leave_start(req_job *j)
{
    const Parley__GroupCallLeaveRequest *q = j->frame->group_call_leave;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    groupcall_remove(j->srv, call, p, 1);
    req_answer_now(j, fill_empty);
}

/* ---- Renegotiate -------------------------------------------------------------------------- */

static Parley__ErrorCode reneg_validate(req_job *j, const char **why)
{
    return check_sdp(j->frame->group_call_renegotiate->offer_sdp, why);
}

static void fill_answer(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__GroupCallAnswer *ga = wire_alloc(a, sizeof *ga);
    if (!ga) return;
    parley__group_call_answer__init(ga);
    ga->answer_sdp = j->gc_answer;
    r->result_case = PARLEY__RESPONSE__RESULT_GROUP_CALL_ANSWER;
    r->group_call_answer = ga;
}

static void reneg_answered(server *srv, void *arg, const Parley__Sfu__Response *r)
{
    req_job *j = arg;
    if (!r || !r->ok) {
        fail_sfu(j, r);
        return;
    }
    if (!(j->gc_answer = strdup(r->answer_sdp ? r->answer_sdp : ""))) {
        req_fail(j, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        return;
    }
    req_answer_now(j, fill_answer);
}

static void reneg_start(req_job *j)
{
    const Parley__GroupCallRenegotiateRequest *q = j->frame->group_call_renegotiate;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    Parley__Sfu__UpdateParticipant up = PARLEY__SFU__UPDATE_PARTICIPANT__INIT;
    up.participant = p->sfu_id;
    up.offer_sdp = q->offer_sdp;
    Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
    t.op_case = PARLEY__SFU__TO_SFU__OP_UPDATE_PARTICIPANT;
    t.update_participant = &up;
    if (sfu_send(j->srv, &t, reneg_answered, j) != 0)
        req_fail(j, UNAVAILABLE, "the media server is not running", 0);
}

/* ---- Media flags -------------------------------------------------------------------------- */

static void media_start(req_job *j)
{
    const Parley__GroupCallMediaRequest *q = j->frame->group_call_media;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    int audio = q->audio && !p->presentation_of, video = q->video && !p->presentation_of;
    if (video && !p->video && groupcall_count(call, 1) >= j->srv->cfg.gc_max_video) {
        req_fail(j, FULL, "the call has the most video senders it allows", 0);
        return;
    }
    if (audio != p->audio || video != p->video || q->hand_raised != p->hand) {
        p->audio = audio;
        p->video = video;
        p->hand = q->hand_raised;
        Parley__Sfu__SetMute m = PARLEY__SFU__SET_MUTE__INIT;
        m.participant = p->sfu_id;
        m.audio_muted = !audio;
        m.video_muted = !video && !p->presentation_of;
        Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
        t.op_case = PARLEY__SFU__TO_SFU__OP_SET_MUTE;
        t.set_mute = &m;
        sfu_send(j->srv, &t, NULL, NULL);  /* best effort: the flags are what others see */
        groupcall_changed(j->srv, call, p);
    }
    req_answer_now(j, fill_empty);
}

/* ---- Keys --------------------------------------------------------------------------------- */

static Parley__ErrorCode keys_validate(req_job *j, const char **why)
{
    const Parley__GroupCallKeysRequest *q = j->frame->group_call_keys;
    *why = "1-500 keys per request";
    if (q->n_keys == 0) return BAD;
    if (q->n_keys > GC_MAX_KEYS) return TOO_LARGE;
    *why = "each sealed key must be 1-256 bytes";
    for (size_t i = 0; i < q->n_keys; i++) {
        size_t n = q->keys[i]->sealed.len;
        if (n == 0) return BAD;
        if (n > GC_SEALED_MAX) return TOO_LARGE;
    }
    return OK;
}

static void fill_keys_sent(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__GroupCallKeysSent *ks = wire_alloc(a, sizeof *ks);
    if (!ks) return;
    parley__group_call_keys_sent__init(ks);
    ks->delivered = (uint32_t)j->n_ids;
    r->result_case = PARLEY__RESPONSE__RESULT_GROUP_CALL_KEYS_SENT;
    r->group_call_keys_sent = ks;
}

static void keys_start(req_job *j)
{
    const Parley__GroupCallKeysRequest *q = j->frame->group_call_keys;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    if (p->presentation_of) {
        req_fail(j, NOT_FOUND, "not a participant of yours in that call", 0);
        return;
    }
    size_t delivered = 0;
    for (size_t i = 0; i < q->n_keys; i++) {
        const Parley__GroupCallSealedKey *k = q->keys[i];
        gc_part *to = groupcall_part(call, k->to_participant);
        if (!to || to->pending || to == p || to->presentation_of) continue;
        delivered += (size_t)groupcall_push_key(j->srv, call, p->id, to, q->epoch,
                                                k->sealed.data, k->sealed.len);
    }
    j->n_ids = delivered;  /* the count only; ids stays NULL */
    req_answer_now(j, fill_keys_sent);
}

/* ---- Sign (the call key, by the device identity key) --------------------------------------- */

static Parley__ErrorCode sign_validate(req_job *j, const char **why)
{
    *why = "call_key_signature must be 64 bytes";
    return j->frame->group_call_sign->call_key_signature.len == GC_SIG_BYTES ? OK : BAD;
}

static void put_be64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (uint8_t)v;
}

/* 0 when sig is p's identity key's signature of its call key in this call. */
static int sign_verify(const gc_call *call, const gc_part *p, const uint8_t *sig)
{
    static const char domain[] = "parley-gc-callkey-v1";
    uint8_t m[sizeof domain - 1 + 3 * 8 + GC_KEY_BYTES];
    memcpy(m, domain, sizeof domain - 1);
    put_be64(m + sizeof domain - 1, call->id);
    put_be64(m + sizeof domain - 1 + 8, (uint64_t)p->user_id);
    put_be64(m + sizeof domain - 1 + 16, (uint64_t)p->session_id);
    memcpy(m + sizeof domain - 1 + 24, p->key, GC_KEY_BYTES);
    return crypto_sign_verify_detached(sig, m, sizeof m, p->identity);
}

static void sign_start(req_job *j)
{
    const Parley__GroupCallSignRequest *q = j->frame->group_call_sign;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    const uint8_t *sig = q->call_key_signature.data;
    if (p->presentation_of) {
        req_fail(j, BAD, "a presentation uses its owner's signed key", 0);
    } else if (!p->has_identity) {
        req_fail(j, PARLEY__ERROR_CODE__DEVICE_NOT_FOUND,
                 "this device registered no identity key before joining", 0);
    } else if (p->is_signed) {  /* once: the same signature again is a harmless retry */
        if (sodium_memcmp(p->sig, sig, GC_SIG_BYTES) == 0) req_answer_now(j, fill_empty);
        else req_fail(j, BAD, "the call key is already signed", 0);
    } else if (sign_verify(call, p, sig) != 0) {
        req_fail(j, BAD, "call_key_signature does not verify with this device's identity key", 0);
    } else {
        memcpy(p->sig, sig, GC_SIG_BYTES);
        p->is_signed = 1;
        groupcall_changed(j->srv, call, p);
        req_answer_now(j, fill_empty);
    }
}

/* ---- RegisterDeviceKey -------------------------------------------------------------------- */

static Parley__ErrorCode devkey_validate(req_job *j, const char **why)
{
    *why = "identity_key must be 32 bytes";
    return j->frame->register_device_key->identity_key.len == GC_KEY_BYTES ? OK : BAD;
}

static store_rc devkey_run(store *s, req_job *j)
{
    store_rc rc = store_device_key_set(s, j->session_id,
                                       j->frame->register_device_key->identity_key.data);
    if (rc == STORE_ERR_FORBIDDEN) {
        j->err = PARLEY__ERROR_CODE__IDENTITY_KEY_CHANGED;
        snprintf(j->err_msg, sizeof j->err_msg, "%s",
                 "this device has another identity key; a new identity needs a new login");
    }
    return rc;
}

static void devkey_reply(req_job *j, Parley__Response *r, wire_arena *a)
{
    Parley__DeviceKeyRegistered *d = wire_alloc(a, sizeof *d);
    if (!d) return;
    parley__device_key_registered__init(d);
    d->device_id = j->session_id;
    d->user_id = j->user_id;
    r->result_case = PARLEY__RESPONSE__RESULT_DEVICE_KEY_REGISTERED;
    r->device_key_registered = d;
}

/* ---- Subscribe --------------------------------------------------------------------------- */

/* The answers being collected. SFU answers come back in request order, so the n-th answer
 * belongs to the n-th view. */
typedef struct {
    req_job *j;
    size_t n, answered;
    int sfu_gone;
    uint32_t free_audio, free_video;
    struct { uint32_t publisher; char audio_mid[GC_MID_MAX + 1], video_mid[GC_MID_MAX + 1]; } *slots;
} sub_ctx;

static void sub_free(void *p)
{
    sub_ctx *x = p;
    free(x->slots);
    free(x);
}

static void fill_subscribed(req_job *j, Parley__Response *r, wire_arena *a)
{
    const sub_ctx *x = j->ext;
    Parley__GroupCallSubscribed *gs = wire_alloc(a, sizeof *gs);
    if (!gs) return;
    parley__group_call_subscribed__init(gs);
    gs->free_audio_slots = x->free_audio;
    gs->free_video_slots = x->free_video;
    if (x->n && !(gs->slots = wire_alloc(a, x->n * sizeof *gs->slots))) return;
    for (size_t i = 0; i < x->n; i++) {
        Parley__GroupCallSlot *sl = wire_alloc(a, sizeof *sl);
        if (!sl) return;
        parley__group_call_slot__init(sl);
        sl->publisher = x->slots[i].publisher;
        sl->audio_mid = (char *)x->slots[i].audio_mid;
        sl->video_mid = (char *)x->slots[i].video_mid;
        gs->slots[gs->n_slots++] = sl;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_GROUP_CALL_SUBSCRIBED;
    r->group_call_subscribed = gs;
}

static void sub_answered(server *srv, void *arg, const Parley__Sfu__Response *r)
{
    sub_ctx *x = arg;
    size_t i = x->answered++;
    if (!r) x->sfu_gone = 1;
    else if (r->ok && i < x->n) {
        snprintf(x->slots[i].audio_mid, sizeof x->slots[i].audio_mid, "%s",
                 r->audio_mid ? r->audio_mid : "");
        snprintf(x->slots[i].video_mid, sizeof x->slots[i].video_mid, "%s",
                 r->video_mid ? r->video_mid : "");
        x->free_audio = r->free_audio_slots;
        x->free_video = r->free_video_slots;
    }
    if (x->answered < x->n) return;
    if (x->sfu_gone) req_fail(x->j, UNAVAILABLE, "the media server stopped", 0);
    else req_answer_now(x->j, fill_subscribed);
}

/* Every view names a visible publisher other than the subscriber, each at most once. */
static Parley__ErrorCode sub_check(const Parley__GroupCallSubscribeRequest *q, gc_call *call,
                                   const gc_part *p, const char **why)
{
    *why = "at most 1000 views";
    if (q->n_views > GC_MAX_VIEWS) return TOO_LARGE;
    *why = "a view names no publisher of this call, yourself, or one publisher twice";
    for (size_t i = 0; i < q->n_views; i++) {
        const gc_part *o = groupcall_part(call, q->views[i]->publisher);
        if (!o || o->pending || o == p || o->presentation_of == p->id) return BAD;
        for (size_t k = 0; k < i; k++)
            if (q->views[k]->publisher == q->views[i]->publisher) return BAD;
    }
    *why = "a screen share only publishes";
    return p->presentation_of ? BAD : OK;
}

/* Unsubscribes what p's old views had and the new ones lack, subscribes every new view (to
 * learn its slots), and writes the new set into views. */
static void sub_send(req_job *j, gc_call *call, const gc_part *p, gc_view *views, sub_ctx *x)
{
    const Parley__GroupCallSubscribeRequest *q = j->frame->group_call_subscribe;
    for (size_t i = 0; i < p->n_views; i++) {  /* dropped views first */
        size_t k = 0;
        while (k < q->n_views && q->views[k]->publisher != p->views[i].publisher) k++;
        if (k < q->n_views) continue;
        const gc_part *o = groupcall_part(call, p->views[i].publisher);
        Parley__Sfu__Unsubscribe u = PARLEY__SFU__UNSUBSCRIBE__INIT;
        u.subscriber = p->sfu_id;
        u.publisher = o ? o->sfu_id : 0;
        Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
        t.op_case = PARLEY__SFU__TO_SFU__OP_UNSUBSCRIBE;
        t.unsubscribe = &u;
        if (o) sfu_send(j->srv, &t, NULL, NULL);
    }
    for (size_t i = 0; i < q->n_views; i++) {
        const gc_part *o = groupcall_part(call, q->views[i]->publisher);
        views[i] = (gc_view){ o->id, q->views[i]->max_height };
        x->slots[i].publisher = o->id;
        Parley__Sfu__Subscribe s = PARLEY__SFU__SUBSCRIBE__INIT;
        s.subscriber = p->sfu_id;
        s.publisher = o->sfu_id;
        s.max_height = q->views[i]->max_height;
        Parley__Sfu__ToSfu t = PARLEY__SFU__TO_SFU__INIT;
        t.op_case = PARLEY__SFU__TO_SFU__OP_SUBSCRIBE;
        t.subscribe = &s;
        if (sfu_send(j->srv, &t, sub_answered, x) != 0) {
            x->answered++;
            x->sfu_gone = 1;
        }
    }
}

void req_groupcall_subscribe_start(req_job *j)
{
    const Parley__GroupCallSubscribeRequest *q = j->frame->group_call_subscribe;
    gc_call *call;
    gc_part *p = own_part(j, q->call_id, q->participant_id, &call);
    if (!p) return;
    const char *why = NULL;
    Parley__ErrorCode code = sub_check(q, call, p, &why);
    if (code == OK && !sfu_link_up(j->srv)) {
        code = UNAVAILABLE;
        why = "the media server is not running";
    }
    if (code != OK) {
        req_fail(j, code, why, 0);
        return;
    }
    sub_ctx *x = calloc(1, sizeof *x);
    gc_view *views = malloc((q->n_views ? q->n_views : 1) * sizeof *views);
    if (x) x->slots = calloc(q->n_views ? q->n_views : 1, sizeof *x->slots);
    if (!x || !views || !x->slots) {
        if (x) sub_free(x);
        free(views);
        req_fail(j, PARLEY__ERROR_CODE__INTERNAL, "out of memory", 0);
        return;
    }
    x->j = j;
    x->n = q->n_views;
    j->ext = x;
    j->ext_free = sub_free;
    sub_send(j, call, p, views, x);
    free(p->views);
    p->views = views;
    p->n_views = q->n_views;
    if (x->n == 0 || x->answered == x->n) {
        if (x->sfu_gone) req_fail(j, UNAVAILABLE, "the media server stopped", 0);
        else req_answer_now(j, fill_subscribed);
    }
}

/* ---- table -------------------------------------------------------------------------------- */

static const req_handler h_join = {
    .validate = join_validate, .start = join_start, .run = join_run,
    .complete = join_complete,
};
static const req_handler h_get = {
    .validate = get_validate, .run = join_run, .complete = get_complete,
};
static const req_handler h_leave = { .start = leave_start };
static const req_handler h_reneg = { .validate = reneg_validate, .start = reneg_start };
static const req_handler h_media = { .start = media_start };
static const req_handler h_keys = { .validate = keys_validate, .start = keys_start };
static const req_handler h_subscribe = { .start = req_groupcall_subscribe_start };
static const req_handler h_sign = { .validate = sign_validate, .start = sign_start };
static const req_handler h_devkey = {
    .validate = devkey_validate, .run = devkey_run, .reply = devkey_reply,
};

const req_handler *req_groupcall_handler(Parley__ClientFrame__RequestCase kind)
{
    switch (kind) {
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_JOIN: return &h_join;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_LEAVE: return &h_leave;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_RENEGOTIATE: return &h_reneg;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_SUBSCRIBE: return &h_subscribe;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_MEDIA: return &h_media;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_KEYS: return &h_keys;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_GROUP_CALL: return &h_get;
    case PARLEY__CLIENT_FRAME__REQUEST_GROUP_CALL_SIGN: return &h_sign;
    case PARLEY__CLIENT_FRAME__REQUEST_REGISTER_DEVICE_KEY: return &h_devkey;
    default: return NULL;
    }
}
