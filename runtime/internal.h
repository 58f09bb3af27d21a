/*
 * internal.h — the runtime core's cross-file internals (prefix dfci_).
 *
 * The run is a process context (dfci_proc) holding W local workers out of
 * T = processes * W global ones.  Everything is indexed by *global* worker
 * id; a worker of this process has global id process_id * W + local index.
 * Workers trade messages (dfci_msg): DATA (a batch of encoded items on a
 * channel, one epoch) and PROGRESS (a producer's frontier on a channel).
 * A message for a local worker goes into that worker's inbox; one for a
 * worker of another process goes through proc->remote, the single seam the
 * cluster network layer fills in (it delivers what it receives with
 * dfci_deliver).
 *
 * Files: channel.c (messages, inboxes, sends, dfc_out_flush), progress.c
 * (frontiers, eof, announcements), worker.c (threads and the loop), cli.c
 * (command line), run.c (dfc_main), fail.c (errors and the thread-local
 * current worker), table.c (dfc_table).
 */
#ifndef DFC_INTERNAL_H
#define DFC_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "dfc.h"
#include "io.h"

/* ------------------------------------------------------------ tunables */

#define DFCI_EPOCH_INTERVAL_MS 10000       /* default source epoch length */
#define DFCI_INBOX_LIMIT (4u << 20)         /* queued bytes that hold back source reads */
#define DFCI_IDLE_WAIT_MS 20                /* idle wait on the inbox */
#define DFCI_BACKPRESSURE_WAIT_MS 1         /* wait while a destination is full */
#define DFCI_ABORT_GRACE_MS 2000            /* how long to wait for workers after a failure */
#define DFCI_MAX_WORKERS_PER_PROCESS 1024
#define DFCI_MAX_PROCESSES 1024
#define DFCI_FRONTIER_DONE INT64_MAX        /* frontier meaning "end of input" */
#define DFCI_ERRLEN 1024

/* ------------------------------------------------------------- messages */

enum dfci_msg_kind { DFCI_MSG_DATA = 1, DFCI_MSG_PROGRESS = 2 };

/* One message from global worker `from` to global worker `dest`.
 * DATA: `count` items of `epoch` on `chan`, encoded in bytes[0..len).
 * PROGRESS: `from` will never again send on `chan` an item with
 * epoch < frontier (INT64_MAX: end of input on chan).
 * Per (from, dest) pair messages are delivered in the order sent. */
typedef struct dfci_msg {
    struct dfci_msg *next; /* inbox link */
    int kind;              /* enum dfci_msg_kind */
    int chan;
    int from, dest;
    int64_t epoch; /* DATA: the items' epoch; PROGRESS: the frontier */
    uint32_t count;
    size_t len;
    uint8_t *data;   /* DATA payload: bytes[] below, or a buffer the message owns */
    uint8_t bytes[];
} dfci_msg;

dfci_msg *dfci_msg_data(int chan, int from, int dest, int64_t epoch, uint32_t count,
                        const void *bytes, size_t len);
/* A DATA message that takes over b's bytes (no copy); b is left empty with
 * room for another batch. */
dfci_msg *dfci_msg_data_take(int chan, int from, int dest, int64_t epoch, uint32_t count, dfc_buf *b);
dfci_msg *dfci_msg_progress(int chan, int from, int dest, int64_t frontier);
void dfci_msg_free(dfci_msg *m);

/* The wire form for the network layer: a fixed header (kind u8, chan u32,
 * from u32, dest u32, epoch i64, count u32, len u32; host byte order like
 * the payload) then the payload.  decode checks sizes and the kind only;
 * dfci_deliver checks the indexes. */
#define DFCI_MSG_WIRE_HEADER 29
void dfci_msg_encode(const dfci_msg *m, dfc_buf *out);
dfci_msg *dfci_msg_decode(const uint8_t *p, size_t n, char *err, size_t errlen);

/* --------------------------------------------------------------- inboxes */

/* A worker's inbox: a FIFO of messages from every producer.  Today a mutex
 * and a condition variable; the interface (push / take all / wait) is what
 * a set of SPSC rings would offer too. */
typedef struct dfci_inbox {
    _Alignas(64) pthread_mutex_t mu; /* one cache line apart from the next inbox */
    pthread_cond_t cv;
    dfci_msg *head, *tail;
    bool waiting;               /* the owner sleeps on cv */
    atomic_size_t bytes;        /* queued payload bytes, read without the lock */
} dfci_inbox;

void *dfci_calloc_aligned(size_t n, size_t size); /* memory.c */
/* calloc that aborts on running out of memory, as dfc_heap_alloc does */
void *dfci_heap_calloc(size_t n, size_t size); /* memory.c */
/* A zeroed array of `bytes` on a 64-byte boundary (on huge pages when it is
 * big); aborts on running out of memory.  pg says what to free. */
void *dfci_pages_alloc(size_t bytes, dfci_pages *pg); /* memory.c */
void dfci_pages_free(dfci_pages *pg);
int dfci_inbox_init(dfci_inbox *ib);
void dfci_inbox_destroy(dfci_inbox *ib); /* frees messages still queued */
void dfci_inbox_push(dfci_inbox *ib, dfci_msg *m);
/* Takes every queued message (a FIFO list, NULL if none). */
dfci_msg *dfci_inbox_take(dfci_inbox *ib);
/* Sleeps until a message arrives, a wake-up, or timeout_ms passes. */
void dfci_inbox_wait(dfci_inbox *ib, int timeout_ms);
void dfci_inbox_wake(dfci_inbox *ib);

/* ------------------------------------------------------- process context */

typedef struct dfci_proc dfci_proc;

/* The seam for the cluster network layer: how messages reach workers of
 * other processes.  Unused (NULL) while processes == 1. */
typedef struct dfci_remote_ops {
    /* Sends m to global worker m->dest in another process, keeping order
     * per (m->from, m->dest); takes ownership of m.  0, or -1 with err. */
    int (*send)(void *ctx, dfci_msg *m, char *err, size_t errlen);
    /* Bytes queued toward global worker dest, for backpressure.  May be NULL. */
    size_t (*backlog)(void *ctx, int dest);
    /* The run is failing (msg: the first failure's message): tell the
     * peers and stop.  May be NULL. */
    void (*abort)(void *ctx, const char *msg);
} dfci_remote_ops;

/* Called on a worker when its input frontier on `chan` rises: every epoch
 * < frontier is complete on that channel (INT64_MAX: the channel ended).
 * Recovery snapshots and windows hang off this. */
typedef void (*dfci_epoch_hook)(dfc_worker *w, int chan, int64_t frontier, void *ctx);

struct dfci_proc {
    const dfc_flow *flow;
    const char *prog; /* program name for messages */
    int process_id, processes, workers_per_process, total_workers;
    int64_t epoch_interval_ms;
    size_t inbox_limit;
    const void *params;
    const dfc_source_args *source_args; /* [flow->nsources] */
    _Atomic int64_t *source_taken; /* [flow->nsources]: how much of an unordered source
                                    * (bytes of a parallel FILE, numbers of a RANGE)
                                    * this process's workers have taken */
    dfci_sinks *sinks;
    dfci_inbox *inboxes; /* [workers_per_process], by local index */
    atomic_int aborted;  /* a run-time error happened: every worker stops */

    /* Workers still running (dfc_main waits on done_cv). */
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int running;

    const dfci_remote_ops *remote; /* network seam; NULL for one process */
    void *remote_ctx;
    dfci_epoch_hook epoch_hook; /* NULL: nothing to do */
    void *epoch_ctx;
    uint64_t table_seed; /* random per run: dfc_table_seed */
};

/* Queues m for its destination: a local inbox or proc->remote.  0 or -1. */
int dfci_deliver(dfci_proc *p, dfci_msg *m, char *err, size_t errlen);
static inline bool dfci_is_local(const dfci_proc *p, int global)
{
    return global / p->workers_per_process == p->process_id;
}

/* ------------------------------------------------------ the worker's part */

struct dfci_worker {
    dfc_worker *w;
    dfci_proc *proc;
    jmp_buf jb;   /* dfc_fail longjmps here */
    bool jb_set;
    dfci_sink_local *sinks;
    dfci_msg *pending; /* taken from the inbox, not yet processed */

    /* sources */
    dfci_source **src;  /* [flow->nsources] */
    bool *src_done;
    int src_live, src_next;
    int64_t src_epoch;      /* epoch of items read from sources now */
    int64_t epoch_deadline; /* monotonic ms when src_epoch advances */
    int64_t max_epoch;      /* greatest finite epoch or frontier known here */

    /* progress, per channel (c) and producer (from) */
    int64_t *in_front;  /* [c * T + from] frontier announced by from */
    int64_t *in_min;    /* [c] min over producers: this worker's input frontier */
    int64_t *announced; /* [c] output frontier this worker announced */
    bool *eof_done;     /* [c] channels[c].eof has run */
    int eofs_left, open_out; /* channels whose eof / MAX announcement is pending */
};

/* worker.c */
int dfci_worker_init(dfc_worker *w, dfci_proc *p, int local_index, char *err, size_t errlen);
void dfci_worker_destroy(dfc_worker *w);
void *dfci_worker_thread(void *arg); /* arg: dfc_worker* */
/* Flushes every non-empty outbuf, then sets w->epoch. */
void dfci_set_epoch(dfc_worker *w, int64_t epoch);

/* channel.c */
/* Sends every buffered message; true if something was sent.  dfci_flush_all
 * first hands over what combining steps hold (before an epoch ends, at the
 * end); dfci_flush_out does not (an idle worker: partial values are only
 * needed once the channel's frontier moves, and handing them over means a
 * pass over the step's table). */
bool dfci_flush_all(dfc_worker *w);
bool dfci_flush_out(dfc_worker *w);
void dfci_flush_chan(dfc_worker *w, int chan);
void dfci_send(dfc_worker *w, dfci_msg *m); /* fails the run on a send error */
bool dfci_backpressured(dfc_worker *w);

/* progress.c */
int dfci_progress_init(dfci_worker *rt, char *err, size_t errlen);
void dfci_progress_free(dfci_worker *rt);
void dfci_progress_recv(dfc_worker *w, int chan, int from, int64_t frontier);
bool dfci_progress_run_eofs(dfc_worker *w);  /* step 2: true if an eof ran */
bool dfci_progress_announce(dfc_worker *w);  /* step 3: true if something was sent */
bool dfci_progress_done(const dfci_worker *rt);
void dfci_epoch_complete(dfc_worker *w, int chan, int64_t frontier);

/* fail.c */
void dfci_set_current(dfc_worker *w);
dfc_worker *dfci_current(void);
/* Fails the run naming flow step `step` (like dfc_fail for another step). */
DFC_NORETURN void dfci_fail_step(dfc_worker *w, int step, const char *fmt, ...) DFC_PRINTF(3, 4);
/* Fails the run with "<prog>: error: <message>" (no step). */
DFC_NORETURN void dfci_fail_run(dfc_worker *w, const char *fmt, ...) DFC_PRINTF(2, 3);
/* Marks the run as failed, printing the message if it is the first.  Does
 * not jump.  Returns true if this call was the first failure. */
bool dfci_abort(dfci_proc *p, const char *msg);
static inline bool dfci_aborted(const dfci_proc *p)
{
    return atomic_load_explicit(&p->aborted, memory_order_relaxed) != 0;
}
/* A broken runtime invariant: "dfc: internal error: ..." and abort(). */
DFC_NORETURN void dfci_bug(const char *fmt, ...) DFC_PRINTF(1, 2);

/* ------------------------------------------------------------ command line */

enum dfci_action { DFCI_RUN, DFCI_HELP, DFCI_VERSION, DFCI_GRAPH };

typedef struct dfci_options {
    int action;              /* enum dfci_action */
    int workers_per_process; /* -w, default 1 */
    int process_id;          /* -i, default 0 */
    int processes;           /* number of -a addresses, default 1 */
    char **addresses;        /* [processes] "host:port", NULL without -a */
    bool have_addresses;
    const char *recovery_dir;  /* -r, NULL if not given */
    double snapshot_interval;  /* -s seconds, 0 if not given */
    double backup_interval;    /* -b seconds, 0 if not given */
    const char *secret_file;   /* --secret-file / DFC_SECRET_FILE */
    double connect_timeout;    /* --connect-timeout, default 30 */
    const char *bind_address;  /* --bind / DFC_BIND_ADDRESS, NULL: our -a entry */
    double stall_timeout;      /* DFC_STALL_TIMEOUT seconds, 0: the net default (10) */
    int spawn_processes;       /* -p, 0 if not given */
    size_t inbox_limit;        /* 0: DFCI_INBOX_LIMIT (not a flag; tests lower it) */
    void *params;              /* flow->params_size bytes, filled */
} dfci_options;

/* Parses argv (and the DFC_* environment) into o.  0, or -1 with a
 * one-line message in err (a usage error, exit status 2).  For -h,
 * --version and --graph it stops early with o->action set. */
int dfci_cli_parse(const dfc_flow *flow, int argc, char **argv, dfci_options *o, char *err,
                   size_t errlen);
void dfci_cli_free(dfci_options *o);
void dfci_cli_usage(const dfc_flow *flow, const char *prog, FILE *out);
const char *dfci_prog_name(const char *argv0);

/* run.c: runs the flow with parsed options: 0 done, 1 run-time error,
 * 128+sig after SIGINT/SIGTERM in a cluster run. */
int dfci_run(const dfc_flow *flow, const char *prog, const dfci_options *o);

/* ------------------------------------------------------------- cluster */

/* cluster.c: proc->remote over the network layer (net.h). */
typedef struct dfci_cluster dfci_cluster;
/* Loads the secret, forms the mesh (blocks up to the connect timeout),
 * starts the sender threads and sets p->remote.  p->inboxes must be set:
 * messages may arrive before it returns.  0, or -1 with err. */
int dfci_cluster_start(dfci_cluster **out, dfci_proc *p, const dfci_options *o, char *err,
                       size_t errlen);
/* Clean end, after every local worker ended: sends everything queued, then
 * BYE both ways (dfci_net_finish).  0, or -1 with err. */
int dfci_cluster_finish(dfci_cluster *c, char *err, size_t errlen);
/* Stops the threads, closes the connections, frees.  NULL is fine. */
void dfci_cluster_free(dfci_cluster *c);
/* SIGINT/SIGTERM for cluster runs (call before any thread starts). */
void dfci_signals_start(dfci_proc *p);
void dfci_signals_mesh_up(void);
int dfci_signals_stop(void); /* the signal caught, or 0 */

/* spawn.c: -p N, a local cluster of N copies of this executable. */
int dfci_spawn(const char *prog, int argc, char **argv, const dfci_options *o);

#endif
