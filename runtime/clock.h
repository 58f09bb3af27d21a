/*
 * clock.h — monotonic time for timeouts, shared by the dataflow layer and
 * the communication layer: now in milliseconds, and the absolute time ms
 * from now that pthread_cond_timedwait takes (on a CLOCK_MONOTONIC
 * condition variable).
 */
#ifndef DFC_CLOCK_H
#define DFC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t dfci_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline struct timespec dfci_clock_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
