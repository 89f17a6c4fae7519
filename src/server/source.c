/*
 * source.c: the per-source key of a client address (see source.h for why IPv6 counts
 * by its /64).
 */
#include "source.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

char *source_key(const char *ip, char *out, size_t outlen)
{
    if (outlen == 0) return out;
    const char *s = ip ? ip : "";
    /* "[2001:db8::1]" or "2001:db8::1%eth0": strip brackets and a zone before parsing. */
    char buf[64];
    size_t n = strlen(s);
    if (n > 0 && s[0] == '[') { s++; n--; }
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *cut = strpbrk(buf, "]%");
    if (cut) *cut = '\0';

    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (!inet_ntop(AF_INET, &a4, out, (socklen_t)outlen)) out[0] = '\0';
        return out;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        static const unsigned char mapped[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };
        if (memcmp(a6.s6_addr, mapped, sizeof mapped) == 0) {
            memcpy(&a4, a6.s6_addr + 12, 4);
            if (!inet_ntop(AF_INET, &a4, out, (socklen_t)outlen)) out[0] = '\0';
            return out;
        }
        memset(a6.s6_addr + 8, 0, 8);            /* keep the /64 */
        char p[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6, p, sizeof p);
        if ((size_t)snprintf(out, outlen, "%s/64", p) >= outlen) out[0] = '\0';
        return out;
    }
    snprintf(out, outlen, "%s", s);
    return out;
}
