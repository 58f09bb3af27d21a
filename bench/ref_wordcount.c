/* ref_wordcount.c — reference for the "wordcount" figure: a hand-written,
 * single-threaded C word count, the practical limit for one core.  The file
 * is mmap'ed; words are the runs of bytes other than ' ' and '\n'.  Counts
 * live in an open-addressing (linear probing) table grown at 1/2 load; a
 * word of up to 16 bytes is kept inline in its slot as two 64-bit words
 * (compared without memcmp), a longer one is compared against the mapping.
 * Prints "word count" lines (unordered), the same text as bench/wc_seq.flow.
 *   ref_wordcount words.txt > counts.txt
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct slot { uint64_t w0, w1; const char *p; uint32_t len, n; };   /* 32 bytes */

static struct slot *tab;
static size_t cap, used;

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

static uint64_t hash_of(const struct slot *s)
{
    if (s->len <= 16) return mix(s->w0 * 0x9E3779B97F4A7C15ull ^ mix(s->w1 + s->len));
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t j = 0; j < s->len; j++) h = (h ^ (uint8_t)s->p[j]) * 0x100000001b3ull;
    return mix(h);
}

static void grow(void)
{
    size_t ncap = cap ? cap * 2 : 1 << 16;
    struct slot *nt = calloc(ncap, sizeof *nt);
    if (!nt) { perror("ref_wordcount"); exit(1); }
    for (size_t i = 0; i < cap; i++) {
        if (!tab[i].p) continue;
        size_t h = hash_of(&tab[i]) & (ncap - 1);
        while (nt[h].p) h = (h + 1) & (ncap - 1);
        nt[h] = tab[i];
    }
    free(tab);
    tab = nt;
    cap = ncap;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: ref_wordcount FILE\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[1]); return 1; }
    size_t size = st.st_size;
    const char *buf = size ? mmap(0, size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (buf == MAP_FAILED) { perror("mmap"); return 1; }
    if (size) madvise((void *)buf, size, MADV_SEQUENTIAL);
    grow();
    const char *p = buf, *end = buf + size;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\n')) p++;
        if (p >= end) break;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\n') p++;
        uint64_t kw[2] = {0, 0};
        uint32_t len = (uint32_t)(p - w);
        if (len <= 16) memcpy(kw, w, len);
        struct slot k = { kw[0], kw[1], w, len, 1 };
        size_t i = hash_of(&k) & (cap - 1);
        for (;;) {
            struct slot *s = &tab[i];
            if (!s->p) {
                *s = k;
                if (++used * 2 > cap) grow();
                break;
            }
            if (s->w0 == k.w0 && s->w1 == k.w1 && s->len == k.len
                && (k.len <= 16 || !memcmp(s->p, w, k.len))) { s->n++; break; }
            i = (i + 1) & (cap - 1);
        }
    }
    for (size_t i = 0; i < cap; i++)
        if (tab[i].p) printf("%.*s %lld\n", (int)tab[i].len, tab[i].p, (long long)tab[i].n);
    return fflush(stdout) ? 1 : 0;
}
