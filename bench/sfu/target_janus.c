/*
 * target_janus.c: the Janus VideoRoom target of parley-sfu-bench (bench.h), over Janus's REST
 * API (libcurl, JSON with jansson). The Janus process is run by the caller (bench/sfu/
 * janus-compare starts it in a network namespace; its pid comes with --janus-pid). start()
 * creates a session, attaches one handle and creates a room (VP8, Opus, room for every
 * publisher). Each publisher attaches its own handle and sends `joinandconfigure` with its
 * offer (janus_sdp.c); each subscriber attaches one handle, `join`s as a subscriber to every
 * publisher's feed in one PeerConnection, answers Janus's offer and `start`s. Asynchronous
 * replies (the jsep) come as events on the session's long poll. Requests are made one at a
 * time, so the event the bench waits for is the one for the handle it just used; the others
 * (publisher lists, webrtcup, media) are read and dropped. Janus is full ICE (libnice):
 * publishers are the controlling agent and send checks, subscribers are controlled (Janus
 * offers) and only answer Janus's checks; both must answer checks before DTLS starts.
 */
#include "bench.h"
#include "janus_sdp.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static CURL *curl;
static char base[512];
static json_int_t session, room;
static unsigned long next_tx = 1;

typedef struct { char *b; size_t len; } membuf;

static size_t on_body(char *d, size_t sz, size_t nm, void *arg) {
    membuf *m = arg;
    size_t n = sz * nm;
    if (m->len + n > (8u << 20)) return 0; /* bounded: Janus replies are small */
    char *nb = realloc(m->b, m->len + n + 1);
    if (!nb) return 0;
    memcpy(nb + m->len, d, n);
    m->b = nb;
    m->len += n;
    m->b[m->len] = 0;
    return n;
}

/* POST body (or GET if NULL) to base + path; returns the parsed reply or NULL. */
static json_t *http(const char *path, json_t *body, long timeout_s) {
    char url[700];
    snprintf(url, sizeof url, "%s%s", base, path);
    membuf m = { NULL, 0 };
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &m);
    if (txt) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, txt);
    CURLcode rc = curl_easy_perform(curl);
    free(txt);
    json_t *r = rc == CURLE_OK && m.b ? json_loads(m.b, 0, NULL) : NULL;
    if (rc != CURLE_OK) fprintf(stderr, "janus: %s: %s\n", url, curl_easy_strerror(rc));
    free(m.b);
    return r;
}

/* Sends a Janus API message ("janus": kind) with a fresh transaction; steals extra. */
static json_t *api(const char *path, const char *kind, json_t *extra) {
    char tx[32];
    snprintf(tx, sizeof tx, "b%lu", next_tx++);
    json_t *q = extra ? extra : json_object();
    json_object_set_new(q, "janus", json_string(kind));
    json_object_set_new(q, "transaction", json_string(tx));
    json_t *r = http(path, q, 10);
    json_decref(q);
    const char *j = r ? json_string_value(json_object_get(r, "janus")) : NULL;
    if (!j || (strcmp(j, "success") && strcmp(j, "ack"))) {
        char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;
        fprintf(stderr, "janus: %s failed: %s\n", kind, t ? t : "no reply");
        free(t);
        json_decref(r);
        return NULL;
    }
    return r;
}

static int attach(json_int_t *handle) {
    char path[64];
    snprintf(path, sizeof path, "/%lld", (long long)session);
    json_t *q = json_pack("{s:s}", "plugin", "janus.plugin.videoroom");
    json_t *r = api(path, "attach", q);
    *handle = r ? json_integer_value(json_object_get(json_object_get(r, "data"), "id")) : 0;
    json_decref(r);
    return *handle ? 0 : -1;
}

/* Sends a VideoRoom request on a handle (with a jsep if sdp) and returns the reply. */
static json_t *message(json_int_t handle, json_t *body, const char *type, const char *sdp) {
    char path[64];
    snprintf(path, sizeof path, "/%lld/%lld", (long long)session, (long long)handle);
    json_t *q = json_pack("{s:o}", "body", body);
    if (sdp) json_object_set_new(q, "jsep", json_pack("{s:s,s:s}", "type", type, "sdp", sdp));
    return api(path, "message", q);
}

/* The next plugin event from handle (others are dropped), within 10 s; NULL on timeout. */
static json_t *wait_event(json_int_t handle) {
    char path[96];
    snprintf(path, sizeof path, "/%lld?maxev=16", (long long)session);
    uint64_t deadline = now_ns() + 10000000000ull;
    while (now_ns() < deadline) {
        json_t *r = http(path, NULL, 12);
        if (!r) return NULL;
        json_t *arr = json_is_array(r) ? r : json_pack("[O]", r);
        json_t *found = NULL;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            const char *j = json_string_value(json_object_get(e, "janus"));
            if (!found && j && !strcmp(j, "event") &&
                json_integer_value(json_object_get(e, "sender")) == handle)
                found = json_incref(e);
        }
        json_decref(arr);
        if (arr != r) json_decref(r);
        if (found) return found;
    }
    return NULL;
}

/* The event's jsep sdp or NULL; prints the plugin's error if there is one. */
static const char *event_sdp(json_t *ev) {
    json_t *data = json_object_get(json_object_get(ev, "plugindata"), "data");
    if (json_object_get(data, "error")) {
        fprintf(stderr, "janus: %s\n", json_string_value(json_object_get(data, "error")));
        return NULL;
    }
    return json_string_value(json_object_get(json_object_get(ev, "jsep"), "sdp"));
}

static int take_remote(peer *p, const char *sdp, jsdp *d) {
    if (!sdp || jsdp_parse(sdp, d) < 0) { fprintf(stderr, "janus: unusable SDP for peer %u\n", p->id); return -1; }
    snprintf(p->sfu_ufrag, sizeof p->sfu_ufrag, "%s", d->ufrag);
    snprintf(p->sfu_pwd, sizeof p->sfu_pwd, "%s", d->pwd);
    p->remote = d->cand;
    p->need_their_check = true; /* full ICE: libnice checks us too */
    return 0;
}

static int add_publisher(peer *p, const char *fp) {
    static char offer[8192];
    static jsdp d;
    if (attach((json_int_t *)&p->handle) < 0 || jsdp_publisher_offer(p, fp, offer, sizeof offer) < 0) return -1;
    json_t *body = json_pack("{s:s,s:I,s:s,s:I,s:s}", "request", "joinandconfigure", "room", room,
                             "ptype", "publisher", "id", (json_int_t)p->id, "display", "bench");
    json_t *r = message((json_int_t)p->handle, body, "offer", offer);
    if (!r) return -1;
    json_decref(r);
    json_t *ev = wait_event((json_int_t)p->handle);
    int rc = ev ? take_remote(p, event_sdp(ev), &d) : -1;
    json_decref(ev);
    p->send_checks = true; /* we offered: the controlling agent */
    return rc;
}

static int add_subscriber(peer *p, peer *pubs, int np, const char *fp) {
    static char answer[65536];
    static jsdp d;
    if (attach((json_int_t *)&p->handle) < 0) return -1;
    json_t *streams = json_array();
    for (int i = 0; i < np; i++) json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)pubs[i].id));
    json_t *body = json_pack("{s:s,s:I,s:s,s:o}", "request", "join", "room", room, "ptype", "subscriber",
                             "streams", streams);
    json_t *r = message((json_int_t)p->handle, body, NULL, NULL);
    if (!r) return -1;
    json_decref(r);
    json_t *ev = wait_event((json_int_t)p->handle);
    int rc = ev ? take_remote(p, event_sdp(ev), &d) : -1;
    json_decref(ev);
    if (rc < 0 || jsdp_subscriber_answer(p, &d, fp, answer, sizeof answer) < 0) return -1;
    for (int i = 0; i < d.n_media; i++)
        if (!strcmp(d.media[i].kind, "video") && d.media[i].pt >= 0) p->video_pt = d.media[i].pt;
    r = message((json_int_t)p->handle, json_pack("{s:s}", "request", "start"), "answer", answer);
    if (!r) return -1;
    json_decref(r);
    ev = wait_event((json_int_t)p->handle);
    rc = ev && json_object_get(json_object_get(json_object_get(ev, "plugindata"), "data"), "started") ? 0 : -1;
    if (rc < 0) fprintf(stderr, "janus: subscriber %u did not start\n", p->id);
    json_decref(ev);
    return rc;
}

static int add(peer *p, peer *publishers, int np, const char *fp, const options *o) {
    return p->publisher ? add_publisher(p, fp) : add_subscriber(p, publishers, np, fp);
}

/* Everyone is connected: one keepalive so a default 60 s session timeout starts over. */
static int keepalive(peer *peers, int n, const options *o) {
    char path[64];
    snprintf(path, sizeof path, "/%lld", (long long)session);
    json_t *r = api(path, "keepalive", NULL);
    json_decref(r);
    return r ? 0 : -1;
}

static void stop(void) {
    if (curl && session) {
        char path[64];
        snprintf(path, sizeof path, "/%lld", (long long)session);
        json_decref(api(path, "destroy", NULL)); /* Janus hangs up every handle of it */
    }
    session = 0;
    if (curl) curl_easy_cleanup(curl);
    curl = NULL;
}

static pid_t start(const options *o) {
    snprintf(base, sizeof base, "%s", o->janus_url);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init())) return -1;
    json_t *r = api("", "create", NULL);
    session = r ? json_integer_value(json_object_get(json_object_get(r, "data"), "id")) : 0;
    json_decref(r);
    json_int_t h;
    if (!session || attach(&h) < 0) return -1;
    room = 1000 + getpid() % 100000;
    json_t *body = json_pack("{s:s,s:I,s:i,s:s,s:s,s:i,s:b}", "request", "create", "room", room,
                             "publishers", o->publishers + 1, "videocodec", "vp8", "audiocodec", "opus",
                             "fir_freq", 0, "notify_joining", 0);
    r = message(h, body, NULL, NULL);
    json_t *data = json_object_get(json_object_get(json_object_get(r, "plugindata"), "data"), "videoroom");
    int ok = data && !strcmp(json_string_value(data), "created");
    if (!ok) fprintf(stderr, "janus: room %lld not created\n", (long long)room);
    json_decref(r);
    return ok ? (pid_t)o->janus_pid : -1;
}

const bench_target target_janus = { "janus", start, add, keepalive, stop };
