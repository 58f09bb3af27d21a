/*
 * cluster.c — the glue between the dataflow core and the communication
 * layer: remote ops over dfci_net (internal.h's proc->remote seam), the
 * receive path (frame -> messages -> dfci_deliver), failures (net fail ->
 * dfci_abort naming the peer), and Ctrl-C for cluster runs.
 *
 * Sending.  Workers never touch a socket: remote_send appends the message
 * to the queue of its destination process and returns.  One sender thread
 * per peer process takes the whole queue at once and packs it into frames
 * of up to DFCI_FRAME_BATCH bytes (a single message of up to
 * DFCI_NET_MAX_MESSAGE goes as one frame of its own), so a run of small
 * PROGRESS messages costs one seal and one send().  Order per
 * (producer, consumer) holds because each peer has one FIFO and one thread.
 * A message too big for one frame (one huge item) is cut into parts that
 * the receiver glues back together; nothing is ever rejected for its size.
 *
 * Payload of one net message (docs/cluster.md §3):
 *     u8 type  'M' then encoded dfci messages back to back (dfci_msg_encode)
 *              'P' a part of one encoded message, more parts follow
 *              'L' the last part of it
 *
 * Backpressure.  `queued` counts the bytes of messages queued toward a peer
 * or being written to it; remote_backlog reports it, so dfci_backpressured
 * stops source reads when a peer takes data slower than we make it.  The
 * receiver side closes the loop: deliver waits while the destination
 * worker's inbox is over the inbox limit, so a slow consumer stops reading
 * its socket, TCP pushes back, the sender thread blocks, `queued` grows,
 * and the producing process stops reading input.  Workers drain their
 * inboxes on every loop turn and never block on a send, so this cannot
 * deadlock.
 *
 * Ending.  dfci_cluster_finish (after every local worker ended) lets each
 * sender thread empty its queue and exit, then runs dfci_net_finish (BYE
 * both ways), so nothing in flight is lost; run.c closes the sinks only
 * after that.  A failure anywhere (net fail callback, a local dfci_abort,
 * an interrupt) goes through dfci_abort, whose remote->abort here stops
 * the senders and shuts every connection down at once, so the peers learn
 * of it immediately instead of waiting for a stall timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "net.h"

enum { ST_RUNNING, ST_CLOSING, ST_STOPPED };

#define PAYLOAD_BATCH 'M'
#define PAYLOAD_PART 'P'
#define PAYLOAD_LAST 'L'
#define THROTTLE_WAIT_NS 1000000L /* receiver: wait this long for an inbox to drain */
/* Frames of about 1 MiB: sealed and opened while they are still in L2, and
 * the receiver starts on one while the next is on its way.  bench exchange
 * (-p 2, 5M 100-byte items), 8 alternating runs of each, median wall:
 * 512 KiB 0.58 s, 1 MiB 0.515 s, 2 MiB 0.535 s, 16 MiB 0.56 s. */
#define DFCI_FRAME_BATCH ((size_t)1 << 20)

typedef struct cl_peer {
    struct dfci_cluster *c;
    int id;
    /* the send queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dfci_msg *head, *tail;
    bool waiting; /* the sender sleeps on cv */
    atomic_size_t queued; /* bytes queued or being written (read without the lock) */
    pthread_t th;
    bool started;
    /* the receiver thread of this peer only */
    dfc_buf part; /* a message arriving in parts */
} cl_peer;

struct dfci_cluster {
    dfci_proc *proc;
    dfci_net *net;
    int nprocs, me;
    char **addresses; /* [nprocs], for messages */
    size_t frame_max;   /* payload bytes per net message */
    size_t frame_batch; /* messages are packed into a frame up to this many */
    atomic_int state;
    cl_peer *peers;
};

/* ------------------------------------------------------------- sending */

/* Sends one net message; on failure the run is already failing (the net
 * layer called on_fail), but a send error it did not report is reported. */
static int send_payload(dfci_cluster *c, int to, const uint8_t *p, size_t n)
{
    char err[DFCI_ERRLEN];
    if (dfci_net_send(c->net, to, p, n, err, sizeof err) == 0) return 0;
    dfci_abort(c->proc, err);
    return -1;
}

/* Sends one encoded message too big for a frame as parts. */
static int send_parts(dfci_cluster *c, int to, const dfc_buf *enc, dfc_buf *frame)
{
    size_t chunk = c->frame_max - 1;
    for (size_t off = 0; off < enc->len; off += chunk) {
        size_t k = enc->len - off < chunk ? enc->len - off : chunk;
        frame->len = 0;
        dfc_buf_put_u8(frame, off + k == enc->len ? PAYLOAD_LAST : PAYLOAD_PART);
        dfc_buf_put(frame, enc->data + off, k);
        if (send_payload(c, to, frame->data, frame->len) != 0) return -1;
    }
    return 0;
}

static size_t wire_size(const dfci_msg *m) { return DFCI_MSG_WIRE_HEADER + m->len; }

static void free_list(dfci_msg *m)
{
    while (m) {
        dfci_msg *next = m->next;
        dfci_msg_free(m);
        m = next;
    }
}

/* The sender thread of one peer: batches whatever is queued. */
static void *sender_main(void *arg)
{
    cl_peer *pe = arg;
    dfci_cluster *c = pe->c;
    dfc_buf frame = {0}, big = {0};
    for (;;) {
        pthread_mutex_lock(&pe->mu);
        while (!pe->head && atomic_load(&c->state) == ST_RUNNING) {
            pe->waiting = true;
            pthread_cond_wait(&pe->cv, &pe->mu);
            pe->waiting = false;
        }
        dfci_msg *list = pe->head;
        pe->head = pe->tail = NULL;
        pthread_mutex_unlock(&pe->mu);
        if (atomic_load(&c->state) == ST_STOPPED) {
            free_list(list);
            break;
        }
        if (!list) break; /* closing and nothing left */

        /* Pack the list into frames; `batched` bytes are in `frame`. */
        size_t batched = 0;
        frame.len = 0;
        bool ok = true;
        for (dfci_msg *m = list; m && ok; m = m->next) {
            size_t sz = wire_size(m);
            if (frame.len > 0 && frame.len + sz > c->frame_batch) {
                ok = send_payload(c, pe->id, frame.data, frame.len) == 0;
                atomic_fetch_sub(&pe->queued, batched);
                batched = 0;
                frame.len = 0;
                if (!ok) break;
            }
            if (1 + sz > c->frame_max) {
                big.len = 0;
                dfci_msg_encode(m, &big);
                ok = send_parts(c, pe->id, &big, &frame) == 0;
                atomic_fetch_sub(&pe->queued, sz);
                frame.len = 0;
                continue;
            }
            if (frame.len == 0) dfc_buf_put_u8(&frame, PAYLOAD_BATCH);
            dfci_msg_encode(m, &frame);
            batched += sz;
        }
        if (ok && frame.len > 0) ok = send_payload(c, pe->id, frame.data, frame.len) == 0;
        atomic_fetch_sub(&pe->queued, batched);
        free_list(list);
        if (!ok) break;
    }
    dfc_buf_free(&frame);
    dfc_buf_free(&big);
    return NULL;
}

/* remote->send: queue m for its process; never blocks on the network. */
static int remote_send(void *ctx, dfci_msg *m, char *err, size_t errlen)
{
    dfci_cluster *c = ctx;
    int to = m->dest / c->proc->workers_per_process;
    if (to < 0 || to >= c->nprocs || to == c->me) {
        snprintf(err, errlen, "no process for worker %d", m->dest);
        dfci_msg_free(m);
        return -1;
    }
    if (atomic_load(&c->state) == ST_STOPPED) { /* the run is failing: drop */
        dfci_msg_free(m);
        return 0;
    }
    cl_peer *pe = &c->peers[to];
    m->next = NULL;
    atomic_fetch_add(&pe->queued, wire_size(m));
    pthread_mutex_lock(&pe->mu);
    if (pe->tail) pe->tail->next = m;
    else pe->head = m;
    pe->tail = m;
    bool wake = pe->waiting;
    pthread_mutex_unlock(&pe->mu);
    if (wake) pthread_cond_signal(&pe->cv);
    return 0;
}

/* remote->backlog: bytes on their way to the process of worker dest. */
static size_t remote_backlog(void *ctx, int dest)
{
    dfci_cluster *c = ctx;
    int to = dest / c->proc->workers_per_process;
    if (to < 0 || to >= c->nprocs || to == c->me) return 0;
    return atomic_load_explicit(&c->peers[to].queued, memory_order_relaxed);
}

static void stop_senders(dfci_cluster *c, int state)
{
    atomic_store(&c->state, state);
    for (int i = 0; i < c->nprocs; i++) {
        if (i == c->me) continue;
        pthread_mutex_lock(&c->peers[i].mu);
        pthread_cond_broadcast(&c->peers[i].cv);
        pthread_mutex_unlock(&c->peers[i].mu);
    }
}

/* remote->abort (from dfci_abort, any thread): stop sending and cut every
 * connection, so the peers see us leave now. */
static void remote_abort(void *ctx, const char *msg)
{
    dfci_cluster *c = ctx;
    stop_senders(c, ST_STOPPED);
    if (c->net) dfci_net_abort(c->net, msg);
}

static const dfci_remote_ops cluster_ops = {
    .send = remote_send,
    .backlog = remote_backlog,
    .abort = remote_abort,
};

/* ----------------------------------------------------------- receiving */

/* A peer broke the protocol: end the run naming it. */
static void peer_error(dfci_cluster *c, int from, const char *what)
{
    char msg[DFCI_ERRLEN + 256];
    snprintf(msg, sizeof msg, "process %d (%s) sent a bad message: %s", from,
             c->addresses[from], what);
    dfci_abort(c->proc, msg);
}

/* Queues one encoded message from process `from`; waits while its worker's
 * inbox is over the limit.  0, or -1 after reporting. */
static int deliver_one(dfci_cluster *c, int from, const uint8_t *p, size_t n)
{
    dfci_proc *pr = c->proc;
    char err[DFCI_ERRLEN];
    dfci_msg *m = dfci_msg_decode(p, n, err, sizeof err);
    if (!m) {
        peer_error(c, from, err);
        return -1;
    }
    int W = pr->workers_per_process;
    if (m->from < 0 || m->from / W != from || m->dest < 0 || !dfci_is_local(pr, m->dest)) {
        snprintf(err, sizeof err, "message from worker %d to worker %d", m->from, m->dest);
        dfci_msg_free(m);
        peer_error(c, from, err);
        return -1;
    }
    int local = m->dest - pr->process_id * W;
    if (dfci_deliver(pr, m, err, sizeof err) != 0) {
        peer_error(c, from, err);
        return -1;
    }
    dfci_inbox *ib = &pr->inboxes[local];
    while (atomic_load_explicit(&ib->bytes, memory_order_relaxed) > pr->inbox_limit &&
           !dfci_aborted(pr)) {
        struct timespec ts = {0, THROTTLE_WAIT_NS};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* net deliver callback: one net message from process `from`, in order. */
static void on_deliver(void *ctx, int from, const uint8_t *msg, size_t len)
{
    dfci_cluster *c = ctx;
    if (dfci_aborted(c->proc)) return;
    if (from < 0 || from >= c->nprocs || from == c->me) return;
    cl_peer *pe = &c->peers[from];
    if (len < 1) {
        peer_error(c, from, "empty message");
        return;
    }
    switch (msg[0]) {
    case PAYLOAD_BATCH: {
        size_t off = 1;
        while (off < len) {
            uint32_t plen;
            if (len - off < DFCI_MSG_WIRE_HEADER) {
                peer_error(c, from, "a batch ends inside a message header");
                return;
            }
            memcpy(&plen, msg + off + 25, 4);
            if ((size_t)plen > len - off - DFCI_MSG_WIRE_HEADER) {
                peer_error(c, from, "a message runs past the end of its batch");
                return;
            }
            size_t sz = DFCI_MSG_WIRE_HEADER + (size_t)plen;
            if (deliver_one(c, from, msg + off, sz) != 0) return;
            off += sz;
        }
        return;
    }
    case PAYLOAD_PART:
    case PAYLOAD_LAST:
        if (pe->part.len + (len - 1) > (size_t)DFCI_MSG_WIRE_HEADER + UINT32_MAX) {
            peer_error(c, from, "a message in parts is over the 4 GiB limit");
            return;
        }
        dfc_buf_put(&pe->part, msg + 1, len - 1);
        if (msg[0] == PAYLOAD_LAST) {
            (void)deliver_one(c, from, pe->part.data, pe->part.len);
            dfc_buf_free(&pe->part);
        }
        return;
    default: {
        char what[64];
        snprintf(what, sizeof what, "unknown payload type %u", msg[0]);
        peer_error(c, from, what);
    }
    }
}

/* net fail callback: a peer died, stalled or broke a frame.  The message
 * names it ("connection to process 1 (127.0.0.1:4101) broken: ..."). */
static void on_fail(void *ctx, const char *message)
{
    dfci_cluster *c = ctx;
    dfci_abort(c->proc, message);
}

/* ------------------------------------------------------------ lifecycle */

static size_t frame_limit(void)
{
    /* Testing knob: smaller frames exercise batching and parts. */
    const char *s = getenv("DFC_FRAME_LIMIT");
    if (s && *s) {
        long long v = atoll(s);
        if (v >= 64 && (size_t)v <= DFCI_NET_MAX_MESSAGE) return (size_t)v;
    }
    return DFCI_NET_MAX_MESSAGE;
}

int dfci_cluster_start(dfci_cluster **out, dfci_proc *p, const dfci_options *o, char *err,
                       size_t errlen)
{
    dfci_net_config cfg;
    *out = NULL;
    memset(&cfg, 0, sizeof cfg);
    if (!o->secret_file) {
        snprintf(err, errlen, "a cluster run needs --secret-file or DFC_SECRET_FILE");
        return -1;
    }
    if (dfci_secret_load(o->secret_file, cfg.secret, err, errlen) != 0) return -1;

    dfci_cluster *c = calloc(1, sizeof *c);
    if (!c || !(c->peers = calloc((size_t)o->processes, sizeof *c->peers))) {
        free(c);
        sodium_memzero(cfg.secret, sizeof cfg.secret);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->proc = p;
    c->nprocs = o->processes;
    c->me = o->process_id;
    c->addresses = o->addresses;
    c->frame_max = frame_limit();
    c->frame_batch = c->frame_max < DFCI_FRAME_BATCH ? c->frame_max : DFCI_FRAME_BATCH;
    atomic_init(&c->state, ST_RUNNING);
    for (int i = 0; i < c->nprocs; i++) {
        cl_peer *pe = &c->peers[i];
        pe->c = c;
        pe->id = i;
        atomic_init(&pe->queued, 0);
        pthread_mutex_init(&pe->mu, NULL);
        pthread_cond_init(&pe->cv, NULL);
    }

    const char *fp = p->flow->fingerprint ? p->flow->fingerprint : "";
    crypto_generichash(cfg.fingerprint, sizeof cfg.fingerprint, (const uint8_t *)fp, strlen(fp),
                       NULL, 0);
    cfg.nprocs = o->processes;
    cfg.proc_id = o->process_id;
    cfg.workers_per_process = o->workers_per_process;
    cfg.addresses = (const char *const *)o->addresses;
    cfg.bind_address = o->bind_address;
    cfg.connect_timeout_ms = (int)(o->connect_timeout * 1000.0);
    if (cfg.connect_timeout_ms < 1) cfg.connect_timeout_ms = 1;
    cfg.stall_timeout_ms = o->stall_timeout > 0 ? (int)(o->stall_timeout * 1000.0) : 0;
    cfg.deliver = on_deliver;
    cfg.fail = on_fail;
    cfg.ctx = c;
    int rc = dfci_net_start(&c->net, &cfg, err, errlen);
    sodium_memzero(cfg.secret, sizeof cfg.secret);
    if (rc != 0) {
        dfci_cluster_free(c);
        return -1;
    }
    for (int i = 0; i < c->nprocs; i++) {
        if (i == c->me) continue;
        if (pthread_create(&c->peers[i].th, NULL, sender_main, &c->peers[i]) != 0) {
            snprintf(err, errlen, "cannot start a sender thread");
            dfci_cluster_free(c);
            return -1;
        }
        c->peers[i].started = true;
    }
    p->remote_ctx = c;
    p->remote = &cluster_ops;
    *out = c;
    return 0;
}

int dfci_cluster_finish(dfci_cluster *c, char *err, size_t errlen)
{
    stop_senders(c, ST_CLOSING);
    for (int i = 0; i < c->nprocs; i++)
        if (c->peers[i].started) {
            pthread_join(c->peers[i].th, NULL);
            c->peers[i].started = false;
        }
    if (dfci_aborted(c->proc)) {
        snprintf(err, errlen, "the run failed while sending its last messages");
        return -1;
    }
    return dfci_net_finish(c->net, err, errlen);
}

void dfci_cluster_free(dfci_cluster *c)
{
    if (!c) return;
    stop_senders(c, ST_STOPPED);
    for (int i = 0; i < c->nprocs; i++)
        if (c->peers[i].started) pthread_join(c->peers[i].th, NULL);
    /* Receivers may still run until dfci_net_free joins them. */
    dfci_net_free(c->net);
    c->net = NULL;
    if (c->proc->remote_ctx == c) {
        c->proc->remote = NULL;
        c->proc->remote_ctx = NULL;
    }
    for (int i = 0; i < c->nprocs; i++) {
        cl_peer *pe = &c->peers[i];
        free_list(pe->head);
        dfc_buf_free(&pe->part);
        pthread_cond_destroy(&pe->cv);
        pthread_mutex_destroy(&pe->mu);
    }
    free(c->peers);
    free(c);
}

/* ------------------------------------------------------------- signals */

/* Ctrl-C for cluster runs.  SIGINT and SIGTERM (unless ignored when we
 * started, as for background jobs) are blocked in every thread and taken
 * by one thread with sigwaitinfo (a real-time signal sent to that thread
 * alone ends it).  Before the mesh is up the process just
 * exits 128+sig; after, the signal fails the run (dfci_abort), which cuts
 * the connections so that every peer stops at once with a message naming
 * this process. */
static sigset_t sig_set;
static dfci_proc *sig_proc;
static atomic_int sig_stop, sig_mesh_up, sig_caught;
static pthread_t sig_thread;
static bool sig_started;

#define SIG_WAKE (SIGRTMIN + 2) /* dfci_signals_stop -> the signal thread */

static void *signal_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&sig_stop)) {
        int sig = sigwaitinfo(&sig_set, NULL);
        if (sig <= 0 || sig == SIG_WAKE) continue;
        if (atomic_exchange(&sig_caught, sig) != 0) continue; /* already stopping */
        char msg[256];
        snprintf(msg, sizeof msg, "interrupted by %s (process %d): stopping the cluster",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", sig_proc->process_id);
        if (!atomic_load(&sig_mesh_up)) {
            char line[512];
            snprintf(line, sizeof line, "%s: error: %s\n", sig_proc->prog, msg);
            ssize_t k = write(STDERR_FILENO, line, strlen(line));
            (void)k;
            _exit(128 + sig);
        }
        dfci_abort(sig_proc, msg);
    }
    return NULL;
}

void dfci_signals_start(dfci_proc *p)
{
    sigemptyset(&sig_set);
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaddset(&sig_set, sigs[i]);
    }
    sigaddset(&sig_set, SIG_WAKE);
    sig_proc = p;
    atomic_store(&sig_stop, 0);
    atomic_store(&sig_mesh_up, 0);
    atomic_store(&sig_caught, 0);
    pthread_sigmask(SIG_BLOCK, &sig_set, NULL);
    sig_started = pthread_create(&sig_thread, NULL, signal_main, NULL) == 0;
}

void dfci_signals_mesh_up(void) { atomic_store(&sig_mesh_up, 1); }

int dfci_signals_stop(void)
{
    if (sig_started) {
        atomic_store(&sig_stop, 1);
        pthread_kill(sig_thread, SIG_WAKE);
        pthread_join(sig_thread, NULL);
        sig_started = false;
    }
    return atomic_load(&sig_caught);
}
