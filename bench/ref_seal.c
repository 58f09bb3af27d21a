/* ref_seal.c — reference for the "exchange" figure: libsodium's
 * crypto_aead_xchacha20poly1305_ietf_encrypt sealing throughput on one core,
 * 64 KiB messages (a fresh nonce each, as a transport would), in place of
 * the encryption an exchange between processes has to do.
 * Prints "bytes=N seconds=S MB_per_s=R" (MB = 10^6 bytes).
 *   ref_seal 536870912
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG (64 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long long total = argc > 1 ? atoll(argv[1]) : (1ll << 29);
    if (sodium_init() < 0) { fprintf(stderr, "ref_seal: sodium_init failed\n"); return 1; }
    static unsigned char m[MSG], c[MSG + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    randombytes_buf(nonce, sizeof nonce);
    memset(m, 'x', sizeof m);
    long long n = (total + MSG - 1) / MSG;
    unsigned long long clen = 0, check = 0;
    double t0 = now();
    for (long long i = 0; i < n; i++) {
        sodium_increment(nonce, sizeof nonce);
        crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, MSG, 0, 0, 0, nonce, key);
        check += c[i % clen];
    }
    double dt = now() - t0;
    printf("bytes=%lld seconds=%.6f MB_per_s=%.1f check=%llu\n", n * MSG, dt, n * MSG / dt / 1e6, check % 10);
    return 0;
}
