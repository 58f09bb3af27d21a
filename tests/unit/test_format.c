/*
 * test_format.c — runtime/format.c: canonical text of i64, f64, bool and
 * quoted strings (SPEC §2), checked against hand-written expectations and,
 * for f64, against strtod round trips and Python-repr layout rules.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfc.h"
#include "io.h"
#include "tap.h"
#include "stubs.h"


static dfc_buf B;
static const char *text(void)
{
    dfc_buf_put_u8(&B, 0);
    B.len--;
    return (const char *)B.data;
}

static void is_i64(int64_t v, const char *want)
{
    B.len = 0;
    dfc_fmt_i64(&B, v);
    t_ok(strcmp(text(), want) == 0, "fmt_i64 %s (got %s)", want, text());
}

static void is_f64(double v, const char *want)
{
    B.len = 0;
    dfc_fmt_f64(&B, v);
    t_ok(strcmp(text(), want) == 0, "fmt_f64 %s (got %s)", want, text());
}

static void is_quoted(const char *s, size_t n, const char *want)
{
    B.len = 0;
    dfc_fmt_str_quoted(&B, (dfc_str){s, (int64_t)n});
    t_ok(strcmp(text(), want) == 0, "quoted %s (got %s)", want, text());
}

/* Layout rules of Python's repr applied to the text t of v. */
static int repr_like(double v, const char *t)
{
    if (strtod(t, NULL) != v) return 0;
    const char *e = strchr(t, 'e');
    if (!e) return strchr(t, '.') != NULL;
    /* exponent form: at least 2 exponent digits, used only outside 1e-4..1e16 */
    if (strlen(e + 2) < 2) return 0;
    double a = fabs(v);
    return a < 1e-4 || a >= 1e16;
}

/* No shorter %.{p}e text reads back to v (so ours is the shortest). */
static int shortest(double v, const char *t)
{
    char d[64];
    int n = 0;
    for (const char *p = t; *p && *p != 'e' && n < 63; p++)
        if (*p >= '0' && *p <= '9') d[n++] = *p;
    int first = 0;
    while (first < n && d[first] == '0') first++;
    while (n > first && d[n - 1] == '0') n--;
    int sig = n - first; /* significant digits of t */
    char tmp[64];
    for (int prec = 0; prec + 1 < sig; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v) return 0;
    }
    return 1;
}

int main(void)
{
    is_i64(0, "0");
    is_i64(7, "7");
    is_i64(-7, "-7");
    is_i64(10, "10");
    is_i64(99, "99");
    is_i64(100, "100");
    is_i64(-1234567890, "-1234567890");
    is_i64(INT64_MAX, "9223372036854775807");
    is_i64(INT64_MIN, "-9223372036854775808");
    {
        int bad = 0;
        char want[32];
        uint64_t x = 88172645463325252ULL;
        for (int i = 0; i < 200000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t v = (int64_t)x >> (x % 64);
            snprintf(want, sizeof want, "%lld", (long long)v);
            B.len = 0;
            dfc_fmt_i64(&B, v);
            if (strcmp(text(), want) != 0) bad++;
        }
        t_ok(bad == 0, "fmt_i64 agrees with printf on 200000 random values");
    }

    is_f64(1.0, "1.0");
    is_f64(0.1, "0.1");
    is_f64(1e22, "1e+22");
    is_f64(1.5e-7, "1.5e-07");
    is_f64(-0.0, "-0.0");
    is_f64(0.0, "0.0");
    is_f64(INFINITY, "inf");
    is_f64(-INFINITY, "-inf");
    is_f64(NAN, "nan");
    is_f64(100.0, "100.0");
    is_f64(-2.5, "-2.5");
    is_f64(0.1 + 0.2, "0.30000000000000004");
    is_f64(1.0 / 3, "0.3333333333333333");
    is_f64(123456.789, "123456.789");
    is_f64(1e15, "1000000000000000.0");
    is_f64(1e16, "1e+16");
    is_f64(12345678901234567890.0, "1.2345678901234567e+19");
    is_f64(0.0001, "0.0001");
    is_f64(0.00001, "1e-05");
    is_f64(0.00012, "0.00012");
    is_f64(5e-324, "5e-324");
    is_f64(1.7976931348623157e308, "1.7976931348623157e+308");
    is_f64(9007199254740993.0, "9007199254740992.0");
    is_f64(2.5e-5, "2.5e-05");
    {
        int bad = 0, notshort = 0;
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double v;
            uint64_t bits = x;
            memcpy(&v, &bits, 8);
            if (isnan(v) || isinf(v)) continue;
            if (i % 2) v = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0;
            B.len = 0;
            dfc_fmt_f64(&B, v);
            if (!repr_like(v, text())) {
                if (bad++ < 5) printf("# bad f64 text %s for %.17g\n", text(), v);
            } else if (!shortest(v, text())) {
                if (notshort++ < 5) printf("# not shortest %s\n", text());
            }
        }
        t_ok(bad == 0, "fmt_f64 reads back and is laid out as repr on 20000 values");
        t_ok(notshort == 0, "fmt_f64 is the shortest round-trip text on 20000 values");
    }

    B.len = 0;
    dfc_fmt_bool(&B, true);
    dfc_fmt_bool(&B, false);
    t_ok(strcmp(text(), "truefalse") == 0, "fmt_bool");

    is_quoted("", 0, "\"\"");
    is_quoted("abc", 3, "\"abc\"");
    is_quoted("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    is_quoted("\n\t\r", 3, "\"\\n\\t\\r\"");
    is_quoted("\x01\x1f\x7f", 3, "\"\\x01\\x1f\\x7f\"");
    is_quoted("a\0b", 3, "\"a\\x00b\"");
    is_quoted("caf\xc3\xa9 \xff", 7, "\"caf\xc3\xa9 \xff\"");

    {
        dfc_worker w;
        memset(&w, 0, sizeof w);
        B.len = 0;
        dfc_buf_put(&B, "xxhello", 7);
        dfc_str s = dfc_buf_to_str(&w, &B, 2);
        t_ok(s.len == 5 && memcmp(s.ptr, "hello", 5) == 0 && (const void *)s.ptr != B.data + 2,
             "buf_to_str copies bytes [from, len) into the arena");
        s = dfc_buf_to_str(&w, &B, 7);
        t_ok(s.len == 0, "buf_to_str of nothing is empty");
        s = dfc_buf_to_str(&w, &B, 100);
        t_ok(s.len == 0, "buf_to_str past the end is empty");
        dfc_arena_free(&w.arena);
    }
    dfc_buf_free(&B);
    return t_done();
}
