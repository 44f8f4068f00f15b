/* Thread-local error messages and the log. */
#include "error.h"

#include <stdio.h>
#include <string.h>

#define DLH_ERROR_MAX 4096

static _Thread_local char error_buf[DLH_ERROR_MAX];
static int log_level = DLH_LOG_INFO;

void dlh_error_setv(const char *fmt, va_list ap)
{
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
}

void dlh_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dlh_error_setv(fmt, ap);
    va_end(ap);
}

void dlh_error_prefix(const char *fmt, ...)
{
    char prefix[1024], old[DLH_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    size_t np = strlen(prefix), no = strlen(old);
    if (np > sizeof error_buf - 1)
        np = sizeof error_buf - 1;
    if (no > sizeof error_buf - 1 - np)
        no = sizeof error_buf - 1 - np;
    memcpy(error_buf, prefix, np);
    memcpy(error_buf + np, old, no);
    error_buf[np + no] = '\0';
}

const char *dlh_error_get(void)
{
    return error_buf;
}

void dlh_error_clear(void)
{
    error_buf[0] = '\0';
}

void dlh_log_set_level(int level)
{
    log_level = level;
}

void dlh_log(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "", "debug" };
    if (level > log_level)
        return;
    FILE *f = level <= DLH_LOG_WARN ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    if (level != DLH_LOG_INFO)
        fprintf(f, "dlhost: %s: ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}
