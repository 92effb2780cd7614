/*
 * Secrets at rest: RADIUS shared secrets and private keys are sealed with
 * AES-256-GCM under the master key before they reach the database.
 *
 * Sealed blob: 0x01 | nonce (12) | ciphertext | tag (16). The caller's
 * context string (e.g. "radius-secret") is bound as additional data, so a
 * blob sealed for one purpose does not open for another.
 */
#ifndef ISTHMUS_AUTH_SEAL_H
#define ISTHMUS_AUTH_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN  32
#define SEAL_OVERHEAD (1 + 12 + 16)

struct seal_key {
    uint8_t key[SEAL_KEY_LEN];
};

/* Reads the master key (64 hex digits) from path; when the file does not
 * exist and create is set, makes a new random key there with mode 0600.
 * Refuses a key file that others can read. Returns 0 or -1 with err. */
int seal_key_load(struct seal_key *k, const char *path, int create, char *err, size_t errlen);
void seal_key_wipe(struct seal_key *k);

/* Seals in[0..inlen) into out (room for inlen + SEAL_OVERHEAD). Returns the
 * sealed length, or -1. */
long seal(const struct seal_key *k, const char *context, const uint8_t *in, size_t inlen,
          uint8_t *out, size_t outcap);

/* Opens a sealed blob into out (room for inlen - SEAL_OVERHEAD). Returns the
 * plaintext length, or -1 if it is malformed, forged, or sealed under another
 * key or context. */
long seal_open(const struct seal_key *k, const char *context, const uint8_t *in, size_t inlen,
               uint8_t *out, size_t outcap);

#endif
