/*
 * net.h — the cluster communication layer: a full mesh of authenticated,
 * encrypted TCP connections between the processes of one run.
 *
 * It moves opaque messages between process ids and knows nothing about
 * workers, channels or operators; the dataflow layer hands it bytes with
 * dfci_net_send and gets bytes back through cfg->deliver.  Messages from one
 * process to another arrive once, in the order sent, or the run fails.
 *
 * Mesh: process i listens on its own address and dials every process j < i;
 * so every pair has exactly one connection, made by the higher id.  Each
 * connection is authenticated by the handshake (handshake.c) and carries
 * sealed frames (frame.c).  docs/protocol.md has the wire format.
 *
 * Threads: dfci_net_start runs an acceptor, one handshake thread per
 * incoming connection, one dialer per lower peer, and a ticker (heartbeats);
 * once the mesh is up one receiver thread per peer calls cfg->deliver.
 * dfci_net_send may be called from any thread (one mutex per peer).
 */
#ifndef DFCI_NET_H
#define DFCI_NET_H

#include <stddef.h>
#include <stdint.h>

#define DFCI_NET_CONNECT_TIMEOUT_MS 30000 /* default: wait this long for the mesh */
#define DFCI_NET_STALL_TIMEOUT_MS 10000   /* default: a peer silent this long is dead */
#define DFCI_NET_HEARTBEAT_MS 1000        /* heartbeat after this long without a send */
#define DFCI_NET_BACKOFF_MIN_MS 50        /* first retry delay of a dialer */
#define DFCI_NET_BACKOFF_MAX_MS 1000      /* the delay doubles up to this */
#define DFCI_NET_MAX_PENDING 32           /* incoming handshakes at once; more are dropped */
#define DFCI_NET_MAX_PROCESSES 1024
#define DFCI_NET_MAX_MESSAGE ((size_t)16 << 20) /* = DFCI_FRAME_MAX_PAYLOAD */

typedef struct dfci_net dfci_net;

typedef struct dfci_net_config {
    int nprocs, proc_id, workers_per_process;
    /* nprocs entries "host:port": IPv4, [IPv6]:port, or a name (getaddrinfo). */
    const char *const *addresses;
    /* NULL: listen on our own entry.  Otherwise "host" or "host:port" to
     * listen on instead (e.g. "0.0.0.0" behind NAT; the port defaults to the
     * one in our entry). */
    const char *bind_address;
    uint8_t secret[32];      /* cluster secret */
    uint8_t fingerprint[32]; /* hash of the dataflow plan: peers must agree */
    int connect_timeout_ms;  /* 0: DFCI_NET_CONNECT_TIMEOUT_MS */
    int stall_timeout_ms;    /* 0: DFCI_NET_STALL_TIMEOUT_MS */
    /* Called from the receiver thread of from_proc, in the order sent; msg
     * is valid during the call only.  Receivers start once the mesh is up,
     * after *out is set, so deliver may run before dfci_net_start returns. */
    void (*deliver)(void *ctx, int from_proc, const uint8_t *msg, size_t len);
    /* The first fatal error after the mesh is up ("connection to process 1
     * (127.0.0.1:4101) broken: ..."); called once, from whichever thread
     * found it (a receiver, the ticker, or a caller of dfci_net_send or
     * dfci_net_finish, which then also return -1 with the same message).
     * All connections are shut down before it is called.  It must not call
     * dfci_net_free.  May be NULL. */
    void (*fail)(void *ctx, const char *message);
    void *ctx;
} dfci_net_config;

/* Forms the mesh: blocks until every peer is connected and authenticated
 * (0, *out set) or an error: a peer missing at the connect timeout ("process
 * 2 (127.0.0.1:4102) did not connect within 30 s"), a peer that refused us
 * or that we must refuse as dialer (wrong secret, other flow, -w, ...), a
 * bad address.  Connections that fail the handshake on our listening socket
 * are reported on stderr and dropped.  With nprocs == 1 there is nothing to
 * do.  Returns -1 with err on failure. */
int dfci_net_start(dfci_net **out, const dfci_net_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Sends msg (up to DFCI_NET_MAX_MESSAGE bytes) to process to_proc as one
 * sealed frame.  Thread-safe; blocks while the kernel buffer is full.
 * Returns 0, or -1 with err (the run's failure message once it failed). */
int dfci_net_send(dfci_net *n, int to_proc, const uint8_t *msg, size_t len, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/* Clean end: sends BYE to every peer and waits until every peer has sent
 * its BYE (each receiver has delivered everything before it).  After it,
 * dfci_net_send fails.  Returns 0, or -1 if the run failed meanwhile. */
int dfci_net_finish(dfci_net *n, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Ends the run from this side (a local failure, an interrupt): records msg
 * as the run's failure unless one is recorded already, and shuts every
 * connection down, so blocked senders wake and every peer sees this
 * process leave at once.  Calls cfg->fail like any failure after start.
 * Thread-safe; does not free anything.  (Every failure after start, this
 * one or a broken connection, first sends the message in an ABORT frame to
 * each peer it can reach without waiting, so they report the cause:
 * "process 0 (ADDR) stopped the run: <msg>".) */
void dfci_net_abort(dfci_net *n, const char *msg);

/* Stops every thread, closes every socket, wipes keys.  NULL is fine. */
void dfci_net_free(dfci_net *n);

/* Reads the cluster secret: 64 hex digits (what dfc keygen prints, an
 * optional newline after) or exactly 32 raw bytes; anything else is refused
 * with a message. */
int dfci_secret_load(const char *path, uint8_t secret[32], char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
