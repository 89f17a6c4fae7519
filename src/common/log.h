/*
 * log.h: levelled logging to stderr for parleyd and the tools. Never pass a password, token,
 * key or message text to these functions: logs are for operators, not for content.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Messages below `level` are dropped. Set once at start-up, before threads exist. */
void log_set_level(log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_parse_level(const char *s);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
