/*
 * test_table.c — dfc_table against a plain reference (an array indexed by
 * key number): inserts, finds, removals, growth and iteration, with real
 * hashes and with a degenerate hash that makes every key collide.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dfc.h"
#include "tap.h"

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
    if (mode == 3) return dfc_hash_str(k) << 60;   /* only high bits differ */
    return dfc_hash_str(k);
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
    dfc_table *t = dfc_table_new(sizeof(val));
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
    run(2, 3000, "256 distinct hashes");
    run(3, 3000, "only high hash bits differ");
    run(1, 500, "all keys collide");

    /* Zero-size values: a set. */
    dfc_table *t = dfc_table_new(0);
    bool created;
    dfc_str a = DFC_STR_LIT("a");
    void *p = dfc_table_upsert(t, a, dfc_hash_str(a), &created);
    t_ok(p != NULL && created && dfc_table_find(t, a, dfc_hash_str(a)) != NULL,
         "value_size 0 works as a set");
    dfc_table_free(t);

    /* Long keys (longer than a key chunk) are copied whole. */
    t = dfc_table_new(8);
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

    return t_done();
}
