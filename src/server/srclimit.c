/*
 * srclimit.c: per-source connection counts (see srclimit.h).
 *
 * WHY a keyed hash into idmap rather than a string table of its own: idmap is the server's
 * one hash map, and SipHash (libsodium's crypto_shorthash) under a key drawn at start means
 * nobody can choose addresses whose keys collide. Two different sources whose 64-bit hashes
 * happened to collide by chance would share one count: at a million sources that chance is
 * about 1 in 30 million, and the cost is only that both share a limit.
 */
#include "srclimit.h"
#include "idmap.h"
#include "source.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct srclimit {
    idmap map;                 /* hash of the key -> entry */
    unsigned char hkey[crypto_shorthash_KEYBYTES];
};

typedef struct {
    unsigned count;
    char key[SOURCE_KEY_MAX];
} entry;

static uint64_t hash_of(const srclimit *t, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), t->hkey);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v ? v : 1;          /* idmap reserves 0 */
}

srclimit *srclimit_new(void)
{
    srclimit *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    idmap_init(&t->map);
    crypto_shorthash_keygen(t->hkey);
    return t;
}

void srclimit_free(srclimit *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->map.cap; i++)
        if (t->map.slots[i].key) free(t->map.slots[i].value);
    idmap_free(&t->map);
    free(t);
}

int srclimit_take(srclimit *t, const char *key, unsigned limit)
{
    uint64_t h = hash_of(t, key);
    entry *e = idmap_get(&t->map, h);
    if (e) {
        if (e->count >= limit) return -1;
        e->count++;
        return 0;
    }
    if (limit == 0) return -1;
    e = calloc(1, sizeof *e);
    if (!e) return -1;
    e->count = 1;
    size_t n = strlen(key);
    if (n >= sizeof e->key) n = sizeof e->key - 1;
    memcpy(e->key, key, n);
    if (idmap_put(&t->map, h, e) != 0) {
        free(e);
        return -1;
    }
    return 0;
}

void srclimit_release(srclimit *t, const char *key)
{
    uint64_t h = hash_of(t, key);
    entry *e = idmap_get(&t->map, h);
    if (!e) return;
    if (--e->count == 0) free(idmap_del(&t->map, h));
}

unsigned srclimit_count(const srclimit *t, const char *key)
{
    const entry *e = idmap_get(&t->map, hash_of(t, key));
    return e ? e->count : 0;
}

size_t srclimit_sources(const srclimit *t)
{
    return t->map.n;
}
