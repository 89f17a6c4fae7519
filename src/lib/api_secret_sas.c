/*
 * api_secret_sas.c: the interactive verification of a secret chat (public
 * parley_secret_sas_* calls): the protocol of docs/SECRET_CHATS.md ("Interactive
 * verification") run as inner payloads of the chat's Double Ratchet, so the server relays
 * only opaque envelopes. The crypto is sc_sas.c's; api_secret.c delivers the payloads here
 * and sends what this file answers.
 *
 * Payload bodies (after the inner payload header; vid = the run's 16 random bytes):
 *   SAS_START  vid || C        the starter's commitment to its ephemeral key
 *   SAS_KEY    vid || EK_O     the other side's ephemeral key
 *   SAS_REVEAL vid || EK_S     the starter's ephemeral key; must open C
 *   SAS_MAC    vid || MAC_r    sent after this side's user said "match"
 *   SAS_CANCEL vid || code     a parley_sas_cancel; never answered
 * Anything else for a running run (another vid, a type its state does not expect, a second
 * MAC) cancels it; messages for no run are dropped. A chat is marked verified only when this
 * side's user confirmed and the peer's MAC verified, in the same transaction as the ratchet
 * state that carried the last of the two.
 *
 * The protocol steps are pure functions on a copy of the run (pl_sas_step for an incoming
 * message, pl_sas_make_start/accept/confirm for the local ones), so the unit test
 * (tests/unit/test_lib_sas_protocol.c) drives two real sessions without a server; the
 * public calls and pl_sas_on_payload/pl_sas_apply wrap them with the chat, the sending and
 * the update queue.
 *
 * State: one run per client (c->sc->sas, pl_sas_run), in memory only, so the ephemeral
 * secret key never reaches the disk; the run dies with the process. An incoming request's
 * public part (chat, vid, commitment, time) is also remembered in the profile's kv table,
 * so `secret verify ID --accept` can answer a request another process fetched.
 *
 * Memory: nothing allocated here outlives a call except the updates handed to the queue;
 * the run's ephemeral secret key and MAC key are wiped as soon as the run ends.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "secret_store.h"

#define KV_REQUEST "sc_sas_request"  /* hex: chat (8) || vid (16) || C (32) || time (8) */
#define REQ_LEN (8 + SC_SAS_VID + 32 + 8)

size_t pl_sas_body_len(int type)
{
    return type == P_SAS_CANCEL ? SC_SAS_VID + 1 : SC_SAS_VID + 32;
}

static const char *cancel_text(int code)
{
    switch (code) {
    case PARLEY_SAS_C_MISMATCH: return "the emoji did not match";
    case PARLEY_SAS_C_TIMEOUT: return "timed out";
    case PARLEY_SAS_C_COMMITMENT: return "the revealed key does not match its commitment";
    case PARLEY_SAS_C_MAC: return "the confirmation did not verify";
    case PARLEY_SAS_C_UNEXPECTED: return "a verification message out of order";
    case PARLEY_SAS_C_USER: return "cancelled";
    case PARLEY_SAS_C_BOTH_STARTED: return "both devices started: start again on one of them";
    case PARLEY_SAS_C_BAD_KEY: return "invalid ephemeral key";
    case PARLEY_SAS_C_BUSY: return "the other device is verifying another chat";
    }
    return "cancelled (unknown reason)";
}

static int terminal(int st)
{
    return st == PARLEY_SAS_DONE || st == PARLEY_SAS_CANCELLED;
}

static int active(const pl_sas_run *r)
{
    return r->chat != 0 && r->state != PARLEY_SAS_NONE && !terminal(r->state);
}

void pl_sas_wipe(pl_sas_run *r)
{
    sodium_memzero(r, sizeof *r);
}

void pl_sas_effect_wipe(pl_sas_effect *fx)
{
    sodium_memzero(fx, sizeof *fx);
}

/* Ends a run: what parley_secret_sas_get reports stays, the secrets go. */
static void end_run(pl_sas_run *r, int state, int code, int by_peer)
{
    r->state = state;
    r->cancel_code = code;
    r->by_peer = by_peer;
    sodium_memzero(r->ek_sk, sizeof r->ek_sk);
    sodium_memzero(r->k_mac, sizeof r->k_mac);
    if (state == PARLEY_SAS_CANCELLED)
        r->emoji[0] = '\0';
}

static void to_public(const pl_sas_run *r, parley_sas *out)
{
    memset(out, 0, sizeof *out);
    out->chat_id = r->chat;
    out->state = (parley_sas_state)r->state;
    if (r->state == PARLEY_SAS_SHOW || r->state == PARLEY_SAS_CONFIRMED ||
        r->state == PARLEY_SAS_DONE)
        snprintf(out->emoji, sizeof out->emoji, "%s", r->emoji);
    if (r->state == PARLEY_SAS_CANCELLED) {
        out->cancel_code = r->cancel_code;
        out->by_peer = r->by_peer;
        snprintf(out->reason, sizeof out->reason, "%s%s", r->by_peer ? "the other device: " : "",
                 cancel_text(r->cancel_code));
    }
}

static parley_update *sas_update(const pl_sas_run *r)
{
    parley_update *u = calloc(1, sizeof *u);
    if (!u || !(u->sas = malloc(sizeof *u->sas))) {
        free(u);
        return NULL;
    }
    u->kind = PARLEY_UPDATE_SECRET_SAS;
    u->date = (int64_t)time(NULL);
    u->chat_id = r->chat;
    to_public(r, u->sas);
    return u;
}

/* This side's view of T: the identity keys and devices the chat's session is bound to. */
static void transcript(const pl_sc_chat *ch, int role, const uint8_t vid[SC_SAS_VID],
                       uint8_t t[SC_SAS_T_LEN])
{
    const uint8_t *own = sc_session_own_ik(&ch->sess), *peer = sc_session_peer_ik(&ch->sess);
    sc_device od = sc_session_own_device(&ch->sess), pd = sc_session_peer_device(&ch->sess);
    if (role == SC_SAS_ROLE_S)
        sc_sas_transcript(vid, own, &od, peer, &pd, t);
    else
        sc_sas_transcript(vid, peer, &pd, own, &od, t);
}

static int key_changed(const pl_sc_chat *ch)
{
    return ch->key_changed || !ch->has_session ||
           sodium_memcmp(sc_session_peer_ik(&ch->sess), ch->peer_ik, SC_KEY) != 0;
}

static void new_ephemeral(pl_sas_run *r)
{
    randombytes_buf(r->ek_sk, sizeof r->ek_sk);
    crypto_scalarmult_base(r->ek_pk, r->ek_sk);
}

static void set_reply(pl_sas_effect *fx, int type, const uint8_t vid[SC_SAS_VID],
                      const uint8_t *val, size_t val_len)
{
    fx->reply_type = type;
    memcpy(fx->reply, vid, SC_SAS_VID);
    memcpy(fx->reply + SC_SAS_VID, val, val_len);
    fx->reply_len = SC_SAS_VID + val_len;
}

/* Cancels fx->run here and tells the peer. */
static void cancel_out(pl_sas_effect *fx, int code)
{
    uint8_t b = (uint8_t)code;
    end_run(&fx->run, PARLEY_SAS_CANCELLED, code, 0);
    set_reply(fx, P_SAS_CANCEL, fx->run.vid, &b, 1);
    fx->changed = fx->notify = 1;
}

/* A SAS_START: a new request, unless a run here is in the way. */
static void on_start(pl_sc_chat *ch, const uint8_t *vid, const uint8_t *commit,
                     int64_t now_ms, pl_sas_effect *fx)
{
    pl_sas_run *r = &fx->run;
    if (active(r) && r->chat != ch->id) {
        uint8_t b = PARLEY_SAS_C_BUSY;
        set_reply(fx, P_SAS_CANCEL, vid, &b, 1);
        return;
    }
    if (active(r)) {
        cancel_out(fx, r->role == SC_SAS_ROLE_S && r->state == PARLEY_SAS_STARTED
                           ? PARLEY_SAS_C_BOTH_STARTED : PARLEY_SAS_C_UNEXPECTED);
        return;
    }
    if (key_changed(ch))
        return;               /* an unaccepted key: nothing to verify until it is accepted */
    pl_sas_wipe(r);
    r->chat = ch->id;
    r->role = SC_SAS_ROLE_O;
    r->state = PARLEY_SAS_REQUESTED;
    r->deadline_ms = now_ms + (int64_t)PARLEY_SAS_TIMEOUT * 1000;
    memcpy(r->vid, vid, SC_SAS_VID);
    memcpy(r->commit, commit, 32);
    transcript(ch, SC_SAS_ROLE_O, vid, r->t);
    fx->changed = fx->notify = fx->remember_request = 1;
}

/* SAS_KEY, SAS_REVEAL or SAS_MAC for the running run of this chat. */
static void on_step(pl_sc_chat *ch, int type, const uint8_t *val, pl_sas_effect *fx)
{
    pl_sas_run *r = &fx->run;
    int peer_role = r->role == SC_SAS_ROLE_S ? SC_SAS_ROLE_O : SC_SAS_ROLE_S;
    int rc;
    if (type == P_SAS_KEY && r->role == SC_SAS_ROLE_S && r->state == PARLEY_SAS_STARTED) {
        memcpy(r->peer_ek, val, SC_KEY);
        if (sc_sas_derive(r->ek_sk, r->ek_pk, r->peer_ek, SC_SAS_ROLE_S, r->t, r->emoji,
                          r->k_mac) != SC_OK)
            return cancel_out(fx, PARLEY_SAS_C_BAD_KEY);
        sodium_memzero(r->ek_sk, sizeof r->ek_sk);    /* done with it */
        r->state = PARLEY_SAS_SHOW;
        set_reply(fx, P_SAS_REVEAL, r->vid, r->ek_pk, SC_KEY);
        fx->changed = fx->notify = 1;
    } else if (type == P_SAS_REVEAL && r->role == SC_SAS_ROLE_O &&
               r->state == PARLEY_SAS_ACCEPTED) {
        if (sc_sas_check_commit(val, r->t, r->commit) != SC_OK)
            return cancel_out(fx, PARLEY_SAS_C_COMMITMENT);
        memcpy(r->peer_ek, val, SC_KEY);
        rc = sc_sas_derive(r->ek_sk, r->peer_ek, r->ek_pk, SC_SAS_ROLE_O, r->t, r->emoji,
                           r->k_mac);
        if (rc != SC_OK)
            return cancel_out(fx, PARLEY_SAS_C_BAD_KEY);
        sodium_memzero(r->ek_sk, sizeof r->ek_sk);
        r->state = PARLEY_SAS_SHOW;
        fx->changed = fx->notify = 1;
    } else if (type == P_SAS_MAC && !r->peer_confirmed &&
               (r->state == PARLEY_SAS_SHOW || r->state == PARLEY_SAS_CONFIRMED)) {
        uint8_t want[32];
        if (sc_sas_mac(r->k_mac, peer_role, r->t, want) != SC_OK ||
            sodium_memcmp(want, val, sizeof want) != 0)
            return cancel_out(fx, PARLEY_SAS_C_MAC);
        r->peer_confirmed = 1;
        fx->changed = 1;
        if (r->state == PARLEY_SAS_CONFIRMED) {
            end_run(r, PARLEY_SAS_DONE, 0, 0);
            ch->verified = 1;                     /* committed with this message's state */
            fx->notify = 1;
        }
    } else {
        cancel_out(fx, PARLEY_SAS_C_UNEXPECTED);
    }
}

void pl_sas_on_payload(parley_client *c, pl_sc_chat *ch, int type, const uint8_t *body,
                       size_t len, pl_sas_effect *fx)
{
    memset(fx, 0, sizeof *fx);
    if (c->sc)
        pl_sas_step(&c->sc->sas, ch, type, body, len, pl_now_ms(), fx);
}

void pl_sas_step(const pl_sas_run *cur, pl_sc_chat *ch, int type, const uint8_t *body,
                 size_t len, int64_t now_ms, pl_sas_effect *fx)
{
    memset(fx, 0, sizeof *fx);
    if (type < P_SAS_FIRST || type > P_SAS_LAST || len != pl_sas_body_len(type))
        return;
    fx->run = *cur;
    pl_sas_run *r = &fx->run;
    int mine = active(r) && r->chat == ch->id;
    int same = mine && memcmp(r->vid, body, SC_SAS_VID) == 0;
    if (type == P_SAS_START)
        on_start(ch, body, body + SC_SAS_VID, now_ms, fx);
    else if (type == P_SAS_CANCEL) {
        fx->peer_cancelled = 1;
        memcpy(fx->cancelled_vid, body, SC_SAS_VID);
        if (same) {
            int code = body[SC_SAS_VID];
            end_run(r, PARLEY_SAS_CANCELLED,
                    code >= PARLEY_SAS_C_MISMATCH && code <= PARLEY_SAS_C_BUSY
                        ? code : PARLEY_SAS_C_USER, 1);
            fx->changed = fx->notify = 1;
        }
    } else if (same) {
        on_step(ch, type, body + SC_SAS_VID, fx);
    } else if (mine) {
        cancel_out(fx, PARLEY_SAS_C_UNEXPECTED);     /* a message of another run */
    }
    /* no run for this chat: a late message of an ended run, dropped */
}

/* The request's public part, for an accept from another process. */
static void remember_request(parley_client *c, const pl_sas_run *r)
{
    uint8_t b[REQ_LEN];
    char hex[2 * REQ_LEN + 1];
    sc_put64(b, (uint64_t)r->chat);
    memcpy(b + 8, r->vid, SC_SAS_VID);
    memcpy(b + 8 + SC_SAS_VID, r->commit, 32);
    sc_put64(b + 8 + SC_SAS_VID + 32, (uint64_t)time(NULL));
    sodium_bin2hex(hex, sizeof hex, b, sizeof b);
    pl_profile_set_text(&c->prof, KV_REQUEST, hex, NULL);
}

static void forget_request(parley_client *c)
{
    pl_profile_set_text(&c->prof, KV_REQUEST, NULL, NULL);
}

/* Forgets the remembered request if it is the run vid (the peer cancelled it). */
static void forget_request_of(parley_client *c, const uint8_t vid[SC_SAS_VID])
{
    char *hex = NULL;
    uint8_t b[REQ_LEN];
    size_t n = 0;
    if (pl_profile_get_text(&c->prof, KV_REQUEST, &hex, NULL) != 0)
        return;
    if (sodium_hex2bin(b, sizeof b, hex, strlen(hex), NULL, &n, NULL) == 0 && n == REQ_LEN &&
        memcmp(b + 8, vid, SC_SAS_VID) == 0)
        forget_request(c);
    free(hex);
}

/* A remembered request for chat id still within its time: 0 and r filled, else -1. */
static int recall_request(parley_client *c, const pl_sc_chat *ch, pl_sas_run *r)
{
    char *hex = NULL;
    uint8_t b[REQ_LEN];
    size_t n = 0;
    if (pl_profile_get_text(&c->prof, KV_REQUEST, &hex, NULL) != 0)
        return -1;
    int ok = sodium_hex2bin(b, sizeof b, hex, strlen(hex), NULL, &n, NULL) == 0 &&
             n == REQ_LEN && (int64_t)sc_get64(b) == ch->id;
    free(hex);
    int64_t age = (int64_t)time(NULL) - (int64_t)sc_get64(b + 8 + SC_SAS_VID + 32);
    if (!ok || age < 0 || age >= PARLEY_SAS_TIMEOUT)
        return -1;
    pl_sas_wipe(r);
    r->chat = ch->id;
    r->role = SC_SAS_ROLE_O;
    r->state = PARLEY_SAS_REQUESTED;
    r->deadline_ms = pl_now_ms() + (PARLEY_SAS_TIMEOUT - age) * 1000;
    memcpy(r->vid, b + 8, SC_SAS_VID);
    memcpy(r->commit, b + 8 + SC_SAS_VID, 32);
    transcript(ch, SC_SAS_ROLE_O, r->vid, r->t);
    return 0;
}

void pl_sas_apply(parley_client *c, pl_sc_chat *ch, pl_sas_effect *fx)
{
    if (!c->sc)
        return;
    if (fx->changed) {
        pl_sas_wipe(&c->sc->sas);
        c->sc->sas = fx->run;
    }
    if (fx->remember_request)
        remember_request(c, &fx->run);
    else if (fx->changed && fx->run.role == SC_SAS_ROLE_O && terminal(fx->run.state))
        forget_request(c);              /* the request this side answered is over */
    else if (fx->peer_cancelled)
        forget_request_of(c, fx->cancelled_vid);
    if (fx->reply_type)
        pl_sc_send_control(c, ch, fx->reply_type, fx->reply, fx->reply_len, NULL);
    if (fx->notify)
        pl_sc_queue(c, sas_update(&c->sc->sas));
}

/* Cancels the client's run here (code), tells the peer if the chat can still send. */
static void cancel_here(parley_client *c, int code, int notify)
{
    pl_sas_run *r = &c->sc->sas;
    uint8_t body[SC_SAS_VID + 1];
    memcpy(body, r->vid, SC_SAS_VID);
    body[SC_SAS_VID] = (uint8_t)code;
    end_run(r, PARLEY_SAS_CANCELLED, code, 0);
    if (r->role == SC_SAS_ROLE_O)
        forget_request(c);
    pl_sc_chat ch;
    if (pl_sc_sendable_chat(c, r->chat, &ch, NULL) == 0) {
        pl_sc_send_control(c, &ch, P_SAS_CANCEL, body, sizeof body, NULL);
        pl_sc_chat_clear(&ch);
    }
    if (notify)
        pl_sc_queue(c, sas_update(r));
}

void pl_sas_tick(parley_client *c)
{
    if (c->sc && active(&c->sc->sas) && pl_now_ms() > c->sc->sas.deadline_ms)
        cancel_here(c, PARLEY_SAS_C_TIMEOUT, 1);
}

/* ---- the local steps, pure (the calls below send what they make) ------------------------- */

int pl_sas_make_start(const pl_sc_chat *ch, int64_t now_ms, pl_sas_run *r,
                      uint8_t body[PL_SAS_BODY])
{
    pl_sas_wipe(r);
    r->chat = ch->id;
    r->role = SC_SAS_ROLE_S;
    r->state = PARLEY_SAS_STARTED;
    r->deadline_ms = now_ms + (int64_t)PARLEY_SAS_TIMEOUT * 1000;
    randombytes_buf(r->vid, sizeof r->vid);
    new_ephemeral(r);
    transcript(ch, SC_SAS_ROLE_S, r->vid, r->t);
    memcpy(body, r->vid, SC_SAS_VID);
    if (sc_sas_commit(r->ek_pk, r->t, body + SC_SAS_VID) != SC_OK) {
        pl_sas_wipe(r);
        return -1;
    }
    return 0;
}

void pl_sas_make_accept(pl_sas_run *r, uint8_t body[PL_SAS_BODY])
{
    new_ephemeral(r);
    r->state = PARLEY_SAS_ACCEPTED;
    memcpy(body, r->vid, SC_SAS_VID);
    memcpy(body + SC_SAS_VID, r->ek_pk, SC_KEY);
}

int pl_sas_make_confirm(pl_sas_run *r, pl_sc_chat *ch, uint8_t body[PL_SAS_BODY])
{
    memcpy(body, r->vid, SC_SAS_VID);
    if (sc_sas_mac(r->k_mac, r->role, r->t, body + SC_SAS_VID) != SC_OK)
        return -1;
    if (r->peer_confirmed) {
        end_run(r, PARLEY_SAS_DONE, 0, 0);
        ch->verified = 1;
    } else {
        r->state = PARLEY_SAS_CONFIRMED;
    }
    return 0;
}

/* ---- public calls ------------------------------------------------------------------------ */

static int busy_error(const pl_sas_run *r, int64_t id, parley_error *err)
{
    if (r->chat == id)
        return pl_err(err, PARLEY_E_ARGUMENT, "a verification of secret chat %lld is already "
                      "running on this device", (long long)id);
    return pl_err(err, PARLEY_E_ARGUMENT, "this device is verifying secret chat %lld; "
                  "finish or cancel that first", (long long)r->chat);
}

/* Sends body for ch and, on success, makes r the client's run. */
static int send_and_adopt(parley_client *c, pl_sc_chat *ch, int type, const uint8_t *body,
                          size_t len, pl_sas_run *r, parley_error *err)
{
    int rc = pl_sc_send_control(c, ch, type, body, len, err);
    if (rc == 0) {
        pl_sas_wipe(&c->sc->sas);
        c->sc->sas = *r;
    }
    pl_sas_wipe(r);
    return rc;
}

int parley_secret_sas_start(parley_client *c, int64_t id, parley_error *err)
{
    pl_sc_chat ch;
    int rc = pl_sc_sendable_chat(c, id, &ch, err);
    if (rc < 0)
        return rc;
    pl_sas_tick(c);
    pl_sas_run r;
    if (active(&c->sc->sas)) {
        rc = c->sc->sas.chat == id && c->sc->sas.state == PARLEY_SAS_REQUESTED
                 ? pl_err(err, PARLEY_E_ARGUMENT, "the other device already started a "
                          "verification of secret chat %lld: accept it", (long long)id)
                 : busy_error(&c->sc->sas, id, err);
    } else {
        uint8_t body[PL_SAS_BODY];
        if (pl_sas_make_start(&ch, pl_now_ms(), &r, body) != 0)
            rc = pl_err(err, PARLEY_E_INTERNAL, "cannot make the commitment");
        else
            rc = send_and_adopt(c, &ch, P_SAS_START, body, sizeof body, &r, err);
        pl_sas_wipe(&r);
    }
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_sas_accept(parley_client *c, int64_t id, parley_error *err)
{
    pl_sc_chat ch;
    int rc = pl_sc_sendable_chat(c, id, &ch, err);
    if (rc < 0)
        return rc;
    pl_sas_tick(c);
    pl_sas_run r;
    pl_sas_wipe(&r);
    const pl_sas_run *cur = &c->sc->sas;
    if (active(cur) && cur->chat == id && cur->state == PARLEY_SAS_REQUESTED)
        r = *cur;
    else if (active(cur))
        rc = busy_error(cur, id, err);
    else if (recall_request(c, &ch, &r) != 0)
        rc = pl_err(err, PARLEY_E_ARGUMENT, "no verification request from the other device "
                    "for secret chat %lld (start one there, then accept it here)",
                    (long long)id);
    if (rc == 0) {
        uint8_t body[PL_SAS_BODY];
        pl_sas_make_accept(&r, body);
        rc = send_and_adopt(c, &ch, P_SAS_KEY, body, sizeof body, &r, err);
        if (rc == 0)
            forget_request(c);
    }
    pl_sas_wipe(&r);
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_sas_get(parley_client *c, int64_t id, parley_sas *out, parley_error *err)
{
    if (!c || !out)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    memset(out, 0, sizeof *out);
    out->chat_id = id;
    pl_sc *s;
    int rc = pl_sc_get(c, &s, err);
    if (rc < 0)
        return rc;
    pl_sas_tick(c);
    if (s->sas.chat == id) {
        to_public(&s->sas, out);
        return 0;
    }
    if (!active(&s->sas)) {                /* a request another process fetched? */
        pl_sc_chat ch;
        pl_sas_run r;
        if (pl_sc_chat_load(c, id, 1, &ch, NULL) == 0) {
            if (ch.has_session && recall_request(c, &ch, &r) == 0)
                out->state = PARLEY_SAS_REQUESTED;
            pl_sas_wipe(&r);
            pl_sc_chat_clear(&ch);
        }
    }
    return 0;
}

int parley_secret_sas_confirm(parley_client *c, int64_t id, int match, parley_error *err)
{
    pl_sc_chat ch;
    int rc = pl_sc_sendable_chat(c, id, &ch, err);
    if (rc < 0)
        return rc;
    pl_sas_tick(c);
    pl_sas_run *cur = &c->sc->sas;
    if (cur->chat != id || cur->state != PARLEY_SAS_SHOW) {
        rc = pl_err(err, PARLEY_E_ARGUMENT, "secret chat %lld has no verification showing "
                    "emoji on this device", (long long)id);
    } else if (!match) {
        cancel_here(c, PARLEY_SAS_C_MISMATCH, 0);
    } else {
        pl_sas_run r = *cur;
        uint8_t body[PL_SAS_BODY];
        /* ch.verified is set when the peer had confirmed already: saved with the MAC's
         * ratchet state. */
        if (pl_sas_make_confirm(&r, &ch, body) != 0)
            rc = pl_err(err, PARLEY_E_INTERNAL, "cannot compute the confirmation");
        else
            rc = send_and_adopt(c, &ch, P_SAS_MAC, body, sizeof body, &r, err);
        pl_sas_wipe(&r);
    }
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_sas_cancel(parley_client *c, int64_t id, int timeout, parley_error *err)
{
    pl_sc *s;
    int rc = c ? pl_sc_get(c, &s, err) : pl_err(err, PARLEY_E_ARGUMENT, "no client");
    if (rc < 0)
        return rc;
    if (!active(&s->sas) || s->sas.chat != id)
        return pl_err(err, PARLEY_E_ARGUMENT, "no verification of secret chat %lld is "
                      "running on this device", (long long)id);
    cancel_here(c, timeout ? PARLEY_SAS_C_TIMEOUT : PARLEY_SAS_C_USER, 0);
    return 0;
}
