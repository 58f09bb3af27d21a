/*
 * builtins.c — the string and number builtins of the flow language as
 * declared in dfc.h (concat, lower/upper, trim, split, substr, replace,
 * parse_*, floor division and modulo, f64 → i64, now).  New strings come
 * from the worker's arena; slices of the argument are returned where no new
 * bytes are needed.  Bad input that the language defines as a run-time error
 * ends the run through dfc_fail with a message naming the problem.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dfc.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static const char *find(const char *hay, int64_t hlen, dfc_str needle)
{
    if (hlen < needle.len) return NULL;
    return memmem(hay, (size_t)hlen, needle.ptr, (size_t)needle.len);
}

const char *dfc_find(const char *hay, int64_t hlen, dfc_str needle) { return find(hay, hlen, needle); }

/* Up to 40 bytes of s, escaped and quoted, into out (a message fragment). */
static const char *quote_cut(char out[256], dfc_str s)
{
    static const char hex[] = "0123456789abcdef";
    bool cut = s.len > 40;
    int64_t n = cut ? 40 : s.len;
    size_t o = 0;
    out[o++] = '"';
    for (int64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0'; /* at most 1 + 40*4 + 1 + 3 + 1 bytes */
    return out;
}

dfc_str dfc_concat(dfc_worker *w, dfc_str a, dfc_str b)
{
    if (a.len == 0) return b;
    if (b.len == 0) return a;
    if (a.len > INT64_MAX - b.len) dfc_fail(w, "string too long");
    char *p = dfc_arena_alloc(&w->arena, (size_t)(a.len + b.len));
    memcpy(p, a.ptr, (size_t)a.len);
    memcpy(p + a.len, b.ptr, (size_t)b.len);
    return (dfc_str){p, a.len + b.len};
}

static dfc_str map_case(dfc_worker *w, dfc_str s, char lo, char hi, int delta)
{
    int64_t i = 0;
    while (i < s.len && !(s.ptr[i] >= lo && s.ptr[i] <= hi)) i++;
    if (i == s.len) return s; /* nothing to change: the slice itself */
    char *p = dfc_arena_alloc(&w->arena, (size_t)s.len);
    memcpy(p, s.ptr, (size_t)s.len);
    for (; i < s.len; i++)
        if (p[i] >= lo && p[i] <= hi) p[i] = (char)(p[i] + delta);
    return (dfc_str){p, s.len};
}

dfc_str dfc_lower(dfc_worker *w, dfc_str s) { return map_case(w, s, 'A', 'Z', 'a' - 'A'); }
dfc_str dfc_upper(dfc_worker *w, dfc_str s) { return map_case(w, s, 'a', 'z', 'A' - 'a'); }

dfc_str dfc_trim(dfc_str s)
{
    while (s.len > 0 && is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_space(s.ptr[s.len - 1])) s.len--;
    return s;
}

/* Exact separator; empty parts kept: "a,,b" → ["a", "", "b"], "" → [""]. */
dfc_list_str dfc_split(dfc_worker *w, dfc_str s, dfc_str sep)
{
    if (sep.len == 0) dfc_fail(w, "split: empty separator");
    int64_t n = 1;
    for (const char *p = s.ptr, *end = s.ptr + s.len, *q;
         (q = find(p, end - p, sep)) != NULL; p = q + sep.len)
        n++;
    dfc_str *parts = dfc_arena_alloc(&w->arena, (size_t)n * sizeof *parts);
    const char *p = s.ptr, *end = s.ptr + s.len;
    for (int64_t i = 0; i < n - 1; i++) {
        const char *q = find(p, end - p, sep);
        parts[i] = (dfc_str){p, q - p};
        p = q + sep.len;
    }
    parts[n - 1] = (dfc_str){p, end - p};
    return (dfc_list_str){parts, n};
}

/* Python's str.split(): runs of ASCII whitespace separate, no empty parts. */
dfc_list_str dfc_split_ws(dfc_worker *w, dfc_str s)
{
    int64_t n = 0;
    for (int64_t i = 0; i < s.len;) {
        while (i < s.len && is_space(s.ptr[i])) i++;
        if (i == s.len) break;
        n++;
        while (i < s.len && !is_space(s.ptr[i])) i++;
    }
    if (n == 0) return (dfc_list_str){NULL, 0};
    dfc_str *parts = dfc_arena_alloc(&w->arena, (size_t)n * sizeof *parts);
    int64_t k = 0;
    for (int64_t i = 0; i < s.len;) {
        while (i < s.len && is_space(s.ptr[i])) i++;
        if (i == s.len) break;
        int64_t start = i;
        while (i < s.len && !is_space(s.ptr[i])) i++;
        parts[k++] = (dfc_str){s.ptr + start, i - start};
    }
    return (dfc_list_str){parts, n};
}

bool dfc_contains(dfc_str s, dfc_str sub)
{
    if (sub.len == 0) return true;
    return find(s.ptr, s.len, sub) != NULL;
}

bool dfc_starts_with(dfc_str s, dfc_str prefix)
{
    return prefix.len <= s.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, (size_t)prefix.len) == 0);
}

bool dfc_ends_with(dfc_str s, dfc_str suffix)
{
    return suffix.len <= s.len &&
           (suffix.len == 0 || memcmp(s.ptr + s.len - suffix.len, suffix.ptr, (size_t)suffix.len) == 0);
}

/* s[start : start+len] in bytes; a negative start counts from the end (as
 * Python slicing); everything clamped to s; a negative len is empty. */
dfc_str dfc_substr(dfc_str s, int64_t start, int64_t len)
{
    if (start < 0) {
        start = start < -s.len ? 0 : s.len + start;
    } else if (start > s.len) {
        start = s.len;
    }
    int64_t avail = s.len - start;
    if (len < 0) len = 0;
    if (len > avail) len = avail;
    return (dfc_str){s.ptr + start, len};
}

/* Every non-overlapping occurrence of old, left to right; empty old: s. */
dfc_str dfc_replace(dfc_worker *w, dfc_str s, dfc_str old, dfc_str new_)
{
    if (old.len == 0 || old.len > s.len) return s;
    int64_t count = 0;
    for (const char *p = s.ptr, *end = s.ptr + s.len, *q;
         (q = find(p, end - p, old)) != NULL; p = q + old.len)
        count++;
    if (count == 0) return s;
    int64_t grow = new_.len - old.len; /* may be negative */
    if (grow > 0 && count > (INT64_MAX - s.len) / grow) dfc_fail(w, "replace: result too long");
    int64_t n = s.len + count * grow;
    char *out = dfc_arena_alloc(&w->arena, (size_t)(n ? n : 1));
    char *o = out;
    const char *p = s.ptr, *end = s.ptr + s.len;
    for (int64_t i = 0; i < count; i++) {
        const char *q = find(p, end - p, old);
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        if (new_.len) memcpy(o, new_.ptr, (size_t)new_.len);
        o += new_.len;
        p = q + old.len;
    }
    memcpy(o, p, (size_t)(end - p));
    return (dfc_str){out, n};
}

/* ASCII whitespace trimmed, optional sign, one or more decimal digits. */
bool dfc_try_parse_i64(dfc_str s, int64_t *out)
{
    s = dfc_trim(s);
    int64_t i = 0;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) neg = s.ptr[i++] == '-';
    if (i == s.len) return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';
        if (d > 9) return false;
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

int64_t dfc_parse_i64(dfc_worker *w, dfc_str s)
{
    int64_t v;
    if (!dfc_try_parse_i64(s, &v)) {
        char q[256];
        dfc_fail(w, "parse_i64: invalid integer %s", quote_cut(q, s));
    }
    return v;
}

/* strtod over the whole trimmed text (so "inf", "nan", "1e3" are numbers). */
bool dfc_try_parse_f64(dfc_str s, double *out)
{
    s = dfc_trim(s);
    if (s.len == 0) return false;
    char small[128];
    char *z = small;
    if (s.len >= (int64_t)sizeof small) {
        z = malloc((size_t)s.len + 1);
        if (!z) return false;
    }
    memcpy(z, s.ptr, (size_t)s.len);
    z[s.len] = '\0';
    char *end;
    double v = strtod(z, &end);
    bool ok = end == z + s.len; /* an embedded NUL stops strtod short */
    if (z != small) free(z);
    if (ok) *out = v;
    return ok;
}

double dfc_parse_f64(dfc_worker *w, dfc_str s)
{
    double v;
    if (!dfc_try_parse_f64(s, &v)) {
        char q[256];
        dfc_fail(w, "parse_f64: invalid number %s", quote_cut(q, s));
    }
    return v;
}


int64_t dfc_f64_to_i64(dfc_worker *w, double x)
{
    /* [-2^63, 2^63): both bounds are exact doubles. */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) {
        char t[32];
        dfc_buf b = {0};
        dfc_fmt_f64(&b, x);
        snprintf(t, sizeof t, "%.*s", (int)b.len, (const char *)b.data);
        dfc_buf_free(&b);
        dfc_fail(w, "cannot convert %s to i64 (out of range)", t);
    }
    return (int64_t)x;
}

int64_t dfc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

DFC_NORETURN void dfc_index_fail(dfc_worker *w, int64_t index, int64_t len)
{
    dfc_fail(w, "index %lld out of range for a list of length %lld", (long long)index,
             (long long)len);
}
