/*
 * test_sinks.c — runtime/sink.c: STDOUT lines from several worker threads
 * never interleave and keep each worker's order (sinks and inspect share the
 * buffer); FILE is opened (truncated) only by process 0; DIR makes its
 * directories and one truncated part file per worker; DISCARD writes
 * nothing; open and write errors (ENOSPC on /dev/full, EPIPE) are reported.
 * dfc_fail and dfci_worker_sinks are stubbed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dfc.h"
#include "io.h"
#include "tap.h"
#define DFC_STUB_FAIL_JUMPS
#define DFC_STUB_OWN_SINKS
#include "stubs.h"

/* ---- the worker layer: sinks of the worker being tested ---- */
static _Thread_local dfci_sink_local *cur_local;
dfci_sink_local *dfci_worker_sinks(dfc_worker *w) { return cur_local; }

static char tmpdir[] = "/tmp/dfc_test_sinks_XXXXXX";
static char err[512];

static const char *tmp_path(const char *name)
{
    static char p[4][300];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}
static dfc_str S(const char *s) { return (dfc_str){s, (int64_t)strlen(s)}; }

/* Whole file into a malloc'd NUL-terminated string (NULL if missing). */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    dfc_buf b = {0};
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) dfc_buf_put(&b, tmp, k);
    fclose(f);
    dfc_buf_put_u8(&b, 0);
    if (n) *n = b.len - 1;
    return (char *)b.data;
}

/* ---- STDOUT from 4 threads ---- */
#define NTHREADS 4
#define NLINES 20000
static dfci_sinks *stdout_sinks;

/* Line i of worker k: "w<k> <i> " then (i*7 % 300) x's. */
static size_t make_line(char *out, int k, int i)
{
    int n = snprintf(out, 64, "w%d %d ", k, i);
    int pad = (i * 7) % 300;
    memset(out + n, 'x', (size_t)pad);
    return (size_t)(n + pad);
}

static void *stdout_worker(void *arg)
{
    int k = (int)(intptr_t)arg;
    dfc_worker w;
    memset(&w, 0, sizeof w);
    w.index = k;
    cur_local = dfci_sink_local_new(stdout_sinks, k, err, sizeof err);
    char line[400];
    for (int i = 0; i < NLINES; i++) {
        size_t n = make_line(line, k, i);
        if (i % 3 == 0)
            dfc_inspect_write(&w, line, n);
        else
            dfc_sink_write(&w, i % 2, line, n); /* sinks 0 and 1 are both STDOUT */
    }
    char e[256];
    intptr_t rc = dfci_sink_local_flush(cur_local, e, sizeof e);
    dfci_sink_local_free(cur_local);
    return (void *)rc;
}

static void test_stdout(void)
{
    dfc_sink_desc sinks[2] = {{DFC_SINK_STDOUT, 0}, {DFC_SINK_STDOUT, 1}};
    dfc_flow flow = {.nsinks = 2, .sinks = sinks};
    dfc_str paths[2] = {{"", 0}, {"", 0}};
    stdout_sinks = dfci_sinks_open(&flow, paths, 0, 1, NTHREADS, err, sizeof err);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(tmp_path("stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    pthread_t th[NTHREADS];
    for (int k = 0; k < NTHREADS; k++)
        pthread_create(&th[k], NULL, stdout_worker, (void *)(intptr_t)k);
    int rc = 0;
    for (int k = 0; k < NTHREADS; k++) {
        void *r;
        pthread_join(th[k], &r);
        rc |= (int)(intptr_t)r;
    }
    dup2(saved, 1);
    close(saved);
    rc |= dfci_sinks_close(stdout_sinks, err, sizeof err);

    size_t n;
    char *text = slurp(tmp_path("stdout"), &n);
    int next[NTHREADS] = {0}, bad = 0, lines = 0;
    char want[400];
    for (char *p = text, *nl; (nl = memchr(p, '\n', (size_t)(text + n - p))) != NULL; p = nl + 1) {
        int k, i;
        lines++;
        char *q;
        if (*p != 'w') {
            bad++;
            continue;
        }
        k = (int)strtol(p + 1, &q, 10); /* not sscanf: it runs strlen over the rest */
        i = (int)strtol(q, NULL, 10);
        if (k < 0 || k >= NTHREADS || i != next[k]) {
            bad++;
            continue;
        }
        size_t wn = make_line(want, k, i);
        if ((size_t)(nl - p) != wn || memcmp(p, want, wn) != 0) bad++;
        next[k]++;
    }
    t_ok(rc == 0 && bad == 0 && lines == NTHREADS * NLINES,
         "stdout: %d lines from %d threads, whole and in each worker's order", lines, NTHREADS);
    free(text);
}

static dfci_sinks *open1(int kind, const char *path, int process_id)
{
    static dfc_sink_desc sink;
    static dfc_flow flow;
    static dfc_str paths[1];
    sink = (dfc_sink_desc){kind, 0};
    flow = (dfc_flow){.nsinks = 1, .sinks = &sink};
    paths[0] = S(path);
    return dfci_sinks_open(&flow, paths, process_id, 2, 2, err, sizeof err);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    test_stdout();

    dfc_worker w;
    memset(&w, 0, sizeof w);

    /* FILE: truncated at open by process 0, written by worker 0 */
    {
        FILE *f = fopen(tmp_path("out.txt"), "w");
        fputs("old content that must go\n", f);
        fclose(f);
        dfci_sinks *s = open1(DFC_SINK_FILE, tmp_path("out.txt"), 0);
        cur_local = dfci_sink_local_new(s, 0, err, sizeof err);
        dfc_sink_write(&w, 0, "one", 3);
        dfc_sink_write(&w, 0, "", 0);
        dfc_sink_write(&w, 0, "three", 5);
        int rc = dfci_sink_local_flush(cur_local, err, sizeof err);
        dfci_sink_local_free(cur_local);
        rc |= dfci_sinks_close(s, err, sizeof err);
        char *text = slurp(tmp_path("out.txt"), NULL);
        t_ok(rc == 0 && text && strcmp(text, "one\n\nthree\n") == 0, "FILE sink");
        free(text);
    }
    {
        dfci_sinks *s = open1(DFC_SINK_FILE, tmp_path("p1.txt"), 1);
        struct stat st;
        t_ok(s && stat(tmp_path("p1.txt"), &st) != 0, "FILE sink: process 1 does not open it");
        cur_local = dfci_sink_local_new(s, 2, err, sizeof err);
        int rc = dfci_sink_local_flush(cur_local, err, sizeof err);
        t_ok(rc == 0, "FILE sink: nothing written on process 1 is fine");
        dfc_sink_write(&w, 0, "x", 1);
        rc = dfci_sink_local_flush(cur_local, err, sizeof err);
        t_ok(rc == -1 && strstr(err, "only the process of worker 0"),
             "FILE sink: a write on process 1 is an error: %s", err);
        dfci_sink_local_free(cur_local);
        dfci_sinks_close(s, NULL, 0);
    }
    {
        dfci_sinks *s = open1(DFC_SINK_FILE, tmp_path("nodir/out.txt"), 0);
        char want[400];
        snprintf(want, sizeof want, "cannot open '%s': No such file or directory",
                 tmp_path("nodir/out.txt"));
        t_ok(!s && strcmp(err, want) == 0, "FILE sink in a missing directory: %s", err);
    }

    /* DIR: mkdir -p, one truncated part file per worker */
    {
        mkdir(tmp_path("a"), 0777);
        mkdir(tmp_path("a/b"), 0777);
        mkdir(tmp_path("a/b/c"), 0777);
        FILE *f = fopen(tmp_path("a/b/c/part-1"), "w");
        fputs("stale\n", f);
        fclose(f);
        dfci_sinks *s = open1(DFC_SINK_DIR, tmp_path("a/b/c/d/e"), 0);
        int rc = s ? 0 : -1;
        dfci_sinks *s2 = open1(DFC_SINK_DIR, tmp_path("a/b/c/"), 1);
        rc |= s2 ? 0 : -1;
        dfci_sink_local *l[3];
        for (int k = 0; k < 3; k++) l[k] = dfci_sink_local_new(k < 2 ? s : s2, k, err, sizeof err);
        for (int k = 0; k < 3; k++) {
            cur_local = l[k];
            char line[32];
            for (int i = 0; i <= k; i++) {
                int n = snprintf(line, sizeof line, "w%d-%d", k, i);
                dfc_sink_write(&w, 0, line, (size_t)n);
            }
            rc |= dfci_sink_local_flush(l[k], err, sizeof err);
            dfci_sink_local_free(l[k]);
        }
        rc |= dfci_sinks_close(s, err, sizeof err) | dfci_sinks_close(s2, err, sizeof err);
        char *p0 = slurp(tmp_path("a/b/c/d/e/part-0"), NULL);
        char *p1 = slurp(tmp_path("a/b/c/d/e/part-1"), NULL);
        char *p2 = slurp(tmp_path("a/b/c/part-2"), NULL);
        char *stale = slurp(tmp_path("a/b/c/part-1"), NULL);
        t_ok(rc == 0 && p0 && p1 && p2 && strcmp(p0, "w0-0\n") == 0 &&
                 strcmp(p1, "w1-0\nw1-1\n") == 0 && strcmp(p2, "w2-0\nw2-1\nw2-2\n") == 0,
             "DIR sink: part-<worker> files under a new nested directory");
        t_ok(stale && strcmp(stale, "stale\n") == 0, "DIR sink: another worker's part untouched");
        free(p0), free(p1), free(p2), free(stale);

        /* part files are truncated when a worker opens them */
        dfci_sinks *s3 = open1(DFC_SINK_DIR, tmp_path("a/b/c"), 0);
        dfci_sink_local *l1 = dfci_sink_local_new(s3, 1, err, sizeof err);
        dfci_sink_local_free(l1);
        dfci_sinks_close(s3, NULL, 0);
        size_t n = 99;
        char *t = slurp(tmp_path("a/b/c/part-1"), &n);
        t_ok(t && n == 0, "DIR sink: part file truncated at open");
        free(t);

        f = fopen(tmp_path("plain"), "w");
        fclose(f);
        char want[400];
        snprintf(want, sizeof want, "cannot create directory '%s': Not a directory",
                 tmp_path("plain/x"));
        t_ok(!open1(DFC_SINK_DIR, tmp_path("plain/x"), 0) && strcmp(err, want) == 0,
             "DIR sink under a regular file: %s", err);
    }

    /* DISCARD */
    {
        dfci_sinks *s = open1(DFC_SINK_DISCARD, "", 0);
        cur_local = dfci_sink_local_new(s, 0, err, sizeof err);
        for (int i = 0; i < 100000; i++) dfc_sink_write(&w, 0, "zzzzzzzzzz", 10);
        int rc = dfci_sink_local_flush(cur_local, err, sizeof err);
        dfci_sink_local_free(cur_local);
        t_ok(rc == 0 && dfci_sinks_close(s, err, sizeof err) == 0, "DISCARD sink");
    }

    /* write errors are returned */
    {
        dfci_sinks *s = open1(DFC_SINK_FILE, "/dev/full", 0);
        if (!s) {
            t_ok(1, "# SKIP no /dev/full");
        } else {
            cur_local = dfci_sink_local_new(s, 0, err, sizeof err);
            dfc_sink_write(&w, 0, "a", 1);
            int rc = dfci_sink_local_flush(cur_local, err, sizeof err);
            t_ok(rc == -1 && strcmp(err, "write to '/dev/full': No space left on device") == 0,
                 "ENOSPC from flush: %s", err);
            fail_msg[0] = 0;
            if (setjmp(fail_jmp) == 0) {
                for (int i = 0; i < 100000; i++) dfc_sink_write(&w, 0, "0123456789", 10);
                t_ok(0, "ENOSPC from dfc_sink_write fails the step");
            } else {
                t_ok(strcmp(fail_msg, "write to '/dev/full': No space left on device") == 0,
                     "ENOSPC from dfc_sink_write fails the step: %s", fail_msg);
            }
            dfci_sink_local_free(cur_local);
            dfci_sinks_close(s, NULL, 0);
        }
    }
    for (int processes = 1; processes <= 2; processes++) {
        /* One process: killed by SIGPIPE like a Unix tool (in a child). */
        pid_t child = -1;
        if (processes == 1) {
            fflush(stdout);
            child = fork();
            if (child < 0) return 2;
            if (child > 0) {
                int st = 0;
                waitpid(child, &st, 0);
                t_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
                     "EPIPE on stdout, one process: killed by SIGPIPE (status %d)", st);
                continue;
            }
        }
        /* A cluster process: the error is reported. */
        dfc_sink_desc sd = {DFC_SINK_STDOUT, 0};
        dfc_flow flow = {.nsinks = 1, .sinks = &sd};
        dfc_str paths[1] = {{"", 0}};
        dfci_sinks *s = dfci_sinks_open(&flow, paths, 0, processes, 1, err, sizeof err);
        cur_local = dfci_sink_local_new(s, 0, err, sizeof err);
        int p[2];
        if (pipe(p) != 0) return 2;
        fflush(stdout);
        int saved = dup(1);
        dup2(p[1], 1);
        close(p[1]);
        close(p[0]);
        dfc_inspect_write(&w, "lost", 4);
        int rc = dfci_sink_local_flush(cur_local, err, sizeof err);
        dup2(saved, 1);
        close(saved);
        if (child == 0) _exit(3); /* not killed */
        t_ok(rc == -1 && strcmp(err, "write to standard output: Broken pipe") == 0,
             "EPIPE on stdout, a cluster process: %s", err);
        dfci_sink_local_free(cur_local);
        dfci_sinks_close(s, NULL, 0);
    }

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    return t_done();
}
