/*
 * test_server_secret_store.c: the secret-chat part of the SQLite store (store_secret.h)
 * against real database files: prekey publishing rules (identity binding, all-or-nothing
 * one-time prekeys, the cap), bundles that hand out each one-time prekey once, the default
 * device, envelopes (recipient checks, idempotency, caps, inbox order and paging, acks that
 * touch only the caller's inbox), what ending a session removes, the migration from a
 * schema-2 database, and that an envelope is never stored in plain and leaves the files
 * after ack + store_scrub; and a device's registered identity key (RegisterDeviceKey).
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

/* A user with one session (device); returns the session id, *user its account. */
static int64_t mkdevice(store *s, const char *name, int64_t *user, int64_t now)
{
    uint8_t h[32];
    for (size_t i = 0; i < sizeof h; i++) h[i] = (uint8_t)rand();
    if (*user == 0) CHECK_EQ_INT(store_user_create(s, name, "$argon2id$fake", now, user), STORE_OK);
    int64_t sid = 0;
    CHECK_EQ_INT(store_session_create(s, *user, h, name, now, &sid), STORE_OK);
    return sid;
}

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v + i * 7);
}

static store_spk mkspk(uint32_t id)
{
    store_spk k = { .id = id };
    fill(k.pub, sizeof k.pub, (uint8_t)id);
    fill(k.sig, sizeof k.sig, (uint8_t)(id + 100));
    return k;
}

static store_otk mkotk(uint32_t id)
{
    store_otk k = { .id = id };
    fill(k.pub, sizeof k.pub, (uint8_t)(id * 3));
    return k;
}

static const store_secret_caps big_caps = { 10000, 64u << 20, 0, 0 };

static uint32_t remaining(store *s, int64_t dev)
{
    uint32_t n = 99;
    int pub = -1;
    CHECK_EQ_INT(store_prekey_status(s, dev, &n, &pub), STORE_OK);
    return n;
}

/* Publishes identity `idv` with otks ids [first, first+n). */
static store_rc publish(store *s, int64_t dev, uint8_t idv, int with_spk, uint32_t first,
                        size_t n)
{
    uint8_t id[STORE_KEY_BYTES];
    fill(id, sizeof id, idv);
    store_spk spk = mkspk(1);
    store_otk *o = calloc(n + 1, sizeof *o);
    for (size_t i = 0; i < n; i++) o[i] = mkotk(first + (uint32_t)i);
    uint32_t rem = 0;
    store_rc rc = store_prekeys_publish(s, dev, id, with_spk ? &spk : NULL, o, n, 100, &rem);
    free(o);
    return rc;
}

TEST(publish_rules)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t u = 0;
    int64_t d = mkdevice(s, "alice", &u, 10);
    uint32_t n = 9;
    int pub = 9;
    CHECK_EQ_INT(store_prekey_status(s, d, &n, &pub), STORE_OK);
    CHECK_EQ_INT(pub, 0);
    CHECK_EQ_INT(publish(s, d, 1, 0, 1, 3), STORE_ERR_INVALID);     /* no signed prekey */
    CHECK_EQ_INT(publish(s, d, 1, 1, 1, 3), STORE_OK);
    CHECK_EQ_INT(remaining(s, d), 3);
    CHECK_EQ_INT(publish(s, d, 2, 1, 10, 1), STORE_ERR_FORBIDDEN);  /* identity changed */
    CHECK_EQ_INT(publish(s, d, 1, 0, 3, 2), STORE_ERR_INVALID);     /* id 3 stored: none added */
    CHECK_EQ_INT(remaining(s, d), 3);
    CHECK_EQ_INT(publish(s, d, 1, 0, 100, STORE_SECRET_MAX_OTK - 2), STORE_ERR_LIMIT);
    CHECK_EQ_INT(remaining(s, d), 3);
    CHECK_EQ_INT(publish(s, d, 1, 0, 100, STORE_SECRET_MAX_OTK - 3), STORE_OK);
    CHECK_EQ_INT(remaining(s, d), STORE_SECRET_MAX_OTK);
    CHECK_EQ_INT(publish(s, 9999, 1, 1, 1, 1), STORE_ERR_NO_SESSION);
    store_close(s);
    tmp_remove(dir);
}

/* RegisterDeviceKey's store side: bound once, the same key again is fine, another is
 * refused and changes nothing; a device that published secret-chat keys has that identity,
 * and another one is refused there too. */
TEST(device_identity_key)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t u = 0;
    int64_t d = mkdevice(s, "alice", &u, 10), e = mkdevice(s, "alice", &u, 10);
    uint8_t k1[STORE_KEY_BYTES], k2[STORE_KEY_BYTES], got[STORE_KEY_BYTES];
    fill(k1, sizeof k1, 1);
    fill(k2, sizeof k2, 2);
    int has = 9;
    CHECK_EQ_INT(store_device_key_get(s, d, got, &has), STORE_OK);
    CHECK_EQ_INT(has, 0);
    CHECK_EQ_INT(store_device_key_set(s, d, k1), STORE_OK);
    CHECK_EQ_INT(store_device_key_set(s, d, k1), STORE_OK);
    CHECK_EQ_INT(store_device_key_set(s, d, k2), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_device_key_get(s, d, got, &has), STORE_OK);
    CHECK(has == 1 && memcmp(got, k1, sizeof k1) == 0);
    CHECK_EQ_INT(publish(s, e, 1, 1, 1, 0), STORE_OK);   /* identity fill(.., 1) = k1 */
    CHECK_EQ_INT(store_device_key_get(s, e, got, &has), STORE_OK);
    CHECK(has == 1 && memcmp(got, k1, sizeof k1) == 0);
    CHECK_EQ_INT(store_device_key_set(s, e, k2), STORE_ERR_FORBIDDEN);
    CHECK_EQ_INT(store_device_key_set(s, 9999, k1), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(store_device_key_get(s, 9999, got, &has), STORE_ERR_NO_SESSION);
    store_close(s);
    tmp_remove(dir);
}

TEST(bundles_and_devices)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0;
    int64_t d1 = mkdevice(s, "alice", &a, 10);
    int64_t d2 = mkdevice(s, "alice", &a, 11);
    int64_t d3 = mkdevice(s, "alice", &a, 12);       /* never publishes */
    int64_t db = mkdevice(s, "bob", &b, 13);
    CHECK_EQ_INT(publish(s, d1, 1, 1, 5, 2), STORE_OK);
    CHECK_EQ_INT(publish(s, d2, 2, 1, 1, 1), STORE_OK);
    store_device *v = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_devices_list(s, a, &v, &n), STORE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(v[0].device_id, d1);
        CHECK_EQ_INT(v[1].device_id, d2);
        CHECK_EQ_STR(v[0].name, "alice");
        CHECK_EQ_INT(v[1].identity[0], 2);
    }
    store_devices_free(v, n);
    CHECK_EQ_INT(store_devices_list(s, 9999, &v, &n), STORE_ERR_NO_USER);

    store_bundle bu;
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, 0, 1000, 0, &bu), STORE_OK);   /* newest: d2 */
    CHECK_EQ_INT(bu.device_id, d2);
    CHECK_EQ_INT(bu.has_otk, 1);
    CHECK_EQ_INT(bu.otk.id, 1);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, d2, 1000, 0, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 0);
    CHECK_EQ_INT(bu.spk.id, 1);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, d1, 1000, 0, &bu), STORE_OK);
    CHECK_EQ_INT(bu.otk.id, 5);                                       /* lowest first */
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, d1, 1000, 0, &bu), STORE_OK);
    CHECK_EQ_INT(bu.otk.id, 6);
    CHECK_EQ_INT(remaining(s, d1), 0);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, d3, 1000, 0, &bu), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, db, 1000, 0, &bu), STORE_ERR_NO_SESSION); /* bob's */
    CHECK_EQ_INT(store_prekey_bundle_take(s, b, 0, 1000, 0, &bu), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(store_prekey_bundle_take(s, 9999, 0, 1000, 0, &bu), STORE_ERR_NO_USER);
    store_close(s);
    tmp_remove(dir);
}

static store_rc send_at(store *s, int64_t fu, int64_t fd, int64_t tu, int64_t td,
                        const char *env, uint64_t rid, const store_secret_caps *caps,
                        uint64_t *id, int *dup, int64_t now, int *share_full)
{
    int64_t date = 0;
    return store_secret_send(s, fu, fd, tu, td, 77, (const uint8_t *)env, strlen(env), rid,
                             now, caps, id, &date, dup, share_full);
}

static store_rc send(store *s, int64_t fu, int64_t fd, int64_t tu, int64_t td, const char *env,
                     uint64_t rid, const store_secret_caps *caps, uint64_t *id, int *dup)
{
    return send_at(s, fu, fd, tu, td, env, rid, caps, id, dup, 1000, NULL);
}

TEST(envelopes)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    int64_t da2 = mkdevice(s, "alice", &a, 10);
    int64_t db = mkdevice(s, "bob", &b, 11);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 1), STORE_OK);
    CHECK_EQ_INT(publish(s, db, 2, 1, 1, 1), STORE_OK);
    uint64_t id1 = 0, id2 = 0, id3 = 0, x = 0;
    int dup = 0;
    CHECK_EQ_INT(send(s, b, db, a, da, "first", 1, &big_caps, &id1, &dup), STORE_OK);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(send(s, b, db, a, da, "again", 1, &big_caps, &x, &dup), STORE_OK);
    CHECK_EQ_INT(dup, 1);
    CHECK_EQ_INT(x, id1);
    CHECK_EQ_INT(send(s, b, db, a, da, "second", 2, &big_caps, &id2, &dup), STORE_OK);
    CHECK_EQ_INT(send(s, b, db, a, da, "third", 3, &big_caps, &id3, &dup), STORE_OK);
    CHECK(id1 < id2 && id2 < id3);
    CHECK_EQ_INT(send(s, b, db, a, da2, "no keys", 4, &big_caps, &x, &dup), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(send(s, b, db, b, db, "self", 5, &big_caps, &x, &dup), STORE_ERR_NO_SESSION);
    CHECK_EQ_INT(send(s, b, db, b, da, "wrong user", 6, &big_caps, &x, &dup),
                 STORE_ERR_NO_SESSION);
    store_secret_caps three = { 3, 1 << 20, 0, 0 }, bytes = { 100, 16, 0, 0 };
    CHECK_EQ_INT(send(s, b, db, a, da, "fourth", 7, &three, &x, &dup), STORE_ERR_LIMIT);
    CHECK_EQ_INT(send(s, b, db, a, da, "x", 8, &bytes, &x, &dup), STORE_ERR_LIMIT); /* 16 + 1 > 16 */

    store_envelope *e = NULL;
    size_t n = 0;
    int more = 0;
    CHECK_EQ_INT(store_secret_inbox(s, da, 0, 2, 1 << 20, &e, &n, &more), STORE_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(more, 1);
    if (n == 2) {
        CHECK_EQ_INT(e[0].id, id1);
        CHECK(e[0].len == 5 && !memcmp(e[0].envelope, "first", 5));
        CHECK_EQ_STR(e[0].from_username, "bob");
        CHECK_EQ_INT(e[0].from_device, db);
        CHECK_EQ_INT(e[0].secret_chat, 77);
    }
    store_envelopes_free(e, n);
    /* byte budget: 5 + 6 > 8, so one per page, at least one even if larger */
    CHECK_EQ_INT(store_secret_inbox(s, da, id1, 10, 3, &e, &n, &more), STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(more, 1);
    if (n) CHECK_EQ_INT(e[0].id, id2);
    store_envelopes_free(e, n);
    CHECK_EQ_INT(store_secret_inbox(s, da2, 0, 10, 1 << 20, &e, &n, &more), STORE_OK);
    CHECK_EQ_INT(n, 0);
    store_envelopes_free(e, n);

    uint64_t ids[] = { id1, id2, 424242 }, *del = NULL;
    size_t nd = 9;
    CHECK_EQ_INT(store_secret_ack(s, da2, ids, 3, &del, &nd), STORE_OK);  /* not its inbox */
    CHECK_EQ_INT(nd, 0);
    free(del);
    CHECK_EQ_INT(store_secret_ack(s, da, ids, 3, &del, &nd), STORE_OK);
    CHECK_EQ_INT(nd, 2);
    free(del);
    CHECK_EQ_INT(store_secret_inbox(s, da, 0, 10, 1 << 20, &e, &n, &more), STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(more, 0);
    if (n) CHECK_EQ_INT(e[0].id, id3);
    store_envelopes_free(e, n);
    /* the cap counts what is pending: room again after the acks */
    CHECK_EQ_INT(send(s, b, db, a, da, "fits", 9, &three, &x, &dup), STORE_OK);
    store_close(s);
    tmp_remove(dir);
}

/* Issue 16, item 5: one sender fills only its own share of a device's inbox. */
TEST(sender_share_of_an_inbox)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0, m = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    int64_t db = mkdevice(s, "bob", &b, 11);
    int64_t dm = mkdevice(s, "mallory", &m, 12);
    int64_t dm2 = mkdevice(s, "mallory", &m, 13);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 1), STORE_OK);
    CHECK_EQ_INT(publish(s, db, 2, 1, 2, 1), STORE_OK);
    CHECK_EQ_INT(publish(s, dm, 3, 1, 3, 1), STORE_OK);
    CHECK_EQ_INT(publish(s, dm2, 4, 1, 4, 1), STORE_OK);
    store_secret_caps caps = { 6, 1 << 20, 3, 1 << 20 };
    uint64_t x = 0;
    int dup = 0, full = 9;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(send_at(s, m, dm, a, da, "flood", 10 + i, &caps, &x, &dup, 1000, &full),
                     STORE_OK);
        CHECK_EQ_INT(full, 0);
    }
    /* the share is per account: mallory's second device shares it */
    CHECK_EQ_INT(send_at(s, m, dm, a, da, "flood", 20, &caps, &x, &dup, 1000, &full),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(full, 1);
    CHECK_EQ_INT(send_at(s, m, dm2, a, da, "flood", 21, &caps, &x, &dup, 1000, &full),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(full, 1);
    /* bob still gets through, up to the device's total */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(send_at(s, b, db, a, da, "hello", 30 + i, &caps, &x, &dup, 1000, &full),
                     STORE_OK);
    CHECK_EQ_INT(send_at(s, b, db, a, da, "hello", 40, &caps, &x, &dup, 1000, &full),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(full, 1);                       /* bob's share is full too (3 of 3) */
    caps.sender_max_count = 5;
    CHECK_EQ_INT(send_at(s, b, db, a, da, "hello", 41, &caps, &x, &dup, 1000, &full),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(full, 0);                       /* now the device's total (6) */
    /* the share in bytes */
    store_secret_caps bytes = { 100, 1 << 20, 100, 12 };
    CHECK_EQ_INT(send_at(s, m, dm, b, db, "123456", 50, &bytes, &x, &dup, 1000, &full), STORE_OK);
    CHECK_EQ_INT(send_at(s, m, dm, b, db, "1234567", 51, &bytes, &x, &dup, 1000, &full),
                 STORE_ERR_LIMIT);
    CHECK_EQ_INT(full, 1);
    CHECK_EQ_INT(send_at(s, a, da, b, db, "1234567", 52, &bytes, &x, &dup, 1000, &full),
                 STORE_OK);
    store_close(s);
    tmp_remove(dir);
}

/* Envelopes never collected expire; the clock is the caller's. */
TEST(uncollected_envelopes_expire)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    int64_t db = mkdevice(s, "bob", &b, 11);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 1), STORE_OK);
    CHECK_EQ_INT(publish(s, db, 2, 1, 2, 1), STORE_OK);
    store_secret_caps three = { 3, 1 << 20, 0, 0 };
    uint64_t id1 = 0, id2 = 0, id3 = 0, x = 0;
    int dup = 0;
    CHECK_EQ_INT(send_at(s, b, db, a, da, "old", 1, &three, &id1, &dup, 1000, NULL), STORE_OK);
    CHECK_EQ_INT(send_at(s, b, db, a, da, "older", 2, &three, &id2, &dup, 2000, NULL), STORE_OK);
    CHECK_EQ_INT(send_at(s, b, db, a, da, "new", 3, &three, &id3, &dup, 3000, NULL), STORE_OK);
    CHECK_EQ_INT(send_at(s, b, db, a, da, "full", 4, &three, &x, &dup, 3000, NULL),
                 STORE_ERR_LIMIT);
    size_t n = 9;
    CHECK_EQ_INT(store_secret_expire(s, 1000, 10, &n), STORE_OK);   /* strictly before */
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(store_secret_expire(s, 2500, 1, &n), STORE_OK);    /* at most max, oldest */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(store_secret_expire(s, 2500, 10, &n), STORE_OK);
    CHECK_EQ_INT(n, 1);
    store_envelope *e = NULL;
    size_t ne = 0;
    int more = 0;
    CHECK_EQ_INT(store_secret_inbox(s, da, 0, 10, 1 << 20, &e, &ne, &more), STORE_OK);
    CHECK_EQ_INT(ne, 1);
    if (ne) CHECK_EQ_INT(e[0].id, id3);
    store_envelopes_free(e, ne);
    /* the pending counters followed: room for two more */
    CHECK_EQ_INT(send_at(s, b, db, a, da, "room", 5, &three, &x, &dup, 3001, NULL), STORE_OK);
    CHECK_EQ_INT(send_at(s, b, db, a, da, "room", 6, &three, &x, &dup, 3001, NULL), STORE_OK);
    CHECK_EQ_INT(store_secret_expire(s, 1 << 30, 0, &n), STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(store_secret_expire(s, 1 << 30, 100, &n), STORE_OK);
    CHECK_EQ_INT(n, 3);
    store_close(s);
    tmp_remove(dir);
}

/* At most otk_per_hour one-time prekeys per device per hour; bundles still come. */
TEST(one_time_prekeys_per_hour)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 5), STORE_OK);
    store_bundle bu;
    int64_t h = 3600 * 100;
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, da, h + 1, 2, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 1);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, 0, h + 2, 2, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 1);
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, da, h + 3599, 2, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 0);                 /* the hour's allowance is spent */
    CHECK_EQ_INT(bu.device_id, da);
    CHECK_EQ_INT(bu.spk.id, 1);
    CHECK_EQ_INT(remaining(s, da), 3);           /* nothing was taken */
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, da, h + 3600, 2, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 1);                 /* a new hour */
    CHECK_EQ_INT(store_prekey_bundle_take(s, a, da, h + 3601, 0, &bu), STORE_OK);
    CHECK_EQ_INT(bu.has_otk, 1);                 /* 0 = no limit */
    CHECK_EQ_INT(remaining(s, da), 1);
    store_close(s);
    tmp_remove(dir);
}

TEST(session_end_removes_the_device)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    int64_t db = mkdevice(s, "bob", &b, 11);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 4), STORE_OK);
    CHECK_EQ_INT(publish(s, db, 2, 1, 1, 4), STORE_OK);
    uint64_t in = 0, out = 0, x = 0;
    int dup = 0;
    CHECK_EQ_INT(send(s, b, db, a, da, "to alice", 1, &big_caps, &in, &dup), STORE_OK);
    CHECK_EQ_INT(send(s, a, da, b, db, "from alice", 1, &big_caps, &out, &dup), STORE_OK);
    int64_t *ended = NULL;
    size_t ne = 0;
    store_fanouts fo = { 0 };
    CHECK_EQ_INT(store_session_delete(s, a, da, 0, 20, &ended, &ne, &fo), STORE_OK);
    free(ended);
    store_fanouts_free(&fo);
    uint32_t n = 9;
    int pub = 9;
    CHECK_EQ_INT(store_prekey_status(s, da, &n, &pub), STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(pub, 0);
    store_envelope *e = NULL;
    size_t ne2 = 0;
    int more = 0;
    CHECK_EQ_INT(store_secret_inbox(s, da, 0, 10, 1 << 20, &e, &ne2, &more), STORE_OK);
    CHECK_EQ_INT(ne2, 0);
    store_envelopes_free(e, ne2);
    CHECK_EQ_INT(store_secret_inbox(s, db, 0, 10, 1 << 20, &e, &ne2, &more), STORE_OK);
    CHECK_EQ_INT(ne2, 1);                      /* what alice's device sent stays */
    if (ne2) CHECK_EQ_INT(e[0].id, out);
    store_envelopes_free(e, ne2);
    CHECK_EQ_INT(send(s, b, db, a, da, "late", 2, &big_caps, &x, &dup), STORE_ERR_NO_SESSION);
    store_device *v = NULL;
    size_t nv = 9;
    CHECK_EQ_INT(store_devices_list(s, a, &v, &nv), STORE_OK);
    CHECK_EQ_INT(nv, 0);
    store_devices_free(v, nv);
    store_close(s);
    tmp_remove(dir);
}

/* 1 if `needle` occurs in any file of dir. */
static int on_disk(const char *dir, const void *needle, size_t len)
{
    int found = 0;
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) && !found) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = sz > 0 ? malloc((size_t)sz) : NULL;
        if (buf && fread(buf, 1, (size_t)sz, f) == (size_t)sz)
            found = memmem(buf, (size_t)sz, needle, len) != NULL;
        free(buf);
        fclose(f);
    }
    if (dh) closedir(dh);
    return found;
}

TEST(envelopes_at_rest_and_after_ack)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0, b = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    int64_t db = mkdevice(s, "bob", &b, 11);
    CHECK_EQ_INT(publish(s, da, 1, 1, 1, 1), STORE_OK);
    const char *marker = "ENVELOPE-MARKER-0123456789-abcdefghijklmnopqrstuvwxyz";
    uint64_t id = 0;
    int dup = 0;
    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    CHECK_EQ_INT(send(s, b, db, a, da, marker, 1, &big_caps, &id, &dup), STORE_OK);
    CHECK_EQ_INT(store_batch_commit(s), STORE_OK);
    CHECK(!on_disk(dir, marker, strlen(marker)));      /* encrypted at rest */
    store_envelope *e = NULL;
    size_t n = 0;
    int more = 0;
    CHECK_EQ_INT(store_secret_inbox(s, da, 0, 10, 1 << 20, &e, &n, &more), STORE_OK);
    CHECK(n == 1 && e[0].len == strlen(marker) && !memcmp(e[0].envelope, marker, e[0].len));
    store_envelopes_free(e, n);
    /* the per-envelope key is on disk while pending and zeroed after the ack */
    sqlite3 *db3;
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    CHECK_EQ_INT(sqlite3_open(path, &db3), SQLITE_OK);
    sqlite3_stmt *st;
    const char *q = "SELECT count(*) FROM msg_keys WHERE k <> zeroblob(32)";
    CHECK_EQ_INT(sqlite3_prepare_v2(db3, q, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    uint64_t *del = NULL;
    size_t nd = 0;
    CHECK_EQ_INT(store_batch_begin(s), STORE_OK);
    CHECK_EQ_INT(store_secret_ack(s, da, &id, 1, &del, &nd), STORE_OK);
    CHECK_EQ_INT(store_batch_commit(s), STORE_OK);
    free(del);
    CHECK_EQ_INT(nd, 1);
    CHECK_EQ_INT(store_scrub(s), STORE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(db3, q, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db3);
    CHECK(!on_disk(dir, marker, strlen(marker)));
    store_close(s);
    tmp_remove(dir);
}

TEST(migrates_a_schema_2_database)
{
    char *dir = tmp_make();
    store *s = open_in(dir);
    int64_t a = 0;
    int64_t da = mkdevice(s, "alice", &a, 10);
    store_close(s);
    /* Make it look like a database written before secret chats. */
    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "ALTER TABLE sessions DROP COLUMN identity_key;"  /* 7 */
                              "DROP TABLE invites;"      /* migration 6 */
                              "DROP TRIGGER sessions_secret_gone; DROP TRIGGER secret_inbox_gone;"
                              "DROP TRIGGER secret_inbox_added; DROP TABLE secret_sent;"
                              "DROP TABLE secret_inbox; DROP TABLE one_time_prekeys;"
                              "DROP TABLE device_keys; DROP TABLE call_settings; PRAGMA user_version = 2;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    s = open_in(dir);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(publish(s, da, 1, 1, 1, 2), STORE_OK);
        CHECK_EQ_INT(remaining(s, da), 2);
        store_close(s);
    }
    tmp_remove(dir);
}

int main(void)
{
    RUN(publish_rules);
    RUN(device_identity_key);
    RUN(bundles_and_devices);
    RUN(envelopes);
    RUN(sender_share_of_an_inbox);
    RUN(uncollected_envelopes_expire);
    RUN(one_time_prekeys_per_hour);
    RUN(session_end_removes_the_device);
    RUN(envelopes_at_rest_and_after_ack);
    RUN(migrates_a_schema_2_database);
    return UNIT_DONE("secret_store");
}
