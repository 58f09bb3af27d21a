/* gen_words.c — benchmark input generator (measures nothing itself).
 * Writes SIZE bytes of text to stdout: lines of 8..23 words separated by one
 * space, each line ending in '\n'.  Words are drawn from a fixed vocabulary of
 * 100,000 distinct lowercase words (2..14 letters; the frequent ones tend to
 * be short) with a Zipf distribution (s = 1.0): the word of rank r has
 * probability proportional to 1/r; running text averages ~3.6 letters a
 * word.  The output depends only on SIZE and SEED (splitmix64 +
 * xoshiro256**), so the same arguments give the same bytes on
 * every machine; a smaller SIZE with the same SEED gives a prefix of a larger
 * one cut at a line end.
 *   cc -O2 -o gen_words gen_words.c -lm && ./gen_words 268435456 42 > words.txt
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 100000
#define MAXLEN 14

static uint64_t s[4];

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next(void)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}

static double unit(void) { return (next() >> 11) * 0x1.0p-53; }

struct word { char w[MAXLEN + 1]; uint8_t len; uint8_t key; };
static struct word vocab[VOCAB];

/* open-addressing set of the words made so far, to keep them distinct */
#define SET (1u << 18)
static int32_t set[SET];

static uint32_t hash(const char *p, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static int bylen(const void *a, const void *b)
{
    const struct word *x = a, *y = b;
    if (x->key != y->key) return x->key - y->key;
    return strcmp(x->w, y->w);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_words SIZE_BYTES SEED > out.txt\n");
        return 2;
    }
    long long size = atoll(argv[1]);
    uint64_t seed = strtoull(argv[2], 0, 10);
    for (int i = 0; i < 4; i++) s[i] = splitmix(&seed);

    /* vocabulary: lengths roughly like English (mean ~7 letters over the
       vocabulary; the Zipf weighting makes running text average ~5) */
    memset(set, -1, sizeof set);
    for (int i = 0; i < VOCAB;) {
        int len = 2 + (int)(next() % 6) + (int)(next() % 7);   /* 2..13 */
        if (next() % 50 == 0) len = MAXLEN;
        struct word *w = &vocab[i];
        for (int k = 0; k < len; k++) w->w[k] = 'a' + (char)(next() % 26);
        w->w[len] = 0;
        w->len = (uint8_t)len;
        w->key = (uint8_t)(len + next() % 8);   /* frequent words tend to be short */
        uint32_t h = hash(w->w, len) & (SET - 1);
        int dup = 0;
        while (set[h] >= 0) {
            if (vocab[set[h]].len == len && !memcmp(vocab[set[h]].w, w->w, len)) { dup = 1; break; }
            h = (h + 1) & (SET - 1);
        }
        if (dup) continue;
        set[h] = i++;
    }
    qsort(vocab, VOCAB, sizeof vocab[0], bylen);   /* rank 0 = a short word */

    /* Zipf CDF over ranks */
    static double cdf[VOCAB];
    double sum = 0;
    for (int r = 0; r < VOCAB; r++) { sum += 1.0 / (r + 1); cdf[r] = sum; }
    for (int r = 0; r < VOCAB; r++) cdf[r] /= sum;
    cdf[VOCAB - 1] = 1.0;
    /* guide table: guide[i] = first rank whose cdf >= i/GUIDE, so the search
       below starts next to its answer (same result as a binary search) */
    enum { GUIDE = 1 << 20 };
    static int32_t guide[GUIDE + 1];
    for (int i = 0, r = 0; i <= GUIDE; i++) {
        while (r < VOCAB - 1 && cdf[r] < (double)i / GUIDE) r++;
        guide[i] = r;
    }

    static char buf[1 << 16];
    char line[(MAXLEN + 1) * 32];
    size_t used = 0;
    long long written = 0;
    for (;;) {
        int nw = 8 + (int)(next() % 16), n = 0;
        for (int k = 0; k < nw; k++) {
            double u = unit();
            int lo = guide[(int)(u * GUIDE)];
            while (cdf[lo] < u) lo++;
            if (k) line[n++] = ' ';
            memcpy(line + n, vocab[lo].w, vocab[lo].len);
            n += vocab[lo].len;
        }
        line[n++] = '\n';
        if (written + n > size) break;
        if (used + n > sizeof buf) {
            if (fwrite(buf, 1, used, stdout) != used) { perror("gen_words"); return 1; }
            used = 0;
        }
        memcpy(buf + used, line, n);
        used += n;
        written += n;
    }
    if (fwrite(buf, 1, used, stdout) != used || fflush(stdout)) { perror("gen_words"); return 1; }
    return 0;
}
