/*
 * control.c: the control socket (see control.h). Each connection accumulates bytes until a
 * whole frame is in; a frame longer than SFU_CONTROL_MAX_FRAME or one that does not decode
 * closes the connection (the supervisor is trusted, but a bug there must not crash the SFU).
 * Answers are written with uv_write from a heap copy freed in the write callback.
 */
#include "control.h"
#include "sfu.pb-c.h"
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct conn {
    uv_pipe_t pipe;
    struct sfu_control *ctl;
    uint8_t *buf;
    size_t len, cap;
    bool closing;
} conn;

struct sfu_control {
    uv_loop_t *loop;
    sfu_core *core;
    uv_pipe_t listener;
    bool listening;
    conn *conns[SFU_CONTROL_MAX_CLIENTS];
    int n_conns;
};

sfu_control *sfu_control_new(uv_loop_t *loop) {
    sfu_control *c = calloc(1, sizeof *c);
    if (c) c->loop = loop;
    return c;
}

static void on_conn_closed(uv_handle_t *h) {
    conn *k = h->data;
    free(k->buf);
    free(k);
}

static void close_conn(conn *k) {
    if (k->closing) return;
    k->closing = true;
    sfu_control *c = k->ctl;
    for (int i = 0; i < c->n_conns; i++)
        if (c->conns[i] == k) { c->conns[i] = c->conns[--c->n_conns]; break; }
    uv_close((uv_handle_t *)&k->pipe, on_conn_closed);
}

static void on_written(uv_write_t *w, int status) {
    free(w->data);
    free(w);
}

static void send_msg(conn *k, const Parley__Sfu__FromSfu *m) {
    size_t n = parley__sfu__from_sfu__get_packed_size(m);
    uint8_t *b = malloc(4 + n);
    uv_write_t *w = malloc(sizeof *w);
    if (!b || !w) { free(b); free(w); close_conn(k); return; }
    b[0] = (uint8_t)(n >> 24); b[1] = (uint8_t)(n >> 16); b[2] = (uint8_t)(n >> 8); b[3] = (uint8_t)n;
    parley__sfu__from_sfu__pack(m, b + 4);
    w->data = b;
    uv_buf_t ub = uv_buf_init((char *)b, (unsigned)(4 + n));
    if (uv_write(w, (uv_stream_t *)&k->pipe, &ub, 1, on_written) < 0) { free(b); free(w); close_conn(k); }
}

static void reply(conn *k, Parley__Sfu__Response *r) {
    Parley__Sfu__FromSfu m = PARLEY__SFU__FROM_SFU__INIT;
    m.msg_case = PARLEY__SFU__FROM_SFU__MSG_RESPONSE;
    m.response = r;
    send_msg(k, &m);
}

static int do_add(sfu_control *c, Parley__Sfu__AddParticipant *a, Parley__Sfu__Response *r,
                  char *answer, size_t cap, sfu_local_creds *creds, char *err, size_t el) {
    if (!a->offer_sdp) { snprintf(err, el, "missing offer"); return -1; }
    if (sfu_participant_add_sdp(c->core, a->room, a->participant, a->offer_sdp, strlen(a->offer_sdp),
                                answer, cap, creds, err, el) < 0)
        return -1;
    r->answer_sdp = answer;
    r->ice_ufrag = creds->ufrag;
    r->ice_pwd = creds->pwd;
    r->fingerprint = creds->fingerprint;
    return 0;
}

#define STATE_MAX 1024

static void handle(conn *k, const Parley__Sfu__ToSfu *q) {
    sfu_control *c = k->ctl;
    Parley__Sfu__Response r = PARLEY__SFU__RESPONSE__INIT;
    r.id = q->id;
    /* Static: large, and the control server runs on the one loop thread (control.h). */
    static char answer[65536], err[256];
    static sfu_local_creds creds;
    static sfu_participant_info info[STATE_MAX];
    static Parley__Sfu__ParticipantState ps[STATE_MAX];
    static Parley__Sfu__ParticipantState *psp[STATE_MAX];
    err[0] = 0;
    int rc = -1;
    switch (q->op_case) {
    case PARLEY__SFU__TO_SFU__OP_CREATE_ROOM: rc = sfu_room_create(c->core, q->create_room->room); break;
    case PARLEY__SFU__TO_SFU__OP_DESTROY_ROOM: rc = sfu_room_destroy(c->core, q->destroy_room->room); break;
    case PARLEY__SFU__TO_SFU__OP_ADD_PARTICIPANT:
        rc = do_add(c, q->add_participant, &r, answer, sizeof answer, &creds, err, sizeof err);
        break;
    case PARLEY__SFU__TO_SFU__OP_REMOVE_PARTICIPANT:
        rc = sfu_participant_remove(c->core, q->remove_participant->participant);
        break;
    case PARLEY__SFU__TO_SFU__OP_SUBSCRIBE:
        rc = q->subscribe->max_height > 100000 ? -1
             : sfu_subscribe(c->core, q->subscribe->subscriber, q->subscribe->publisher,
                             (int)q->subscribe->max_height);
        if (rc == 0) {
            const char *am, *vm;
            sfu_subscription_slots(c->core, q->subscribe->subscriber, q->subscribe->publisher,
                                   &am, &vm, &r.free_audio_slots, &r.free_video_slots);
            r.audio_mid = (char *)am;
            r.video_mid = (char *)vm;
        }
        break;
    case PARLEY__SFU__TO_SFU__OP_UPDATE_PARTICIPANT: {
        const Parley__Sfu__UpdateParticipant *u = q->update_participant;
        rc = !u->offer_sdp ? -1
             : sfu_participant_update_sdp(c->core, u->participant, u->offer_sdp,
                                          strlen(u->offer_sdp), answer, sizeof answer, err,
                                          sizeof err);
        if (rc == 0) {
            const char *am, *vm;
            sfu_subscription_slots(c->core, u->participant, 0, &am, &vm, &r.free_audio_slots,
                                   &r.free_video_slots);
            r.answer_sdp = answer;
        }
        break;
    }
    case PARLEY__SFU__TO_SFU__OP_UNSUBSCRIBE:
        rc = sfu_unsubscribe(c->core, q->unsubscribe->subscriber, q->unsubscribe->publisher);
        break;
    case PARLEY__SFU__TO_SFU__OP_SET_MUTE:
        rc = sfu_set_mute(c->core, q->set_mute->participant, q->set_mute->audio_muted, q->set_mute->video_muted);
        break;
    case PARLEY__SFU__TO_SFU__OP_ROOM_STATE: {
        int n = sfu_room_state(c->core, q->room_state->room, info, STATE_MAX);
        if (n >= 0) {
            if (n > STATE_MAX) n = STATE_MAX;
            for (int i = 0; i < n; i++) {
                parley__sfu__participant_state__init(&ps[i]);
                ps[i].participant = info[i].id;
                ps[i].connected = info[i].connected;
                ps[i].publishing_audio = info[i].publishing_audio;
                ps[i].video_layers = (uint32_t)info[i].video_layers;
                ps[i].subscriptions = (uint32_t)info[i].subscriptions;
                ps[i].rx_packets = info[i].rx_packets;
                ps[i].tx_packets = info[i].tx_packets;
                ps[i].tx_dropped = info[i].tx_dropped;
                psp[i] = &ps[i];
            }
            r.n_participants = (size_t)n;
            r.participants = psp;
            rc = 0;
        }
        break;
    }
    default: snprintf(err, sizeof err, "unknown request"); break;
    }
    r.ok = rc == 0;
    if (rc != 0 && !err[0]) snprintf(err, sizeof err, "request refused (unknown id, duplicate or limit)");
    if (rc != 0) r.error = err;
    reply(k, &r);
    OPENSSL_cleanse(&creds, sizeof creds);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    conn *k = h->data;
    if (k->cap - k->len < 65536) {
        size_t cap = k->cap ? k->cap * 2 : 65536;
        if (cap > SFU_CONTROL_MAX_FRAME + 65536 + 4) cap = SFU_CONTROL_MAX_FRAME + 65536 + 4;
        uint8_t *nb = cap > k->cap ? realloc(k->buf, cap) : k->buf;
        if (nb) { k->buf = nb; k->cap = cap; }
    }
    b->base = (char *)k->buf + k->len;
    b->len = k->cap - k->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    conn *k = s->data;
    if (n < 0) { close_conn(k); return; }
    k->len += (size_t)n;
    size_t off = 0;
    while (k->len - off >= 4) {
        const uint8_t *p = k->buf + off;
        size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (flen > SFU_CONTROL_MAX_FRAME) { close_conn(k); return; }
        if (k->len - off - 4 < flen) break;
        Parley__Sfu__ToSfu *q = parley__sfu__to_sfu__unpack(NULL, flen, p + 4);
        if (!q) { close_conn(k); return; }
        handle(k, q);
        parley__sfu__to_sfu__free_unpacked(q, NULL);
        if (k->closing) return;
        off += 4 + flen;
    }
    memmove(k->buf, k->buf + off, k->len - off);
    k->len -= off;
    if (k->len == k->cap) close_conn(k); /* cannot happen within the frame limit; be safe */
}

static void on_connection(uv_stream_t *server, int status) {
    sfu_control *c = server->data;
    if (status < 0) return;
    conn *k = calloc(1, sizeof *k);
    if (!k) return;
    k->ctl = c;
    uv_pipe_init(c->loop, &k->pipe, 0);
    k->pipe.data = k;
    if (uv_accept(server, (uv_stream_t *)&k->pipe) < 0 || c->n_conns == SFU_CONTROL_MAX_CLIENTS) {
        k->closing = true;
        uv_close((uv_handle_t *)&k->pipe, on_conn_closed);
        return;
    }
    c->conns[c->n_conns++] = k;
    uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
}

int sfu_control_listen(sfu_control *c, sfu_core *core, const char *path, char *err, size_t el) {
    c->core = core;
    unlink(path);
    uv_pipe_init(c->loop, &c->listener, 0);
    c->listener.data = c;
    c->listening = true;
    int r = uv_pipe_bind(&c->listener, path);
    if (r == 0) r = uv_listen((uv_stream_t *)&c->listener, 4, on_connection);
    if (r < 0) { snprintf(err, el, "control socket %s: %s", path, uv_strerror(r)); return -1; }
    return 0;
}

void sfu_control_event(sfu_control *c, const sfu_event *ev) {
    Parley__Sfu__Event e = PARLEY__SFU__EVENT__INIT;
    e.kind = (Parley__Sfu__Event__Kind)ev->kind;
    e.room = ev->room;
    e.participant = ev->participant;
    e.ssrc = ev->ssrc;
    Parley__Sfu__FromSfu m = PARLEY__SFU__FROM_SFU__INIT;
    m.msg_case = PARLEY__SFU__FROM_SFU__MSG_EVENT;
    m.event = &e;
    for (int i = c->n_conns - 1; i >= 0; i--) send_msg(c->conns[i], &m);
}

static void on_listener_closed(uv_handle_t *h) { free(h->data); }

void sfu_control_free(sfu_control *c) {
    if (!c) return;
    while (c->n_conns) close_conn(c->conns[c->n_conns - 1]);
    if (c->listening) uv_close((uv_handle_t *)&c->listener, on_listener_closed);
    else free(c);
}
