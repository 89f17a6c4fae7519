/*
 * janus_sdp.h: the SDP parley-sfu-bench exchanges with Janus VideoRoom (target_janus.c):
 * the publisher's offer (audio + one VP8 stream, sendonly, a=setup:active so the bench stays
 * the DTLS client, its host candidate), the parts of Janus's SDP the bench needs (ICE
 * credentials, the IPv4 host candidate, per m-line kind, mid and codec) and the subscriber's
 * answer to Janus's offer (recvonly on every m-line, setup:active). Fixed-size buffers; every
 * writer returns -1 when out of room.
 */
#ifndef PARLEY_JANUS_SDP_H
#define PARLEY_JANUS_SDP_H
#include "bench.h"
#include <stddef.h>

#define JSDP_MAX_MEDIA 128

typedef struct {
    char kind[16];   /* audio, video, application */
    char mid[32];
    int pt;          /* first payload type of the m-line, -1 if none */
    char rtpmap[64]; /* "VP8/90000" for pt, "" if not given */
} jsdp_media;

typedef struct {
    char ufrag[260], pwd[260];
    struct sockaddr_in cand; /* sin_family 0 if no IPv4 UDP host candidate */
    int n_media;
    jsdp_media media[JSDP_MAX_MEDIA];
} jsdp;

int jsdp_publisher_offer(const peer *p, const char *fp, char *out, size_t cap);
/* 0, or -1 if a limit is hit or credentials / candidate are missing. */
int jsdp_parse(const char *sdp, jsdp *out);
int jsdp_subscriber_answer(const peer *p, const jsdp *offer, const char *fp, char *out, size_t cap);

#endif
