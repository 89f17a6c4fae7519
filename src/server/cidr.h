/*
 * cidr.h: lists of IP addresses and networks ("192.0.2.10", "10.0.0.0/8", "::1",
 * "2001:db8::/32"), as the `trusted_proxies` setting names them, and matching an address
 * against such a list.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports an IPv4 peer)
 * is matched as the IPv4 address it carries.
 *
 * Memory: cidr_list_parse() allocates the list's array; cidr_list_free() releases it. No
 * other state.
 */
#ifndef PARLEY_CIDR_H
#define PARLEY_CIDR_H

#include <stddef.h>
#include <stdint.h>

/* At most this many entries in one list (a setting, not a routing table). */
#define CIDR_LIST_MAX 256

typedef struct {
    int family;                /* AF_INET or AF_INET6 */
    uint8_t addr[16];          /* network order; 4 bytes used for AF_INET */
    unsigned prefix;           /* 0-32 or 0-128 */
} cidr_entry;

typedef struct {
    cidr_entry *v;
    size_t n;
} cidr_list;

/* Parses entries separated by commas and/or spaces. An address without "/N" is the single
 * address; an entry whose host bits (those past the prefix) are not zero is refused, as it
 * is most likely a typo. An empty text is an empty list. 0, or -1 with a reason in err
 * (the list is then empty). */
int cidr_list_parse(const char *text, cidr_list *out, char *err, size_t errlen);
void cidr_list_free(cidr_list *l);

/* Whether the address (family AF_INET with 4 bytes, or AF_INET6 with 16) is in the list. */
int cidr_list_match(const cidr_list *l, int family, const uint8_t *addr);
/* The same for a numeric address string; 0 for anything that is not one. */
int cidr_list_match_ip(const cidr_list *l, const char *ip);

#endif
