/*
 * sink.c — the sink half of io.h, and dfc_sink_write / dfc_inspect_write.
 *
 * Every worker appends whole lines to buffers of its own (dfci_sink_local):
 * one buffer for standard output, shared by all STDOUT sinks and by inspect
 * so a worker's lines keep their order, and one buffer per FILE or DIR sink.
 * A buffer is written out when it passes SINK_FLUSH_BYTES and at the end.
 * Because buffers only ever hold whole lines, a flush writes whole lines.
 * Standard output and each FILE sink have one mutex per process, held for a
 * whole buffer's write(2) loop, so lines of different workers never
 * interleave.  FILE sinks are opened (truncated) by the process that holds
 * global worker 0, the only worker that writes them; DIR sinks make the
 * directory (mkdir -p) and each worker writes PATH/part-<global index>.
 * Write errors (ENOSPC, EPIPE, ...) are returned, and dfc_sink_write turns
 * them into a failed step.
 *
 * In a cluster every process may write to the same standard output (-p N:
 * the children inherit it).  When it is a pipe or socket (not a file, whose
 * shared offset keeps writes whole), a write of more than PIPE_BUF bytes
 * may interleave with another process's write, cutting lines in two; so
 * there, when processes > 1, a buffer's writes are made under a POSIX
 * record lock on standard output (fcntl F_SETLKW: owned per process, so
 * processes sharing the pipe take turns, and freed if one dies).  Where
 * such locks are refused, the buffer goes out in writes of at most
 * PIPE_BUF bytes that end at line ends (whole, unless a line is longer).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits.h>

#include "io.h"


#define SINK_FLUSH_BYTES (64 * 1024)

typedef struct sink {
    int kind;       /* enum dfc_sink_kind */
    int fd;         /* FILE: open on the process of worker 0, else -1 */
    char *path;     /* FILE, DIR: NUL-terminated copy */
    pthread_mutex_t lock; /* FILE: one writer at a time */
} sink;

struct dfci_sinks {
    const dfc_flow *flow;
    int process_id, workers_per_process;
    pthread_mutex_t stdout_lock;
    bool stdout_shared; /* a pipe or socket other processes of the run may share */
    bool single_process;
    int nsinks;
    sink *v;
};

typedef struct sink_buf {
    int fd;          /* DIR: this worker's part file; FILE: the shared fd */
    dfc_buf buf;
} sink_buf;

struct dfci_sink_local {
    dfci_sinks *s;
    int worker;
    dfc_buf out; /* standard output: STDOUT sinks and inspect */
    sink_buf *v; /* per sink (FILE, DIR) */
};

/* A NUL-terminated copy of a path; NULL (err filled) for an empty path or
 * one with a NUL byte inside. */
static char *path_dup(dfc_str p, char *err, size_t errlen)
{
    if (p.len <= 0 || memchr(p.ptr, '\0', (size_t)p.len)) {
        dfci_errf(err, errlen, "invalid path '%.*s'", (int)(p.len > 0 ? p.len : 0), p.ptr);
        return NULL;
    }
    char *s = dfc_heap_alloc((size_t)p.len + 1);
    memcpy(s, p.ptr, (size_t)p.len);
    s[p.len] = '\0';
    return s;
}

/* Puts "step '<id>': " in front of the message in err (sink k's step). */
static void name_step(const dfc_flow *flow, int k, char *err, size_t errlen)
{
    int step = flow->sinks[k].step;
    if (!err || errlen == 0 || !flow->step_ids || step < 0 || step >= flow->nsteps) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err);
    dfci_errf(err, errlen, "step '%s': %s", flow->step_ids[step], msg);
}

/* mkdir -p: every missing directory of path. */
static int mkdir_p(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *t = dfc_heap_alloc(n + 1);
    memcpy(t, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (t[i] != '/' && t[i] != '\0') continue;
        char c = t[i];
        t[i] = '\0';
        if (mkdir(t, 0777) != 0 && errno != EEXIST) {
            dfci_errf(err, errlen, "cannot create directory '%s': %s", t, strerror(errno));
            free(t);
            return -1;
        }
        t[i] = c;
    }
    free(t);
    struct stat st;
    if (stat(path, &st) != 0) {
        dfci_errf(err, errlen, "cannot create directory '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        dfci_errf(err, errlen, "cannot create directory '%s': %s", path, strerror(ENOTDIR));
        return -1;
    }
    return 0;
}

/* write(2) until all of p is out.  Returns bytes written; sets *errnum on error. */
static size_t write_all(int fd, const uint8_t *p, size_t n, int *errnum)
{
    size_t done = 0;
    *errnum = 0;
    while (done < n) {
        ssize_t k = write(fd, p + done, n - done);
        if (k < 0) {
            if (errno == EINTR) continue;
            *errnum = errno;
            break;
        }
        if (k == 0) {
            *errnum = EIO;
            break;
        }
        done += (size_t)k;
    }
    return done;
}

/* Like write_all for whole lines, in writes of at most PIPE_BUF bytes that
 * end at a line end (a longer line goes whole), which a pipe keeps whole. */
static size_t write_lines_atomic(int fd, const uint8_t *p, size_t n, int *errnum)
{
    size_t done = 0;
    *errnum = 0;
    while (done < n) {
        size_t k = n - done;
        if (k > PIPE_BUF) {
            const uint8_t *nl = NULL;
            for (size_t i = PIPE_BUF; i > 0 && !nl; i--)
                if (p[done + i - 1] == '\n') nl = p + done + i - 1;
            if (!nl) nl = memchr(p + done + PIPE_BUF, '\n', k - PIPE_BUF);
            k = nl ? (size_t)(nl - (p + done)) + 1 : k;
        }
        size_t w = write_all(fd, p + done, k, errnum);
        done += w;
        if (*errnum) break;
    }
    return done;
}

/* Takes (F_WRLCK) or drops (F_UNLCK) the record lock on all of fd that
 * processes sharing it take turns with; 0, or -1 if fd cannot be locked. */
static int process_lock(int fd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
    int rc;
    while ((rc = fcntl(fd, type == F_UNLCK ? F_SETLK : F_SETLKW, &fl)) != 0 && errno == EINTR) {}
    return rc;
}

/* Writes a buffer of whole lines under lock (may be NULL), and with
 * shared_pipe under the record lock of fd (see the top of the file).  What
 * was written is dropped from the buffer; on error the rest stays. */
static int flush_buf_mode(dfc_buf *b, int fd, pthread_mutex_t *lock, bool shared_pipe,
                          const char *what, char *err, size_t errlen)
{
    if (b->len == 0) return 0;
    int e;
    if (lock) pthread_mutex_lock(lock);
    bool locked = shared_pipe && process_lock(fd, F_WRLCK) == 0;
    size_t done = shared_pipe && !locked ? write_lines_atomic(fd, b->data, b->len, &e)
                                  : write_all(fd, b->data, b->len, &e);
    if (locked) process_lock(fd, F_UNLCK);
    if (lock) pthread_mutex_unlock(lock);
    if (done < b->len) memmove(b->data, b->data + done, b->len - done);
    b->len -= done;
    if (e) {
        dfci_errf(err, errlen, "write to %s: %s", what, strerror(e));
        errno = e; /* for flush_stdout */
        return -1;
    }
    return 0;
}

static int flush_buf(dfc_buf *b, int fd, pthread_mutex_t *lock, const char *what, char *err,
                     size_t errlen)
{
    return flush_buf_mode(b, fd, lock, false, what, err, errlen);
}

/* Standard output closed by its reader (`./flow | head`): a run of one
 * process ends the way Unix tools do, killed by SIGPIPE (run.c ignores it,
 * for sockets) with no message, its status 128+13; a cluster process
 * reports the error, so that its peers learn why it stopped. */
static int flush_stdout(dfci_sinks *s, dfc_buf *b, char *err, size_t errlen)
{
    int rc = flush_buf_mode(b, STDOUT_FILENO, &s->stdout_lock, s->stdout_shared, "standard output",
                            err, errlen);
    if (rc != 0 && s->single_process && errno == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    return rc;
}

dfci_sinks *dfci_sinks_open(const dfc_flow *flow, const dfc_str *paths, int process_id,
                            int processes, int workers_per_process, char *err, size_t errlen)
{
    dfci_sinks *s = dfc_heap_alloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->flow = flow;
    s->process_id = process_id;
    s->workers_per_process = workers_per_process;
    s->nsinks = flow->nsinks;
    pthread_mutex_init(&s->stdout_lock, NULL);
    struct stat st;
    s->single_process = processes == 1;
    s->stdout_shared = processes > 1 && fstat(STDOUT_FILENO, &st) == 0 &&
                       (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    s->v = dfc_heap_alloc(sizeof *s->v * (size_t)(s->nsinks ? s->nsinks : 1));
    for (int k = 0; k < s->nsinks; k++) {
        s->v[k] = (sink){.kind = flow->sinks[k].kind, .fd = -1, .path = NULL};
        pthread_mutex_init(&s->v[k].lock, NULL);
    }
    for (int k = 0; k < s->nsinks; k++) {
        sink *o = &s->v[k];
        if (o->kind == DFC_SINK_FILE || o->kind == DFC_SINK_DIR) {
            if (!(o->path = path_dup(paths[k], err, errlen))) goto fail;
        }
        if (o->kind == DFC_SINK_FILE && process_id == 0) {
            o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (o->fd < 0) {
                dfci_errf(err, errlen, "cannot open '%s': %s", o->path, strerror(errno));
                name_step(flow, k, err, errlen);
                goto fail;
            }
        } else if (o->kind == DFC_SINK_DIR) {
            if (mkdir_p(o->path, err, errlen) != 0) {
                name_step(flow, k, err, errlen);
                goto fail;
            }
        }
    }
    return s;
fail:
    dfci_sinks_close(s, NULL, 0);
    return NULL;
}

int dfci_sinks_close(dfci_sinks *s, char *err, size_t errlen)
{
    if (!s) return 0;
    int rc = 0;
    for (int k = 0; k < s->nsinks; k++) {
        sink *o = &s->v[k];
        if (o->fd >= 0 && close(o->fd) != 0 && rc == 0) {
            dfci_errf(err, errlen, "cannot close '%s': %s", o->path, strerror(errno));
            rc = -1;
        }
        free(o->path);
        pthread_mutex_destroy(&o->lock);
    }
    pthread_mutex_destroy(&s->stdout_lock);
    free(s->v);
    free(s);
    return rc;
}

dfci_sink_local *dfci_sink_local_new(dfci_sinks *s, int worker, char *err, size_t errlen)
{
    dfci_sink_local *l = dfc_heap_alloc(sizeof *l);
    memset(l, 0, sizeof *l);
    l->s = s;
    l->worker = worker;
    l->v = dfc_heap_alloc(sizeof *l->v * (size_t)(s->nsinks ? s->nsinks : 1));
    for (int k = 0; k < s->nsinks; k++) l->v[k] = (sink_buf){.fd = -1};
    for (int k = 0; k < s->nsinks; k++) {
        sink *o = &s->v[k];
        if (o->kind == DFC_SINK_FILE) {
            l->v[k].fd = o->fd;
        } else if (o->kind == DFC_SINK_DIR) {
            size_t n = strlen(o->path) + 32;
            char *p = dfc_heap_alloc(n);
            snprintf(p, n, "%s/part-%d", o->path, worker);
            l->v[k].fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (l->v[k].fd < 0) {
                dfci_errf(err, errlen, "cannot open '%s': %s", p, strerror(errno));
                name_step(s->flow, k, err, errlen);
                free(p);
                dfci_sink_local_free(l);
                return NULL;
            }
            free(p);
        }
    }
    return l;
}

/* Sink k of this worker: FILE and DIR buffers (the caller knows the kind). */
static int flush_sink(dfci_sink_local *l, int k, char *err, size_t errlen)
{
    sink *o = &l->s->v[k];
    sink_buf *b = &l->v[k];
    if (b->buf.len == 0) return 0;
    if (b->fd < 0) {
        dfci_errf(err, errlen,
                  "file sink '%s' written by worker %d of process %d; only the process of worker 0 "
                  "opens it",
                  o->path, l->worker, l->s->process_id);
        return -1;
    }
    char what[64 + 4096];
    snprintf(what, sizeof what, "'%s'%s", o->path, o->kind == DFC_SINK_DIR ? " (part file)" : "");
    return flush_buf(&b->buf, b->fd, o->kind == DFC_SINK_FILE ? &o->lock : NULL, what, err,
                     errlen);
}

int dfci_sink_local_flush(dfci_sink_local *l, char *err, size_t errlen)
{
    int rc = flush_stdout(l->s, &l->out, err, errlen);
    for (int k = 0; k < l->s->nsinks; k++) {
        int kind = l->s->v[k].kind;
        if (kind != DFC_SINK_FILE && kind != DFC_SINK_DIR) continue;
        /* Keep the first error's message; still try the other sinks. */
        if (rc == 0)
            rc = flush_sink(l, k, err, errlen);
        else
            flush_sink(l, k, NULL, 0);
    }
    return rc;
}

void dfci_sink_local_free(dfci_sink_local *l)
{
    if (!l) return;
    dfc_buf_free(&l->out);
    for (int k = 0; k < l->s->nsinks; k++) {
        if (l->s->v[k].kind == DFC_SINK_DIR && l->v[k].fd >= 0) close(l->v[k].fd);
        dfc_buf_free(&l->v[k].buf);
    }
    free(l->v);
    free(l);
}

static void put_line(dfc_buf *b, const char *p, size_t n)
{
    dfc_buf_grow(b, n + 1);
    if (n) memcpy(b->data + b->len, p, n);
    b->data[b->len + n] = '\n';
    b->len += n + 1;
}

static void stdout_line(dfc_worker *w, dfci_sink_local *l, const char *p, size_t n)
{
    put_line(&l->out, p, n);
    if (l->out.len >= SINK_FLUSH_BYTES) {
        char err[256];
        if (flush_stdout(l->s, &l->out, err, sizeof err) != 0)
            dfc_fail(w, "%s", err);
    }
}

void dfc_sink_write(dfc_worker *w, int k, const char *p, size_t n)
{
    dfci_sink_local *l = dfci_worker_sinks(w);
    if (k < 0 || k >= l->s->nsinks) {
        fprintf(stderr, "dfc: bug: sink %d of %d written\n", k, l->s->nsinks);
        abort();
    }
    switch (l->s->v[k].kind) {
    case DFC_SINK_STDOUT:
        stdout_line(w, l, p, n);
        break;
    case DFC_SINK_FILE:
    case DFC_SINK_DIR: {
        sink_buf *b = &l->v[k];
        put_line(&b->buf, p, n);
        if (b->buf.len >= SINK_FLUSH_BYTES) {
            char err[512];
            if (flush_sink(l, k, err, sizeof err) != 0) dfc_fail(w, "%s", err);
        }
        break;
    }
    default: /* DISCARD */
        break;
    }
}

void dfc_inspect_write(dfc_worker *w, const char *p, size_t n)
{
    stdout_line(w, dfci_worker_sinks(w), p, n);
}
