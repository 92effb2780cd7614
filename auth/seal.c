/* Sealing secrets at rest: see seal.h. */
#define _GNU_SOURCE
#include "auth/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN   16
#define VERSION   0x01

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int create_key(struct seal_key *k, const char *path, char *err, size_t errlen)
{
    if (RAND_bytes(k->key, SEAL_KEY_LEN) != 1) {
        snprintf(err, errlen, "no randomness for a new master key");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create master key file %s: %s", path, strerror(errno));
        return -1;
    }
    char hex[SEAL_KEY_LEN * 2 + 2];
    for (int i = 0; i < SEAL_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", k->key[i]);
    hex[SEAL_KEY_LEN * 2] = '\n';
    ssize_t w = write(fd, hex, SEAL_KEY_LEN * 2 + 1);
    int sync_rc = fsync(fd);
    close(fd);
    OPENSSL_cleanse(hex, sizeof(hex));
    if (w != SEAL_KEY_LEN * 2 + 1 || sync_rc != 0) {
        unlink(path);
        snprintf(err, errlen, "cannot write master key file %s", path);
        return -1;
    }
    return 0;
}

int seal_key_load(struct seal_key *k, const char *path, int create, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create)
        return create_key(k, path, err, errlen);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open master key file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 0077)) {
        close(fd);
        snprintf(err, errlen,
                 "master key file %s is readable by group or others (mode %03o); "
                 "chmod 600 it",
                 path, (unsigned)(sb.st_mode & 0777));
        return -1;
    }
    /* Room for the digits and some trailing whitespace; a file that fills
     * the buffer is too long to be a key file, whatever follows. */
    char buf[SEAL_KEY_LEN * 2 + 192];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    int rc = -1;
    if (n < SEAL_KEY_LEN * 2 || n == (ssize_t)sizeof(buf))
        goto done;
    for (ssize_t i = SEAL_KEY_LEN * 2; i < n; i++)
        if (buf[i] != '\n' && buf[i] != '\r' && buf[i] != ' ')
            goto done;
    for (int i = 0; i < SEAL_KEY_LEN; i++) {
        int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto done;
        k->key[i] = (uint8_t)(hi << 4 | lo);
    }
    rc = 0;
done:
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc < 0) {
        seal_key_wipe(k);
        snprintf(err, errlen, "master key file %s must hold exactly 64 hex digits", path);
    }
    return rc;
}

void seal_key_wipe(struct seal_key *k)
{
    OPENSSL_cleanse(k->key, sizeof(k->key));
}

static int aad(EVP_CIPHER_CTX *ctx, const char *context)
{
    int len;
    unsigned char v = VERSION;
    if (EVP_CipherUpdate(ctx, NULL, &len, &v, 1) != 1)
        return -1;
    if (context && *context &&
        EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)context, (int)strlen(context)) !=
            1)
        return -1;
    return 0;
}

long seal(const struct seal_key *k, const char *context, const uint8_t *in, size_t inlen,
          uint8_t *out, size_t outcap)
{
    if (inlen > (size_t)1 << 30 || outcap < inlen + SEAL_OVERHEAD)
        return -1;
    long ret = -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -1;
    uint8_t *nonce = out + 1, *ct = out + 1 + NONCE_LEN;
    int len, fin;
    out[0] = VERSION;
    if (RAND_bytes(nonce, NONCE_LEN) != 1)
        goto done;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, nonce) != 1 || aad(ctx, context))
        goto done;
    if (EVP_EncryptUpdate(ctx, ct, &len, in, (int)inlen) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, ct + len, &fin) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + inlen) != 1)
        goto done;
    ret = (long)(inlen + SEAL_OVERHEAD);
done:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

long seal_open(const struct seal_key *k, const char *context, const uint8_t *in, size_t inlen,
               uint8_t *out, size_t outcap)
{
    if (inlen < SEAL_OVERHEAD || in[0] != VERSION)
        return -1;
    size_t ctlen = inlen - SEAL_OVERHEAD;
    if (outcap < ctlen)
        return -1;
    long ret = -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -1;
    const uint8_t *nonce = in + 1, *ct = in + 1 + NONCE_LEN, *tag = ct + ctlen;
    int len, fin;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, nonce) != 1 || aad(ctx, context))
        goto done;
    if (EVP_DecryptUpdate(ctx, out, &len, ct, (int)ctlen) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(uintptr_t)tag) != 1)
        goto done;
    if (EVP_DecryptFinal_ex(ctx, out + len, &fin) != 1) {
        OPENSSL_cleanse(out, ctlen);
        goto done;
    }
    ret = (long)ctlen;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}
