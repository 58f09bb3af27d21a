/*
 * split_check.h — the check of dfc_split_next on a one-byte separator, shared
 * by test_table.c (16-byte SSE2 blocks on x86-64) and test_split_words.c (the
 * two-word blocks of other machines, forced there with DFC_NO_SSE2).
 */
#ifndef SPLIT_CHECK_H
#define SPLIT_CHECK_H

/* Random strings of 0..70 bytes over "a", " ", "!" (' ' ^ 1, which a byte
 * trick with borrows would take for a separator after a space) and NUL, at
 * the end of the page at pg (the page after it unreadable) and at odd places
 * inside it: the parts of a split on ' ' are exactly those of a byte-by-byte
 * split. */
static bool split_like_bytes(char *pg, long page)
{
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        int n = (int)((seed >> 16) % 71);
        char *at = round % 2 ? pg + page - n : pg + 1 + (int)((seed >> 8) % 64);
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            at[i] = "a a!\0"[(seed >> 16) % 5];
        }
        dfc_split_iter it = dfc_split_begin(NULL, (dfc_str){at, n}, DFC_STR_LIT(" "));
        dfc_str part;
        int start = 0, i = 0;
        while (dfc_split_next(&it, &part)) {
            while (i < n && at[i] != ' ') i++; /* the reference part is at[start, i) */
            if (start > n || part.ptr != at + start || part.len != i - start) return false;
            start = ++i;
        }
        if (start != n + 1) return false;
    }
    return true;
}

#endif
