/*
 * sdp.c: SDP offer parsing and answer writing for the SFU (see sdp.h). Line by line: a line
 * is "<letter>=<value>", at most SDP_MAX_LINE bytes, printable ASCII or UTF-8 (no control
 * characters but tab); session attributes come before the first m-line, media attributes
 * after. Unknown attributes are ignored, as RFC 8866 says; known ones must be well formed.
 */
#include "sdp.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Copies a token of [A-Za-z0-9+/=_.~-] etc. (no spaces) into out; -1 if empty or too long. */
static int copy_token(const char *s, size_t n, char *out, size_t cap) {
    if (n == 0 || n >= cap) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i])) return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

static bool starts(const char *line, size_t n, const char *prefix, const char **rest) {
    size_t pl = strlen(prefix);
    if (n < pl || memcmp(line, prefix, pl) != 0) return false;
    *rest = line + pl;
    return true;
}

/* Parses a decimal number within [0, max]; *end is advanced. */
static int parse_num(const char **p, const char *end, uint64_t max, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || !isdigit((unsigned char)*s)) return -1;
    while (s < end && isdigit((unsigned char)*s)) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max) return -1;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

static int parse_fingerprint(const char *v, size_t n, char out[96]) {
    const char *rest;
    if (!starts(v, n, "sha-256 ", &rest) && !starts(v, n, "SHA-256 ", &rest)) return -1;
    size_t hl = n - (size_t)(rest - v);
    if (hl != 95) return -1;
    for (size_t i = 0; i < 95; i++) {
        char c = rest[i];
        if (i % 3 == 2 ? c != ':' : !isxdigit((unsigned char)c)) return -1;
        out[i] = (char)toupper((unsigned char)c);
    }
    out[95] = 0;
    return 0;
}

typedef struct {
    int opus_pt, vp8_pt;
    int rtx_pts[16], rtx_apts[16], n_rtx;
    uint32_t fid_primary[8], fid_rtx[8];
    int n_fid;
    uint32_t sim[SDP_MAX_LAYERS];
    int n_sim;
    uint32_t first_ssrc;
} media_scratch;

static int parse_rtpmap(sdp_media *m, media_scratch *x, const char *v, const char *end) {
    uint64_t pt;
    if (parse_num(&v, end, 127, &pt) < 0 || v >= end || *v != ' ') return -1;
    v++;
    size_t n = (size_t)(end - v);
    if (n >= 10 && strncasecmp(v, "opus/48000", 10) == 0 && m->kind == SDP_AUDIO && x->opus_pt < 0)
        x->opus_pt = (int)pt;
    else if (n >= 9 && strncasecmp(v, "VP8/90000", 9) == 0 && m->kind == SDP_VIDEO && x->vp8_pt < 0)
        x->vp8_pt = (int)pt;
    return 0;
}

static int parse_fmtp(media_scratch *x, const char *v, const char *end) {
    uint64_t pt, apt;
    if (parse_num(&v, end, 127, &pt) < 0 || v >= end || *v != ' ') return -1;
    v++;
    const char *a;
    if (starts(v, (size_t)(end - v), "apt=", &a)) {
        if (parse_num(&a, end, 127, &apt) < 0) return -1;
        if (x->n_rtx < 16) {
            x->rtx_pts[x->n_rtx] = (int)pt;
            x->rtx_apts[x->n_rtx++] = (int)apt;
        }
    }
    return 0;
}

static int parse_extmap(sdp_media *m, const char *v, const char *end) {
    uint64_t id;
    if (parse_num(&v, end, 255, &id) < 0 || id == 0 || id > 14) return id > 14 && id <= 255 ? 0 : -1;
    if (v < end && *v == '/') { /* direction */
        while (v < end && *v != ' ') v++;
    }
    if (v >= end || *v != ' ') return -1;
    v++;
    size_t n = (size_t)(end - v);
    const char *sp = memchr(v, ' ', n);
    if (sp) n = (size_t)(sp - v);
#define IS(u) (n == strlen(u) && memcmp(v, u, n) == 0)
    if (IS("urn:ietf:params:rtp-hdrext:ssrc-audio-level")) m->ext_audio_level = (int)id;
    else if (IS("http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01")) m->ext_twcc = (int)id;
    else if (IS("urn:ietf:params:rtp-hdrext:sdes:mid")) m->ext_mid = (int)id;
    else if (IS("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id")) m->ext_rid = (int)id;
    else if (IS("urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id")) m->ext_rrid = (int)id;
    else if (IS("http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")) m->ext_abs_send_time = (int)id;
#undef IS
    return 0;
}

static int parse_ssrc_group(media_scratch *x, const char *v, const char *end) {
    const char *rest;
    bool sim = starts(v, (size_t)(end - v), "SIM", &rest), fid = !sim && starts(v, (size_t)(end - v), "FID", &rest);
    if (!sim && !fid) return 0;
    uint32_t ids[SDP_MAX_LAYERS + 1];
    int n = 0;
    while (rest < end) {
        if (*rest != ' ') return -1;
        rest++;
        uint64_t s;
        if (parse_num(&rest, end, UINT32_MAX, &s) < 0 || s == 0) return -1;
        if (n == SDP_MAX_LAYERS) return -1;
        ids[n++] = (uint32_t)s;
    }
    if (sim) {
        if (n < 1 || x->n_sim) return -1;
        memcpy(x->sim, ids, sizeof(uint32_t) * (size_t)n);
        x->n_sim = n;
    } else {
        if (n != 2) return -1;
        if (x->n_fid < 8) {
            x->fid_primary[x->n_fid] = ids[0];
            x->fid_rtx[x->n_fid++] = ids[1];
        }
    }
    return 0;
}

static int parse_rid(sdp_media *m, const char *v, const char *end) {
    const char *sp = memchr(v, ' ', (size_t)(end - v));
    if (!sp) return -1;
    const char *dir = sp + 1;
    if (!starts(dir, (size_t)(end - dir), "send", &dir)) return 0; /* recv rids: not ours */
    if (m->n_layers >= SDP_MAX_LAYERS) return -1;
    if (copy_token(v, (size_t)(sp - v), m->rid[m->n_layers], SDP_TOKEN) < 0) return -1;
    m->n_layers++;
    return 0;
}

/* One media-level attribute line (after "a="). */
static int media_attr(sdp_media *m, media_scratch *x, const char *a, size_t n, char *err, size_t el) {
    const char *v, *end = a + n;
    if (starts(a, n, "mid:", &v)) {
        if (copy_token(v, (size_t)(end - v), m->mid, SDP_TOKEN) < 0) return fail(err, el, "bad a=mid");
    } else if (starts(a, n, "rtpmap:", &v)) {
        if (parse_rtpmap(m, x, v, end) < 0) return fail(err, el, "bad a=rtpmap");
    } else if (starts(a, n, "fmtp:", &v)) {
        if (parse_fmtp(x, v, end) < 0) return fail(err, el, "bad a=fmtp");
    } else if (starts(a, n, "extmap:", &v)) {
        if (parse_extmap(m, v, end) < 0) return fail(err, el, "bad a=extmap");
    } else if (starts(a, n, "ssrc-group:", &v)) {
        if (parse_ssrc_group(x, v, end) < 0) return fail(err, el, "bad a=ssrc-group");
    } else if (starts(a, n, "ssrc:", &v)) {
        uint64_t s;
        if (parse_num(&v, end, UINT32_MAX, &s) < 0 || s == 0) return fail(err, el, "bad a=ssrc");
        if (!x->first_ssrc) x->first_ssrc = (uint32_t)s;
    } else if (starts(a, n, "rid:", &v)) {
        if (parse_rid(m, v, end) < 0) return fail(err, el, "bad a=rid");
    } else if (n == 8 && memcmp(a, "rtcp-mux", 8) == 0) {
        m->rtcp_mux = true;
    } else if (n == 8 && memcmp(a, "sendrecv", 8) == 0) {
        m->dir = SDP_SENDRECV;
    } else if (n == 8 && memcmp(a, "sendonly", 8) == 0) {
        m->dir = SDP_SENDONLY;
    } else if (n == 8 && memcmp(a, "recvonly", 8) == 0) {
        m->dir = SDP_RECVONLY;
    } else if (n == 8 && memcmp(a, "inactive", 8) == 0) {
        m->dir = SDP_INACTIVE;
    }
    return 0;
}

static int finish_media(sdp_media *m, media_scratch *x, char *err, size_t el) {
    if (!m->mid[0]) return fail(err, el, "m-line without a=mid");
    m->pt = m->kind == SDP_AUDIO ? x->opus_pt : m->kind == SDP_VIDEO ? x->vp8_pt : -1;
    m->accepted = m->pt >= 0 && m->rtcp_mux;
    for (int i = 0; i < x->n_rtx; i++)
        if (x->rtx_apts[i] == m->pt && m->pt >= 0) m->rtx_pt = x->rtx_pts[i];
    if (m->n_layers > 0 && x->n_sim) return fail(err, el, "both rid and SIM simulcast");
    if (x->n_sim) {
        m->n_layers = x->n_sim;
        memcpy(m->ssrc, x->sim, sizeof(uint32_t) * (size_t)x->n_sim);
    } else if (m->n_layers == 0) {
        m->n_layers = 1;
        m->ssrc[0] = x->first_ssrc;
    }
    for (int l = 0; l < m->n_layers; l++)
        for (int f = 0; f < x->n_fid; f++)
            if (m->ssrc[l] && x->fid_primary[f] == m->ssrc[l]) m->rtx_ssrc[l] = x->fid_rtx[f];
    return 0;
}

static int session_attr(sdp_offer *o, const char *a, size_t n, char *err, size_t el) {
    const char *v, *end = a + n;
    if (starts(a, n, "ice-ufrag:", &v)) {
        if (copy_token(v, (size_t)(end - v), o->ice_ufrag, sizeof o->ice_ufrag) < 0 ||
            end - v < 4)
            return fail(err, el, "bad a=ice-ufrag");
    } else if (starts(a, n, "ice-pwd:", &v)) {
        if (copy_token(v, (size_t)(end - v), o->ice_pwd, sizeof o->ice_pwd) < 0 || end - v < 22)
            return fail(err, el, "bad a=ice-pwd");
    } else if (starts(a, n, "fingerprint:", &v)) {
        if (parse_fingerprint(v, (size_t)(end - v), o->fingerprint) < 0)
            return fail(err, el, "bad a=fingerprint (need sha-256)");
    } else if (starts(a, n, "setup:", &v)) {
        if (copy_token(v, (size_t)(end - v), o->setup, sizeof o->setup) < 0)
            return fail(err, el, "bad a=setup");
    }
    return 0;
}

static int parse_mline(sdp_offer *o, const char *v, size_t n, char *err, size_t el) {
    if (o->n_media == SDP_MAX_MEDIA) return fail(err, el, "too many m-lines");
    sdp_media *m = &o->media[o->n_media++];
    memset(m, 0, sizeof *m);
    m->pt = m->rtx_pt = -1;
    const char *rest;
    /* <media> <port> <proto> <fmt>...: kept to echo it back with port 0 if rejected. */
    const char *sp1 = memchr(v, ' ', n), *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - v)) : NULL;
    if (n >= sizeof m->mline) return fail(err, el, "m-line too long");
    if (!sp1 || !sp2 || sp2 + 1 >= v + n) return fail(err, el, "bad m-line");
    /* The echo is "<media> 0<rest from the second space>": with an empty port it is one byte
     * longer than the line, so it is measured against mline itself, not against the input. */
    int w = snprintf(m->mline, sizeof m->mline, "%.*s 0%.*s", (int)(sp1 - v), v,
                     (int)(v + n - sp2), sp2);
    if (w < 0 || (size_t)w >= sizeof m->mline) return fail(err, el, "m-line too long");
    if (starts(v, n, "audio ", &rest)) m->kind = SDP_AUDIO;
    else if (starts(v, n, "video ", &rest)) m->kind = SDP_VIDEO;
    else m->kind = SDP_OTHER;
    if (m->kind != SDP_OTHER && !memmem(rest, n - (size_t)(rest - v), "UDP/TLS/RTP/SAVPF", 17))
        return fail(err, el, "m-line protocol must be UDP/TLS/RTP/SAVPF");
    return 0;
}

/* Checks line bytes: no control characters except tab. */
static bool line_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

int sdp_parse_offer(const char *sdp, size_t len, sdp_offer *o, char *err, size_t el) {
    memset(o, 0, sizeof *o);
    if (len == 0 || len > SDP_MAX_LEN) return fail(err, el, "SDP empty or larger than %d bytes", SDP_MAX_LEN);
    media_scratch x;
    size_t pos = 0;
    int lineno = 0;
    bool saw_v = false;
    while (pos < len) {
        const char *line = sdp + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && line[n - 1] == '\r') n--;
        lineno++;
        if (n == 0) continue;
        if (n > SDP_MAX_LINE) return fail(err, el, "line %d too long", lineno);
        if (n < 2 || line[1] != '=' || !islower((unsigned char)line[0]) || !line_ok(line, n))
            return fail(err, el, "line %d is not <type>=<value>", lineno);
        if (!saw_v) {
            if (n != 3 || memcmp(line, "v=0", 3) != 0) return fail(err, el, "SDP must start with v=0");
            saw_v = true;
            continue;
        }
        const char *v = line + 2;
        size_t vn = n - 2;
        if (line[0] == 'm') {
            if (o->n_media > 0 && finish_media(&o->media[o->n_media - 1], &x, err, el) < 0) return -1;
            memset(&x, 0, sizeof x);
            x.opus_pt = x.vp8_pt = -1;
            if (parse_mline(o, v, vn, err, el) < 0) return -1;
        } else if (line[0] == 'a') {
            /* ICE credentials and fingerprint may be session- or media-level; first wins. */
            if (session_attr(o, v, vn, err, el) < 0) return -1;
            if (o->n_media > 0 && media_attr(&o->media[o->n_media - 1], &x, v, vn, err, el) < 0)
                return -1;
        }
    }
    if (!saw_v) return fail(err, el, "SDP must start with v=0");
    if (o->n_media == 0) return fail(err, el, "no m-lines");
    if (finish_media(&o->media[o->n_media - 1], &x, err, el) < 0) return -1;
    if (!o->ice_ufrag[0] || !o->ice_pwd[0]) return fail(err, el, "missing a=ice-ufrag or a=ice-pwd");
    if (!o->fingerprint[0]) return fail(err, el, "missing a=fingerprint");
    if (o->setup[0] && strcmp(o->setup, "actpass") != 0 && strcmp(o->setup, "active") != 0)
        return fail(err, el, "a=setup must be actpass or active (the SFU is passive)");
    return 0;
}

/* Appends formatted text; latches overflow in *ok. */
typedef struct { char *p; size_t cap, len; bool ok; } sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    if (!b->ok) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) { b->ok = false; return; }
    b->len += (size_t)n;
}

static const char *answer_dir(sdp_dir d) {
    switch (d) {
    case SDP_SENDONLY: return "recvonly";
    case SDP_RECVONLY: return "sendonly";
    case SDP_INACTIVE: return "inactive";
    default: return "sendrecv";
    }
}

static void answer_media(sbuf *b, const sdp_media *m, const sdp_answer_params *p, int idx) {
    const char *kind = m->kind == SDP_AUDIO ? "audio" : "video";
    if (!m->accepted) { /* rejected m-line: port 0, the offered proto and formats (RFC 8866 5.14) */
        put(b, "m=%s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", m->mline, m->mid);
        return;
    }
    put(b, "m=%s 9 UDP/TLS/RTP/SAVPF %d", kind, m->pt);
    if (m->rtx_pt >= 0) put(b, " %d", m->rtx_pt);
    put(b, "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
    put(b, "a=candidate:1 1 udp 2130706431 %s %d typ host\r\na=end-of-candidates\r\n", p->host, p->port);
    put(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:passive\r\n",
        p->ufrag, p->pwd, p->fingerprint);
    put(b, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n", m->mid, answer_dir(m->dir));
    if (m->kind == SDP_AUDIO) {
        put(b, "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n", m->pt, m->pt);
    } else {
        put(b, "a=rtpmap:%d VP8/90000\r\n", m->pt);
        put(b, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n"
               "a=rtcp-fb:%d goog-remb\r\n", m->pt, m->pt, m->pt, m->pt);
        if (m->rtx_pt >= 0) put(b, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", m->rtx_pt, m->rtx_pt, m->pt);
    }
    uint32_t ssrc = p->send_ssrc ? p->send_ssrc[idx] : 0;
    if (m->dir == SDP_RECVONLY) {
        /* The SFU sends here: its SSRC is the demultiplexing key for the browser, so no
         * mid/rid extensions are negotiated on this m-line (forwarded packets carry the
         * publisher's values, which must not be read as this m-line's). */
        if (ssrc)
            put(b, "a=msid:parley-sfu %s%d\r\na=ssrc:%u cname:parley-sfu\r\na=ssrc:%u msid:parley-sfu %s%d\r\n",
                kind, idx, ssrc, ssrc, kind, idx);
        if (m->ext_audio_level) put(b, "a=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", m->ext_audio_level);
        return;
    }
    if (m->ext_twcc) put(b, "a=rtcp-fb:%d transport-cc\r\n", m->pt);
    if (m->ext_audio_level) put(b, "a=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", m->ext_audio_level);
    if (m->ext_twcc)
        put(b, "a=extmap:%d http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n", m->ext_twcc);
    if (m->ext_mid) put(b, "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n", m->ext_mid);
    if (m->ext_rid) put(b, "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n", m->ext_rid);
    if (m->ext_rrid) put(b, "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n", m->ext_rrid);
    if (m->rid[0][0]) {
        for (int l = 0; l < m->n_layers; l++) put(b, "a=rid:%s recv\r\n", m->rid[l]);
        put(b, "a=simulcast:recv ");
        for (int l = 0; l < m->n_layers; l++) put(b, "%s%s", l ? ";" : "", m->rid[l]);
        put(b, "\r\n");
    }
}

long sdp_build_answer(const sdp_offer *o, const sdp_answer_params *p, char *out, size_t cap) {
    sbuf b = { out, cap, 0, cap > 0 };
    put(&b, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", p->session_id);
    put(&b, "a=group:BUNDLE");
    for (int i = 0; i < o->n_media; i++)
        if (o->media[i].accepted) put(&b, " %s", o->media[i].mid);
    put(&b, "\r\na=ice-lite\r\na=msid-semantic: WMS *\r\n");
    for (int i = 0; i < o->n_media; i++) answer_media(&b, &o->media[i], p, i);
    return b.ok ? (long)b.len : -1;
}
