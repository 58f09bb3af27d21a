/*
 * source.c — dfci_source_open/next/close: which partitions of a source a
 * worker reads (io.h), and dispatch to the readers in source_lines.c and
 * source_csv.c.  RANGE lives here: worker k of T gets [k*n/T, (k+1)*n/T),
 * pushed in runs of RANGE_CHUNK numbers.  A worker with no partition gets a
 * source that is exhausted at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define RANGE_CHUNK 4096 /* numbers per push_range call */

struct dfci_source {
    const dfc_source_desc *desc;
    dfci_lines *lines; /* FILE, DIR, STDIN */
    dfci_csv *csv;     /* CSV */
    int64_t lo, hi;    /* RANGE: numbers still to push */
};

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
