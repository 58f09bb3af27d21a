/*
 * source.c — dfci_source_open/next/close: which partitions of a source a
 * worker reads (io.h), and dispatch to the readers in source_lines.c and
 * source_csv.c.  RANGE lives here: worker k of T gets [k*n/T, (k+1)*n/T),
 * pushed in runs of RANGE_CHUNK numbers; unordered, process p of P gets
 * [p*n/P, (p+1)*n/P) and its workers take chunks of it (dfci_chunk_take,
 * also here).  A worker with no partition gets a source that is exhausted
 * at once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define RANGE_CHUNK 4096        /* numbers per push_range call */
#define RANGE_TAKE_MIN (1 << 16) /* the smallest chunk of a shared RANGE */

struct dfci_source {
    const dfc_source_desc *desc;
    dfci_lines *lines; /* FILE, DIR, STDIN */
    dfci_csv *csv;     /* CSV */
    int64_t lo, hi;    /* RANGE: numbers still to push (of the chunk taken last) */
    dfci_chunking chunking;       /* RANGE unordered: taken != NULL */
    int64_t part_lo, part_len;    /* RANGE unordered: the process's numbers */
};

bool dfci_chunk_take(const dfci_chunking *c, int64_t len, int64_t *at, int64_t *take)
{
    int64_t workers = c->workers > 0 ? c->workers : 1;
    int64_t a = atomic_load_explicit(c->taken, memory_order_relaxed), t;
    do {
        if (a >= len) return false;
        int64_t left = len - a;
        t = left / (4 * workers);
        if (t < c->min) t = c->min;
        if (t > left) t = left;
    } while (!atomic_compare_exchange_weak_explicit(c->taken, &a, a + t, memory_order_relaxed,
                                                    memory_order_relaxed));
    *at = a;
    *take = t;
    return true;
}

/* A NUL-terminated copy; NULL (err filled) when s holds a NUL byte. */
static char *cstr(dfc_str s, const char *what, char *err, size_t errlen)
{
    int64_t n = s.len > 0 ? s.len : 0;
    if (n && memchr(s.ptr, '\0', (size_t)n)) {
        dfci_errf(err, errlen, "invalid %s '%.*s': it contains a NUL byte", what, (int)n, s.ptr);
        return NULL;
    }
    char *p = dfc_heap_alloc((size_t)n + 1);
    if (n) memcpy(p, s.ptr, (size_t)n);
    p[n] = '\0';
    return p;
}

dfci_source *dfci_source_open(const dfc_source_desc *desc, const dfc_source_args *args,
                              int worker, int total_workers, const dfci_chunking *chunking,
                              char *err, size_t errlen)
{
    if (total_workers < 1 || worker < 0 || worker >= total_workers) {
        dfci_errf(err, errlen, "source: worker %d of %d", worker, total_workers);
        return NULL;
    }
    dfci_source *s = dfc_heap_alloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->desc = desc;
    char *path = NULL, *glob = NULL;
    switch (desc->kind) {
    case DFC_SRC_FILE:
        if (!args->parallel && worker != 0) break;
        if (!(path = cstr(args->path, "path", err, errlen))) goto fail;
        if (args->parallel)
            s->lines = dfci_lines_open_file(path, worker, total_workers,
                                            args->unordered ? chunking : NULL, err, errlen);
        else
            s->lines = dfci_lines_open_file(path, 0, 1, NULL, err, errlen);
        if (!s->lines) goto fail;
        break;
    case DFC_SRC_DIR:
        if (!(path = cstr(args->path, "path", err, errlen))) goto fail;
        if (!(glob = args->glob.len > 0 ? cstr(args->glob, "glob", err, errlen)
                                        : cstr(DFC_STR_LIT("*"), "glob", err, errlen)))
            goto fail;
        if (!(s->lines = dfci_lines_open_dir(path, glob, worker, total_workers, err, errlen)))
            goto fail;
        break;
    case DFC_SRC_CSV:
        if (worker != 0) break;
        if (!(path = cstr(args->path, "path", err, errlen))) goto fail;
        if (!(s->csv = dfci_csv_open(path, err, errlen))) goto fail;
        break;
    case DFC_SRC_STDIN:
        if (worker == 0) s->lines = dfci_lines_open_stdin();
        break;
    case DFC_SRC_RANGE: {
        int64_t n = args->n > 0 ? args->n : 0;
        if (args->unordered && chunking && chunking->taken) {
            s->chunking = *chunking;
            if (s->chunking.min < 1) s->chunking.min = RANGE_TAKE_MIN;
            s->part_lo = dfci_part_bound(n, chunking->process, chunking->processes);
            s->part_len = dfci_part_bound(n, chunking->process + 1, chunking->processes) - s->part_lo;
            break;
        }
        s->lo = dfci_part_bound(n, worker, total_workers);
        s->hi = dfci_part_bound(n, worker + 1, total_workers);
        break;
    }
    default:
        dfci_errf(err, errlen, "unknown source kind %d", desc->kind);
        goto fail;
    }
    free(path);
    free(glob);
    return s;
fail:
    free(path);
    free(glob);
    free(s);
    return NULL;
}

int dfci_source_next(dfci_source *s, dfc_worker *w, char *err, size_t errlen)
{
    if (s->lines) return dfci_lines_next(s->lines, w, s->desc, err, errlen);
    if (s->csv) return dfci_csv_next(s->csv, w, s->desc, err, errlen);
    int64_t at, take;
    if (s->lo >= s->hi && s->chunking.taken &&
        dfci_chunk_take(&s->chunking, s->part_len, &at, &take)) {
        s->lo = s->part_lo + at;
        s->hi = s->lo + take;
    }
    if (s->lo < s->hi) {
        int64_t lo = s->lo, hi = s->hi - lo > RANGE_CHUNK ? lo + RANGE_CHUNK : s->hi;
        s->lo = hi;
        s->desc->push_range(w, lo, hi);
        return 1;
    }
    return 0;
}

void dfci_source_close(dfci_source *s)
{
    if (!s) return;
    dfci_lines_close(s->lines);
    dfci_csv_close(s->csv);
    free(s);
}
