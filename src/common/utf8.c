/*
 * utf8.c: strict UTF-8 validation (RFC 3629, section 4 syntax). Written out rather than taken
 * from a library because it is the one check every text field passes through and none of our
 * dependencies exposes one.
 */
#include "utf8.h"

#include <stdint.h>

/* Length of the sequence a lead byte starts, with the allowed range of the second byte, per
 * RFC 3629's table: this rejects overlong forms (E0 80..9F, F0 80..8F), surrogates
 * (ED A0..BF) and code points past U+10FFFF (F4 90.., F5..FF) in one place. */
static int lead_info(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80; *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b == 0xE0) { *lo = 0xA0; return 3; }
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return 3;
    if (b == 0xED) { *hi = 0x9F; return 3; }
    if (b == 0xF0) { *lo = 0x90; return 4; }
    if (b >= 0xF1 && b <= 0xF3) return 4;
    if (b == 0xF4) { *hi = 0x8F; return 4; }
    return 0;
}

long utf8_count(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    long n = 0;
    while (p < end) {
        uint8_t b = *p;
        if (b < 0x80) {
            if (b == 0) return -1;
            p++;
        } else {
            uint8_t lo, hi;
            int k = lead_info(b, &lo, &hi);
            if (k == 0 || end - p < k) return -1;
            if (p[1] < lo || p[1] > hi) return -1;
            for (int i = 2; i < k; i++)
                if (p[i] < 0x80 || p[i] > 0xBF) return -1;
            p += k;
        }
        n++;
    }
    return n;
}
