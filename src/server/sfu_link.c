/*
 * sfu_link.c: starts, watches and talks to parley-sfu (see sfu_link.h).
 *
 * Life of the link: DOWN -> (spawn) STARTING: the child's stdout is read until its ready
 * line "parley-sfu udp ..." -> CONNECTING to the control socket -> UP. Any failure on the
 * way (spawn error, the child exiting, the socket closing) goes through link_down(): the
 * child is killed if still alive, pending requests are answered NULL, groupcall.c ends every
 * call, and a timer restarts the child after the back-off.
 *
 * The control socket lives in parleyd's data directory (mode 0700, so only parleyd's user
 * can steer the SFU); if that path is too long for a Unix socket, in a private mkdtemp dir.
 *
 * Memory: the link owns its handles, buffers and the pending-request list. Handles are
 * freed in their close callbacks; sfu_link_stop leaves the final frees to the loop run that
 * lws_uv_destroy does after it.
 */
#include "sfu_link.h"

#include "groupcall.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SFU_MAX_FRAME (256 * 1024)     /* the SFU's own limit (src/sfu/control.h) */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define READY_LINE_MAX 512

typedef enum { LINK_DOWN, LINK_STARTING, LINK_CONNECTING, LINK_UP } link_state;

typedef struct pending {
    struct pending *next;
    uint64_t id;
    sfu_reply_fn cb;
    void *arg;
} pending;

struct sfu_link {
    server *srv;
    link_state state;
    int stopping;
    uv_process_t proc;
    int proc_alive;              /* proc handle initialised and not yet closed */
    uv_pipe_t out;               /* the child's stdout */
    int out_open;
    uv_pipe_t ctl;               /* the control socket */
    int ctl_open;
    uv_connect_t connect_req;
    uv_timer_t restart;
    unsigned backoff_ms;
    char line[READY_LINE_MAX];
    size_t line_len;
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char tmp_dir[64];            /* the mkdtemp dir holding the socket, "" when unused */
    unsigned char *rx;           /* control frames being assembled */
    size_t rx_len, rx_cap;
    pending *head, *tail;
    uint64_t next_id;
    unsigned handles_open;       /* close callbacks still due; the link is freed at 0 */
};

static void link_down(struct sfu_link *l, const char *why);

/* ---- handles ------------------------------------------------------------------------------ */

static void maybe_free(struct sfu_link *l)
{
    if (l->stopping && l->handles_open == 0) {
        free(l->rx);
        free(l);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct sfu_link *l = h->data;
    l->handles_open--;
    maybe_free(l);
}

static void close_handle(struct sfu_link *l, uv_handle_t *h)
{
    h->data = l;
    l->handles_open++;
    uv_close(h, on_handle_closed);
}

/* ---- pending requests --------------------------------------------------------------------- */

static void fail_pending(struct sfu_link *l)
{
    pending *p = l->head;
    l->head = l->tail = NULL;
    while (p) {
        pending *next = p->next;
        if (p->cb) p->cb(l->srv, p->arg, NULL);
        free(p);
        p = next;
    }
}

/* Responses come back in request order (one socket, one SFU thread), but match by id anyway. */
static void answer(struct sfu_link *l, const Parley__Sfu__Response *r)
{
    pending **pp = &l->head, *prev = NULL;
    for (; *pp; prev = *pp, pp = &(*pp)->next) {
        if ((*pp)->id != r->id) continue;
        pending *p = *pp;
        *pp = p->next;
        if (l->tail == p) l->tail = prev;
        if (p->cb) p->cb(l->srv, p->arg, r);
        free(p);
        return;
    }
    log_warn("sfu: response to unknown request %llu", (unsigned long long)r->id);
}

/* ---- control socket ----------------------------------------------------------------------- */

static void handle_frame(struct sfu_link *l, const uint8_t *data, size_t len)
{
    Parley__Sfu__FromSfu *m = parley__sfu__from_sfu__unpack(NULL, len, data);
    if (!m) {
        link_down(l, "undecodable frame from the SFU");
        return;
    }
    if (m->msg_case == PARLEY__SFU__FROM_SFU__MSG_RESPONSE) answer(l, m->response);
    else if (m->msg_case == PARLEY__SFU__FROM_SFU__MSG_EVENT) groupcall_sfu_event(l->srv, m->event);
    parley__sfu__from_sfu__free_unpacked(m, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sfu_link *l = h->data;
    if (l->rx_cap - l->rx_len < 65536) {
        size_t cap = l->rx_cap ? l->rx_cap * 2 : 131072;
        if (cap > SFU_MAX_FRAME + 4 + 65536) cap = SFU_MAX_FRAME + 4 + 65536;
        unsigned char *n = cap > l->rx_cap ? realloc(l->rx, cap) : NULL;
        if (n) {
            l->rx = n;
            l->rx_cap = cap;
        }
    }
    buf->base = (char *)l->rx + l->rx_len;
    buf->len = l->rx_cap - l->rx_len;
}

static void on_ctl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sfu_link *l = s->data;
    if (n < 0) {
        link_down(l, "the SFU closed its control socket");
        return;
    }
    l->rx_len += (size_t)n;
    size_t off = 0;
    while (l->rx_len - off >= 4 && l->state == LINK_UP) {
        const unsigned char *p = l->rx + off;
        size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (flen > SFU_MAX_FRAME) {
            link_down(l, "oversized frame from the SFU");
            return;
        }
        if (l->rx_len - off - 4 < flen) break;
        handle_frame(l, p + 4, flen);
        off += 4 + flen;
    }
    if (l->state != LINK_UP) return;
    memmove(l->rx, l->rx + off, l->rx_len - off);
    l->rx_len -= off;
}

static void on_connected(uv_connect_t *req, int status)
{
    struct sfu_link *l = req->data;
    if (l->stopping || l->state != LINK_CONNECTING) return;
    if (status < 0) {
        link_down(l, uv_strerror(status));
        return;
    }
    l->ctl.data = l;
    if (uv_read_start((uv_stream_t *)&l->ctl, on_alloc, on_ctl_read) != 0) {
        link_down(l, "cannot read the control socket");
        return;
    }
    l->state = LINK_UP;
    l->backoff_ms = BACKOFF_MIN_MS;
    log_info("sfu: control socket connected");
}

static void connect_control(struct sfu_link *l)
{
    if (uv_pipe_init(l->srv->uv, &l->ctl, 0) != 0) {
        link_down(l, "cannot make a pipe");
        return;
    }
    l->ctl_open = 1;
    l->state = LINK_CONNECTING;
    l->connect_req.data = l;
    uv_pipe_connect(&l->connect_req, &l->ctl, l->sock_path, on_connected);
}

/* ---- the child ---------------------------------------------------------------------------- */

static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sfu_link *l = s->data;
    if (n < 0) {
        uv_read_stop(s);  /* the exit callback reports the exit */
    } else if (n > 0 && l->state == LINK_STARTING) {
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf->base[i];
            if (ch != '\n') {
                if (l->line_len < sizeof l->line - 1) l->line[l->line_len++] = ch;
                continue;
            }
            l->line[l->line_len] = 0;
            l->line_len = 0;
            if (strncmp(l->line, "parley-sfu udp ", 15) == 0) {
                log_info("sfu: %s", l->line);
                connect_control(l);
                break;
            }
        }
    }
    free(buf->base);
}

static void on_out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = malloc(1024);
    buf->len = buf->base ? 1024 : 0;
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct sfu_link *l = p->data;
    log_warn("sfu: parley-sfu exited (status %lld, signal %d)", (long long)status, sig);
    l->proc_alive = 0;
    close_handle(l, (uv_handle_t *)p);
    link_down(l, "parley-sfu exited");
}

/* The SFU binary: cfg.sfu_path, or parley-sfu in the directory of /proc/self/exe. */
static int sfu_path(const server *srv, char *out, size_t cap)
{
    if (srv->cfg.sfu_path) return snprintf(out, cap, "%s", srv->cfg.sfu_path) < (int)cap ? 0 : -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    return snprintf(out, cap, "%s/parley-sfu", self) < (int)cap ? 0 : -1;
}

static int pick_socket_path(struct sfu_link *l)
{
    const char *dir = l->srv->cfg.data_dir;
    if (snprintf(l->sock_path, sizeof l->sock_path, "%s/sfu.sock", dir) < (int)sizeof l->sock_path)
        return 0;
    if (!l->tmp_dir[0]) {
        snprintf(l->tmp_dir, sizeof l->tmp_dir, "/tmp/parleyd-sfu-XXXXXX");
        if (!mkdtemp(l->tmp_dir)) {
            l->tmp_dir[0] = 0;
            return -1;
        }
    }
    snprintf(l->sock_path, sizeof l->sock_path, "%s/sfu.sock", l->tmp_dir);
    return 0;
}

static void spawn_child(struct sfu_link *l)
{
    char path[PATH_MAX], port[16], consent[16];
    if (sfu_path(l->srv, path, sizeof path) != 0 || pick_socket_path(l) != 0) {
        link_down(l, "no path for parley-sfu or its control socket");
        return;
    }
    unlink(l->sock_path);  /* a stale socket from a crashed run */
    snprintf(port, sizeof port, "%u", l->srv->cfg.sfu_port);
    snprintf(consent, sizeof consent, "%u", l->srv->cfg.sfu_consent_timeout * 1000);
    char parent[24];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    char *args[] = { path, "--bind", l->srv->cfg.sfu_bind, "--port", port,
                     "--control", l->sock_path, "--consent-timeout", consent,
                     "--exit-with-parent", parent, NULL };
    if (uv_pipe_init(l->srv->uv, &l->out, 0) != 0) {
        link_down(l, "cannot make a pipe");
        return;
    }
    l->out_open = 1;
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&l->out },
        { .flags = UV_INHERIT_FD, .data.fd = 2 },
    };
    uv_process_options_t o = { .file = path, .args = args, .exit_cb = on_child_exit,
                               .stdio_count = 3, .stdio = stdio };
    l->proc.data = l;
    int rc = uv_spawn(l->srv->uv, &l->proc, &o);
    if (rc != 0) {
        close_handle(l, (uv_handle_t *)&l->proc);  /* libuv wants a close even on failure */
        log_warn("sfu: cannot start %s: %s", path, uv_strerror(rc));
        link_down(l, "spawn failed");
        return;
    }
    l->proc_alive = 1;
    l->state = LINK_STARTING;
    l->line_len = 0;
    l->out.data = l;
    uv_read_start((uv_stream_t *)&l->out, on_out_alloc, on_out_read);
}

static void on_restart(uv_timer_t *t)
{
    struct sfu_link *l = t->data;
    if (!l->stopping && l->state == LINK_DOWN) spawn_child(l);
}

/* Kills the child with SIGTERM and reaps it here, waiting up to 2 s, then SIGKILL. */
static void stop_child(struct sfu_link *l)
{
    if (!l->proc_alive) return;
    pid_t pid = l->proc.pid;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) goto reaped;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
reaped:
    l->proc_alive = 0;
    close_handle(l, (uv_handle_t *)&l->proc);
}

static void link_down(struct sfu_link *l, const char *why)
{
    int was_up = l->state == LINK_UP;
    if (l->state != LINK_DOWN) log_warn("sfu: link down: %s", why);
    l->state = LINK_DOWN;
    if (l->ctl_open) {
        l->ctl_open = 0;
        close_handle(l, (uv_handle_t *)&l->ctl);
    }
    if (l->out_open) {
        l->out_open = 0;
        close_handle(l, (uv_handle_t *)&l->out);
    }
    stop_child(l);
    l->rx_len = 0;
    fail_pending(l);
    if (was_up || !l->stopping) groupcall_sfu_down(l->srv);
    if (l->stopping) return;
    uv_timer_start(&l->restart, on_restart, l->backoff_ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* ---- API ---------------------------------------------------------------------------------- */

int sfu_link_start(server *srv)
{
    struct sfu_link *l = calloc(1, sizeof *l);
    if (!l) return -1;
    l->srv = srv;
    l->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(srv->uv, &l->restart);
    l->restart.data = l;
    srv->sfu = l;
    if (srv->cfg.sfu) spawn_child(l);
    return 0;
}

void sfu_link_stop(server *srv)
{
    struct sfu_link *l = srv->sfu;
    if (!l) return;
    srv->sfu = NULL;
    l->stopping = 1;
    uv_timer_stop(&l->restart);
    close_handle(l, (uv_handle_t *)&l->restart);
    link_down(l, "parleyd is stopping");
    if (l->tmp_dir[0]) {
        unlink(l->sock_path);
        rmdir(l->tmp_dir);
    }
}

int sfu_link_up(const server *srv)
{
    return srv->sfu && srv->sfu->state == LINK_UP;
}

static void on_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

int sfu_send(server *srv, Parley__Sfu__ToSfu *req, sfu_reply_fn cb, void *arg)
{
    struct sfu_link *l = srv->sfu;
    if (!l || l->state != LINK_UP) return -1;
    req->id = ++l->next_id;
    size_t len = parley__sfu__to_sfu__get_packed_size(req);
    if (len > SFU_MAX_FRAME) return -1;
    unsigned char *buf = malloc(len + 4);
    uv_write_t *w = malloc(sizeof *w);
    pending *p = malloc(sizeof *p);
    if (!buf || !w || !p) {
        free(buf);
        free(w);
        free(p);
        return -1;
    }
    buf[0] = (unsigned char)(len >> 24);
    buf[1] = (unsigned char)(len >> 16);
    buf[2] = (unsigned char)(len >> 8);
    buf[3] = (unsigned char)len;
    parley__sfu__to_sfu__pack(req, buf + 4);
    w->data = buf;
    uv_buf_t ub = uv_buf_init((char *)buf, (unsigned)(len + 4));
    if (uv_write(w, (uv_stream_t *)&l->ctl, &ub, 1, on_written) != 0) {
        free(buf);
        free(w);
        free(p);
        return -1;
    }
    *p = (pending){ .id = req->id, .cb = cb, .arg = arg };
    if (l->tail) l->tail->next = p;
    else l->head = p;
    l->tail = p;
    return 0;
}
