/*
 * idmap.c: see idmap.h. Linear probing keeps lookups to one or two cache lines; deletion
 * shifts later entries back so no tombstones accumulate as connections come and go.
 */
#include "idmap.h"

#include <stdlib.h>

void idmap_init(idmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void idmap_free(idmap *m)
{
    free(m->slots);
    idmap_init(m);
}

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;                  /* mix (murmur3 finaliser): ids are sequential */
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void *idmap_get(const idmap *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key) return m->slots[i].value;
        if (m->slots[i].key == 0) return NULL;
    }
}

static void insert_slot(idmap_slot *slots, size_t cap, uint64_t key, void *value)
{
    size_t i = slot_of(key, cap);
    while (slots[i].key != 0 && slots[i].key != key) i = (i + 1) & (cap - 1);
    slots[i].key = key;
    slots[i].value = value;
}

static int grow(idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    idmap_slot *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) insert_slot(s, cap, m->slots[i].key, m->slots[i].value);
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

int idmap_put(idmap *m, uint64_t key, void *value)
{
    if (key == 0) return -1;
    if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0) return -1;  /* load <= 3/4 */
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key != 0 && m->slots[i].key != key) i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == 0) m->n++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    return 0;
}

void *idmap_del(idmap *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) return NULL;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->slots[i].key != key) {
        if (m->slots[i].key == 0) return NULL;
        i = (i + 1) & mask;
    }
    void *value = m->slots[i].value;
    /* Backward shift: move each following entry into the hole if its home allows it. */
    for (size_t j = (i + 1) & mask; m->slots[j].key != 0; j = (j + 1) & mask) {
        size_t home = slot_of(m->slots[j].key, m->cap);
        int movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
    m->slots[i].value = NULL;
    m->n--;
    return value;
}
