/*
 * errors.c — dfci_errf (io.h): a printf-style message into a caller's error
 * buffer, for the sources, the sinks and the command line; returns -1, so
 * that a failing function can `return dfci_errf(...)`.
 */
#include <stdarg.h>
#include <stdio.h>

#include "io.h"

int dfci_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
