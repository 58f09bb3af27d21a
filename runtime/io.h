/*
 * io.h — sources and sinks as the worker loop sees them (runtime-internal).
 *
 * A source is opened once per worker: each worker gets its share of the
 * source's partitions, decided by its global worker index and the cluster's
 * total worker count (SPEC §3):
 *   FILE             one partition, read by global worker 0, in order
 *   FILE parallel    byte ranges cut at line ends, one per global worker; when
 *                    no step can tell the order (dfc_source_args.unordered),
 *                    one per process, which its workers take in chunks
 *   DIR              one partition per file (sorted by name), file i on worker i % total
 *   CSV, STDIN       one partition, global worker 0
 *   RANGE            n split into contiguous runs, one per global worker; when
 *                    unordered, one per process, which its workers take in chunks
 * A worker with no partition gets a source that is exhausted at once.
 *
 * Sinks are opened once per process (dfci_sinks) and each worker has local,
 * line-buffered state (dfci_sink_local) that dfc_sink_write appends to.
 */
#ifndef DFC_IO_H
#define DFC_IO_H

#include "dfc.h"

/* Formats a message into err (errlen bytes, truncated); nothing when err is
 * NULL or errlen 0.  The err/errlen pairs of the functions below.  Returns
 * -1, the failure of the functions that report through it. */
int dfci_errf(char *err, size_t errlen, const char *fmt, ...) DFC_PRINTF(3, 4);

typedef struct dfci_source dfci_source;

/* How the `workers` of process `process` (of `processes`) share an unordered
 * source (a parallel FILE or a RANGE): the process owns part `process` of
 * `processes` (bytes or numbers), and *taken says how much of it the
 * workers have taken so far (0 at start).  min: the smallest chunk (0: the
 * source's default; tests use a few). */
typedef struct dfci_chunking {
    int process, processes, workers;
    _Atomic int64_t *taken;
    int64_t min;
} dfci_chunking;
/* Takes the next chunk of a part of `len` that c shares out: a quarter of
 * what is left per worker, but at least c->min (or what is left), so the
 * first chunks are big and the workers end within one small chunk of each
 * other however unevenly fast they run.  False when all is taken; else the
 * chunk is [*at, *at + *take) of the part. */
bool dfci_chunk_take(const dfci_chunking *c, int64_t len, int64_t *at, int64_t *take);

/* Returns NULL with a message in err ("cannot open 'x': No such file...")
 * when the source cannot be opened.  chunking: this process's shared
 * chunks of the source, used when args->unordered; NULL: one range per
 * worker. */
dfci_source *dfci_source_open(const dfc_source_desc *desc, const dfc_source_args *args,
                              int worker, int total_workers, const dfci_chunking *chunking,
                              char *err, size_t errlen);
/* Reads one batch (about 64 KiB of lines, or 4096 range items) and pushes it
 * through the desc's push_* callback.  Returns 1 when more may follow, 0 when
 * exhausted (a call that returns 0 pushed nothing), -1 on a read error or a
 * malformed CSV row (message in err). */
int dfci_source_next(dfci_source *s, dfc_worker *w, char *err, size_t errlen);
void dfci_source_close(dfci_source *s);

typedef struct dfci_sinks dfci_sinks;
typedef struct dfci_sink_local dfci_sink_local;

/* Opens the process's sinks.  paths[k] is sink k's path (FILE, DIR).
 * FILE sinks are opened (truncated) only by the process holding global
 * worker 0, which is the only worker that writes them; DIR sinks make the
 * directory and each worker writes PATH/part-<global worker index>. */
dfci_sinks *dfci_sinks_open(const dfc_flow *flow, const dfc_str *paths, int process_id,
                            int processes, int workers_per_process, char *err, size_t errlen);
/* Per-worker buffers, made by each worker thread for itself. */
dfci_sink_local *dfci_sink_local_new(dfci_sinks *sinks, int worker, char *err, size_t errlen);
/* Writes out everything buffered (whole lines only).  0 or -1 (err filled). */
int dfci_sink_local_flush(dfci_sink_local *l, char *err, size_t errlen);
void dfci_sink_local_free(dfci_sink_local *l);
int dfci_sinks_close(dfci_sinks *sinks, char *err, size_t errlen);

/* Provided by the worker layer: the calling worker's sink buffers. */
dfci_sink_local *dfci_worker_sinks(dfc_worker *w);

/* ------------------------------------------------------------------
 * Inside the sources: source.c decides which partitions a worker reads and
 * dispatches to these readers (source_lines.c, source_csv.c).  Not for the
 * worker loop.
 */

/* The first index of part k when [0, n) is cut into `parts` contiguous runs:
 * k * n / parts, computed without overflow (n >= 0, 0 <= k <= parts). */
int64_t dfci_part_bound(int64_t n, int k, int parts);

/* A read buffer over one file descriptor.  Readers parse buf[beg, len). */
typedef struct dfci_rbuf {
    int fd;
    char *buf;
    size_t cap, beg, len;
    size_t max_read; /* 0: a read may fill the buffer; else at most this much */
    bool eof;
} dfci_rbuf;
/* Moves buf[beg, len) to the front (so indexes drop by the old beg), grows
 * the buffer when it is full, then reads once.  1: bytes came, 0: end of
 * file, -1: read error ("read error on 'WHAT': ..." in err). */
int dfci_rbuf_fill(dfci_rbuf *r, const char *what, char *err, size_t errlen);

/* Line readers (FILE, FILE parallel, DIR, STDIN): push_lines batches. */
typedef struct dfci_lines dfci_lines;
/* Lines of path that start inside byte range `part` of `parts` (0 of 1: all);
 * with chunking, those of the chunks of the process's range that this
 * reader takes (part and parts are ignored). */
dfci_lines *dfci_lines_open_file(const char *path, int part, int parts,
                                 const dfci_chunking *chunking, char *err, size_t errlen);
/* Files of dir matching glob, sorted by name, those with index % total == worker. */
dfci_lines *dfci_lines_open_dir(const char *dir, const char *glob, int worker, int total,
                                char *err, size_t errlen);
dfci_lines *dfci_lines_open_stdin(void);
int dfci_lines_next(dfci_lines *l, dfc_worker *w, const dfc_source_desc *desc, char *err,
                    size_t errlen);
void dfci_lines_close(dfci_lines *l);

/* RFC 4180 reader (CSV): push_rows batches, header row skipped. */
typedef struct dfci_csv dfci_csv;
dfci_csv *dfci_csv_open(const char *path, char *err, size_t errlen);
int dfci_csv_next(dfci_csv *c, dfc_worker *w, const dfc_source_desc *desc, char *err,
                  size_t errlen);
void dfci_csv_close(dfci_csv *c);

#endif
