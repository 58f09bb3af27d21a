/*
 * test_frame.c — sealed frames (runtime/frame.c): a round trip, and each way
 * a frame can go bad rejected with its own error.  TAP on stdout.
 *   cc -Iruntime tests/unit/test_frame.c runtime/frame.c -lsodium
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"

/* t_ok_diag() plus: the error code is `want` and the message contains `needle`. */
static void rejects(int rc, int want, const char *err, const char *needle, const char *name)
{
    char diag[600];
    snprintf(diag, sizeof diag, "rc %d (want %d), message: %s", rc, want, err);
    t_ok_diag(rc == want && strstr(err, needle) != NULL, name, diag);
}

static uint8_t key[32];

/* A sender and a receiver sharing one direction's key. */
static void pair(dfci_frame_key *tx, dfci_frame_key *rx)
{
    dfci_frame_key_init(tx, key);
    dfci_frame_key_init(rx, key);
}

static size_t seal(dfci_frame_key *tx, int type, const char *msg, uint8_t *out)
{
    char err[256];
    size_t n = 0;
    if (dfci_frame_seal(tx, type, (const uint8_t *)msg, strlen(msg), out, &n, err, sizeof err))
        printf("# seal failed: %s\n", err);
    return n;
}

int main(void)
{
    dfci_frame_key tx, rx;
    uint8_t a[256], b[256], c[256], *payload;
    size_t na, nb, nc, plen, bodylen;
    int type, rc;
    char err[256];

    if (sodium_init() < 0) return 1;
    randombytes_buf(key, sizeof key);

    /* round trip */
    pair(&tx, &rx);
    na = seal(&tx, DFCI_FRAME_DATA, "hello, peer", a);
    t_ok_diag(na == DFCI_FRAME_OVERHEAD + 11, "a sealed frame is payload + 29 bytes", "");
    t_ok_diag(memmem(a, na, "hello", 5) == NULL, "the payload is not visible on the wire", "");
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc == 0 && type == DFCI_FRAME_DATA && plen == 11 &&
                  memcmp(payload, "hello, peer", 11) == 0,
              "open gives back the type and the payload", err);
    nb = seal(&tx, DFCI_FRAME_HEARTBEAT, "", b);
    rc = dfci_frame_open(&rx, b, nb, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc == 0 && type == DFCI_FRAME_HEARTBEAT && plen == 0,
              "an empty heartbeat frame opens", err);

    /* tampered: flip one byte of the body, then of the header */
    pair(&tx, &rx);
    na = seal(&tx, DFCI_FRAME_DATA, "pay me 100", a);
    memcpy(c, a, na); /* a failed open wipes the buffer it opened in place */
    a[DFCI_FRAME_HEADER_BYTES + 3] ^= 0x01;
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EAUTH, err, "failed authentication", "a tampered body byte is rejected");
    memcpy(a, c, na);
    a[na - 1] ^= 0x80;
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EAUTH, err, "failed authentication", "a tampered tag is rejected");
    memcpy(a, c, na);
    a[2] ^= 0x00, a[5] ^= 0x40; /* the sequence number, high bits */
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc != 0, "a tampered header is rejected", err);
    rc = dfci_frame_open(&rx, c, na, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc == 0 && plen == 10, "after failures the receiver still opens the untouched frame",
              err);

    /* a frame sealed under another key */
    {
        dfci_frame_key other;
        uint8_t k2[32];
        randombytes_buf(k2, sizeof k2);
        dfci_frame_key_init(&other, k2);
        pair(&tx, &rx);
        na = seal(&other, DFCI_FRAME_DATA, "from a stranger", a);
        rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
        rejects(rc, DFCI_FRAME_EAUTH, err, "failed authentication",
                "a frame sealed with another key is rejected");
    }

    /* truncated: short header, short body */
    pair(&tx, &rx);
    na = seal(&tx, DFCI_FRAME_DATA, "a longer message", a);
    rc = dfci_frame_open(&rx, a, 7, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_ETRUNC, err, "truncated frame: 7 of 12 header bytes",
            "a frame cut inside its header is rejected as truncated");
    rc = dfci_frame_open(&rx, a, na - 5, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_ETRUNC, err, "truncated frame", "a frame cut inside its body is rejected as truncated");

    /* replayed */
    pair(&tx, &rx);
    na = seal(&tx, DFCI_FRAME_DATA, "once", a);
    memcpy(c, a, na);
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc == 0, "the original frame opens", err);
    rc = dfci_frame_open(&rx, c, na, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EREPLAY, err, "replayed frame (sequence 0, expected 1)",
            "the same frame again is rejected as replayed");

    /* replay with a rewritten sequence number: the tag catches it */
    c[DFCI_FRAME_HEADER_BYTES - 1] = 1;
    rc = dfci_frame_open(&rx, c, na, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EAUTH, err, "failed authentication",
            "a replay with a forged sequence number fails authentication");

    /* reordered: frames 0 and 1 arrive as 1, 0 */
    pair(&tx, &rx);
    na = seal(&tx, DFCI_FRAME_DATA, "first", a);
    nb = seal(&tx, DFCI_FRAME_DATA, "second", b);
    rc = dfci_frame_open(&rx, b, nb, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EORDER, err, "frame out of order (sequence 1, expected 0)",
            "a frame ahead of its turn is rejected as out of order");
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    t_ok_diag(rc == 0 && plen == 5, "the frame in turn still opens", err);
    /* a dropped frame shows up as a gap */
    nc = seal(&tx, DFCI_FRAME_DATA, "third", c);
    rc = dfci_frame_open(&rx, c, nc, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EORDER, err, "sequence 2, expected 1", "a dropped frame is noticed at the next one");

    /* oversize and undersize length headers, refused from the header alone */
    memset(a, 0, DFCI_FRAME_HEADER_BYTES);
    a[0] = 0xff, a[1] = 0xff, a[2] = 0xff, a[3] = 0xff;
    rc = dfci_frame_check_header(a, &bodylen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EOVERSIZE, err, "frame length 4294967295 is over the 16 MiB limit",
            "a 4 GiB length header is refused before allocating");
    a[0] = 0x01, a[1] = 0x00, a[2] = 0x00, a[3] = 0x12; /* 16 MiB + 18 */
    rc = dfci_frame_check_header(a, &bodylen, err, sizeof err);
    rejects(rc, DFCI_FRAME_EOVERSIZE, err, "over the 16 MiB limit", "one byte over the limit is refused");
    a[3] = 0x11; /* exactly the limit */
    rc = dfci_frame_check_header(a, &bodylen, err, sizeof err);
    t_ok_diag(rc == 0 && bodylen == DFCI_FRAME_MAX_BODY, "a full 16 MiB payload is allowed", err);
    a[0] = 0, a[1] = 0, a[2] = 0, a[3] = 3;
    rc = dfci_frame_check_header(a, &bodylen, err, sizeof err);
    rejects(rc, DFCI_FRAME_ESHORT, err, "too short", "a length too short for a tag is refused");
    pair(&tx, &rx);
    rc = dfci_frame_open(&rx, a, 64, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_ESHORT, err, "too short", "open refuses the short length too");

    /* seal refuses a payload over the limit; a big one round-trips */
    {
        size_t big = DFCI_FRAME_MAX_PAYLOAD;
        uint8_t *m = malloc(big + 1), *w = malloc(big + 1 + DFCI_FRAME_OVERHEAD);
        size_t nw = 0;
        pair(&tx, &rx);
        rc = dfci_frame_seal(&tx, DFCI_FRAME_DATA, m, big + 1, w, &nw, err, sizeof err);
        rejects(rc, DFCI_FRAME_EBIG, err, "over the 16 MiB frame limit", "seal refuses 16 MiB + 1");
        randombytes_buf(m, big);
        rc = dfci_frame_seal(&tx, DFCI_FRAME_DATA, m, big, w, &nw, err, sizeof err);
        rc = rc ? rc : dfci_frame_open(&rx, w, nw, &type, &payload, &plen, err, sizeof err);
        t_ok_diag(rc == 0 && plen == big && memcmp(payload, m, big) == 0,
                  "a 16 MiB payload round-trips", err);
        free(m);
        free(w);
    }

    /* an authentic frame of an unknown type */
    pair(&tx, &rx);
    na = seal(&tx, 42, "?", a);
    rc = dfci_frame_open(&rx, a, na, &type, &payload, &plen, err, sizeof err);
    rejects(rc, DFCI_FRAME_ETYPE, err, "unknown type 42", "an unknown frame type is rejected");

    dfci_frame_key_wipe(&tx);
    t_ok_diag(tx.seq == 0 && tx.key[0] == 0 && tx.key[31] == 0, "wipe clears the key", "");

    return t_done();
}
