/*
 * test_builtins.c — runtime/builtins.c: string and number builtins, with
 * expected values written out by hand, and the messages of the builtins that
 * fail a step (dfc_fail is stubbed here to jump back with its message).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dfc.h"
#include "io.h"
#include "tap.h"
/* stubs for the worker layer: dfc_fail jumps back with its message */
#define DFC_STUB_FAIL_JUMPS
#include "stubs.h"


/* Runs stmt, which must call dfc_fail with exactly `want`. */
#define EXPECT_FAIL(stmt, want, name)                                                        \
    do {                                                                                     \
        fail_msg[0] = 0;                                                                     \
        if (setjmp(fail_jmp) == 0) {                                                         \
            (void)(stmt);                                                                    \
            t_ok(0, "%s: did not fail", name);                                               \
        } else {                                                                             \
            t_ok(strcmp(fail_msg, want) == 0, "%s (got %s)", name, fail_msg);                \
        }                                                                                    \
    } while (0)

static dfc_worker W;

/* s with control characters shown as '?', for test names (one TAP line each). */
static const char *vis(const char *s)
{
    static char out[4][128];
    static int k;
    k = (k + 1) % 4;
    size_t i = 0;
    for (; s[i] && i < sizeof out[k] - 1; i++) out[k][i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    out[k][i] = 0;
    return out[k];
}

static dfc_str S(const char *s) { return (dfc_str){s, (int64_t)strlen(s)}; }
static int eq(dfc_str a, const char *b) { return dfc_str_eq(a, S(b)); }

/* A list of str as "[a|b|c]" for comparisons. */
static const char *show(dfc_list_str l)
{
    static char out[1024];
    size_t o = 0;
    out[o++] = '[';
    for (int64_t i = 0; i < l.len; i++) {
        if (i) out[o++] = '|';
        memcpy(out + o, l.ptr[i].ptr, (size_t)l.ptr[i].len);
        o += (size_t)l.ptr[i].len;
    }
    out[o++] = ']';
    out[o] = 0;
    return out;
}

static void split_is(const char *s, const char *sep, const char *want)
{
    const char *got = show(dfc_split(&W, S(s), S(sep)));
    t_ok(strcmp(got, want) == 0, "split(\"%s\", \"%s\") = %s (got %s)", s, sep, want, got);
}
static void split_ws_is(const char *s, const char *want)
{
    const char *got = show(dfc_split_ws(&W, S(s)));
    t_ok(strcmp(got, want) == 0, "split_ws(\"%s\") = %s (got %s)", vis(s), want, got);
}
static void substr_is(const char *s, int64_t start, int64_t len, const char *want)
{
    dfc_str got = dfc_substr(S(s), start, len);
    t_ok(eq(got, want), "substr(\"%s\", %lld, %lld) = \"%s\" (got \"%.*s\")", s,
         (long long)start, (long long)len, want, (int)got.len, got.ptr);
}
static void replace_is(const char *s, const char *old, const char *new_, const char *want)
{
    dfc_str got = dfc_replace(&W, S(s), S(old), S(new_));
    t_ok(eq(got, want), "replace(\"%s\", \"%s\", \"%s\") = \"%s\" (got \"%.*s\")", s, old, new_,
         want, (int)got.len, got.ptr);
}
static void i64_ok(const char *s, int64_t want)
{
    int64_t v = 12345;
    bool ok = dfc_try_parse_i64(S(s), &v);
    t_ok(ok && v == want, "try_parse_i64(\"%s\") = %lld", vis(s), (long long)want);
}
static void i64_bad(const char *s)
{
    int64_t v = 12345;
    t_ok(!dfc_try_parse_i64(S(s), &v) && v == 12345, "try_parse_i64(\"%s\") fails", vis(s));
}
static void f64_ok(const char *s, double want)
{
    double v = 0;
    bool ok = dfc_try_parse_f64(S(s), &v);
    t_ok(ok && (v == want || (isnan(v) && isnan(want))), "try_parse_f64(\"%s\")", vis(s));
}
static void f64_bad(const char *s)
{
    double v = 0;
    t_ok(!dfc_try_parse_f64(S(s), &v), "try_parse_f64(\"%s\") fails", vis(s));
}
static void divmod_is(int64_t a, int64_t b, int64_t q, int64_t r)
{
    int64_t gq = dfc_i64_div(&W, a, b), gr = dfc_i64_mod(&W, a, b);
    t_ok(gq == q && gr == r, "%lld / %lld = %lld, %% = %lld (got %lld, %lld)", (long long)a,
         (long long)b, (long long)q, (long long)r, (long long)gq, (long long)gr);
}

int main(void)
{
    /* concat, lower, upper, trim */
    t_ok(eq(dfc_concat(&W, S("ab"), S("cd")), "abcd"), "concat");
    t_ok(eq(dfc_concat(&W, S(""), S("cd")), "cd"), "concat with empty left");
    t_ok(eq(dfc_concat(&W, S("ab"), S("")), "ab"), "concat with empty right");
    t_ok(eq(dfc_concat(&W, S(""), S("")), ""), "concat of empties");
    t_ok(eq(dfc_lower(&W, S("HeLLo World 1!")), "hello world 1!"), "lower");
    t_ok(eq(dfc_upper(&W, S("HeLLo world 1!")), "HELLO WORLD 1!"), "upper");
    t_ok(eq(dfc_lower(&W, S("\xc3\x89T\xc3\x89")), "\xc3\x89t\xc3\x89"), "lower is ASCII only");
    t_ok(eq(dfc_upper(&W, S("")), ""), "upper of empty");
    t_ok(eq(dfc_trim(S(" \t\r\n\v\fa b \n")), "a b"), "trim ASCII whitespace");
    t_ok(eq(dfc_trim(S("   ")), ""), "trim of blanks");
    t_ok(eq(dfc_trim(S("x")), "x"), "trim of nothing to trim");

    /* split */
    split_is("a,,b", ",", "[a||b]");
    t_ok(dfc_split(&W, S(""), S(",")).len == 1, "split(\"\") has one part");
    split_is("", ",", "[]"); /* one empty part shows as [] */
    split_is("a,b,", ",", "[a|b|]");
    split_is(",a", ",", "[|a]");
    split_is("abc", ",", "[abc]");
    split_is("a::b::::c", "::", "[a|b||c]");
    split_is("aaa", "aa", "[|a]");
    EXPECT_FAIL(dfc_split(&W, S("abc"), S("")), "split: empty separator",
                "split with an empty separator fails");
    split_ws_is("  a  b\tc\n", "[a|b|c]");
    t_ok(dfc_split_ws(&W, S("")).len == 0, "split_ws(\"\") is empty");
    t_ok(dfc_split_ws(&W, S(" \t ")).len == 0, "split_ws of blanks is empty");
    split_ws_is("one", "[one]");

    /* contains, starts_with, ends_with */
    t_ok(dfc_contains(S("hello"), S("ell")), "contains");
    t_ok(!dfc_contains(S("hello"), S("elk")), "not contains");
    t_ok(dfc_contains(S("hello"), S("")), "contains empty");
    t_ok(!dfc_contains(S(""), S("a")), "empty contains nothing");
    t_ok(dfc_starts_with(S("hello"), S("he")) && !dfc_starts_with(S("hello"), S("lo")),
         "starts_with");
    t_ok(dfc_ends_with(S("hello"), S("lo")) && !dfc_ends_with(S("hello"), S("he")), "ends_with");
    t_ok(dfc_starts_with(S("x"), S("")) && dfc_ends_with(S("x"), S("")), "empty prefix/suffix");
    t_ok(!dfc_starts_with(S("he"), S("hello")) && !dfc_ends_with(S("lo"), S("hello")),
         "prefix/suffix longer than the string");

    /* substr: like Python s[start:start+len] with negative start from the end */
    substr_is("hello", 1, 3, "ell");
    substr_is("hello", 0, 5, "hello");
    substr_is("hello", 0, 100, "hello");
    substr_is("hello", 3, 100, "lo");
    substr_is("hello", 5, 1, "");
    substr_is("hello", 9, 1, "");
    substr_is("hello", -3, 2, "ll");
    substr_is("hello", -3, 100, "llo");
    substr_is("hello", -9, 2, "he");
    substr_is("hello", 1, -1, "");
    substr_is("hello", INT64_MAX, INT64_MAX, "");
    substr_is("hello", INT64_MIN, INT64_MAX, "hello");
    substr_is("", 0, 1, "");

    /* replace */
    replace_is("a.b.c", ".", "::", "a::b::c");
    replace_is("aaaa", "aa", "b", "bb");
    replace_is("aaa", "aa", "b", "ba");
    replace_is("abc", "", "x", "abc");
    replace_is("abc", "d", "x", "abc");
    replace_is("abc", "abc", "", "");
    replace_is("abcabc", "bc", "", "aa");
    replace_is("ab", "abc", "x", "ab");
    replace_is("xax", "x", "yy", "yyayy");

    /* parse_i64 */
    i64_ok("42", 42);
    i64_ok("  -17\n", -17);
    i64_ok("+5", 5);
    i64_ok("007", 7);
    i64_ok("9223372036854775807", INT64_MAX);
    i64_ok("-9223372036854775808", INT64_MIN);
    i64_bad("9223372036854775808");
    i64_bad("-9223372036854775809");
    i64_bad("99999999999999999999");
    i64_bad("");
    i64_bad("  ");
    i64_bad("-");
    i64_bad("+");
    i64_bad("1.5");
    i64_bad("12a");
    i64_bad("1 2");
    i64_bad("0x10");
    i64_bad("--1");
    t_ok(dfc_parse_i64(&W, S(" 12 ")) == 12, "parse_i64");
    EXPECT_FAIL(dfc_parse_i64(&W, S("abc")), "parse_i64: invalid integer \"abc\"",
                "parse_i64 failure message");
    EXPECT_FAIL(dfc_parse_i64(&W, S("a\"b\\\n\x01")),
                "parse_i64: invalid integer \"a\\\"b\\\\\\x0a\\x01\"",
                "parse_i64 failure message escapes");
    EXPECT_FAIL(dfc_parse_i64(&W, S("0123456789012345678901234567890123456789xyz")),
                "parse_i64: invalid integer \"0123456789012345678901234567890123456789\"...",
                "parse_i64 failure message cut at 40 bytes");

    /* parse_f64 */
    f64_ok("1.5", 1.5);
    f64_ok(" -2e3 ", -2000.0);
    f64_ok("inf", INFINITY);
    f64_ok("-inf", -INFINITY);
    f64_ok("nan", NAN);
    f64_ok("7", 7.0);
    f64_ok(".5", 0.5);
    f64_bad("");
    f64_bad("1.5x");
    f64_bad("x");
    f64_bad("1 2");
    {
        char big[300];
        memset(big, '1', sizeof big - 1);
        big[sizeof big - 1] = 0;
        double v = 0;
        t_ok(dfc_try_parse_f64(S(big), &v) && v > 1.1e298 && v < 1.2e298,
             "try_parse_f64 of a 299-digit number");
    }
    {
        double v = 0;
        t_ok(!dfc_try_parse_f64((dfc_str){"1\0002", 3}, &v), "try_parse_f64 with a NUL inside");
    }
    t_ok(dfc_parse_f64(&W, S("0.25")) == 0.25, "parse_f64");
    EXPECT_FAIL(dfc_parse_f64(&W, S("1,5")), "parse_f64: invalid number \"1,5\"",
                "parse_f64 failure message");

    /* floor division and modulo */
    divmod_is(7, 2, 3, 1);
    divmod_is(-7, 2, -4, 1);
    divmod_is(7, -2, -4, -1);
    divmod_is(-7, -2, 3, -1);
    divmod_is(6, 3, 2, 0);
    divmod_is(-6, 3, -2, 0);
    divmod_is(0, 5, 0, 0);
    divmod_is(INT64_MIN, 1, INT64_MIN, 0);
    divmod_is(INT64_MAX, -1, -INT64_MAX, 0);
    divmod_is(INT64_MIN, 2, INT64_MIN / 2, 0);
    divmod_is(INT64_MIN, 3, -3074457345618258603LL, 1);
    t_ok(dfc_i64_mod(&W, INT64_MIN, -1) == 0, "INT64_MIN %% -1 = 0");
    EXPECT_FAIL(dfc_i64_div(&W, 1, 0), "division by zero", "div by zero fails");
    EXPECT_FAIL(dfc_i64_mod(&W, 1, 0), "division by zero", "mod by zero fails");
    EXPECT_FAIL(dfc_i64_div(&W, INT64_MIN, -1), "integer overflow", "INT64_MIN / -1 fails");

    /* f64 → i64 */
    t_ok(dfc_f64_to_i64(&W, 2.9) == 2 && dfc_f64_to_i64(&W, -2.9) == -2, "f64_to_i64 truncates");
    t_ok(dfc_f64_to_i64(&W, -9223372036854775808.0) == INT64_MIN, "f64_to_i64 of -2^63");
    t_ok(dfc_f64_to_i64(&W, 9223372036854774784.0) == 9223372036854774784LL,
         "f64_to_i64 of the largest double below 2^63");
    EXPECT_FAIL(dfc_f64_to_i64(&W, 9223372036854775808.0),
                "cannot convert 9.223372036854776e+18 to i64 (out of range)",
                "f64_to_i64 of 2^63 fails");
    EXPECT_FAIL(dfc_f64_to_i64(&W, NAN), "cannot convert nan to i64 (out of range)",
                "f64_to_i64 of nan fails");
    EXPECT_FAIL(dfc_f64_to_i64(&W, -INFINITY), "cannot convert -inf to i64 (out of range)",
                "f64_to_i64 of -inf fails");

    {
        /* a NULL-pointer empty string is a valid empty str */
        dfc_str z = {NULL, 0};
        int ok = dfc_concat(&W, z, z).len == 0 && dfc_lower(&W, z).len == 0 &&
                 dfc_trim(z).len == 0 && dfc_split(&W, z, S(",")).len == 1 &&
                 dfc_split_ws(&W, z).len == 0 && !dfc_contains(z, S("a")) &&
                 dfc_contains(z, z) && dfc_starts_with(z, z) && dfc_ends_with(z, z) &&
                 dfc_substr(z, 1, 1).len == 0 && dfc_replace(&W, z, S("a"), S("b")).len == 0;
        int64_t iv;
        double dv;
        ok &= !dfc_try_parse_i64(z, &iv) && !dfc_try_parse_f64(z, &dv);
        t_ok(ok, "builtins accept {NULL, 0}");
    }

    /* index failure, now */
    EXPECT_FAIL((dfc_index_fail(&W, 5, 3), 0), "index 5 out of range for a list of length 3",
                "index_fail message");
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t want = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        int64_t got = dfc_now_ms();
        t_ok(got >= want && got - want < 1000, "now_ms is CLOCK_REALTIME in ms");
    }

    dfc_arena_free(&W.arena);
    return t_done();
}
