/*
 * http_static.c: loads the built web client into memory and finds files by request path
 * (see http_static.h for why nothing is read from disk per request).
 */
#include "http_static.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext, *mime;
} mime_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".json", "application/json" },
    { ".webmanifest", "application/manifest+json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".wasm", "application/wasm" },  /* WebAssembly.compileStreaming insists on it */
};

const char *web_mime_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
        if (strcmp(dot, mime_types[i].ext) == 0) return mime_types[i].mime;
    return NULL;
}

int web_path_ok(const char *path)
{
    if (path[0] != '/') return 0;
    size_t n = strlen(path);
    if (n > 200) return 0;
    if (strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != n)
        return 0;
    for (const char *p = path; (p = strchr(p, '/')) != NULL; p++)
        if (p[1] == '.' || p[1] == '/') return 0;  /* "/.x", "/..", "//" */
    return 1;
}

/* Reads a whole regular file of at most WEB_FILE_MAX bytes. 0 or -1 (errno set). */
static int read_file(const char *fs_path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(fs_path, "rb");
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_FILE_MAX) {
        fclose(f);
        errno = EFBIG;
        return -1;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        errno = EIO;
        return -1;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static web_file *find_mut(web_files *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->files[i].path, path) == 0) return &w->files[i];
    return NULL;
}

/* Adds one file (or, for NAME.gz, the compressed variant of NAME). Unknown kinds are
 * skipped. 0, or -1 with err set. */
static int add_file(web_files *w, const char *fs_path, const char *url, size_t *total,
                    char *err, size_t errlen)
{
    size_t ul = strlen(url);
    int gz = ul > 3 && strcmp(url + ul - 3, ".gz") == 0;
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(gz ? ul - 3 : ul), url);
    const char *mime = web_mime_type(base);
    if (!mime || !web_path_ok(base)) return 0;
    if (w->n >= WEB_FILES_MAX) {
        snprintf(err, errlen, "more than %u files", WEB_FILES_MAX);
        return -1;
    }
    unsigned char *body;
    size_t len;
    if (read_file(fs_path, &body, &len) != 0) {
        snprintf(err, errlen, "%s: %s", fs_path, strerror(errno));
        return -1;
    }
    *total += len;
    if (*total > WEB_TOTAL_MAX) {
        snprintf(err, errlen, "web files over %u bytes in all", WEB_TOTAL_MAX);
        free(body);
        return -1;
    }
    web_file *f = find_mut(w, base);
    if (!f) {
        f = &w->files[w->n];
        if (!(f->path = strdup(base))) {
            snprintf(err, errlen, "out of memory");
            free(body);
            return -1;
        }
        f->mime = mime;
        w->n++;
    }
    if (gz) {
        free(f->gz);
        f->gz = body;
        f->gz_len = len;
    } else {
        free(f->body);
        f->body = body;
        f->len = len;
    }
    return 0;
}

/* Loads the entries of fs_dir under URL prefix `prefix`; descends `depth` more levels. */
static int load_dir(web_files *w, const char *fs_dir, const char *prefix, int depth,
                    size_t *total, char *err, size_t errlen)
{
    DIR *d = opendir(fs_dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", fs_dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char fs[4096], url[256];
        if (snprintf(fs, sizeof fs, "%s/%s", fs_dir, e->d_name) >= (int)sizeof fs ||
            snprintf(url, sizeof url, "%s/%s", prefix, e->d_name) >= (int)sizeof url)
            continue;
        struct stat st;
        if (stat(fs, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0 && web_path_ok(url))
                rc = load_dir(w, fs, url, depth - 1, total, err, errlen);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(w, fs, url, total, err, errlen);
        }
    }
    closedir(d);
    return rc;
}

web_files *web_files_load(const char *dir, char *err, size_t errlen)
{
    web_files *w = calloc(1, sizeof *w);
    if (w) w->files = calloc(WEB_FILES_MAX, sizeof *w->files);
    if (w) w->dir = strdup(dir);
    if (!w || !w->files || !w->dir) {
        snprintf(err, errlen, "out of memory");
        web_files_free(w);
        return NULL;
    }
    size_t total = 0;
    if (load_dir(w, dir, "", 1, &total, err, errlen) != 0) {
        web_files_free(w);
        return NULL;
    }
    /* A .gz without its plain file would be served to clients that cannot decode it. */
    for (size_t i = 0; i < w->n; i++) {
        if (!w->files[i].body) {
            snprintf(err, errlen, "%s.gz has no uncompressed %s", w->files[i].path,
                     w->files[i].path);
            web_files_free(w);
            return NULL;
        }
    }
    if (!find_mut(w, "/index.html")) {
        snprintf(err, errlen, "%s has no index.html (is the web client built?)", dir);
        web_files_free(w);
        return NULL;
    }
    return w;
}

void web_files_free(web_files *w)
{
    if (!w) return;
    for (size_t i = 0; w->files && i < w->n; i++) {
        free(w->files[i].path);
        free(w->files[i].body);
        free(w->files[i].gz);
    }
    free(w->files);
    free(w->dir);
    free(w);
}

const web_file *web_files_find(const web_files *w, const char *path)
{
    if (!w || !web_path_ok(path)) return NULL;
    if (strcmp(path, "/") == 0) path = "/index.html";
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->files[i].path, path) == 0) return &w->files[i];
    return NULL;
}

web_files *web_files_locate(const char *configured, char *err, size_t errlen)
{
    if (configured) return web_files_load(configured, err, errlen);
    web_files *w = web_files_load("web/dist", err, errlen);
    if (w) return w;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    const char *rel[] = { "../share/parley/web", "../../web/dist" };
    for (size_t i = 0; i < 2; i++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
        char why[512];
        if ((w = web_files_load(dir, why, sizeof why))) return w;
    }
    snprintf(err, errlen, "no built web client in ./web/dist or next to %s/parleyd", exe);
    return NULL;
}
