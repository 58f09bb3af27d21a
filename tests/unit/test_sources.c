/*
 * test_sources.c — runtime/source.c and source_lines.c: line splitting,
 * FILE (ordered and parallel byte ranges), DIR, STDIN and RANGE partitioning.
 *
 * The sources are compiled into this test with tiny buffers (a 16-byte first
 * read buffer, 40-byte batches) so that buffer refills, growth for long lines
 * and batch cuts happen on small files.  Parallel ranges are checked
 * exhaustively: for random files and every T from 1 to 7, the lines of parts
 * 0..T-1 concatenated must equal the file's lines as split by a plain
 * reference loop.
 */
#define _GNU_SOURCE
#ifndef DFCI_READ_BYTES
#define DFCI_READ_BYTES 16
#endif
#ifndef DFCI_BATCH_BYTES
#define DFCI_BATCH_BYTES 40
#endif
#include "../../runtime/source.c"
#include "../../runtime/source_csv.c"
#include "../../runtime/source_lines.c"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "stubs.h"


/* ---- what the sources pushed: lines joined as "line\n" into one buffer ---- */
static dfc_buf got;
static size_t pushes, empty_pushes, max_batch;
static int64_t range_lo[64], range_hi[64];
static int nranges;

static void push_lines(dfc_worker *w, const dfc_str *lines, size_t n)
{
    size_t bytes = 0;
    pushes++;
    if (n == 0) empty_pushes++;
    for (size_t i = 0; i < n; i++) {
        dfc_buf_put(&got, lines[i].ptr, (size_t)lines[i].len);
        dfc_buf_put_u8(&got, '\n');
        bytes += (size_t)lines[i].len + 1;
    }
    /* a batch stops once it reaches DFCI_BATCH_BYTES: its bytes before the
     * last line are below the limit */
    size_t before_last = n ? bytes - (size_t)lines[n - 1].len - 1 : 0;
    if (before_last > max_batch) max_batch = before_last;
}
static unsigned char *range_seen; /* when set: how often each number came */
static int64_t range_seen_n;
static void push_range(dfc_worker *w, int64_t lo, int64_t hi)
{
    for (int64_t x = lo; range_seen && x < hi; x++)
        if (x >= 0 && x < range_seen_n && range_seen[x] < 255) range_seen[x]++;
    if (nranges < 64) {
        range_lo[nranges] = lo;
        range_hi[nranges] = hi;
    }
    nranges++;
}
static void push_rows(dfc_worker *w, const dfc_list_str *rows, size_t n) {}

static const dfc_source_desc desc_file = {DFC_SRC_FILE, 0, push_lines, push_rows, push_range};
static const dfc_source_desc desc_dir = {DFC_SRC_DIR, 0, push_lines, push_rows, push_range};
static const dfc_source_desc desc_stdin = {DFC_SRC_STDIN, 0, push_lines, push_rows, push_range};
static const dfc_source_desc desc_range = {DFC_SRC_RANGE, 0, push_lines, push_rows, push_range};

static dfc_worker W;
static char tmpdir[] = "/tmp/dfc_test_sources_XXXXXX";
static char err[512];

static dfc_str S(const char *s) { return (dfc_str){s, (int64_t)strlen(s)}; }

static const char *tmp_path(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* The reference: the lines of data, as "line\n" each, by the rules. */
static void reference(const char *data, size_t n, dfc_buf *out)
{
    out->len = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n && start == n) break; /* nothing after the last '\n' */
        if (i == n || data[i] == '\n') {
            size_t len = i - start;
            if (len && data[start + len - 1] == '\r') len--;
            dfc_buf_put(out, data + start, len);
            dfc_buf_put_u8(out, '\n');
            start = i + 1;
        }
    }
}

/* Reads a whole source as worker k of T into got (appending).  -1 on error. */
static int read_all(const dfc_source_desc *d, dfc_source_args *a, int k, int T)
{
    dfci_source *s = dfci_source_open(d, a, k, T, NULL, err, sizeof err);
    if (!s) return -1;
    int rc;
    while ((rc = dfci_source_next(s, &W, err, sizeof err)) == 1) {
    }
    if (rc == 0 && dfci_source_next(s, &W, err, sizeof err) != 0) rc = -2; /* stays exhausted */
    dfci_source_close(s);
    return rc;
}

static int same(const dfc_buf *a, const dfc_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void file_is(const char *name, const char *data, size_t n, const char *want)
{
    write_file(tmp_path(name), data, n);
    dfc_source_args a = {.path = S(tmp_path(name))};
    got.len = 0;
    int rc = read_all(&desc_file, &a, 0, 1);
    dfc_buf_put_u8(&got, 0);
    t_ok(rc == 0 && strcmp((char *)got.data, want) == 0, "lines of %s", name);
}

/* Every T in 1..7: parts 0..T-1 in order give exactly the reference lines. */
static int check_parallel(const char *path, const char *data, size_t n, int maxT)
{
    dfc_buf ref = {0};
    reference(data, n, &ref);
    int bad = 0;
    for (int T = 1; T <= maxT; T++) {
        got.len = 0;
        dfc_source_args a = {.path = S(path), .parallel = true};
        for (int k = 0; k < T; k++)
            if (read_all(&desc_file, &a, k, T) != 0) bad++;
        if (!same(&got, &ref)) bad++;
    }
    dfc_buf_free(&ref);
    return bad;
}

/* The lines of b ("line\n" each), sorted: a multiset to compare. */
static int cmp_line(const void *x, const void *y)
{
    const dfc_str *a = x, *b = y;
    int64_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, (size_t)n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}
static void sort_lines(dfc_buf *b)
{
    size_t n = 0, cap = 16;
    dfc_str *v = malloc(cap * sizeof *v);
    const char *p = (const char *)b->data, *end = p + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (dfc_str){p, (int64_t)(nl - p)};
        p = nl + 1;
    }
    qsort(v, n, sizeof *v, cmp_line);
    dfc_buf out = {0};
    for (size_t i = 0; i < n; i++) {
        dfc_buf_put(&out, v[i].ptr, (size_t)v[i].len);
        dfc_buf_put_u8(&out, '\n');
    }
    free(v);
    dfc_buf_free(b);
    *b = out;
}

/* Reads an unordered source as P processes of K workers, the workers of a
 * process sharing one count of what is taken (chunks of at least `min`) and
 * reading a batch each in turn, so that their chunks interleave.  Returns
 * the number of failures; with ranges, also when a push is not one run of
 * at most RANGE_CHUNK numbers. */
static int read_in_turns(const dfc_source_desc *d, const dfc_source_args *a, int P, int K,
                         int64_t min, bool ranges)
{
    _Atomic int64_t taken[8];
    dfci_source *s[64];
    int bad = 0;
    for (int p = 0; p < P; p++) {
        atomic_init(&taken[p], 0);
        for (int k = 0; k < K; k++) {
            dfci_chunking c = {p, P, K, &taken[p], min};
            if (!(s[p * K + k] = dfci_source_open(d, a, p * K + k, P * K, &c, err, sizeof err))) bad++;
        }
    }
    for (int more = 1; more && !bad;) {
        more = 0;
        for (int i = 0; i < P * K; i++) {
            if (!s[i]) continue;
            nranges = 0;
            int rc = dfci_source_next(s[i], &W, err, sizeof err);
            if (rc < 0) bad++;
            if (rc == 1 && ranges && (nranges != 1 || range_hi[0] - range_lo[0] > RANGE_CHUNK)) bad++;
            if (rc == 1) {
                more = 1;
                continue;
            }
            dfci_source_close(s[i]);
            s[i] = NULL;
        }
    }
    for (int i = 0; i < P * K; i++) dfci_source_close(s[i]);
    return bad;
}

/* An unordered parallel FILE in chunks of at least `min` bytes: every line
 * exactly once. */
static int check_chunks(const char *path, const char *data, size_t n, int P, int K, int64_t min)
{
    dfc_buf ref = {0};
    reference(data, n, &ref);
    sort_lines(&ref);
    dfc_source_args a = {.path = S(path), .parallel = true, .unordered = true};
    got.len = 0;
    int bad = read_in_turns(&desc_file, &a, P, K, min, false);
    sort_lines(&got);
    if (!same(&got, &ref)) bad++;
    dfc_buf_free(&ref);
    return bad;
}

/* An unordered RANGE n in chunks of at least `min` numbers: every number
 * exactly once. */
static int check_range_chunks(int64_t n, int P, int K, int64_t min)
{
    dfc_source_args a = {.n = n, .unordered = true};
    range_seen_n = n > 0 ? n : 0;
    range_seen = calloc((size_t)range_seen_n + 1, 1);
    int bad = read_in_turns(&desc_range, &a, P, K, min, true);
    for (int64_t x = 0; x < range_seen_n; x++)
        if (range_seen[x] != 1) bad++;
    free(range_seen);
    range_seen = NULL;
    return bad;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }

    /* ---- line splitting ---- */
    file_is("empty", "", 0, "");
    file_is("one_nl", "\n", 1, "\n");
    file_is("two_nl", "\n\n", 2, "\n\n");
    file_is("final_nl", "a\nb\n", 4, "a\nb\n");
    file_is("no_final_nl", "a\nb", 3, "a\nb\n");
    file_is("crlf", "a\r\nb\r\n\r\nc\r", 10, "a\nb\n\nc\n");
    file_is("inner_cr", "a\rb\n", 4, "a\rb\n");
    file_is("empty_middle", "x\n\n\ny", 5, "x\n\n\ny\n");
    {
        write_file(tmp_path("nul2"), "a\0b\nc", 5);
        dfc_source_args a = {.path = S(tmp_path("nul2"))};
        got.len = 0;
        t_ok(read_all(&desc_file, &a, 0, 1) == 0 && got.len == 6 &&
                 memcmp(got.data, "a\0b\nc\n", 6) == 0,
             "a NUL byte stays inside its line");
    }
    {
        /* one line much longer than the read buffer and the batch */
        size_t n = 100000;
        char *big = malloc(n + 8);
        for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
        memcpy(big + n, "\nxy\n", 4);
        write_file(tmp_path("long"), big, n + 4);
        dfc_buf ref = {0};
        reference(big, n + 4, &ref);
        dfc_source_args a = {.path = S(tmp_path("long"))};
        got.len = 0;
        t_ok(read_all(&desc_file, &a, 0, 1) == 0 && same(&got, &ref), "a 100000-byte line");
        t_ok(check_parallel(tmp_path("long"), big, n + 4, 7) == 0,
             "a 100000-byte line, parallel T = 1..7");
        dfc_buf_free(&ref);
        free(big);
    }
    {
        /* many short lines: batches are cut near DFCI_BATCH_BYTES, never empty */
        dfc_buf data = {0}, ref = {0};
        for (int i = 0; i < 5000; i++) {
            char line[32];
            int len = snprintf(line, sizeof line, "line %d\n", i);
            dfc_buf_put(&data, line, (size_t)len);
        }
        write_file(tmp_path("many"), (char *)data.data, data.len);
        reference((char *)data.data, data.len, &ref);
        dfc_source_args a = {.path = S(tmp_path("many"))};
        got.len = 0;
        pushes = empty_pushes = max_batch = 0;
        t_ok(read_all(&desc_file, &a, 0, 1) == 0 && same(&got, &ref), "5000 lines in order");
        t_ok(empty_pushes == 0 && pushes >= data.len / (DFCI_BATCH_BYTES + 16) &&
                 max_batch < DFCI_BATCH_BYTES,
             "batches of about %d bytes (%zu pushes, none empty)", DFCI_BATCH_BYTES, pushes);
        t_ok(check_parallel(tmp_path("many"), (char *)data.data, data.len, 7) == 0,
             "5000 lines, parallel T = 1..7");
        dfc_buf_free(&data);
        dfc_buf_free(&ref);
    }

    /* ---- FILE ordered: one partition on worker 0 ---- */
    {
        write_file(tmp_path("ord"), "1\n2\n3\n", 6);
        dfc_source_args a = {.path = S(tmp_path("ord"))};
        got.len = 0;
        pushes = 0;
        int rc = read_all(&desc_file, &a, 1, 3) | read_all(&desc_file, &a, 2, 3);
        t_ok(rc == 0 && got.len == 0 && pushes == 0, "ordered FILE: workers 1, 2 read nothing");
        got.len = 0;
        rc = read_all(&desc_file, &a, 0, 3);
        dfc_buf_put_u8(&got, 0);
        t_ok(rc == 0 && strcmp((char *)got.data, "1\n2\n3\n") == 0,
             "ordered FILE: worker 0 reads it all");
        dfc_source_args m = {.path = S(tmp_path("missing"))};
        char want[300];
        snprintf(want, sizeof want, "cannot open '%s': No such file or directory",
                 tmp_path("missing"));
        t_ok(read_all(&desc_file, &m, 0, 1) == -1 && strcmp(err, want) == 0,
             "missing file: %s", err);
        m.parallel = true;
        err[0] = 0;
        t_ok(read_all(&desc_file, &m, 2, 3) == -1 && strcmp(err, want) == 0,
             "missing file, parallel, worker 2: %s", err);
        dfc_source_args z = {.path = {"a\0b", 3}};
        t_ok(read_all(&desc_file, &z, 0, 1) == -1 && strstr(err, "NUL") != NULL,
             "a path with a NUL byte: %s", err);
    }

    /* ---- FILE parallel: exhaustive on random files ---- */
    {
        int bad = 0, chunk_bad = 0, files = 0;
        static const char alphabet[] = "ab\n\n\r";
        char data[400];
        for (int f = 0; f < 400; f++) {
            size_t n = rnd() % (f < 100 ? 12 : sizeof data);
            int mode = (int)(rnd() % 4);
            for (size_t i = 0; i < n; i++) {
                if (mode == 0) /* long lines, few breaks */
                    data[i] = rnd() % 40 ? 'x' : '\n';
                else if (mode == 1) /* mostly empty lines */
                    data[i] = rnd() % 3 ? '\n' : 'y';
                else
                    data[i] = alphabet[rnd() % (sizeof alphabet - 1)];
            }
            if (n && rnd() % 2) data[n - 1] = '\n';
            write_file(tmp_path("rand"), data, n);
            bad += check_parallel(tmp_path("rand"), data, n, 7);
            for (int P = 1; P <= 3; P++)
                for (int K = 1; K <= 3; K++) chunk_bad += check_chunks(tmp_path("rand"), data, n, P, K, 1 + (int64_t)(rnd() % 9));
            files++;
        }
        t_ok(bad == 0, "parallel FILE: %d random files, T = 1..7, every line exactly once",
             files);
        t_ok(chunk_bad == 0,
             "unordered parallel FILE: %d random files in chunks of 1..9 bytes taken in turns, "
             "1..3 processes of 1..3 workers, every line exactly once", files);
        /* more workers than lines */
        write_file(tmp_path("few"), "a\nb\n", 4);
        t_ok(check_parallel(tmp_path("few"), "a\nb\n", 4, 7) == 0, "2 lines on up to 7 workers");
        write_file(tmp_path("few2"), "a", 1);
        t_ok(check_parallel(tmp_path("few2"), "a", 1, 7) == 0, "1 byte on up to 7 workers");
        write_file(tmp_path("few3"), "", 0);
        t_ok(check_parallel(tmp_path("few3"), "", 0, 7) == 0, "empty file on up to 7 workers");
    }
    {
        /* a file whose size reads as 0 (/proc): the last part reads it whole */
        dfc_source_args a = {.path = S("/proc/version")};
        dfc_buf whole = {0};
        got.len = 0;
        int rc = read_all(&desc_file, &a, 0, 1);
        dfc_buf_put(&whole, got.data, got.len);
        got.len = 0;
        a.parallel = true;
        for (int k = 0; k < 3; k++) rc |= read_all(&desc_file, &a, k, 3);
        t_ok(rc == 0 && whole.len > 0 && same(&got, &whole),
             "parallel FILE of /proc/version (size 0) is read once");
        got.len = 0;
        _Atomic int64_t taken;
        atomic_init(&taken, 0);
        a.unordered = true;
        for (int k = 0; k < 3; k++) {
            dfci_chunking c = {0, 1, 3, &taken, 0};
            dfci_source *s = dfci_source_open(&desc_file, &a, k, 3, &c, err, sizeof err);
            while (s && (rc = dfci_source_next(s, &W, err, sizeof err)) == 1) {
            }
            if (!s) rc = -1;
            dfci_source_close(s);
        }
        t_ok(rc == 0 && same(&got, &whole), "the same in shared chunks: read once");
        dfc_buf_free(&whole);
    }

    /* ---- DIR ---- */
    {
        char sub[300];
        snprintf(sub, sizeof sub, "%s/d", tmpdir);
        mkdir(sub, 0777);
        write_file(tmp_path("d/b.txt"), "b1\nb2\n", 6);
        write_file(tmp_path("d/a.txt"), "a1\na2", 5);
        write_file(tmp_path("d/c.log"), "c1\n", 3);
        write_file(tmp_path("d/.h.txt"), "h1\n", 3);
        write_file(tmp_path("d/e.txt"), "", 0);
        mkdir(tmp_path("d/sub.txt"), 0777);
        symlink("b.txt", tmp_path("d/l.txt"));
        dfc_source_args a = {.path = S(sub), .glob = S("*.txt")};
        /* sorted: .h.txt a.txt b.txt e.txt (empty) l.txt (→ b.txt); sub.txt is a
         * directory.  Worker k gets files k, k+3. */
        const char *want[3] = {"h1\n", "a1\na2\nb1\nb2\n", "b1\nb2\n"};
        int ok = 1;
        for (int k = 0; k < 3; k++) {
            got.len = 0;
            ok &= read_all(&desc_dir, &a, k, 3) == 0;
            dfc_buf_put_u8(&got, 0);
            if (strcmp((char *)got.data, want[k]) != 0) {
                ok = 0;
                printf("# worker %d got [%s]\n", k, (char *)got.data);
            }
        }
        t_ok(ok, "DIR *.txt on 3 workers: file i on worker i %% 3, sorted by name");
        got.len = 0;
        dfc_source_args all = {.path = S(sub)};
        int rc = read_all(&desc_dir, &all, 0, 1);
        dfc_buf_put_u8(&got, 0);
        t_ok(rc == 0 && strcmp((char *)got.data, "h1\na1\na2\nb1\nb2\nc1\nb1\nb2\n") == 0,
             "DIR with the default glob * on 1 worker: every regular file in name order");
        got.len = 0;
        dfc_source_args none = {.path = S(sub), .glob = S("*.csv")};
        t_ok(read_all(&desc_dir, &none, 0, 1) == 0 && got.len == 0, "DIR with no match");
        dfc_source_args m = {.path = S(tmp_path("nodir")), .glob = S("*")};
        char w2[300];
        snprintf(w2, sizeof w2, "cannot open '%s': No such file or directory",
                 tmp_path("nodir"));
        t_ok(read_all(&desc_dir, &m, 1, 2) == -1 && strcmp(err, w2) == 0, "missing DIR: %s",
             err);
    }

    /* ---- STDIN ---- */
    {
        write_file(tmp_path("in"), "s1\r\ns2", 6);
        int saved = dup(0);
        int fd = open(tmp_path("in"), O_RDONLY);
        dup2(fd, 0);
        close(fd);
        dfc_source_args a = {0};
        got.len = 0;
        int rc = read_all(&desc_stdin, &a, 1, 2);
        t_ok(rc == 0 && got.len == 0, "STDIN: worker 1 reads nothing");
        rc = read_all(&desc_stdin, &a, 0, 2);
        dfc_buf_put_u8(&got, 0);
        t_ok(rc == 0 && strcmp((char *)got.data, "s1\ns2\n") == 0, "STDIN: worker 0 reads it");
        t_ok(fcntl(0, F_GETFD) != -1, "STDIN: fd 0 stays open");
        dup2(saved, 0);
        close(saved);
    }

    /* ---- RANGE ---- */
    {
        dfc_source_args a = {.n = 10};
        int64_t want[3][2] = {{0, 3}, {3, 6}, {6, 10}};
        int ok = 1;
        for (int k = 0; k < 3; k++) {
            nranges = 0;
            ok &= read_all(&desc_range, &a, k, 3) == 0 && nranges == 1 &&
                  range_lo[0] == want[k][0] && range_hi[0] == want[k][1];
        }
        t_ok(ok, "RANGE 10 on 3 workers: [0,3) [3,6) [6,10)");
        a.n = 10000;
        nranges = 0;
        t_ok(read_all(&desc_range, &a, 0, 1) == 0 && nranges == 3 && range_lo[0] == 0 &&
                 range_hi[0] == 4096 && range_lo[1] == 4096 && range_hi[1] == 8192 &&
                 range_lo[2] == 8192 && range_hi[2] == 10000,
             "RANGE 10000: runs of 4096");
        a.n = 2;
        int64_t total = 0;
        ok = 1;
        for (int k = 0; k < 5; k++) {
            nranges = 0;
            ok &= read_all(&desc_range, &a, k, 5) == 0;
            for (int i = 0; i < nranges; i++) total += range_hi[i] - range_lo[i];
        }
        t_ok(ok && total == 2, "RANGE 2 on 5 workers: 2 numbers in all");
        a.n = 0;
        nranges = 0;
        t_ok(read_all(&desc_range, &a, 0, 1) == 0 && nranges == 0, "RANGE 0 is empty");
        a.n = -5;
        t_ok(read_all(&desc_range, &a, 0, 1) == 0 && nranges == 0, "RANGE -5 is empty");
        ok = dfci_part_bound(INT64_MAX, 7, 7) == INT64_MAX && dfci_part_bound(INT64_MAX, 0, 7) == 0;
        for (int k = 0; k < 7; k++)
            ok &= dfci_part_bound(INT64_MAX, k, 7) < dfci_part_bound(INT64_MAX, k + 1, 7);
        ok &= dfci_part_bound(INT64_MAX, 1, 2) == INT64_MAX / 2;
        t_ok(ok, "part bounds of INT64_MAX do not overflow");
        int bad = 0;
        for (int64_t n = 0; n < 60; n += 7)
            for (int P = 1; P <= 3; P++)
                for (int K = 1; K <= 3; K++) bad += check_range_chunks(n, P, K, 1 + n % 4);
        bad += check_range_chunks(300000, 2, 3, 0); /* default chunks, several of them */
        t_ok(bad == 0, "unordered RANGE in chunks taken in turns, 1..3 processes of 1..3 workers: "
                       "every number exactly once");
    }

    /* ---- clean up ---- */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    dfc_buf_free(&got);
    dfc_arena_free(&W.arena);
    return t_done();
}
