/*
 * worker.c — worker threads: setting a worker up and tearing it down, and
 * the loop every worker runs until its part of the flow is done.
 *
 * One turn of the loop:
 *   1. drain the inbox: DATA runs the channel's recv at the message's epoch,
 *      PROGRESS raises the input frontier of (channel, producer);
 *   2. run the eof of every channel whose input frontier reached INT64_MAX;
 *   3. announce output frontiers that rose (progress.c);
 *   4. read one batch from the next live source, unless a destination's
 *      inbox is over the limit (backpressure);
 *   5. if nothing happened: flush every outbuf, then sleep on the inbox.
 * The worker is done when its sources are exhausted, every eof has run and
 * INT64_MAX was announced on every channel.  A failure (dfc_fail) longjmps
 * back to the thread function, which stops the loop; either way the sink
 * buffers are flushed (complete lines only) before the thread ends.
 */
#include <stdlib.h>

#include "internal.h"

dfci_sink_local *dfci_worker_sinks(dfc_worker *w) { return w->rt->sinks; }

int dfci_worker_init(dfc_worker *w, dfci_proc *p, int local_index, char *err, size_t errlen)
{
    const dfc_flow *f = p->flow;
    memset(w, 0, sizeof *w);
    dfci_worker *rt = calloc(1, sizeof *rt);
    if (!rt) goto oom;
    w->rt = rt;
    rt->w = w;
    rt->proc = p;
    w->local_index = local_index;
    w->index = p->process_id * p->workers_per_process + local_index;
    w->total_workers = p->total_workers;
    w->route_m = UINT64_MAX / (uint64_t)p->total_workers + 1;
    w->epoch = 1;
    w->params = p->params;
    size_t nout = (size_t)f->nchannels * (size_t)p->total_workers;
    w->outbufs = calloc(nout + 1, sizeof *w->outbufs);
    w->outcounts = calloc(nout + 1, sizeof *w->outcounts);
    w->rr = calloc((size_t)f->nchannels + 1, sizeof *w->rr);
    rt->src = calloc((size_t)f->nsources + 1, sizeof *rt->src);
    rt->src_done = calloc((size_t)f->nsources + 1, sizeof *rt->src_done);
    if (!w->outbufs || !w->outcounts || !w->rr || !rt->src || !rt->src_done) goto oom;
    rt->src_epoch = 1;
    rt->max_epoch = 1;
    if (dfci_progress_init(rt, err, errlen) != 0) {
        dfci_worker_destroy(w);
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory setting up worker %d", local_index);
    dfci_worker_destroy(w);
    return -1;
}

void dfci_worker_destroy(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    if (rt) {
        const dfc_flow *f = rt->proc->flow;
        if (w->outbufs) {
            size_t nout = (size_t)f->nchannels * (size_t)w->total_workers;
            for (size_t i = 0; i < nout; i++) dfc_buf_free(&w->outbufs[i]);
        }
        if (rt->src) {
            for (int i = 0; i < f->nsources; i++)
                if (rt->src[i]) dfci_source_close(rt->src[i]);
        }
        if (rt->sinks) dfci_sink_local_free(rt->sinks);
        dfci_progress_free(rt);
        free(rt->src);
        free(rt->src_done);
        free(rt);
    }
    free(w->outbufs);
    free(w->outcounts);
    free(w->rr);
    dfc_buf_free(&w->scratch);
    dfc_arena_free(&w->arena);
    memset(w, 0, sizeof *w);
}

uint64_t dfc_table_seed(const dfc_worker *w, int table)
{
    return w->rt->proc->table_seed ^ ((uint64_t)(uint32_t)w->index << 32) ^ (uint32_t)table;
}

void dfci_set_epoch(dfc_worker *w, int64_t epoch)
{
    if (w->epoch == epoch) return;
    dfci_flush_all(w); /* a message carries one epoch */
    w->epoch = epoch;
}

/* Opens this worker's share of every source and its sink buffers, and
 * makes the flow's per-worker state. */
static void worker_open(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    dfci_proc *p = rt->proc;
    const dfc_flow *f = p->flow;
    char err[DFCI_ERRLEN];
    for (int i = 0; i < f->nsources; i++) {
        dfci_chunking chunks = {p->process_id, p->processes, p->workers_per_process,
                                p->source_taken ? &p->source_taken[i] : NULL, 0};
        rt->src[i] = dfci_source_open(&f->sources[i], &p->source_args[i], w->index,
                                      w->total_workers, &chunks, err, sizeof err);
        if (!rt->src[i]) dfci_fail_step(w, f->sources[i].step, "%s", err);
        rt->src_live++;
    }
    if (p->sinks) {
        rt->sinks = dfci_sink_local_new(p->sinks, w->index, err, sizeof err);
        if (!rt->sinks) dfci_fail_run(w, "%s", err);
    }
    rt->epoch_deadline = dfci_clock_ms() + p->epoch_interval_ms;
    if (f->state_new) w->state = f->state_new(w);
}

/* Step 1: every message in the inbox, in order.  The taken list stays in
 * rt->pending (the message being processed first) so that a failure in
 * recv can free what was not processed. */
static bool drain_inbox(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    dfci_proc *p = rt->proc;
    const dfc_flow *f = p->flow;
    rt->pending = dfci_inbox_take(&p->inboxes[w->local_index]);
    if (!rt->pending) return false;
    dfci_msg *m;
    while ((m = rt->pending) != NULL) {
        if (m->kind == DFCI_MSG_DATA) {
            size_t fi = (size_t)m->chan * (size_t)w->total_workers + (size_t)m->from;
            if (m->epoch < rt->in_front[fi])
                dfci_bug("worker %d sent epoch %lld on channel %d below its frontier %lld",
                         m->from, (long long)m->epoch, m->chan, (long long)rt->in_front[fi]);
            if (m->epoch > rt->max_epoch) rt->max_epoch = m->epoch;
            dfci_set_epoch(w, m->epoch);
            const dfc_channel_desc *ch = &f->channels[m->chan];
            w->cur_step = ch->step;
            dfc_reader r = {m->data, m->data + m->len, w};
            ch->recv(w, &r, m->count);
            if (r.p != r.end)
                dfc_fail(w, "malformed batch: %zu bytes left after %u items",
                         (size_t)(r.end - r.p), m->count);
            dfc_arena_reset(&w->arena);
        } else if (m->kind == DFCI_MSG_PROGRESS) {
            dfci_progress_recv(w, m->chan, m->from, m->epoch);
        } else {
            dfci_bug("message of unknown kind %d", m->kind);
        }
        rt->pending = m->next;
        dfci_msg_free(m);
    }
    return true;
}

/* Step 4: one batch from the next live source (round robin). */
static void read_source(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    const dfc_flow *f = rt->proc->flow;
    int n = f->nsources;
    int i = rt->src_next;
    while (rt->src_done[i]) i = (i + 1) % n;
    rt->src_next = (i + 1) % n;
    dfci_set_epoch(w, rt->src_epoch);
    w->cur_step = f->sources[i].step;
    char err[DFCI_ERRLEN];
    int rc = dfci_source_next(rt->src[i], w, err, sizeof err);
    dfc_arena_reset(&w->arena);
    if (rc < 0) dfci_fail_step(w, f->sources[i].step, "%s", err);
    if (rc == 0) {
        rt->src_done[i] = true;
        rt->src_live--;
    }
}

/* Advances the source epoch when its interval has passed. */
static void tick_epoch(dfci_worker *rt)
{
    if (rt->src_live == 0) return;
    int64_t now = dfci_clock_ms();
    if (now < rt->epoch_deadline) return;
    rt->src_epoch++;
    if (rt->src_epoch > rt->max_epoch) rt->max_epoch = rt->src_epoch;
    rt->epoch_deadline = now + rt->proc->epoch_interval_ms;
}

static void worker_loop(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    dfci_proc *p = rt->proc;
    for (;;) {
        if (dfci_aborted(p)) return;
        bool busy = drain_inbox(w);
        busy |= dfci_progress_run_eofs(w);
        tick_epoch(rt);
        busy |= dfci_progress_announce(w);
        if (dfci_progress_done(rt)) break;
        bool held = false;
        if (rt->src_live > 0) {
            held = dfci_backpressured(w);
            if (!held) {
                read_source(w);
                busy = true;
            }
        }
        if (!busy) {
            if (dfci_flush_out(w)) continue;
            dfci_inbox_wait(&p->inboxes[w->local_index],
                            held ? DFCI_BACKPRESSURE_WAIT_MS : DFCI_IDLE_WAIT_MS);
        }
    }
    dfci_flush_all(w);
}

static void finish_sinks(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    char err[DFCI_ERRLEN];
    if (!rt->sinks) return;
    if (dfci_sink_local_flush(rt->sinks, err, sizeof err) != 0) dfci_abort(rt->proc, err);
    dfci_sink_local_free(rt->sinks); /* before dfc_main closes the sinks */
    rt->sinks = NULL;
}

/* The thread function.  Everything that must survive the longjmp of a
 * failure lives in *w, not in locals. */
void *dfci_worker_thread(void *arg)
{
    dfc_worker *w = arg;
    dfci_worker *rt = w->rt;
    dfci_proc *p = rt->proc;
    dfci_set_current(w);
    if (setjmp(rt->jb) == 0) {
        rt->jb_set = true;
        worker_open(w);
        worker_loop(w);
    } else {
        /* Messages taken from the inbox but not processed. */
        while (rt->pending) {
            dfci_msg *next = rt->pending->next;
            dfci_msg_free(rt->pending);
            rt->pending = next;
        }
    }
    rt->jb_set = false; /* a failure from here on has nowhere to go */
    finish_sinks(w);
    if (w->state && p->flow->state_free) p->flow->state_free(w, w->state);
    w->state = NULL;
    dfci_set_current(NULL);
    pthread_mutex_lock(&p->mu);
    p->running--;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
