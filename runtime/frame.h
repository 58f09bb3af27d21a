/*
 * frame.h — sealed frames: the unit that travels on an authenticated
 * connection between two dfc processes (see docs/protocol.md).
 *
 * A frame on the wire is a 12-byte header followed by a sealed body:
 *
 *   u32 body length (big-endian)   = 1 + payload length + 16
 *   u64 sequence number (big-endian), 0, 1, 2, ... per direction
 *   body: ChaCha20-Poly1305-IETF(type byte || payload), 16-byte tag last
 *
 * The nonce is 4 zero bytes || the sequence number; the header is the
 * associated data.  Each direction of a connection has its own key (from the
 * handshake), so a nonce never repeats under a key.  The receiver knows the
 * sequence number it expects next, which lets it name what went wrong: a
 * replayed frame (older number), a frame out of order (newer number), a
 * tampered frame (the tag does not verify), a truncated frame, or a length
 * over the limit (refused before anything is allocated).
 *
 * This file knows nothing of sockets: it seals into and opens from memory.
 */
#ifndef DFCI_FRAME_H
#define DFCI_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define DFCI_FRAME_HEADER_BYTES 12
#define DFCI_FRAME_TAG_BYTES crypto_aead_chacha20poly1305_ietf_ABYTES /* 16 */
#define DFCI_FRAME_KEY_BYTES crypto_aead_chacha20poly1305_ietf_KEYBYTES /* 32 */
/* Bytes a frame adds to its payload: header, type byte, tag. */
#define DFCI_FRAME_OVERHEAD (DFCI_FRAME_HEADER_BYTES + 1 + DFCI_FRAME_TAG_BYTES)
/* The largest payload a frame may carry: 16 MiB. */
#define DFCI_FRAME_MAX_PAYLOAD ((size_t)16 << 20)
#define DFCI_FRAME_MIN_BODY ((size_t)1 + DFCI_FRAME_TAG_BYTES)
#define DFCI_FRAME_MAX_BODY (DFCI_FRAME_MAX_PAYLOAD + DFCI_FRAME_MIN_BODY)

/* Frame types (the first byte of the sealed body). */
enum dfci_frame_type {
    DFCI_FRAME_DATA = 1,      /* payload for the dataflow layer */
    DFCI_FRAME_HEARTBEAT = 2, /* empty; sent on an idle connection */
    DFCI_FRAME_BYE = 3,       /* empty; the sender will send nothing more */
    DFCI_FRAME_READY = 4,     /* handshake verdict: accepted (first frame, listener to dialer) */
    DFCI_FRAME_REFUSE = 5,    /* handshake verdict: refused, payload is the reason (text) */
    DFCI_FRAME_ABORT = 6,     /* the sender's run failed, payload is why (text); last frame */
};

/* Errors from dfci_frame_check_header and dfci_frame_open. */
enum dfci_frame_err {
    DFCI_FRAME_ETRUNC = -1,    /* fewer bytes than the header says */
    DFCI_FRAME_EOVERSIZE = -2, /* length over DFCI_FRAME_MAX_BODY */
    DFCI_FRAME_ESHORT = -3,    /* length under DFCI_FRAME_MIN_BODY */
    DFCI_FRAME_EREPLAY = -4,   /* sequence number already seen */
    DFCI_FRAME_EORDER = -5,    /* sequence number ahead of the expected one */
    DFCI_FRAME_EAUTH = -6,     /* the tag does not verify: tampered or wrong key */
    DFCI_FRAME_ETYPE = -7,     /* authentic, but an unknown type */
    DFCI_FRAME_EBIG = -8,      /* dfci_frame_seal: payload over the limit */
};

/* One direction of a connection: its key and the next sequence number. */
typedef struct dfci_frame_key {
    uint8_t key[DFCI_FRAME_KEY_BYTES];
    uint64_t seq;
} dfci_frame_key;

void dfci_frame_key_init(dfci_frame_key *k, const uint8_t key[DFCI_FRAME_KEY_BYTES]);
void dfci_frame_key_wipe(dfci_frame_key *k);

/* Seals a frame of `type` carrying payload[0..len) into out, which must hold
 * DFCI_FRAME_OVERHEAD + len bytes, and advances k->seq.  *outlen is the
 * number of bytes to send.  Returns 0, or DFCI_FRAME_EBIG. */
int dfci_frame_seal(dfci_frame_key *k, int type, const uint8_t *payload, size_t len,
                    uint8_t *out, size_t *outlen, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads a header: *bodylen is the number of body bytes that follow it.
 * Refuses a length that is too short or over the limit, so a caller can
 * check before it allocates.  Returns 0 or a dfci_frame_err. */
int dfci_frame_check_header(const uint8_t hdr[DFCI_FRAME_HEADER_BYTES], size_t *bodylen,
                            char *err, size_t errlen) __attribute__((warn_unused_result));

/* Opens the frame in buf[0..len) (header and body) in place: checks the
 * length and the sequence number, verifies and decrypts.  On success sets
 * *type, *payload (pointing into buf) and *paylen, advances k->seq and
 * returns 0; otherwise returns a dfci_frame_err with a message in err and
 * leaves k unchanged. */
int dfci_frame_open(dfci_frame_key *k, uint8_t *buf, size_t len, int *type,
                    uint8_t **payload, size_t *paylen, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
