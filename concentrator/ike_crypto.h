/*
 * The IKEv2 Encrypted payload (SK, RFC 7296 3.14) and Encrypted Fragment
 * payload (SKF, RFC 7383 2.5), encrypted and checked in place in a message
 * buffer.
 *
 *   IKE header | ... | SK header (4) [| Frag Num (2) | Total (2)] | IV |
 *       inner payloads | padding | pad length (1) | ICV
 *
 * Ciphers: AES-CBC 128/192/256 with HMAC-SHA1-96 (weak), HMAC-SHA2-256-128,
 * -384-192, -512-256, where the ICV covers the whole message from the IKE
 * header to the end of the encrypted data; and the AEAD ciphers AES-GCM
 * with 8/12/16-byte ICV and ChaCha20-Poly1305 (RFC 5282, RFC 7634): 8-byte
 * IV, nonce = 4-byte salt (the last bytes of SK_e) | IV, AAD = every byte
 * from the start of the IKE header to the end of the SK (or SKF) header.
 *
 * A struct ike_sk_ctx holds one direction's keys with its OpenSSL contexts
 * keyed once (cipher key schedule, HMAC pads), so a message costs no
 * re-keying. It either encrypts (our outgoing messages) or decrypts
 * (incoming): make one of each per IKE SA. One thread uses a context at a
 * time (the IKE thread owns them). Keys are wiped when it is freed.
 */
#ifndef ISTHMUS_IKE_CRYPTO_H
#define ISTHMUS_IKE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_keymat.h"

#define IKE_HDR_LEN     28 /* RFC 7296 3.1 */
#define IKE_SK_HDR_LEN  4  /* generic payload header */
#define IKE_SKF_HDR_LEN 8  /* generic header + Fragment Number + Total Fragments */
#define IKE_MSG_MAX     65535

enum ike_sk_status {
    IKE_SK_OK = 0,
    IKE_SK_ERR_FORMAT = -1,   /* offsets, lengths or block alignment wrong, or too short */
    IKE_SK_ERR_ICV = -2,      /* integrity check failed: the message is not authentic */
    IKE_SK_ERR_PAD = -3,      /* authentic, but its pad length runs past the content */
    IKE_SK_ERR_INTERNAL = -4, /* OpenSSL failure, no room, IV space exhausted */
};

struct ike_sk_ctx;

/* A context for one direction. encr/keybits/integ are the IKE SA's
 * transforms (integ IKE_INTEG_NONE for AEAD); encr_key is SK_ei or SK_er
 * (salt included for AEAD), integ_key SK_ai or SK_ar (NULL/0 for AEAD).
 * encrypt selects the direction. Keys are copied into OpenSSL's contexts.
 * NULL on unsupported transforms, wrong key lengths or OpenSSL failure. */
struct ike_sk_ctx *ike_sk_ctx_new(uint16_t encr, uint16_t keybits, uint16_t integ,
                                  const uint8_t *encr_key, size_t encr_key_len,
                                  const uint8_t *integ_key, size_t integ_key_len, bool encrypt);

/* Both contexts of an IKE SA from its derived keys: as initiator we encrypt
 * with SK_ei/SK_ai and decrypt with SK_er/SK_ar; as responder the reverse.
 * Returns 0 or -1 (nothing allocated). */
int ike_sk_pair_new(const struct ike_sa_transforms *t, const struct ike_sa_keys *k, bool initiator,
                    struct ike_sk_ctx **out_ctx, struct ike_sk_ctx **in_ctx);

/* Wipes and frees; NULL accepted. */
void ike_sk_ctx_free(struct ike_sk_ctx *c);

size_t ike_sk_iv_len(const struct ike_sk_ctx *c);
size_t ike_sk_icv_len(const struct ike_sk_ctx *c);
/* Bytes the Encrypted payload's body takes for plain_len bytes of inner
 * payloads: IV + inner + padding + pad length + ICV (header not included). */
size_t ike_sk_body_len(const struct ike_sk_ctx *c, size_t plain_len);
/* Upper bound of ike_sk_body_len(c, n) - n, for sizing buffers. */
size_t ike_sk_overhead_max(const struct ike_sk_ctx *c);

/* Encrypts in place. On entry msg holds the IKE header, any payloads before
 * the Encrypted payload, its header at sk_off (SKF header when skf) with
 * the Next Payload field set, and right after that header the inner payloads
 * in clear, up to *msg_len. The inner payloads are moved up to make room for
 * the IV; padding, pad length and ICV are appended; the Encrypted payload's
 * Payload Length and the IKE header's Length are set; then the message is
 * encrypted and authenticated. *msg_len gets the final length, which must
 * fit in msg_cap and IKE_MSG_MAX. Returns IKE_SK_OK or an error (the buffer
 * is then not a valid message). */
enum ike_sk_status ike_sk_encrypt(struct ike_sk_ctx *c, uint8_t *msg, size_t msg_cap, size_t sk_off,
                                  bool skf, size_t *msg_len);

/* Checks and decrypts in place the Encrypted (or, with skf, Encrypted
 * Fragment) payload at sk_off, which must be the last payload: msg_len is
 * the whole message and the payload's length field must reach its end.
 * Integrity is checked first (constant-time ICV compare for CBC; the AEAD
 * tag for GCM/ChaCha20), before padding is looked at, so no error other
 * than IKE_SK_ERR_FORMAT (which depends only on public lengths) can come
 * from an unauthentic message. Padding contents are not checked (any value
 * is accepted, RFC 7296 3.14). On IKE_SK_OK the inner payloads are at
 * msg[*plain_off .. *plain_off + *plain_len). On failure the encrypted
 * region may have been overwritten (and then is wiped): drop the message. */
enum ike_sk_status ike_sk_decrypt(struct ike_sk_ctx *c, uint8_t *msg, size_t msg_len, size_t sk_off,
                                  bool skf, size_t *plain_off, size_t *plain_len);

/* For tests with published vectors only: sets the next AEAD IV counter
 * (the 8-byte IV is this counter, big-endian, incremented per message). */
void ike_sk_set_next_iv(struct ike_sk_ctx *c, uint64_t counter);

#endif
