/*
 * api_secret.c: secret chats on this device: the public parley_secret_* calls, the
 * device's keys (made, published, replenished), incoming envelopes and the self-destruct
 * timers. The crypto is secret_crypto.h's, the requests secret_rpc.h's, the storage
 * secret_store.h's; docs/SECRET_CHATS.md ("The client side") describes the behaviour.
 *
 * Inner payload (inside the Double Ratchet's AEAD, so the server never sees it), version 1:
 *   version (1) = 1 | type (1) | chat id (8 BE) | message id (8 BE) | date (8 BE) | body
 * types: START (the initiator's first message), ACCEPT (the responder's answer), TEXT (body =
 * UTF-8 text), TIMER (body = seconds, 4 BE), READ (message id = the highest read), DELETE
 * (message id = the one to delete), CLOSE, and 8-12 the interactive verification's
 * SAS_START, SAS_KEY, SAS_REVEAL, SAS_MAC, SAS_CANCEL (api_secret_sas.c). Message ids are the same on both devices: the
 * initiator numbers its messages 1, 3, 5..., the responder 2, 4, 6...
 *
 * Order of every step (crash safety, SECRET_CHATS.md): encrypt/decrypt into a new state,
 * commit that state together with its message in one transaction, swap the in-memory state,
 * and only then send the envelope (or acknowledge the received one to the server).
 * Envelopes that fail to parse, decrypt or make sense are acknowledged and dropped: they can
 * never become valid, and they changed nothing.
 *
 * Memory: chats and messages loaded here are cleared (secrets wiped) before returning;
 * objects handed to the caller are owned by the caller.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "secret_rpc.h"
#include "secret_store.h"

enum { P_START = 1, P_ACCEPT, P_TEXT, P_TIMER, P_READ, P_DELETE, P_CLOSE };
#define P_VERSION 1
#define P_HEADER 26
#define TEXT_MAX 4096
#define INBOX_PAGE 50
#define SWEEP_EVERY_MS 500

typedef struct {
    int type;
    int64_t chat, msg_id, date;
    const uint8_t *body;
    size_t body_len;
} payload;

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int parse_payload(const uint8_t *pt, size_t len, payload *p)
{
    if (len < P_HEADER || pt[0] != P_VERSION || pt[1] < P_START || pt[1] > P_SAS_LAST)
        return -1;
    p->type = pt[1];
    p->chat = (int64_t)sc_get64(pt + 2);
    p->msg_id = (int64_t)sc_get64(pt + 10);
    p->date = (int64_t)sc_get64(pt + 18);
    p->body = pt + P_HEADER;
    p->body_len = len - P_HEADER;
    if (p->type == P_TIMER)
        return p->body_len == 4 && sc_get32(p->body) <= PL_SC_MAX_TIMER ? 0 : -1;
    if (p->type == P_TEXT)
        return p->body_len > 0 && p->body_len <= TEXT_MAX * 4 ? 0 : -1;
    if (p->type >= P_SAS_FIRST)
        return p->body_len == pl_sas_body_len(p->type) ? 0 : -1;
    return p->body_len == 0 ? 0 : -1;
}

static sc_device self_device(const parley_client *c)
{
    sc_device d = {c->me.id, c->session_id};
    return d;
}

/* Ids: the initiator's messages are odd, the responder's even. */
static int64_t next_msg_id(pl_sc_chat *ch)
{
    return 2 * ch->next_seq++ + (ch->role == SC_ROLE_INITIATOR ? 1 : 2);
}

static int from_peer_id(const pl_sc_chat *ch, int64_t id)
{
    return id > 0 && (id % 2 == 1) == (ch->role == SC_ROLE_RESPONDER);
}

/* The session is bound to one identity key; a mismatch with the accepted one is a change. */
static int key_changed(const pl_sc_chat *ch)
{
    return ch->key_changed ||
           (ch->has_session && sodium_memcmp(sc_session_peer_ik(&ch->sess), ch->peer_ik,
                                             SC_KEY) != 0);
}

/* ---- device keys ------------------------------------------------------------------------- */

static int publish(parley_client *c, const sc_identity *ik, const sc_signed_prekey *spk,
                   const sc_onetime_prekey *otk, size_t n, parley_error *err)
{
    pl_signed_prekey pspk;
    if (spk) {
        pspk.id = spk->id;
        memcpy(pspk.pub, spk->pk, SC_KEY);
        memcpy(pspk.sig, spk->sig, SC_SIG);
    }
    pl_one_time_prekey *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        v[i].id = otk[i].id;
        memcpy(v[i].pub, otk[i].pk, SC_KEY);
    }
    pl_prekey_status st;
    int rc = pl_secret_publish(c, ik->sign_pk, spk ? &pspk : NULL, v, n, &st, err);
    free(v);
    return rc;
}

/* Makes first_id.. PL_SC_OTK_BATCH one-time prekeys, stores them, returns them in otk. */
static int make_otks(parley_client *c, uint32_t first_id, sc_onetime_prekey *otk,
                     parley_error *err)
{
    if (sc_onetime_prekeys_generate(first_id, PL_SC_OTK_BATCH, otk) != 0)
        return pl_err(err, PARLEY_E_INTERNAL, "cannot make prekeys");
    int rc = pl_sc_begin(c, err);
    if (rc == 0 && (rc = pl_sc_otk_store(c, otk, PL_SC_OTK_BATCH, err)) == 0 &&
        (rc = pl_sc_keys_set_next_otk(c, first_id + PL_SC_OTK_BATCH, err)) == 0)
        return pl_sc_commit(c, err);
    if (rc < 0)
        pl_sc_rollback(c);
    return rc;
}

/* Makes the next signed prekey and commits it with the old one retired. */
static int rotate(parley_client *c, const sc_identity *ik, sc_signed_prekey *spk, int64_t now,
                  parley_error *err)
{
    sc_signed_prekey next;
    if (sc_signed_prekey_generate(ik, spk->id + 1 ? spk->id + 1 : 1, &next) != 0)
        return pl_err(err, PARLEY_E_INTERNAL, "cannot make a signed prekey");
    int rc = pl_sc_begin(c, err);
    if (rc == 0) {
        rc = pl_sc_spk_rotate(c, c->session_id, ik, spk, &next, now, PL_SC_SPK_GRACE, err);
        if (rc == 0)
            rc = pl_sc_commit(c, err);
        else
            pl_sc_rollback(c);
    }
    if (rc == 0) {
        sc_signed_prekey_wipe(spk);
        *spk = next;
    }
    sodium_memzero(&next, sizeof next);
    return rc;
}

int pl_sc_rotate_due(parley_client *c, const sc_identity *ik, sc_signed_prekey *spk,
                     int64_t now, parley_error *err)
{
    int64_t created = 0;
    int pending = 0;
    int rc = pl_sc_spk_state(c, &created, &pending, err);
    if (rc < 0)
        return rc;
    if (rc == 1)        /* a device from before rotation: its signed prekey counts from now */
        return pl_sc_spk_state_set(c, now, 0, err);
    if (now - created >= PL_SC_SPK_ROTATE) {
        if ((rc = rotate(c, ik, spk, now, err)) < 0)
            return rc;
        created = now;
        pending = 1;
    } else if ((rc = pl_sc_spk_forget(c, now - PL_SC_SPK_GRACE, err)) < 0) {
        return rc;
    }
    /* Publish the new signed prekey; offline, the server keeps handing out the old one,
     * whose private half is kept for the grace period, and the next call tries again. */
    if (pending && publish(c, ik, spk, NULL, 0, NULL) == 0)
        return pl_sc_spk_state_set(c, created, 0, err);
    return 0;
}

/* Loads this device's keys, making and publishing them first if there are none; tops up
 * the one-time prekeys on the server when few remain; rotates the signed prekey weekly. */
static int ensure_keys(parley_client *c, pl_sc *s, sc_identity *ik, sc_signed_prekey *spk,
                       parley_error *err)
{
    if (!c->has_session || !c->session_id)
        return pl_err(err, PARLEY_E_NO_SESSION, "not logged in (this profile has no session)");
    uint32_t next = 0;
    sc_onetime_prekey otk[PL_SC_OTK_BATCH];
    int rc = pl_sc_keys_load(c, c->session_id, ik, spk, &next, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (sc_identity_generate(ik) != 0 || sc_signed_prekey_generate(ik, 1, spk) != 0)
            return pl_err(err, PARLEY_E_INTERNAL, "cannot make device keys");
        if ((rc = pl_sc_begin(c, err)) < 0)
            return rc;
        if ((rc = pl_sc_keys_store(c, c->session_id, ik, spk, 1, err)) < 0 ||
            (rc = pl_sc_spk_state_set(c, now_s(), 0, err)) < 0) {
            pl_sc_rollback(c);
            return rc;
        }
        if ((rc = pl_sc_commit(c, err)) < 0 || (rc = make_otks(c, 1, otk, err)) < 0)
            return rc;
        rc = publish(c, ik, spk, otk, PL_SC_OTK_BATCH, err);
        sc_onetime_prekeys_wipe(otk, PL_SC_OTK_BATCH);
        if (rc == 0)
            s->keys_ok = 1;
        return rc;
    }
    if ((rc = pl_sc_rotate_due(c, ik, spk, now_s(), err)) < 0)
        return rc;
    if (s->keys_ok)
        return 0;
    pl_prekey_status st;
    if ((rc = pl_secret_status(c, &st, err)) < 0)
        return rc;
    if (!st.published || st.one_time_remaining < PL_SC_OTK_LOW) {
        if ((rc = make_otks(c, next, otk, err)) < 0)
            return rc;
        rc = publish(c, ik, st.published ? NULL : spk, otk, PL_SC_OTK_BATCH, err);
        sc_onetime_prekeys_wipe(otk, PL_SC_OTK_BATCH);
        if (rc < 0)
            return rc;
    }
    s->keys_ok = 1;
    return 0;
}

/* The store, with this device's keys ready. ik/spk may be NULL (then wiped here). */
static int open_store(parley_client *c, sc_identity *ik, sc_signed_prekey *spk,
                      parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    int rc = pl_check_not_in_service(c, err);
    pl_sc *s;
    if (rc < 0 || (rc = pl_sc_get(c, &s, err)) < 0)
        return rc;
    sc_identity ik_local;
    sc_signed_prekey spk_local;
    rc = ensure_keys(c, s, ik ? ik : &ik_local, spk ? spk : &spk_local, err);
    sc_identity_wipe(&ik_local);
    sc_signed_prekey_wipe(&spk_local);
    if (rc == 0) {
        size_t n;
        pl_sc_sweep(c, now_s(), &n, NULL);
    }
    return rc;
}

void pl_sc_on_new_session(parley_client *c)
{
    if (!c->prof.db)
        return;               /* ephemeral clients (benchmarks) have no secret chats */
    open_store(c, NULL, NULL, NULL);
}

/* ---- sending ----------------------------------------------------------------------------- */

typedef struct {
    sc_session next;
    uint8_t *env;
    size_t len;
} pending;

static void pending_abort(pending *p)
{
    sc_session_free(&p->next);
    if (p->env) {
        sodium_memzero(p->env, SC_ENV_MAX);
        free(p->env);
    }
    memset(p, 0, sizeof *p);
}

/* Encrypts a payload and writes the chat row with the new state (inside the caller's
 * transaction). Nothing is sent yet. */
static int encrypt_payload(parley_client *c, const pl_sc_chat *ch, int type, int64_t msg_id,
                           const void *body, size_t body_len, pending *p, parley_error *err)
{
    memset(p, 0, sizeof *p);
    uint8_t *pt = malloc(P_HEADER + body_len);
    p->env = malloc(SC_ENV_MAX);
    if (!pt || !p->env) {
        free(pt);
        pending_abort(p);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    pt[0] = P_VERSION;
    pt[1] = (uint8_t)type;
    sc_put64(pt + 2, (uint64_t)ch->id);
    sc_put64(pt + 10, (uint64_t)msg_id);
    sc_put64(pt + 18, (uint64_t)now_s());
    if (body_len)
        memcpy(pt + P_HEADER, body, body_len);
    int r = sc_ratchet_encrypt(&ch->sess, &p->next, pt, P_HEADER + body_len, p->env,
                               SC_ENV_MAX, &p->len);
    sodium_memzero(pt, P_HEADER + body_len);
    free(pt);
    if (r != 0) {
        pending_abort(p);
        return pl_err(err, PARLEY_E_INTERNAL, "encryption failed: %s", sc_strerror(r));
    }
    pl_sc_chat tmp = *ch;                  /* shallow: the row with the new state */
    tmp.sess = p->next;
    int rc = pl_sc_chat_save(c, &tmp, err);
    if (rc < 0)
        pending_abort(p);
    return rc;
}

/* After the commit: adopt the new state, then send. */
static int pending_finish(parley_client *c, pl_sc_chat *ch, pending *p, parley_error *err)
{
    sc_session_free(&ch->sess);
    ch->sess = p->next;
    memset(&p->next, 0, sizeof p->next);
    uint64_t id;
    int64_t date;
    int rc = pl_secret_send(c, ch->peer_user, ch->peer_device, (uint64_t)ch->id, p->env,
                            p->len, 0, &id, &date, err);
    pending_abort(p);
    return rc;
}

/* One payload with an optional message stored in the same transaction. */
static int send_payload(parley_client *c, pl_sc_chat *ch, int type, int64_t msg_id,
                        const void *body, size_t body_len, const pl_sc_msg *store,
                        parley_error *err)
{
    pending p;
    int rc = pl_sc_begin(c, err);
    if (rc < 0)
        return rc;
    if ((rc = encrypt_payload(c, ch, type, msg_id, body, body_len, &p, err)) == 0 &&
        (!store || (rc = pl_sc_msg_insert(c, ch->id, store, err)) == 0) &&
        (rc = pl_sc_commit(c, err)) == 0)
        return pending_finish(c, ch, &p, err);
    pending_abort(&p);
    pl_sc_rollback(c);
    return rc;
}

/* ---- public objects ---------------------------------------------------------------------- */

static parley_secret_chat *to_public(const pl_sc_chat *ch)
{
    parley_secret_chat *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = ch->id;
    s->peer_user_id = ch->peer_user;
    s->peer_username = pl_strdup(ch->peer_name ? ch->peer_name : "");
    s->peer_device = ch->peer_device;
    s->state = (parley_secret_state)ch->state;
    s->timer = ch->timer;
    s->verified = ch->verified;
    s->key_changed = key_changed(ch);
    s->created = ch->created;
    if (!s->peer_username) {
        free(s);
        return NULL;
    }
    return s;
}

static char *timer_text(const char *who, uint32_t seconds)
{
    char d[32], buf[160];
    if (seconds) {
        pl_format_duration(seconds, d, sizeof d);
        snprintf(buf, sizeof buf, "%s set the self-destruct timer to %s", who, d);
    } else {
        snprintf(buf, sizeof buf, "%s turned off the self-destruct timer", who);
    }
    return pl_strdup(buf);
}

static int msg_to_public(parley_client *c, const pl_sc_chat *ch, const pl_sc_msg *m,
                         parley_message *out)
{
    memset(out, 0, sizeof *out);
    out->chat_id = ch->id;
    out->secret_chat = ch->id;
    out->id = m->id;
    out->from_user = m->outgoing ? c->me.id : ch->peer_user;
    out->from_username = pl_strdup(m->outgoing ? (c->me.username ? c->me.username : "")
                                               : ch->peer_name);
    out->text = pl_strdup(m->text ? m->text : "");
    out->date = m->date;
    out->ttl = m->ttl;
    out->expires_at = m->destroy_at;
    out->is_service = m->service;
    if (!out->from_username || !out->text) {
        pl_message_clear(out);
        return -1;
    }
    return 0;
}

static int load_chat(parley_client *c, int64_t id, pl_sc_chat *ch, parley_error *err)
{
    if (id <= 0)
        return pl_err(err, PARLEY_E_CHAT_NOT_FOUND, "no secret chat %lld", (long long)id);
    int rc = pl_sc_chat_load(c, id, 1, ch, err);
    if (rc == 1)
        return pl_err(err, PARLEY_E_CHAT_NOT_FOUND, "no secret chat %lld on this device",
                      (long long)id);
    return rc;
}

/* A loaded chat that can send: not closed, no unaccepted key change. */
static int check_sendable(const pl_sc_chat *ch, parley_error *err)
{
    if (ch->state == PARLEY_SECRET_CLOSED || !ch->has_session)
        return pl_err(err, PARLEY_E_CHAT_CLOSED, "secret chat %lld is closed",
                      (long long)ch->id);
    if (key_changed(ch))
        return pl_err(err, PARLEY_E_IDENTITY_KEY_CHANGED,
                      "the identity key of %s's device changed: compare the fingerprint "
                      "(secret verify) and accept it (secret accept-key) before sending",
                      ch->peer_name);
    return 0;
}

static void queue_update(parley_client *c, parley_update *u)
{
    pl_sc *s = c->sc;
    if (!u)
        return;
    if (s->q_pos == s->q_len)
        s->q_pos = s->q_len = 0;
    if (s->q_len == s->q_cap) {
        size_t cap = s->q_cap ? s->q_cap * 2 : 16;
        parley_update **v = realloc(s->q, cap * sizeof *v);
        if (!v) {
            parley_update_free(u);
            return;
        }
        s->q = v;
        s->q_cap = cap;
    }
    s->q[s->q_len++] = u;
}

static parley_update *chat_update(const pl_sc_chat *ch)
{
    parley_update *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->kind = PARLEY_UPDATE_SECRET_CHAT;
    u->date = now_s();
    u->chat_id = ch->id;
    if (!(u->secret = to_public(ch))) {
        free(u);
        return NULL;
    }
    return u;
}

static parley_update *message_update(parley_client *c, const pl_sc_chat *ch,
                                     const pl_sc_msg *m)
{
    parley_update *u = calloc(1, sizeof *u);
    if (!u || !(u->message = calloc(1, sizeof *u->message)) ||
        msg_to_public(c, ch, m, u->message) != 0) {
        if (u)
            free(u->message);
        free(u);
        return NULL;
    }
    u->kind = PARLEY_UPDATE_SECRET_MESSAGE;
    u->date = m->date;
    u->chat_id = ch->id;
    return u;
}

static parley_update *delete_update(const pl_sc_chat *ch, int64_t id)
{
    parley_update *u = calloc(1, sizeof *u);
    if (!u || !(u->ids = malloc(sizeof *u->ids))) {
        free(u);
        return NULL;
    }
    u->kind = PARLEY_UPDATE_SECRET_DELETE;
    u->date = now_s();
    u->chat_id = ch->id;
    u->ids[0] = id;
    u->n_ids = 1;
    return u;
}

/* ---- incoming ---------------------------------------------------------------------------- */

/* Applies a decrypted payload to ch inside the caller's transaction; *u gets the update to
 * show (or NULL). Returns 0, -1 for a payload that makes no sense here (drop), <-1 errors. */
static int apply_payload(parley_client *c, pl_sc_chat *ch, const payload *p,
                         parley_update **u, int *scrub, pl_sas_effect *fx, parley_error *err)
{
    *u = NULL;
    pl_sc_msg m = {0};
    int rc;
    if (p->chat != ch->id)
        return -1;
    if (ch->role == SC_ROLE_INITIATOR && ch->state == PARLEY_SECRET_PENDING)
        ch->state = PARLEY_SECRET_ACTIVE;           /* the peer device answered */
    switch (p->type) {
    case P_START:
    case P_ACCEPT:
        *u = chat_update(ch);
        return 0;
    case P_TEXT:
    case P_TIMER:
        if (!from_peer_id(ch, p->msg_id))
            return -1;
        m.id = p->msg_id;
        m.date = p->date;
        if (p->type == P_TEXT) {
            char *t = malloc(p->body_len + 1);
            if (!t)
                return pl_err(err, PARLEY_E_NOMEM, "out of memory");
            memcpy(t, p->body, p->body_len);
            t[p->body_len] = 0;
            if (pl_check_text(t, TEXT_MAX, PARLEY_E_TEXT_INVALID, "message", NULL) < 0) {
                free(t);
                return -1;
            }
            m.text = t;
            m.ttl = ch->timer;
        } else {
            ch->timer = sc_get32(p->body);
            m.service = 1;
            m.text = timer_text(ch->peer_name, ch->timer);
            if (!m.text)
                return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
        rc = pl_sc_msg_insert(c, ch->id, &m, err);
        if (rc == 0)
            *u = message_update(c, ch, &m);
        sodium_memzero(m.text, strlen(m.text));
        free(m.text);
        return rc;
    case P_READ:
        return pl_sc_msg_peer_read(c, ch->id, p->msg_id, now_s(), err);
    case P_DELETE:
        rc = pl_sc_msg_delete(c, ch->id, p->msg_id, err);
        if (rc == 0) {
            *u = delete_update(ch, p->msg_id);
            *scrub = 1;
        }
        return rc < 0 ? rc : 0;
    case P_CLOSE:
        if ((rc = pl_sc_msg_delete_all(c, ch->id, err)) < 0)
            return rc;
        ch->state = PARLEY_SECRET_CLOSED;
        *scrub = 1;
        return 0;
    }
    if (p->type >= P_SAS_FIRST && p->type <= P_SAS_LAST) {
        pl_sas_on_payload(c, ch, p->type, p->body, p->body_len, fx);
        return 0;
    }
    return -1;
}

/* The identity key the server lists for that device must be the one in the message. */
static int server_knows_ik(parley_client *c, int64_t user, int64_t device, const uint8_t *ik)
{
    pl_device *v = NULL;
    size_t n = 0;
    if (pl_secret_devices(c, NULL, user, &v, &n, NULL) < 0)
        return -1;
    int ok = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].device_id == device && sodium_memcmp(v[i].identity, ik, SC_KEY) == 0)
            ok = 1;
    pl_devices_free(v, n);
    return ok;
}

/* Decrypts env for an existing chat, commits, swaps. 0 done, -1 drop, <-1 error (keep). */
static int deliver(parley_client *c, pl_sc_chat *ch, const pl_envelope *e, parley_error *err)
{
    sc_session next;
    uint8_t *pt = malloc(SC_MAX_PLAINTEXT);
    size_t len = 0;
    if (!pt)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    int rc = -1;
    payload p;
    if (sc_ratchet_decrypt(&ch->sess, &next, e->envelope, e->len, pt, SC_MAX_PLAINTEXT, &len)
        != 0)
        goto out;
    if (parse_payload(pt, len, &p) != 0) {
        sc_session_free(&next);
        goto out;
    }
    pl_sc_chat tmp = *ch;
    tmp.sess = next;
    parley_update *u = NULL;
    int scrub = 0;
    pl_sas_effect fx;
    memset(&fx, 0, sizeof fx);
    if ((rc = pl_sc_begin(c, err)) == 0) {
        rc = apply_payload(c, &tmp, &p, &u, &scrub, &fx, err);
        if (tmp.state == PARLEY_SECRET_CLOSED)
            tmp.has_session = 0;
        if (rc == 0)
            rc = pl_sc_chat_save(c, &tmp, err);
        if (rc == 0)
            rc = pl_sc_commit(c, err);
        else
            pl_sc_rollback(c);
    }
    if (rc == 0) {
        int closed = tmp.state == PARLEY_SECRET_CLOSED;
        sc_session_free(&ch->sess);
        *ch = tmp;
        ch->has_session = !closed;
        if (closed) {
            sc_session_free(&next);
            memset(&ch->sess, 0, sizeof ch->sess);
            u = chat_update(ch);
        }
        queue_update(c, u);
        if (scrub)
            pl_sc_scrub(c);
        if (!closed)
            pl_sas_apply(c, ch, &fx);    /* the verification's reply goes after the commit */
    } else {
        parley_update_free(u);
        sc_session_free(&next);
    }
    pl_sas_effect_wipe(&fx);
out:
    sodium_memzero(pt, SC_MAX_PLAINTEXT);
    free(pt);
    return rc;
}

/* The chat row of a session accepted as responder (old: the chat it re-keys, or NULL).
 * Takes over *sess. */
static void responder_chat(pl_sc_chat *ch, const pl_sc_chat *old, const pl_envelope *e,
                           int64_t id, sc_session *sess)
{
    ch->id = id;
    ch->peer_user = e->from_user;
    ch->peer_name = pl_strdup(e->from_username ? e->from_username : "");
    ch->peer_device = e->from_device;
    ch->role = SC_ROLE_RESPONDER;
    ch->state = PARLEY_SECRET_ACTIVE;
    ch->created = old ? old->created : now_s();
    ch->timer = old ? old->timer : 0;
    ch->verified = old ? old->verified : 0;
    ch->next_seq = old ? old->next_seq : 0;
    /* A re-keyed chat keeps the key accepted before: a different one is a key change. */
    memcpy(ch->peer_ik, old ? old->peer_ik : sc_session_peer_ik(sess), SC_KEY);
    ch->sess = *sess;
    ch->has_session = 1;
    memset(sess, 0, sizeof *sess);
}

/* A prekey message no session was made from: X3DH as the responder, a new (or re-keyed)
 * chat. 0 done, -1 drop, <-1 error. */
static int accept_new(parley_client *c, const pl_envelope *e, const sc_envelope *env,
                      parley_error *err)
{
    sc_identity ik;
    sc_signed_prekey spk;
    sc_onetime_prekey opk;
    uint32_t next_otk;
    int rc = pl_sc_keys_load(c, c->session_id, &ik, &spk, &next_otk, err);
    if (rc != 0)
        return rc < 0 ? rc : -1;
    memset(&opk, 0, sizeof opk);
    rc = -1;
    uint8_t *pt = malloc(SC_MAX_PLAINTEXT);
    size_t len = 0;
    sc_session sess;
    memset(&sess, 0, sizeof sess);
    pl_sc_chat ch, old;
    memset(&ch, 0, sizeof ch);
    memset(&old, 0, sizeof old);
    payload p;
    if (pt && env->spk_id != spk.id) {      /* made from a retired one, in its grace period? */
        sc_signed_prekey_wipe(&spk);
        if (pl_sc_spk_old_load(c, env->spk_id, &spk, NULL) != 0)
            goto out;
    }
    if (!pt || env->spk_id != spk.id ||
        (env->has_opk && pl_sc_otk_load(c, env->opk_id, &opk, NULL) != 0))
        goto out;
    sc_device self = self_device(c), peer = {e->from_user, e->from_device};
    if (sc_session_accept(&ik, &spk, env->has_opk ? &opk : NULL, &self, &peer, e->envelope,
                          e->len, &sess, pt, SC_MAX_PLAINTEXT, &len) != 0 ||
        parse_payload(pt, len, &p) != 0 || p.type != P_START || p.chat <= 0 ||
        server_knows_ik(c, e->from_user, e->from_device, sc_session_peer_ik(&sess)) != 1)
        goto out;
    int had = pl_sc_chat_load(c, p.chat, 0, &old, err);
    if (had < 0) {
        rc = had;
        goto out;
    }
    if (had == 0 && (old.peer_user != e->from_user || old.peer_device != e->from_device ||
                     old.state == PARLEY_SECRET_CLOSED))
        goto out;               /* someone else's chat id, or a replayed start of a closed one */
    responder_chat(&ch, had == 0 ? &old : NULL, e, p.chat, &sess);
    if (!ch.peer_name) {
        rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = pl_sc_begin(c, err)) < 0)
        goto out;
    if ((rc = pl_sc_chat_save(c, &ch, err)) == 0 &&
        (!env->has_opk || (rc = pl_sc_otk_delete(c, env->opk_id, err)) == 0))
        rc = pl_sc_commit(c, err);
    else
        pl_sc_rollback(c);
    if (rc == 0) {
        queue_update(c, chat_update(&ch));
        /* Answer at once, so the initiator switches to normal messages. */
        send_payload(c, &ch, P_ACCEPT, 0, NULL, 0, NULL, NULL);
    }
out:
    if (pt) {
        sodium_memzero(pt, SC_MAX_PLAINTEXT);
        free(pt);
    }
    sc_session_free(&sess);
    pl_sc_chat_clear(&ch);
    pl_sc_chat_clear(&old);
    sc_identity_wipe(&ik);
    sc_signed_prekey_wipe(&spk);
    sc_onetime_prekeys_wipe(&opk, 1);
    return rc;
}

/* Routes one envelope. 0 done, -1 drop, <-1 error (do not acknowledge). */
static int process(parley_client *c, const pl_envelope *e, parley_error *err)
{
    sc_envelope env;
    if (!e->envelope || e->len > SC_ENV_MAX ||
        sc_envelope_parse(e->envelope, e->len, &env) != 0)
        return -1;
    pl_sc_chat ch;
    int rc;
    if (env.type == SC_MSG_PREKEY) {
        int64_t *ids = NULL;
        size_t n = 0;
        if ((rc = pl_sc_chats_of_peer(c, e->from_user, e->from_device, &ids, &n, err)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (pl_sc_chat_load(c, ids[i], 1, &ch, NULL) != 0)
                continue;
            if (ch.has_session && ch.role == SC_ROLE_RESPONDER &&
                sc_session_is_setup_of(&ch.sess, &env)) {
                free(ids);
                rc = deliver(c, &ch, e, err);
                pl_sc_chat_clear(&ch);
                return rc;
            }
            pl_sc_chat_clear(&ch);
        }
        free(ids);
        return accept_new(c, e, &env, err);
    }
    rc = pl_sc_chat_load(c, (int64_t)e->secret_chat, 1, &ch, err);
    if (rc != 0)
        return rc < 0 ? rc : -1;
    if (ch.has_session && ch.peer_user == e->from_user && ch.peer_device == e->from_device)
        rc = deliver(c, &ch, e, err);
    else
        rc = -1;
    pl_sc_chat_clear(&ch);
    return rc;
}

static void on_push(parley_client *c, void *ud, const pl_envelope *e)
{
    if (c->sc)
        c->sc->dirty = 1;    /* fetched and processed outside the loop's service */
}

/* Fetches and processes the inbox, acknowledging each page after its commits. */
static void poll_inbox(parley_client *c)
{
    uint64_t after = 0;
    for (int page = 0; page < 100; page++) {
        pl_envelope *v = NULL;
        size_t n = 0;
        int more = 0;
        if (pl_secret_inbox(c, after, INBOX_PAGE, &v, &n, &more, NULL) < 0)
            return;
        uint64_t ack[INBOX_PAGE];
        size_t n_ack = 0;
        for (size_t i = 0; i < n; i++) {
            after = v[i].id;
            parley_error err;
            int rc = process(c, &v[i], &err);
            if (rc >= -1 && n_ack < INBOX_PAGE)
                ack[n_ack++] = v[i].id;
        }
        pl_envelopes_free(v, n);
        if (n_ack)
            pl_secret_ack(c, ack, n_ack, NULL, NULL, NULL);
        if (!more || !n)
            return;
    }
}

/* Marks an incoming message shown and tells the sender (its timer starts on both sides). */
static void mark_read(parley_client *c, int64_t chat, int64_t max_id)
{
    pl_sc_chat ch;
    if (pl_sc_chat_load(c, chat, 1, &ch, NULL) != 0)
        return;
    if (ch.has_session && ch.state != PARLEY_SECRET_CLOSED) {
        if (pl_sc_begin(c, NULL) == 0) {
            pending p;
            if (pl_sc_msg_mark_shown(c, chat, max_id, now_s(), NULL) == 0 &&
                encrypt_payload(c, &ch, P_READ, max_id, NULL, 0, &p, NULL) == 0) {
                if (pl_sc_commit(c, NULL) == 0)
                    pending_finish(c, &ch, &p, NULL);
                else
                    pending_abort(&p);
            } else {
                pl_sc_rollback(c);
            }
        }
    }
    pl_sc_chat_clear(&ch);
}

void pl_sc_flush_reads(parley_client *c)
{
    pl_sc *s = c->sc;
    if (!s || !s->read_chat)
        return;
    int64_t chat = s->read_chat, max_id = s->read_max;
    s->read_chat = s->read_max = 0;
    mark_read(c, chat, max_id);
}

parley_update *pl_sc_next_update(parley_client *c)
{
    if (!c->prof.db || !c->has_session || c->state != CONN_OPEN || !c->authed)
        return NULL;
    pl_sc *s;
    if (pl_sc_get(c, &s, NULL) < 0)
        return NULL;
    if (s->q_pos >= s->q_len)
        pl_sc_flush_reads(c);      /* what was shown so far is read: one notice for all */
    pl_sas_tick(c);
    if (!s->polled || s->dirty) {
        pl_secret_set_handler(c, on_push, NULL);
        s->dirty = 0;
        if (open_store(c, NULL, NULL, NULL) == 0) {
            s->polled = 1;
            poll_inbox(c);
        }
    } else if (pl_now_ms() - s->last_sweep_ms >= SWEEP_EVERY_MS) {
        s->last_sweep_ms = pl_now_ms();
        size_t n;
        pl_sc_sweep(c, now_s(), &n, NULL);
    }
    if (s->q_pos >= s->q_len)
        return NULL;
    parley_update *u = s->q[s->q_pos++];
    if (u->kind == PARLEY_UPDATE_SECRET_MESSAGE && u->message &&
        u->message->from_user != c->me.id) {
        if (s->read_chat && s->read_chat != u->chat_id)
            pl_sc_flush_reads(c);
        s->read_chat = u->chat_id;
        if (u->message->id > s->read_max)
            s->read_max = u->message->id;
    }
    return u;
}

/* ---- public calls ------------------------------------------------------------------------ */

static int64_t new_chat_id(parley_client *c)
{
    for (int i = 0; i < 16; i++) {
        uint64_t v;
        randombytes_buf(&v, sizeof v);
        int64_t id = (int64_t)(v & ((UINT64_C(1) << 53) - 1));   /* exact in JSON numbers */
        pl_sc_chat ch;
        if (id > 0 && pl_sc_chat_load(c, id, 0, &ch, NULL) == 1)
            return id;
        if (id > 0)
            pl_sc_chat_clear(&ch);
    }
    return 0;
}

/* 1 if another chat with that device accepted a different identity key. */
static int conflicts_known_key(parley_client *c, int64_t user, int64_t device,
                               const uint8_t *ik)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int found = 0;
    if (pl_sc_chats_of_peer(c, user, device, &ids, &n, NULL) < 0)
        return 0;
    for (size_t i = 0; i < n && !found; i++) {
        pl_sc_chat ch;
        if (pl_sc_chat_load(c, ids[i], 0, &ch, NULL) == 0) {
            found = sodium_memcmp(ch.peer_ik, ik, SC_KEY) != 0;
            pl_sc_chat_clear(&ch);
        }
    }
    free(ids);
    return found;
}

static int start_with_bundle(parley_client *c, const sc_identity *ik, const pl_bundle *b,
                             const char *name, parley_secret_chat **out, parley_error *err)
{
    sc_bundle sb;
    memset(&sb, 0, sizeof sb);
    sb.device.user_id = b->user_id;
    sb.device.device_id = b->device_id;
    memcpy(sb.ik, b->identity, SC_KEY);
    sb.spk_id = b->spk.id;
    memcpy(sb.spk, b->spk.pub, SC_KEY);
    memcpy(sb.spk_sig, b->spk.sig, SC_SIG);
    sb.has_opk = b->has_otk;
    sb.opk_id = b->otk.id;
    memcpy(sb.opk, b->otk.pub, SC_KEY);
    pl_sc_chat ch;
    memset(&ch, 0, sizeof ch);
    sc_device self = self_device(c);
    if (sc_x3dh_initiate(ik, &self, &sb, &ch.sess) != 0)
        return pl_err(err, PARLEY_E_KEYS_INVALID, "the keys of %s's device do not verify",
                      name);
    ch.has_session = 1;
    ch.id = new_chat_id(c);
    ch.peer_user = b->user_id;
    ch.peer_name = pl_strdup(name);
    ch.peer_device = b->device_id;
    memcpy(ch.peer_ik, b->identity, SC_KEY);
    ch.key_changed = conflicts_known_key(c, b->user_id, b->device_id, b->identity);
    ch.role = SC_ROLE_INITIATOR;
    ch.state = PARLEY_SECRET_PENDING;
    ch.created = now_s();
    int rc = !ch.id ? pl_err(err, PARLEY_E_INTERNAL, "no free secret chat id")
             : !ch.peer_name ? pl_err(err, PARLEY_E_NOMEM, "out of memory")
             : send_payload(c, &ch, P_START, 0, NULL, 0, NULL, err);
    if (rc == 0 && out && !(*out = to_public(&ch)))
        rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_start(parley_client *c, const char *user, int64_t device_id,
                        parley_secret_chat **out, parley_error *err)
{
    if (out)
        *out = NULL;
    if (!user || device_id < 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing user or bad device id");
    sc_identity ik;
    sc_signed_prekey spk;
    int rc = open_store(c, &ik, &spk, err);
    sc_signed_prekey_wipe(&spk);
    if (rc < 0) {
        sc_identity_wipe(&ik);
        return rc;
    }
    pl_bundle b;
    memset(&b, 0, sizeof b);
    const char *name = pl_bare_username(user);
    rc = pl_secret_bundle(c, name, 0, device_id, &b, err);
    if (rc == 0 && b.user_id == c->me.id && b.device_id == c->session_id)
        rc = pl_err(err, PARLEY_E_ARGUMENT, "a secret chat needs another device than this one");
    if (rc == 0)
        rc = start_with_bundle(c, &ik, &b, name, out, err);
    sc_identity_wipe(&ik);
    return rc;
}

int parley_secret_get(parley_client *c, int64_t id, parley_secret_chat **out,
                      parley_error *err)
{
    if (!out)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    pl_sc_chat ch;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    if (!(*out = to_public(&ch)))
        rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_list(parley_client *c, parley_secret_chat **out, size_t *n,
                       parley_error *err)
{
    if (!out || !n)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    *n = 0;
    int64_t *ids = NULL;
    size_t k = 0;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = pl_sc_chat_ids(c, &ids, &k, err)) < 0)
        return rc;
    parley_secret_chat *v = calloc(k ? k : 1, sizeof *v);
    if (!v) {
        free(ids);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    size_t got = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        pl_sc_chat ch;
        if ((rc = load_chat(c, ids[i], &ch, err)) < 0)
            break;
        parley_secret_chat *s = to_public(&ch);
        pl_sc_chat_clear(&ch);
        if (!s) {
            rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
            break;
        }
        v[got++] = *s;
        free(s);
    }
    free(ids);
    if (rc < 0) {
        parley_secret_chats_free(v, got);
        return rc;
    }
    *out = v;
    *n = got;
    return 0;
}

/* Loads a chat that can send, for the calls below. */
static int sendable_chat(parley_client *c, int64_t id, pl_sc_chat *ch, parley_error *err)
{
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, ch, err)) < 0)
        return rc;
    if ((rc = check_sendable(ch, err)) < 0)
        pl_sc_chat_clear(ch);
    return rc;
}

int pl_sc_sendable_chat(parley_client *c, int64_t id, pl_sc_chat *ch, parley_error *err)
{
    return sendable_chat(c, id, ch, err);
}

int pl_sc_send_control(parley_client *c, pl_sc_chat *ch, int type, const void *body,
                       size_t len, parley_error *err)
{
    return send_payload(c, ch, type, 0, body, len, NULL, err);
}

void pl_sc_queue(parley_client *c, parley_update *u)
{
    if (c->sc)
        queue_update(c, u);
    else
        parley_update_free(u);
}

static int stored_message(parley_client *c, pl_sc_chat *ch, const pl_sc_msg *m,
                          parley_message **out, parley_error *err)
{
    if (!out)
        return 0;
    *out = calloc(1, sizeof **out);
    if (!*out || msg_to_public(c, ch, m, *out) != 0) {
        free(*out);
        *out = NULL;
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    return 0;
}

int parley_secret_send(parley_client *c, int64_t id, const char *text, parley_message **out,
                       parley_error *err)
{
    if (out)
        *out = NULL;
    int rc = pl_check_text(text, TEXT_MAX, PARLEY_E_TEXT_INVALID, "message", err);
    if (rc == 0 && strlen(text) > SC_MAX_PLAINTEXT - P_HEADER)
        rc = pl_err(err, PARLEY_E_TOO_LARGE, "a secret message is at most %d bytes of UTF-8",
                    SC_MAX_PLAINTEXT - P_HEADER);
    pl_sc_chat ch;
    if (rc < 0 || (rc = sendable_chat(c, id, &ch, err)) < 0)
        return rc;
    pl_sc_msg m = {0};
    m.id = next_msg_id(&ch);
    m.outgoing = 1;
    m.date = now_s();
    m.ttl = ch.timer;
    m.text = (char *)text;
    rc = send_payload(c, &ch, P_TEXT, m.id, text, strlen(text), &m, err);
    if (rc == 0)
        rc = stored_message(c, &ch, &m, out, err);
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_history(parley_client *c, int64_t id, parley_message **out, size_t *n,
                          parley_error *err)
{
    if (!out || !n)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    *out = NULL;
    *n = 0;
    pl_sc_chat ch;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    pl_sc_msg *v = NULL;
    size_t k = 0;
    if ((rc = pl_sc_msg_list(c, id, &v, &k, err)) == 0) {
        int64_t max_new = 0;
        parley_message *res = calloc(k ? k : 1, sizeof *res);
        if (!res)
            rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < k; i++) {
            if (msg_to_public(c, &ch, &v[i], &res[i]) != 0) {
                parley_messages_free(res, i);
                res = NULL;
                rc = pl_err(err, PARLEY_E_NOMEM, "out of memory");
                break;
            }
            if (!v[i].outgoing && !v[i].shown && v[i].id > max_new)
                max_new = v[i].id;
        }
        if (rc == 0) {
            *out = res;
            *n = k;
            if (max_new)
                mark_read(c, id, max_new);
        }
    }
    pl_sc_msgs_free(v, k);
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_set_timer(parley_client *c, int64_t id, uint32_t seconds,
                            parley_message **out, parley_error *err)
{
    if (out)
        *out = NULL;
    if (seconds > PL_SC_MAX_TIMER)
        return pl_err(err, PARLEY_E_ARGUMENT, "the timer is off or 1 second to 1 week");
    pl_sc_chat ch;
    int rc = sendable_chat(c, id, &ch, err);
    if (rc < 0)
        return rc;
    pl_sc_msg m = {0};
    m.id = next_msg_id(&ch);
    m.outgoing = 1;
    m.service = 1;
    m.date = now_s();
    m.text = timer_text(c->me.username ? c->me.username : "", seconds);
    uint8_t body[4];
    sc_put32(body, seconds);
    ch.timer = seconds;
    rc = m.text ? send_payload(c, &ch, P_TIMER, m.id, body, 4, &m, err)
                : pl_err(err, PARLEY_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = stored_message(c, &ch, &m, out, err);
    free(m.text);
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_delete(parley_client *c, int64_t id, int64_t msg_id, parley_error *err)
{
    pl_sc_chat ch;
    int rc = sendable_chat(c, id, &ch, err);
    if (rc < 0)
        return rc;
    pending p;
    if ((rc = pl_sc_begin(c, err)) < 0)
        goto out;
    rc = msg_id > 0 ? pl_sc_msg_delete(c, id, msg_id, err) : 1;
    if (rc == 1)
        rc = pl_err(err, PARLEY_E_MESSAGE_NOT_FOUND, "no message %lld in secret chat %lld",
                    (long long)msg_id, (long long)id);
    if (rc == 0 && (rc = encrypt_payload(c, &ch, P_DELETE, msg_id, NULL, 0, &p, err)) == 0) {
        if ((rc = pl_sc_commit(c, err)) == 0) {
            rc = pending_finish(c, &ch, &p, err);
            pl_sc_scrub(c);
        } else {
            pending_abort(&p);
        }
    } else {
        pl_sc_rollback(c);
    }
out:
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_verify(parley_client *c, int64_t id, int mark_verified,
                         parley_fingerprint *out, parley_error *err)
{
    if (!out)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    memset(out, 0, sizeof *out);
    pl_sc_chat ch;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    char number[SC_FP_NUMBER_LEN + 1];
    if (!ch.has_session)
        rc = pl_err(err, PARLEY_E_CHAT_CLOSED, "secret chat %lld is closed", (long long)id);
    else if (sc_session_fingerprint(&ch.sess, number, NULL) != 0)
        rc = pl_err(err, PARLEY_E_INTERNAL, "cannot compute the fingerprint");
    if (rc == 0) {
        snprintf(out->number, sizeof out->number, "%s", number);   /* emoji stays "" */
        if (mark_verified && key_changed(&ch))
            rc = pl_err(err, PARLEY_E_IDENTITY_KEY_CHANGED,
                        "accept the new key (secret accept-key) before marking it verified");
        else if (mark_verified && !ch.verified) {
            ch.verified = 1;
            rc = pl_sc_chat_save(c, &ch, err);
        }
    }
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_verify_long(parley_client *c, int64_t id, char out[PARLEY_FP_LONG_LEN + 1],
                              parley_error *err)
{
    _Static_assert(PARLEY_FP_LONG_LEN == SC_FP_LONG_LEN, "long fingerprint length");
    if (!out)
        return pl_err(err, PARLEY_E_ARGUMENT, "missing argument");
    out[0] = '\0';
    pl_sc_chat ch;
    char number[SC_FP_NUMBER_LEN + 1];
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    if (!ch.has_session)
        rc = pl_err(err, PARLEY_E_CHAT_CLOSED, "secret chat %lld is closed", (long long)id);
    else if (sc_session_fingerprint(&ch.sess, number, out) != 0)
        rc = pl_err(err, PARLEY_E_INTERNAL, "cannot compute the fingerprint");
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_accept_key(parley_client *c, int64_t id, parley_error *err)
{
    pl_sc_chat ch;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    if (!ch.has_session)
        rc = pl_err(err, PARLEY_E_CHAT_CLOSED, "secret chat %lld is closed", (long long)id);
    else if (key_changed(&ch)) {
        memcpy(ch.peer_ik, sc_session_peer_ik(&ch.sess), SC_KEY);
        ch.key_changed = 0;
        ch.verified = 0;                  /* the new key has not been compared yet */
        rc = pl_sc_chat_save(c, &ch, err);
    }
    pl_sc_chat_clear(&ch);
    return rc;
}

int parley_secret_close(parley_client *c, int64_t id, parley_error *err)
{
    pl_sc_chat ch;
    int rc = open_store(c, NULL, NULL, err);
    if (rc < 0 || (rc = load_chat(c, id, &ch, err)) < 0)
        return rc;
    if (ch.state == PARLEY_SECRET_CLOSED || !ch.has_session) {
        rc = pl_err(err, PARLEY_E_CHAT_CLOSED, "secret chat %lld is already closed",
                    (long long)id);
        pl_sc_chat_clear(&ch);
        return rc;
    }
    pending p;
    memset(&p, 0, sizeof p);
    if ((rc = pl_sc_begin(c, err)) < 0)
        goto out;
    /* The close notice is encrypted under the last state; then the state is gone here. */
    rc = encrypt_payload(c, &ch, P_CLOSE, 0, NULL, 0, &p, err);
    pl_sc_chat closed = ch;
    closed.has_session = 0;
    closed.state = PARLEY_SECRET_CLOSED;
    if (rc == 0 && (rc = pl_sc_msg_delete_all(c, id, err)) == 0 &&
        (rc = pl_sc_chat_save(c, &closed, err)) == 0 && (rc = pl_sc_commit(c, err)) == 0) {
        /* Wiped here even if the notice cannot be sent now. */
        pl_sc_scrub(c);
        parley_error send_err;
        if (pending_finish(c, &ch, &p, &send_err) < 0)
            rc = pl_err_copy(err, &send_err);
    } else {
        pending_abort(&p);
        pl_sc_rollback(c);
    }
out:
    pl_sc_chat_clear(&ch);
    return rc;
}

void parley_secret_chat_free(parley_secret_chat *s)
{
    if (!s)
        return;
    free(s->peer_username);
    free(s);
}

void parley_secret_chats_free(parley_secret_chat *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].peer_username);
    free(v);
}
