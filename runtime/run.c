/*
 * run.c — dfc_main: command line, then the run of one process.
 *
 *   parse the command line (usage errors: exit status 2)
 *   --help / --version / --graph print and return 0
 *   -p N: spawn.c starts the local cluster and waits for it
 *   cluster run (-a with more than one address): take SIGINT/SIGTERM on a
 *     thread, set up the inboxes, form the mesh (cluster.c; the peers may
 *     deliver from now on)
 *   resolve source arguments and sink paths on a setup worker (its arena
 *     holds the resolved strings for the whole run)
 *   open the sinks, start W worker threads, wait for them
 *   cluster run: send what is queued, BYE both ways (nothing in flight is
 *     lost), close the connections
 *   close the sinks; 0 when done, 1 after a run-time error, 128+sig after
 *     an interrupt of a cluster run
 *
 * After a failure the workers stop at their next loop turn; a worker that
 * does not (blocked in a read from stdin, say) is given DFCI_ABORT_GRACE_MS
 * and then left behind: the sinks stay open and the process exits 1.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"

static int proc_init(dfci_proc *p, const dfc_flow *flow, const char *prog, const dfci_options *o)
{
    memset(p, 0, sizeof *p);
    p->flow = flow;
    p->prog = prog;
    p->process_id = o->process_id;
    p->processes = o->processes;
    p->workers_per_process = o->workers_per_process;
    p->total_workers = o->processes * o->workers_per_process;
    p->epoch_interval_ms = o->snapshot_interval > 0 ? (int64_t)(o->snapshot_interval * 1000.0)
                                                    : DFCI_EPOCH_INTERVAL_MS;
    if (p->epoch_interval_ms < 1) p->epoch_interval_ms = 1;
    p->inbox_limit = o->inbox_limit ? o->inbox_limit : DFCI_INBOX_LIMIT;
    p->params = o->params;
    atomic_init(&p->aborted, 0);
    /* Every run orders table slots its own way (see dfc_table_seed). */
    if (sodium_init() < 0) return -1;
    randombytes_buf(&p->table_seed, sizeof p->table_seed);
    if (pthread_mutex_init(&p->mu, NULL) != 0) return -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&p->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    return 0;
}

static void proc_destroy(dfci_proc *p)
{
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
}

/* Waits until every worker ended or, after a failure, the grace period
 * passed.  Returns true if all ended. */
static bool wait_workers(dfci_proc *p)
{
    struct timespec deadline = {0, 0};
    bool have_deadline = false;
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) {
        if (dfci_aborted(p)) {
            if (!have_deadline) {
                deadline = dfci_clock_after(DFCI_ABORT_GRACE_MS);
                have_deadline = true;
            }
            if (pthread_cond_timedwait(&p->done_cv, &p->mu, &deadline) == ETIMEDOUT) break;
        } else {
            pthread_cond_wait(&p->done_cv, &p->mu);
        }
    }
    bool all = p->running == 0;
    pthread_mutex_unlock(&p->mu);
    return all;
}

/* Runs the flow in this process.  Returns 0 or 1 (messages printed). */
int dfci_run(const dfc_flow *flow, const char *prog, const dfci_options *o)
{
    dfci_proc p;
    char err[DFCI_ERRLEN];
    if (proc_init(&p, flow, prog, o) != 0) {
        fprintf(stderr, "%s: error: cannot set up the process\n", prog);
        return 1;
    }
    int W = p.workers_per_process;
    int status = 1;

    /* The setup worker: resolve() evaluates source args and sink paths
     * from the params; a dfc_fail inside lands on setup_rt.jb. */
    dfc_worker *setup = calloc(1, sizeof *setup);
    dfc_source_args *sargs = calloc((size_t)flow->nsources + 1, sizeof *sargs);
    _Atomic int64_t *taken = calloc((size_t)flow->nsources + 1, sizeof *taken);
    dfc_str *spaths = calloc((size_t)flow->nsinks + 1, sizeof *spaths);
    dfc_worker *ws = dfci_calloc_aligned((size_t)W, sizeof *ws);
    pthread_t *th = calloc((size_t)W, sizeof *th);
    dfci_inbox *inboxes = dfci_calloc_aligned((size_t)W, sizeof *inboxes); /* p.inboxes once all are set up */
    int inited = 0, ninbox = 0, started = 0;
    bool all_ended = true;
    bool clustered = p.processes > 1;
    dfci_cluster *cluster = NULL;
    int sig = 0; /* the signal that interrupted a cluster run */
    if (clustered) dfci_signals_start(&p); /* before any other thread */
    if (!setup || !sargs || !taken || !spaths || !ws || !th || !inboxes) {
        dfci_abort(&p, "out of memory");
        goto done;
    }
    for (int i = 0; i < flow->nsources; i++) sargs[i].glob = DFC_STR_LIT("*");
    p.source_args = sargs;
    for (int i = 0; i < flow->nsources; i++) atomic_init(&taken[i], 0);
    p.source_taken = taken;

    for (; ninbox < W; ninbox++)
        if (dfci_inbox_init(&inboxes[ninbox]) != 0) {
            dfci_abort(&p, "cannot set up a worker inbox");
            goto done;
        }
    p.inboxes = inboxes;

    /* The mesh comes first, so that a process failing its setup below (a
     * missing input file, say) makes its peers stop at once instead of
     * waiting for it until the connect timeout. */
    if (clustered) {
        if (dfci_cluster_start(&cluster, &p, o, err, sizeof err) != 0) {
            dfci_abort(&p, err);
            goto done;
        }
        dfci_signals_mesh_up();
    }

    if (dfci_worker_init(setup, &p, 0, err, sizeof err) != 0) {
        dfci_abort(&p, err);
        goto done;
    }
    dfci_set_current(setup);
    if (setjmp(setup->rt->jb) == 0) {
        setup->rt->jb_set = true;
        if (flow->resolve) flow->resolve(setup, sargs, spaths);
    }
    setup->rt->jb_set = false;
    dfci_set_current(NULL);
    if (dfci_aborted(&p)) goto done;

    p.sinks = dfci_sinks_open(flow, spaths, p.process_id, p.processes, W, err, sizeof err);
    if (!p.sinks) {
        dfci_abort(&p, err);
        goto done;
    }

    for (; inited < W; inited++)
        if (dfci_worker_init(&ws[inited], &p, inited, err, sizeof err) != 0) {
            dfci_abort(&p, err);
            goto done;
        }

    p.running = W;
    for (; started < W; started++) {
        int rc = pthread_create(&th[started], NULL, dfci_worker_thread, &ws[started]);
        if (rc != 0) {
            snprintf(err, sizeof err, "cannot start worker thread %d: %s", started, strerror(rc));
            pthread_mutex_lock(&p.mu);
            p.running -= W - started;
            pthread_mutex_unlock(&p.mu);
            dfci_abort(&p, err);
            break;
        }
    }
    all_ended = wait_workers(&p);
    if (all_ended) {
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    } else {
        for (int i = 0; i < started; i++) pthread_detach(th[i]);
    }
    /* Every local worker ended: send the rest, then BYE both ways. */
    if (all_ended && cluster && !dfci_aborted(&p) &&
        dfci_cluster_finish(cluster, err, sizeof err) != 0)
        dfci_abort(&p, err);

done:
    /* The signal thread may be inside dfci_abort, using the cluster: it
     * ends before the cluster is freed. */
    if (clustered) sig = dfci_signals_stop();
    if (all_ended) {
        dfci_cluster_free(cluster); /* joins the receivers: before the inboxes go */
        if (p.sinks && dfci_sinks_close(p.sinks, err, sizeof err) != 0) dfci_abort(&p, err);
        status = dfci_aborted(&p) ? 1 : 0;
        for (int i = 0; i < inited; i++) dfci_worker_destroy(&ws[i]);
        for (int i = 0; i < ninbox; i++) dfci_inbox_destroy(&inboxes[i]);
        if (setup && setup->rt) dfci_worker_destroy(setup);
        free(setup);
        free(sargs);
        free(taken);
        free(spaths);
        free(ws);
        free(th);
        free(inboxes);
        proc_destroy(&p);
    } else {
        /* Workers still hold the shared structures: leave them be (the
         * failure already cut the cluster's connections). */
        status = 1;
    }
    if (sig && status != 0) status = 128 + sig;
    return status;
}

int dfc_main(const dfc_flow *flow, int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* Exchange batches (64 KiB and up) come and go all the time: keep them
     * on the heap and the heap from shrinking, so that they are reused
     * instead of mapped and faulted in again. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    const char *prog = dfci_prog_name(argc > 0 ? argv[0] : NULL);
    dfci_options o;
    char err[DFCI_ERRLEN];
    if (dfci_cli_parse(flow, argc, argv, &o, err, sizeof err) != 0) {
        fprintf(stderr, "%s: error: %s\ntry '%s --help'\n", prog, err, prog);
        dfci_cli_free(&o);
        return 2;
    }
    int status = 0;
    switch (o.action) {
    case DFCI_HELP:
        dfci_cli_usage(flow, prog, stdout);
        break;
    case DFCI_VERSION:
        printf("%s (dfc %s, fingerprint %s)\n", flow->name, DFC_VERSION,
               flow->fingerprint ? flow->fingerprint : "?");
        break;
    case DFCI_GRAPH:
        fputs(flow->graph_dot ? flow->graph_dot : "digraph {}\n", stdout);
        break;
    default:
        if (o.recovery_dir) {
            fprintf(stderr, "%s: error: recovery (-r/--recovery-directory) is not supported yet\n",
                    prog);
            status = 2;
        } else if (o.spawn_processes > 1) {
            status = dfci_spawn(prog, argc, argv, &o);
        } else if (o.processes > 1 && !o.secret_file) {
            fprintf(stderr, "%s: error: a cluster run (-a with more than one address) needs "
                    "--secret-file or DFC_SECRET_FILE (make a key with: dfc keygen > cluster.key)\n"
                    "try '%s --help'\n", prog, prog);
            status = 2;
        } else {
            status = dfci_run(flow, prog, &o);
        }
    }
    if (o.action != DFCI_RUN && fflush(stdout) != 0) status = 1;
    dfci_cli_free(&o);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "%s: error: cannot write standard output: %s\n", prog, strerror(errno));
        status = 1;
    }
    return status;
}
