/*
 * test_worker.c — the runtime core end to end with a hand-written flow (no
 * generated code), run through dfc_main:
 *
 *   nums   = input range(n)                          (real RANGE source)
 *   keyed  = nums | key_on(i => "k" .. str(i % k))  (exchange on channel 0)
 *   counts = keyed | count_final                     (per-worker dfc_table)
 *   totals = counts -> worker 0 (channel 1), summed per key
 *
 * Checks exact totals for -w1, -w2, -w4 (and with very short epochs), that
 * every worker ran each channel's eof exactly once, and failures: dfc_fail in
 * a source push, a malformed batch, exit statuses and messages.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h" /* dfci_cli_parse, dfci_run: to lower the inbox limit */
#include "tap.h"

/* ------------------------------------------------------------ the flow */

typedef struct params {
    int64_t n, k, fail_at;
    bool malformed;
} params;

#define MAXW 64
#define MAXK 1000

/* What the run saw, filled by workers under `mu` (test-side globals). */
static struct {
    pthread_mutex_t mu;
    int eof0[MAXW], eof1[MAXW], freed[MAXW];
    int64_t totals[MAXK];
    int64_t received1;        /* (key, count) pairs received on channel 1 */
    int64_t recv_items0;      /* items received on channel 0, all workers */
    int epoch_errors;
} seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

typedef struct wstate {
    dfc_table *counts; /* channel 0: key -> count */
    dfc_table *totals; /* channel 1 (worker 0): key -> total */
    int64_t items0;
} wstate;

static const char *const step_ids[] = {"nums.range", "counts.count_final", "totals.sum"};

static void push_range(dfc_worker *w, int64_t lo, int64_t hi)
{
    const params *p = w->params;
    char key[32];
    for (int64_t i = lo; i < hi; i++) {
        if (i == p->fail_at) dfc_fail(w, "boom at %lld", (long long)i);
        int n = snprintf(key, sizeof key, "k%lld", (long long)(i % p->k));
        dfc_str ks = {key, n};
        int dest = dfc_route_key(w, ks);
        dfc_buf *b = dfc_out_begin(w, 0, dest);
        dfc_buf_put_str(b, ks);
        if (!p->malformed) dfc_buf_put_i64(b, 1);
        dfc_out_end(w, 0, dest);
    }
}

static void recv_counts(dfc_worker *w, dfc_reader *r, uint32_t count)
{
    wstate *s = w->state;
    for (uint32_t i = 0; i < count; i++) {
        dfc_str k = dfc_get_str(r);
        int64_t v = dfc_get_i64(r);
        if (dfc_route_key(w, k) != w->index) dfc_fail(w, "key routed to the wrong worker");
        bool created;
        int64_t *c = dfc_table_upsert(s->counts, k, dfc_hash_str(k), &created);
        *c += v;
        s->items0++;
    }
}

static void eof_counts(dfc_worker *w)
{
    wstate *s = w->state;
    size_t it = 0;
    dfc_str k;
    void *v;
    while (dfc_table_next(s->counts, &it, &k, &v)) {
        dfc_buf *b = dfc_out_begin(w, 1, 0);
        dfc_buf_put_str(b, k);
        dfc_buf_put_i64(b, *(int64_t *)v);
        dfc_out_end(w, 1, 0);
    }
    pthread_mutex_lock(&seen.mu);
    seen.eof0[w->index]++;
    seen.recv_items0 += s->items0;
    pthread_mutex_unlock(&seen.mu);
}

static void recv_totals(dfc_worker *w, dfc_reader *r, uint32_t count)
{
    wstate *s = w->state;
    if (w->epoch < 1) {
        pthread_mutex_lock(&seen.mu);
        seen.epoch_errors++;
        pthread_mutex_unlock(&seen.mu);
    }
    for (uint32_t i = 0; i < count; i++) {
        dfc_str k = dfc_get_str(r);
        int64_t v = dfc_get_i64(r);
        int64_t *t = dfc_table_upsert(s->totals, k, dfc_hash_str(k), NULL);
        *t += v;
        pthread_mutex_lock(&seen.mu);
        seen.received1++;
        pthread_mutex_unlock(&seen.mu);
    }
}

static void eof_totals(dfc_worker *w)
{
    wstate *s = w->state;
    pthread_mutex_lock(&seen.mu);
    seen.eof1[w->index]++;
    size_t it = 0;
    dfc_str k;
    void *v;
    while (dfc_table_next(s->totals, &it, &k, &v)) {
        char buf[32];
        int key = -1;
        if (k.len > 1 && k.len < 16 && k.ptr[0] == 'k') {
            memcpy(buf, k.ptr + 1, (size_t)k.len - 1);
            buf[k.len - 1] = 0;
            key = atoi(buf);
        }
        if (key >= 0 && key < MAXK) seen.totals[key] += *(int64_t *)v;
        else seen.epoch_errors++;
    }
    pthread_mutex_unlock(&seen.mu);
}

static void resolve(dfc_worker *w, dfc_source_args *sources, dfc_str *sink_paths)
{
    const params *p = w->params;
    w->cur_step = 0;
    if (p->n < 0) dfc_fail(w, "range(n) needs n >= 0, got %lld", (long long)p->n);
    sources[0].n = p->n;
}

static void *state_new(dfc_worker *w)
{
    wstate *s = dfc_heap_alloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->counts = dfc_table_new(sizeof(int64_t), 1);
    s->totals = dfc_table_new(sizeof(int64_t), 2);
    return s;
}

static void state_free(dfc_worker *w, void *state)
{
    wstate *s = state;
    dfc_table_free(s->counts);
    dfc_table_free(s->totals);
    dfc_heap_free(s);
    pthread_mutex_lock(&seen.mu);
    seen.freed[w->index]++;
    pthread_mutex_unlock(&seen.mu);
}

static const dfc_param_desc params_desc[] = {
    {"n", DFC_T_I64, "1000", offsetof(params, n)},
    {"k", DFC_T_I64, "7", offsetof(params, k)},
    {"fail_at", DFC_T_I64, "-1", offsetof(params, fail_at)},
    {"malformed", DFC_T_BOOL, "false", offsetof(params, malformed)},
};
static const dfc_source_desc sources_desc[] = {
    {.kind = DFC_SRC_RANGE, .step = 0, .push_range = push_range},
};
static const int up1[] = {0};
static const dfc_channel_desc channels_desc[] = {
    {.step = 1, .recv = recv_counts, .eof = eof_counts, .nupstream = 0, .upstream = NULL},
    {.step = 2, .recv = recv_totals, .eof = eof_totals, .nupstream = 1, .upstream = up1},
};
static const dfc_flow flow = {
    .name = "test_worker",
    .fingerprint = "0123abcd",
    .graph_dot = "digraph test_worker {}\n",
    .nsteps = 3,
    .step_ids = step_ids,
    .params_size = sizeof(params),
    .nparams = 4,
    .params = params_desc,
    .nsources = 1,
    .sources = sources_desc,
    .nsinks = 0,
    .sinks = NULL,
    .nchannels = 2,
    .channels = channels_desc,
    .resolve = resolve,
    .state_new = state_new,
    .state_free = state_free,
};

/* ------------------------------------------------------------- running */

static void reset_seen(void)
{
    pthread_mutex_lock(&seen.mu);
    memset(seen.eof0, 0, sizeof seen.eof0);
    memset(seen.eof1, 0, sizeof seen.eof1);
    memset(seen.freed, 0, sizeof seen.freed);
    memset(seen.totals, 0, sizeof seen.totals);
    seen.received1 = seen.recv_items0 = 0;
    seen.epoch_errors = 0;
    pthread_mutex_unlock(&seen.mu);
}

/* Runs dfc_main with the given arguments; stderr goes to errbuf. */
static int run(char *errbuf, size_t errlen, int nargs, ...)
{
    char *argv[16];
    argv[0] = "test_worker";
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs && i < 14; i++) argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    argv[nargs + 1] = NULL;
    reset_seen();
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int status = dfc_main(&flow, nargs + 1, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(errbuf, 1, errlen - 1, tmp);
    errbuf[n] = 0;
    fclose(tmp);
    return status;
}

static int totals_right(int64_t n, int64_t k)
{
    int64_t sum = 0;
    for (int64_t key = 0; key < k; key++) {
        int64_t want = n / k + (key < n % k ? 1 : 0);
        if (seen.totals[key] != want) return 0;
        sum += seen.totals[key];
    }
    return sum == n && seen.recv_items0 == n;
}

static int eofs_once(int W)
{
    for (int i = 0; i < W; i++)
        if (seen.eof0[i] != 1 || seen.eof1[i] != 1 || seen.freed[i] != 1) return 0;
    for (int i = W; i < MAXW; i++)
        if (seen.eof0[i] || seen.eof1[i] || seen.freed[i]) return 0;
    return 1;
}

static void check_run(const char *wflag, int W, const char *nparam, int64_t n, const char *kparam,
                      int64_t k, const char *extra)
{
    char err[4096], name[256];
    int status = extra ? run(err, sizeof err, 4, wflag, nparam, kparam, extra)
                       : run(err, sizeof err, 3, wflag, nparam, kparam);
    snprintf(name, sizeof name, "%s %s %s%s%s: exit 0, no messages", wflag, nparam, kparam,
             extra ? " " : "", extra ? extra : "");
    t_ok(status == 0 && err[0] == 0, "%s", name);
    if (err[0]) printf("# stderr: %s", err);
    snprintf(name, sizeof name, "%s %s %s: exact totals per key", wflag, nparam, kparam);
    t_ok(totals_right(n, k), "%s", name);
    snprintf(name, sizeof name, "%s: each channel's eof ran once per worker", wflag);
    t_ok(eofs_once(W), "%s", name);
    snprintf(name, sizeof name, "%s: epochs valid, keys well-formed", wflag);
    t_ok(seen.epoch_errors == 0 && seen.received1 >= (n < k ? n : k), "%s", name);
}

int main(void)
{
    check_run("-w1", 1, "n=1000", 1000, "k=7", 7, NULL);
    check_run("-w2", 2, "n=100000", 100000, "k=13", 13, NULL);
    check_run("-w4", 4, "n=300000", 300000, "k=997", 997, NULL);
    check_run("--workers-per-process=3", 3, "n=0", 0, "k=5", 5, NULL);
    check_run("-w4", 4, "n=200000", 200000, "k=31", 31, "-s0.0005"); /* many epochs */
    check_run("-w8", 8, "n=3", 3, "k=50", 50, NULL); /* most workers get nothing */

    /* Backpressure: with a 1-byte inbox limit a worker reads its source
     * only while no other inbox holds anything. */
    {
        char *argv[] = {"test_worker", "-w4", "n=200000", "k=101", NULL};
        dfci_options o;
        char e[256];
        reset_seen();
        int rc = dfci_cli_parse(&flow, 4, argv, &o, e, sizeof e);
        o.inbox_limit = 1;
        int status = rc == 0 ? dfci_run(&flow, "test_worker", &o) : -1;
        dfci_cli_free(&o);
        t_ok(status == 0 && totals_right(200000, 101) && eofs_once(4),
             "-w4 with a 1-byte inbox limit");
    }

    char err[4096];
    int status = run(err, sizeof err, 3, "-w4", "n=100000", "fail_at=54321");
    t_ok(status == 1, "dfc_fail in a source push: exit status 1");
    t_ok(strcmp(err, "test_worker: error: step 'nums.range': boom at 54321\n") == 0,
         "dfc_fail prints one line naming the step");
    if (status != 1 || !strstr(err, "boom")) printf("# stderr: %s", err);
    t_ok(seen.freed[0] == 1 && seen.freed[3] == 1, "after a failure every worker still ends");

    status = run(err, sizeof err, 2, "-w2", "malformed=true");
    t_ok(status == 1 &&
             strstr(err, "test_worker: error: step 'counts.count_final': malformed batch"),
         "a malformed batch fails naming the receiving step");
    if (status != 1) printf("# stderr: %s", err);

    status = run(err, sizeof err, 2, "-w3", "n=-4");
    t_ok(status == 1 &&
             strcmp(err, "test_worker: error: step 'nums.range': range(n) needs n >= 0, got -4\n") == 0 &&
             seen.freed[0] == 0,
         "dfc_fail while resolving source arguments: exit 1, no worker started");

    status = run(err, sizeof err, 1, "-w0");
    t_ok(status == 2 && strcmp(err, "test_worker: error: -w/--workers-per-process must be a "
                                    "positive integer, got '0'\ntry 'test_worker --help'\n") == 0,
         "-w0 is a usage error (exit 2)");
    status = run(err, sizeof err, 1, "n=abc");
    t_ok(status == 2 && strstr(err, "error: param 'n' expects an i64, got 'abc'"), "n=abc: exit 2");

    return t_done();
}
