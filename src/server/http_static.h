/*
 * http_static.h: the web client's files, served from memory.
 *
 * At start-up parleyd reads every file of the web directory (web/dist, built by `make`) whose
 * name and extension it knows into one table; a request is answered only by an exact match
 * of its path against that table. No request path ever reaches the file system, so ".." or
 * encoded traversal cannot name anything outside the table by construction, and a file added
 * to the directory later is not served until a restart.
 *
 * Memory: web_files owns every name and body; web_files_free() releases them. Lookups
 * return borrowed pointers valid until then. Read-only after load: any thread may look up.
 */
#ifndef PARLEY_HTTP_STATIC_H
#define PARLEY_HTTP_STATIC_H

#include <stddef.h>

/* Largest single file and largest total loaded: the client is a few hundred KiB. */
#define WEB_FILE_MAX (8u << 20)
#define WEB_TOTAL_MAX (32u << 20)
#define WEB_FILES_MAX 256

typedef struct {
    char *path;                /* "/index.html", "/app.js" */
    const char *mime;          /* static string */
    unsigned char *body;
    size_t len;
    unsigned char *gz;         /* the build's precompressed PATH.gz, or NULL */
    size_t gz_len;
} web_file;

typedef struct web_files {
    web_file *files;
    size_t n;
    char *dir;                 /* where they came from, for logs */
} web_files;

/* Loads `dir` (one level of subdirectories). NULL with a reason in err when the directory
 * cannot be read or holds no index.html. */
web_files *web_files_load(const char *dir, char *err, size_t errlen);
void web_files_free(web_files *w);

/* The web client to serve: `configured` (--web / `web =`) if set, which must load; else the
 * first that loads of ./web/dist, EXE_DIR/../share/parley/web and EXE_DIR/../../web/dist
 * (EXE_DIR/../../ is the source tree for build/bin/parleyd). NULL with a reason in err. */
web_files *web_files_locate(const char *configured, char *err, size_t errlen);

/* The file for a request path ("/" means "/index.html"), or NULL. The path is compared
 * byte for byte; anything but [A-Za-z0-9._/-] or a segment starting with '.' is refused. */
const web_file *web_files_find(const web_files *w, const char *path);

/* The MIME type for a file name by its extension, or NULL if it is not one we serve. */
const char *web_mime_type(const char *name);

/* 1 if `path` is one we would ever look up (the character and segment rules above). */
int web_path_ok(const char *path);

#endif
