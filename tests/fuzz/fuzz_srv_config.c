/*
 * fuzz_srv_config.c: libFuzzer target for parleyd's configuration parser (src/server/
 * config.c): the `key = value` file text (config_apply_text), the command line
 * (config_from_args) and HOST:PORT parsing (config_parse_listen).
 *
 * The first input byte picks the entry point; the rest is the text, or NUL-separated
 * arguments. `--config` is dropped from fuzzed command lines: it opens a file by name,
 * and the fuzzer must not read arbitrary files of the machine (the file's text goes
 * through config_apply_text, fuzzed directly). Checks beyond memory safety and leaks: a
 * failure always says why (err non-empty), a listen port is within 0-65535, and applying
 * the same text twice gives the same verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static char *dup_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static int apply_once(const char *text)
{
    server_config cfg;
    char err[256] = "";
    if (config_defaults(&cfg) != 0) abort();
    int rc = config_apply_text(&cfg, text, "fuzz.conf", err, sizeof err);
    if (rc != 0 && !err[0]) abort();
    if (rc == 0 && (cfg.listen_port < 0 || cfg.listen_port > 65535)) abort();
    config_free(&cfg);
    return rc;
}

static void fuzz_args(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 16 };
    char *text = dup_text(data, size);
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "parleyd";
    for (char *p = text; p < text + size && argc < MAX_ARGS + 1; p += strlen(p) + 1)
        if (strncmp(p, "--config", 8) != 0) argv[argc++] = p;
    argv[argc] = NULL;
    server_config cfg;
    char err[256] = "";
    config_result r = config_from_args(&cfg, argc, argv, err, sizeof err);
    if (r == CONFIG_ERROR && !err[0]) abort();
    if (r == CONFIG_OK) {
        if (cfg.listen_port < 0 || cfg.listen_port > 65535) abort();
        config_free(&cfg);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        log_set_level(LOG_ERROR);
        quiet = 1;
    }
    if (size == 0) return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    if (mode == 0) {
        char *text = dup_text(data, size);
        int a = apply_once(text), b = apply_once(text);
        if (a != b) abort();
        free(text);
    } else if (mode == 1) {
        fuzz_args(data, size);
    } else {
        char *text = dup_text(data, size);
        char *host = NULL;
        int port = -1;
        if (config_parse_listen(text, &host, &port) == 0) {
            if (!host || port < 0 || port > 65535) abort();
            free(host);
        }
        free(text);
    }
    return 0;
}
