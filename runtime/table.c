/*
 * table.c — dfc_table, the keyed state of stateful steps: str keys to
 * fixed-size values.
 *
 * Open addressing with linear probing over a power-of-two array of slots.
 * An entry is a slot — a tag (the key's length and 31 bits of its hash,
 * compared before the bytes; 0 in an empty slot), then the key itself when
 * it has at most 16 bytes, or its first 8 bytes and a pointer to all of
 * them — followed by the value, value_size rounded up to 8 bytes (values
 * are 8-byte aligned), zeroed when created.  The home slot comes from the
 * high bits of (the tag's low 32 bits) * an odd multiplier made from the
 * table's seed: keyed routing uses the high 32 bits of the hash, alike for
 * every key on a worker; tables of different seeds order keys differently.  Keys are
 * shorter than 4 GiB (the tag's length field).  The table grows (doubles)
 * past 70% load; deletion moves later entries of the probe run back into
 * the hole (backward shift), so there are no tombstones.  Value addresses
 * change when the table grows and when an entry is removed (entries after
 * it may shift back).
 *
 * Keys longer than 16 bytes are copied into chunked storage owned by the
 * table (no malloc per key).  Removed keys leave dead bytes that are reclaimed by compaction
 * (copy live keys into fresh chunks) once they outweigh the live ones.
 *
 * Iteration walks slot indexes, which is also how snapshots will serialize
 * a table.  Do not upsert or remove while iterating.
 *
 * The layout and the lookup of an existing key are in include/dfc_table.h,
 * inline, so that generated steps find a key without a call; this file adds
 * keys, grows, removes, iterates and frees.
 */
#include <stdlib.h>

#include "internal.h"

typedef dfc_table_slot slot;
typedef dfc_table_chunk key_chunk;


struct dfc_table_chunk {
    dfc_table_chunk *next;
    size_t used, size;
    char data[];
};

#define TABLE_MIN_CAP 16
#define KEY_CHUNK (64 * 1024)






#define SLOT(t, i) dfc_table_slot_at((t), (i))

static unsigned log2_size(size_t n)
{
    unsigned k = 0;
    while (((size_t)1 << k) < n) k++;
    return k;
}


/* Copies key bytes into chunk storage; never returns NULL. */
static const char *key_store(key_chunk **chunks, const char *p, size_t n)
{
    key_chunk *c = *chunks;
    size_t need = n ? n : 1;
    if (!c || c->size - c->used < need) {
        size_t size = need > KEY_CHUNK ? need : KEY_CHUNK;
        c = dfc_heap_alloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = *chunks;
        *chunks = c;
    }
    char *dst = c->data + c->used;
    if (n) memcpy(dst, p, n);
    c->used += need;
    return dst;
}

static void chunks_free(key_chunk *c)
{
    while (c) {
        key_chunk *next = c->next;
        dfc_heap_free(c);
        c = next;
    }
}

/* Does the slot keep its key in chunk storage (slot->rest its address)? */
static bool stored_apart(const slot *s) { return dfc_table_slot_len(s) > DFC_TABLE_INLINE_KEY; }

/* Rewrites every live key kept apart into fresh chunks and drops the old ones. */
static void compact_keys(dfc_table *t)
{
    key_chunk *fresh = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        slot *s = SLOT(t, i);
        if (s->tag && stored_apart(s))
            s->rest = (uintptr_t)key_store(&fresh, (const char *)(uintptr_t)s->rest, dfc_table_slot_len(s));
    }
    chunks_free(t->chunks);
    t->chunks = fresh;
    t->dead_bytes = 0;
}

static void table_alloc(dfc_table *t, size_t cap)
{
    if (cap > ((size_t)1 << 31)) {
        fprintf(stderr, "dfc: a table of more than 2^31 slots\n");
        abort();
    }
    t->cap = cap;
    t->mask = (uint32_t)(cap - 1);
    t->shift = 64 - log2_size(cap);
    /* On cache-line boundaries, so that a 32-byte entry never spans two;
     * zeroed pages, touched only when used; huge pages for a big array. */
    t->entries = dfci_pages_alloc(cap * t->entry_size, &t->entries_mem);
}

/* splitmix64's finalizer: a seed's bits spread over the multiplier */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

dfc_table *dfc_table_new(size_t value_size, uint64_t seed)
{
    dfc_table *t = dfci_heap_calloc(1, sizeof *t);
    t->mult = mix64(seed) | 1;
    t->value_size = value_size;
    t->stride = (value_size + 7) & ~(size_t)7;
    if (t->stride > UINT32_MAX - sizeof(slot)) {
        fprintf(stderr, "dfc: table values of %zu bytes are too big\n", value_size);
        abort();
    }
    t->entry_size = (uint32_t)(sizeof(slot) + t->stride);
    table_alloc(t, TABLE_MIN_CAP);
    return t;
}

void dfc_table_free(dfc_table *t)
{
    if (!t) return;
    chunks_free(t->chunks);
    dfci_pages_free(&t->entries_mem);
    free(t);
}

static void grow(dfc_table *t)
{
    char *old = t->entries;
    dfci_pages old_mem = t->entries_mem;
    size_t oldcap = t->cap;
    table_alloc(t, oldcap * 2);
    for (size_t i = 0; i < oldcap; i++) {
        const slot *o = (const slot *)(old + i * t->entry_size);
        if (!o->tag) continue;
        size_t j = dfc_table_home(t, o->tag);
        while (SLOT(t, j)->tag) j = (j + 1) & t->mask;
        memcpy(SLOT(t, j), o, t->entry_size);
    }
    dfci_pages_free(&old_mem);
    if (t->dead_bytes > t->live_bytes) compact_keys(t);
}

void dfci_table_key_too_long(size_t len)
{
    fprintf(stderr, "dfc: a key of %zu bytes is too long for keyed state (the limit is 4 GiB)\n", len);
    abort();
}

/* Adds a key that dfc_table_probe did not find, growing first when the
 * table would pass 70% load. */
void *dfci_table_insert(dfc_table *t, dfc_key key, dfc_str *stored)
{
    bool found;
    size_t i, len = dfc_key_len(key);
    if ((t->count + 1) * 10 > t->cap * 7) grow(t);
    i = dfc_table_probe_key(t, key, &found);
    slot *s = SLOT(t, i);
    s->tag = key.tag;
    s->head = key.head;
    s->rest = key.rest;
    if (stored_apart(s)) {
        s->rest = (uintptr_t)key_store(&t->chunks, key.ptr, len);
        t->live_bytes += len;
    }
    t->count++;
    if (t->stride) memset(dfc_table_value_at(t, i), 0, t->stride);
    if (stored) *stored = dfc_table_slot_key(s);
    return dfc_table_value_at(t, i);
}

void *dfc_table_find(const dfc_table *t, dfc_str key, uint64_t hash)
{
    bool found;
    size_t i = dfc_table_probe(t, key, hash, &found);
    if (!found) return NULL;
    return dfc_table_value_at(t, i);
}

/* Empties slot i: the rest of its probe run moves back (backward shift).
 * Entries before i in the run, and other runs, stay where they are. */
static void remove_at(dfc_table *t, size_t i)
{
    if (stored_apart(SLOT(t, i))) {
        t->live_bytes -= dfc_table_slot_len(SLOT(t, i));
        t->dead_bytes += dfc_table_slot_len(SLOT(t, i));
    }
    t->count--;
    /* Backward shift: walk the rest of the probe run; an entry whose home
     * is not cyclically in (hole, j] moves into the hole, and its old slot
     * becomes the hole. */
    for (size_t j = (i + 1) & t->mask; SLOT(t, j)->tag; j = (j + 1) & t->mask) {
        size_t h = dfc_table_home(t, SLOT(t, j)->tag);
        if (((j - h) & t->mask) < ((j - i) & t->mask)) continue; /* stays */
        memcpy(SLOT(t, i), SLOT(t, j), t->entry_size);
        i = j;
    }
    memset(SLOT(t, i), 0, t->entry_size);
}

/* Reclaims dead key bytes once they outweigh both the live keys and a
 * share of the slot array (so a compaction's cost is paid for). */
static void maybe_compact(dfc_table *t)
{
    size_t floor_bytes = t->cap * t->entry_size / 4;
    if (t->dead_bytes > KEY_CHUNK && t->dead_bytes > t->live_bytes && t->dead_bytes > floor_bytes)
        compact_keys(t);
}

bool dfc_table_remove(dfc_table *t, dfc_str key, uint64_t hash)
{
    bool found;
    size_t i = dfc_table_probe(t, key, hash, &found);
    if (!found) return false;
    remove_at(t, i);
    maybe_compact(t);
    return true;
}

/* One pass over the slots, starting after an empty one (there is always
 * one: the load stays under 70%).  Removing at i only moves entries of i's
 * probe run that come after i, which the pass has not reached yet, back
 * into i; so slot i is looked at again, and every entry is offered to
 * `drop` exactly once.  No run crosses the empty start slot, so nothing
 * wraps around into the part already passed. */
size_t dfc_table_drop_if(dfc_table *t, bool (*drop)(void *ctx, dfc_str key, void *value), void *ctx)
{
    if (t->count == 0) return 0;
    size_t start = 0, dropped = 0;
    while (SLOT(t, start)->tag) start++;
    for (size_t left = t->cap - 1, i = (start + 1) & t->mask; left > 0;) {
        slot *s = SLOT(t, i);
        if (s->tag && drop(ctx, dfc_table_slot_key(s), dfc_table_value_at(t, i))) {
            remove_at(t, i);
            dropped++;
            continue;
        }
        i = (i + 1) & t->mask;
        left--;
    }
    maybe_compact(t);
    return dropped;
}


bool dfc_table_next(const dfc_table *t, size_t *iter, dfc_str *key, void **value)
{
    for (size_t i = *iter; i < t->cap; i++) {
        const slot *s = SLOT(t, i);
        if (!s->tag) continue;
        if (key) *key = dfc_table_slot_key(s);
        if (value) *value = dfc_table_value_at(t, i);
        *iter = i + 1;
        return true;
    }
    *iter = t->cap;
    return false;
}
