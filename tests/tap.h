/* A small TAP producer for the C tests (automake's tap-driver reads it).
 * ok()/is_float() print one result line each; done_testing() prints the plan
 * and returns the exit status; skip_all() ends a test that cannot run here. */
#ifndef DLHOST_TESTS_TAP_H
#define DLHOST_TESTS_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n_, tap_failed_;

static inline int tap_okv_(int pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_n_++;
    printf("%s %d - ", pass ? "ok" : "not ok", tap_n_);
    vprintf(fmt, ap);
    printf("\n");
    if (!pass) {
        tap_failed_++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return pass;
}

static inline int tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_okv_(pass, file, line, fmt, ap);
    va_end(ap);
    return r;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= tol * max(1, |want|) */
#define is_float(got, want, tol, ...)                                               \
    do {                                                                            \
        double g_ = (got), w_ = (want);                                             \
        double m_ = fabs(w_) > 1.0 ? fabs(w_) : 1.0;                                \
        if (!tap_ok_(fabs(g_ - w_) <= (tol) * m_, __FILE__, __LINE__, __VA_ARGS__)) \
            printf("#   got %.9g, want %.9g\n", g_, w_);                           \
    } while (0)

#define diag(...) (printf("# " __VA_ARGS__), printf("\n"))

static inline void skip(const char *why)
{
    tap_n_++;
    printf("ok %d # SKIP %s\n", tap_n_, why);
}

static inline void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fflush(stdout);
    exit(0);
}

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n_);
    return tap_failed_ ? 1 : 0;
}

#endif
