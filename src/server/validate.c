/*
 * validate.c: input limits from the protocol (see validate.h). Strict UTF-8 checking is
 * delegated to src/common/utf8.c so the client library applies exactly the same rules.
 */
#include "validate.h"
#include "utf8.h"

#include <string.h>

int valid_username(char *name)
{
    size_t n = strlen(name);
    if (n < USERNAME_MIN || n > USERNAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch >= 'A' && ch <= 'Z') name[i] = (char)(ch - 'A' + 'a');
    }
    if (name[0] < 'a' || name[0] > 'z') return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int valid_password(const char *pw)
{
    size_t n = strlen(pw);
    return n >= PASSWORD_MIN && n <= PASSWORD_MAX;
}

int valid_device(const char *dev)
{
    return dev[0] == '\0' || valid_text(dev, DEVICE_MAX);
}

int valid_text(const char *s, long max_chars)
{
    size_t n = strlen(s);
    if (n == 0 || n > (size_t)max_chars * 4) return 0;
    long chars = utf8_count(s, n);
    return chars >= 1 && chars <= max_chars;
}

int valid_ttl(uint32_t seconds)
{
    return seconds <= TTL_MAX;
}
