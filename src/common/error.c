/* error.c: status names, the per-thread last-error message, and logging. */
#include "common/common.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *fr_last_error(void) { return last_error; }

const char *fr_version(void) { return FACEREC_VERSION_STRING; }

const char *fr_status_name(fr_status status) {
    switch (status) {
    case FR_OK: return "ok";
    case FR_E_ARG: return "invalid argument";
    case FR_E_IO: return "i/o error";
    case FR_E_FORMAT: return "malformed data";
    case FR_E_LIMIT: return "size limit exceeded";
    case FR_E_NOMEM: return "out of memory";
    case FR_E_MODEL: return "model error";
    case FR_E_UNSUPPORTED: return "unsupported";
    case FR_E_DB: return "database error";
    case FR_E_NOT_FOUND: return "not found";
    case FR_E_MISMATCH: return "mismatch";
    case FR_E_NO_FACE: return "no face";
    case FR_E_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

fr_status fr_error(fr_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

fr_status fr_error_prefix(fr_status status, const char *fmt, ...) {
    char previous[sizeof last_error];
    memcpy(previous, last_error, sizeof previous);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof last_error)
        snprintf(last_error + n, sizeof last_error - (size_t)n, ": %.*s",
                 (int)(sizeof last_error - (size_t)n), previous);
    return status;
}

/* Set once before use (documented in facerec.h), then only read. */
static fr_log_fn log_fn;
static fr_log_level log_min_level = FR_LOG_INFO;
static void *log_user;

void fr_set_log(fr_log_fn fn, fr_log_level min_level, void *user) {
    log_fn = fn;
    log_min_level = min_level;
    log_user = user;
}

void fr_log(fr_log_level level, const char *fmt, ...) {
    if (!log_fn || level < log_min_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}
