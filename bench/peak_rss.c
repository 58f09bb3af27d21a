/* peak_rss.c — the harness's measuring wrapper: runs one command and reports
 * its wall time and its peak resident set size (getrusage ru_maxrss of the
 * child, which includes the descendants it waited for).  Every timed run in
 * bench/run goes through it, so time and memory come from the same run.
 *   peak_rss [-i IN] [-o OUT] [-t SECS] -- CMD ARGS...
 * stdin/stdout of CMD are IN/OUT (default: /dev/null for both); stderr is
 * inherited.  Prints one line to stdout:
 *   wall_s=0.123456 maxrss_kb=12345 status=0
 * status is the exit code, 128+signal, or "timeout" (the child's process
 * group is killed after SECS seconds).  Exits 0 unless it could not run CMD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *in = "/dev/null", *out = "/dev/null";
    double limit = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) { i++; break; }
        if (i + 1 >= argc) break;
        if (!strcmp(argv[i], "-i")) in = argv[++i];
        else if (!strcmp(argv[i], "-o")) out = argv[++i];
        else if (!strcmp(argv[i], "-t")) limit = atof(argv[++i]);
        else break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: peak_rss [-i IN] [-o OUT] [-t SECS] -- CMD ARGS...\n");
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) { perror("peak_rss: fork"); return 2; }
    if (pid == 0) {
        setpgid(0, 0);
        int fi = open(in, O_RDONLY), fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0) { perror("peak_rss: open"); _exit(127); }
        dup2(fi, 0); dup2(fo, 1); close(fi); close(fo);
        execvp(argv[i], argv + i);
        fprintf(stderr, "peak_rss: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    int st = 0, timed_out = 0;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &st, limit > 0 ? WNOHANG : 0, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) { perror("peak_rss: wait4"); return 2; }
        if (limit > 0 && now() - t0 > limit && !timed_out) {
            timed_out = 1;
            kill(-pid, SIGKILL);
        }
        if (limit > 0) usleep(2000);
    }
    double wall = now() - t0;
    if (timed_out) kill(-pid, SIGKILL);   /* stragglers in the group */
    char status[32];
    if (timed_out) strcpy(status, "timeout");
    else if (WIFEXITED(st)) snprintf(status, sizeof status, "%d", WEXITSTATUS(st));
    else snprintf(status, sizeof status, "%d", 128 + WTERMSIG(st));
    printf("wall_s=%.6f maxrss_kb=%ld status=%s\n", wall, ru.ru_maxrss, status);
    return 0;
}
