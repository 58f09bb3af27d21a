/*
 * net.c — the mesh: listening, dialing with back-off, per-peer threads,
 * heartbeats, clean end (API and thread plan in net.h, wire format in
 * docs/protocol.md).
 *
 * Forming the mesh.  Process i listens on its address and dials each j < i,
 * so each pair gets one connection and nobody has to break ties.  A dialer
 * retries refused or dropped connections with exponential back-off (50 ms
 * doubling to 1 s) until the connect timeout.  Every incoming connection
 * gets its own handshake thread with a 5 s deadline, so a silent stranger
 * holds one slot and nothing else; a connection that fails the handshake is
 * reported on stderr with its remote address and dropped, and we go on
 * waiting for the real peer.  After its handshake the listener sends the
 * verdict as the first sealed frame: READY, or REFUSE with a reason (a
 * second process claiming an id that is already connected).  A dialer that
 * meets a real dfc peer which disagrees with it (wrong secret, other flow,
 * other -w) gives up at once: retrying cannot help, and the message says why.
 *
 * Running.  One receiver thread per peer reads frames, delivers DATA, and
 * treats silence longer than the stall timeout, EOF without BYE, or any bad
 * frame as the end of the run: it calls cfg->fail once with "connection to
 * process J (ADDR) broken: REASON" and shuts every connection down, so
 * blocked senders wake and the other processes learn of it.  Senders seal
 * and write a frame under the peer's send mutex with one send(); a ticker
 * thread sends a HEARTBEAT to every peer nothing was sent to for a second
 * (it only try-locks, so it never waits behind a long send).
 *
 * Ending.  dfci_net_finish sends BYE everywhere and waits for every peer's
 * BYE; a peer's BYE is the last frame it sends, so when it arrives all its
 * data has been delivered.  After BYE no heartbeats flow in that direction,
 * and a receiver stops watching for stalls once it has seen the BYE.
 *
 * Lock order: a peer's send_mu, then n->mu.  Nothing takes send_mu while
 * holding n->mu.
 */
#define _GNU_SOURCE /* accept4 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "frame.h"
#include "handshake.h"

#define ERRLEN 512   /* a reason */
#define MSGLEN 1024  /* a whole message: reason, process, addresses */
#define ADDRLEN 272
#define VERDICT_MAX_BODY 1024          /* a READY/REFUSE frame is small */
#define CONNECT_ATTEMPT_MS 5000        /* one TCP connect attempt */
#define TICK_MS 250

typedef struct dfci_net dfci_net;

typedef struct peer {
    dfci_net *net;
    int id;
    char addr[ADDRLEN];   /* the entry from the address list */
    char host[ADDRLEN];   /* its host part (brackets removed) */
    char port[8];
    int fd;               /* -1 until up; set before up, closed in free */
    /* under n->mu */
    int up, claimed, bye_received;
    char last_err[ERRLEN]; /* dialer: why the last attempt failed */
    char remote[ADDRLEN];  /* the other end of the connection, numeric */
    /* under send_mu */
    pthread_mutex_t send_mu;
    dfci_frame_key tx;
    uint8_t *sbuf;
    size_t scap;
    int64_t last_send_ms;
    int bye_sent;
    int nowait; /* send_abort_frames: never block */
    /* the receiver thread only (the handshake thread before it starts) */
    dfci_frame_key rx;
    uint8_t *rbuf;
    size_t rcap;
    pthread_t reader, dialer;
    int reader_started, dialer_started;
} peer;

/* An incoming connection in its handshake. */
typedef struct pending {
    dfci_net *net;
    pthread_t th;
    int used, done; /* under n->mu */
    int fd;         /* under n->mu; -1 once handed to a peer or closed */
    char remote[ADDRLEN];
} pending;

struct dfci_net {
    int nprocs, me;
    int connect_timeout_ms, stall_timeout_ms;
    void (*deliver)(void *ctx, int from_proc, const uint8_t *msg, size_t len);
    void (*fail)(void *ctx, const char *message);
    void *ctx;
    dfci_hs_params hs;
    peer *peers;
    int listen_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    /* under mu */
    int nup;
    int forming;  /* dfci_net_start is still forming the mesh */
    int started;  /* the mesh is up: failures go to cfg->fail */
    int stopping; /* dfci_net_free: threads stop, errors are not reported */
    int fatal;
    char fatal_msg[MSGLEN]; /* start: why forming the mesh failed */
    int failed;
    char fail_msg[MSGLEN]; /* after start: the run's first fatal error */
    pthread_t acceptor, ticker;
    int acceptor_started, ticker_started;
    pending pend[DFCI_NET_MAX_PENDING];
};

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void) { return dfci_clock_ms(); }

static void net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void net_log(const char *fmt, ...)
{
    char line[MSGLEN + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dfc: %s\n", line); /* one call: lines do not interleave */
}

/* Waits on n->cv (n->mu held) for at most ms. */
static void cv_wait_ms(dfci_net *n, int64_t ms)
{
    struct timespec ts = dfci_clock_after(ms);
    pthread_cond_timedwait(&n->cv, &n->mu, &ts);
}

static const char *seconds(char *buf, size_t len, int ms)
{
    snprintf(buf, len, "%g", ms / 1000.0);
    return buf;
}

/* "host:port" or "[v6]:port" -> host, port.  Returns 0 or -1. */
static int split_address(const char *a, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon, *h = a;
    size_t hl;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || close[1] != ':') return -1;
        h = a + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(a, ':');
        if (!colon || memchr(a, ':', (size_t)(colon - a))) return -1; /* IPv6 needs [] */
        hl = (size_t)(colon - a);
    }
    if (hl == 0 || hl >= hostlen) return -1;
    const char *ps = colon + 1;
    size_t pl = strlen(ps);
    if (pl == 0 || pl >= portlen || strspn(ps, "0123456789") != pl || atol(ps) > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    memcpy(port, ps, pl + 1);
    return 0;
}

/* The socket addresses of one host:port. */
#define MAX_ADDRS 8
typedef struct netaddrs {
    int n;
    struct sockaddr_storage sa[MAX_ADDRS];
    socklen_t len[MAX_ADDRS];
} netaddrs;

/* Numeric IPv4 and IPv6 are parsed here (inet_pton), so they work in an
 * empty root directory and a static binary; only names go to getaddrinfo. */
static int resolve(const char *host, const char *port, netaddrs *out, char *err, size_t errlen)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa[0];
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa[0];
    uint16_t portnum = (uint16_t)atoi(port);
    struct addrinfo hints, *res, *ai;
    int r;

    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(portnum);
        out->len[0] = sizeof *sin;
        out->n = 1;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(portnum);
        out->len[0] = sizeof *sin6;
        out->n = 1;
        return 0;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host,
                 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        return -1;
    }
    for (ai = res; ai && out->n < MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out->sa[0]) continue;
        memcpy(&out->sa[out->n], ai->ai_addr, ai->ai_addrlen);
        out->len[out->n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (out->n == 0) {
        snprintf(err, errlen, "cannot resolve '%s': no address", host);
        return -1;
    }
    return 0;
}

/* "1.2.3.4:5" or "[::1]:5", without the resolver. */
static void format_sockaddr(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    (void)len;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, outlen, "%s:%u", host, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, outlen, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(out, outlen, "unknown address");
    }
}

static void tune_socket(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int write_all(int fd, const uint8_t *p, size_t n, int flags, char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL | flags);
        if (r < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "%s", strerror(errno));
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------ failure */

/* Records the run's first fatal error, shuts every connection down (blocked
 * senders and receivers wake, peers see us go) and, once the mesh is up,
 * tells the caller. */
static void send_abort_frames(dfci_net *n, const char *msg);

static void net_fail(dfci_net *n, const char *msg)
{
    int tell;
    pthread_mutex_lock(&n->mu);
    if (n->failed || n->stopping) {
        pthread_mutex_unlock(&n->mu);
        return;
    }
    n->failed = 1;
    snprintf(n->fail_msg, sizeof n->fail_msg, "%s", msg);
    if (n->started) {
        pthread_mutex_unlock(&n->mu);
        send_abort_frames(n, msg); /* takes send_mu: not under n->mu */
        pthread_mutex_lock(&n->mu);
    }
    for (int i = 0; i < n->nprocs; i++)
        if (n->peers[i].up) shutdown(n->peers[i].fd, SHUT_RDWR);
    tell = n->started;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (tell && n->fail) n->fail(n->ctx, msg);
}

void dfci_net_abort(dfci_net *n, const char *msg) { net_fail(n, msg); }

/* ------------------------------------------------------------ sending */

/* Seals one frame and writes it with one send (p->send_mu held). */
static int send_locked(peer *p, int type, const uint8_t *msg, size_t len, char *err,
                       size_t errlen);

/* The run failed: tell every peer why, as an ABORT frame, as far as that
 * is possible without waiting (a peer whose send mutex stays busy for
 * ABORT_LOCK_MS, or whose socket buffer is full, just sees us close). */
#define ABORT_LOCK_MS 50
static void send_abort_frames(dfci_net *n, const char *msg)
{
    size_t len = strlen(msg) < VERDICT_MAX_BODY ? strlen(msg) : VERDICT_MAX_BODY;
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        int up, locked = 0;
        if (i == n->me) continue;
        pthread_mutex_lock(&n->mu);
        up = p->up;
        pthread_mutex_unlock(&n->mu);
        if (!up) continue;
        for (int t = 0; t < ABORT_LOCK_MS && !(locked = pthread_mutex_trylock(&p->send_mu) == 0); t++) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        if (!locked) continue;
        if (!p->bye_sent) {
            char why[ERRLEN];
            p->nowait = 1;
            (void)send_locked(p, DFCI_FRAME_ABORT, (const uint8_t *)msg, len, why, sizeof why);
            p->nowait = 0;
            p->bye_sent = 1;
        }
        pthread_mutex_unlock(&p->send_mu);
    }
}

static int send_locked(peer *p, int type, const uint8_t *msg, size_t len, char *err,
                       size_t errlen)
{
    size_t need = len + DFCI_FRAME_OVERHEAD, wlen;
    if (len > DFCI_FRAME_MAX_PAYLOAD) {
        snprintf(err, errlen, "message of %zu bytes is over the %zu MiB limit", len,
                 DFCI_FRAME_MAX_PAYLOAD >> 20);
        return -1;
    }
    if (p->scap < need) {
        uint8_t *b = realloc(p->sbuf, need);
        if (!b) {
            snprintf(err, errlen, "out of memory for a %zu-byte frame", need);
            return -1;
        }
        p->sbuf = b;
        p->scap = need;
    }
    if (dfci_frame_seal(&p->tx, type, msg, len, p->sbuf, &wlen, err, errlen) != 0) return -1;
    if (write_all(p->fd, p->sbuf, wlen, p->nowait ? MSG_DONTWAIT : 0, err, errlen) != 0) return -1;
    p->last_send_ms = now_ms();
    return 0;
}

static void broken(dfci_net *n, peer *p, const char *why)
{
    char msg[MSGLEN];
    snprintf(msg, sizeof msg, "connection to process %d (%s) broken: %.600s", p->id, p->addr, why);
    net_fail(n, msg);
}

/* Copies the run's failure message, if any, into err.  Returns 1 if failed. */
static int failed_msg(dfci_net *n, char *err, size_t errlen)
{
    int f;
    pthread_mutex_lock(&n->mu);
    f = n->failed;
    if (f) snprintf(err, errlen, "%s", n->fail_msg);
    pthread_mutex_unlock(&n->mu);
    return f;
}

int dfci_net_send(dfci_net *n, int to_proc, const uint8_t *msg, size_t len, char *err,
                  size_t errlen)
{
    char why[ERRLEN];
    peer *p;
    int rc;

    if (to_proc < 0 || to_proc >= n->nprocs || to_proc == n->me) {
        snprintf(err, errlen, "dfci_net_send: no peer process %d", to_proc);
        return -1;
    }
    p = &n->peers[to_proc];
    pthread_mutex_lock(&p->send_mu);
    if (failed_msg(n, err, errlen)) {
        pthread_mutex_unlock(&p->send_mu);
        return -1;
    }
    if (p->bye_sent) {
        pthread_mutex_unlock(&p->send_mu);
        snprintf(err, errlen, "dfci_net_send: send to process %d after finish", to_proc);
        return -1;
    }
    rc = send_locked(p, DFCI_FRAME_DATA, msg, len, why, sizeof why);
    pthread_mutex_unlock(&p->send_mu);
    if (rc != 0) {
        if (len > DFCI_FRAME_MAX_PAYLOAD) {
            snprintf(err, errlen, "dfci_net_send: %s", why);
            return -1;
        }
        broken(n, p, why);
        failed_msg(n, err, errlen);
        return -1;
    }
    return 0;
}

/* Heartbeats: every TICK_MS, a HEARTBEAT to each peer that nothing was sent
 * to for DFCI_NET_HEARTBEAT_MS, unless a send to it is in progress. */
static void *ticker_main(void *arg)
{
    dfci_net *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        cv_wait_ms(n, TICK_MS);
        for (int i = 0; i < n->nprocs && !n->stopping; i++) {
            peer *p = &n->peers[i];
            char why[ERRLEN];
            int rc = 0;
            if (!p->up || n->failed) continue;
            pthread_mutex_unlock(&n->mu);
            if (pthread_mutex_trylock(&p->send_mu) == 0) {
                if (!p->bye_sent && now_ms() - p->last_send_ms >= DFCI_NET_HEARTBEAT_MS)
                    rc = send_locked(p, DFCI_FRAME_HEARTBEAT, NULL, 0, why, sizeof why);
                pthread_mutex_unlock(&p->send_mu);
            }
            if (rc != 0) broken(n, p, why);
            pthread_mutex_lock(&n->mu);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ------------------------------------------------------------ receiving */

/* Reads exactly len bytes, waiting at most the stall timeout for each
 * piece.  mid: a frame is already under way (EOF then means truncation). */
static int read_stall(dfci_net *n, int fd, uint8_t *buf, size_t len, int mid, char *err,
                      size_t errlen)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, n->stall_timeout_ms);
        ssize_t k;
        if (r == 0) {
            char s[32];
            snprintf(err, errlen, "nothing received for %s s, not even a heartbeat (peer stalled?)",
                     seconds(s, sizeof s, n->stall_timeout_ms));
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        k = recv(fd, buf + got, len - got, 0);
        if (k == 0) {
            if (mid || got)
                snprintf(err, errlen, "connection closed in the middle of a frame (truncated frame)");
            else
                snprintf(err, errlen, "peer closed the connection without BYE (process exited or was killed?)");
            return -1;
        }
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            snprintf(err, errlen, "%s", strerror(errno));
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

/* Reads and opens one frame into p->rbuf. */
static int read_frame(dfci_net *n, peer *p, int *type, uint8_t **payload, size_t *len,
                      char *err, size_t errlen)
{
    uint8_t hdr[DFCI_FRAME_HEADER_BYTES];
    size_t bodylen, total;
    if (read_stall(n, p->fd, hdr, sizeof hdr, 0, err, errlen) != 0) return -1;
    if (dfci_frame_check_header(hdr, &bodylen, err, errlen) != 0) return -1;
    total = DFCI_FRAME_HEADER_BYTES + bodylen;
    if (p->rcap < total) {
        uint8_t *b = realloc(p->rbuf, total);
        if (!b) {
            snprintf(err, errlen, "out of memory for a %zu-byte frame", total);
            return -1;
        }
        p->rbuf = b;
        p->rcap = total;
    }
    memcpy(p->rbuf, hdr, sizeof hdr);
    if (read_stall(n, p->fd, p->rbuf + sizeof hdr, bodylen, 1, err, errlen) != 0) return -1;
    return dfci_frame_open(&p->rx, p->rbuf, total, type, payload, len, err, errlen) == 0 ? 0 : -1;
}

static void *reader_main(void *arg)
{
    peer *p = arg;
    dfci_net *n = p->net;
    char why[ERRLEN];
    for (;;) {
        int type;
        uint8_t *payload;
        size_t len;
        if (read_frame(n, p, &type, &payload, &len, why, sizeof why) != 0) {
            broken(n, p, why);
            break;
        }
        if (type == DFCI_FRAME_DATA) {
            n->deliver(n->ctx, p->id, payload, len);
        } else if (type == DFCI_FRAME_HEARTBEAT) {
            continue;
        } else if (type == DFCI_FRAME_ABORT) {
            char msg[MSGLEN];
            snprintf(msg, sizeof msg, "process %d (%s) stopped the run: %.*s", p->id, p->addr,
                     (int)(len < 600 ? len : 600), (const char *)payload);
            net_fail(n, msg);
            break;
        } else if (type == DFCI_FRAME_BYE) {
            pthread_mutex_lock(&n->mu);
            p->bye_received = 1;
            pthread_cond_broadcast(&n->cv);
            pthread_mutex_unlock(&n->mu);
            break;
        } else {
            snprintf(why, sizeof why, "unexpected frame type %d after the handshake", type);
            broken(n, p, why);
            break;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ forming the mesh */

/* Marks p up with the keys of its handshake; the fd now belongs to p.
 * The verdict was frame 0 from the listener, so its side of the
 * connection goes on at sequence number 1. */
static void peer_up(dfci_net *n, peer *p, int fd, const dfci_hs_result *res, int listener)
{
    dfci_frame_key_init(&p->tx, res->tx_key);
    dfci_frame_key_init(&p->rx, res->rx_key);
    if (listener)
        p->tx.seq = 1;
    else
        p->rx.seq = 1;
    p->fd = fd;
    p->last_send_ms = now_ms();
    pthread_mutex_lock(&n->mu);
    p->up = 1;
    n->nup++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* Seals and sends the one-frame verdict with a fresh key state. */
static int send_verdict(int fd, const dfci_hs_result *res, int type, const char *reason,
                        int64_t deadline, char *err, size_t errlen)
{
    uint8_t buf[VERDICT_MAX_BODY + DFCI_FRAME_HEADER_BYTES];
    size_t len = reason ? strlen(reason) : 0, wlen;
    dfci_frame_key k;
    int rc;
    if (len > VERDICT_MAX_BODY - DFCI_FRAME_MIN_BODY) len = VERDICT_MAX_BODY - DFCI_FRAME_MIN_BODY;
    dfci_frame_key_init(&k, res->tx_key);
    rc = dfci_frame_seal(&k, type, (const uint8_t *)reason, len, buf, &wlen, err, errlen);
    dfci_frame_key_wipe(&k);
    if (rc == 0) rc = dfci_hs_write_full(fd, buf, wlen, deadline, err, errlen);
    return rc;
}

/* Waits for the listener's verdict.  Returns 1 READY, 0 REFUSE (reason in
 * err), -1 I/O error (transient), -2 a bad frame. */
static int read_verdict(int fd, const dfci_hs_result *res, int64_t deadline, char *err,
                        size_t errlen)
{
    uint8_t buf[VERDICT_MAX_BODY + DFCI_FRAME_HEADER_BYTES], *payload;
    size_t bodylen, len;
    dfci_frame_key k;
    int type, rc;
    if (dfci_hs_read_full(fd, buf, DFCI_FRAME_HEADER_BYTES, deadline, NULL, err, errlen) != 0)
        return -1;
    if (dfci_frame_check_header(buf, &bodylen, err, errlen) != 0) return -2;
    if (bodylen > VERDICT_MAX_BODY) {
        snprintf(err, errlen, "handshake verdict of %zu bytes is too long", bodylen);
        return -2;
    }
    if (dfci_hs_read_full(fd, buf + DFCI_FRAME_HEADER_BYTES, bodylen, deadline, NULL, err,
                          errlen) != 0)
        return -1;
    dfci_frame_key_init(&k, res->rx_key);
    rc = dfci_frame_open(&k, buf, DFCI_FRAME_HEADER_BYTES + bodylen, &type, &payload, &len, err,
                         errlen);
    dfci_frame_key_wipe(&k);
    if (rc != 0) return -2;
    if (type == DFCI_FRAME_READY) return 1;
    if (type == DFCI_FRAME_REFUSE) {
        snprintf(err, errlen, "%.*s", (int)len, (const char *)payload);
        return 0;
    }
    snprintf(err, errlen, "unexpected frame type %d instead of the handshake verdict", type);
    return -2;
}

static void set_fatal(dfci_net *n, const char *msg)
{
    pthread_mutex_lock(&n->mu);
    if (!n->fatal) {
        n->fatal = 1;
        snprintf(n->fatal_msg, sizeof n->fatal_msg, "%s", msg);
    }
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* One incoming connection: handshake, then READY or REFUSE. */
static void *incoming_main(void *arg)
{
    pending *pd = arg;
    dfci_net *n = pd->net;
    char why[ERRLEN], reason[MSGLEN];
    dfci_hs_result res;
    int fd = pd->fd, rc, refuse = 0, keep = 0;
    int64_t deadline = now_ms() + DFCI_HS_TIMEOUT_MS;
    peer *p = NULL;

    rc = dfci_handshake(fd, 0, &n->hs, deadline, &res, why, sizeof why);
    pthread_mutex_lock(&n->mu);
    if (rc != 0) {
        if (n->forming) net_log("handshake with %s failed: %s (connection dropped)", pd->remote, why);
    } else if (n->forming) {
        p = &n->peers[res.peer_id];
        if (p->claimed) {
            refuse = 1;
            snprintf(reason, sizeof reason,
                     "process %d is already connected from %s (two processes started with -i %d?)",
                     p->id, p->remote, p->id);
        } else {
            p->claimed = 1;
            snprintf(p->remote, sizeof p->remote, "%s", pd->remote);
        }
    }
    pthread_mutex_unlock(&n->mu);

    if (rc == 0 && p && refuse) {
        net_log("refused process %d at %s: %s", p->id, pd->remote, reason);
        (void)send_verdict(fd, &res, DFCI_FRAME_REFUSE, reason, deadline, why, sizeof why);
    } else if (rc == 0 && p) {
        if (send_verdict(fd, &res, DFCI_FRAME_READY, NULL, deadline, why, sizeof why) == 0) {
            keep = 1;
        } else {
            pthread_mutex_lock(&n->mu);
            if (n->forming) net_log("handshake with %s failed: %s (connection dropped)", pd->remote, why);
            p->claimed = 0;
            pthread_mutex_unlock(&n->mu);
        }
    }
    pthread_mutex_lock(&n->mu);
    pd->fd = -1;
    pd->done = 1;
    pthread_mutex_unlock(&n->mu);
    if (keep)
        peer_up(n, p, fd, &res, 1);
    else
        close(fd);
    sodium_memzero(&res, sizeof res);
    return NULL;
}

/* Joins finished handshake threads (all of them when all is set, after
 * shutting their sockets down). */
static void reap_pending(dfci_net *n, int all)
{
    for (int i = 0; i < DFCI_NET_MAX_PENDING; i++) {
        pending *pd = &n->pend[i];
        int join;
        pthread_mutex_lock(&n->mu);
        join = pd->used && (pd->done || all);
        if (join && !pd->done && pd->fd >= 0) shutdown(pd->fd, SHUT_RDWR);
        pthread_mutex_unlock(&n->mu);
        if (join) {
            pthread_join(pd->th, NULL);
            pd->used = 0; /* only the acceptor touches used */
        }
    }
}

static void *acceptor_main(void *arg)
{
    dfci_net *n = arg;
    for (;;) {
        struct pollfd pfd = {.fd = n->listen_fd, .events = POLLIN};
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;
        char remote[ADDRLEN];
        int fd, slot = -1, forming;

        pthread_mutex_lock(&n->mu);
        forming = n->forming;
        pthread_mutex_unlock(&n->mu);
        if (!forming) break;
        if (poll(&pfd, 1, TICK_MS) <= 0) continue;
        fd = accept4(n->listen_fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(100 * 1000);
            continue;
        }
        tune_socket(fd);
        format_sockaddr((struct sockaddr *)&sa, salen, remote, sizeof remote);
        reap_pending(n, 0);
        for (int i = 0; i < DFCI_NET_MAX_PENDING; i++)
            if (!n->pend[i].used) {
                slot = i;
                break;
            }
        if (slot < 0) {
            net_log("connection from %s dropped: %d handshakes already in progress", remote,
                    DFCI_NET_MAX_PENDING);
            close(fd);
            continue;
        }
        pending *pd = &n->pend[slot];
        pd->net = n;
        pd->fd = fd;
        pd->done = 0;
        snprintf(pd->remote, sizeof pd->remote, "%s", remote);
        pd->used = 1;
        if (pthread_create(&pd->th, NULL, incoming_main, pd) != 0) {
            net_log("connection from %s dropped: cannot start a thread", remote);
            pd->used = 0;
            close(fd);
        }
    }
    reap_pending(n, 1);
    return NULL;
}

/* One TCP connect attempt to every address of p's entry, each bounded by
 * timeout_ms.  Returns a blocking fd, or -1 with err. */
static int dial(peer *p, int timeout_ms, char *err, size_t errlen)
{
    netaddrs as;
    int fd = -1;
    if (resolve(p->host, p->port, &as, err, errlen) != 0) return -1;
    for (int i = 0; i < as.n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&as.sa[i];
        struct pollfd pfd;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, sa, as.len[i]) != 0) {
            if (errno != EINPROGRESS) {
                snprintf(err, errlen, "%s", strerror(errno));
                goto next;
            }
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (poll(&pfd, 1, timeout_ms) <= 0) {
                snprintf(err, errlen, "connect timed out");
                goto next;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
                snprintf(err, errlen, "%s", strerror(soerr ? soerr : errno));
                goto next;
            }
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        tune_socket(fd);
        break;
    next:
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Dials peer p (a lower id) until it is up, the deadline passes, or a real
 * dfc peer there turns out to disagree with us. */
static void *dialer_main(void *arg)
{
    peer *p = arg;
    dfci_net *n = p->net;
    int64_t deadline = now_ms() + n->connect_timeout_ms, backoff = DFCI_NET_BACKOFF_MIN_MS;
    dfci_hs_params hs = n->hs;
    char why[ERRLEN], msg[MSGLEN];
    int told = 0;
    hs.expect_peer = p->id;

    for (;;) {
        dfci_hs_result res;
        int64_t left = deadline - now_ms();
        int fd, rc;
        pthread_mutex_lock(&n->mu);
        if (!n->forming || left <= 0) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        pthread_mutex_unlock(&n->mu);

        fd = dial(p, left < CONNECT_ATTEMPT_MS ? (int)left : CONNECT_ATTEMPT_MS, why, sizeof why);
        if (fd >= 0) {
            struct sockaddr_storage sa;
            socklen_t salen = sizeof sa;
            char remote[ADDRLEN] = "?";
            int64_t hs_deadline = now_ms() + DFCI_HS_TIMEOUT_MS;
            if (getpeername(fd, (struct sockaddr *)&sa, &salen) == 0)
                format_sockaddr((struct sockaddr *)&sa, salen, remote, sizeof remote);
            rc = dfci_handshake(fd, 1, &hs, hs_deadline, &res, why, sizeof why);
            if (rc == DFCI_HS_EPEER) {
                snprintf(msg, sizeof msg, "handshake with process %d (%s) failed: %s", p->id,
                         p->addr, why);
                set_fatal(n, msg);
                close(fd);
                break;
            }
            if (rc == 0) {
                rc = read_verdict(fd, &res, hs_deadline, why, sizeof why);
                if (rc == 1) {
                    pthread_mutex_lock(&n->mu);
                    snprintf(p->remote, sizeof p->remote, "%s", remote);
                    pthread_mutex_unlock(&n->mu);
                    peer_up(n, p, fd, &res, 0);
                    sodium_memzero(&res, sizeof res);
                    break;
                }
                sodium_memzero(&res, sizeof res);
                if (rc == 0 || rc == -2) {
                    snprintf(msg, sizeof msg, rc == 0 ? "process %d (%s) refused this process: %s"
                                                      : "handshake with process %d (%s) failed: %s",
                             p->id, p->addr, why);
                    set_fatal(n, msg);
                    close(fd);
                    break;
                }
            } else if (rc == DFCI_HS_ESTRANGER && !told++) {
                net_log("handshake with process %d (%s) failed: %s (retrying)", p->id, p->addr, why);
            }
            close(fd);
        }
        pthread_mutex_lock(&n->mu);
        snprintf(p->last_err, sizeof p->last_err, "%s", why);
        left = deadline - now_ms();
        if (n->forming && left > 0) cv_wait_ms(n, backoff < left ? backoff : left);
        pthread_mutex_unlock(&n->mu);
        backoff = backoff * 2 > DFCI_NET_BACKOFF_MAX_MS ? DFCI_NET_BACKOFF_MAX_MS : backoff * 2;
    }
    sodium_memzero(&hs, sizeof hs);
    return NULL;
}

static int open_listener(dfci_net *n, const char *bind_address, char *err, size_t errlen)
{
    char host[ADDRLEN], port[8], why[ERRLEN], shown[ADDRLEN + 16];
    netaddrs as;
    peer *me = &n->peers[n->me];
    int fd = -1, one = 1;

    if (!bind_address) {
        snprintf(host, sizeof host, "%s", me->host);
        snprintf(port, sizeof port, "%s", me->port);
    } else if (split_address(bind_address, host, sizeof host, port, sizeof port) != 0) {
        /* a bare host: our entry's port */
        const char *b = bind_address;
        size_t bl = strlen(b);
        if (b[0] == '[' && bl > 2 && b[bl - 1] == ']') {
            b++;
            bl -= 2;
        }
        if (bl == 0 || bl >= sizeof host) {
            snprintf(err, errlen, "bind address '%s' is not host or host:port", bind_address);
            return -1;
        }
        memcpy(host, b, bl);
        host[bl] = 0;
        snprintf(port, sizeof port, "%s", me->port);
    }
    snprintf(shown, sizeof shown, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    if (resolve(host, port, &as, why, sizeof why) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", shown, why);
        return -1;
    }
    snprintf(why, sizeof why, "no usable address");
    for (int i = 0; i < as.n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&as.sa[i];
        fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(why, sizeof why, "%s", strerror(errno));
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, sa, as.len[i]) == 0 && listen(fd, 128) == 0) break;
        snprintf(why, sizeof why, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", shown, why);
        return -1;
    }
    n->listen_fd = fd;
    return 0;
}

/* "process 2 (127.0.0.1:4102) did not connect within 30 s (last attempt: ...)" */
static void timeout_message(dfci_net *n, char *err, size_t errlen)
{
    size_t o = 0;
    int missing = 0;
    const char *last = NULL;
    char s[32];
    err[0] = 0;
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        if (i == n->me || p->up) continue;
        if (o < errlen)
            o += (size_t)snprintf(err + o, errlen - o, "%sprocess %d (%s)", missing ? ", " : "",
                                  p->id, p->addr);
        if (!last && p->last_err[0]) last = p->last_err;
        missing++;
    }
    if (o < errlen)
        o += (size_t)snprintf(err + o, errlen - o, " did not connect within %s s",
                              seconds(s, sizeof s, n->connect_timeout_ms));
    if (last && o < errlen) snprintf(err + o, errlen - o, " (last attempt: %s)", last);
}

int dfci_net_start(dfci_net **out, const dfci_net_config *cfg, char *err, size_t errlen)
{
    crypto_generichash_state st;
    pthread_condattr_t ca;
    dfci_net *n;
    int rc = -1;

    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (cfg->nprocs < 1 || cfg->nprocs > DFCI_NET_MAX_PROCESSES || cfg->proc_id < 0 ||
        cfg->proc_id >= cfg->nprocs || cfg->workers_per_process < 1 || !cfg->addresses ||
        !cfg->deliver) {
        snprintf(err, errlen, "bad network configuration (process %d of %d, -w %d)",
                 cfg->proc_id, cfg->nprocs, cfg->workers_per_process);
        return -1;
    }
    n = calloc(1, sizeof *n);
    if (!n || !(n->peers = calloc((size_t)cfg->nprocs, sizeof *n->peers))) {
        free(n);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->nprocs = cfg->nprocs;
    n->me = cfg->proc_id;
    n->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                                        : DFCI_NET_CONNECT_TIMEOUT_MS;
    n->stall_timeout_ms = cfg->stall_timeout_ms > 0 ? cfg->stall_timeout_ms
                                                    : DFCI_NET_STALL_TIMEOUT_MS;
    n->deliver = cfg->deliver;
    n->fail = cfg->fail;
    n->ctx = cfg->ctx;
    n->listen_fd = -1;
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);

    n->hs.proc_id = cfg->proc_id;
    n->hs.nprocs = cfg->nprocs;
    n->hs.workers_per_process = cfg->workers_per_process;
    n->hs.expect_peer = -1;
    memcpy(n->hs.secret, cfg->secret, sizeof n->hs.secret);
    memcpy(n->hs.fingerprint, cfg->fingerprint, sizeof n->hs.fingerprint);
    crypto_generichash_init(&st, NULL, 0, sizeof n->hs.addresses_hash);
    for (int i = 0; i < n->nprocs; i++) {
        n->peers[i].net = n;
        n->peers[i].id = i;
        n->peers[i].fd = -1;
        pthread_mutex_init(&n->peers[i].send_mu, NULL);
    }
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        const char *a = cfg->addresses[i];
        if (!a || strlen(a) >= sizeof p->addr ||
            split_address(a, p->host, sizeof p->host, p->port, sizeof p->port) != 0) {
            snprintf(err, errlen,
                     "address of process %d '%s' is not host:port (IPv6 as [addr]:port)", i,
                     a ? a : "(null)");
            goto fail;
        }
        snprintf(p->addr, sizeof p->addr, "%s", a);
        crypto_generichash_update(&st, (const uint8_t *)a, strlen(a) + 1); /* NUL separates */
    }
    crypto_generichash_final(&st, n->hs.addresses_hash, sizeof n->hs.addresses_hash);

    if (n->nprocs == 1) {
        *out = n;
        return 0;
    }
    if (open_listener(n, cfg->bind_address, err, errlen) != 0) goto fail;

    n->forming = 1;
    if (pthread_create(&n->acceptor, NULL, acceptor_main, n) != 0) goto threads;
    n->acceptor_started = 1;
    if (pthread_create(&n->ticker, NULL, ticker_main, n) != 0) goto threads;
    n->ticker_started = 1;
    for (int j = 0; j < n->me; j++) {
        if (pthread_create(&n->peers[j].dialer, NULL, dialer_main, &n->peers[j]) != 0)
            goto threads;
        n->peers[j].dialer_started = 1;
    }

    /* Wait for the mesh, a fatal error, or the deadline. */
    {
        int64_t deadline = now_ms() + n->connect_timeout_ms;
        pthread_mutex_lock(&n->mu);
        while (n->nup < n->nprocs - 1 && !n->fatal && !n->failed && now_ms() < deadline)
            cv_wait_ms(n, deadline - now_ms());
        n->forming = 0;
        pthread_cond_broadcast(&n->cv);
        pthread_mutex_unlock(&n->mu);
    }
    shutdown(n->listen_fd, SHUT_RDWR); /* wakes the acceptor's poll now */
    pthread_join(n->acceptor, NULL);
    n->acceptor_started = 0;
    for (int j = 0; j < n->me; j++)
        if (n->peers[j].dialer_started) {
            pthread_join(n->peers[j].dialer, NULL);
            n->peers[j].dialer_started = 0;
        }
    close(n->listen_fd);
    n->listen_fd = -1;

    pthread_mutex_lock(&n->mu);
    if (n->fatal)
        snprintf(err, errlen, "%s", n->fatal_msg);
    else if (n->failed)
        snprintf(err, errlen, "%s", n->fail_msg);
    else if (n->nup < n->nprocs - 1)
        timeout_message(n, err, errlen);
    else {
        n->started = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&n->mu);
    if (rc != 0) goto fail;

    *out = n;
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        if (i == n->me) continue;
        if (pthread_create(&p->reader, NULL, reader_main, p) != 0) {
            broken(n, p, "cannot start a receiver thread");
            break;
        }
        p->reader_started = 1;
    }
    return 0;

threads:
    snprintf(err, errlen, "cannot start the network threads");
fail:
    dfci_net_free(n);
    return -1;
}

int dfci_net_finish(dfci_net *n, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        char why[MSGLEN];
        int r = 0;
        if (i == n->me) continue;
        pthread_mutex_lock(&p->send_mu);
        if (!p->bye_sent && !failed_msg(n, why, sizeof why)) {
            p->bye_sent = 1;
            r = send_locked(p, DFCI_FRAME_BYE, NULL, 0, why, sizeof why);
        }
        pthread_mutex_unlock(&p->send_mu);
        if (r != 0) broken(n, p, why);
    }
    pthread_mutex_lock(&n->mu);
    for (;;) {
        int all = 1;
        for (int i = 0; i < n->nprocs; i++)
            if (i != n->me && !n->peers[i].bye_received) all = 0;
        if (n->failed) {
            snprintf(err, errlen, "%s", n->fail_msg);
            rc = -1;
            break;
        }
        if (all) break;
        pthread_cond_wait(&n->cv, &n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

void dfci_net_free(dfci_net *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    n->stopping = 1;
    n->forming = 0;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->acceptor_started) pthread_join(n->acceptor, NULL);
    if (n->ticker_started) pthread_join(n->ticker, NULL);
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        if (p->dialer_started) pthread_join(p->dialer, NULL);
        if (p->fd >= 0) shutdown(p->fd, SHUT_RDWR);
    }
    for (int i = 0; i < n->nprocs; i++) {
        peer *p = &n->peers[i];
        if (p->reader_started) pthread_join(p->reader, NULL);
        if (p->fd >= 0) close(p->fd);
        dfci_frame_key_wipe(&p->tx);
        dfci_frame_key_wipe(&p->rx);
        free(p->sbuf);
        free(p->rbuf);
        pthread_mutex_destroy(&p->send_mu);
    }
    if (n->listen_fd >= 0) close(n->listen_fd);
    sodium_memzero(&n->hs, sizeof n->hs);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n->peers);
    free(n);
}

/* ------------------------------------------------------------ the secret */

int dfci_secret_load(const char *path, uint8_t secret[32], char *err, size_t errlen)
{
    uint8_t buf[160];
    size_t n = 0, hexlen;
    int fd, rc = -1;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open secret file '%s': %s", path, strerror(errno));
        return -1;
    }
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read secret file '%s': %s", path, strerror(errno));
            close(fd);
            goto done;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);

    hexlen = n;
    if (hexlen > 0 && buf[hexlen - 1] == '\n') hexlen--;
    if (hexlen > 0 && buf[hexlen - 1] == '\r') hexlen--;
    if (hexlen == 64 && strspn((const char *)buf, "0123456789abcdefABCDEF") >= 64) {
        size_t bin_len = 0;
        if (sodium_hex2bin(secret, 32, (const char *)buf, 64, NULL, &bin_len, NULL) == 0 &&
            bin_len == 32)
            rc = 0;
    } else if (n == 32) {
        size_t hex = 0;
        while (hex < 32 && strchr("0123456789abcdefABCDEF", buf[hex]) && buf[hex]) hex++;
        if (hex == 32) {
            snprintf(err, errlen,
                     "secret file '%s' holds 32 hex digits: a cut-off key? (dfc keygen prints 64)",
                     path);
            goto done;
        }
        memcpy(secret, buf, 32);
        rc = 0;
    }
    if (rc != 0) {
        if (n == 0)
            snprintf(err, errlen, "secret file '%s' is empty (make one with: dfc keygen > FILE)",
                     path);
        else
            snprintf(err, errlen,
                     "secret file '%s' must hold 64 hex digits (as printed by dfc keygen) or "
                     "exactly 32 raw bytes; it holds %s%zu bytes",
                     path, n == sizeof buf ? "more than " : "", n == sizeof buf ? n - 1 : n);
    }
done:
    sodium_memzero(buf, sizeof buf);
    return rc;
}
