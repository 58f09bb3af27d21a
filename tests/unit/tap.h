/*
 * tap.h — the TAP producer shared by the C unit tests (tests/unit/test_*.c).
 * It owns the test counters and the output format: t_ok prints one
 * "ok N - name" / "not ok N - name" line (name is printf-style), t_ok_diag
 * adds a "#   diag" line under a failure, and t_done prints the plan "1..N"
 * last and gives main's exit status (1 if any test failed).  Each line is
 * flushed, so it lands before anything the runtime writes to fd 1 or 2.
 * Everything is static, so each test binary still links on its own.
 * Helpers for one test only (stubs, EXPECT_FAIL, ...) stay in that test.
 */
#ifndef DFC_TESTS_TAP_H
#define DFC_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int t_n, t_failed;

static inline void t_vok(int cond, const char *fmt, va_list ap)
{
    printf("%s %d - ", cond ? "ok" : "not ok", ++t_n);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    if (!cond) t_failed++;
}

static inline __attribute__((format(printf, 2, 3))) void t_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t_vok(cond, fmt, ap);
    va_end(ap);
}

/* t_ok(cond, "%s", name), then, if it failed and diag is not empty, "#   diag". */
static inline void t_ok_diag(int cond, const char *name, const char *diag)
{
    t_ok(cond, "%s", name);
    if (!cond && diag && *diag) {
        fflush(stdout); /* diagnostics on stderr: prove shows them without -v */
        fprintf(stderr, "#   %s\n", diag);
        fflush(stdout);
    }
}

static inline int t_done(void)
{
    printf("1..%d\n", t_n);
    return t_failed ? 1 : 0;
}

#endif
