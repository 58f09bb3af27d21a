/*
 * format.c — the canonical text of scalar values (SPEC §2 "Text form of
 * items"): dfc_fmt_i64 (decimal, no snprintf), dfc_fmt_f64 (shortest
 * round-trip digits laid out as Python's repr), dfc_fmt_bool and
 * dfc_fmt_str_quoted (strings inside tuples and lists), plus dfc_buf_to_str
 * which turns formatted bytes into an arena string.  Tuples, lists and
 * options are composed from these by the generated code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dfc.h"

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v, written backwards from end; returns the first digit. */
static char *u64_digits(char *end, uint64_t v)
{
    char *p = end;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

void dfc_fmt_i64(dfc_buf *b, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = u64_digits(end, u);
    if (v < 0) *--p = '-';
    dfc_buf_put(b, p, (size_t)(end - p));
}

void dfc_fmt_bool(dfc_buf *b, bool v)
{
    if (v)
        dfc_buf_put(b, "true", 4);
    else
        dfc_buf_put(b, "false", 5);
}

static bool round_trips(char *tmp, size_t size, int prec, double v)
{
    snprintf(tmp, size, "%.*e", prec, v);
    return strtod(tmp, NULL) == v;
}

/*
 * The shortest decimal digits d1..dn (n <= 17) and exponent such that
 * 0.d1..dn * 10^decpt reads back as v (v finite and > 0).  Found by trying
 * %.{p}e for growing p; strtod decides.  Computed values usually need 16 or
 * 17 digits, so 15 is tried first to skip the short tries for them.
 */
static int shortest_digits(double v, char digits[20], int *decpt)
{
    char tmp[40];
    if (!round_trips(tmp, sizeof tmp, 14, v)) {
        if (!round_trips(tmp, sizeof tmp, 15, v)) snprintf(tmp, sizeof tmp, "%.16e", v);
    } else {
        for (int prec = 0; prec < 14; prec++)
            if (round_trips(tmp, sizeof tmp, prec, v)) break;
        if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.14e", v);
    }
    /* tmp is "d.ddde[+-]XX" or "de[+-]XX" */
    int n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0') n--;
    digits[n] = '\0';
    *decpt = (int)strtol(p + 1, NULL, 10) + 1;
    return n;
}

/*
 * Shortest round-trip text, as Python's repr(float): fixed notation when
 * -4 < decpt <= 16 ("100.0", "0.0001", "1e+16" is the first exponent form),
 * otherwise d[.ddd]e±XX with at least two exponent digits ("1e+22",
 * "1.5e-07").  Integral values always carry ".0"; -0.0, inf, -inf, nan as
 * Python prints them.
 */
void dfc_fmt_f64(dfc_buf *b, double v)
{
    if (isnan(v)) {
        dfc_buf_put(b, "nan", 3);
        return;
    }
    if (signbit(v)) {
        dfc_buf_put_u8(b, '-');
        v = -v;
    }
    if (isinf(v)) {
        dfc_buf_put(b, "inf", 3);
        return;
    }
    if (v == 0) {
        dfc_buf_put(b, "0.0", 3);
        return;
    }
    /* Fast path: integers below 2^53 are their own shortest digits. */
    if (v < 9007199254740992.0 && v == (double)(int64_t)v) {
        dfc_fmt_i64(b, (int64_t)v);
        dfc_buf_put(b, ".0", 2);
        return;
    }
    char d[20];
    int decpt;
    int n = shortest_digits(v, d, &decpt);
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            dfc_buf_put(b, "0.", 2);
            for (int i = 0; i < -decpt; i++) dfc_buf_put_u8(b, '0');
            dfc_buf_put(b, d, (size_t)n);
        } else if (decpt >= n) {
            dfc_buf_put(b, d, (size_t)n);
            for (int i = n; i < decpt; i++) dfc_buf_put_u8(b, '0');
            dfc_buf_put(b, ".0", 2);
        } else {
            dfc_buf_put(b, d, (size_t)decpt);
            dfc_buf_put_u8(b, '.');
            dfc_buf_put(b, d + decpt, (size_t)(n - decpt));
        }
        return;
    }
    dfc_buf_put_u8(b, (uint8_t)d[0]);
    if (n > 1) {
        dfc_buf_put_u8(b, '.');
        dfc_buf_put(b, d + 1, (size_t)(n - 1));
    }
    int e = decpt - 1;
    dfc_buf_put_u8(b, 'e');
    dfc_buf_put_u8(b, e < 0 ? '-' : '+');
    if (e < 0) e = -e;
    if (e < 10) dfc_buf_put_u8(b, '0');
    dfc_fmt_i64(b, e);
}

/* "..." with \" \\ \n \t \r, \xHH for other control bytes and 0x7f; bytes
 * >= 0x80 (UTF-8) as they are. */
void dfc_fmt_str_quoted(dfc_buf *b, dfc_str s)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s.ptr, *end = p + s.len;
    dfc_buf_grow(b, (size_t)s.len + 2);
    dfc_buf_put_u8(b, '"');
    while (p < end) {
        const uint8_t *run = p;
        while (p < end && *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\') p++;
        dfc_buf_put(b, run, (size_t)(p - run));
        if (p == end) break;
        uint8_t c = *p++;
        char esc[4] = {'\\', 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        default:
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            n = 4;
        }
        dfc_buf_put(b, esc, n);
    }
    dfc_buf_put_u8(b, '"');
}

dfc_str dfc_buf_to_str(dfc_worker *w, const dfc_buf *b, size_t from)
{
    if (from >= b->len) return (dfc_str){"", 0};
    size_t n = b->len - from;
    char *p = dfc_arena_alloc(&w->arena, n);
    memcpy(p, b->data + from, n);
    return (dfc_str){p, (int64_t)n};
}
