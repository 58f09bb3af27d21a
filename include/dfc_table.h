/*
 * dfc_table.h — the layout of dfc_table and the lookup of a key, inline, so
 * that a keyed step finds an existing key without a function call.  Adding a
 * key (and growing), removal, iteration and freeing are in runtime/table.c,
 * whose opening comment describes the design: open addressing with linear
 * probing; an entry is a 24-byte slot (the key's length and 31 bits of its
 * hash in one word, then the key itself when it has at most 16 bytes, or
 * its first 8 bytes and a pointer to all of them) followed by the key's
 * value: 32 bytes for an 8-byte value, so that a lookup touches one cache
 * line, and a key of up to 16 bytes compares without a pointer chase.
 * Included by dfc.h.
 */
#ifndef DFC_TABLE_H
#define DFC_TABLE_H

typedef struct dfc_table_slot {
    uint64_t tag;  /* 0: empty slot; else see dfc_table_tag */
    uint64_t head; /* the key's first bytes (dfc_table_key_head) */
    uint64_t rest; /* a key of up to 16 bytes: its bytes 8..15, zero-padded
                    * (so head and rest hold the whole key, in order); a
                    * longer key: the address of its bytes (char *) */
} dfc_table_slot;

/* The key's length << 32 | 1 << 31 | 31 bits of its hash: never 0. */
static inline uint64_t dfc_table_tag(uint64_t hash, size_t len)
{
    return ((uint64_t)len << 32) | (uint32_t)hash | 0x80000000u;
}
static inline size_t dfc_table_slot_len(const dfc_table_slot *s) { return (size_t)(s->tag >> 32); }
#define DFC_TABLE_INLINE_KEY 16 /* keys up to this long live in the slot */
/* The table's own copy of a slot's key: in the slot itself, or in the
 * table's key storage. */
static inline dfc_str dfc_table_slot_key(const dfc_table_slot *s)
{
    size_t len = dfc_table_slot_len(s);
    const char *p = len <= DFC_TABLE_INLINE_KEY ? (const char *)&s->head : (const char *)(uintptr_t)s->rest;
    return (dfc_str){p, (int64_t)len};
}

typedef struct dfc_table_chunk dfc_table_chunk;
/* Memory from dfci_pages_alloc (runtime/memory.c): where it starts, and how
 * much was mapped (0: from calloc). */
typedef struct dfci_pages {
    void *base;
    size_t mapped;
} dfci_pages;

/* Most fields a lookup reads are of types that a store to an i64 value
 * cannot alias (pointers, 32-bit integers), so the C compiler keeps them in
 * registers across the items of a batch; mult (64-bit) can be aliased, and
 * is read again from L1 after such a store. */
struct dfc_table {
    char *entries;       /* cap * entry_size bytes, on a 64-byte boundary */
    uint32_t entry_size; /* sizeof(dfc_table_slot) + stride */
    uint32_t mask;       /* cap - 1 (cap is at most 2^31) */
    unsigned shift;      /* 64 - log2(cap) */
    uint64_t mult;       /* odd, from the table's seed: see dfc_table_home */
    size_t value_size, stride; /* stride: value_size rounded up to 8 */
    size_t cap, count;
    dfci_pages entries_mem; /* what was allocated for them */
    dfc_table_chunk *chunks;
    size_t live_bytes, dead_bytes;
};

/* The size of an entry of a table whose values are T, as a constant: what
 * dfc_table_new(sizeof(T), ...) sets entry_size to.  Generated code passes
 * it to the _sized lookups below, so the C compiler computes the entry's
 * address with a constant (a shift for the 32-byte entries of 8-byte
 * values) instead of a multiply by a field, on the lookup's chain of
 * dependent loads (wordcount -w1: -3.1% instructions). */
#define DFC_TABLE_ENTRY_SIZE(T) (sizeof(dfc_table_slot) + ((sizeof(T) + 7) & ~(size_t)7))

static DFC_ALWAYS_INLINE dfc_table_slot *dfc_table_slot_sized(const dfc_table *t, size_t i, size_t esize)
{
    return (dfc_table_slot *)(t->entries + i * esize);
}
static inline dfc_table_slot *dfc_table_slot_at(const dfc_table *t, size_t i)
{
    return dfc_table_slot_sized(t, i, t->entry_size);
}

/* The value of entry i (nothing to read or write there when values have no
 * size). */
static inline void *dfc_table_value_at(const dfc_table *t, size_t i)
{
    return dfc_table_slot_at(t, i) + 1;
}

/* The key's first min(n, 8) bytes: for a given length, different bytes
 * give different heads. */
static inline uint64_t dfc_table_key_head(const char *p, size_t n)
{
    return dfc_load_upto8(p, n);
}

/* The home slot comes from the low 32 bits of the hash (keyed routing uses
 * the high 32, so they are alike for every key on a worker), spread by
 * taking the high bits of their product with the table's own odd
 * multiplier; a tag holds them.  Tables of different seeds order their keys
 * differently: with one multiplier for all, the keys of a table iterated in
 * slot order (a final step's output, a combining table's flush) and added
 * to another table would land in a few long runs, each insert probing
 * through them (99k such keys took 0.9 s instead of 17 ms). */
static inline size_t dfc_table_home(const dfc_table *t, uint64_t hash)
{
    return (size_t)(((uint64_t)(uint32_t)hash * t->mult) >> t->shift);
}

/* Items a keyed step queues while their slots are prefetched (codegen's
 * defer_N): enough to cover a miss to memory, few enough to stay in L1. */
#define DFC_RING 16

/* A step that combines values per key before sending them (count_final,
 * max/min_final) sends and forgets its partial values when it holds
 * DFC_COMBINE_KEYS of them and twice as many as the keys the worker owns in
 * the step.  So combining at most triples a worker's keyed state (plus a
 * constant), and with few workers, where a worker sees about as many keys
 * of others as of its own, the partial values of a big vocabulary are not
 * sent, forgotten and gathered again over and over (wordcount -w2: a fixed
 * 45000 keys cost 12% more CPU time). */
#define DFC_COMBINE_KEYS 45000
static inline bool dfc_combine_due(size_t partial, size_t owned)
{
    return partial >= DFC_COMBINE_KEYS && partial >= 2 * owned;
}

static DFC_ALWAYS_INLINE void dfc_table_prefetch_sized(const dfc_table *t, uint64_t hash, size_t esize)
{
    __builtin_prefetch(dfc_table_slot_sized(t, dfc_table_home(t, hash), esize));
}

/* A key made ready for lookups: its bytes, and its tag, head and rest as a
 * slot holding it has them (rest is 0 for a key longer than 16 bytes),
 * computed once with its hash: a keyed step queues keys in this form, so
 * that the lookup does not read the key's bytes again. */
typedef struct dfc_key {
    const char *ptr;
    uint64_t tag, head, rest;
} dfc_key;

DFC_NORETURN void dfci_table_key_too_long(size_t len); /* keys are shorter than 4 GiB */
/* Bytes 8..15 of a key of 9..16 bytes, zero-padded, from its last 8 bytes. */
static inline uint64_t dfc_table_key_rest(uint64_t last, size_t n) { return last >> (8 * (16 - n)); }
/* s ready for lookups, given its hash and its first bytes (dfc_table_key_head). */
static DFC_ALWAYS_INLINE dfc_key dfc_key_from(dfc_str s, uint64_t hash, uint64_t head)
{
    size_t n = (size_t)s.len;
    if (DFC_UNLIKELY((uint64_t)s.len > UINT32_MAX)) dfci_table_key_too_long(n);
    uint64_t rest = 0;
    if (n > 8 && n <= DFC_TABLE_INLINE_KEY) rest = dfc_table_key_rest(dfc_load8(s.ptr + n - 8), n);
    return (dfc_key){s.ptr, dfc_table_tag(hash, n), head, rest};
}
static DFC_ALWAYS_INLINE dfc_key dfc_key_make(dfc_str s, uint64_t hash)
{
    return dfc_key_from(s, hash, dfc_table_key_head(s.ptr, (size_t)s.len));
}
static inline size_t dfc_key_len(dfc_key k) { return (size_t)(k.tag >> 32); }

/* The hash of s (dfc_hash) and s made ready for lookups, from one read of
 * its bytes: its first 8, and for 9..16 bytes its last 8 as well.  (Written
 * out: dfc_hash_first then dfc_key_from read the last 8 twice, +4%
 * instructions on wordcount.) */
static DFC_ALWAYS_INLINE uint64_t dfc_hash_key(dfc_str s, dfc_key *k)
{
    size_t n = (size_t)s.len;
    uint64_t first = dfc_table_key_head(s.ptr, n), h;
    if (DFC_LIKELY(n <= 8)) {
        h = dfc_hash_words(0, first, n);
        *k = (dfc_key){s.ptr, dfc_table_tag(h, n), first, 0};
    } else if (n <= DFC_TABLE_INLINE_KEY) {
        uint64_t last = dfc_load8(s.ptr + n - 8);
        h = dfc_hash_two(first, last, n);
        *k = (dfc_key){s.ptr, dfc_table_tag(h, n), first, dfc_table_key_rest(last, n)};
    } else {
        h = dfc_hash_long(s.ptr, n);
        *k = dfc_key_from(s, h, first);
    }
    return h;
}

/* Index of the key's slot, or of the empty slot ending its probe run
 * (*found tells which).  The home slot comes from the tag's hash bits. */
static DFC_ALWAYS_INLINE size_t dfc_table_probe_sized(const dfc_table *t, dfc_key k, bool *found,
                                                       size_t esize)
{
    size_t i = dfc_table_home(t, k.tag), len = dfc_key_len(k);
    for (;;) {
        const dfc_table_slot *s = dfc_table_slot_sized(t, i, esize);
        if (!s->tag) {
            *found = false;
            return i;
        }
        if (s->tag == k.tag && s->head == k.head &&
            (s->rest == k.rest ||
             (len > DFC_TABLE_INLINE_KEY && dfc_bytes_eq((const char *)(uintptr_t)s->rest + 8, k.ptr + 8, len - 8)))) {
            *found = true;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}
static DFC_ALWAYS_INLINE size_t dfc_table_probe_key(const dfc_table *t, dfc_key k, bool *found)
{
    return dfc_table_probe_sized(t, k, found, t->entry_size);
}
static DFC_ALWAYS_INLINE size_t dfc_table_probe(const dfc_table *t, dfc_str key, uint64_t hash, bool *found)
{
    return dfc_table_probe_key(t, dfc_key_make(key, hash), found);
}

/* Adds a key that dfc_table_probe did not find (runtime/table.c). */
void *dfci_table_insert(dfc_table *t, dfc_key key, dfc_str *stored);

/* The value of key, added (zeroed) if it was not there; esize is t's
 * entry_size (DFC_TABLE_ENTRY_SIZE of its value type). */
static DFC_ALWAYS_INLINE void *dfc_table_upsert_sized(dfc_table *t, dfc_key key, bool *created, dfc_str *stored,
                                                      size_t esize)
{
    bool found;
    size_t i = dfc_table_probe_sized(t, key, &found, esize);
    if (DFC_UNLIKELY(!found)) {
        if (created) *created = true;
        return dfci_table_insert(t, key, stored);
    }
    if (created) *created = false;
    dfc_table_slot *s = dfc_table_slot_sized(t, i, esize);
    if (stored) *stored = dfc_table_slot_key(s);
    return s + 1;
}
static DFC_ALWAYS_INLINE void *dfc_table_upsert_prepared(dfc_table *t, dfc_key key, bool *created,
                                                         dfc_str *stored)
{
    return dfc_table_upsert_sized(t, key, created, stored, t->entry_size);
}
static DFC_ALWAYS_INLINE void *dfc_table_upsert_key(dfc_table *t, dfc_str key, uint64_t hash, bool *created,
                                                    dfc_str *stored)
{
    return dfc_table_upsert_prepared(t, dfc_key_make(key, hash), created, stored);
}

static inline size_t dfc_table_count(const dfc_table *t) { return t->count; }

static DFC_ALWAYS_INLINE void *dfc_table_upsert(dfc_table *t, dfc_str key, uint64_t hash, bool *created)
{
    return dfc_table_upsert_key(t, key, hash, created, NULL);
}

#endif
