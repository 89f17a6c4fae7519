/*
 * unit.h: the unit-test harness. A test file defines TEST(name) functions and lists them in
 * main() via RUN(name); CHECK() records a failure with file:line and goes on. Each binary
 * prints "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef PARLEY_UNIT_H
#define PARLEY_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_passed, unit_failed;

#define TEST(name) static void name(void)
#define CHECK(cond) do { if (!(cond)) { unit_failed_checks++; \
    fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { \
    unit_failed_checks++; fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", \
    __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); if (!_a || !_b || strcmp(_a, _b)) { \
    unit_failed_checks++; fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", \
    __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)
#define RUN(name) do { int _before = unit_failed_checks; name(); \
    if (unit_failed_checks == _before) unit_passed++; \
    else { unit_failed++; fprintf(stderr, "FAIL %s\n", #name); } } while (0)
#define UNIT_DONE(suite) (printf("%s: %d passed, %d failed\n", suite, unit_passed, unit_failed), \
    unit_failed ? 1 : 0)
#endif
