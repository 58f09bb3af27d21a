/*
 * handshake.c — the dfc handshake (message layout in docs/protocol.md).
 *
 *   dialer   -> listener  HELLO_I                        120 bytes
 *   listener -> dialer    HELLO_R || CONFIRM_R           120 + 32 bytes
 *   dialer   -> listener  CONFIRM_I                      32 bytes
 *
 * HELLO: "DFCN", u16 version, u8 role, u8 0, u32 proc id, u32 expected peer
 * id, u32 process count, u32 workers per process, 32-byte flow fingerprint,
 * 32-byte address-list hash, 32-byte ephemeral X25519 public key; integers
 * big-endian.
 *
 * Keys: crypto_kx gives two shared keys (dialer-to-listener and back) from
 * the ephemeral pair.  Everything after is keyed by the cluster secret:
 *   T      = BLAKE2b-256(HELLO_I || HELLO_R)
 *   K      = BLAKE2b-256(key = secret, "dfc-net-v1 handshake" || T || kx_i2r || kx_r2i)
 *   sub(n) = crypto_kdf_derive_from_key(K, n, "dfcnet01"): 1 confirm-I key,
 *            2 confirm-R key, 3 frame key I->R, 4 frame key R->I
 *   CONFIRM_X = BLAKE2b-256(key = sub(confirm-X), T)
 * Without the secret nobody can compute K, so a correct CONFIRM proves the
 * peer holds the secret and saw the same HELLOs (which binds the version,
 * fingerprint, -w, process count, address list and both ids).  The dialer
 * sends its CONFIRM before it checks the listener's, so that with a wrong
 * secret both sides can say so.
 *
 * The listener reads the dialer's HELLO before it says anything, so a port
 * scanner learns nothing.  Every length here is fixed; nothing is allocated.
 */
#include "handshake.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROLE_INITIATOR 1
#define ROLE_RESPONDER 2
#define NO_PEER 0xffffffffu
#define PREFIX_BYTES 8 /* magic, version, role, reserved: checked before the rest is read */
#define KDF_CONTEXT "dfcnet01"
#define K_LABEL "dfc-net-v1 handshake"

typedef struct hello {
    unsigned version, role;
    uint32_t proc_id, expect_peer, nprocs, workers;
    uint8_t fingerprint[32], addresses_hash[32], pk[crypto_kx_PUBLICKEYBYTES];
} hello;

/* Keys of one handshake; wiped on every exit. */
typedef struct hs_keys {
    uint8_t sk[crypto_kx_SECRETKEYBYTES];
    uint8_t kx_i2r[crypto_kx_SESSIONKEYBYTES], kx_r2i[crypto_kx_SESSIONKEYBYTES];
    uint8_t k[crypto_kdf_KEYBYTES];
    uint8_t confirm_i[32], confirm_r[32], i2r[32], r2i[32];
} hs_keys;

static int wait_fd(int fd, short events, int64_t deadline_ms, char *err, size_t errlen)
{
    for (;;) {
        int64_t left = deadline_ms - dfci_clock_ms();
        struct pollfd pfd = {.fd = fd, .events = events};
        int r;
        if (left <= 0) {
            snprintf(err, errlen, "timed out");
            return -1;
        }
        r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

int dfci_hs_read_full(int fd, void *buf, size_t n, int64_t deadline_ms, int *eof, char *err,
                      size_t errlen)
{
    uint8_t *p = buf;
    if (eof) *eof = 0;
    while (n > 0) {
        ssize_t r;
        if (wait_fd(fd, POLLIN, deadline_ms, err, errlen) != 0) return -1;
        r = recv(fd, p, n, 0);
        if (r == 0) {
            if (eof) *eof = 1;
            snprintf(err, errlen, "connection closed by peer");
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            snprintf(err, errlen, "%s", strerror(errno));
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int dfci_hs_write_full(int fd, const void *buf, size_t n, int64_t deadline_ms, char *err,
                       size_t errlen)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t r;
        if (wait_fd(fd, POLLOUT, deadline_ms, err, errlen) != 0) return -1;
        r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            snprintf(err, errlen, "%s", strerror(errno));
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void hello_encode(uint8_t out[DFCI_HS_HELLO_BYTES], const dfci_hs_params *p, int role,
                         const uint8_t pk[crypto_kx_PUBLICKEYBYTES])
{
    memcpy(out, DFCI_HS_MAGIC, 4);
    put_u16(out + 4, DFCI_HS_VERSION);
    out[6] = (uint8_t)role;
    out[7] = 0;
    put_u32(out + 8, (uint32_t)p->proc_id);
    put_u32(out + 12, p->expect_peer < 0 ? NO_PEER : (uint32_t)p->expect_peer);
    put_u32(out + 16, (uint32_t)p->nprocs);
    put_u32(out + 20, (uint32_t)p->workers_per_process);
    memcpy(out + 24, p->fingerprint, 32);
    memcpy(out + 56, p->addresses_hash, 32);
    memcpy(out + 88, pk, crypto_kx_PUBLICKEYBYTES);
}

static void hello_decode(hello *h, const uint8_t in[DFCI_HS_HELLO_BYTES])
{
    h->version = (unsigned)in[4] << 8 | in[5];
    h->role = in[6];
    h->proc_id = get_u32(in + 8);
    h->expect_peer = get_u32(in + 12);
    h->nprocs = get_u32(in + 16);
    h->workers = get_u32(in + 20);
    memcpy(h->fingerprint, in + 24, 32);
    memcpy(h->addresses_hash, in + 56, 32);
    memcpy(h->pk, in + 88, crypto_kx_PUBLICKEYBYTES);
}

/* Quotes up to n bytes a stranger sent, for the error message. */
static void quote(char *out, size_t outlen, const uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", p[i]);
    }
    out[o] = 0;
}

/* Checks the part of a HELLO read first: is this a dfc peer at all? */
static int check_prefix(const uint8_t *pre, int want_role, char *err, size_t errlen)
{
    unsigned version = (unsigned)pre[4] << 8 | pre[5];
    if (memcmp(pre, DFCI_HS_MAGIC, 4) != 0) {
        char q[64];
        quote(q, sizeof q, pre, PREFIX_BYTES);
        snprintf(err, errlen, "not a dfc peer (it sent \"%s\")", q);
        return DFCI_HS_ESTRANGER;
    }
    if (version != DFCI_HS_VERSION) {
        snprintf(err, errlen, "peer speaks dfc protocol version %u, this process version %d",
                 version, DFCI_HS_VERSION);
        return DFCI_HS_EPEER;
    }
    if (pre[6] != want_role) {
        snprintf(err, errlen, "not a dfc peer (unexpected role %u in its hello)", pre[6]);
        return DFCI_HS_ESTRANGER;
    }
    return 0;
}

/* Derives K, the confirm keys and the frame keys (see the top of the file). */
static int derive(hs_keys *k, int initiator, const uint8_t *hello_i, const uint8_t *hello_r,
                  const uint8_t *pk_i, const uint8_t *pk_r, const uint8_t *secret,
                  uint8_t t[32])
{
    crypto_generichash_state st;
    int r;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, hello_i, DFCI_HS_HELLO_BYTES);
    crypto_generichash_update(&st, hello_r, DFCI_HS_HELLO_BYTES);
    crypto_generichash_final(&st, t, 32);

    if (initiator)
        r = crypto_kx_client_session_keys(k->kx_r2i, k->kx_i2r, pk_i, k->sk, pk_r);
    else
        r = crypto_kx_server_session_keys(k->kx_i2r, k->kx_r2i, pk_r, k->sk, pk_i);
    if (r != 0) return -1;

    crypto_generichash_init(&st, secret, DFCI_HS_SECRET_BYTES, sizeof k->k);
    crypto_generichash_update(&st, (const uint8_t *)K_LABEL, sizeof K_LABEL - 1);
    crypto_generichash_update(&st, t, 32);
    crypto_generichash_update(&st, k->kx_i2r, sizeof k->kx_i2r);
    crypto_generichash_update(&st, k->kx_r2i, sizeof k->kx_r2i);
    crypto_generichash_final(&st, k->k, sizeof k->k);
    sodium_memzero(&st, sizeof st);

    crypto_kdf_derive_from_key(k->confirm_i, 32, 1, KDF_CONTEXT, k->k);
    crypto_kdf_derive_from_key(k->confirm_r, 32, 2, KDF_CONTEXT, k->k);
    crypto_kdf_derive_from_key(k->i2r, 32, 3, KDF_CONTEXT, k->k);
    crypto_kdf_derive_from_key(k->r2i, 32, 4, KDF_CONTEXT, k->k);
    return 0;
}

static void confirm_mac(uint8_t mac[DFCI_HS_CONFIRM_BYTES], const uint8_t key[32],
                        const uint8_t t[32])
{
    crypto_generichash(mac, DFCI_HS_CONFIRM_BYTES, t, 32, key, 32);
}

static void short_hex(char out[16], const uint8_t *p)
{
    sodium_bin2hex(out, 9, p, 4); /* 8 hex digits */
}

/* Compares the (now authenticated) parameters; the first difference wins. */
static int check_params(const dfci_hs_params *p, const hello *h, int initiator, char *err,
                        size_t errlen)
{
    if (memcmp(p->fingerprint, h->fingerprint, 32) != 0) {
        char a[16], b[16];
        short_hex(a, p->fingerprint);
        short_hex(b, h->fingerprint);
        snprintf(err, errlen,
                 "peer runs a different dataflow (fingerprint %s\u2026 here, %s\u2026 on the peer)",
                 a, b);
        return -1;
    }
    if (h->nprocs != (uint32_t)p->nprocs) {
        snprintf(err, errlen,
                 "peer runs a cluster of %u processes, this process a cluster of %d "
                 "(different -a address lists)",
                 h->nprocs, p->nprocs);
        return -1;
    }
    if (memcmp(p->addresses_hash, h->addresses_hash, 32) != 0) {
        snprintf(err, errlen, "peer was started with a different address list (-a)");
        return -1;
    }
    if (h->workers != (uint32_t)p->workers_per_process) {
        snprintf(err, errlen, "peer runs with -w %u, this process with -w %d", h->workers,
                 p->workers_per_process);
        return -1;
    }
    if (h->proc_id == (uint32_t)p->proc_id) {
        snprintf(err, errlen, "peer also claims process id %d (two processes started with -i %d)",
                 p->proc_id, p->proc_id);
        return -1;
    }
    if (h->proc_id >= (uint32_t)p->nprocs) {
        snprintf(err, errlen, "peer claims process id %u, out of range for %d processes",
                 h->proc_id, p->nprocs);
        return -1;
    }
    if (initiator && h->proc_id != (uint32_t)p->expect_peer) {
        snprintf(err, errlen,
                 "dialed process %d but reached process %u (are the address lists the same?)",
                 p->expect_peer, h->proc_id);
        return -1;
    }
    if (!initiator && h->expect_peer != (uint32_t)p->proc_id) {
        snprintf(err, errlen, "peer (process %u) meant to dial process %u, but this is process %d",
                 h->proc_id, h->expect_peer, p->proc_id);
        return -1;
    }
    if (!initiator && h->proc_id < (uint32_t)p->proc_id) {
        snprintf(err, errlen, "process %u dialed process %d, but only higher ids dial lower ones",
                 h->proc_id, p->proc_id);
        return -1;
    }
    return 0;
}

static int io_fail(int rc, const char *what, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, why);
    return rc;
}

int dfci_handshake(int fd, int initiator, const dfci_hs_params *p, int64_t deadline_ms,
                   dfci_hs_result *out, char *err, size_t errlen)
{
    uint8_t mine[DFCI_HS_HELLO_BYTES], theirs[DFCI_HS_HELLO_BYTES + DFCI_HS_CONFIRM_BYTES];
    uint8_t pk[crypto_kx_PUBLICKEYBYTES], t[32];
    uint8_t my_mac[DFCI_HS_CONFIRM_BYTES], want_mac[DFCI_HS_CONFIRM_BYTES];
    uint8_t their_mac[DFCI_HS_CONFIRM_BYTES];
    char why[256];
    hs_keys k;
    hello h;
    int rc = DFCI_HS_EIO, eof;
    const int want_role = initiator ? ROLE_RESPONDER : ROLE_INITIATOR;
    /* The responder's hello travels with its confirm. */
    const size_t their_len = DFCI_HS_HELLO_BYTES + (initiator ? DFCI_HS_CONFIRM_BYTES : 0);

    memset(&k, 0, sizeof k);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return DFCI_HS_EIO;
    }
    crypto_kx_keypair(pk, k.sk);
    hello_encode(mine, p, initiator ? ROLE_INITIATOR : ROLE_RESPONDER, pk);

    if (initiator && dfci_hs_write_full(fd, mine, sizeof mine, deadline_ms, why, sizeof why)) {
        rc = io_fail(DFCI_HS_EIO, "sending hello", why, err, errlen);
        goto done;
    }
    if (dfci_hs_read_full(fd, theirs, PREFIX_BYTES, deadline_ms, &eof, why, sizeof why)) {
        if (eof)
            snprintf(err, errlen, "connection closed before a hello (not a dfc peer?)");
        else
            io_fail(DFCI_HS_EIO, "waiting for hello", why, err, errlen);
        rc = DFCI_HS_EIO;
        goto done;
    }
    if ((rc = check_prefix(theirs, want_role, err, errlen)) != 0) goto done;
    if (dfci_hs_read_full(fd, theirs + PREFIX_BYTES, their_len - PREFIX_BYTES, deadline_ms, NULL,
                          why, sizeof why)) {
        rc = io_fail(DFCI_HS_EIO, "reading hello", why, err, errlen);
        goto done;
    }
    hello_decode(&h, theirs);

    if (derive(&k, initiator, initiator ? mine : theirs, initiator ? theirs : mine,
               initiator ? pk : h.pk, initiator ? h.pk : pk, p->secret, t) != 0) {
        snprintf(err, errlen, "not a dfc peer (invalid public key in its hello)");
        rc = DFCI_HS_ESTRANGER;
        goto done;
    }
    confirm_mac(my_mac, initiator ? k.confirm_i : k.confirm_r, t);
    confirm_mac(want_mac, initiator ? k.confirm_r : k.confirm_i, t);

    if (initiator) {
        memcpy(their_mac, theirs + DFCI_HS_HELLO_BYTES, sizeof their_mac);
        if (dfci_hs_write_full(fd, my_mac, sizeof my_mac, deadline_ms, why, sizeof why)) {
            rc = io_fail(DFCI_HS_EIO, "sending confirmation", why, err, errlen);
            goto done;
        }
    } else {
        uint8_t reply[DFCI_HS_HELLO_BYTES + DFCI_HS_CONFIRM_BYTES];
        memcpy(reply, mine, DFCI_HS_HELLO_BYTES);
        memcpy(reply + DFCI_HS_HELLO_BYTES, my_mac, sizeof my_mac);
        if (dfci_hs_write_full(fd, reply, sizeof reply, deadline_ms, why, sizeof why)) {
            rc = io_fail(DFCI_HS_EIO, "sending hello", why, err, errlen);
            goto done;
        }
        if (dfci_hs_read_full(fd, their_mac, sizeof their_mac, deadline_ms, &eof, why,
                              sizeof why)) {
            rc = io_fail(DFCI_HS_EIO, "waiting for confirmation", why, err, errlen);
            goto done;
        }
    }
    if (sodium_memcmp(their_mac, want_mac, sizeof want_mac) != 0) {
        snprintf(err, errlen, "wrong cluster secret or not a dfc peer");
        rc = DFCI_HS_EPEER;
        goto done;
    }
    if (check_params(p, &h, initiator, err, errlen) != 0) {
        rc = DFCI_HS_EPEER;
        goto done;
    }
    out->peer_id = (int)h.proc_id;
    memcpy(out->tx_key, initiator ? k.i2r : k.r2i, 32);
    memcpy(out->rx_key, initiator ? k.r2i : k.i2r, 32);
    rc = 0;
done:
    sodium_memzero(&k, sizeof k);
    sodium_memzero(my_mac, sizeof my_mac);
    sodium_memzero(want_mac, sizeof want_mac);
    return rc;
}
