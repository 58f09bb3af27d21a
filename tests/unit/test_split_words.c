/*
 * test_split_words.c — dfc_split_next on a one-byte separator as machines
 * without SSE2 run it (DFC_NO_SSE2: 16-byte blocks read as two words, exact
 * zero-byte masks gathered by a multiply), against a byte-by-byte split.
 */
#define DFC_NO_SSE2 1
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dfc.h"
#include "tap.h"
#include "split_check.h"

int main(void)
{
    bool ok = true;
    for (int i = 0; i < 256 && ok; i++) { /* one byte of 8 zero, each place */
        for (int at = 0; at < 8; at++) {
            uint64_t v = 0x0101010101010101ULL * (uint8_t)(i ? i : 1);
            v &= ~((uint64_t)0xFF << (8 * at));
            ok = ok && dfc_zero_byte_bits(v) == (1u << at);
        }
    }
    ok = ok && dfc_zero_byte_bits(0) == 0xFF && dfc_zero_byte_bits(~(uint64_t)0) == 0 &&
         dfc_zero_byte_bits(0x0100010001000100ULL) == 0x55;
    t_ok(ok, "dfc_zero_byte_bits: bit i for each zero byte i, exact");

    long page = sysconf(_SC_PAGESIZE);
    char *pg = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool guarded = pg != MAP_FAILED && mprotect(pg + page, (size_t)page, PROT_NONE) == 0;
    t_ok(guarded && split_like_bytes(pg, page),
         "split on one byte (two-word blocks): the parts of a byte-by-byte split, strings of 0..70 bytes");
    return t_done();
}
