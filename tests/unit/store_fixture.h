/*
 * store_fixture.h: the fixture the store unit tests share (test_server_store.c,
 * test_server_secret_store.c, test_server_store_calls.c): a temporary data directory, a store
 * opened in it, and a user row. Header-only because each test is its own binary.
 *
 * Memory: tmp_make() returns a malloc'ed path that tmp_remove() deletes (files, then the
 * directory) and frees. open_in() returns a store the caller closes.
 */
#ifndef PARLEY_TEST_STORE_FIXTURE_H
#define PARLEY_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"

static inline char *tmp_make(void)
{
    char *d = strdup("/tmp/parley-store-XXXXXX");
    if (!d || !mkdtemp(d)) {
        perror("mkdtemp");
        exit(2);
    }
    return d;
}

/* The store's directories hold files only (parley.db, -wal, -shm). */
static inline void tmp_remove(char *dir)
{
    DIR *dh = opendir(dir);
    if (dh) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(dh))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dh);
    }
    rmdir(dir);
    free(dir);
}

static inline store *open_in(const char *dir)
{
    char err[256] = "";
    store *s = store_open(dir, err, sizeof err);
    if (!s) fprintf(stderr, "  store_open: %s\n", err);
    return s;
}

static inline int64_t mkuser(store *s, const char *name)
{
    int64_t id = 0;
    CHECK_EQ_INT(store_user_create(s, name, "$argon2id$fake", 1000, &id), STORE_OK);
    return id;
}

#endif
