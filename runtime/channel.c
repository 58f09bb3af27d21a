/*
 * channel.c — messages between workers: building them, the per-worker
 * inboxes, delivery (local inbox or the network seam), dfc_out_flush and
 * the backpressure test that holds back source reads.
 *
 * A DATA message is one allocation (header + payload copied out of the
 * sender's outbuf, which keeps its capacity).  An inbox is a mutex-guarded
 * FIFO whose owner takes the whole list at once; producers signal the
 * condition variable only when the owner is asleep.  `bytes` counts queued
 * payload so that producers can see a full destination without the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

/* ----------------------------------------------------------- messages */

static dfci_msg *msg_new(int kind, int chan, int from, int dest, int64_t epoch, size_t len)
{
    dfci_msg *m = dfc_heap_alloc(sizeof *m + len);
    m->next = NULL;
    m->kind = kind;
    m->chan = chan;
    m->from = from;
    m->dest = dest;
    m->epoch = epoch;
    m->count = 0;
    m->len = len;
    m->data = m->bytes;
    return m;
}

dfci_msg *dfci_msg_data(int chan, int from, int dest, int64_t epoch, uint32_t count,
                        const void *bytes, size_t len)
{
    dfci_msg *m = msg_new(DFCI_MSG_DATA, chan, from, dest, epoch, len);
    m->count = count;
    if (len) memcpy(m->bytes, bytes, len);
    return m;
}

dfci_msg *dfci_msg_data_take(int chan, int from, int dest, int64_t epoch, uint32_t count, dfc_buf *b)
{
    dfci_msg *m = msg_new(DFCI_MSG_DATA, chan, from, dest, epoch, 0);
    m->count = count;
    m->data = b->data;
    m->len = b->len;
    *b = (dfc_buf){NULL, 0, 0};
    dfc_buf_grow(b, DFC_FLUSH_BYTES + DFC_FLUSH_BYTES / 4);
    return m;
}

dfci_msg *dfci_msg_progress(int chan, int from, int dest, int64_t frontier)
{
    return msg_new(DFCI_MSG_PROGRESS, chan, from, dest, frontier, 0);
}

void dfci_msg_free(dfci_msg *m)
{
    if (m->data != m->bytes) dfc_heap_free(m->data);
    dfc_heap_free(m);
}

void dfci_msg_encode(const dfci_msg *m, dfc_buf *out)
{
    dfc_buf_grow(out, DFCI_MSG_WIRE_HEADER + m->len);
    dfc_buf_put_u8(out, (uint8_t)m->kind);
    dfc_buf_put_u32(out, (uint32_t)m->chan);
    dfc_buf_put_u32(out, (uint32_t)m->from);
    dfc_buf_put_u32(out, (uint32_t)m->dest);
    dfc_buf_put_i64(out, m->epoch);
    dfc_buf_put_u32(out, m->count);
    dfc_buf_put_u32(out, (uint32_t)m->len);
    dfc_buf_put(out, m->data, m->len);
}

dfci_msg *dfci_msg_decode(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    if (n < DFCI_MSG_WIRE_HEADER) {
        snprintf(err, errlen, "message of %zu bytes is shorter than its header", n);
        return NULL;
    }
    uint8_t kind = p[0];
    uint32_t chan, from, dest, count, len;
    int64_t epoch;
    memcpy(&chan, p + 1, 4);
    memcpy(&from, p + 5, 4);
    memcpy(&dest, p + 9, 4);
    memcpy(&epoch, p + 13, 8);
    memcpy(&count, p + 21, 4);
    memcpy(&len, p + 25, 4);
    if ((kind != DFCI_MSG_DATA && kind != DFCI_MSG_PROGRESS) || len != n - DFCI_MSG_WIRE_HEADER ||
        (kind == DFCI_MSG_PROGRESS && (len != 0 || count != 0)) || chan > INT32_MAX ||
        from > INT32_MAX || dest > INT32_MAX) {
        snprintf(err, errlen, "malformed message (kind %u, %zu bytes)", kind, n);
        return NULL;
    }
    dfci_msg *m = msg_new(kind, (int)chan, (int)from, (int)dest, epoch, len);
    m->count = count;
    if (len) memcpy(m->bytes, p + DFCI_MSG_WIRE_HEADER, len);
    return m;
}

/* ------------------------------------------------------------ inboxes */

int dfci_inbox_init(dfci_inbox *ib)
{
    ib->head = ib->tail = NULL;
    ib->waiting = false;
    atomic_init(&ib->bytes, 0);
    if (pthread_mutex_init(&ib->mu, NULL) != 0) return -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&ib->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&ib->mu);
        return -1;
    }
    return 0;
}

void dfci_inbox_destroy(dfci_inbox *ib)
{
    dfci_msg *m = ib->head;
    while (m) {
        dfci_msg *next = m->next;
        dfci_msg_free(m);
        m = next;
    }
    ib->head = ib->tail = NULL;
    pthread_cond_destroy(&ib->cv);
    pthread_mutex_destroy(&ib->mu);
}

void dfci_inbox_push(dfci_inbox *ib, dfci_msg *m)
{
    m->next = NULL;
    atomic_fetch_add_explicit(&ib->bytes, m->len, memory_order_relaxed);
    pthread_mutex_lock(&ib->mu);
    if (ib->tail) ib->tail->next = m;
    else ib->head = m;
    ib->tail = m;
    bool wake = ib->waiting;
    pthread_mutex_unlock(&ib->mu);
    if (wake) pthread_cond_signal(&ib->cv);
}

dfci_msg *dfci_inbox_take(dfci_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    dfci_msg *m = ib->head;
    ib->head = ib->tail = NULL;
    pthread_mutex_unlock(&ib->mu);
    size_t n = 0;
    for (dfci_msg *x = m; x; x = x->next) n += x->len;
    if (n) atomic_fetch_sub_explicit(&ib->bytes, n, memory_order_relaxed);
    return m;
}

void dfci_inbox_wait(dfci_inbox *ib, int timeout_ms)
{
    struct timespec ts = dfci_clock_after(timeout_ms);
    pthread_mutex_lock(&ib->mu);
    if (!ib->head) {
        ib->waiting = true;
        int rc = 0;
        while (!ib->head && ib->waiting && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&ib->cv, &ib->mu, &ts);
        ib->waiting = false;
    }
    pthread_mutex_unlock(&ib->mu);
}

void dfci_inbox_wake(dfci_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    ib->waiting = false; /* ends the wait loop even without a message */
    pthread_cond_broadcast(&ib->cv);
    pthread_mutex_unlock(&ib->mu);
}

/* ----------------------------------------------------------- delivery */

int dfci_deliver(dfci_proc *p, dfci_msg *m, char *err, size_t errlen)
{
    if (m->dest < 0 || m->dest >= p->total_workers || m->from < 0 ||
        m->from >= p->total_workers || m->chan < 0 || m->chan >= p->flow->nchannels) {
        snprintf(err, errlen, "message with bad header (channel %d, from %d, to %d)", m->chan,
                 m->from, m->dest);
        dfci_msg_free(m);
        return -1;
    }
    if (dfci_is_local(p, m->dest)) {
        dfci_inbox_push(&p->inboxes[m->dest - p->process_id * p->workers_per_process], m);
        return 0;
    }
    if (!p->remote || !p->remote->send) {
        snprintf(err, errlen, "no network layer to reach worker %d", m->dest);
        dfci_msg_free(m);
        return -1;
    }
    return p->remote->send(p->remote_ctx, m, err, errlen);
}

void dfci_send(dfc_worker *w, dfci_msg *m)
{
    char err[DFCI_ERRLEN];
    if (dfci_deliver(w->rt->proc, m, err, sizeof err) != 0) dfci_fail_run(w, "%s", err);
}

/* ------------------------------------------------------------- outbufs */

void dfc_out_flush(dfc_worker *w, int chan, int dest)
{
    size_t i = (size_t)chan * (size_t)w->total_workers + (size_t)dest;
    if (w->outcounts[i] == 0) return;
    dfci_worker *rt = w->rt;
    /* Progress promised no more items below announced[chan]. */
    if (DFC_UNLIKELY(w->epoch < rt->announced[chan]))
        dfci_bug("worker %d sends epoch %lld on channel %d after announcing frontier %lld "
                 "(is the channel's upstream list complete?)",
                 w->index, (long long)w->epoch, chan, (long long)rt->announced[chan]);
    dfci_msg *m = dfci_msg_data_take(chan, w->index, dest, w->epoch, w->outcounts[i], &w->outbufs[i]);
    w->outcounts[i] = 0;
    dfci_send(w, m);
}

/* Lets the channel's sender side hand over what it combined locally. */
static void combine_flush(dfc_worker *w, int chan)
{
    const dfc_channel_desc *c = &w->rt->proc->flow->channels[chan];
    if (c->combine_flush) c->combine_flush(w);
}

void dfci_flush_chan(dfc_worker *w, int chan)
{
    combine_flush(w, chan);
    for (int d = 0; d < w->total_workers; d++) dfc_out_flush(w, chan, d);
}

bool dfci_flush_all(dfc_worker *w)
{
    for (int c = 0; c < w->rt->proc->flow->nchannels; c++) combine_flush(w, c);
    return dfci_flush_out(w);
}

bool dfci_flush_out(dfc_worker *w)
{
    bool sent = false;
    size_t n = (size_t)w->rt->proc->flow->nchannels * (size_t)w->total_workers;
    for (size_t i = 0; i < n; i++) {
        if (w->outcounts[i]) {
            dfc_out_flush(w, (int)(i / (size_t)w->total_workers), (int)(i % (size_t)w->total_workers));
            sent = true;
        }
    }
    return sent;
}

/* True when some destination has more than proc->inbox_limit bytes queued:
 * the worker should not read more source input for now. */
bool dfci_backpressured(dfc_worker *w)
{
    dfci_proc *p = w->rt->proc;
    for (int i = 0; i < p->workers_per_process; i++) {
        if (i == w->local_index) continue; /* our own inbox is drained by us */
        if (atomic_load_explicit(&p->inboxes[i].bytes, memory_order_relaxed) > p->inbox_limit)
            return true;
    }
    if (p->processes > 1 && p->remote && p->remote->backlog) {
        for (int d = 0; d < p->total_workers; d++)
            if (!dfci_is_local(p, d) && p->remote->backlog(p->remote_ctx, d) > p->inbox_limit)
                return true;
    }
    return false;
}
