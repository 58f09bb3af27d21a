/*
 * progress.c — frontiers: what each worker knows about the epochs still to
 * come on each channel, when a channel's eof runs, and what each worker
 * announces to the others.
 *
 * Input side: in_front[c][from] is the last frontier producer `from`
 * announced on channel c; in_min[c] (the min over all producers) is this
 * worker's input frontier.  Since messages from one producer arrive in
 * order, reaching frontier F means every item of an epoch < F on c has
 * been received.  When in_min[c] reaches INT64_MAX, channels[c].eof runs.
 *
 * Output side: this worker's frontier on channel c is
 *     min(source epoch, or INT64_MAX once its sources are exhausted;
 *         for each upstream channel u: INT64_MAX if eof(u) ran, else in_min[u])
 * and is announced (after flushing c's outbufs) to every worker, itself
 * included, whenever it rises.
 */
#include <stdlib.h>

#include "internal.h"

int dfci_progress_init(dfci_worker *rt, char *err, size_t errlen)
{
    const dfc_flow *f = rt->proc->flow;
    size_t nc = (size_t)f->nchannels, T = (size_t)rt->proc->total_workers;
    rt->in_front = calloc(nc * T + 1, sizeof *rt->in_front);
    rt->in_min = calloc(nc + 1, sizeof *rt->in_min);
    rt->announced = calloc(nc + 1, sizeof *rt->announced);
    rt->eof_done = calloc(nc + 1, sizeof *rt->eof_done);
    if (!rt->in_front || !rt->in_min || !rt->announced || !rt->eof_done) {
        snprintf(err, errlen, "out of memory for progress tracking");
        dfci_progress_free(rt);
        return -1;
    }
    /* Epochs start at 1: nothing below 1 is ever sent. */
    for (size_t i = 0; i < nc * T; i++) rt->in_front[i] = 1;
    for (size_t c = 0; c < nc; c++) rt->in_min[c] = rt->announced[c] = 1;
    rt->eofs_left = rt->open_out = f->nchannels;
    return 0;
}

void dfci_progress_free(dfci_worker *rt)
{
    free(rt->in_front);
    free(rt->in_min);
    free(rt->announced);
    free(rt->eof_done);
    rt->in_front = rt->in_min = rt->announced = NULL;
    rt->eof_done = NULL;
}

/* Hook: every epoch < frontier is complete on chan at this worker.
 * Recovery snapshots and windows will hang off it (proc->epoch_hook). */
void dfci_epoch_complete(dfc_worker *w, int chan, int64_t frontier)
{
    dfci_proc *p = w->rt->proc;
    if (p->epoch_hook) p->epoch_hook(w, chan, frontier, p->epoch_ctx);
}

void dfci_progress_recv(dfc_worker *w, int chan, int from, int64_t frontier)
{
    dfci_worker *rt = w->rt;
    int T = w->total_workers;
    int64_t *fr = &rt->in_front[(size_t)chan * (size_t)T];
    if (frontier < fr[from])
        dfci_bug("worker %d lowered its frontier on channel %d from %lld to %lld", from, chan,
                 (long long)fr[from], (long long)frontier);
    if (frontier == fr[from]) return;
    int64_t old = fr[from];
    fr[from] = frontier;
    if (frontier != DFCI_FRONTIER_DONE && frontier > rt->max_epoch) rt->max_epoch = frontier;
    if (old != rt->in_min[chan]) return; /* the minimum cannot have moved */
    int64_t m = DFCI_FRONTIER_DONE;
    for (int i = 0; i < T; i++)
        if (fr[i] < m) m = fr[i];
    if (m > rt->in_min[chan]) {
        rt->in_min[chan] = m;
        dfci_epoch_complete(w, chan, m);
    }
}

bool dfci_progress_run_eofs(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    const dfc_flow *f = rt->proc->flow;
    bool ran = false;
    if (rt->eofs_left == 0) return false;
    for (int c = 0; c < f->nchannels; c++) {
        if (rt->eof_done[c] || rt->in_min[c] != DFCI_FRONTIER_DONE) continue;
        if (f->channels[c].eof) {
            /* Items made at end of input carry the greatest epoch known
             * here, which is at or above every frontier announced on the
             * channels downstream of c. */
            dfci_set_epoch(w, rt->max_epoch);
            w->cur_step = f->channels[c].step;
            f->channels[c].eof(w);
            dfc_arena_reset(&w->arena);
        }
        rt->eof_done[c] = true;
        rt->eofs_left--;
        ran = true;
    }
    return ran;
}

static int64_t out_frontier(const dfci_worker *rt, const dfc_channel_desc *ch)
{
    int64_t f = rt->src_live > 0 ? rt->src_epoch : DFCI_FRONTIER_DONE;
    for (int i = 0; i < ch->nupstream; i++) {
        int u = ch->upstream[i];
        int64_t t = rt->eof_done[u] ? DFCI_FRONTIER_DONE
                    : rt->in_min[u] < DFCI_FRONTIER_DONE ? rt->in_min[u]
                                                         : DFCI_FRONTIER_DONE - 1;
        if (t < f) f = t;
    }
    return f;
}

bool dfci_progress_announce(dfc_worker *w)
{
    dfci_worker *rt = w->rt;
    const dfc_flow *f = rt->proc->flow;
    bool sent = false;
    if (rt->open_out == 0) return false;
    for (int c = 0; c < f->nchannels; c++) {
        int64_t fr = out_frontier(rt, &f->channels[c]);
        if (fr <= rt->announced[c]) continue;
        dfci_flush_chan(w, c);
        rt->announced[c] = fr;
        if (fr == DFCI_FRONTIER_DONE) rt->open_out--;
        for (int d = 0; d < w->total_workers; d++)
            dfci_send(w, dfci_msg_progress(c, w->index, d, fr));
        sent = true;
    }
    return sent;
}

bool dfci_progress_done(const dfci_worker *rt)
{
    return rt->src_live == 0 && rt->eofs_left == 0 && rt->open_out == 0;
}
