/*
 * utf8.h: strict UTF-8 validation, shared by parleyd (which must reject bad text before it is
 * stored) and libparley (which checks before sending, to give a local error).
 */
#ifndef PARLEY_UTF8_H
#define PARLEY_UTF8_H
#include <stddef.h>

/* Returns the number of code points in s[0..len) if it is valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF, no NUL), or -1. */
long utf8_count(const char *s, size_t len);

#endif
