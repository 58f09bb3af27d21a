/*
 * net_peer.c — a test program for the communication layer (tests/net.t):
 * one process of a mesh formed from its arguments, which sends N messages to
 * every other process, checks what it receives, and prints a summary:
 *
 *   mesh up
 *   sent to 1: count=2000 checksum=5c0e...
 *   recv from 1: count=2000 order=ok content=ok checksum=5c0e...
 *
 * Message k from process i to process j holds k, i, j and filler bytes that
 * depend on all three, with sizes from 16 bytes to 200 KiB, so a lost,
 * duplicated, reordered or corrupted message shows up in the summary.  The
 * checksum (BLAKE2b over the messages in order) must match the sender's.
 *
 *   net_peer -i ID -a "h:p;h:p;..." -k KEYFILE [-n N] [-w W] [-f FLOW]
 *            [-c CONNECT_MS] [-s STALL_MS] [-b BIND] [--forever]
 * --forever sends a message to every peer every 10 ms until killed.
 * Errors go to stderr as "dfc: ..." and the exit status is 1.
 * Without a main program of its own, it is also built by `make unit`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "net.h"

#define MAXP 16
#define BIG_EVERY 250
#define BIG_SIZE (200 * 1024)

typedef struct stats {
    long count, next;
    int order_ok, content_ok;
    crypto_generichash_state sum;
} stats;

static stats recv_stats[MAXP];
static int me;

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static size_t msg_size(long k) { return k % BIG_EVERY == BIG_EVERY - 1 ? BIG_SIZE : 16 + (size_t)(k % 97) * 13; }

static uint8_t filler(long k, int from, int to, size_t i)
{
    return (uint8_t)(k * 131 + from * 31 + to * 7 + (long)i);
}

static size_t make_msg(uint8_t *buf, long k, int from, int to)
{
    size_t n = msg_size(k);
    put64(buf, (uint64_t)k);
    put64(buf + 8, (uint64_t)from << 32 | (uint32_t)to);
    for (size_t i = 16; i < n; i++) buf[i] = filler(k, from, to, i);
    return n;
}

static void deliver(void *ctx, int from, const uint8_t *msg, size_t len)
{
    stats *s = &recv_stats[from];
    long k;
    (void)ctx;
    s->count++;
    crypto_generichash_update(&s->sum, msg, len);
    if (len < 16) {
        s->content_ok = 0;
        return;
    }
    k = (long)get64(msg);
    if (k != s->next) s->order_ok = 0;
    s->next = k + 1;
    if (len != msg_size(k) || get64(msg + 8) != ((uint64_t)from << 32 | (uint32_t)me))
        s->content_ok = 0;
    else
        for (size_t i = 16; i < len; i++)
            if (msg[i] != filler(k, from, me, i)) {
                s->content_ok = 0;
                break;
            }
}

static void fail(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "dfc: %s\n", message);
    fflush(stdout);
    _exit(1);
}

static void hex_final(crypto_generichash_state *st, char out[33])
{
    uint8_t h[16];
    crypto_generichash_final(st, h, sizeof h);
    sodium_bin2hex(out, 33, h, sizeof h);
}

static void usage(void)
{
    fprintf(stderr, "usage: net_peer -i ID -a \"h:p;...\" -k KEYFILE [-n N] [-w W] [-f FLOW] "
                    "[-c CONNECT_MS] [-s STALL_MS] [-b BIND] [--forever]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *addrs = NULL, *keyfile = NULL, *flow = "flow-A", *bind = NULL;
    static char addrs_copy[4096];
    char *save = NULL, err[1024];
    const char *list[MAXP];
    long n_msgs = 1000;
    int nprocs = 0, forever = 0;
    dfci_net_config cfg;
    dfci_net *net;
    uint8_t *buf;
    crypto_generichash_state sent[MAXP];

    memset(&cfg, 0, sizeof cfg);
    cfg.workers_per_process = 1;
    cfg.proc_id = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--forever")) {
            forever = 1;
            continue;
        }
        if (!v || a[0] != '-' || strlen(a) != 2) usage();
        i++;
        switch (a[1]) {
        case 'i': cfg.proc_id = atoi(v); break;
        case 'a': addrs = v; break;
        case 'k': keyfile = v; break;
        case 'n': n_msgs = atol(v); break;
        case 'w': cfg.workers_per_process = atoi(v); break;
        case 'f': flow = v; break;
        case 'c': cfg.connect_timeout_ms = atoi(v); break;
        case 's': cfg.stall_timeout_ms = atoi(v); break;
        case 'b': bind = v; break;
        default: usage();
        }
    }
    if (!addrs || !keyfile || cfg.proc_id < 0) usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (sodium_init() < 0) return 1;

    snprintf(addrs_copy, sizeof addrs_copy, "%s", addrs);
    for (char *t = strtok_r(addrs_copy, ";", &save); t && nprocs < MAXP;
         t = strtok_r(NULL, ";", &save))
        list[nprocs++] = t;
    if (dfci_secret_load(keyfile, cfg.secret, err, sizeof err) != 0) {
        fprintf(stderr, "dfc: %s\n", err);
        return 1;
    }
    crypto_generichash(cfg.fingerprint, 32, (const uint8_t *)flow, strlen(flow), NULL, 0);
    me = cfg.proc_id;
    cfg.nprocs = nprocs;
    cfg.addresses = list;
    cfg.bind_address = bind;
    cfg.deliver = deliver;
    cfg.fail = fail;
    for (int j = 0; j < nprocs; j++) {
        recv_stats[j].order_ok = recv_stats[j].content_ok = 1;
        crypto_generichash_init(&recv_stats[j].sum, NULL, 0, 16);
        crypto_generichash_init(&sent[j], NULL, 0, 16);
    }

    if (dfci_net_start(&net, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "dfc: %s\n", err);
        return 1;
    }
    sodium_memzero(cfg.secret, sizeof cfg.secret);
    printf("mesh up\n");

    buf = malloc(BIG_SIZE);
    for (long k = 0; forever || k < n_msgs; k++) {
        for (int j = 0; j < nprocs; j++) {
            size_t len;
            if (j == me) continue;
            len = make_msg(buf, k, me, j);
            if (dfci_net_send(net, j, buf, len, err, sizeof err) != 0) {
                fprintf(stderr, "dfc: %s\n", err);
                return 1;
            }
            crypto_generichash_update(&sent[j], buf, len);
        }
        if (forever) usleep(10 * 1000);
    }
    if (dfci_net_finish(net, err, sizeof err) != 0) {
        fprintf(stderr, "dfc: %s\n", err);
        return 1;
    }
    int bad = 0;
    for (int j = 0; j < nprocs; j++) {
        char h[33];
        stats *s = &recv_stats[j];
        if (j == me) continue;
        hex_final(&sent[j], h);
        printf("sent to %d: count=%ld checksum=%s\n", j, n_msgs, h);
        hex_final(&s->sum, h);
        printf("recv from %d: count=%ld order=%s content=%s checksum=%s\n", j, s->count,
               s->order_ok ? "ok" : "BAD", s->content_ok ? "ok" : "BAD", h);
        if (!s->order_ok || !s->content_ok || s->count != n_msgs) bad = 1;
    }
    dfci_net_free(net);
    free(buf);
    return bad;
}
