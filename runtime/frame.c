/*
 * frame.c — sealing and opening frames (layout in frame.h and
 * docs/protocol.md).
 *
 * Sealing is ChaCha20-Poly1305-IETF with a counter nonce under a key used in
 * one direction of one connection only.  The clear header carries the body
 * length and the sequence number; both are authenticated as associated data,
 * and the sequence number is also the nonce, so changing it breaks the tag.
 * The receiver checks the number against the one it expects before it
 * decrypts: that is how a replay and a reordering get their own messages.
 */
#include "frame.h"

#include <stdio.h>
#include <string.h>

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
    put_u32be(p, (uint32_t)(v >> 32));
    put_u32be(p + 4, (uint32_t)v);
}

static uint32_t get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64be(const uint8_t *p)
{
    return (uint64_t)get_u32be(p) << 32 | get_u32be(p + 4);
}

static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t seq)
{
    memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
    put_u64be(nonce + crypto_aead_chacha20poly1305_ietf_NPUBBYTES - 8, seq);
}

void dfci_frame_key_init(dfci_frame_key *k, const uint8_t key[DFCI_FRAME_KEY_BYTES])
{
    memcpy(k->key, key, DFCI_FRAME_KEY_BYTES);
    k->seq = 0;
}

void dfci_frame_key_wipe(dfci_frame_key *k)
{
    sodium_memzero(k, sizeof *k);
}

int dfci_frame_seal(dfci_frame_key *k, int type, const uint8_t *payload, size_t len,
                    uint8_t *out, size_t *outlen, char *err, size_t errlen)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    uint8_t *body = out + DFCI_FRAME_HEADER_BYTES;
    size_t mlen = 1 + len;

    if (len > DFCI_FRAME_MAX_PAYLOAD) {
        snprintf(err, errlen, "message of %zu bytes is over the %zu MiB frame limit", len,
                 DFCI_FRAME_MAX_PAYLOAD >> 20);
        return DFCI_FRAME_EBIG;
    }
    put_u32be(out, (uint32_t)(mlen + DFCI_FRAME_TAG_BYTES));
    put_u64be(out + 4, k->seq);
    body[0] = (uint8_t)type;
    if (len) memcpy(body + 1, payload, len);
    make_nonce(nonce, k->seq);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, body + mlen, NULL, body, mlen, out,
                                                       DFCI_FRAME_HEADER_BYTES, NULL, nonce,
                                                       k->key);
    k->seq++;
    *outlen = DFCI_FRAME_HEADER_BYTES + mlen + DFCI_FRAME_TAG_BYTES;
    return 0;
}

int dfci_frame_check_header(const uint8_t hdr[DFCI_FRAME_HEADER_BYTES], size_t *bodylen,
                            char *err, size_t errlen)
{
    uint32_t n = get_u32be(hdr);

    if (n > DFCI_FRAME_MAX_BODY) {
        snprintf(err, errlen, "frame length %u is over the %zu MiB limit", n,
                 DFCI_FRAME_MAX_PAYLOAD >> 20);
        return DFCI_FRAME_EOVERSIZE;
    }
    if (n < DFCI_FRAME_MIN_BODY) {
        snprintf(err, errlen, "frame length %u is too short for a sealed frame", n);
        return DFCI_FRAME_ESHORT;
    }
    *bodylen = n;
    return 0;
}

int dfci_frame_open(dfci_frame_key *k, uint8_t *buf, size_t len, int *type,
                    uint8_t **payload, size_t *paylen, char *err, size_t errlen)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    size_t bodylen, mlen;
    uint64_t seq;
    uint8_t *body;
    int rc;

    if (len < DFCI_FRAME_HEADER_BYTES) {
        snprintf(err, errlen, "truncated frame: %zu of %d header bytes", len,
                 DFCI_FRAME_HEADER_BYTES);
        return DFCI_FRAME_ETRUNC;
    }
    if ((rc = dfci_frame_check_header(buf, &bodylen, err, errlen)) != 0) return rc;
    if (len - DFCI_FRAME_HEADER_BYTES < bodylen) {
        snprintf(err, errlen, "truncated frame: %zu of %zu bytes", len,
                 DFCI_FRAME_HEADER_BYTES + bodylen);
        return DFCI_FRAME_ETRUNC;
    }
    seq = get_u64be(buf + 4);
    if (seq < k->seq) {
        snprintf(err, errlen, "replayed frame (sequence %llu, expected %llu)",
                 (unsigned long long)seq, (unsigned long long)k->seq);
        return DFCI_FRAME_EREPLAY;
    }
    if (seq > k->seq) {
        snprintf(err, errlen, "frame out of order (sequence %llu, expected %llu)",
                 (unsigned long long)seq, (unsigned long long)k->seq);
        return DFCI_FRAME_EORDER;
    }
    body = buf + DFCI_FRAME_HEADER_BYTES;
    mlen = bodylen - DFCI_FRAME_TAG_BYTES;
    make_nonce(nonce, seq);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(body, NULL, body, mlen, body + mlen,
                                                           buf, DFCI_FRAME_HEADER_BYTES, nonce,
                                                           k->key) != 0) {
        snprintf(err, errlen, "frame %llu failed authentication (tampered or corrupted)",
                 (unsigned long long)seq);
        return DFCI_FRAME_EAUTH;
    }
    if (body[0] < DFCI_FRAME_DATA || body[0] > DFCI_FRAME_ABORT) {
        snprintf(err, errlen, "frame %llu has unknown type %u", (unsigned long long)seq, body[0]);
        return DFCI_FRAME_ETYPE;
    }
    k->seq++;
    *type = body[0];
    *payload = body + 1;
    *paylen = mlen - 1;
    return 0;
}
