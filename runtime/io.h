/*
 * io.h — sources and sinks as the worker loop sees them (runtime-internal).
 *
 * A source is opened once per worker: each worker gets its share of the
 * source's partitions, decided by its global worker index and the cluster's
 * total worker count (SPEC §3):
 *   FILE             one partition, read by global worker 0, in order
 *   FILE parallel    byte ranges cut at line ends, one per global worker
 *   DIR              one partition per file (sorted by name), file i on worker i % total
 *   CSV, STDIN       one partition, global worker 0
 *   RANGE            n split into contiguous runs, one per global worker
 * A worker with no partition gets a source that is exhausted at once.
 *
 * Sinks are opened once per process (dfci_sinks) and each worker has local,
 * line-buffered state (dfci_sink_local) that dfc_sink_write appends to.
 */
#ifndef DFC_IO_H
#define DFC_IO_H

#include "dfc.h"

typedef struct dfci_source dfci_source;

/* Returns NULL with a message in err ("cannot open 'x': No such file...")
 * when the source cannot be opened. */
dfci_source *dfci_source_open(const dfc_source_desc *desc, const dfc_source_args *args,
                              int worker, int total_workers, char *err, size_t errlen);
/* Reads one batch (about 64 KiB of lines, or 4096 range items) and pushes it
 * through the desc's push_* callback.  Returns 1 when more may follow, 0 when
 * exhausted, -1 on a read error (message in err). */
int dfci_source_next(dfci_source *s, dfc_worker *w, char *err, size_t errlen);
void dfci_source_close(dfci_source *s);

typedef struct dfci_sinks dfci_sinks;
typedef struct dfci_sink_local dfci_sink_local;

/* Opens the process's sinks.  paths[k] is sink k's path (FILE, DIR).
 * FILE sinks are opened (truncated) only by the process holding global
 * worker 0, which is the only worker that writes them; DIR sinks make the
 * directory and each worker writes PATH/part-<global worker index>. */
dfci_sinks *dfci_sinks_open(const dfc_flow *flow, const dfc_str *paths, int process_id,
                            int workers_per_process, char *err, size_t errlen);
/* Per-worker buffers, made by each worker thread for itself. */
dfci_sink_local *dfci_sink_local_new(dfci_sinks *sinks, int worker, char *err, size_t errlen);
/* Writes out everything buffered (whole lines only).  0 or -1 (err filled). */
int dfci_sink_local_flush(dfci_sink_local *l, char *err, size_t errlen);
void dfci_sink_local_free(dfci_sink_local *l);
int dfci_sinks_close(dfci_sinks *sinks, char *err, size_t errlen);

/* Provided by the worker layer: the calling worker's sink buffers. */
dfci_sink_local *dfci_worker_sinks(dfc_worker *w);

#endif
