/*
 * proxy_v2.c: the PROXY protocol version 2 header parser (see proxy_v2.h). Written from the
 * specification (HAProxy's doc/proxy-protocol.txt, section 2.2); every length is checked
 * against what is present before it is used.
 */
#include "proxy_v2.h"

#include <string.h>
#include <sys/socket.h>

static const uint8_t SIG[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* Family (high nibble of byte 14) -> bytes its addresses and ports need; -1 = undefined. */
static long family_block(uint8_t fam)
{
    switch (fam >> 4) {
    case 0x0: return 0;        /* AF_UNSPEC */
    case 0x1: return 12;       /* 2 x 4 address bytes + 2 x 2 port bytes */
    case 0x2: return 36;       /* 2 x 16 + 2 x 2 */
    case 0x3: return 216;      /* 2 x 108 (AF_UNIX paths) */
    default: return -1;
    }
}

static int known_transport(uint8_t fam)
{
    return (fam & 0x0f) <= 0x2;  /* UNSPEC, STREAM, DGRAM */
}

long proxy_v2_parse(const uint8_t *buf, size_t have, proxy_v2_info *info)
{
    memset(info, 0, sizeof *info);
    size_t sig_have = have < sizeof SIG ? have : sizeof SIG;
    if (memcmp(buf, SIG, sig_have) != 0) return -1;
    if (have > 12 && (buf[12] >> 4) != 0x2) return -1;          /* version */
    if (have > 12 && (buf[12] & 0x0f) > PROXY_V2_PROXY) return -1;  /* command */
    if (have > 13 && (family_block(buf[13]) < 0 || !known_transport(buf[13]))) return -1;
    if (have < PROXY_V2_FIXED) {
        info->want = PROXY_V2_FIXED;
        return 0;
    }
    size_t len = ((size_t)buf[14] << 8) | buf[15];
    size_t total = PROXY_V2_FIXED + len;
    if (total > PROXY_V2_MAX) return -1;
    info->command = (proxy_v2_command)(buf[12] & 0x0f);
    long need = family_block(buf[13]);
    /* The length must cover the family's address block even for LOCAL, whose block is
     * ignored (the specification: receivers skip `len` bytes whatever the command). */
    if (info->command == PROXY_V2_PROXY && len < (size_t)need) return -1;
    if (have < total) {
        info->want = total;
        return 0;
    }
    info->family = AF_UNSPEC;
    if (info->command == PROXY_V2_PROXY && (buf[13] & 0x0f) != 0) {
        const uint8_t *a = buf + PROXY_V2_FIXED;
        if ((buf[13] >> 4) == 0x1) {
            info->family = AF_INET;
            memcpy(info->src_addr, a, 4);
            info->src_port = (uint16_t)((a[8] << 8) | a[9]);
        } else if ((buf[13] >> 4) == 0x2) {
            info->family = AF_INET6;
            memcpy(info->src_addr, a, 16);
            info->src_port = (uint16_t)((a[32] << 8) | a[33]);
        }
    }
    return (long)total;
}

int proxy_v2_looks_like_proxy(const uint8_t *buf, size_t have)
{
    static const char V1[6] = "PROXY ";
    if (have == 0) return 0;
    size_t n2 = have < sizeof SIG ? have : sizeof SIG;
    /* Version 1 only once "PROXY " is all there: a lone 'P' may be plain HTTP ("POST")
     * sent to the TLS port, which TLS refuses anyway and is no spoofing attempt. */
    return memcmp(buf, SIG, n2) == 0 || (have >= sizeof V1 && memcmp(buf, V1, sizeof V1) == 0);
}
