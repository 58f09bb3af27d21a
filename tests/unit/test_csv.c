/*
 * test_csv.c — runtime/source_csv.c: the RFC 4180 reader behind csv(path).
 *
 * Compiled in with a 16-byte first read buffer and 40-byte batches so that
 * every refill point inside quotes, after a quote, between CR and LF and in
 * the byte order mark is crossed.  Hand-written cases check the rules and
 * the error messages; random tables written by an independent encoder (with
 * random extra quoting, LF or CRLF, with or without a final line break) must
 * read back exactly.
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

#include <unistd.h>
#include "tap.h"
#include "stubs.h"


/* ---- rows pushed, shown as [f1|f2]\n with '|' '[' ']' and '\\' escaped ---- */
static dfc_buf got;
static size_t empty_pushes;

static void show_field(dfc_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '|' || p[i] == '[' || p[i] == ']' || p[i] == '\\') dfc_buf_put_u8(b, '\\');
        dfc_buf_put_u8(b, (uint8_t)p[i]);
    }
}

static void push_rows(dfc_worker *w, const dfc_list_str *rows, size_t n)
{
    if (n == 0) empty_pushes++;
    for (size_t r = 0; r < n; r++) {
        dfc_buf_put_u8(&got, '[');
        for (int64_t i = 0; i < rows[r].len; i++) {
            if (i) dfc_buf_put_u8(&got, '|');
            show_field(&got, rows[r].ptr[i].ptr, (size_t)rows[r].ptr[i].len);
        }
        dfc_buf_put(&got, "]\n", 2);
    }
    /* the arena holds unescaped fields for this call only */
    dfc_arena_reset(&w->arena);
}

static const dfc_source_desc desc_csv = {DFC_SRC_CSV, 0, NULL, push_rows, NULL};
static dfc_worker W;
static char tmpdir[] = "/tmp/dfc_test_csv_XXXXXX";
static char path[300];
static char err[512];

static void write_file(const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* Reads the CSV in `path` as worker k of T.  0 done, -1 error (err). */
static int read_csv(int k, int T)
{
    dfc_source_args a = {.path = {path, (int64_t)strlen(path)}};
    dfci_source *s = dfci_source_open(&desc_csv, &a, k, T, NULL, err, sizeof err);
    if (!s) return -1;
    int rc;
    while ((rc = dfci_source_next(s, &W, err, sizeof err)) == 1) {
    }
    if (rc == 0 && dfci_source_next(s, &W, err, sizeof err) != 0) rc = -2;
    dfci_source_close(s);
    return rc;
}

static void csv_is_n(const char *name, const char *data, size_t n, const char *want)
{
    write_file(data, n);
    got.len = 0;
    int rc = read_csv(0, 1);
    dfc_buf_put_u8(&got, 0);
    got.len--;
    int ok = rc == 0 && strcmp((char *)got.data, want) == 0;
    t_ok(ok, "%s", name);
    if (!ok) printf("#   rc %d err %s\n#   got  %s#   want %s", rc, err, (char *)got.data, want);
}

static void csv_is(const char *name, const char *data, const char *want)
{
    csv_is_n(name, data, strlen(data), want);
}

static void csv_fails(const char *name, const char *data, const char *want_err)
{
    write_file(data, strlen(data));
    got.len = 0;
    err[0] = 0;
    int rc = read_csv(0, 1);
    t_ok(rc == -1 && strcmp(err, want_err) == 0, "%s: %s", name, err);
}

static uint64_t rng = 0x853c49e6748fea9bULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* RFC 4180 writer: quote when needed (or at random), "" for a quote. */
static void encode_field(dfc_buf *b, const char *p, size_t n, bool force)
{
    bool q = force || n == 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r') q = true;
    if (!q) {
        dfc_buf_put(b, p, n);
        return;
    }
    dfc_buf_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"') dfc_buf_put_u8(b, '"');
        dfc_buf_put_u8(b, (uint8_t)p[i]);
    }
    dfc_buf_put_u8(b, '"');
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof path, "%s/t.csv", tmpdir);

    csv_is("header only", "a,b\n", "");
    csv_is("empty file", "", "");
    csv_is("simple rows", "a,b\n1,2\n3,4\n", "[1|2]\n[3|4]\n");
    csv_is("last row without a line break", "a,b\n1,2\n3,4", "[1|2]\n[3|4]\n");
    csv_is("CRLF", "a,b\r\n1,2\r\n3,4\r\n", "[1|2]\n[3|4]\n");
    csv_is("CRLF, last row without a line break", "a,b\r\n1,2\r\n3,4\r",
           "[1|2]\n[3|4]\n");
    csv_is("empty fields", "h\n,\n,,x\na,\n", "[|]\n[||x]\n[a|]\n");
    csv_is("quoted fields", "h\n\"a,b\",\"c\"\"d\",\"\"\n", "[a,b|c\"d|]\n");
    csv_is("line breaks inside quotes", "h\n\"x\ny\",\"1\r\n2\"\nz,\"\"\"\"\n",
           "[x\ny|1\r\n2]\n[z|\"]\n");
    csv_is("quoted field then CRLF", "h\r\n\"a\"\r\n\"b\",c\r\n", "[a]\n[b|c]\n");
    csv_is("quoted last field at end of file", "h\n\"a\",\"b\"", "[a|b]\n");
    csv_is("blank lines are skipped", "h\n\n1\n\r\n\n2\n\n", "[1]\n[2]\n");
    csv_is("a quoted empty field is a row", "h\n\"\"\n", "[]\n");
    csv_is("blank lines before the header", "\n\nh\n1\n", "[1]\n");
    csv_is("byte order mark", "\xEF\xBB\xBFh,i\n\xEF\xBB\xBF,1\n", "[\xEF\xBB\xBF|1]\n");
    csv_is("rows of different lengths", "a,b\n1\n1,2,3\n", "[1]\n[1|2|3]\n");
    csv_is("spaces are data", "h\n a , b \n", "[ a | b ]\n");
    csv_is("a CR inside an unquoted field is data", "h\na\rb,c\n", "[a\rb|c]\n");
    csv_is("trailing comma at the end of the file", "h\na,", "[a|]\n");
    csv_is("a quote-only header", "\"h\"\n1\n", "[1]\n");
    csv_is("a header longer than a batch",
           "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh,i\n1,2\n", "[1|2]\n");
    csv_is("blank lines longer than a batch",
           "h\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n1\n",
           "[1]\n");
    {
        /* a field much longer than the buffer, with escapes */
        dfc_buf data = {0}, want = {0};
        dfc_buf_put(&data, "h\n\"", 3);
        dfc_buf_put_u8(&want, '[');
        for (int i = 0; i < 20000; i++) {
            char c = "ab\",\n"[i % 5];
            if (c == '"') dfc_buf_put_u8(&data, '"');
            dfc_buf_put_u8(&data, (uint8_t)c);
            dfc_buf_put_u8(&want, (uint8_t)c);
        }
        dfc_buf_put(&data, "\",x\n", 4);
        dfc_buf_put(&want, "|x]\n", 5); /* with the NUL */
        csv_is_n("a 20000-byte quoted field", (char *)data.data, data.len, (char *)want.data);
        dfc_buf_free(&data);
        dfc_buf_free(&want);
    }

    csv_fails("unterminated quote", "h\n1\n\"abc\nd\n", "csv: line 3: quoted field not closed "
                                                      "before the end of the file");
    csv_fails("stray quote in an unquoted field", "h\n1\nab\"c\n",
              "csv: line 3: quote inside an unquoted field");
    csv_fails("character after a closing quote", "h\n\"a\nb\"x,1\n",
              "csv: line 3: unexpected character after a closing quote");
    csv_fails("CR without LF after a closing quote", "h\n\"a\"\rb\n",
              "csv: line 2: unexpected character after a closing quote");
    csv_fails("error in the header", "a\"b\n1\n", "csv: line 1: quote inside an unquoted field");
    {
        /* rows before the bad one were pushed; after the error next keeps failing */
        const char *bad = "h\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\nx\"\n";
        write_file(bad, strlen(bad));
        dfc_source_args a = {.path = {path, (int64_t)strlen(path)}};
        dfci_source *s = dfci_source_open(&desc_csv, &a, 0, 1, NULL, err, sizeof err);
        got.len = 0;
        int rc;
        while ((rc = dfci_source_next(s, &W, err, sizeof err)) == 1) {
        }
        int rc2 = dfci_source_next(s, &W, err, sizeof err);
        dfci_source_close(s);
        t_ok(rc == -1 && rc2 == -1 && got.len > 0 &&
                 strcmp(err, "csv: line 19: quote inside an unquoted field") == 0,
             "rows before a malformed row are pushed; the source stays failed");
    }
    {
        snprintf(path, sizeof path, "%s/missing.csv", tmpdir);
        char want[400];
        snprintf(want, sizeof want, "cannot open '%s': No such file or directory", path);
        t_ok(read_csv(0, 1) == -1 && strcmp(err, want) == 0, "missing file: %s", err);
        got.len = 0;
        t_ok(read_csv(1, 2) == 0 && got.len == 0, "CSV: worker 1 of 2 reads nothing");
        snprintf(path, sizeof path, "%s/t.csv", tmpdir);
    }

    /* ---- random tables through an independent encoder ---- */
    {
        static const char alphabet[] = "ab ,\"\n\r\xc3\xa9";
        dfc_buf data = {0}, want = {0};
        int bad = 0, tables = 0;
        for (int t = 0; t < 500; t++) {
            data.len = want.len = 0;
            bool crlf = rnd() % 2;
            int nrows = (int)(rnd() % 12);
            for (int r = 0; r <= nrows; r++) { /* row 0 is the header */
                int nf = 1 + (int)(rnd() % 4);
                if (r) dfc_buf_put_u8(&want, '[');
                for (int f = 0; f < nf; f++) {
                    char field[40];
                    size_t n = rnd() % (t < 400 ? 6 : sizeof field);
                    for (size_t i = 0; i < n; i++)
                        field[i] = alphabet[rnd() % (sizeof alphabet - 1)];
                    /* a lone empty unquoted field would be a blank line */
                    bool force = nf == 1 && n == 0 ? true : rnd() % 4 == 0;
                    if (f) dfc_buf_put_u8(&data, ',');
                    encode_field(&data, field, n, force);
                    if (r) {
                        if (f) dfc_buf_put_u8(&want, '|');
                        show_field(&want, field, n);
                    }
                }
                if (r) dfc_buf_put(&want, "]\n", 2);
                if (r < nrows || rnd() % 2) {
                    if (crlf) dfc_buf_put_u8(&data, '\r');
                    dfc_buf_put_u8(&data, '\n');
                }
            }
            write_file((char *)data.data, data.len);
            got.len = 0;
            empty_pushes = 0;
            int rc = read_csv(0, 1);
            if (rc != 0 || empty_pushes || got.len != want.len ||
                (got.len && memcmp(got.data, want.data, got.len) != 0)) {
                if (bad++ < 3)
                    printf("# table %d: rc %d err %s\n# data %.*s\n", t, rc, err,
                           (int)data.len, (char *)data.data);
            }
            tables++;
        }
        t_ok(bad == 0, "%d random tables read back exactly", tables);
        dfc_buf_free(&data);
        dfc_buf_free(&want);
    }

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    dfc_buf_free(&got);
    dfc_arena_free(&W.arena);
    return t_done();
}
