/*
 * args.c: option and value parsing for the `parley` commands.
 *
 * Commands take positionals and long options in any order (`send @bob hi --ttl 5m`), so one
 * small parser serves all of them instead of getopt_long, whose global state and argument
 * permutation rules make per-subcommand parsing awkward. Values are checked strictly: ids
 * are positive decimal integers with nothing around them, because a script passing "12abc"
 * or "-1" has a bug we should report rather than guess at.
 */
#include <string.h>

#include "cli.h"

static cli_opt *find_opt(cli_opt *opts, size_t nopts, const char *name, size_t len)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(cli_ctx *ctx, const char *cmd, int argc, char **argv, cli_opt *opts,
              size_t nopts, int *npos)
{
    int w = 0, only_positionals = 0;
    for (size_t i = 0; i < nopts; i++)
        opts[i].value = NULL;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_positionals || a[0] != '-' || a[1] == '\0') {
            argv[w++] = a;   /* w <= i: never overwrites an argument not yet read */
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positionals = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help_command(stdout, cmd);
            return 1;
        }
        if (a[1] != '-') {
            /* A lone dash word like "-5" or ":-)" is text, not an option. */
            argv[w++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = find_opt(opts, nopts, name, len);
        if (!o) {
            /* Global options may follow the command too (`parley receive --json`). */
            int rc = cli_take_global(ctx, argc, argv, &i);
            if (rc > 0)
                return rc;
            if (rc == 0)
                continue;
            return cli_usage(ctx, cmd, "unknown option '%.*s' (text starting with '--' "
                             "goes after a '--' argument)", (int)(len + 2), a);
        }
        if (o->value)
            return cli_usage(ctx, cmd, "option --%s given twice", o->name);
        if (!o->takes_value) {
            if (eq)
                return cli_usage(ctx, cmd, "option --%s takes no value", o->name);
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return cli_usage(ctx, cmd, "option --%s needs a value", o->name);
        }
    }
    *npos = w;
    return 0;
}

/* Unsigned decimal digits only: strtoll alone would accept "+5", " 5" and "5 ". */
static int parse_digits(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s)
        return -1;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cli_parse_id(const char *s, int64_t *out)
{
    unsigned long long v;
    if (parse_digits(s, INT64_MAX, &v) != 0 || v == 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int cli_parse_range(const char *s, long long min, long long max, long long *out)
{
    unsigned long long v;
    if (min < 0 || max < min)
        return -1;   /* the CLI has no negative-valued options */
    if (parse_digits(s, (unsigned long long)max, &v) != 0 || (long long)v < min)
        return -1;
    *out = (long long)v;
    return 0;
}

int cli_parse_duration(const char *s, int allow_off, uint32_t max, uint32_t *out)
{
    if (!s || !*s)
        return -1;
    if (allow_off && strcmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }
    size_t len = strlen(s);
    unsigned long long unit = 1;
    switch (s[len - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 604800; break;
    default: unit = 0; break;   /* no suffix: plain seconds */
    }
    char digits[32];
    size_t dlen = unit ? len - 1 : len;
    if (dlen == 0 || dlen >= sizeof digits)
        return -1;
    memcpy(digits, s, dlen);
    digits[dlen] = '\0';
    unsigned long long v;
    if (parse_digits(digits, UINT32_MAX, &v) != 0)
        return -1;
    if (!unit)
        unit = 1;
    if (v > max / unit)
        return -1;
    *out = (uint32_t)(v * unit);
    return 0;
}
