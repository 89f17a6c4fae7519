/*
 * profile.c: the profile directory (see profile.h). profile.db holds one key/value table;
 * values are TEXT, INTEGER or BLOB as SQLite stores them. Files are created mode 0600 and the
 * directory 0700 because the session token in profile.db is as good as a password.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "lib.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_CA_BYTES (1024 * 1024)

static int db_fail(pl_profile *p, parley_error *err, const char *what)
{
    return pl_err(err, PARLEY_E_PROFILE, "profile %s: %s: %s", p->dir ? p->dir : "(memory)",
                  what, p->db ? sqlite3_errmsg(p->db) : "not open");
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *dir, parley_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return pl_err(err, PARLEY_E_PROFILE, "profile path too long");
    for (char *s = path + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                return pl_err(err, PARLEY_E_PROFILE, "cannot create %s: %s", path,
                              strerror(errno));
            *s = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pl_err(err, PARLEY_E_PROFILE, "profile %s is not a directory", dir);
    return 0;
}

static int exec_sql(pl_profile *p, const char *sql, parley_error *err)
{
    if (sqlite3_exec(p->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(p, err, "cannot initialise");
    return 0;
}

int pl_profile_open(pl_profile *p, const char *dir, parley_error *err)
{
    memset(p, 0, sizeof(*p));
    if (!dir)
        return 0;
    int rc = make_dirs(dir, err);
    if (rc < 0)
        return rc;
    p->dir = pl_strdup(dir);
    if (!p->dir)
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/profile.db", dir);
    /* Create the file ourselves so it never exists with a wider mode; SQLite gives its
     * journal the same mode as the database. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = pl_err(err, PARLEY_E_PROFILE, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL)
        != SQLITE_OK) {
        rc = db_fail(p, err, "cannot open profile.db");
        goto fail;
    }
    sqlite3_busy_timeout(p->db, BUSY_TIMEOUT_MS);
    if ((rc = exec_sql(p, "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB)",
                       err)) < 0)
        goto fail;
    return 0;
fail:
    pl_profile_close(p);
    return rc;
}

void pl_profile_close(pl_profile *p)
{
    if (p->db)
        sqlite3_close(p->db);
    free(p->dir);
    memset(p, 0, sizeof(*p));
}

/* Prepares "SELECT value FROM kv WHERE key=?" and steps it: 0 row, 1 missing, <0 error. */
static int get_row(pl_profile *p, const char *key, sqlite3_stmt **st, parley_error *err)
{
    *st = NULL;
    if (!p->db)
        return 1;
    if (sqlite3_prepare_v2(p->db, "SELECT value FROM kv WHERE key = ?", -1, st, NULL)
        != SQLITE_OK)
        return db_fail(p, err, "cannot read");
    sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(*st);
    if (s == SQLITE_ROW && sqlite3_column_type(*st, 0) != SQLITE_NULL)
        return 0;
    int rc = (s == SQLITE_ROW || s == SQLITE_DONE) ? 1 : db_fail(p, err, "cannot read");
    sqlite3_finalize(*st);
    *st = NULL;
    return rc;
}

int pl_profile_get_text(pl_profile *p, const char *key, char **out, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = get_row(p, key, &st, err);
    if (rc != 0)
        return rc;
    const unsigned char *t = sqlite3_column_text(st, 0);
    *out = pl_strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    return *out ? 0 : pl_err(err, PARLEY_E_NOMEM, "out of memory");
}

int pl_profile_get_int(pl_profile *p, const char *key, int64_t *out, parley_error *err)
{
    sqlite3_stmt *st;
    int rc = get_row(p, key, &st, err);
    if (rc != 0)
        return rc;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int pl_profile_get_blob(pl_profile *p, const char *key, void *out, size_t len,
                        parley_error *err)
{
    sqlite3_stmt *st;
    int rc = get_row(p, key, &st, err);
    if (rc != 0)
        return rc;
    const void *b = sqlite3_column_blob(st, 0);
    if (b && (size_t)sqlite3_column_bytes(st, 0) == len)
        memcpy(out, b, len);
    else
        rc = 1;
    sqlite3_finalize(st);
    return rc;
}

typedef struct {
    const char *key;
    int type;                /* SQLITE_TEXT, SQLITE_INTEGER, SQLITE_BLOB or SQLITE_NULL (delete) */
    const char *text;
    int64_t i;
    const void *blob;
    size_t blob_len;
} kv_write;

/* Applies writes in one transaction (IMMEDIATE: take the write lock up front, so a second
 * process waits at BEGIN instead of failing at commit). */
static int write_kv(pl_profile *p, const kv_write *w, size_t n, parley_error *err)
{
    if (!p->db)
        return 0;
    if (sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(p, err, "cannot write");
    sqlite3_stmt *ins = NULL, *del = NULL;
    int ok = sqlite3_prepare_v2(p->db, "INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)",
                                -1, &ins, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(p->db, "DELETE FROM kv WHERE key = ?", -1, &del, NULL)
                 == SQLITE_OK;
    for (size_t k = 0; ok && k < n; k++) {
        sqlite3_stmt *st = w[k].type == SQLITE_NULL ? del : ins;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, w[k].key, -1, SQLITE_STATIC);
        if (w[k].type == SQLITE_TEXT)
            sqlite3_bind_text(st, 2, w[k].text, -1, SQLITE_STATIC);
        else if (w[k].type == SQLITE_INTEGER)
            sqlite3_bind_int64(st, 2, w[k].i);
        else if (w[k].type == SQLITE_BLOB)
            sqlite3_bind_blob(st, 2, w[k].blob, (int)w[k].blob_len, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(del);
    if (ok && sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    int rc = db_fail(p, err, "cannot write");
    sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int pl_profile_set_text(pl_profile *p, const char *key, const char *v, parley_error *err)
{
    kv_write w = { .key = key, .type = v ? SQLITE_TEXT : SQLITE_NULL, .text = v };
    return write_kv(p, &w, 1, err);
}

int pl_profile_set_int(pl_profile *p, const char *key, int64_t v, parley_error *err)
{
    kv_write w = { .key = key, .type = SQLITE_INTEGER, .i = v };
    return write_kv(p, &w, 1, err);
}

int pl_profile_set_position(pl_profile *p, uint64_t pts, const char *own, parley_error *err)
{
    kv_write w[] = {
        { .key = PK_PTS, .type = SQLITE_INTEGER, .i = (int64_t)pts },
        { .key = PK_OWN, .type = own && own[0] ? SQLITE_TEXT : SQLITE_NULL, .text = own },
    };
    return write_kv(p, w, sizeof(w) / sizeof(w[0]), err);
}

int pl_profile_save_session(pl_profile *p, const char *url, const uint8_t token[32],
                            int64_t user_id, const char *username, int64_t session_id,
                            uint64_t pts, parley_error *err)
{
    kv_write w[] = {
        { .key = PK_SERVER_URL, .type = url ? SQLITE_TEXT : SQLITE_NULL, .text = url },
        { .key = PK_TOKEN, .type = SQLITE_BLOB, .blob = token, .blob_len = 32 },
        { .key = PK_USER_ID, .type = SQLITE_INTEGER, .i = user_id },
        { .key = PK_USERNAME, .type = SQLITE_TEXT, .text = username ? username : "" },
        { .key = PK_SESSION_ID, .type = SQLITE_INTEGER, .i = session_id },
        { .key = PK_PTS, .type = SQLITE_INTEGER, .i = (int64_t)pts },
        { .key = PK_OWN, .type = SQLITE_NULL },
    };
    return write_kv(p, w, sizeof(w) / sizeof(w[0]), err);
}

int pl_profile_forget_session(pl_profile *p, parley_error *err)
{
    kv_write w[] = {
        { .key = PK_TOKEN, .type = SQLITE_NULL },
        { .key = PK_USER_ID, .type = SQLITE_NULL },
        { .key = PK_USERNAME, .type = SQLITE_NULL },
        { .key = PK_SESSION_ID, .type = SQLITE_NULL },
        { .key = PK_PTS, .type = SQLITE_NULL },
        { .key = PK_OWN, .type = SQLITE_NULL },
    };
    return write_kv(p, w, sizeof(w) / sizeof(w[0]), err);
}

int pl_read_file(const char *path, size_t max, char **out, size_t *len, parley_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pl_err(err, errno == ENOENT ? PARLEY_E_ARGUMENT : PARLEY_E_PROFILE,
                      "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return pl_err(err, PARLEY_E_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        free(buf);
        return pl_err(err, PARLEY_E_ARGUMENT, "cannot read %s: %s", path,
                      bad ? "read error" : "file too large");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int pl_profile_load_ca(pl_profile *p, char **pem, size_t *len, parley_error *err)
{
    *pem = NULL;
    *len = 0;
    if (!p->dir)
        return 1;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca.pem", p->dir);
    if (access(path, F_OK) != 0)
        return 1;
    int rc = pl_read_file(path, MAX_CA_BYTES, pem, len, err);
    return rc < 0 ? pl_err(err, PARLEY_E_PROFILE, "cannot read %s", path) : 0;
}

int pl_profile_store_ca(pl_profile *p, const char *pem, size_t len, parley_error *err)
{
    if (!p->dir)
        return 0;
    char *old;
    size_t old_len;
    if (pl_profile_load_ca(p, &old, &old_len, NULL) == 0) {
        int same = old_len == len && memcmp(old, pem, len) == 0;
        free(old);
        if (same)
            return 0;
    }
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca.pem", p->dir);
    snprintf(tmp, sizeof(tmp), "%s/ca.pem.%ld.tmp", p->dir, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return pl_err(err, PARLEY_E_PROFILE, "cannot write %s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, pem + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    /* rename() makes the new file appear whole to a process reading it at the same time. */
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return pl_err(err, PARLEY_E_PROFILE, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}
