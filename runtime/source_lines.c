/*
 * source_lines.c — line sources: FILE (whole, or one byte range of it for
 * `parallel = true`), DIR (this worker's share of a directory's files) and
 * STDIN, plus the read buffer (dfci_rbuf) that the CSV reader shares.
 *
 * A file is read with large read(2) calls into one buffer (DFCI_READ_BYTES
 * at first, doubled whenever a single line does not fit); line ends are found
 * with memchr and each batch hands about DFCI_BATCH_BYTES of lines to
 * push_lines as slices into the buffer, valid during that call only.  A line
 * ends at '\n'; a '\r' before it is dropped; a last line without '\n' is
 * still a line; a file ending in '\n' has no empty line after it.
 *
 * Byte ranges: part k of T covers [k*size/T, (k+1)*size/T) and owns every
 * line that *starts* inside it.  A range that does not start at 0 skips to
 * just past the first '\n' at or after start-1 (so a line starting exactly at
 * `start` is kept); it reads past its end to finish its last line.  The last
 * part has no end, so a file that reports size 0 (/proc) or is not a regular
 * file is read whole by one worker.
 *
 * Chunks (dfci_chunking, for a flow that cannot tell the order of the
 * lines): the process's range is cut further, and each of its workers takes
 * the next chunk whenever it has finished one (dfci_chunk_take, source.c),
 * at least 1 MiB (CHUNK_MIN).  A chunk is a range like any other (it owns
 * the lines starting inside it).  A read stops a little past the chunk's
 * end instead of filling the buffer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#ifndef DFCI_READ_BYTES
#define DFCI_READ_BYTES (1 << 20) /* first size of a read buffer: one read(2) */
#endif
#ifndef DFCI_BATCH_BYTES
#define DFCI_BATCH_BYTES (64 * 1024) /* bytes of lines handed over per batch */
#endif
#define CHUNK_MIN (1 << 20) /* the smallest chunk of a shared range, unless told */
#define CHUNK_OVERREAD (64 * 1024) /* read past a chunk's end, for its last line */

int64_t dfci_part_bound(int64_t n, int k, int parts)
{
    if (n <= 0 || parts <= 0) return 0;
    return (int64_t)((__int128)n * k / parts);
}

int dfci_rbuf_fill(dfci_rbuf *r, const char *what, char *err, size_t errlen)
{
    if (r->beg > 0) {
        memmove(r->buf, r->buf + r->beg, r->len - r->beg);
        r->len -= r->beg;
        r->beg = 0;
    }
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : DFCI_READ_BYTES;
        if (cap < r->cap) cap = SIZE_MAX; /* cannot happen before malloc fails */
        char *b = realloc(r->buf, cap);
        if (!b) {
            dfci_errf(err, errlen, "read error on '%s': out of memory for a %zu-byte line", what,
                   r->len);
            return -1;
        }
        r->buf = b;
        r->cap = cap;
    }
    size_t want = r->cap - r->len;
    if (r->max_read && want > r->max_read) want = r->max_read;
    for (;;) {
        ssize_t k = read(r->fd, r->buf + r->len, want);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            dfci_errf(err, errlen, "read error on '%s': %s", what, strerror(errno));
            return -1;
        }
        if (k == 0) {
            r->eof = true;
            return 0;
        }
        r->len += (size_t)k;
        return 1;
    }
}

struct dfci_lines {
    char **paths;   /* files to read in order: one FILE, or this worker's DIR files */
    size_t npaths, next;
    int part, parts; /* byte range of a FILE (0 of 1: the whole file) */
    dfci_chunking chunking; /* taken == NULL: the range is read whole */
    int64_t range_lo, range_len; /* chunks: the process's range */
    bool range_open;             /* chunks: it is the file's last range (no end) */
    bool is_stdin;
    bool open;      /* a file is being read */
    dfci_rbuf r;
    size_t scan;    /* buf[beg, scan) holds no '\n' */
    int64_t off;    /* file offset of buf[beg] */
    int64_t limit;  /* a line starting at or after this offset is not ours */
    bool skip;      /* drop bytes up to and including the first '\n' */
    dfc_str *batch;
    size_t batch_cap;
};

static dfci_lines *lines_new(void)
{
    dfci_lines *l = dfc_heap_alloc(sizeof *l);
    memset(l, 0, sizeof *l);
    l->r.fd = -1;
    l->parts = 1;
    return l;
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = dfc_heap_alloc(n);
    memcpy(p, s, n);
    return p;
}

dfci_lines *dfci_lines_open_file(const char *path, int part, int parts,
                                 const dfci_chunking *chunking, char *err, size_t errlen)
{
    /* Open now so a missing file is an error at start-up. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dfci_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    dfci_lines *l = lines_new();
    l->paths = dfc_heap_alloc(sizeof *l->paths);
    l->paths[0] = str_dup(path);
    l->npaths = 1;
    l->part = part;
    l->parts = parts > 0 ? parts : 1;
    if (chunking && chunking->taken) {
        l->chunking = *chunking;
        l->part = chunking->process;
        l->parts = chunking->processes > 0 ? chunking->processes : 1;
        if (l->chunking.min < 1) l->chunking.min = CHUNK_MIN;
    }
    l->r.fd = fd;
    return l;
}

dfci_lines *dfci_lines_open_stdin(void)
{
    dfci_lines *l = lines_new();
    l->paths = dfc_heap_alloc(sizeof *l->paths);
    l->paths[0] = str_dup("standard input");
    l->npaths = 1;
    l->is_stdin = true;
    l->r.fd = STDIN_FILENO;
    return l;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dfci_lines *dfci_lines_open_dir(const char *dir, const char *glob, int worker, int total,
                                char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        dfci_errf(err, errlen, "cannot open '%s': %s", dir, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                dfci_errf(err, errlen, "cannot read directory '%s': %s", dir, strerror(errno));
                goto fail;
            }
            break;
        }
        if (fnmatch(glob, e->d_name, 0) != 0) continue;
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        char *p = dfc_heap_alloc(len);
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) { /* also . and .. */
            free(p);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                free(p);
                dfci_errf(err, errlen, "cannot read directory '%s': out of memory", dir);
                goto fail;
            }
            names = v;
        }
        names[n++] = p;
    }
    closedir(d);
    d = NULL;
    /* Sorting full paths sorts by name: they share the "dir/" prefix. */
    if (n) qsort(names, n, sizeof *names, cmp_names);
    dfci_lines *l = lines_new();
    l->paths = dfc_heap_alloc(sizeof *l->paths * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        if (total > 0 && (int)(i % (size_t)total) == worker)
            l->paths[l->npaths++] = names[i];
        else
            free(names[i]);
    }
    free(names);
    return l;
fail:
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return NULL;
}

void dfci_lines_close(dfci_lines *l)
{
    if (!l) return;
    if (l->r.fd >= 0 && !l->is_stdin) close(l->r.fd);
    free(l->r.buf);
    for (size_t i = 0; i < l->npaths; i++) free(l->paths[i]);
    free(l->paths);
    free(l->batch);
    free(l);
}

/* Positions the reader to read the lines that start at or after `start`:
 * just past the first '\n' at or after start - 1. */
static int seek_line(dfci_lines *l, int64_t start, char *err, size_t errlen)
{
    l->r.beg = l->r.len = 0;
    l->r.eof = false;
    l->scan = 0;
    l->off = 0;
    l->skip = false;
    if (start <= 0 && !l->chunking.taken) return 0; /* at the start already */
    if (lseek(l->r.fd, (off_t)(start > 0 ? start - 1 : 0), SEEK_SET) < 0) {
        dfci_errf(err, errlen, "cannot seek in '%s': %s", l->paths[l->next], strerror(errno));
        return -1;
    }
    if (start > 0) {
        l->off = start - 1;
        l->skip = true;
    }
    return 0;
}

/* Takes the next chunk of the process's range and positions the reader at
 * it; with none left, this worker's part of the file is at its end. */
static int next_chunk(dfci_lines *l, char *err, size_t errlen)
{
    int64_t at, take;
    if (!dfci_chunk_take(&l->chunking, l->range_len, &at, &take)) {
        l->r.beg = l->r.len = 0;
        l->scan = 0;
        l->skip = false;
        l->limit = INT64_MAX;
        l->r.eof = true;
        return 0;
    }
    l->limit = at + take == l->range_len && l->range_open ? INT64_MAX : l->range_lo + at + take;
    return seek_line(l, l->range_lo + at, err, errlen);
}

/* Before a read of a chunk: stop a little past its end (the bytes after it
 * are another chunk's, read again by whoever takes that one). */
static void bound_read(dfci_lines *l)
{
    dfci_rbuf *r = &l->r;
    if (!l->chunking.taken) return;
    if (l->limit == INT64_MAX) { /* the file's last chunk: to the end */
        r->max_read = 0;
        return;
    }
    int64_t left = l->limit - (l->off + (int64_t)(r->len - r->beg)); /* past the buffered bytes */
    r->max_read = left > 0 ? (size_t)left + CHUNK_OVERREAD : CHUNK_OVERREAD;
}

/* Positions a newly opened file at the start of its byte range. */
static int start_file(dfci_lines *l, char *err, size_t errlen)
{
    const char *path = l->paths[l->next];
    l->r.beg = l->r.len = 0;
    l->r.eof = false;
    l->scan = 0;
    l->off = 0;
    l->limit = INT64_MAX;
    l->skip = false;
    l->open = true;
    if (l->parts <= 1 && !l->chunking.taken) return 0;
    struct stat st;
    if (fstat(l->r.fd, &st) != 0) {
        dfci_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        /* No byte ranges in a pipe: part 0 reads it all (with chunks, the
         * first of its workers to get here). */
        int64_t none = 0;
        if (l->part != 0 || (l->chunking.taken && !atomic_compare_exchange_strong(l->chunking.taken, &none, 1)))
            l->r.eof = true;
        return 0;
    }
    int64_t size = (int64_t)st.st_size;
    int64_t start = dfci_part_bound(size, l->part, l->parts);
    if (l->part < l->parts - 1) {
        l->limit = dfci_part_bound(size, l->part + 1, l->parts);
        if (start >= l->limit) { /* no line can start in an empty range */
            l->r.eof = true;
            return 0;
        }
    }
    if (l->chunking.taken) {
        l->range_lo = start;
        l->range_len = (l->limit == INT64_MAX ? size : l->limit) - start;
        l->range_open = l->limit == INT64_MAX;
        if (l->range_open && l->range_len < 1) l->range_len = 1; /* size 0 (/proc): one reads it all */
        return next_chunk(l, err, errlen);
    }
    return seek_line(l, start, err, errlen);
}

/* Done with the current file (the buffer stays: the batch may point into it). */
static void end_file(dfci_lines *l)
{
    if (!l->is_stdin && l->r.fd >= 0) close(l->r.fd);
    l->r.fd = -1;
    l->open = false;
    l->next++;
}

static void batch_add(dfci_lines *l, size_t *n, const char *p, size_t len)
{
    if (*n == l->batch_cap) {
        l->batch_cap = l->batch_cap ? l->batch_cap * 2 : 256;
        dfc_str *b = realloc(l->batch, l->batch_cap * sizeof *b);
        if (!b) {
            fprintf(stderr, "dfc: out of memory\n");
            abort();
        }
        l->batch = b;
    }
    if (len > 0 && p[len - 1] == '\r') len--;
    l->batch[(*n)++] = (dfc_str){p, (int64_t)len};
}

int dfci_lines_next(dfci_lines *l, dfc_worker *w, const dfc_source_desc *desc, char *err,
                    size_t errlen)
{
    size_t n = 0, bytes = 0;
    dfci_rbuf *r = &l->r;
    for (;;) {
        if (!l->open) {
            if (n > 0) break; /* a batch ends with its file */
            if (l->next >= l->npaths) return 0;
            if (r->fd < 0) {
                const char *path = l->paths[l->next];
                r->fd = open(path, O_RDONLY | O_CLOEXEC);
                if (r->fd < 0) {
                    dfci_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
                    return -1;
                }
            }
            if (start_file(l, err, errlen) != 0) return -1;
            continue;
        }
        const char *what = l->paths[l->next];
        if (l->skip) {
            char *nl = r->len > r->beg ? memchr(r->buf + r->beg, '\n', r->len - r->beg) : NULL;
            if (nl) {
                size_t k = (size_t)(nl + 1 - (r->buf + r->beg));
                r->beg += k;
                l->off += (int64_t)k;
                l->scan = r->beg;
                l->skip = false;
                continue;
            }
            l->off += (int64_t)(r->len - r->beg);
            r->beg = l->scan = r->len;
            if (r->eof) {
                end_file(l);
                continue;
            }
            bound_read(l);
            if (dfci_rbuf_fill(r, what, err, errlen) < 0) return -1;
            l->scan = r->beg;
            continue;
        }
        if (l->off >= l->limit) { /* the next line belongs to the next range */
            if (!l->chunking.taken) {
                end_file(l);
                continue;
            }
            if (n > 0) break; /* the batch points into the buffer */
            if (next_chunk(l, err, errlen) != 0) return -1;
            continue;
        }
        char *nl = r->len > l->scan ? memchr(r->buf + l->scan, '\n', r->len - l->scan) : NULL;
        if (nl) {
            size_t end = (size_t)(nl - r->buf), len = end - r->beg;
            batch_add(l, &n, r->buf + r->beg, len);
            bytes += len + 1;
            l->off += (int64_t)(len + 1);
            r->beg = l->scan = end + 1;
            if (bytes >= DFCI_BATCH_BYTES) break;
            continue;
        }
        l->scan = r->len;
        if (r->eof) {
            if (r->beg < r->len) { /* a last line without '\n' */
                batch_add(l, &n, r->buf + r->beg, r->len - r->beg);
                l->off += (int64_t)(r->len - r->beg);
                r->beg = r->len;
            }
            end_file(l);
            continue;
        }
        if (n > 0) break; /* hand over what we have before the buffer moves */
        size_t shift = r->beg;
        bound_read(l);
        if (dfci_rbuf_fill(r, what, err, errlen) < 0) return -1;
        l->scan -= shift;
    }
    desc->push_lines(w, l->batch, n);
    return 1;
}
