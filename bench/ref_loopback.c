/* ref_loopback.c — reference for the "exchange" figure: raw TCP throughput
 * between two processes over 127.0.0.1, no encryption, no framing.  The
 * parent listens, a forked child connects and writes BYTES in 64 KiB writes,
 * the parent reads until EOF.  Timed from accept() to EOF.
 * Prints "bytes=N seconds=S MB_per_s=R" (MB = 10^6 bytes).
 *   ref_loopback 1073741824
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long long total = argc > 1 ? atoll(argv[1]) : (1ll << 30);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1)
        || getsockname(ls, (struct sockaddr *)&a, &al)) { perror("ref_loopback"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        close(ls);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); _exit(1); }
        static char buf[CHUNK];
        memset(buf, 'x', sizeof buf);
        long long left = total;
        while (left > 0) {
            ssize_t w = write(s, buf, left < CHUNK ? (size_t)left : CHUNK);
            if (w <= 0) { perror("write"); _exit(1); }
            left -= w;
        }
        close(s);
        _exit(0);
    }
    int c = accept(ls, 0, 0);
    if (c < 0) { perror("accept"); return 1; }
    double t0 = now();
    static char buf[CHUNK];
    long long got = 0;
    for (;;) {
        ssize_t r = read(c, buf, sizeof buf);
        if (r < 0) { perror("read"); return 1; }
        if (r == 0) break;
        got += r;
    }
    double dt = now() - t0;
    int st;
    waitpid(pid, &st, 0);
    if (got != total) { fprintf(stderr, "ref_loopback: got %lld of %lld bytes\n", got, total); return 1; }
    printf("bytes=%lld seconds=%.6f MB_per_s=%.1f\n", got, dt, got / dt / 1e6);
    return 0;
}
