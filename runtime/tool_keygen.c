/*
 * tool_keygen.c — `dfc keygen`: prints a new cluster secret, 64 lowercase
 * hex digits and a newline, from libsodium's randombytes_buf.  The file it
 * goes to is what --secret-file reads (dfci_secret_load).
 *
 *   cc runtime/tool_keygen.c -lsodium -o build/dfc-keygen
 *   dfc keygen > cluster.key && chmod 600 cluster.key
 */
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

int main(void)
{
    uint8_t key[32];
    char hex[sizeof key * 2 + 1];

    if (sodium_init() < 0) {
        fprintf(stderr, "dfc keygen: libsodium failed to initialise\n");
        return 1;
    }
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    sodium_memzero(key, sizeof key);
    if (printf("%s\n", hex) < 0 || fflush(stdout) != 0) {
        sodium_memzero(hex, sizeof hex);
        fprintf(stderr, "dfc keygen: cannot write the key\n");
        return 1;
    }
    sodium_memzero(hex, sizeof hex);
    return 0;
}
