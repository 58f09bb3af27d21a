/*
 * dfc.h — the dfc runtime's public interface: everything that generated flow
 * code may use.  A compiled flow is one C unit that fills a `dfc_flow`
 * descriptor (its params, sources, sinks, exchange channels and per-worker
 * state) and calls `dfc_main`.  The runtime owns threads, batching, the
 * exchange between workers and processes, progress (epochs, end of input),
 * sources, sinks and the command line.  Generated code owns the item types,
 * the fused operator loops and the keyed state that lives in `dfc_table`s.
 *
 * Conventions: `dfc_` is the public prefix, `dfci_` the runtime-internal one
 * (runtime/internal.h).  Strings are slices (`dfc_str`), never NUL-terminated.
 * Memory made while processing a batch comes from the worker's arena, which
 * the runtime resets between batches; anything kept longer (keyed state) is
 * copied to the heap by the generated code.
 */
#ifndef DFC_H
#define DFC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && !defined(DFC_NO_SSE2)
#define DFC_SSE2 1
#include <emmintrin.h>
#endif

#define DFC_VERSION "0.1.0"

/* Bytes in an exchange buffer (per channel and destination) before it is sent. */
#define DFC_FLUSH_BYTES (64 * 1024)

#if defined(__GNUC__)
#define DFC_NORETURN __attribute__((noreturn))
#define DFC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DFC_LIKELY(x) __builtin_expect(!!(x), 1)
#define DFC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DFC_ALWAYS_INLINE inline __attribute__((always_inline))
#define DFC_NOINLINE __attribute__((noinline))
#else
#define DFC_NORETURN
#define DFC_PRINTF(a, b)
#define DFC_LIKELY(x) (x)
#define DFC_UNLIKELY(x) (x)
#define DFC_ALWAYS_INLINE inline
#define DFC_NOINLINE
#endif

/* ------------------------------------------------------------------ strings */

typedef struct dfc_str {
    const char *ptr;
    int64_t len;
} dfc_str;

#define DFC_STR_LIT(s) ((dfc_str){(s), (int64_t)(sizeof(s) - 1)})

/* The C form of the flow type [str] (csv rows, split results). */
typedef struct dfc_list_str {
    dfc_str *ptr;
    int64_t len;
} dfc_list_str;

/* n bytes equal?  Words at a time: keys are mostly short, and a libc
 * memcmp call costs more than the compare. */
static inline bool dfc_bytes_eq(const char *a, const char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return false;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--) if (*a++ != *b++) return false;
    return true;
}

static inline bool dfc_str_eq(dfc_str a, dfc_str b)
{
    if (a.len != b.len) return false;
    if (a.ptr == b.ptr || a.len == 0) return true;
    if (a.len <= 16) return dfc_bytes_eq(a.ptr, b.ptr, (size_t)a.len);
    return memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

/* Byte-wise order: negative, zero or positive. */
static inline int dfc_str_cmp(dfc_str a, dfc_str b)
{
    int64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* ----------------------------------------------------------------- hashing */

/* The first min(n, 8) bytes of p as a little-endian word, zero above them.
 * Short strings (most keys and words) are read with one 8-byte load when it
 * cannot cross into another page, the bytes past n masked off; otherwise,
 * and always under AddressSanitizer, with reads inside p[0..n) only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dfc reads words little-endian");
#if defined(__SANITIZE_ADDRESS__)
#define DFC_WIDE_LOADS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DFC_WIDE_LOADS 0
#endif
#endif
#ifndef DFC_WIDE_LOADS
#define DFC_WIDE_LOADS 1
#endif
static inline bool dfc_wide_load_ok(const char *p)
{
    return DFC_WIDE_LOADS && ((uintptr_t)p & 4095) <= 4096 - 8;
}
/* 8 bytes at p, which may extend past the string (see dfc_wide_load_ok). */
static inline uint64_t dfc_wide_load(const char *p)
{
    uint64_t v;
    __asm__("" : "+r"(p)); /* the string's size is not the load's business */
    memcpy(&v, p, 8);
    return v;
}
/* Bytes 0..n-1 of a word (n < 8), or all of it. */
static inline uint64_t dfc_low_bytes(uint64_t v, size_t n)
{
    uint64_t mask = ((uint64_t)1 << (8 * (n & 7))) - 1;
    return n >= 8 ? v : v & mask;
}
static DFC_ALWAYS_INLINE uint64_t dfc_load_upto8(const char *p, size_t n)
{
    /* (an empty string may point just past its buffer, even into a page
     * that cannot be read) */
    if (DFC_LIKELY(n > 0 && dfc_wide_load_ok(p))) return dfc_low_bytes(dfc_wide_load(p), n);
    uint64_t v;
    if (n >= 8) {
        memcpy(&v, p, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        v = (uint64_t)a | ((uint64_t)b << (8 * (n - 4)));
    } else if (n) {
        const uint8_t *u = (const uint8_t *)p;
        v = (uint64_t)u[0] | ((uint64_t)u[n >> 1] << (8 * (n >> 1))) | ((uint64_t)u[n - 1] << (8 * (n - 1)));
    } else {
        v = 0;
    }
    return v;
}

/* 64 x 64 -> 128-bit multiply, folded: the mixing step of the hash. */
static inline uint64_t dfc_mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The key hash.  It must give the same value in every process of a cluster
 * (keyed routing is hash(key) % total_workers), so it is fixed and unseeded.
 * A key of up to 8 bytes is one word and two multiplies; longer keys fold
 * 8 bytes at a time, the last 8 bytes read overlapping. */
#define DFC_HASH_K0 0xa0761d6478bd642fULL
#define DFC_HASH_K1 0xe7037ed1a0b428dbULL
#define DFC_HASH_K2 0x8ebc6af09c88c6e3ULL
static inline uint64_t dfc_hash_words(uint64_t h, uint64_t last, size_t n)
{
    return dfc_mum(dfc_mum(h ^ last ^ DFC_HASH_K0, (uint64_t)n ^ DFC_HASH_K1) ^ DFC_HASH_K2, DFC_HASH_K1);
}
static inline uint64_t dfc_load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
/* 9..16 bytes: the first 8 and the last 8 (overlapping); the same value as
 * dfc_hash_long gives them. */
static inline uint64_t dfc_hash_two(uint64_t first, uint64_t last, size_t n)
{
    return dfc_hash_words(dfc_mum(first ^ DFC_HASH_K2, DFC_HASH_K0), last, n);
}
/* Keys longer than 16 bytes: out of line, so that the short cases stay
 * small enough to be inlined into every keyed step. */
#if defined(__GNUC__)
__attribute__((noinline, unused))
#endif
static uint64_t dfc_hash_long(const char *p, size_t n)
{
    uint64_t h = 0;
    size_t left = n;
    while (left > 8) {
        h = dfc_mum(h ^ dfc_load8(p) ^ DFC_HASH_K2, DFC_HASH_K0);
        p += 8;
        left -= 8;
    }
    /* the last 8 bytes: n > 8, so inside the string */
    return dfc_hash_words(h, dfc_load8(p + left - 8), n);
}
/* The hash of p[0..n), given first = dfc_load_upto8(p, n). */
static DFC_ALWAYS_INLINE uint64_t dfc_hash_first(const char *p, size_t n, uint64_t first)
{
    if (DFC_LIKELY(n <= 8)) return dfc_hash_words(0, first, n);
    return n <= 16 ? dfc_hash_two(first, dfc_load8(p + n - 8), n) : dfc_hash_long(p, n);
}
static DFC_ALWAYS_INLINE uint64_t dfc_hash(const void *data, size_t n)
{
    const char *p = (const char *)data;
    return dfc_hash_first(p, n, dfc_load_upto8(p, n));
}
static DFC_ALWAYS_INLINE uint64_t dfc_hash_str(dfc_str s) { return dfc_hash(s.ptr, (size_t)s.len); }

/* ------------------------------------------------------------- byte buffer */

typedef struct dfc_buf {
    uint8_t *data;
    size_t len, cap;
} dfc_buf;

void dfc_buf_grow(dfc_buf *b, size_t need); /* cap >= len + need afterwards; aborts on OOM */
void dfc_buf_free(dfc_buf *b);

static inline void dfc_buf_put(dfc_buf *b, const void *p, size_t n)
{
    if (DFC_UNLIKELY(b->cap - b->len < n)) dfc_buf_grow(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void dfc_buf_put_u8(dfc_buf *b, uint8_t v) { dfc_buf_put(b, &v, 1); }
static inline void dfc_buf_put_u32(dfc_buf *b, uint32_t v) { dfc_buf_put(b, &v, 4); }
static inline void dfc_buf_put_i64(dfc_buf *b, int64_t v) { dfc_buf_put(b, &v, 8); }
static inline void dfc_buf_put_f64(dfc_buf *b, double v) { dfc_buf_put(b, &v, 8); }
static inline void dfc_buf_put_bool(dfc_buf *b, bool v) { dfc_buf_put_u8(b, v ? 1 : 0); }
/* A string on the wire: u32 length, then the bytes. */
static inline void dfc_buf_put_str(dfc_buf *b, dfc_str s)
{
    dfc_buf_put_u32(b, (uint32_t)s.len);
    dfc_buf_put(b, s.ptr, (size_t)s.len);
}

/* ------------------------------------------------------------------- arena */

typedef struct dfc_arena_chunk dfc_arena_chunk;
typedef struct dfc_arena {
    char *cur, *end;
    dfc_arena_chunk *chunks;
} dfc_arena;

void *dfc_arena_alloc_slow(dfc_arena *a, size_t n);
void dfc_arena_reset(dfc_arena *a); /* frees all but one chunk; pointers die */
void dfc_arena_free(dfc_arena *a);

static inline void *dfc_arena_alloc(dfc_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (DFC_UNLIKELY((size_t)(a->end - a->cur) < n)) return dfc_arena_alloc_slow(a, n);
    void *p = a->cur;
    a->cur += n;
    return p;
}

/* ------------------------------------------------------------------ worker */

typedef struct dfci_worker dfci_worker; /* runtime-private part */

typedef struct dfc_worker {
    /* Aligned so that workers side by side in an array never share a cache
     * line (cur_step and the arena are written for every item). */
    _Alignas(64) int index; /* global worker index: process_id * workers_per_process + local_index */
    int local_index;   /* index among the workers of this process */
    int total_workers; /* processes * workers_per_process */
    int64_t epoch;     /* epoch of the items being processed (starts at 1) */
    int cur_step;      /* step being run (index into flow->step_ids), for error messages */
    dfc_arena arena;   /* per-batch scratch memory */
    dfc_buf scratch;   /* scratch for formatting one value */
    const void *params; /* the flow's params struct, filled from the command line */
    void *state;       /* the flow's per-worker state (flow->state_new) */
    dfc_buf *outbufs;  /* [chan * total_workers + dest]: encoded items waiting to be sent */
    uint32_t *outcounts; /* items in each of outbufs */
    uint32_t *rr;      /* per channel: round-robin position for redistribute */
    uint64_t route_m;  /* UINT64_MAX / total_workers + 1: exact modulo by multiplication */
    dfci_worker *rt;
} dfc_worker;

/* ------------------------------------------------------- failing a step */

/* Ends the run with "error: step '<id>': <message>" naming w->cur_step.
 * Sink output that was complete is flushed; the process exits non-zero. */
DFC_NORETURN void dfc_fail(dfc_worker *w, const char *fmt, ...) DFC_PRINTF(2, 3);

/* ---------------------------------------------------------------- exchange */

/* Send side.  To send an item on channel `chan` to global worker `dest`:
 *     dfc_buf *b = dfc_out_begin(w, chan, dest);  ... dfc_buf_put_*(b, ...) ...
 *     dfc_out_end(w, chan, dest);
 * The runtime delivers the encoded bytes to `dest`, which decodes them in
 * flow->channels[chan].recv. */
void dfc_out_flush(dfc_worker *w, int chan, int dest);

static inline dfc_buf *dfc_out_begin(dfc_worker *w, int chan, int dest)
{
    return &w->outbufs[(size_t)chan * (size_t)w->total_workers + (size_t)dest];
}
static inline void dfc_out_end(dfc_worker *w, int chan, int dest)
{
    size_t i = (size_t)chan * (size_t)w->total_workers + (size_t)dest;
    w->outcounts[i]++;
    if (DFC_UNLIKELY(w->outbufs[i].len >= DFC_FLUSH_BYTES)) dfc_out_flush(w, chan, dest);
}

/* The worker that owns a key: hash(key) % total_workers, where the routing
 * hash is the high 32 bits of dfc_hash.  The modulo is computed exactly by
 * multiplication (Lemire's fastmod), since a division per item is slow. */
static inline int dfc_route_hash(const dfc_worker *w, uint64_t h)
{
    uint32_t a = (uint32_t)(h >> 32);
    uint64_t low = w->route_m * a;
    return (int)(((__uint128_t)low * (uint64_t)w->total_workers) >> 64);
}
static inline int dfc_route_key(const dfc_worker *w, dfc_str key)
{
    return dfc_route_hash(w, dfc_hash_str(key));
}
static inline int dfc_route_rr(dfc_worker *w, int chan)
{
    uint32_t r = w->rr[chan]++;
    return (int)(((uint32_t)w->index + r) % (uint32_t)w->total_workers);
}

/* Receive side: a reader over one received batch.  Every read is bounds
 * checked; running past the end fails the step (a malformed batch). */
typedef struct dfc_reader {
    const uint8_t *p, *end;
    dfc_worker *w;
} dfc_reader;

DFC_NORETURN void dfc_reader_fail(dfc_reader *r);

static inline void dfc_get(dfc_reader *r, void *out, size_t n)
{
    if (DFC_UNLIKELY((size_t)(r->end - r->p) < n)) dfc_reader_fail(r);
    memcpy(out, r->p, n);
    r->p += n;
}
static inline uint8_t dfc_get_u8(dfc_reader *r) { uint8_t v; dfc_get(r, &v, 1); return v; }
static inline uint32_t dfc_get_u32(dfc_reader *r) { uint32_t v; dfc_get(r, &v, 4); return v; }
static inline int64_t dfc_get_i64(dfc_reader *r) { int64_t v; dfc_get(r, &v, 8); return v; }
static inline double dfc_get_f64(dfc_reader *r) { double v; dfc_get(r, &v, 8); return v; }
static inline bool dfc_get_bool(dfc_reader *r) { return dfc_get_u8(r) != 0; }
/* The returned slice points into the batch: valid during recv only. */
static inline dfc_str dfc_get_str(dfc_reader *r)
{
    uint32_t n = dfc_get_u32(r);
    if (DFC_UNLIKELY((size_t)(r->end - r->p) < n)) dfc_reader_fail(r);
    dfc_str s = {(const char *)r->p, (int64_t)n};
    r->p += n;
    return s;
}

/* ------------------------------------------------------------------- sinks */

/* Writes one item's text as a line (the runtime adds '\n').  Lines are never
 * split or interleaved with other workers' lines. */
void dfc_sink_write(dfc_worker *w, int sink, const char *p, size_t n);
/* inspect / inspect_debug: one line on standard output. */
void dfc_inspect_write(dfc_worker *w, const char *p, size_t n);

/* -------------------------------------------------------------- keyed state */

/* An open-addressing table from str keys to fixed-size values.  Keys are
 * copied into the table; value slots are zeroed when created and stay at the
 * same address until the table changes: an upsert that adds a key or a
 * removal may move them (do not keep pointers across those). */
typedef struct dfc_table dfc_table;

/* seed: tables that feed each other's keys (one step's output into another
 * step's table, a combining table into its owner's, this run's output into
 * the next run) get different seeds, so that they order their slots
 * differently (see dfc_table_home).  dfc_table_seed gives each table of
 * each worker its own, random for every run. */
dfc_table *dfc_table_new(size_t value_size, uint64_t seed);
uint64_t dfc_table_seed(const dfc_worker *w, int table);
void dfc_table_free(dfc_table *t);
/* dfc_table_upsert(t, key, hash, &created) -> value slot, and
 * dfc_table_upsert_key(t, key, hash, &created, &stored), which also gives the
 * table's own copy of the key (short keys are kept beside their values, so
 * it moves when they do), are inline in dfc_table.h. */
#include "dfc_table.h"
void *dfc_table_find(const dfc_table *t, dfc_str key, uint64_t hash);
bool dfc_table_remove(dfc_table *t, dfc_str key, uint64_t hash);
/* Offers every entry to drop(ctx, key, value), once each, and removes those
 * it returns true for; drop must not change the table.  Returns how many
 * were removed. */
size_t dfc_table_drop_if(dfc_table *t, bool (*drop)(void *ctx, dfc_str key, void *value), void *ctx);
/* Iteration: size_t it = 0; while (dfc_table_next(t, &it, &k, &v)) ... */
bool dfc_table_next(const dfc_table *t, size_t *iter, dfc_str *key, void **value);

/* Heap copies for values kept in state. */
dfc_str dfc_heap_str(dfc_str s);
void dfc_heap_free(const void *p);
void *dfc_heap_alloc(size_t n);

/* ---------------------------------------------------------------- builtins */

/* Each returns memory from the worker's arena where it makes a new value. */
dfc_str dfc_concat(dfc_worker *w, dfc_str a, dfc_str b);
dfc_str dfc_lower(dfc_worker *w, dfc_str s);
dfc_str dfc_upper(dfc_worker *w, dfc_str s);
dfc_str dfc_trim(dfc_str s); /* a slice of s: ASCII whitespace removed at both ends */
dfc_list_str dfc_split(dfc_worker *w, dfc_str s, dfc_str sep); /* exact separator; empty sep fails */
dfc_list_str dfc_split_ws(dfc_worker *w, dfc_str s);           /* runs of whitespace, no empty parts */
bool dfc_contains(dfc_str s, dfc_str sub);
bool dfc_starts_with(dfc_str s, dfc_str prefix);
bool dfc_ends_with(dfc_str s, dfc_str suffix);
dfc_str dfc_substr(dfc_str s, int64_t start, int64_t len); /* byte offsets, clamped to s */
dfc_str dfc_replace(dfc_worker *w, dfc_str s, dfc_str old, dfc_str new_);
int64_t dfc_parse_i64(dfc_worker *w, dfc_str s); /* fails the step on bad input */
double dfc_parse_f64(dfc_worker *w, dfc_str s);
bool dfc_try_parse_i64(dfc_str s, int64_t *out);
bool dfc_try_parse_f64(dfc_str s, double *out);
int64_t dfc_f64_to_i64(dfc_worker *w, double x); /* truncation; NaN or out of range fails */
int64_t dfc_now_ms(void);
DFC_NORETURN void dfc_index_fail(dfc_worker *w, int64_t index, int64_t len);

/* flat_map over split(s, sep) without making the list: the generated loop
 *     dfc_split_iter it = dfc_split_begin(w, s, sep); dfc_str part;
 *     while (dfc_split_next(&it, &part)) ...
 * gives the same parts as dfc_split, and dfc_split_ws_next those of
 * dfc_split_ws. */
const char *dfc_find(const char *hay, int64_t hlen, dfc_str needle);
typedef struct dfc_split_iter {
    const char *p, *end; /* the next part starts at p */
    dfc_str sep;
    bool done;
    /* A one-byte separator is looked for a block of 16 bytes at a time:
     * hits has bit i set for each separator blk[i] not yet used; scan is
     * where the next block starts. */
    const char *blk, *scan;
    uint32_t hits;
} dfc_split_iter;
static inline dfc_split_iter dfc_split_begin(dfc_worker *w, dfc_str s, dfc_str sep)
{
    if (DFC_UNLIKELY(sep.len == 0)) dfc_fail(w, "split: empty separator");
    return (dfc_split_iter){s.ptr, s.ptr + s.len, sep, false, s.ptr, s.ptr, 0};
}
/* Bit i set for each zero byte i of v: exact (no borrow from one byte into
 * the next), the eight high bits then gathered by one multiply. */
static inline uint32_t dfc_zero_byte_bits(uint64_t v)
{
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t high = ~(((v & low7) + low7) | v | low7); /* 0x80 in each zero byte */
    return (uint32_t)(((high >> 7) * 0x0102040810204080ULL) >> 56);
}
/* Bit i set where p[i] == c, for i < min(n, 16).  One 16-byte compare
 * (SSE2, in every x86-64; elsewhere two words) when the block is whole or
 * cannot cross into another page (bytes past n are masked off, as
 * dfc_load_upto8 does); otherwise, and always under AddressSanitizer, byte
 * by byte. */
static inline uint32_t dfc_block_hits(const char *p, size_t n, char c)
{
    if (n >= 16 || (DFC_WIDE_LOADS && ((uintptr_t)p & 4095) <= 4096 - 16)) {
        uint32_t m;
        __asm__("" : "+r"(p)); /* the string's size is not the load's business */
#ifdef DFC_SSE2
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
#else
        uint64_t a, b, pat = 0x0101010101010101ULL * (uint8_t)c;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        m = dfc_zero_byte_bits(a ^ pat) | dfc_zero_byte_bits(b ^ pat) << 8;
#endif
        return n >= 16 ? m : m & ((1u << n) - 1);
    }
    uint32_t m = 0;
    for (size_t i = 0; i < n && i < 16; i++) m |= (uint32_t)(p[i] == c) << i;
    return m;
}
/* Words are short: a block of 16 bytes holds the ends of about three, each
 * then found with a count of trailing zeros (wordcount, callgrind: about 20
 * instructions a word against 32 for a search from each word's start; 5%
 * of the whole run). */
static inline bool dfc_split_next(dfc_split_iter *it, dfc_str *part)
{
    if (it->done) return false;
    if (it->sep.len != 1) {
        int64_t left = it->end - it->p;
        const char *q = dfc_find(it->p, left, it->sep);
        if (!q) {
            *part = (dfc_str){it->p, left};
            it->done = true;
            return true;
        }
        *part = (dfc_str){it->p, q - it->p};
        it->p = q + it->sep.len;
        return true;
    }
    while (!it->hits) {
        if (it->scan >= it->end) {
            *part = (dfc_str){it->p, it->end - it->p};
            it->done = true;
            return true;
        }
        size_t n = (size_t)(it->end - it->scan);
        it->blk = it->scan;
        it->hits = dfc_block_hits(it->scan, n, it->sep.ptr[0]);
        it->scan = n > 16 ? it->scan + 16 : it->end;
    }
    const char *q = it->blk + __builtin_ctz(it->hits);
    it->hits &= it->hits - 1;
    *part = (dfc_str){it->p, q - it->p};
    it->p = q + 1;
    return true;
}
static inline bool dfc_is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline dfc_split_iter dfc_split_ws_begin(dfc_str s)
{
    return (dfc_split_iter){.p = s.ptr, .end = s.ptr + s.len};
}
static inline bool dfc_split_ws_next(dfc_split_iter *it, dfc_str *part)
{
    const char *p = it->p, *end = it->end;
    while (p < end && dfc_is_space(*p)) p++;
    if (p == end) { it->p = p; return false; }
    const char *start = p;
    while (p < end && !dfc_is_space(*p)) p++;
    *part = (dfc_str){start, p - start};
    it->p = p;
    return true;
}

/* The arithmetic the generated code uses inline: floor division and modulo
 * as in Python (-7 / 2 == -4, -7 % 2 == 1); a zero divisor, and INT64_MIN / -1
 * (which has no i64 result), fail the step. */
static inline int64_t dfc_i64_div(dfc_worker *w, int64_t a, int64_t b)
{
    if (DFC_UNLIKELY(b == 0)) dfc_fail(w, "division by zero");
    if (DFC_UNLIKELY(b == -1)) {
        if (a == INT64_MIN) dfc_fail(w, "integer overflow");
        return -a;
    }
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}
static inline int64_t dfc_i64_mod(dfc_worker *w, int64_t a, int64_t b)
{
    if (DFC_UNLIKELY(b == 0)) dfc_fail(w, "division by zero");
    if (DFC_UNLIKELY(b == -1)) return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
/* The same by a divisor the compiler knows is positive (a literal): cannot
 * fail, and has no branch; a power of two becomes a shift or a mask. */
static inline int64_t dfc_i64_div_pos(int64_t a, int64_t b)
{
    if ((b & (b - 1)) == 0) return a >> __builtin_ctzll((uint64_t)b); /* arithmetic shift: floors */
    int64_t q = a / b, r = a % b;
    return q - (r < 0);
}
static inline int64_t dfc_i64_mod_pos(int64_t a, int64_t b)
{
    if ((b & (b - 1)) == 0) return a & (b - 1);
    int64_t r = a % b;
    return r + ((r >> 63) & b);
}
double fmod(double, double);
static inline double dfc_f64_mod(double a, double b)
{
    double r = fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
/* join(parts, sep) */
static inline dfc_str dfc_join(dfc_worker *w, dfc_list_str parts, dfc_str sep)
{
    int64_t n = 0;
    for (int64_t i = 0; i < parts.len; i++) n += parts.ptr[i].len + (i ? sep.len : 0);
    char *p = (char *)dfc_arena_alloc(&w->arena, (size_t)n + 1), *q = p;
    for (int64_t i = 0; i < parts.len; i++) {
        if (i && sep.len) { memcpy(q, sep.ptr, (size_t)sep.len); q += sep.len; }
        if (parts.ptr[i].len) { memcpy(q, parts.ptr[i].ptr, (size_t)parts.ptr[i].len); q += parts.ptr[i].len; }
    }
    return (dfc_str){p, n};
}

/* Canonical text (SPEC §2 "Text form of items"), appended to a buffer. */
void dfc_fmt_i64(dfc_buf *b, int64_t v);
void dfc_fmt_f64(dfc_buf *b, double v); /* shortest round-trip text; "1.0", "inf", "nan" */
void dfc_fmt_bool(dfc_buf *b, bool v);
void dfc_fmt_str_quoted(dfc_buf *b, dfc_str s); /* "..." with \" \\ \n \t \r \xHH escapes */
/* str(v) for an i64, written straight into the arena. */
static inline dfc_str dfc_i64_str(dfc_worker *w, int64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char *end = (char *)dfc_arena_alloc(&w->arena, 24) + 24, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) { /* two digits a step */
        uint64_t r = u % 100;
        u /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0) *--p = '-';
    return (dfc_str){p, (int64_t)(end - p)};
}

/* Copies buffer bytes [from, b->len) into the arena as a str. */
dfc_str dfc_buf_to_str(dfc_worker *w, const dfc_buf *b, size_t from);

/* Thread-local arena access for extern C functions that return new strings. */
void *dfc_alloc(size_t n);

/* ---------------------------------------------------------- flow descriptor */

enum dfc_type { DFC_T_BOOL, DFC_T_I64, DFC_T_F64, DFC_T_STR };

typedef struct dfc_param_desc {
    const char *name;
    int type;                 /* enum dfc_type */
    const char *default_text; /* as it would be given on the command line; NULL: required */
    size_t offset;            /* where the value goes in the params struct */
} dfc_param_desc;

enum dfc_source_kind { DFC_SRC_FILE, DFC_SRC_DIR, DFC_SRC_CSV, DFC_SRC_STDIN, DFC_SRC_RANGE };

/* Source arguments, evaluated from params at start-up by flow->resolve. */
typedef struct dfc_source_args {
    dfc_str path;  /* FILE, DIR, CSV */
    dfc_str glob;  /* DIR: file name pattern (fnmatch), "*" by default */
    int64_t n;     /* RANGE */
    bool parallel; /* FILE: byte ranges, one per worker */
    bool unordered; /* FILE parallel, RANGE: set by the compiler when no step
                     * downstream can tell the order of the items or which worker
                     * read them: the workers of a process take its part in chunks */
} dfc_source_args;

typedef struct dfc_source_desc {
    int kind; /* enum dfc_source_kind */
    int step; /* its step id, for messages */
    void (*push_lines)(dfc_worker *w, const dfc_str *lines, size_t n);    /* FILE DIR STDIN */
    void (*push_rows)(dfc_worker *w, const dfc_list_str *rows, size_t n); /* CSV */
    void (*push_range)(dfc_worker *w, int64_t lo, int64_t hi);           /* RANGE: lo..hi-1 */
} dfc_source_desc;

enum dfc_sink_kind { DFC_SINK_STDOUT, DFC_SINK_FILE, DFC_SINK_DIR, DFC_SINK_DISCARD };

typedef struct dfc_sink_desc {
    int kind; /* enum dfc_sink_kind */
    int step;
} dfc_sink_desc;

typedef struct dfc_channel_desc {
    int step; /* the step that receives the channel's items */
    /* Decode `count` items from r and push each downstream. */
    void (*recv)(dfc_worker *w, dfc_reader *r, uint32_t count);
    /* Every producer of the channel has finished: emit final results.  May be NULL. */
    void (*eof)(dfc_worker *w);
    /* Channels whose eof must have run on this worker before it may close this one. */
    int nupstream;
    const int *upstream;
    /* Sends what the sender side has combined locally (e.g. partial counts per
     * key).  The runtime calls it before it flushes the channel's buffers:
     * before an epoch changes, before progress is announced and when idle.
     * May be NULL. */
    void (*combine_flush)(dfc_worker *w);
} dfc_channel_desc;

typedef struct dfc_flow {
    const char *name;
    const char *fingerprint; /* hex hash of the plan: peers must agree */
    const char *graph_dot;   /* --graph */
    int nsteps;
    const char *const *step_ids;
    size_t params_size;
    int nparams;
    const dfc_param_desc *params;
    int nsources;
    const dfc_source_desc *sources;
    int nsinks;
    const dfc_sink_desc *sinks;
    int nchannels;
    const dfc_channel_desc *channels;
    /* Evaluates source arguments and sink paths from the params (w->params). */
    void (*resolve)(dfc_worker *w, dfc_source_args *sources, dfc_str *sink_paths);
    void *(*state_new)(dfc_worker *w);
    void (*state_free)(dfc_worker *w, void *state);
} dfc_flow;

/* The executable's main: parses the command line, runs the flow, returns the
 * exit status (0 done, 1 run-time error, 2 usage error). */
int dfc_main(const dfc_flow *flow, int argc, char **argv);

#endif
