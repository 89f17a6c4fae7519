/*
 * req_secret.c: the requests of secret chats: PublishPrekeys, GetPrekeyStatus, ListDevices,
 * GetPrekeyBundle, SendSecret, GetSecretInbox, AckSecret (see request.h for the handler
 * model, proto/parley.proto "Secret chats" for the contract).
 *
 * The server is a key directory and a relay here: it checks exact key lengths and the
 * limits, never parses or verifies keys (the devices do), never sees plaintext. A device is
 * the caller's session: every request acts for j->session_id, so a client can never name
 * another device as its own (the sending device, the inbox it reads, the ids it acks).
 *
 * Abuse limits (issue 16): sends and bundle fetches are charged to per-account buckets
 * before the store job (FLOOD_WAIT when empty); the store enforces each sender's share of a
 * device's inbox and the per-device hand-out of one-time prekeys; device lists show other
 * accounts only device ids and identity keys.
 *
 * Outputs live in a secret_out hung on the job (j->ext, freed by req_job_free). A delivered
 * envelope is pushed, after the commit, to the connections of the recipient device only
 * (push_session_frame); it never enters an account's update log.
 */
#include "push.h"
#include "rate_table.h"
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD PARLEY__ERROR_CODE__BAD_REQUEST
#define OK PARLEY__ERROR_CODE__OK
#define KEYS_INVALID PARLEY__ERROR_CODE__KEYS_INVALID

/* An envelope fits one 64 KiB frame with its headers (SendSecret, the push, an inbox page). */
#define ENVELOPE_MAX 61440
#define INBOX_DEFAULT 50
#define INBOX_MAX 100
/* Envelope bytes per inbox page, leaving 128 bytes per envelope for its other fields. */
#define INBOX_PAGE_BYTES (ENVELOPE_MAX - INBOX_MAX * 128)
#define ACK_IDS_MAX 500

typedef struct {
    uint32_t remaining;
    int published;
    store_device *devices;
    size_t n_devices;
    store_bundle bundle;
    uint64_t id;
    int64_t date;
    int duplicate;
    char *from_username;       /* the sender's name, for the push */
    store_envelope *envs;
    size_t n_envs;
    int more;
    uint64_t *acked;
    size_t n_acked;
} secret_out;

static void out_free(void *p)
{
    secret_out *o = p;
    store_devices_free(o->devices, o->n_devices);
    store_envelopes_free(o->envs, o->n_envs);
    free(o->from_username);
    free(o->acked);
    free(o);
}

/* Store thread: the job's output block, made on first use. */
static secret_out *out_of(req_job *j)
{
    if (!j->ext && (j->ext = calloc(1, sizeof(secret_out)))) j->ext_free = out_free;
    return j->ext;
}

static void fail_with(req_job *j, Parley__ErrorCode code, const char *msg)
{
    j->err = code;
    snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
}

/* ---- per-account rates (issue 16) ---------------------------------------------------------- */

/* The per-account buckets of secret sends and bundle fetches: they must follow an account
 * across all its connections and devices, so they hang on the server (srv->secret_limits,
 * network thread only, made on first use, freed by req_secret_stop). */
struct secret_limits {
    rate_table *send;
    rate_table *fetch;
};

static struct secret_limits *limits_of(server *srv)
{
    struct secret_limits *l = srv->secret_limits;
    if (l) return l;
    if (!(l = calloc(1, sizeof *l))) return NULL;
    l->send = rate_table_new();
    l->fetch = rate_table_new();
    if (!l->send || !l->fetch) {
        rate_table_free(l->send);
        rate_table_free(l->fetch);
        free(l);
        return NULL;
    }
    return srv->secret_limits = l;
}

void req_secret_stop(server *srv)
{
    struct secret_limits *l = srv->secret_limits;
    if (!l) return;
    rate_table_free(l->send);
    rate_table_free(l->fetch);
    free(l);
    srv->secret_limits = NULL;
}

/* Network thread, the `start` step: charges the account's bucket, then runs the store job;
 * a refusal answers FLOOD_WAIT with the seconds to wait and changes nothing. */
static void start_charged(req_job *j, int fetch)
{
    const server_config *cfg = &j->srv->cfg;
    struct secret_limits *l = limits_of(j->srv);
    uint32_t wait = 1;
    if (l && fetch)
        wait = rate_table_take(l->fetch, (uint64_t)j->user_id, cfg->prekey_fetch_per_minute / 60,
                               cfg->prekey_fetch_burst, lws_now_usecs());
    else if (l)
        wait = rate_table_take(l->send, (uint64_t)j->user_id, cfg->secret_send_rate,
                               cfg->secret_send_burst, lws_now_usecs());
    if (wait) {
        req_fail(j, PARLEY__ERROR_CODE__FLOOD_WAIT,
                 fetch ? "too many prekey bundles fetched" : "too many secret messages sent",
                 wait);
        return;
    }
    req_submit_store(j, j->h);
}

static void bundle_start(req_job *j)
{
    start_charged(j, 1);
}

static void send_start(req_job *j)
{
    start_charged(j, 0);
}

/* ---- validation pieces ------------------------------------------------------------------- */

static Parley__ErrorCode check_key(const ProtobufCBinaryData *k, size_t len, const char *what,
                                   const char **why)
{
    *why = what;
    return k->len == len && k->data ? OK : KEYS_INVALID;
}

/* A user named by username or user_id (ListDevices, GetPrekeyBundle). */
static Parley__ErrorCode check_user_ref(char *username, int64_t user_id, const char **why)
{
    if (username[0]) {
        *why = "username must be 5-32 characters of a-z, 0-9 and _, starting with a letter";
        return valid_username(username) ? OK : PARLEY__ERROR_CODE__USERNAME_INVALID;
    }
    *why = "give a username or a user_id";
    return user_id > 0 ? OK : BAD;
}

/* Store thread: the account a user reference names. */
static store_rc resolve_user(store *s, req_job *j, const char *username, int64_t user_id,
                             int64_t *out)
{
    if (!username[0]) {
        *out = user_id;
        return STORE_OK;
    }
    store_user u;
    store_rc rc = store_user_by_name(s, username, &u);
    if (rc == STORE_OK) *out = u.id;
    store_user_free(&u);
    return rc;
}

/* ---- PublishPrekeys / GetPrekeyStatus ---------------------------------------------------- */

static Parley__ErrorCode publish_validate(req_job *j, const char **why)
{
    Parley__PublishPrekeysRequest *r = j->frame->publish_prekeys;
    Parley__ErrorCode c = check_key(&r->identity_key, STORE_KEY_BYTES,
                                    "identity_key must be 32 bytes", why);
    if (c != OK) return c;
    if (r->signed_prekey) {
        if ((c = check_key(&r->signed_prekey->public_key, STORE_KEY_BYTES,
                           "signed_prekey.public_key must be 32 bytes", why)) != OK)
            return c;
        if ((c = check_key(&r->signed_prekey->signature, STORE_SIG_BYTES,
                           "signed_prekey.signature must be 64 bytes", why)) != OK)
            return c;
    }
    *why = "at most 200 one-time prekeys are stored per device";
    if (r->n_one_time_prekeys > STORE_SECRET_MAX_OTK) return PARLEY__ERROR_CODE__LIMIT_REACHED;
    for (size_t i = 0; i < r->n_one_time_prekeys; i++) {
        if ((c = check_key(&r->one_time_prekeys[i]->public_key, STORE_KEY_BYTES,
                           "one_time_prekeys[].public_key must be 32 bytes", why)) != OK)
            return c;
        *why = "one-time prekey ids must be unique";
        for (size_t k = 0; k < i; k++)
            if (r->one_time_prekeys[k]->id == r->one_time_prekeys[i]->id) return KEYS_INVALID;
    }
    return OK;
}

static store_rc publish_run(store *s, req_job *j)
{
    Parley__PublishPrekeysRequest *r = j->frame->publish_prekeys;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    store_spk spk;
    if (r->signed_prekey) {
        spk.id = r->signed_prekey->id;
        memcpy(spk.pub, r->signed_prekey->public_key.data, STORE_KEY_BYTES);
        memcpy(spk.sig, r->signed_prekey->signature.data, STORE_SIG_BYTES);
    }
    size_t n = r->n_one_time_prekeys;
    store_otk *otks = calloc(n ? n : 1, sizeof *otks);
    if (!otks) return STORE_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        otks[i].id = r->one_time_prekeys[i]->id;
        memcpy(otks[i].pub, r->one_time_prekeys[i]->public_key.data, STORE_KEY_BYTES);
    }
    store_rc rc = store_prekeys_publish(s, j->session_id, r->identity_key.data,
                                        r->signed_prekey ? &spk : NULL, otks, n, j->now,
                                        &o->remaining);
    free(otks);
    o->published = rc == STORE_OK;
    if (rc == STORE_ERR_FORBIDDEN)
        fail_with(j, PARLEY__ERROR_CODE__IDENTITY_KEY_CHANGED,
                  "this device has another identity key; a new identity needs a new login");
    else if (rc == STORE_ERR_INVALID)
        fail_with(j, KEYS_INVALID, r->signed_prekey
                                       ? "a one-time prekey id is already stored"
                                       : "the first publish must carry a signed prekey");
    else if (rc == STORE_ERR_LIMIT)
        fail_with(j, PARLEY__ERROR_CODE__LIMIT_REACHED,
                  "at most 200 one-time prekeys are stored per device");
    return rc;
}

static store_rc status_run(store *s, req_job *j)
{
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    return store_prekey_status(s, j->session_id, &o->remaining, &o->published);
}

static void reply_status(req_job *j, Parley__Response *r, wire_arena *a)
{
    secret_out *o = j->ext;
    Parley__PrekeyStatus *st = wire_alloc(a, sizeof *st);
    if (!st) return;
    parley__prekey_status__init(st);
    st->one_time_remaining = o->remaining;
    st->device_id = j->session_id;
    st->published = o->published != 0;
    r->result_case = PARLEY__RESPONSE__RESULT_PREKEY_STATUS;
    r->prekey_status = st;
}

/* ---- ListDevices --------------------------------------------------------------------------- */

/* Another account gets only what starting a secret chat needs: the device ids and identity
 * keys. Device names (often a hostname) and last-active times are the owner's business
 * (issue 16, item 9), so they are left out for everyone else. */

static Parley__ErrorCode devices_validate(req_job *j, const char **why)
{
    Parley__ListDevicesRequest *r = j->frame->list_devices;
    return check_user_ref(r->username, r->user_id, why);
}

static store_rc devices_run(store *s, req_job *j)
{
    Parley__ListDevicesRequest *r = j->frame->list_devices;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    int64_t user = 0;
    store_rc rc = resolve_user(s, j, r->username, r->user_id, &user);
    if (rc == STORE_OK) rc = store_devices_list(s, user, &o->devices, &o->n_devices);
    return rc;
}

static void reply_devices(req_job *j, Parley__Response *r, wire_arena *a)
{
    secret_out *o = j->ext;
    Parley__DeviceList *l = wire_alloc(a, sizeof *l);
    if (!l) return;
    parley__device_list__init(l);
    l->devices = wire_alloc(a, (o->n_devices + 1) * sizeof *l->devices);
    if (!l->devices) return;
    for (size_t i = 0; i < o->n_devices; i++) {
        const store_device *d = &o->devices[i];
        Parley__Device *w = wire_alloc(a, sizeof *w);
        if (!w) return;
        parley__device__init(w);
        w->user_id = d->user_id;
        w->device_id = d->device_id;
        if (d->user_id == j->user_id) {   /* the owner sees its own devices in full */
            w->name = d->name;
            w->last_active = d->last_active;
        }
        w->identity_key.data = (uint8_t *)d->identity;
        w->identity_key.len = STORE_KEY_BYTES;
        l->devices[l->n_devices++] = w;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_DEVICES;
    r->devices = l;
}

/* ---- GetPrekeyBundle ----------------------------------------------------------------------- */

static Parley__ErrorCode bundle_validate(req_job *j, const char **why)
{
    Parley__GetPrekeyBundleRequest *r = j->frame->get_prekey_bundle;
    *why = "device_id must not be negative";
    if (r->device_id < 0) return BAD;
    return check_user_ref(r->username, r->user_id, why);
}

static store_rc bundle_run(store *s, req_job *j)
{
    Parley__GetPrekeyBundleRequest *r = j->frame->get_prekey_bundle;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    int64_t user = 0;
    store_rc rc = resolve_user(s, j, r->username, r->user_id, &user);
    if (rc == STORE_OK)
        rc = store_prekey_bundle_take(s, user, r->device_id, j->now,
                                      j->srv->cfg.prekey_otk_per_hour, &o->bundle);
    if (rc == STORE_ERR_NO_SESSION)
        fail_with(j, PARLEY__ERROR_CODE__DEVICE_NOT_FOUND,
                  r->device_id ? "no such device with keys" : "the user has no device with keys");
    return rc;
}

static void reply_bundle(req_job *j, Parley__Response *r, wire_arena *a)
{
    store_bundle *b = &((secret_out *)j->ext)->bundle;
    Parley__PrekeyBundle *w = wire_alloc(a, sizeof *w);
    Parley__SignedPrekey *spk = wire_alloc(a, sizeof *spk);
    Parley__OneTimePrekey *otk = wire_alloc(a, sizeof *otk);
    if (!w || !spk || !otk) return;
    parley__prekey_bundle__init(w);
    parley__signed_prekey__init(spk);
    parley__one_time_prekey__init(otk);
    w->user_id = b->user_id;
    w->device_id = b->device_id;
    w->identity_key = (ProtobufCBinaryData){ STORE_KEY_BYTES, b->identity };
    spk->id = b->spk.id;
    spk->public_key = (ProtobufCBinaryData){ STORE_KEY_BYTES, b->spk.pub };
    spk->signature = (ProtobufCBinaryData){ STORE_SIG_BYTES, b->spk.sig };
    w->signed_prekey = spk;
    if (b->has_otk) {
        otk->id = b->otk.id;
        otk->public_key = (ProtobufCBinaryData){ STORE_KEY_BYTES, b->otk.pub };
        w->one_time_prekey = otk;
    }
    r->result_case = PARLEY__RESPONSE__RESULT_PREKEY_BUNDLE;
    r->prekey_bundle = w;
}

/* ---- SendSecret ---------------------------------------------------------------------------- */

static Parley__ErrorCode send_validate(req_job *j, const char **why)
{
    Parley__SendSecretRequest *r = j->frame->send_secret;
    *why = "envelope must not be empty";
    if (r->envelope.len == 0) return BAD;
    *why = "envelope is over 61440 bytes";
    if (r->envelope.len > ENVELOPE_MAX) return PARLEY__ERROR_CODE__TOO_LARGE;
    *why = "to_user and to_device must be positive";
    if (r->to_user <= 0 || r->to_device <= 0) return BAD;
    *why = "secret_chat and random_id must be set";
    if (r->secret_chat == 0 || r->random_id == 0) return BAD;
    return OK;
}

static store_rc send_run(store *s, req_job *j)
{
    Parley__SendSecretRequest *r = j->frame->send_secret;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    const server_config *cfg = &j->srv->cfg;   /* read-only once the server runs */
    store_secret_caps caps = { cfg->secret_inbox_max, cfg->secret_inbox_bytes,
                               cfg->secret_inbox_sender_max, cfg->secret_inbox_sender_bytes };
    int share_full = 0;
    store_rc rc = store_secret_send(s, j->user_id, j->session_id, r->to_user, r->to_device,
                                    r->secret_chat, r->envelope.data, r->envelope.len,
                                    r->random_id, j->now, &caps, &o->id, &o->date,
                                    &o->duplicate, &share_full);
    if (rc == STORE_ERR_NO_SESSION || rc == STORE_ERR_NO_USER)
        fail_with(j, PARLEY__ERROR_CODE__DEVICE_NOT_FOUND,
                  "to_device is not a device with keys of to_user");
    else if (rc == STORE_ERR_LIMIT)
        fail_with(j, PARLEY__ERROR_CODE__LIMIT_REACHED,
                  share_full ? "too many of your envelopes are pending for the recipient device"
                             : "the recipient device has too many envelopes pending");
    else if (rc == STORE_ERR_INVALID)          /* the sending session ended meanwhile */
        fail_with(j, PARLEY__ERROR_CODE__SESSION_TERMINATED, "session terminated");
    if (rc == STORE_OK && !o->duplicate) {
        store_user u;
        rc = store_user_by_id(s, j->user_id, &u);
        if (rc == STORE_OK && !(o->from_username = strdup(u.username))) rc = STORE_ERR_INTERNAL;
        store_user_free(&u);
    }
    return rc;
}

static void reply_sent(req_job *j, Parley__Response *r, wire_arena *a)
{
    secret_out *o = j->ext;
    Parley__SecretSent *ss = wire_alloc(a, sizeof *ss);
    if (!ss) return;
    parley__secret_sent__init(ss);
    ss->id = o->id;
    ss->date = o->date;
    r->result_case = PARLEY__RESPONSE__RESULT_SECRET_SENT;
    r->secret_sent = ss;
}

/* The envelope goes to the recipient device's connections, and to no one else. A repeat
 * (duplicate random_id) was pushed the first time and is not pushed again. */
static void after_sent(req_job *j, conn *c)
{
    secret_out *o = j->ext;
    Parley__SendSecretRequest *r = j->frame->send_secret;
    if (o->duplicate) return;
    Parley__SecretEnvelope e = PARLEY__SECRET_ENVELOPE__INIT;
    e.id = o->id;
    e.from_user = j->user_id;
    e.from_username = o->from_username;
    e.from_device = j->session_id;
    e.secret_chat = r->secret_chat;
    e.envelope = r->envelope;
    e.date = o->date;
    Parley__ServerFrame f = PARLEY__SERVER_FRAME__INIT;
    f.frame_case = PARLEY__SERVER_FRAME__FRAME_SECRET;
    f.secret = &e;
    push_session_frame(j->srv, r->to_device, &f);
}

/* ---- GetSecretInbox / AckSecret ------------------------------------------------------------ */

static Parley__ErrorCode inbox_validate(req_job *j, const char **why)
{
    Parley__GetSecretInboxRequest *r = j->frame->get_secret_inbox;
    if (r->limit == 0) r->limit = INBOX_DEFAULT;
    *why = "limit must be 1-100";
    return r->limit <= INBOX_MAX ? OK : BAD;
}

static store_rc inbox_run(store *s, req_job *j)
{
    Parley__GetSecretInboxRequest *r = j->frame->get_secret_inbox;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    return store_secret_inbox(s, j->session_id, r->after_id, r->limit, INBOX_PAGE_BYTES,
                              &o->envs, &o->n_envs, &o->more);
}

static void reply_inbox(req_job *j, Parley__Response *r, wire_arena *a)
{
    secret_out *o = j->ext;
    Parley__SecretInbox *in = wire_alloc(a, sizeof *in);
    if (!in) return;
    parley__secret_inbox__init(in);
    in->envelopes = wire_alloc(a, (o->n_envs + 1) * sizeof *in->envelopes);
    if (!in->envelopes) return;
    for (size_t i = 0; i < o->n_envs; i++) {
        const store_envelope *s = &o->envs[i];
        Parley__SecretEnvelope *e = wire_alloc(a, sizeof *e);
        if (!e) return;
        parley__secret_envelope__init(e);
        e->id = s->id;
        e->from_user = s->from_user;
        e->from_username = s->from_username;
        e->from_device = s->from_device;
        e->secret_chat = s->secret_chat;
        e->envelope = (ProtobufCBinaryData){ s->len, s->envelope };
        e->date = s->date;
        in->envelopes[in->n_envelopes++] = e;
    }
    in->more = o->more != 0;
    r->result_case = PARLEY__RESPONSE__RESULT_SECRET_INBOX;
    r->secret_inbox = in;
}

static Parley__ErrorCode ack_validate(req_job *j, const char **why)
{
    Parley__AckSecretRequest *r = j->frame->ack_secret;
    *why = "give 1-500 envelope ids";
    if (r->n_ids < 1 || r->n_ids > ACK_IDS_MAX) return BAD;
    for (size_t i = 0; i < r->n_ids; i++)
        if (r->ids[i] == 0) return BAD;
    return OK;
}

static store_rc ack_run(store *s, req_job *j)
{
    Parley__AckSecretRequest *r = j->frame->ack_secret;
    secret_out *o = out_of(j);
    if (!o) return STORE_ERR_INTERNAL;
    j->sq.scrub = 1;  /* the acknowledged envelopes must leave the disk */
    return store_secret_ack(s, j->session_id, r->ids, r->n_ids, &o->acked, &o->n_acked);
}

static void reply_acked(req_job *j, Parley__Response *r, wire_arena *a)
{
    secret_out *o = j->ext;
    Parley__SecretAcked *ak = wire_alloc(a, sizeof *ak);
    if (!ak) return;
    parley__secret_acked__init(ak);
    ak->deleted = o->acked;  /* borrowed until the answer is packed */
    ak->n_deleted = o->n_acked;
    r->result_case = PARLEY__RESPONSE__RESULT_SECRET_ACKED;
    r->secret_acked = ak;
}

/* ---- table --------------------------------------------------------------------------------- */

#define H(name, v, st, r, rep, aft) \
    static const req_handler name = { .validate = v, .start = st, .run = r, .reply = rep, \
                                      .after = aft }

H(h_publish, publish_validate, NULL, publish_run, reply_status, NULL);
H(h_status, NULL, NULL, status_run, reply_status, NULL);
H(h_devices, devices_validate, NULL, devices_run, reply_devices, NULL);
H(h_bundle, bundle_validate, bundle_start, bundle_run, reply_bundle, NULL);
H(h_send, send_validate, send_start, send_run, reply_sent, after_sent);
H(h_inbox, inbox_validate, NULL, inbox_run, reply_inbox, NULL);
H(h_ack, ack_validate, NULL, ack_run, reply_acked, NULL);

const req_handler *req_secret_handler(Parley__ClientFrame__RequestCase kind)
{
    switch (kind) {
    case PARLEY__CLIENT_FRAME__REQUEST_PUBLISH_PREKEYS: return &h_publish;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_PREKEY_STATUS: return &h_status;
    case PARLEY__CLIENT_FRAME__REQUEST_LIST_DEVICES: return &h_devices;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_PREKEY_BUNDLE: return &h_bundle;
    case PARLEY__CLIENT_FRAME__REQUEST_SEND_SECRET: return &h_send;
    case PARLEY__CLIENT_FRAME__REQUEST_GET_SECRET_INBOX: return &h_inbox;
    case PARLEY__CLIENT_FRAME__REQUEST_ACK_SECRET: return &h_ack;
    default: return NULL;
    }
}
