/*
 * proxy_v2.h: a parser for the PROXY protocol version 2 header (HAProxy's
 * doc/proxy-protocol.txt, section 2.2), with which a trusted TCP proxy tells parleyd the
 * address of the client it relays, before any byte of the client's own (TLS) stream.
 *
 * The parser is pure (no I/O, no allocation) and incremental in the only way the caller
 * needs: given the bytes received so far it says "need N bytes in all", "malformed" or
 * "complete, N bytes long", so the caller reads exactly the header and never a byte of the
 * TLS stream behind it (listener.c).
 *
 * What is refused (-1): a signature mismatch in any byte present, a version other than 2, a
 * command other than LOCAL or PROXY, an address family or transport the specification does
 * not define, an address block shorter than its family needs, and a header longer than
 * PROXY_V2_MAX (a bound of ours: HAProxy's headers, TLVs included, are far smaller). Version
 * 1 (the text "PROXY ...") is not accepted: parleyd speaks only version 2 to its proxies.
 */
#ifndef PARLEY_PROXY_V2_H
#define PARLEY_PROXY_V2_H

#include <stddef.h>
#include <stdint.h>

/* The fixed part: 12-byte signature, version/command, family/transport, length. */
#define PROXY_V2_FIXED 16
/* The largest header accepted, fixed part included. */
#define PROXY_V2_MAX 2048

typedef enum {
    PROXY_V2_LOCAL = 0,        /* the proxy's own connection (health check): no client */
    PROXY_V2_PROXY = 1,        /* relayed: the addresses are the client's */
} proxy_v2_command;

typedef struct {
    proxy_v2_command command;
    int family;                /* AF_INET, AF_INET6, or AF_UNSPEC when no address applies
                                  (LOCAL, UNSPEC, AF_UNIX): use the connection's own peer */
    uint8_t src_addr[16];      /* 4 bytes for AF_INET, 16 for AF_INET6, network order */
    uint16_t src_port;         /* host order */
    size_t want;               /* when incomplete: the bytes needed in all so far */
} proxy_v2_info;

/* Looks at the `have` bytes received so far (buf holds them). Returns -1 if they are not
 * (the start of) an acceptable header; 0 if more are needed (info->want is then the total
 * to read: PROXY_V2_FIXED until the length is known, then the whole header); else the
 * header's length in bytes, with *info filled. Never reads beyond buf[have - 1]. */
long proxy_v2_parse(const uint8_t *buf, size_t have, proxy_v2_info *info);

/* Whether the bytes present could be the start of a PROXY header of either version (a
 * prefix of the v2 signature, or "PROXY " in full): used to refuse, and log, one sent by a
 * peer that is not a trusted proxy. */
int proxy_v2_looks_like_proxy(const uint8_t *buf, size_t have);

#endif
