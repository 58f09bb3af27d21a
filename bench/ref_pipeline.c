/* ref_pipeline.c — reference for the "pipeline" figure: the arithmetic of
 * bench/pipeline.flow (range(n) | map(x*3+1) | filter(x%7 != 0) | map(x/2+5)
 * | sum) as one hand-written C loop, compiled with the flags dfc gives the C
 * it generates (-O2 -fwrapv).  n comes from argv so the
 * compiler cannot fold the loop away.  Prints the sum.
 *   ref_pipeline 100000000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? strtoll(argv[1], 0, 10) : 1000;
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = i * 3 + 1;
        if (x % 7 == 0) continue;
        x = x / 2 + 5;
        sum += x;
    }
    printf("%lld\n", (long long)sum);
    return 0;
}
