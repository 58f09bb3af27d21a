/*
 * spawn.c — `-p N`: a local cluster of N copies of this executable, like
 * `python -m bytewax.testing -p N -w M`.
 *
 * The parent picks N free ports on 127.0.0.1 (bind port 0, read the port,
 * close), writes a fresh secret (randombytes_buf, 64 hex digits) to a 0600
 * temporary file, and starts child k as
 *     /proc/self/exe ARGS-without-p -i k -a "127.0.0.1:P0;...;127.0.0.1:PN-1"
 *                    --secret-file KEYFILE
 * The children inherit stdin, stdout and stderr.  The parent forwards
 * SIGINT/SIGTERM sent to it alone (kill PID) to every child; a Ctrl-C at
 * the terminal reaches the children directly, being sent to the whole
 * process group.  When a child fails, the others normally stop by
 * themselves (they see it leave); any still running DFCI_SPAWN_GRACE_MS
 * later get SIGTERM, so a failure before the mesh formed does not leave
 * them waiting for the connect timeout.  The exit status is 0 if every
 * child succeeded; else, after SIGINT/SIGTERM to the parent (forwarded or
 * from the terminal), 128+sig, whichever child stopped first (one may
 * learn of the run's end from a peer and exit 1 before its own signal
 * arrives); else the first non-zero one (128+sig for a child killed by a
 * signal).  The key file is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

#define DFCI_SPAWN_GRACE_MS 5000 /* after a child failed, then SIGTERM the rest */
#define SPAWN_POLL_MS 20

static pid_t *spawn_pids;
static volatile sig_atomic_t spawn_n;
static volatile sig_atomic_t spawn_sig; /* SIGINT/SIGTERM the parent got, or 0 */

/* Forwards a signal sent to the parent alone (kill, not the terminal) to
 * every child still running. */
static void forward_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    spawn_sig = sig;
    if (info && info->si_code > 0) return; /* from the kernel/tty: they got it too */
    int saved = errno;
    for (int i = 0; i < spawn_n; i++)
        if (spawn_pids[i] > 0) kill(spawn_pids[i], sig);
    errno = saved;
}

/* N free ports on 127.0.0.1, all held until every one is known. */
static int free_ports(int n, int *ports, char *err, size_t errlen)
{
    int *fds = calloc((size_t)n, sizeof *fds), rc = -1, i;
    if (!fds) return snprintf(err, errlen, "out of memory"), -1;
    for (i = 0; i < n; i++) fds[i] = -1;
    for (i = 0; i < n; i++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0) {
            snprintf(err, errlen, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
            goto out;
        }
        ports[i] = ntohs(a.sin_port);
    }
    rc = 0;
out:
    for (i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    return rc;
}

/* A fresh secret in a new 0600 file; its path in path[]. */
static int write_key(char *path, size_t pathlen, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(path, pathlen, "%s/dfc-cluster-key.XXXXXX", dir);
    if (sodium_init() < 0) return snprintf(err, errlen, "libsodium failed to initialise"), -1;
    int fd = mkstemp(path); /* mode 0600 */
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a key file in %s: %s", dir, strerror(errno));
        return -1;
    }
    fchmod(fd, 0600);
    uint8_t key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    hex[64] = '\n';
    ssize_t k = write(fd, hex, sizeof hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    if (close(fd) != 0 || k != (ssize_t)sizeof hex) {
        snprintf(err, errlen, "cannot write the key file %.900s", path);
        unlink(path);
        return -1;
    }
    return 0;
}

/* argv without -p/--processes and its value. */
static char **child_args(int argc, char **argv, int extra)
{
    char **v = calloc((size_t)argc + (size_t)extra + 1, sizeof *v);
    int n = 0;
    if (!v) return NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { /* the rest are params */
            for (; i < argc; i++) v[n++] = argv[i];
            break;
        }
        if (strcmp(a, "-p") == 0 || strcmp(a, "--processes") == 0) {
            i++;
            continue;
        }
        if ((a[0] == '-' && a[1] == 'p' && a[2]) || strncmp(a, "--processes=", 12) == 0) continue;
        v[n++] = argv[i];
        /* the value of a flag given as a separate argument, kept as is */
        if (a[0] == '-' && ((a[1] && a[1] != '-' && !a[2] && strchr("wiarsb", a[1])) ||
                            (a[1] == '-' && !strchr(a, '=') &&
                             (strcmp(a, "--help") != 0 && strcmp(a, "--version") != 0 &&
                              strcmp(a, "--graph") != 0))) &&
            i + 1 < argc)
            v[n++] = argv[++i];
    }
    return v; /* room for extra more at v[n..] */
}

int dfci_spawn(const char *prog, int argc, char **argv, const dfci_options *o)
{
    int N = o->spawn_processes, status = 0, live = 0;
    char err[DFCI_ERRLEN], keypath[4096], exe[4096];
    int *ports = calloc((size_t)N, sizeof *ports);
    char **args = child_args(argc, argv, 8);
    char idbuf[16];
    pid_t *pids = calloc((size_t)N, sizeof *pids);
    struct sigaction sa, old_int, old_term;
    bool have_handlers = false, key_made = false;
    char *addr_list = NULL;

    if (!ports || !args || !pids) {
        fprintf(stderr, "%s: error: out of memory\n", prog);
        status = 1;
        goto out;
    }
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el > 0) {
        exe[el] = 0;
    } else if (argc > 0 && strchr(argv[0], '/')) {
        snprintf(exe, sizeof exe, "%s", argv[0]);
    } else {
        fprintf(stderr, "%s: error: -p: cannot find this executable (no /proc/self/exe)\n", prog);
        status = 1;
        goto out;
    }
    if (free_ports(N, ports, err, sizeof err) != 0 ||
        write_key(keypath, sizeof keypath, err, sizeof err) != 0) {
        fprintf(stderr, "%s: error: -p: %s\n", prog, err);
        status = 1;
        goto out;
    }
    key_made = true;
    addr_list = calloc((size_t)N, 24);
    if (!addr_list) {
        fprintf(stderr, "%s: error: out of memory\n", prog);
        status = 1;
        goto out;
    }
    for (int i = 0, off = 0; i < N; i++)
        off += snprintf(addr_list + off, (size_t)N * 24 - (size_t)off, "%s127.0.0.1:%d",
                        i ? ";" : "", ports[i]);
    int na = 0;
    while (args[na]) na++;
    args[na] = "-i";
    args[na + 1] = idbuf;
    args[na + 2] = "-a";
    args[na + 3] = addr_list;
    args[na + 4] = "--secret-file";
    args[na + 5] = keypath;
    args[na + 6] = NULL;
    /* argv[0] for the children: the name the user ran. */
    char **cargv = calloc((size_t)na + 8, sizeof *cargv);
    if (!cargv) {
        fprintf(stderr, "%s: error: out of memory\n", prog);
        status = 1;
        goto out;
    }
    cargv[0] = argc > 0 ? argv[0] : (char *)prog;
    memcpy(cargv + 1, args, sizeof *args * ((size_t)na + 7));

    spawn_pids = pids;
    spawn_sig = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    if (old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
    have_handlers = true;

    fflush(stdout);
    fflush(stderr);
    for (int k = 0; k < N; k++) {
        snprintf(idbuf, sizeof idbuf, "%d", k);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "%s: error: -p: cannot start process %d: %s\n", prog, k, strerror(errno));
            status = 1;
            break;
        }
        if (pid == 0) {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            if (old_int.sa_handler != SIG_IGN) signal(SIGINT, SIG_DFL);
            if (old_term.sa_handler != SIG_IGN) signal(SIGTERM, SIG_DFL);
            execv(exe, cargv);
            fprintf(stderr, "%s: error: -p: cannot run %s: %s\n", prog, exe, strerror(errno));
            _exit(127);
        }
        pids[k] = pid;
        spawn_n = k + 1;
        live++;
    }
    if (status != 0) /* could not start them all: stop those that run */
        for (int k = 0; k < spawn_n; k++) kill(pids[k], SIGTERM);

    /* Wait for every child; after the first failure, a grace period. */
    int64_t term_at = status != 0 ? dfci_clock_ms() : -1;
    bool termed = false;
    while (live > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) break;
        if (pid == 0) {
            if (term_at >= 0 && !termed && dfci_clock_ms() >= term_at) {
                for (int k = 0; k < spawn_n; k++)
                    if (pids[k] > 0) kill(pids[k], SIGTERM);
                termed = true;
            }
            struct timespec ts = {0, SPAWN_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int k;
        for (k = 0; k < spawn_n && pids[k] != pid; k++) {}
        if (k == spawn_n) continue;
        pids[k] = -1;
        live--;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
        if (code != 0 && status == 0) {
            status = code;
            if (term_at < 0) term_at = dfci_clock_ms() + DFCI_SPAWN_GRACE_MS;
        }
    }
    free(cargv);
    if (status != 0 && spawn_sig) status = 128 + spawn_sig;

out:
    if (have_handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    spawn_n = 0;
    spawn_pids = NULL;
    if (key_made) unlink(keypath);
    free(addr_list);
    free(args);
    free(ports);
    free(pids);
    return status;
}
