/*
 * stubs.h — stand-ins for the worker layer, for unit tests that link part of
 * the runtime without running workers.
 *
 * dfc_fail: by default an unexpected call aborts.  With DFC_STUB_FAIL_JUMPS
 * defined before the include, it keeps its message in fail_msg and longjmps
 * to fail_jmp, so that a test can check the messages of failing steps.
 * dfci_worker_sinks returns NULL unless DFC_STUB_OWN_SINKS is defined (the
 * test then defines it itself).
 */
#ifndef DFC_TEST_STUBS_H
#define DFC_TEST_STUBS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef DFC_STUB_FAIL_JUMPS
#include <setjmp.h>
static jmp_buf fail_jmp;
static char fail_msg[512];
void dfc_fail(dfc_worker *w, const char *fmt, ...)
{
    va_list ap;
    (void)w;
    va_start(ap, fmt);
    vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
    va_end(ap);
    longjmp(fail_jmp, 1);
}
#else
void dfc_fail(dfc_worker *w, const char *fmt, ...)
{
    (void)w;
    (void)fmt;
    fprintf(stderr, "unexpected dfc_fail\n");
    abort();
}
#endif

#ifndef DFC_STUB_OWN_SINKS
dfci_sink_local *dfci_worker_sinks(dfc_worker *w)
{
    (void)w;
    return NULL;
}
#endif

#endif
