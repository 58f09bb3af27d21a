/*
 * errors.c — dfci_errf (io.h): a printf-style message into a caller's error
 * buffer, for the sources and sinks.
 */
#include <stdarg.h>
#include <stdio.h>

#include "io.h"

void dfci_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
