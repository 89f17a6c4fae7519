/*
 * cidr.c: address lists for trusted_proxies (see cidr.h). Pure functions apart from the one
 * allocation of a parsed list.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t MAPPED[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Whether the bits of addr past `prefix` are all zero. */
static int host_bits_zero(const uint8_t *addr, size_t bytes, unsigned prefix)
{
    for (size_t i = 0; i < bytes; i++) {
        unsigned first = (unsigned)i * 8;
        uint8_t mask = prefix >= first + 8 ? 0xff
                       : prefix <= first  ? 0x00
                                          : (uint8_t)(0xff << (8 - (prefix - first)));
        if (addr[i] & (uint8_t)~mask) return 0;
    }
    return 1;
}

/* One entry, e.g. "10.0.0.0/8". 0 or -1 with a reason. */
static int parse_entry(const char *s, cidr_entry *e, char *err, size_t errlen)
{
    char buf[64];
    size_t n = strlen(s);
    if (n >= sizeof buf) {
        snprintf(err, errlen, "'%.40s...' is not an address", s);
        return -1;
    }
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        size_t plen = strlen(p);
        if (plen == 0 || plen > 3 || strspn(p, "0123456789") != plen) {
            snprintf(err, errlen, "'%s': bad prefix length", s);
            return -1;
        }
        prefix = strtol(p, NULL, 10);
    }
    memset(e, 0, sizeof *e);
    if (inet_pton(AF_INET, buf, e->addr) == 1) {
        e->family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
        e->family = AF_INET6;
        if (memcmp(e->addr, MAPPED, sizeof MAPPED) == 0) {  /* matched as IPv4 anyway */
            memmove(e->addr, e->addr + 12, 4);
            memset(e->addr + 4, 0, 12);
            e->family = AF_INET;
            if (prefix >= 0) prefix = prefix >= 96 ? prefix - 96 : -2;
        }
    } else {
        snprintf(err, errlen, "'%s' is not an IP address", s);
        return -1;
    }
    unsigned bits = e->family == AF_INET ? 32 : 128;
    if (prefix == -1) prefix = bits;
    if (prefix < 0 || prefix > (long)bits) {
        snprintf(err, errlen, "'%s': prefix length out of range", s);
        return -1;
    }
    e->prefix = (unsigned)prefix;
    if (!host_bits_zero(e->addr, bits / 8, e->prefix)) {
        snprintf(err, errlen, "'%s' has bits set past its prefix length", s);
        return -1;
    }
    return 0;
}

int cidr_list_parse(const char *text, cidr_list *out, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    cidr_entry tmp[CIDR_LIST_MAX];
    size_t n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        size_t len = strcspn(p, ", \t\r\n");
        char word[64];
        if (len >= sizeof word) {
            snprintf(err, errlen, "'%.40s...' is not an address", p);
            return -1;
        }
        if (n == CIDR_LIST_MAX) {
            snprintf(err, errlen, "more than %d entries", CIDR_LIST_MAX);
            return -1;
        }
        memcpy(word, p, len);
        word[len] = '\0';
        if (parse_entry(word, &tmp[n], err, errlen) != 0) return -1;
        n++;
        p += len;
    }
    if (n == 0) return 0;
    out->v = malloc(n * sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(out->v, tmp, n * sizeof *out->v);
    out->n = n;
    return 0;
}

void cidr_list_free(cidr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int in_entry(const cidr_entry *e, const uint8_t *addr)
{
    unsigned full = e->prefix / 8, rest = e->prefix % 8;
    if (memcmp(e->addr, addr, full) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (e->addr[full] & mask) == (addr[full] & mask);
}

int cidr_list_match(const cidr_list *l, int family, const uint8_t *addr)
{
    uint8_t v4[4];
    if (family == AF_INET6 && memcmp(addr, MAPPED, sizeof MAPPED) == 0) {
        memcpy(v4, addr + 12, 4);
        addr = v4;
        family = AF_INET;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family && in_entry(&l->v[i], addr)) return 1;
    return 0;
}

int cidr_list_match_ip(const cidr_list *l, const char *ip)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, ip, a) == 1) return cidr_list_match(l, AF_INET, a);
    if (inet_pton(AF_INET6, ip, a) == 1) return cidr_list_match(l, AF_INET6, a);
    return 0;
}
