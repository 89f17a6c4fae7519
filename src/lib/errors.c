/*
 * errors.c: how libparley reports failures. Every public call returns 0 or -code and fills
 * the caller's parley_error; these helpers keep that uniform. Server errors keep the
 * server's code and message (the server is the authority on what went wrong).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib.h"

const char *parley_code_name(int code)
{
    if (code < 0)
        code = -code;
    switch (code) {
    case PARLEY_OK: return "OK";
    case PARLEY_E_BAD_REQUEST: return "BAD_REQUEST";
    case PARLEY_E_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
    case PARLEY_E_UNKNOWN_REQUEST: return "UNKNOWN_REQUEST";
    case PARLEY_E_NOT_AUTHENTICATED: return "NOT_AUTHENTICATED";
    case PARLEY_E_ALREADY_AUTHENTICATED: return "ALREADY_AUTHENTICATED";
    case PARLEY_E_INVALID_CREDENTIALS: return "INVALID_CREDENTIALS";
    case PARLEY_E_USERNAME_INVALID: return "USERNAME_INVALID";
    case PARLEY_E_USERNAME_TAKEN: return "USERNAME_TAKEN";
    case PARLEY_E_PASSWORD_INVALID: return "PASSWORD_INVALID";
    case PARLEY_E_FLOOD_WAIT: return "FLOOD_WAIT";
    case PARLEY_E_USER_NOT_FOUND: return "USER_NOT_FOUND";
    case PARLEY_E_CHAT_NOT_FOUND: return "CHAT_NOT_FOUND";
    case PARLEY_E_MESSAGE_NOT_FOUND: return "MESSAGE_NOT_FOUND";
    case PARLEY_E_FORBIDDEN: return "FORBIDDEN";
    case PARLEY_E_TEXT_INVALID: return "TEXT_INVALID";
    case PARLEY_E_TOO_LARGE: return "TOO_LARGE";
    case PARLEY_E_LIMIT_REACHED: return "LIMIT_REACHED";
    case PARLEY_E_SESSION_TERMINATED: return "SESSION_TERMINATED";
    case PARLEY_E_INTERNAL: return "INTERNAL";
    case PARLEY_E_BUSY: return "BUSY";
    case PARLEY_E_TITLE_INVALID: return "TITLE_INVALID";
    case PARLEY_E_DEVICE_NOT_FOUND: return "DEVICE_NOT_FOUND";
    case PARLEY_E_IDENTITY_KEY_CHANGED: return "IDENTITY_KEY_CHANGED";
    case PARLEY_E_KEYS_INVALID: return "KEYS_INVALID";
    case PARLEY_E_ARGUMENT: return "ARGUMENT";
    case PARLEY_E_CONNECT: return "CONNECT";
    case PARLEY_E_TLS_UNTRUSTED: return "TLS_UNTRUSTED";
    case PARLEY_E_TIMEOUT: return "TIMEOUT";
    case PARLEY_E_PROFILE: return "PROFILE";
    case PARLEY_E_NO_SESSION: return "NO_SESSION";
    case PARLEY_E_PROTOCOL: return "PROTOCOL";
    case PARLEY_E_NOMEM: return "NOMEM";
    case PARLEY_E_CHAT_CLOSED: return "CHAT_CLOSED";
    default: return "UNKNOWN";
    }
}

int pl_err(parley_error *err, int code, const char *fmt, ...)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return -code;
}

int pl_err_server(parley_error *err, const Parley__Error *e)
{
    int code = e && e->code > 0 ? (int)e->code : PARLEY_E_INTERNAL;
    if (err) {
        memset(err, 0, sizeof(*err));
        err->code = code;
        /* The server's own words; they never contain secrets (parley.proto). */
        const char *msg = e && e->message && e->message[0] ? e->message : parley_code_name(code);
        snprintf(err->message, sizeof(err->message), "%s", msg);
        err->retry_after = e ? e->retry_after : 0;
    }
    return -code;
}

int pl_err_copy(parley_error *dst, const parley_error *src)
{
    if (dst && dst != src)
        *dst = *src;
    return -src->code;
}
