/* API tokens: see token.h. */
#include "auth/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(const uint8_t *in, size_t n, char *out, size_t chars)
{
    /* Each output character takes 6 bits of in, most significant first. */
    size_t bit = 0;
    for (size_t i = 0; i < chars; i++, bit += 6) {
        unsigned v = 0;
        for (int b = 0; b < 6; b++) {
            size_t pos = bit + (size_t)b;
            unsigned bitval = pos / 8 < n ? (in[pos / 8] >> (7 - pos % 8)) & 1 : 0;
            v = v << 1 | bitval;
        }
        out[i] = b64url[v];
    }
    out[chars] = '\0';
}

int token_generate(char text[TOKEN_TEXT_MAX], char id[TOKEN_ID_LEN + 1])
{
    uint8_t rnd[9 + 32];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -1;
    char secret[44];
    encode(rnd, 9, id, TOKEN_ID_LEN);
    encode(rnd + 9, 32, secret, 43);
    memcpy(text, "ist_", 4);
    memcpy(text + 4, id, TOKEN_ID_LEN);
    text[4 + TOKEN_ID_LEN] = '_';
    memcpy(text + 5 + TOKEN_ID_LEN, secret, 44);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

bool token_parse_id(const char *text, char id[TOKEN_ID_LEN + 1])
{
    size_t len = strnlen(text, TOKEN_TEXT_MAX);
    if (len != 4 + TOKEN_ID_LEN + 1 + 43 || memcmp(text, "ist_", 4) != 0 ||
        text[4 + TOKEN_ID_LEN] != '_')
        return false;
    for (size_t i = 4; i < len; i++) {
        if (i == 4 + TOKEN_ID_LEN)
            continue;
        if (!strchr(b64url, text[i]) || text[i] == '\0')
            return false;
    }
    memcpy(id, text + 4, TOKEN_ID_LEN);
    id[TOKEN_ID_LEN] = '\0';
    return true;
}

void token_hash(const char *text, uint8_t out[TOKEN_HASH_LEN])
{
    unsigned int n = TOKEN_HASH_LEN;
    EVP_Digest(text, strlen(text), out, &n, EVP_sha256(), NULL);
}

bool token_matches(const char *text, const uint8_t *stored, size_t stored_len)
{
    uint8_t h[TOKEN_HASH_LEN];
    if (stored_len != TOKEN_HASH_LEN)
        return false;
    token_hash(text, h);
    return CRYPTO_memcmp(h, stored, TOKEN_HASH_LEN) == 0;
}
