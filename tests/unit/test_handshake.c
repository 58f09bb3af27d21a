/*
 * test_handshake.c — the handshake (runtime/handshake.c) over a socketpair,
 * one thread per side: matching parameters give both sides the same keys;
 * a wrong secret and each mismatched parameter give both sides the message
 * that names it; strangers are told apart from dfc peers.  TAP on stdout.
 *   cc -Iruntime tests/unit/test_handshake.c runtime/handshake.c -lsodium -pthread
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake.h"
#include "tap.h"

typedef struct side {
    int fd, initiator;
    dfci_hs_params p;
    int timeout_ms;
    dfci_hs_result res;
    int rc;
    char err[512];
} side;

static void *run_side(void *arg)
{
    side *s = arg;
    s->rc = dfci_handshake(s->fd, s->initiator, &s->p, dfci_clock_ms() + s->timeout_ms, &s->res,
                           s->err, sizeof s->err);
    /* like net.c: a side that gives up closes, so the other is not left waiting */
    shutdown(s->fd, SHUT_RDWR);
    return NULL;
}

static uint8_t secret[32], fingerprint[32], addrs[32];

/* Process 1 dials process 0 in a cluster of 2, -w 2. */
static void defaults(side *dialer, side *listener)
{
    memset(dialer, 0, sizeof *dialer);
    memset(listener, 0, sizeof *listener);
    dialer->initiator = 1;
    dialer->p.proc_id = 1;
    dialer->p.expect_peer = 0;
    listener->p.proc_id = 0;
    listener->p.expect_peer = -1;
    for (side *s = dialer; s; s = s == dialer ? listener : NULL) {
        s->p.nprocs = 2;
        s->p.workers_per_process = 2;
        memcpy(s->p.secret, secret, 32);
        memcpy(s->p.fingerprint, fingerprint, 32);
        memcpy(s->p.addresses_hash, addrs, 32);
        s->timeout_ms = 3000;
    }
}

static void run(side *dialer, side *listener)
{
    int sv[2];
    pthread_t a, b;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    dialer->fd = sv[0];
    listener->fd = sv[1];
    pthread_create(&a, NULL, run_side, dialer);
    pthread_create(&b, NULL, run_side, listener);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    close(sv[0]);
    close(sv[1]);
}

/* Both sides fail as dfc peers, with `needle` in both messages. */
static void both_refuse(side *d, side *l, const char *needle, const char *name)
{
    char diag[1200];
    snprintf(diag, sizeof diag, "dialer rc %d: %s | listener rc %d: %s", d->rc, d->err, l->rc,
             l->err);
    t_ok_diag(d->rc == DFCI_HS_EPEER && l->rc == DFCI_HS_EPEER && strstr(d->err, needle) &&
                  strstr(l->err, needle),
              name, diag);
}

int main(void)
{
    side d, l;
    uint8_t first_tx[32];
    char diag[1200];

    if (sodium_init() < 0) return 1;
    randombytes_buf(secret, sizeof secret);
    randombytes_buf(fingerprint, sizeof fingerprint);
    randombytes_buf(addrs, sizeof addrs);

    defaults(&d, &l);
    run(&d, &l);
    snprintf(diag, sizeof diag, "dialer %d %s | listener %d %s", d.rc, d.err, l.rc, l.err);
    t_ok_diag(d.rc == 0 && l.rc == 0, "matching secret and parameters: both sides succeed", diag);
    t_ok_diag(d.res.peer_id == 0 && l.res.peer_id == 1, "each side learns the other's process id",
              "");
    t_ok_diag(memcmp(d.res.tx_key, l.res.rx_key, 32) == 0 &&
                  memcmp(d.res.rx_key, l.res.tx_key, 32) == 0,
              "both sides derive the same session keys", "");
    t_ok_diag(memcmp(d.res.tx_key, d.res.rx_key, 32) != 0, "each direction has its own key", "");
    t_ok_diag(memcmp(d.res.tx_key, secret, 32) != 0, "the session key is not the secret", "");
    memcpy(first_tx, d.res.tx_key, 32);

    defaults(&d, &l);
    run(&d, &l);
    t_ok_diag(d.rc == 0 && l.rc == 0 && memcmp(first_tx, d.res.tx_key, 32) != 0,
              "a second handshake gets fresh keys (ephemeral key exchange)", "");

    defaults(&d, &l);
    d.p.secret[7] ^= 1;
    run(&d, &l);
    both_refuse(&d, &l, "wrong cluster secret or not a dfc peer",
                "wrong secret: both sides say wrong cluster secret");

    defaults(&d, &l);
    d.p.fingerprint[0] = 0xab, d.p.fingerprint[1] = 0x12;
    l.p.fingerprint[0] = 0xcd, l.p.fingerprint[1] = 0x34;
    run(&d, &l);
    both_refuse(&d, &l, "peer runs a different dataflow (fingerprint",
                "different flows: both sides say different dataflow");
    t_ok_diag(strstr(d.err, "ab12") && strstr(d.err, "cd34") &&
                  strstr(d.err, "ab12") < strstr(d.err, "cd34"),
              "the message shows both fingerprints, ours first", d.err);

    defaults(&d, &l);
    d.p.workers_per_process = 3;
    run(&d, &l);
    both_refuse(&d, &l, "-w", "different -w: both sides name the -w values");
    t_ok_diag(strstr(d.err, "peer runs with -w 2, this process with -w 3") != NULL,
              "the dialer's message has both -w values", d.err);

    defaults(&d, &l);
    d.p.nprocs = 3;
    run(&d, &l);
    both_refuse(&d, &l, "processes", "different process counts: both sides say so");
    t_ok_diag(strstr(l.err, "peer runs a cluster of 3 processes, this process a cluster of 2") !=
                  NULL,
              "the listener's message has both counts", l.err);

    defaults(&d, &l);
    d.p.addresses_hash[5] ^= 1;
    run(&d, &l);
    both_refuse(&d, &l, "different address list", "different -a lists: both sides say so");

    defaults(&d, &l);
    d.p.proc_id = 0; /* two processes started with -i 0 */
    run(&d, &l);
    both_refuse(&d, &l, "peer also claims process id 0 (two processes started with -i 0)",
                "duplicate -i: both sides name the id");

    defaults(&d, &l);
    d.p.nprocs = l.p.nprocs = 3;
    l.p.proc_id = 2; /* process 1 dials 0 but reaches 2 */
    d.p.proc_id = 1;
    run(&d, &l);
    t_ok_diag(d.rc == DFCI_HS_EPEER && strstr(d.err, "dialed process 0 but reached process 2"),
              "reaching the wrong process is named", d.err);

    defaults(&d, &l);
    d.p.secret[0] ^= 1;
    d.p.fingerprint[0] ^= 1;
    run(&d, &l);
    both_refuse(&d, &l, "wrong cluster secret",
                "with a wrong secret no parameter is trusted (the secret is reported, not the flow)");

    /* strangers: garbage, connect-and-close, silence */
    {
        int sv[2];
        pthread_t t;
        defaults(&d, &l);
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        l.fd = sv[1];
        pthread_create(&t, NULL, run_side, &l);
        (void)!write(sv[0], "GET / HTTP/1.0\r\n\r\n", 18);
        pthread_join(t, NULL);
        t_ok_diag(l.rc == DFCI_HS_ESTRANGER &&
                      strstr(l.err, "not a dfc peer (it sent \"GET / HT\")"),
                  "garbage: the listener says not a dfc peer and quotes it", l.err);
        close(sv[0]);
        close(sv[1]);

        defaults(&d, &l);
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        l.fd = sv[1];
        close(sv[0]);
        run_side(&l);
        t_ok_diag(l.rc == DFCI_HS_EIO && strstr(l.err, "connection closed before a hello"),
                  "connect-then-close: the listener says closed before a hello", l.err);
        close(sv[1]);

        defaults(&d, &l);
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        l.fd = sv[1];
        l.timeout_ms = 300;
        {
            int64_t t0 = dfci_clock_ms();
            run_side(&l);
            t_ok_diag(l.rc == DFCI_HS_EIO && strstr(l.err, "timed out") &&
                          dfci_clock_ms() - t0 < 2000,
                      "a silent stranger times out at the deadline", l.err);
        }
        close(sv[0]);
        close(sv[1]);

        /* two listeners facing each other: wrong role */
        defaults(&d, &l);
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        d.fd = sv[0];
        d.timeout_ms = 500;
        pthread_create(&t, NULL, run_side, &d);
        {
            uint8_t hello[DFCI_HS_HELLO_BYTES];
            memset(hello, 0, sizeof hello);
            memcpy(hello, "DFCN", 4);
            hello[5] = 2; /* version 2 */
            hello[6] = 2;
            (void)!write(sv[1], hello, sizeof hello);
        }
        pthread_join(t, NULL);
        t_ok_diag(d.rc == DFCI_HS_EPEER && strstr(d.err, "protocol version 2"),
                  "another protocol version is named", d.err);
        close(sv[0]);
        close(sv[1]);
    }

    return t_done();
}
