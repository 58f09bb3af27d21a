/*
 * source_csv.c — the CSV source: an RFC 4180 reader that hands rows to
 * push_rows as lists of str.
 *
 * Fields are separated by ',' and rows end at LF or CRLF.  A field that
 * starts with '"' is quoted: it runs to the next lone '"', may hold commas and
 * line breaks, and writes a '"' as "".  The first row is the header and is
 * not emitted; a UTF-8 byte order mark before it is dropped; blank lines are
 * skipped; a last row without a line break is still a row.  A quote inside an
 * unquoted field, a character other than ',' or a line break after a closing
 * quote, or a quoted field still open at the end of the file is an error
 * "csv: line N: ...".
 *
 * The parser is a resumable state machine over a dfci_rbuf, so a row or a
 * field longer than the buffer only costs a bigger buffer, never a rescan.
 * Field slices point into the read buffer; a quoted field with "" inside is
 * unescaped into the worker's arena.  Both live for the push_rows call only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#ifndef DFCI_BATCH_BYTES
#define DFCI_BATCH_BYTES (64 * 1024) /* bytes of rows handed over per batch */
#endif

enum { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE };

typedef struct field {
    size_t off, len; /* in buf: absolute indexes, moved with the buffer */
    bool esc;        /* quoted with "" inside: unescape */
} field;

struct dfci_csv {
    char *path;
    dfci_rbuf r;          /* the current row starts at r.beg */
    size_t pos;           /* parse position */
    int state;
    size_t fstart;        /* start of the field being parsed */
    bool fesc;            /* it holds "" */
    bool row_quoted;      /* the row has a quoted field (so it is not blank) */
    int64_t line;         /* physical line of pos, from 1 */
    int64_t quote_line;   /* line where the open quoted field began */
    bool header_done, started;
    char *failed;         /* the error, once there was one: every later call repeats it */
    field *f;             /* fields of the current row */
    size_t nf, fcap;
    size_t *row_first;    /* batch: first cell of each row */
    size_t nrows, rcap;
    dfc_str *cells;       /* batch: every field of its rows */
    size_t ncells, ccap;
    dfc_list_str *rows;   /* batch, made just before push_rows */
    size_t rows_cap;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) {
        fprintf(stderr, "dfc: out of memory\n");
        abort();
    }
    *cap = c;
    return q;
}

dfci_csv *dfci_csv_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dfci_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    dfci_csv *c = dfc_heap_alloc(sizeof *c);
    memset(c, 0, sizeof *c);
    size_t n = strlen(path) + 1;
    c->path = dfc_heap_alloc(n);
    memcpy(c->path, path, n);
    c->r.fd = fd;
    c->line = 1;
    c->state = FIELD_START;
    return c;
}

void dfci_csv_close(dfci_csv *c)
{
    if (!c) return;
    if (c->r.fd >= 0) close(c->r.fd);
    free(c->r.buf);
    free(c->path);
    free(c->f);
    free(c->row_first);
    free(c->cells);
    free(c->rows);
    free(c->failed);
    free(c);
}

static void end_field(dfci_csv *c, size_t end)
{
    c->f = grow(c->f, &c->fcap, c->nf + 1, sizeof *c->f);
    c->f[c->nf++] = (field){c->fstart, end - c->fstart, c->fesc};
    c->fesc = false;
}

/* The row in c->f is complete and ends just before `next`: add it to the
 * batch (unless it is the header or a blank line). */
static void end_row(dfci_csv *c, dfc_worker *w, size_t next)
{
    const char *buf = c->r.buf;
    bool blank = c->nf == 1 && c->f[0].len == 0 && !c->row_quoted;
    if (c->header_done && !blank) {
        c->cells = grow(c->cells, &c->ccap, c->ncells + c->nf, sizeof *c->cells);
        c->row_first = grow(c->row_first, &c->rcap, c->nrows + 1, sizeof *c->row_first);
        c->row_first[c->nrows++] = c->ncells;
        for (size_t i = 0; i < c->nf; i++) {
            field *f = &c->f[i];
            const char *p = buf + f->off;
            dfc_str s = {f->len ? p : "", (int64_t)f->len};
            if (f->esc) { /* "" → " */
                char *o = dfc_arena_alloc(&w->arena, f->len);
                size_t k = 0;
                for (size_t j = 0; j < f->len; j++) {
                    o[k++] = p[j];
                    if (p[j] == '"') j++;
                }
                s = (dfc_str){o, (int64_t)k};
            }
            c->cells[c->ncells++] = s;
        }
    } else if (!blank) {
        c->header_done = true;
    }
    c->nf = 0;
    c->row_quoted = false;
    c->r.beg = next;
    c->state = FIELD_START;
}

/* Parses what is buffered.  Returns 1 when it needs more bytes, 0 at the end
 * of the file, 2 when the batch is full, -1 on a malformed row. */
static int parse(dfci_csv *c, dfc_worker *w, size_t *bytes, char *err, size_t errlen)
{
    const char *buf = c->r.buf;
    size_t len = c->r.len;
    bool eof = c->r.eof;
    while (*bytes < DFCI_BATCH_BYTES) {
        size_t pos = c->pos;
        switch (c->state) {
        case FIELD_START:
            if (pos == len) {
                if (!eof) return 1;
                if (c->nf > 0) { /* "a," at the end: an empty last field */
                    c->fstart = pos;
                    end_field(c, pos);
                    end_row(c, w, pos);
                }
                return 0;
            }
            if (buf[pos] == '"') {
                c->state = QUOTED;
                c->row_quoted = true;
                c->quote_line = c->line;
                c->fstart = pos + 1;
                c->pos = pos + 1;
            } else {
                c->state = UNQUOTED;
                c->fstart = pos;
            }
            break;
        case UNQUOTED:
            while (pos < len && buf[pos] != ',' && buf[pos] != '\n' && buf[pos] != '"') pos++;
            c->pos = pos;
            if (pos == len) {
                if (!eof) return 1;
                size_t end = pos;
                if (end > c->fstart && buf[end - 1] == '\r') end--;
                end_field(c, end);
                *bytes += pos - c->r.beg;
                end_row(c, w, pos);
                return 0;
            }
            if (buf[pos] == '"') {
                dfci_errf(err, errlen, "csv: line %lld: quote inside an unquoted field",
                         (long long)c->line);
                return -1;
            }
            if (buf[pos] == ',') {
                end_field(c, pos);
                c->pos = pos + 1;
                c->state = FIELD_START;
            } else { /* '\n' */
                size_t end = pos;
                if (end > c->fstart && buf[end - 1] == '\r') end--;
                end_field(c, end);
                c->pos = pos + 1;
                c->line++;
                *bytes += c->pos - c->r.beg;
                end_row(c, w, c->pos);
            }
            break;
        case QUOTED:
            while (pos < len && buf[pos] != '"') {
                if (buf[pos] == '\n') c->line++;
                pos++;
            }
            c->pos = pos;
            if (pos == len) {
                if (!eof) return 1;
                dfci_errf(err, errlen, "csv: line %lld: quoted field not closed before the end of "
                         "the file", (long long)c->quote_line);
                return -1;
            }
            if (pos + 1 == len && !eof) return 1; /* is it "" ? */
            if (pos + 1 < len && buf[pos + 1] == '"') {
                c->fesc = true;
                c->pos = pos + 2;
            } else {
                end_field(c, pos);
                c->pos = pos + 1;
                c->state = AFTER_QUOTE;
            }
            break;
        case AFTER_QUOTE:
            if (pos == len) {
                if (!eof) return 1;
                *bytes += pos - c->r.beg;
                end_row(c, w, pos);
                return 0;
            }
            if (buf[pos] == ',') {
                c->pos = pos + 1;
                c->state = FIELD_START;
                /* the next field starts here; FIELD_START handles a trailing ',' */
            } else if (buf[pos] == '\n' || buf[pos] == '\r') {
                if (buf[pos] == '\r') { /* CRLF, or a CR that ends the file */
                    if (pos + 1 == len && !eof) return 1;
                    if (pos + 1 < len && buf[pos + 1] != '\n') goto stray;
                    if (pos + 1 < len) pos++;
                }
                c->pos = pos + 1;
                c->line++;
                *bytes += c->pos - c->r.beg;
                end_row(c, w, c->pos);
            } else {
                goto stray;
            }
            break;
        }
    }
    return 2;
stray:
    dfci_errf(err, errlen, "csv: line %lld: unexpected character after a closing quote",
             (long long)c->line);
    return -1;
}

/* Moves the parser's indexes with the buffer (fill drops `shift` bytes). */
static void shift_down(dfci_csv *c, size_t shift)
{
    c->pos -= shift;
    c->fstart -= shift;
    for (size_t i = 0; i < c->nf; i++) c->f[i].off -= shift;
}

int dfci_csv_next(dfci_csv *c, dfc_worker *w, const dfc_source_desc *desc, char *err,
                  size_t errlen)
{
    if (c->failed) {
        dfci_errf(err, errlen, "%s", c->failed);
        return -1;
    }
    size_t bytes = 0;
    c->nrows = c->ncells = 0;
    for (;;) {
        if (!c->started) { /* a UTF-8 byte order mark before the header */
            if (c->r.len - c->r.beg < 3 && !c->r.eof) {
                size_t shift = c->r.beg;
                if (dfci_rbuf_fill(&c->r, c->path, err, errlen) < 0) goto fail;
                shift_down(c, shift);
                continue;
            }
            c->started = true;
            if (c->r.len >= 3 && memcmp(c->r.buf, "\xEF\xBB\xBF", 3) == 0) c->r.beg = c->pos = 3;
        }
        int rc = parse(c, w, &bytes, err, errlen);
        if (rc < 0) {
            /* Rows before the malformed one still go out; the error follows. */
            if (c->nrows == 0) goto fail;
            c->failed = strdup(err && errlen ? err : "csv: malformed row");
            break;
        }
        if (rc == 0) break;
        if (rc == 2) { /* full, unless all it held was the header and blank lines */
            if (c->nrows > 0) break;
            bytes = 0;
            continue;
        }
        if (c->nrows > 0) break; /* hand over the rows before the buffer moves */
        size_t shift = c->r.beg;
        if (dfci_rbuf_fill(&c->r, c->path, err, errlen) < 0) goto fail;
        shift_down(c, shift);
    }
    if (c->nrows == 0) return 0;
    c->rows = grow(c->rows, &c->rows_cap, c->nrows, sizeof *c->rows);
    for (size_t i = 0; i < c->nrows; i++) {
        size_t first = c->row_first[i];
        size_t end = i + 1 < c->nrows ? c->row_first[i + 1] : c->ncells;
        c->rows[i] = (dfc_list_str){c->cells + first, (int64_t)(end - first)};
    }
    desc->push_rows(w, c->rows, c->nrows);
    return 1;
fail:
    c->failed = strdup(err && errlen ? err : "csv: read error");
    return -1;
}
