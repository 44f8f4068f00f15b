/* The thread-local error message behind host->error.
 * A failing call sets the message and returns a negative DLH_E* code; each
 * caller up the chain may add context in front with dlh_error_prefix. */
#ifndef DLHOST_CORE_ERROR_H
#define DLHOST_CORE_ERROR_H

#include <stdarg.h>

#include <dlhost/host.h>

/* Replaces the message. */
void dlh_error_set(const char *fmt, ...) DLH_PRINTF(1, 2);
void dlh_error_setv(const char *fmt, va_list ap);
/* Puts "<text>" in front of the current message (no separator added). */
void dlh_error_prefix(const char *fmt, ...) DLH_PRINTF(1, 2);
/* The current message ("" when none); valid until the next set/clear. */
const char *dlh_error_get(void);
void dlh_error_clear(void);

/* Log lines: level filter (default DLH_LOG_INFO), stderr for warn/error. */
void dlh_log(int level, const char *fmt, ...) DLH_PRINTF(2, 3);
void dlh_log_set_level(int level);

#endif
