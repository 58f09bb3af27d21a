/*
 * fail.c — how a run fails, and the thread-local current worker.
 *
 * A run-time error (dfc_fail from generated code or builtins, a malformed
 * batch, a source or sink error) prints one line,
 *     <prog>: error: step '<step id>': <message>
 * marks the process context as aborted (only the first failure prints), and
 * longjmps to the worker's loop (the jmp_buf lives in the worker and is set
 * by the worker thread).  The loop then flushes the complete lines in its
 * sink buffers and stops; the other workers see the flag and stop too.
 *
 * The one piece of hidden mutable state in the runtime is here: the
 * thread-local pointer to the worker running on this thread, which lets
 * dfc_alloc (for extern C functions) find the worker's arena.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static _Thread_local dfc_worker *current_worker;

void dfci_set_current(dfc_worker *w) { current_worker = w; }
dfc_worker *dfci_current(void) { return current_worker; }

void *dfc_alloc(size_t n)
{
    dfc_worker *w = current_worker;
    if (!w) dfci_bug("dfc_alloc called outside a worker thread");
    return dfc_arena_alloc(&w->arena, n);
}

void dfci_bug(const char *fmt, ...)
{
    char msg[DFCI_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dfc: internal error: %s\n", msg);
    abort();
}

/* Writes a whole line to stderr with one write so that lines of different
 * threads do not mix. */
static void write_line(const char *line)
{
    fflush(stderr);
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t k = write(STDERR_FILENO, line, n);
        if (k <= 0) return;
        line += k;
        n -= (size_t)k;
    }
}

bool dfci_abort(dfci_proc *p, const char *msg)
{
    if (atomic_exchange(&p->aborted, 1) != 0) return false;
    char line[DFCI_ERRLEN + 128];
    snprintf(line, sizeof line, "%s: error: %s\n", p->prog, msg);
    write_line(line);
    /* Wake every local worker so that it sees the flag at once. */
    for (int i = 0; i < p->workers_per_process && p->inboxes; i++)
        dfci_inbox_wake(&p->inboxes[i]);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    if (p->remote && p->remote->abort) p->remote->abort(p->remote_ctx, msg);
    return true;
}

/* Common end of every failure: mark, print, jump. */
static DFC_NORETURN void fail_with(dfc_worker *w, const char *msg)
{
    if (!w) w = current_worker;
    if (!w || !w->rt || !w->rt->proc) {
        /* No run to stop (a builtin called outside a worker): plain exit. */
        char line[DFCI_ERRLEN + 32];
        snprintf(line, sizeof line, "dfc: error: %s\n", msg);
        write_line(line);
        exit(1);
    }
    dfci_worker *rt = w->rt;
    dfci_abort(rt->proc, msg);
    if (!rt->jb_set) dfci_bug("failure with no recovery point: %s", msg);
    longjmp(rt->jb, 1);
}

static const char *step_name(dfc_worker *w, int step)
{
    if (!w) w = current_worker;
    if (!w || !w->rt || !w->rt->proc) return "?";
    const dfc_flow *f = w->rt->proc->flow;
    if (step < 0 || step >= f->nsteps || !f->step_ids) return "?";
    return f->step_ids[step];
}

static void fail_step_v(dfc_worker *w, int step, const char *fmt, va_list ap)
{
    char text[DFCI_ERRLEN], msg[DFCI_ERRLEN + 256];
    vsnprintf(text, sizeof text, fmt, ap);
    snprintf(msg, sizeof msg, "step '%s': %s", step_name(w, step), text);
    fail_with(w, msg);
}

void dfc_fail(dfc_worker *w, const char *fmt, ...)
{
    if (!w) w = current_worker;
    va_list ap;
    va_start(ap, fmt);
    fail_step_v(w, w ? w->cur_step : -1, fmt, ap);
    va_end(ap);
    abort(); /* not reached */
}

void dfci_fail_step(dfc_worker *w, int step, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_step_v(w, step, fmt, ap);
    va_end(ap);
    abort(); /* not reached */
}

void dfci_fail_run(dfc_worker *w, const char *fmt, ...)
{
    char msg[DFCI_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_with(w, msg);
}

void dfc_reader_fail(dfc_reader *r)
{
    dfc_worker *w = r->w ? r->w : current_worker;
    dfc_fail(w, "malformed batch: an item runs past the end of the received data");
}
