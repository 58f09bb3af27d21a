/*
 * memory.c — the runtime's allocators: growable byte buffers (dfc_buf), the
 * per-worker arena that holds values made while a batch is processed, and
 * heap copies for values kept in keyed state, and the big zeroed arrays of
 * keyed tables (on huge pages where the kernel gives them).  Running out of
 * memory is not recoverable here: it aborts with a fixed "dfc: out of
 * memory" message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define ARENA_CHUNK (64 * 1024)

struct dfc_arena_chunk {
    dfc_arena_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

static void out_of_memory(size_t n)
{
    fprintf(stderr, "dfc: out of memory (asked for %zu bytes)\n", n);
    abort();
}

void *dfc_heap_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void dfc_heap_free(const void *p) { free((void *)p); }

void *dfci_heap_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size);
    return p;
}

dfc_str dfc_heap_str(dfc_str s)
{
    char *p = dfc_heap_alloc((size_t)s.len);
    if (s.len) memcpy(p, s.ptr, (size_t)s.len);
    return (dfc_str){p, s.len};
}

void dfc_buf_grow(dfc_buf *b, size_t need)
{
    if (b->cap - b->len >= need) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < need) {
        if (cap > SIZE_MAX / 2) out_of_memory(need);
        cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (!d) out_of_memory(cap);
    b->data = d;
    b->cap = cap;
}

void dfc_buf_free(dfc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void *dfc_arena_alloc_slow(dfc_arena *a, size_t n)
{
    size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    dfc_arena_chunk *c = malloc(sizeof *c + size);
    if (!c) out_of_memory(n);
    c->size = size;
    c->next = a->chunks;
    a->chunks = c;
    a->cur = c->data + n;
    a->end = c->data + size;
    return c->data;
}

void dfc_arena_reset(dfc_arena *a)
{
    dfc_arena_chunk *c = a->chunks;
    if (!c) return;
    /* Keep the newest chunk (the one being filled); free the rest. */
    dfc_arena_chunk *rest = c->next;
    while (rest) {
        dfc_arena_chunk *next = rest->next;
        free(rest);
        rest = next;
    }
    c->next = NULL;
    a->cur = c->data;
    a->end = c->data + c->size;
}

void dfc_arena_free(dfc_arena *a)
{
    dfc_arena_chunk *c = a->chunks;
    while (c) {
        dfc_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = a->end = NULL;
}

/* n zeroed elements on their own cache lines (worker structs, inboxes):
 * NULL when out of memory; free with free(). */
void *dfci_calloc_aligned(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = (n * size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p) memset(p, 0, bytes ? bytes : 64);
    return p;
}

/* Arrays this big come from mmap on 2 MiB boundaries, asking for huge
 * pages: a table read at random then needs a TLB entry per 2 MiB, not per
 * 4 KiB (wordcount: -20% time at 8 MiB of entries).  Smaller ones come from
 * calloc. */
#define HUGE_PAGE ((size_t)2 << 20)

void *dfci_pages_alloc(size_t bytes, dfci_pages *pg)
{
    pg->mapped = 0;
    if (bytes < HUGE_PAGE) {
        pg->base = dfci_heap_calloc(bytes + 64, 1);
        return (void *)(((uintptr_t)pg->base + 63) & ~(uintptr_t)63);
    }
    size_t len = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (len < bytes || len + HUGE_PAGE < len) out_of_memory(bytes);
    char *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) out_of_memory(bytes);
    /* Keep the aligned part only. */
    char *start = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    size_t lead = (size_t)(start - m); /* < HUGE_PAGE */
    if (lead) munmap(m, lead);
    munmap(start + len, HUGE_PAGE - lead);
#ifdef MADV_HUGEPAGE
    (void)madvise(start, len, MADV_HUGEPAGE); /* a hint: without it, plain pages */
#endif
    pg->base = start;
    pg->mapped = len;
    return start;
}

void dfci_pages_free(dfci_pages *pg)
{
    if (pg->mapped) munmap(pg->base, pg->mapped);
    else free(pg->base);
    pg->base = NULL;
    pg->mapped = 0;
}
