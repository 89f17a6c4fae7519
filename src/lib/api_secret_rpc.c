/*
 * api_secret_rpc.c: libparley's internal secret-chat requests (contract in secret_rpc.h):
 * publish/inspect this device's prekeys, list a user's devices, fetch a prekey bundle, send
 * an envelope, read and acknowledge this device's inbox, and hand pushed envelopes to the
 * handler the secret-chat layer set.
 *
 * Each function checks its arguments the way the server does (so a bad call fails here
 * without a round trip), builds one ClientFrame, waits with pl_rpc and copies the answer
 * into plain structs, checking every length the server sent.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secret_rpc.h"

#define DEFAULT_INBOX 50
#define MAX_INBOX 100

static int unexpected(parley_client *c, pl_resp *r, parley_error *err)
{
    pl_resp_free(r);
    return pl_err(err, PARLEY_E_PROTOCOL, "unexpected answer from %s", c->url);
}

static int copy_key(uint8_t *dst, const ProtobufCBinaryData *src, size_t len)
{
    if (src->len != len || !src->data)
        return -1;
    memcpy(dst, src->data, len);
    return 0;
}

/* Sends f (needs a session) and checks the answer's kind; *r owns it on success. */
static int call(parley_client *c, Parley__ClientFrame *f, Parley__Response__ResultCase want,
                pl_resp *r, parley_error *err)
{
    if (!c)
        return pl_err(err, PARLEY_E_ARGUMENT, "no client");
    int rc = pl_rpc(c, f, 1, r, err);
    if (rc < 0)
        return rc;
    if (r->r->result_case != want)
        return unexpected(c, r, err);
    return 0;
}

static void frame_init(Parley__ClientFrame *f, Parley__ClientFrame__RequestCase kind)
{
    parley__client_frame__init(f);
    f->request_case = kind;
}

/* ---- prekeys ------------------------------------------------------------------------------- */

static int take_status(parley_client *c, pl_resp *r, pl_prekey_status *out, parley_error *err)
{
    const Parley__PrekeyStatus *st = r->r->prekey_status;
    if (!st) return unexpected(c, r, err);
    if (out) {
        out->one_time_remaining = st->one_time_remaining;
        out->device_id = st->device_id;
        out->published = st->published;
    }
    pl_resp_free(r);
    return 0;
}

int pl_secret_publish(parley_client *c, const uint8_t identity[PL_KEY_BYTES],
                      const pl_signed_prekey *spk, const pl_one_time_prekey *otks, size_t n,
                      pl_prekey_status *out, parley_error *err)
{
    if (!identity || (n && !otks))
        return pl_err(err, PARLEY_E_ARGUMENT, "no identity key or prekeys");
    if (n > PL_MAX_ONE_TIME_PREKEYS)
        return pl_err(err, PARLEY_E_ARGUMENT, "at most %d one-time prekeys",
                      PL_MAX_ONE_TIME_PREKEYS);
    Parley__PublishPrekeysRequest req = PARLEY__PUBLISH_PREKEYS_REQUEST__INIT;
    Parley__SignedPrekey sp = PARLEY__SIGNED_PREKEY__INIT;
    req.identity_key = (ProtobufCBinaryData){ PL_KEY_BYTES, (uint8_t *)identity };
    if (spk) {
        sp.id = spk->id;
        sp.public_key = (ProtobufCBinaryData){ PL_KEY_BYTES, (uint8_t *)spk->pub };
        sp.signature = (ProtobufCBinaryData){ PL_SIG_BYTES, (uint8_t *)spk->sig };
        req.signed_prekey = &sp;
    }
    Parley__OneTimePrekey *ok = calloc(n + 1, sizeof *ok);
    Parley__OneTimePrekey **okp = calloc(n + 1, sizeof *okp);
    if (!ok || !okp) {
        free(ok);
        free(okp);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        parley__one_time_prekey__init(&ok[i]);
        ok[i].id = otks[i].id;
        ok[i].public_key = (ProtobufCBinaryData){ PL_KEY_BYTES, (uint8_t *)otks[i].pub };
        okp[i] = &ok[i];
    }
    req.one_time_prekeys = okp;
    req.n_one_time_prekeys = n;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_PUBLISH_PREKEYS);
    f.publish_prekeys = &req;
    pl_resp r;
    int rc = call(c, &f, PARLEY__RESPONSE__RESULT_PREKEY_STATUS, &r, err);
    free(ok);
    free(okp);
    return rc < 0 ? rc : take_status(c, &r, out, err);
}

int pl_secret_status(parley_client *c, pl_prekey_status *out, parley_error *err)
{
    Parley__GetPrekeyStatusRequest req = PARLEY__GET_PREKEY_STATUS_REQUEST__INIT;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_GET_PREKEY_STATUS);
    f.get_prekey_status = &req;
    pl_resp r;
    int rc = call(c, &f, PARLEY__RESPONSE__RESULT_PREKEY_STATUS, &r, err);
    return rc < 0 ? rc : take_status(c, &r, out, err);
}

/* ---- devices and bundles ------------------------------------------------------------------- */

static int check_user(const char *username, int64_t user_id, parley_error *err)
{
    if (username ? !*pl_bare_username(username) : user_id <= 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "give a username or a user id");
    return 0;
}

static int take_devices(const Parley__DeviceList *l, pl_device **out, size_t *n)
{
    pl_device *v = calloc(l->n_devices + 1, sizeof *v);
    if (!v) return -PARLEY_E_NOMEM;
    size_t k = 0;
    for (; k < l->n_devices; k++) {
        const Parley__Device *d = l->devices[k];
        v[k].user_id = d->user_id;
        v[k].device_id = d->device_id;
        v[k].last_active = d->last_active;
        if (!(v[k].name = pl_strdup(d->name ? d->name : ""))) {
            pl_devices_free(v, k);
            return -PARLEY_E_NOMEM;
        }
        if (copy_key(v[k].identity, &d->identity_key, PL_KEY_BYTES) != 0) {
            pl_devices_free(v, k + 1);
            return -PARLEY_E_PROTOCOL;
        }
    }
    *out = v;
    *n = k;
    return 0;
}

int pl_secret_devices(parley_client *c, const char *username, int64_t user_id, pl_device **out,
                      size_t *n, parley_error *err)
{
    *out = NULL;
    *n = 0;
    int rc = check_user(username, user_id, err);
    if (rc < 0) return rc;
    Parley__ListDevicesRequest req = PARLEY__LIST_DEVICES_REQUEST__INIT;
    if (username) req.username = (char *)pl_bare_username(username);
    else req.user_id = user_id;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_LIST_DEVICES);
    f.list_devices = &req;
    pl_resp r;
    rc = call(c, &f, PARLEY__RESPONSE__RESULT_DEVICES, &r, err);
    if (rc < 0) return rc;
    if (!r.r->devices) return unexpected(c, &r, err);
    rc = take_devices(r.r->devices, out, n);
    pl_resp_free(&r);
    if (rc == -PARLEY_E_PROTOCOL)
        return pl_err(err, PARLEY_E_PROTOCOL, "a device key of the wrong size from %s", c->url);
    return rc < 0 ? pl_err(err, -rc, "out of memory") : 0;
}

static int take_bundle(const Parley__PrekeyBundle *b, pl_bundle *out)
{
    memset(out, 0, sizeof *out);
    out->user_id = b->user_id;
    out->device_id = b->device_id;
    if (copy_key(out->identity, &b->identity_key, PL_KEY_BYTES) || !b->signed_prekey ||
        copy_key(out->spk.pub, &b->signed_prekey->public_key, PL_KEY_BYTES) ||
        copy_key(out->spk.sig, &b->signed_prekey->signature, PL_SIG_BYTES))
        return -1;
    out->spk.id = b->signed_prekey->id;
    if (b->one_time_prekey) {
        if (copy_key(out->otk.pub, &b->one_time_prekey->public_key, PL_KEY_BYTES)) return -1;
        out->otk.id = b->one_time_prekey->id;
        out->has_otk = 1;
    }
    return 0;
}

int pl_secret_bundle(parley_client *c, const char *username, int64_t user_id, int64_t device_id,
                     pl_bundle *out, parley_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = check_user(username, user_id, err);
    if (rc < 0) return rc;
    if (device_id < 0) return pl_err(err, PARLEY_E_ARGUMENT, "bad device id");
    Parley__GetPrekeyBundleRequest req = PARLEY__GET_PREKEY_BUNDLE_REQUEST__INIT;
    if (username) req.username = (char *)pl_bare_username(username);
    else req.user_id = user_id;
    req.device_id = device_id;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_GET_PREKEY_BUNDLE);
    f.get_prekey_bundle = &req;
    pl_resp r;
    rc = call(c, &f, PARLEY__RESPONSE__RESULT_PREKEY_BUNDLE, &r, err);
    if (rc < 0) return rc;
    if (!r.r->prekey_bundle || take_bundle(r.r->prekey_bundle, out) != 0) {
        memset(out, 0, sizeof *out);
        pl_resp_free(&r);
        return pl_err(err, PARLEY_E_PROTOCOL, "a malformed prekey bundle from %s", c->url);
    }
    pl_resp_free(&r);
    return 0;
}

/* ---- envelopes ----------------------------------------------------------------------------- */

int pl_secret_send(parley_client *c, int64_t to_user, int64_t to_device, uint64_t secret_chat,
                   const uint8_t *envelope, size_t len, uint64_t random_id, uint64_t *id,
                   int64_t *date, parley_error *err)
{
    if (id) *id = 0;
    if (date) *date = 0;
    if (to_user <= 0 || to_device <= 0 || secret_chat == 0)
        return pl_err(err, PARLEY_E_ARGUMENT, "bad recipient or secret chat id");
    if (!envelope || len == 0 || len > PL_ENVELOPE_MAX)
        return pl_err(err, PARLEY_E_ARGUMENT, "an envelope is 1-%d bytes", PL_ENVELOPE_MAX);
    while (random_id == 0)
        randombytes_buf(&random_id, sizeof random_id);
    Parley__SendSecretRequest req = PARLEY__SEND_SECRET_REQUEST__INIT;
    req.to_user = to_user;
    req.to_device = to_device;
    req.secret_chat = secret_chat;
    req.envelope = (ProtobufCBinaryData){ len, (uint8_t *)envelope };
    req.random_id = random_id;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_SEND_SECRET);
    f.send_secret = &req;
    pl_resp r;
    int rc = call(c, &f, PARLEY__RESPONSE__RESULT_SECRET_SENT, &r, err);
    if (rc < 0 && r.lost)      /* same random_id: the server never stores it twice */
        rc = call(c, &f, PARLEY__RESPONSE__RESULT_SECRET_SENT, &r, err);
    if (rc < 0) return rc;
    if (!r.r->secret_sent) return unexpected(c, &r, err);
    if (id) *id = r.r->secret_sent->id;
    if (date) *date = r.r->secret_sent->date;
    pl_resp_free(&r);
    return 0;
}

/* Deep copy of one envelope; 0 or -code. */
static int copy_envelope(const Parley__SecretEnvelope *in, pl_envelope *out)
{
    memset(out, 0, sizeof *out);
    if (!in->envelope.data || in->envelope.len == 0 || in->envelope.len > PL_ENVELOPE_MAX)
        return -PARLEY_E_PROTOCOL;
    out->id = in->id;
    out->from_user = in->from_user;
    out->from_device = in->from_device;
    out->secret_chat = in->secret_chat;
    out->date = in->date;
    out->from_username = pl_strdup(in->from_username ? in->from_username : "");
    out->envelope = malloc(in->envelope.len);
    if (!out->from_username || !out->envelope) return -PARLEY_E_NOMEM;
    memcpy(out->envelope, in->envelope.data, in->envelope.len);
    out->len = in->envelope.len;
    return 0;
}

static void envelope_clear(pl_envelope *e)
{
    free(e->from_username);
    if (e->envelope) sodium_memzero(e->envelope, e->len);
    free(e->envelope);
    memset(e, 0, sizeof *e);
}

int pl_secret_inbox(parley_client *c, uint64_t after_id, uint32_t limit, pl_envelope **out,
                    size_t *n, int *more, parley_error *err)
{
    *out = NULL;
    *n = 0;
    if (more) *more = 0;
    if (limit > MAX_INBOX) return pl_err(err, PARLEY_E_ARGUMENT, "limit is at most %d", MAX_INBOX);
    Parley__GetSecretInboxRequest req = PARLEY__GET_SECRET_INBOX_REQUEST__INIT;
    req.after_id = after_id;
    req.limit = limit ? limit : DEFAULT_INBOX;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_GET_SECRET_INBOX);
    f.get_secret_inbox = &req;
    pl_resp r;
    int rc = call(c, &f, PARLEY__RESPONSE__RESULT_SECRET_INBOX, &r, err);
    if (rc < 0) return rc;
    const Parley__SecretInbox *in = r.r->secret_inbox;
    if (!in) return unexpected(c, &r, err);
    pl_envelope *v = calloc(in->n_envelopes + 1, sizeof *v);
    size_t k = 0;
    rc = v ? 0 : -PARLEY_E_NOMEM;
    for (; rc == 0 && k < in->n_envelopes; k++)
        rc = copy_envelope(in->envelopes[k], &v[k]);
    if (more) *more = in->more;
    pl_resp_free(&r);
    if (rc < 0) {
        pl_envelopes_free(v, k);
        return pl_err(err, -rc, rc == -PARLEY_E_NOMEM ? "out of memory"
                                                      : "a malformed envelope from the server");
    }
    *out = v;
    *n = k;
    return 0;
}

int pl_secret_ack(parley_client *c, const uint64_t *ids, size_t n, uint64_t **deleted,
                  size_t *n_deleted, parley_error *err)
{
    if (deleted) *deleted = NULL;
    if (n_deleted) *n_deleted = 0;
    if (!ids || n == 0 || n > PL_ACK_MAX)
        return pl_err(err, PARLEY_E_ARGUMENT, "give 1-%d envelope ids", PL_ACK_MAX);
    Parley__AckSecretRequest req = PARLEY__ACK_SECRET_REQUEST__INIT;
    req.ids = (uint64_t *)ids;
    req.n_ids = n;
    Parley__ClientFrame f;
    frame_init(&f, PARLEY__CLIENT_FRAME__REQUEST_ACK_SECRET);
    f.ack_secret = &req;
    pl_resp r;
    int rc = call(c, &f, PARLEY__RESPONSE__RESULT_SECRET_ACKED, &r, err);
    if (rc < 0) return rc;
    const Parley__SecretAcked *a = r.r->secret_acked;
    if (!a) return unexpected(c, &r, err);
    if (deleted) {
        *deleted = malloc((a->n_deleted + 1) * sizeof **deleted);
        if (!*deleted) {
            pl_resp_free(&r);
            return pl_err(err, PARLEY_E_NOMEM, "out of memory");
        }
        if (a->n_deleted) memcpy(*deleted, a->deleted, a->n_deleted * sizeof **deleted);
        if (n_deleted) *n_deleted = a->n_deleted;
    }
    pl_resp_free(&r);
    return 0;
}

/* ---- pushes -------------------------------------------------------------------------------- */

void pl_secret_set_handler(parley_client *c, pl_secret_cb cb, void *ud)
{
    c->secret_cb = cb;
    c->secret_ud = ud;
}

void pl_secret_on_push(parley_client *c, const Parley__SecretEnvelope *e)
{
    if (!c->secret_cb) return;    /* stays pending on the server: the inbox has it */
    pl_envelope copy;
    if (copy_envelope(e, &copy) == 0) c->secret_cb(c, c->secret_ud, &copy);
    envelope_clear(&copy);
}

/* ---- freeing ------------------------------------------------------------------------------- */

void pl_devices_free(pl_device *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

void pl_envelopes_free(pl_envelope *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) envelope_clear(&v[i]);
    free(v);
}
