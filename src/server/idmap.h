/*
 * idmap.h: a hash map from non-zero 64-bit ids to pointers (open addressing, linear
 * probing, backward-shift deletion). Used on the network thread to find connections by id
 * and the push registry's per-account / per-session lists.
 *
 * Memory: the map owns only its slot array; values are borrowed and never freed by it.
 */
#ifndef PARLEY_IDMAP_H
#define PARLEY_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;              /* 0 = empty slot */
    void *value;
} idmap_slot;

typedef struct {
    idmap_slot *slots;
    size_t cap;                /* power of two, or 0 before the first insert */
    size_t n;
} idmap;

void idmap_init(idmap *m);
void idmap_free(idmap *m);
void *idmap_get(const idmap *m, uint64_t key);
/* Inserts or replaces. 0, or -1 if out of memory (the map is unchanged). key must be != 0. */
int idmap_put(idmap *m, uint64_t key, void *value);
/* Removes key if present; returns its value or NULL. */
void *idmap_del(idmap *m, uint64_t key);

#endif
