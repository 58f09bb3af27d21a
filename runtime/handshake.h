/*
 * handshake.h — mutual authentication of two dfc processes over a fresh TCP
 * connection, bound to the cluster secret (see docs/protocol.md).
 *
 * The dialer (initiator) sends HELLO; the listener (responder) answers with
 * its HELLO and CONFIRM; the dialer sends its CONFIRM.  HELLO carries the
 * non-secret run parameters and an ephemeral X25519 key (crypto_kx); CONFIRM
 * is a MAC over the transcript under a key derived from the secret and the
 * key exchange.  Each side checks the other's CONFIRM before it trusts
 * anything, and only then compares the parameters, so a mismatch gets its
 * own message and a stranger cannot make us print a misleading one.
 *
 * On success both sides hold the same two frame keys (one per direction).
 * The handshake knows nothing about the mesh: whether a process id is
 * already connected is the caller's business (net.c sends the verdict).
 */
#ifndef DFCI_HANDSHAKE_H
#define DFCI_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "clock.h"

#define DFCI_HS_VERSION 1
#define DFCI_HS_MAGIC "DFCN"
#define DFCI_HS_HELLO_BYTES 120
#define DFCI_HS_CONFIRM_BYTES crypto_generichash_BYTES /* 32 */
#define DFCI_HS_SECRET_BYTES 32
#define DFCI_HS_TIMEOUT_MS 5000 /* a whole handshake, per connection */

/* Error classes returned by dfci_handshake. */
enum dfci_hs_err {
    DFCI_HS_EIO = -1,       /* socket error, EOF or timeout: nothing learnt about the peer */
    DFCI_HS_ESTRANGER = -2, /* the peer does not speak the dfc protocol */
    DFCI_HS_EPEER = -3,     /* a dfc peer we must not talk to: wrong secret, other flow, ... */
};

typedef struct dfci_hs_params {
    int proc_id, nprocs, workers_per_process;
    int expect_peer; /* initiator: the process id it dialed; responder: -1 */
    uint8_t secret[DFCI_HS_SECRET_BYTES];
    uint8_t fingerprint[32];    /* hash of the dataflow plan */
    uint8_t addresses_hash[32]; /* hash of the address list (dfci_net computes it) */
} dfci_hs_params;

typedef struct dfci_hs_result {
    int peer_id;
    uint8_t tx_key[32]; /* seals what we send */
    uint8_t rx_key[32]; /* opens what we receive */
} dfci_hs_result;

/* Runs the handshake on a connected blocking socket, giving up at
 * deadline_ms (on the CLOCK_MONOTONIC scale of dfci_clock_ms).  Returns 0
 * and fills out, or a dfci_hs_err with the reason in err (no address: the
 * caller knows whom it talks to).  Wipes every derived key on every path;
 * the caller wipes out when done with it. */
int dfci_handshake(int fd, int initiator, const dfci_hs_params *p, int64_t deadline_ms,
                   dfci_hs_result *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));


/* Reads or writes exactly n bytes before deadline_ms (poll, then
 * read/send with MSG_NOSIGNAL).  Return 0, or -1 with a message: "timed
 * out", "connection closed by peer" (EOF on read; *eof set if eof != NULL),
 * or strerror. */
int dfci_hs_read_full(int fd, void *buf, size_t n, int64_t deadline_ms, int *eof, char *err,
                      size_t errlen);
int dfci_hs_write_full(int fd, const void *buf, size_t n, int64_t deadline_ms, char *err,
                       size_t errlen);

#endif
