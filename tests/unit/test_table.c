/*
 * test_table.c — dfc_table against a plain reference (an array indexed by
 * key number): inserts, finds, removals, growth and iteration, with real
 * hashes and with a degenerate hash that makes every key collide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dfc.h"
#include "tap.h"
#include "split_check.h"

typedef struct val {
    int64_t n;
    int64_t check;
} val;

static dfc_str key_of(int i, char *buf)
{
    /* Varying lengths, including the empty key for i == 0. */
    int n = i == 0 ? 0 : snprintf(buf, 64, "key-%d-%.*s", i, i % 23, "abcdefghijklmnopqrstuvwxyz");
    return (dfc_str){buf, n};
}

static uint64_t hash_of(dfc_str k, int mode)
{
    if (mode == 1) return 42;                      /* everything collides */
    if (mode == 2) return dfc_hash_str(k) & 0xff;  /* few distinct hashes */
    if (mode == 3) return (dfc_hash_str(k) & 0xffffffffu) | (7ull << 32); /* high bits alike, as routing leaves them on a worker */
    return dfc_hash_str(k);
}

/* For dfc_table_drop_if: drops every third key, and checks that each key
 * offered is live, offered once, and comes with its own value. */
typedef struct drop_ctx {
    const int64_t *ref;
    int n;
    char *offered;
    size_t dropped;
    int good;
} drop_ctx;

static bool drop_third(void *ctx, dfc_str key, void *value)
{
    drop_ctx *c = ctx;
    const val *v = value;
    char buf[64];
    if (v->check < 0 || v->check >= c->n || c->ref[v->check] < 0) {
        c->good = 0;
        return false;
    }
    dfc_str want = key_of((int)v->check, buf);
    if (!dfc_str_eq(key, want) || v->n != c->ref[v->check]) c->good = 0;
    c->offered[v->check]++;
    if (v->check % 3 != 0) return false;
    c->dropped++;
    return true;
}

/* Checks the whole table against the reference. */
static int consistent(dfc_table *t, const int64_t *ref, int n, int mode)
{
    char buf[64];
    size_t live = 0;
    for (int i = 0; i < n; i++) {
        dfc_str k = key_of(i, buf);
        val *v = dfc_table_find(t, k, hash_of(k, mode));
        if (ref[i] >= 0) {
            live++;
            if (!v || v->n != ref[i] || v->check != i) return 0;
        } else if (v) {
            return 0;
        }
    }
    if (dfc_table_count(t) != live) return 0;
    /* Iteration visits every live key exactly once. */
    char *seen = calloc((size_t)n, 1);
    size_t it = 0, visits = 0;
    dfc_str k;
    void *vp;
    int good = 1;
    while (dfc_table_next(t, &it, &k, &vp)) {
        val *v = vp;
        visits++;
        if (v->check < 0 || v->check >= n || seen[v->check] || ref[v->check] < 0) {
            good = 0;
            break;
        }
        char b2[64];
        dfc_str want = key_of((int)v->check, b2);
        if (!dfc_str_eq(k, want)) good = 0;
        seen[v->check] = 1;
    }
    free(seen);
    return good && visits == live;
}

static void run(int mode, int n, const char *label)
{
    char name[128], buf[64];
    int64_t *ref = calloc((size_t)n, sizeof *ref);
    for (int i = 0; i < n; i++) ref[i] = -1;
    dfc_table *t = dfc_table_new(sizeof(val), (uint64_t)mode);
    srand(1234 + mode);

    /* Insert everything; every new slot must be zeroed. */
    int zeroed = 1, created_ok = 1;
    for (int i = 0; i < n; i++) {
        dfc_str k = key_of(i, buf);
        bool created;
        val *v = dfc_table_upsert(t, k, hash_of(k, mode), &created);
        if (!created) created_ok = 0;
        if (v->n != 0 || v->check != 0) zeroed = 0;
        v->n = i * 3;
        v->check = i;
        ref[i] = i * 3;
    }
    snprintf(name, sizeof name, "%s: %d inserts, new values zeroed", label, n);
    t_ok(zeroed && created_ok, "%s", name);
    snprintf(name, sizeof name, "%s: find and iterate after growth", label);
    t_ok(consistent(t, ref, n, mode), "%s", name);

    /* Upsert of existing keys finds them. */
    int again = 1;
    for (int i = 0; i < n; i += 7) {
        dfc_str k = key_of(i, buf);
        bool created;
        val *v = dfc_table_upsert(t, k, hash_of(k, mode), &created);
        if (created || v->check != i) again = 0;
        v->n += 1;
        ref[i] += 1;
    }
    snprintf(name, sizeof name, "%s: upsert of existing keys", label);
    t_ok(again && consistent(t, ref, n, mode), "%s", name);

    /* dfc_table_drop_if offers each entry once (with its own key) and
     * removes those it drops: here every third key, then none. */
    drop_ctx dc = {ref, n, calloc((size_t)n, 1), 0, 1};
    size_t dropped = dfc_table_drop_if(t, drop_third, &dc);
    int offered_all = dc.good;
    for (int i = 0; i < n; i++) {
        if (ref[i] >= 0 && dc.offered[i] != 1) offered_all = 0;
        if (ref[i] >= 0 && i % 3 == 0) ref[i] = -1;
    }
    snprintf(name, sizeof name, "%s: drop_if offers each key once and removes what it drops", label);
    t_ok(offered_all && dropped == dc.dropped && consistent(t, ref, n, mode), "%s", name);
    free(dc.offered);

    /* Random removals and re-inserts. */
    int rm_ok = 1;
    for (int round = 0; round < 4 * n; round++) {
        int i = rand() % n;
        dfc_str k = key_of(i, buf);
        uint64_t h = hash_of(k, mode);
        if (rand() % 3) {
            bool removed = dfc_table_remove(t, k, h);
            if (removed != (ref[i] >= 0)) rm_ok = 0;
            ref[i] = -1;
        } else {
            bool created;
            val *v = dfc_table_upsert(t, k, h, &created);
            if (created != (ref[i] < 0)) rm_ok = 0;
            if (created && (v->n != 0 || v->check != 0)) rm_ok = 0;
            v->n = round;
            v->check = i;
            ref[i] = round;
        }
        if (round % (n / 4 + 1) == 0 && !consistent(t, ref, n, mode)) rm_ok = 0;
    }
    snprintf(name, sizeof name, "%s: removals (backward shift) and re-inserts", label);
    t_ok(rm_ok && consistent(t, ref, n, mode), "%s", name);

    /* Remove everything; the table is empty and still works. */
    for (int i = 0; i < n; i++) {
        dfc_str k = key_of(i, buf);
        dfc_table_remove(t, k, hash_of(k, mode));
        ref[i] = -1;
    }
    size_t it = 0;
    snprintf(name, sizeof name, "%s: empty after removing all", label);
    t_ok(dfc_table_count(t) == 0 && !dfc_table_next(t, &it, NULL, NULL) &&
             consistent(t, ref, n, mode),
         "%s", name);
    dfc_table_free(t);
    free(ref);
}

int main(void)
{
    run(0, 20000, "real hash");
    /* 80000 keys: 2^17 slots, 4 MiB of entries, on huge pages (memory.c) */
    run(0, 80000, "real hash, entries past 2 MiB");
    run(2, 3000, "256 distinct hashes");
    run(3, 3000, "the high 32 hash bits alike");
    run(1, 500, "all keys collide");

    /* Zero-size values: a set. */
    dfc_table *t = dfc_table_new(0, 1);
    bool created;
    dfc_str a = DFC_STR_LIT("a");
    void *p = dfc_table_upsert(t, a, dfc_hash_str(a), &created);
    t_ok(p != NULL && created && dfc_table_find(t, a, dfc_hash_str(a)) != NULL,
         "value_size 0 works as a set");
    dfc_table_free(t);

    /* Long keys (longer than a key chunk) are copied whole. */
    t = dfc_table_new(8, 2);
    size_t big = 200000;
    char *kb = malloc(big);
    for (size_t i = 0; i < big; i++) kb[i] = (char)('a' + i % 26);
    dfc_str bk = {kb, (int64_t)big};
    int64_t *v = dfc_table_upsert(t, bk, dfc_hash_str(bk), &created);
    *v = 7;
    memset(kb, 'x', big); /* the table holds its own copy */
    for (size_t i = 0; i < big; i++) kb[i] = (char)('a' + i % 26);
    t_ok(*(int64_t *)dfc_table_find(t, bk, dfc_hash_str(bk)) == 7 && dfc_table_count(t) == 1,
         "a key bigger than a chunk");
    free(kb);
    dfc_table_free(t);

    /* Keys whose first bytes agree: zero bytes at the end ("a", "a\0"),
     * keys longer than 8 bytes that differ only past the 8th, keys of up
     * to 16 bytes (kept in the slot) that differ in one byte or in a
     * trailing zero, and longer ones (kept apart) beside them: each with its
     * own value, even when all hashes collide, and iteration gives each one
     * its own bytes back. */
    for (int collide = 0; collide < 2; collide++) {
        static const char *const keys[] = {"a", "a\0", "a\0\0", "", "\0", "abcdefgh", "abcdefghi",
                                           "abcdefghj", "abcdefghij", "abcdefghijklmnopq",
                                           "abcdefghijklmno", "abcdefghijklmno\0", "abcdefghijklmnop",
                                           "abcdefghijklmnoq", "abcdefgXijklmnop", "abcdefghijklmnopr",
                                           "abcdefghijklmnop\0"};
        static const int64_t lens[] = {1, 2, 3, 0, 1, 8, 9, 9, 10, 17, 15, 16, 16, 16, 16, 17, 17};
        size_t nk = sizeof lens / sizeof lens[0];
        t = dfc_table_new(8, 2);
        for (size_t i = 0; i < nk; i++) {
            dfc_str k = {keys[i], lens[i]};
            *(int64_t *)dfc_table_upsert(t, k, collide ? 42 : dfc_hash_str(k), &created) = (int64_t)i;
        }
        bool all = dfc_table_count(t) == nk;
        for (size_t i = 0; i < nk; i++) {
            dfc_str k = {keys[i], lens[i]};
            int64_t *got = dfc_table_find(t, k, collide ? 42 : dfc_hash_str(k));
            all = all && got && *got == (int64_t)i;
        }
        size_t it = 0, visits = 0;
        dfc_str k;
        void *vp;
        while (dfc_table_next(t, &it, &k, &vp)) {
            int64_t i = *(int64_t *)vp;
            visits++;
            all = all && i >= 0 && (size_t)i < nk && dfc_str_eq(k, (dfc_str){keys[i], lens[i]});
        }
        all = all && visits == nk;
        t_ok(all, "keys alike in their first bytes or their length stay apart%s", collide ? " (one hash)" : "");
        dfc_table_free(t);
    }

    /* Short keys are read 8 bytes at a time unless that would cross into
     * the next page: a key that ends a page (the next one unreadable) hashes
     * and compares as the same bytes elsewhere, followed by garbage. */
    long page = sysconf(_SC_PAGESIZE);
    char *pg = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool same = pg != MAP_FAILED && mprotect(pg + page, (size_t)page, PROT_NONE) == 0;
    for (int n = 0; same && n <= 20; n++) {
        char *edge = pg + page - n, elsewhere[64];
        for (int i = 0; i < n; i++) edge[i] = elsewhere[i] = (char)('a' + (i * 7 + n) % 26);
        memset(elsewhere + n, 0x5a, sizeof elsewhere - (size_t)n);
        same = dfc_hash(edge, (size_t)n) == dfc_hash(elsewhere, (size_t)n) &&
               dfc_table_key_head(edge, (size_t)n) == dfc_table_key_head(elsewhere, (size_t)n);
    }
    t_ok(same, "a key at the end of a page hashes as the same bytes elsewhere");
    /* A key made ready for lookups (dfc_hash_key: 0..8, 9..16 and longer
     * keys each have their own path) carries the key's own hash, and
     * finds what an upsert by that hash stored. */
    bool ready = true;
    t = dfc_table_new(8, 2);
    for (int n = 0; n <= 40; n++) {
        char b[64];
        for (int i = 0; i < n; i++) b[i] = (char)('A' + (i * 5 + n) % 26);
        dfc_str k = {b, n};
        dfc_key kk;
        ready = ready && dfc_hash_key(k, &kk) == dfc_hash_str(k) && dfc_key_len(kk) == (size_t)n;
        *(int64_t *)dfc_table_upsert(t, k, dfc_hash_str(k), &created) = n;
        int64_t *got = dfc_table_upsert_prepared(t, kk, &created, NULL);
        ready = ready && !created && *got == n;
    }
    t_ok(ready && dfc_table_count(t) == 41, "a key made ready for lookups hashes and finds as the key itself");
    dfc_table_free(t);
    /* Generated code looks up with DFC_TABLE_ENTRY_SIZE(T) for a table made
     * by dfc_table_new(sizeof(T)): the two must agree, and a sized upsert
     * must find what a plain one stored. */
    {
        typedef struct { int64_t a; double b; bool c; } three; /* 24 bytes */
        typedef struct { char c[5]; } five;
        dfc_table *t8 = dfc_table_new(sizeof(int64_t), 3), *t24 = dfc_table_new(sizeof(three), 4),
                  *t5 = dfc_table_new(sizeof(five), 5);
        bool sizes = t8->entry_size == DFC_TABLE_ENTRY_SIZE(int64_t) &&
                     t24->entry_size == DFC_TABLE_ENTRY_SIZE(three) && t5->entry_size == DFC_TABLE_ENTRY_SIZE(five);
        bool found_all = true;
        for (int i = 0; i < 5000; i++) {
            char b[32];
            dfc_str k = {b, snprintf(b, sizeof b, "key-%d", i * 7)};
            dfc_key kk;
            dfc_hash_key(k, &kk);
            ((three *)dfc_table_upsert(t24, k, dfc_hash_str(k), &created))->b = i;
            three *v = dfc_table_upsert_sized(t24, kk, &created, NULL, DFC_TABLE_ENTRY_SIZE(three));
            found_all = found_all && !created && v->b == i;
            int64_t *c = dfc_table_upsert_sized(t8, kk, &created, NULL, DFC_TABLE_ENTRY_SIZE(int64_t));
            found_all = found_all && created && *c == 0;
            *c = i;
        }
        for (int i = 0; i < 5000; i++) {
            char b[32];
            dfc_str k = {b, snprintf(b, sizeof b, "key-%d", i * 7)};
            int64_t *c = dfc_table_upsert(t8, k, dfc_hash_str(k), &created);
            found_all = found_all && !created && *c == i;
        }
        t_ok(sizes && found_all && dfc_table_count(t8) == 5000 && dfc_table_count(t24) == 5000,
             "DFC_TABLE_ENTRY_SIZE(T) is the entry size of dfc_table_new(sizeof(T)); sized lookups find the same values");
        dfc_table_free(t8);
        dfc_table_free(t24);
        dfc_table_free(t5);
    }
    /* The same for finding a separator: every split of a string that ends
     * a page (lengths 0 to 20, a space every third byte). */
    bool parts_ok = pg != MAP_FAILED;
    for (int n = 0; parts_ok && n <= 20; n++) {
        char *edge = pg + page - n;
        for (int i = 0; i < n; i++) edge[i] = i % 3 == 2 ? ' ' : 'x';
        dfc_split_iter it = dfc_split_begin(NULL, (dfc_str){edge, n}, DFC_STR_LIT(" "));
        dfc_str part;
        int parts = 0, bytes = 0;
        while (dfc_split_next(&it, &part)) {
            parts++;
            bytes += (int)part.len;
            for (int64_t i = 0; i < part.len; i++) parts_ok = parts_ok && part.ptr[i] == 'x';
        }
        parts_ok = parts_ok && parts == n / 3 + 1 && bytes == n - n / 3;
    }
    t_ok(parts_ok, "split finds every separator of a string that ends a page");

    t_ok(pg != MAP_FAILED && split_like_bytes(pg, page),
         "split on one byte (16-byte SSE2 blocks): the parts of a byte-by-byte split, strings of 0..70 bytes");

    return t_done();
}
