/*
 * cli.c — the executable's command line (SPEC §4): flags, the DFC_*
 * environment variables that stand in for them, flow params given as
 * name=value and type-checked against flow->params, and --help.
 *
 * Flags win over environment variables.  Every problem is a usage error:
 * dfci_cli_parse returns -1 with one line in err, which dfc_main prints as
 * "<prog>: error: <err>" followed by "try '<prog> --help'" (exit status 2).
 * Values are checked here (ranges, host:port syntax, process id < count);
 * what the values mean at run time is run.c's and the network layer's.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "internal.h"

static const char *const type_names[] = {"bool", "i64", "f64", "str"};

static const char *type_name(int t) { return t >= 0 && t <= DFC_T_STR ? type_names[t] : "?"; }

const char *dfci_prog_name(const char *argv0)
{
    if (!argv0 || !*argv0) return "dfc";
    const char *s = strrchr(argv0, '/');
    return s && s[1] ? s + 1 : argv0;
}

/* ---------------------------------------------------------- values */

/* A whole decimal integer, optional sign, in [lo, hi]. */
static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* A whole finite number, as strtod reads it (no leading blanks). */
static bool parse_num(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n') return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && fabs(v) > 1.0)) return false;
    *out = v;
    return true;
}

static int positive_int(const char *what, const char *s, int64_t max, int *out, char *err,
                        size_t errlen)
{
    int64_t v;
    if (!parse_int(s, 1, INT64_MAX, &v) || s[0] == '-' || s[0] == '+')
        return dfci_errf(err, errlen, "%s must be a positive integer, got '%s'", what, s);
    if (v > max) return dfci_errf(err, errlen, "%s must be at most %lld, got '%s'", what, (long long)max, s);
    *out = (int)v;
    return 0;
}

static int seconds(const char *what, const char *s, double *out, char *err, size_t errlen)
{
    double v;
    if (!parse_num(s, &v) || !(v > 0) || isinf(v))
        return dfci_errf(err, errlen, "%s must be a positive number of seconds, got '%s'", what, s);
    *out = v;
    return 0;
}

/* ------------------------------------------------------- addresses */

static void free_addresses(dfci_options *o)
{
    for (int i = 0; i < o->processes && o->addresses; i++) free(o->addresses[i]);
    free(o->addresses);
    o->addresses = NULL;
    o->processes = 1;
    o->have_addresses = false;
}

static char *trim_copy(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t' || *p == '\r')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
    char *s = dfc_heap_alloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* host:port with a non-empty host (may be [v6]) and a port 1..65535. */
static int check_address(const char *what, const char *a, char *err, size_t errlen)
{
    const char *colon = strrchr(a, ':');
    int64_t port;
    if (!colon || colon == a)
        return dfci_errf(err, errlen, "%s: '%s' is not host:port", what, a);
    if (!parse_int(colon + 1, 1, 65535, &port) || colon[1] == '+' || colon[1] == '-')
        return dfci_errf(err, errlen, "%s: '%s' has a bad port (expected 1-65535)", what, a);
    return 0;
}

/* Splits `list` on `sep` into o->addresses; empty entries are skipped only
 * when skip_empty (host files may have blank lines). */
static int set_addresses(dfci_options *o, const char *what, const char *list, char sep,
                         bool skip_empty, char *err, size_t errlen)
{
    free_addresses(o);
    int n = 0, cap = 8;
    char **v = dfc_heap_alloc(sizeof *v * (size_t)cap);
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *a = trim_copy(p, len);
        if (!*a && (skip_empty || (!e && n > 0))) {
            free(a); /* blank line, or one trailing separator */
        } else if (!*a) {
            free(a);
            for (int i = 0; i < n; i++) free(v[i]);
            free(v);
            return dfci_errf(err, errlen, "%s: empty address in '%s'", what, list);
        } else {
            if (check_address(what, a, err, errlen) != 0 || n >= DFCI_MAX_PROCESSES) {
                if (n >= DFCI_MAX_PROCESSES)
                    dfci_errf(err, errlen, "%s: more than %d addresses", what, DFCI_MAX_PROCESSES);
                free(a);
                for (int i = 0; i < n; i++) free(v[i]);
                free(v);
                return -1;
            }
            if (n == cap) {
                cap *= 2;
                char **nv = dfc_heap_alloc(sizeof *nv * (size_t)cap);
                memcpy(nv, v, sizeof *v * (size_t)n);
                free(v);
                v = nv;
            }
            v[n++] = a;
        }
        if (!e) break;
        p = e + 1;
    }
    if (n == 0) {
        free(v);
        return dfci_errf(err, errlen, "%s: no addresses given", what);
    }
    o->addresses = v;
    o->processes = n;
    o->have_addresses = true;
    return 0;
}

static int read_hostfile(dfci_options *o, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return dfci_errf(err, errlen, "cannot read DFC_HOSTFILE_PATH '%s': %s", path, strerror(errno));
    dfc_buf b = {0};
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) dfc_buf_put(&b, tmp, k);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        dfc_buf_free(&b);
        return dfci_errf(err, errlen, "cannot read DFC_HOSTFILE_PATH '%s'", path);
    }
    dfc_buf_put_u8(&b, 0);
    int rc = set_addresses(o, "DFC_HOSTFILE_PATH", (const char *)b.data, '\n', true, err, errlen);
    dfc_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ params */

static int param_index(const dfc_flow *f, const char *name, size_t n)
{
    for (int i = 0; i < f->nparams; i++)
        if (strlen(f->params[i].name) == n && memcmp(f->params[i].name, name, n) == 0) return i;
    return -1;
}

/* Parses text as param d's type into the params block. */
static int set_param(const dfc_param_desc *d, void *block, const char *text, char *err,
                     size_t errlen)
{
    char *at = (char *)block + d->offset;
    switch (d->type) {
    case DFC_T_I64: {
        int64_t v;
        if (!parse_int(text, INT64_MIN, INT64_MAX, &v))
            return dfci_errf(err, errlen, "param '%s' expects an i64, got '%s'", d->name, text);
        memcpy(at, &v, sizeof v);
        return 0;
    }
    case DFC_T_F64: {
        double v;
        if (!parse_num(text, &v))
            return dfci_errf(err, errlen, "param '%s' expects an f64, got '%s'", d->name, text);
        memcpy(at, &v, sizeof v);
        return 0;
    }
    case DFC_T_BOOL: {
        bool v;
        if (strcmp(text, "true") == 0) v = true;
        else if (strcmp(text, "false") == 0) v = false;
        else return dfci_errf(err, errlen, "param '%s' expects a bool (true or false), got '%s'", d->name, text);
        memcpy(at, &v, sizeof v);
        return 0;
    }
    case DFC_T_STR: {
        dfc_str v = {text, (int64_t)strlen(text)};
        memcpy(at, &v, sizeof v);
        return 0;
    }
    }
    return dfci_errf(err, errlen, "param '%s' has an unknown type %d", d->name, d->type);
}

static int unknown_param(const dfc_flow *f, const char *arg, size_t n, char *err, size_t errlen)
{
    if (f->nparams == 0)
        return dfci_errf(err, errlen, "unknown param '%.*s'; the flow has no params", (int)n, arg);
    char names[512];
    size_t k = 0;
    names[0] = 0;
    for (int i = 0; i < f->nparams && k < sizeof names - 1; i++)
        k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", f->params[i].name);
    return dfci_errf(err, errlen, "unknown param '%.*s'; the flow's params are: %s", (int)n, arg, names);
}

/* ------------------------------------------------------------- flags */

enum flag_id {
    F_WORKERS, F_PROCESS_ID, F_ADDRESSES, F_RECOVERY, F_SNAPSHOT, F_BACKUP, F_SECRET,
    F_CONNECT_TIMEOUT, F_PROCESSES, F_BIND, F_STALL_TIMEOUT, F_HELP, F_VERSION, F_GRAPH
};

typedef struct flag {
    int id;
    char short_name; /* 0: none */
    const char *long_name;
    bool takes_value;
} flag;

static const flag flags[] = {
    {F_WORKERS, 'w', "workers-per-process", true},
    {F_PROCESS_ID, 'i', "process-id", true},
    {F_ADDRESSES, 'a', "addresses", true},
    {F_RECOVERY, 'r', "recovery-directory", true},
    {F_SNAPSHOT, 's', "snapshot-interval", true},
    {F_BACKUP, 'b', "backup-interval", true},
    {F_SECRET, 0, "secret-file", true},
    {F_CONNECT_TIMEOUT, 0, "connect-timeout", true},
    {F_PROCESSES, 'p', "processes", true},
    {F_BIND, 0, "bind", true},
    {F_STALL_TIMEOUT, 0, "stall-timeout", true},
    {F_HELP, 'h', "help", false},
    {F_VERSION, 0, "version", false},
    {F_GRAPH, 0, "graph", false},
};
#define NFLAGS ((int)(sizeof flags / sizeof flags[0]))

/* What was given, before the environment fills the gaps. */
typedef struct given {
    const char *v[NFLAGS];
    const char *label[NFLAGS]; /* how to name it in messages */
} given;

static const char *flag_label(const flag *fl, char *buf, size_t n)
{
    if (fl->short_name) snprintf(buf, n, "-%c/--%s", fl->short_name, fl->long_name);
    else snprintf(buf, n, "--%s", fl->long_name);
    return buf;
}

static const flag *find_long(const char *name, size_t n)
{
    for (int i = 0; i < NFLAGS; i++)
        if (strlen(flags[i].long_name) == n && memcmp(flags[i].long_name, name, n) == 0) return &flags[i];
    return NULL;
}

static const flag *find_short(char c)
{
    for (int i = 0; i < NFLAGS; i++)
        if (flags[i].short_name == c) return &flags[i];
    return NULL;
}

/* Takes the value of the env variable if the flag was not given. */
static void from_env(given *g, int id, const char *var)
{
    if (g->v[id]) return;
    const char *s = getenv(var);
    if (s && *s) {
        g->v[id] = s;
        g->label[id] = var;
    }
}

static const char *label_of(const given *g, int id, char *buf, size_t n)
{
    if (g->label[id]) return g->label[id];
    return flag_label(&flags[id], buf, n);
}

int dfci_cli_parse(const dfc_flow *flow, int argc, char **argv, dfci_options *o, char *err,
                   size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->action = DFCI_RUN;
    o->workers_per_process = 1;
    o->processes = 1;
    o->connect_timeout = 30;
    o->params = dfc_heap_alloc(flow->params_size ? flow->params_size : 1);
    memset(o->params, 0, flow->params_size ? flow->params_size : 1);

    given g;
    memset(&g, 0, sizeof g);
    bool *set = calloc((size_t)flow->nparams + 1, sizeof *set);
    if (!set) return dfci_errf(err, errlen, "out of memory");
    char lb[64];
    int rc = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const flag *fl = NULL;
        const char *val = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            fl = find_long(name, n);
            if (!fl) {
                dfci_errf(err, errlen, "unknown option '--%.*s'", (int)n, name);
                goto out;
            }
            if (eq && !fl->takes_value) {
                dfci_errf(err, errlen, "option '--%s' takes no value", fl->long_name);
                goto out;
            }
            if (eq) val = eq + 1;
        } else if (a[0] == '-' && a[1] && a[1] != '-') {
            fl = find_short(a[1]);
            if (!fl) {
                dfci_errf(err, errlen, "unknown option '-%c'", a[1]);
                goto out;
            }
            if (a[2]) {
                if (!fl->takes_value) {
                    dfci_errf(err, errlen, "option '-%c' takes no value, got '%s'", a[1], a);
                    goto out;
                }
                val = a + 2;
            }
        } else if (strcmp(a, "--") == 0) {
            continue;
        } else {
            const char *eq = strchr(a, '=');
            if (!eq || eq == a) {
                dfci_errf(err, errlen, "unexpected argument '%s' (flow params are given as name=value)", a);
                goto out;
            }
            int k = param_index(flow, a, (size_t)(eq - a));
            if (k < 0) {
                unknown_param(flow, a, (size_t)(eq - a), err, errlen);
                goto out;
            }
            if (set_param(&flow->params[k], o->params, eq + 1, err, errlen) != 0) goto out;
            set[k] = true;
            continue;
        }
        if (fl->takes_value && !val) {
            if (i + 1 >= argc) {
                dfci_errf(err, errlen, "%s needs a value", flag_label(fl, lb, sizeof lb));
                goto out;
            }
            val = argv[++i];
        }
        switch (fl->id) {
        case F_HELP: o->action = DFCI_HELP; rc = 0; goto out;
        case F_VERSION: o->action = DFCI_VERSION; rc = 0; goto out;
        case F_GRAPH: o->action = DFCI_GRAPH; rc = 0; goto out;
        default:
            g.v[fl->id] = val;
            g.label[fl->id] = NULL;
        }
    }

    /* The environment stands in for flags not given. */
    from_env(&g, F_WORKERS, "DFC_WORKERS_PER_PROCESS");
    from_env(&g, F_PROCESS_ID, "DFC_PROCESS_ID");
    from_env(&g, F_ADDRESSES, "DFC_ADDRESSES");
    from_env(&g, F_RECOVERY, "DFC_RECOVERY_DIRECTORY");
    from_env(&g, F_SNAPSHOT, "DFC_SNAPSHOT_INTERVAL");
    from_env(&g, F_BACKUP, "DFC_BACKUP_INTERVAL");
    from_env(&g, F_SECRET, "DFC_SECRET_FILE");
    from_env(&g, F_BIND, "DFC_BIND_ADDRESS");
    from_env(&g, F_STALL_TIMEOUT, "DFC_STALL_TIMEOUT");

    if (g.v[F_WORKERS] && positive_int(label_of(&g, F_WORKERS, lb, sizeof lb), g.v[F_WORKERS],
                                       DFCI_MAX_WORKERS_PER_PROCESS, &o->workers_per_process,
                                       err, errlen) != 0)
        goto out;
    if (g.v[F_SNAPSHOT] &&
        seconds(label_of(&g, F_SNAPSHOT, lb, sizeof lb), g.v[F_SNAPSHOT], &o->snapshot_interval, err, errlen) != 0)
        goto out;
    if (g.v[F_BACKUP] &&
        seconds(label_of(&g, F_BACKUP, lb, sizeof lb), g.v[F_BACKUP], &o->backup_interval, err, errlen) != 0)
        goto out;
    if (g.v[F_CONNECT_TIMEOUT] &&
        seconds(label_of(&g, F_CONNECT_TIMEOUT, lb, sizeof lb), g.v[F_CONNECT_TIMEOUT], &o->connect_timeout, err, errlen) != 0)
        goto out;
    if (g.v[F_STALL_TIMEOUT] &&
        seconds(label_of(&g, F_STALL_TIMEOUT, lb, sizeof lb), g.v[F_STALL_TIMEOUT], &o->stall_timeout, err, errlen) != 0)
        goto out;
    if (g.v[F_STALL_TIMEOUT] && o->stall_timeout < 2) {
        dfci_errf(err, errlen, "%s must be at least 2 seconds (peers send a heartbeat every second), got '%s'",
             label_of(&g, F_STALL_TIMEOUT, lb, sizeof lb), g.v[F_STALL_TIMEOUT]);
        goto out;
    }
    if (g.v[F_BIND]) {
        const char *b = g.v[F_BIND];
        if (!*b || strchr(b, ';') || strchr(b, ' ')) {
            dfci_errf(err, errlen, "%s must be a host or host:port to listen on (e.g. 0.0.0.0), got '%s'",
                 label_of(&g, F_BIND, lb, sizeof lb), b);
            goto out;
        }
        o->bind_address = b;
    }
    if (g.v[F_PROCESSES] && positive_int(label_of(&g, F_PROCESSES, lb, sizeof lb), g.v[F_PROCESSES],
                                         DFCI_MAX_PROCESSES, &o->spawn_processes, err, errlen) != 0)
        goto out;
    o->secret_file = g.v[F_SECRET];
    o->recovery_dir = g.v[F_RECOVERY];

    /* Addresses: -a, DFC_ADDRESSES, or DFC_HOSTFILE_PATH. */
    if (g.v[F_ADDRESSES]) {
        if (set_addresses(o, label_of(&g, F_ADDRESSES, lb, sizeof lb), g.v[F_ADDRESSES], ';', false,
                          err, errlen) != 0)
            goto out;
    } else {
        const char *hf = getenv("DFC_HOSTFILE_PATH");
        if (hf && *hf && read_hostfile(o, hf, err, errlen) != 0) goto out;
    }

    /* Process id: -i, DFC_PROCESS_ID, or DFC_POD_NAME minus "$DFC_STATEFULSET_NAME-". */
    const char *pid_text = g.v[F_PROCESS_ID];
    const char *pid_label = label_of(&g, F_PROCESS_ID, lb, sizeof lb);
    char pod_label[] = "DFC_POD_NAME";
    if (!pid_text) {
        const char *pod = getenv("DFC_POD_NAME");
        if (pod && *pod) {
            const char *set_name = getenv("DFC_STATEFULSET_NAME");
            size_t n = set_name ? strlen(set_name) : 0;
            if (!set_name || !*set_name) {
                dfci_errf(err, errlen, "DFC_POD_NAME is set but DFC_STATEFULSET_NAME is not");
                goto out;
            }
            if (strncmp(pod, set_name, n) != 0 || pod[n] != '-') {
                dfci_errf(err, errlen, "DFC_POD_NAME '%s' does not start with '%s-' (DFC_STATEFULSET_NAME)",
                     pod, set_name);
                goto out;
            }
            pid_text = pod + n + 1;
            pid_label = pod_label;
        }
    }
    if (pid_text) {
        int64_t v;
        if (!parse_int(pid_text, 0, INT_MAX, &v) || pid_text[0] == '+' || pid_text[0] == '-') {
            dfci_errf(err, errlen, "%s must be a process index (0, 1, ...), got '%s'", pid_label, pid_text);
            goto out;
        }
        o->process_id = (int)v;
    }
    if (pid_text && !o->have_addresses) {
        dfci_errf(err, errlen, "%s needs -a/--addresses (give both or neither)", pid_label);
        goto out;
    }
    if (o->have_addresses && !pid_text) {
        dfci_errf(err, errlen, "-a/--addresses needs -i/--process-id (give both or neither)");
        goto out;
    }
    if (o->have_addresses && o->process_id >= o->processes) {
        dfci_errf(err, errlen, "%s is %d but -a/--addresses lists %d process%s (ids 0 to %d)", pid_label,
             o->process_id, o->processes, o->processes == 1 ? "" : "es", o->processes - 1);
        goto out;
    }
    if (o->spawn_processes && o->have_addresses) {
        dfci_errf(err, errlen, "-p/--processes starts a local cluster and cannot be combined with -a/--addresses");
        goto out;
    }
    if (o->spawn_processes && o->bind_address) {
        dfci_errf(err, errlen, "-p/--processes starts a local cluster on 127.0.0.1 and cannot be combined with --bind");
        goto out;
    }
    if ((int64_t)o->workers_per_process * o->processes > 65536) {
        dfci_errf(err, errlen, "too many workers in all: %d processes x %d workers", o->processes,
             o->workers_per_process);
        goto out;
    }

    /* Params: defaults for those not given, then the required ones. */
    for (int k = 0; k < flow->nparams; k++) {
        const dfc_param_desc *d = &flow->params[k];
        if (set[k]) continue;
        if (!d->default_text) {
            dfci_errf(err, errlen, "missing required param '%s' (give it as %s=<%s>)", d->name, d->name,
                 type_name(d->type));
            goto out;
        }
        if (set_param(d, o->params, d->default_text, err, errlen) != 0) {
            char inner[DFCI_ERRLEN];
            snprintf(inner, sizeof inner, "%s", err);
            dfci_errf(err, errlen, "bad default for %s", inner);
            goto out;
        }
    }
    rc = 0;
out:
    free(set);
    return rc;
}

void dfci_cli_free(dfci_options *o)
{
    free_addresses(o);
    free(o->params);
    o->params = NULL;
}

void dfci_cli_usage(const dfc_flow *flow, const char *prog, FILE *out)
{
    fprintf(out,
            "usage: %s [options] [param=value ...]\n"
            "Runs the dataflow '%s'.\n"
            "\n"
            "options:\n"
            "  -w, --workers-per-process N  worker threads in this process (default 1)\n"
            "  -i, --process-id N           this process's index in -a (with -a)\n"
            "  -a, --addresses \"H:P;H:P\"    every process's address, in process-id order\n"
            "  -p, --processes N            start a local cluster of N processes\n"
            "      --secret-file FILE       the cluster secret (32 bytes; see 'dfc keygen')\n"
            "      --connect-timeout SECS   how long to wait for peers (default 30)\n"
            "      --bind HOST[:PORT]       listen here instead of on our -a entry\n"
            "                               (e.g. 0.0.0.0 behind NAT)\n"
            "      --stall-timeout SECS     a peer silent this long has failed (default 10)\n"
            "  -r, --recovery-directory DIR snapshot state into DIR and resume from it\n"
            "  -s, --snapshot-interval SECS how often to snapshot (also the epoch length;\n"
            "                               default 10)\n"
            "  -b, --backup-interval SECS   how long to keep old snapshots\n"
            "      --graph                  print the dataflow as Graphviz DOT and exit\n"
            "      --version                print the version and exit\n"
            "  -h, --help                   print this help and exit\n"
            "\n"
            "environment: DFC_WORKERS_PER_PROCESS DFC_PROCESS_ID DFC_ADDRESSES\n"
            "  DFC_HOSTFILE_PATH (one address a line) DFC_POD_NAME + DFC_STATEFULSET_NAME\n"
            "  DFC_RECOVERY_DIRECTORY DFC_SNAPSHOT_INTERVAL DFC_BACKUP_INTERVAL DFC_SECRET_FILE\n"
            "  DFC_BIND_ADDRESS DFC_STALL_TIMEOUT\n"
            "  stand in for flags that are not given.\n",
            prog, flow->name ? flow->name : prog);
    fprintf(out, "\nparams:%s\n", flow->nparams ? "" : " none");
    for (int i = 0; i < flow->nparams; i++) {
        const dfc_param_desc *d = &flow->params[i];
        if (d->default_text && d->type == DFC_T_STR)
            fprintf(out, "  %s: %s = \"%s\"\n", d->name, type_name(d->type), d->default_text);
        else if (d->default_text)
            fprintf(out, "  %s: %s = %s\n", d->name, type_name(d->type), d->default_text);
        else fprintf(out, "  %s: %s (required)\n", d->name, type_name(d->type));
    }
}
