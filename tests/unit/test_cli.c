/*
 * test_cli.c — the executable's command line (runtime/cli.c): flags in
 * their short, attached and long forms, the DFC_* environment, flow params
 * and their type checks, the exact usage-error messages, --help, and the
 * exit statuses dfc_main gives for what is not built yet or not allowed.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"

typedef struct params {
    dfc_str input;
    int64_t top;
    double ratio;
    bool verbose;
} params;

static const dfc_param_desc pdesc[] = {
    {"input", DFC_T_STR, NULL, offsetof(params, input)},
    {"top", DFC_T_I64, "10", offsetof(params, top)},
    {"ratio", DFC_T_F64, "0.5", offsetof(params, ratio)},
    {"verbose", DFC_T_BOOL, "false", offsetof(params, verbose)},
};

static const dfc_flow flow = {
    .name = "wc",
    .fingerprint = "feedface",
    .graph_dot = "digraph wc {}\n",
    .params_size = sizeof(params),
    .nparams = 4,
    .params = pdesc,
};

static const char *const env_vars[] = {
    "DFC_WORKERS_PER_PROCESS", "DFC_PROCESS_ID", "DFC_ADDRESSES", "DFC_HOSTFILE_PATH",
    "DFC_POD_NAME", "DFC_STATEFULSET_NAME", "DFC_RECOVERY_DIRECTORY", "DFC_SNAPSHOT_INTERVAL",
    "DFC_BACKUP_INTERVAL", "DFC_SECRET_FILE", "DFC_BIND_ADDRESS", "DFC_STALL_TIMEOUT",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++) unsetenv(env_vars[i]);
}

static dfci_options o;
static char err[1024];

/* Parses a NULL-terminated list of arguments; returns dfci_cli_parse's result. */
static int parse(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "./wc";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    dfci_cli_free(&o);
    err[0] = 0;
    return dfci_cli_parse(&flow, argc, argv, &o, err, sizeof err);
}

static const params *P(void) { return o.params; }

static void is_err(int rc, const char *want, const char *name)
{
    t_ok(rc == -1 && strcmp(err, want) == 0, "%s", name);
    if (rc != -1 || strcmp(err, want) != 0) printf("#   got:  '%s'\n#   want: '%s'\n", err, want);
}

int main(void)
{
    clear_env();
    memset(&o, 0, sizeof o);

    int rc = parse("input=a.txt", NULL);
    t_ok(rc == 0 && o.workers_per_process == 1 && o.processes == 1 && o.process_id == 0 &&
             o.connect_timeout == 30 && o.action == DFCI_RUN,
         "defaults");
    t_ok(P()->top == 10 && P()->ratio == 0.5 && !P()->verbose && P()->input.len == 5 &&
             memcmp(P()->input.ptr, "a.txt", 5) == 0,
         "param defaults and a str param");

    t_ok(parse("-w4", "input=x", NULL) == 0 && o.workers_per_process == 4, "-w4");
    t_ok(parse("-w", "3", "input=x", NULL) == 0 && o.workers_per_process == 3, "-w 3");
    t_ok(parse("--workers-per-process=5", "input=x", NULL) == 0 && o.workers_per_process == 5,
         "--workers-per-process=5");
    t_ok(parse("--workers-per-process", "6", "input=x", NULL) == 0 && o.workers_per_process == 6,
         "--workers-per-process 6");
    is_err(parse("-w0", "input=x", NULL),
           "-w/--workers-per-process must be a positive integer, got '0'", "-w0");
    is_err(parse("-w", "-2", "input=x", NULL),
           "-w/--workers-per-process must be a positive integer, got '-2'", "-w -2");
    is_err(parse("input=x", "-w", NULL), "-w/--workers-per-process needs a value", "-w at the end");

    setenv("DFC_WORKERS_PER_PROCESS", "3", 1);
    t_ok(parse("input=x", NULL) == 0 && o.workers_per_process == 3, "DFC_WORKERS_PER_PROCESS");
    t_ok(parse("-w2", "input=x", NULL) == 0 && o.workers_per_process == 2,
         "the flag wins over the env");
    setenv("DFC_WORKERS_PER_PROCESS", "many", 1);
    is_err(parse("input=x", NULL), "DFC_WORKERS_PER_PROCESS must be a positive integer, got 'many'",
           "bad DFC_WORKERS_PER_PROCESS");
    clear_env();

    /* params */
    is_err(parse("input=x", "top=abc", NULL), "param 'top' expects an i64, got 'abc'", "top=abc");
    is_err(parse("input=x", "top=9223372036854775808", NULL),
           "param 'top' expects an i64, got '9223372036854775808'", "i64 out of range");
    is_err(parse("input=x", "top=12x", NULL), "param 'top' expects an i64, got '12x'", "trailing junk");
    t_ok(parse("input=x", "top=-9223372036854775808", NULL) == 0 && P()->top == INT64_MIN,
         "i64 minimum");
    t_ok(parse("input=x", "top=+7", NULL) == 0 && P()->top == 7, "i64 with a plus sign");
    t_ok(parse("input=x", "ratio=1e-3", "verbose=true", NULL) == 0 && P()->ratio == 1e-3 &&
             P()->verbose,
         "f64 and bool");
    is_err(parse("input=x", "ratio=", NULL), "param 'ratio' expects an f64, got ''", "empty f64");
    is_err(parse("input=x", "verbose=yes", NULL),
           "param 'verbose' expects a bool (true or false), got 'yes'", "bool=yes");
    t_ok(parse("input=", NULL) == 0 && P()->input.len == 0, "an empty str param");
    t_ok(parse("input=a=b", NULL) == 0 && P()->input.len == 3, "a str param containing '='");
    is_err(parse("input=x", "x=1", NULL), "unknown param 'x'; the flow's params are: input, top, ratio, verbose",
           "unknown param");
    is_err(parse("top=3", NULL), "missing required param 'input' (give it as input=<str>)", "missing required param");
    is_err(parse("input=x", "stray", NULL), "unexpected argument 'stray' (flow params are given as name=value)",
           "a stray argument");
    is_err(parse("--bogus", NULL), "unknown option '--bogus'", "unknown long option");
    is_err(parse("-x", NULL), "unknown option '-x'", "unknown short option");

    /* cluster flags */
    is_err(parse("input=x", "-i0", NULL), "-i/--process-id needs -a/--addresses (give both or neither)",
           "-i without -a");
    is_err(parse("input=x", "-a", "h:1;h:2", NULL),
           "-a/--addresses needs -i/--process-id (give both or neither)", "-a without -i");
    is_err(parse("input=x", "-a", "h:1;h:2", "-i2", NULL),
           "-i/--process-id is 2 but -a/--addresses lists 2 processes (ids 0 to 1)", "-i out of range");
    is_err(parse("input=x", "-a", "h:0", "-i0", NULL), "-a/--addresses: 'h:0' has a bad port (expected 1-65535)",
           "port 0");
    is_err(parse("input=x", "-a", "h:1;h:65536", "-i0", NULL),
           "-a/--addresses: 'h:65536' has a bad port (expected 1-65535)", "port 65536");
    is_err(parse("input=x", "-a", "hostonly", "-i0", NULL), "-a/--addresses: 'hostonly' is not host:port",
           "no port");
    is_err(parse("input=x", "-a", "h:1;;h:2", "-i0", NULL), "-a/--addresses: empty address in 'h:1;;h:2'",
           "empty entry");
    rc = parse("input=x", "--addresses=10.0.0.1:2101; [::1]:2102", "--process-id=1", NULL);
    t_ok(rc == 0 && o.processes == 2 && o.process_id == 1 &&
             strcmp(o.addresses[0], "10.0.0.1:2101") == 0 &&
             strcmp(o.addresses[1], "[::1]:2102") == 0,
         "-a with two addresses and -i1");

    char path[] = "/tmp/dfc_test_hosts_XXXXXX";
    int fd = mkstemp(path);
    const char *hosts = "a:1\n\nb:2\r\nc:3\n";
    t_ok(fd >= 0 && write(fd, hosts, strlen(hosts)) == (ssize_t)strlen(hosts), "write a host file");
    close(fd);
    setenv("DFC_HOSTFILE_PATH", path, 1);
    setenv("DFC_POD_NAME", "wc-2", 1);
    setenv("DFC_STATEFULSET_NAME", "wc", 1);
    rc = parse("input=x", NULL);
    t_ok(rc == 0 && o.processes == 3 && o.process_id == 2 && strcmp(o.addresses[1], "b:2") == 0,
         "DFC_HOSTFILE_PATH and DFC_POD_NAME minus DFC_STATEFULSET_NAME-");
    setenv("DFC_POD_NAME", "other-1", 1);
    is_err(parse("input=x", NULL), "DFC_POD_NAME 'other-1' does not start with 'wc-' (DFC_STATEFULSET_NAME)",
           "a pod name of another set");
    clear_env();
    unlink(path);
    setenv("DFC_ADDRESSES", "a:1;b:2", 1);
    setenv("DFC_PROCESS_ID", "1", 1);
    t_ok(parse("input=x", NULL) == 0 && o.processes == 2 && o.process_id == 1,
         "DFC_ADDRESSES and DFC_PROCESS_ID");
    clear_env();

    /* other flags */
    t_ok(parse("input=x", "-s", "0.5", "-b30", "--connect-timeout=5", "--secret-file", "k", "-r",
               "d", NULL) == 0 &&
             o.snapshot_interval == 0.5 && o.backup_interval == 30 && o.connect_timeout == 5 &&
             strcmp(o.secret_file, "k") == 0 && strcmp(o.recovery_dir, "d") == 0,
         "-s -b --connect-timeout --secret-file -r");
    is_err(parse("input=x", "-s0", NULL), "-s/--snapshot-interval must be a positive number of seconds, got '0'",
           "-s0");
    is_err(parse("input=x", "-p2", "-a", "h:1", "-i0", NULL),
           "-p/--processes starts a local cluster and cannot be combined with -a/--addresses", "-p with -a");
    t_ok(parse("input=x", "--bind", "0.0.0.0", "--stall-timeout", "3", NULL) == 0 &&
             strcmp(o.bind_address, "0.0.0.0") == 0 && o.stall_timeout == 3,
         "--bind and --stall-timeout");
    setenv("DFC_BIND_ADDRESS", "[::]:9000", 1);
    setenv("DFC_STALL_TIMEOUT", "20", 1);
    t_ok(parse("input=x", NULL) == 0 && strcmp(o.bind_address, "[::]:9000") == 0 &&
             o.stall_timeout == 20,
         "DFC_BIND_ADDRESS and DFC_STALL_TIMEOUT");
    unsetenv("DFC_BIND_ADDRESS");
    unsetenv("DFC_STALL_TIMEOUT");
    is_err(parse("input=x", "--stall-timeout", "1", NULL),
           "--stall-timeout must be at least 2 seconds (peers send a heartbeat every second), got '1'",
           "--stall-timeout 1");
    is_err(parse("input=x", "--bind", "", NULL),
           "--bind must be a host or host:port to listen on (e.g. 0.0.0.0), got ''", "--bind ''");
    t_ok(parse("--help", "top=abc", NULL) == 0 && o.action == DFCI_HELP,
         "--help stops before params are checked");
    t_ok(parse("-h", NULL) == 0 && o.action == DFCI_HELP, "-h");
    t_ok(parse("--version", NULL) == 0 && o.action == DFCI_VERSION, "--version");
    t_ok(parse("--graph", NULL) == 0 && o.action == DFCI_GRAPH, "--graph");
    is_err(parse("--version=2", NULL), "option '--version' takes no value", "--version=2");

    /* --help text */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    dfci_cli_usage(&flow, "wc", mem);
    fclose(mem);
    t_ok(strstr(buf, "usage: wc [options] [param=value ...]\n") &&
             strstr(buf, "\n  top: i64 = 10\n") && strstr(buf, "\n  input: str (required)\n") &&
             strstr(buf, "\n  verbose: bool = false\n"),
         "--help lists the params with types, defaults and required ones");
    free(buf);
    dfci_cli_free(&o);

    /* dfc_main's statuses for what is not built yet (stderr silenced). */
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    char *a1[] = {"./wc", "input=x", "-r", "/tmp/x", NULL};
    int s1 = dfc_main(&flow, 4, a1);
    char *a2[] = {"./wc", "input=x", "-a", "h:1;h:2", "-i0", NULL};
    int s2 = dfc_main(&flow, 5, a2);
    char *a3[] = {"./wc", "top=abc", NULL};
    int s3 = dfc_main(&flow, 2, a3);
    char *a4[] = {"./wc", "input=x", "-a", "h:1", "-i0", NULL};
    int s4 = dfc_main(&flow, 5, a4);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
    t_ok(s1 == 2, "-r: not supported yet, exit 2");
    t_ok(s2 == 2, "-a with two processes and no secret: exit 2");
    t_ok(s3 == 2, "a usage error: exit 2");
    t_ok(s4 == 0, "-a with one address runs in this process");

    return t_done();
}
