/*
 * IKEv2 message codec (RFC 7296 section 3, RFC 7383 SKF): decoding a message
 * into typed payloads, meaning checks per payload, and building messages.
 * No daemon, no allocation: the daemon, unit tests and fuzzers share these
 * entry points.
 *
 * Decoding: ike_decode() takes a whole datagram (without the non-ESP marker)
 * and fills a struct ike_msg. Every pointer in it points into the caller's
 * buffer or into the struct itself (proposal, transform, selector and
 * attribute pools), so the buffer must outlive the struct, and the struct
 * must not be copied by value (copies keep pointing into the original).
 * Decoding checks structure only (lengths, counts, bounds); ike_verify_*()
 * checks meaning (nonce size, KE length for the group, SPI sizes, ...), and
 * ike_rules.h checks which payloads an exchange may carry.
 *
 * Encrypted payloads: the SK payload is decoded as an opaque region (IV,
 * ciphertext, ICV) with the type of its first inner payload. The engine
 * decrypts it, strips the padding (ike_sk_unpad) and decodes the plaintext
 * with ike_decode_inner() into a second struct ike_msg. Fragments (SKF) are
 * decrypted and joined by the engine, then decoded the same way with the
 * first fragment's inner type.
 *
 * Building: struct ike_builder writes a header, then payloads one call each;
 * the next-payload chain and all lengths are filled in as it goes. For an
 * encrypted message: ike_sk_begin() (reserves the IV), the inner payloads,
 * then ike_sk_end() (padding, pad length, room for the ICV), which hands back
 * the regions to encrypt and authenticate (struct ike_sk_region).
 */
#ifndef ISTHMUS_IKE_CODEC_H
#define ISTHMUS_IKE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concentrator/ike_types.h"
#include "concentrator/wire.h"

#define IKE_HDR_LEN         28
#define IKE_PAYLOAD_HDR_LEN 4

/* Bounds for one decoded message (outer or inner); more is refused with
 * IKE_ERR_TOO_MANY. strongSwan's default IKE proposal pair carries about 75
 * transforms, so these leave plenty of room for real peers. */
#define IKE_MAX_PAYLOADS   64
#define IKE_MAX_PROPOSALS  64
#define IKE_MAX_TRANSFORMS 512
#define IKE_MAX_TS         64
#define IKE_MAX_CP_ATTRS   64

enum ike_err {
    IKE_OK = 0,
    IKE_ERR_TRUNCATED, /* shorter than a header or than a length field says */
    IKE_ERR_LENGTH,    /* a length field is impossible or disagrees with another */
    IKE_ERR_VERSION,   /* major version not 2: answer INVALID_MAJOR_VERSION */
    IKE_ERR_TOO_MANY,  /* more payloads/proposals/transforms/... than the bounds */
    IKE_ERR_CRITICAL,  /* unknown payload with the critical bit: answer
                          UNSUPPORTED_CRITICAL_PAYLOAD with msg->unsupported_critical */
    IKE_ERR_SYNTAX,    /* a payload body is malformed */
    IKE_ERR_INVALID,   /* ike_verify_*: well formed but meaningless */
    IKE_ERR_NOSPACE,   /* builder: buffer too small */
    IKE_ERR_ARG,       /* builder: bad arguments or wrong order of calls */
};

const char *ike_err_name(enum ike_err e);

/* A byte range; for decoded messages, inside the caller's buffer. */
struct ike_data {
    const uint8_t *p;
    size_t len;
};

struct ike_hdr {
    uint64_t spi_i, spi_r; /* as big-endian integers */
    uint8_t next;          /* first payload type */
    uint8_t major, minor;
    uint8_t exchange;
    uint8_t flags; /* IKE_FLAG_* */
    uint32_t msg_id;
    uint32_t length;
};

struct ike_transform {
    uint8_t type;          /* enum ike_transform_type */
    uint16_t id;           /* ENCR/PRF/INTEG/DH/ESN value */
    uint16_t key_len;      /* Key Length attribute in bits; 0: none */
    uint8_t unknown_attrs; /* attributes other than Key Length: a transform with
                              any must not be chosen (RFC 7296 3.3.6) */
};

struct ike_proposal {
    uint8_t num;
    uint8_t protocol; /* enum ike_protocol */
    struct ike_data spi;
    const struct ike_transform *transforms;
    size_t n_transforms;
};

struct ike_sa {
    const struct ike_proposal *proposals;
    size_t n_proposals;
};

struct ike_ke {
    uint16_t group; /* enum ike_dh */
    struct ike_data data;
};

struct ike_id {   /* IDi, IDr */
    uint8_t type; /* enum ike_id_type */
    struct ike_data data;
};

struct ike_cert {     /* CERT, CERTREQ */
    uint8_t encoding; /* enum ike_cert_encoding */
    struct ike_data data;
};

struct ike_auth {
    uint8_t method; /* enum ike_auth_method */
    struct ike_data data;
};

struct ike_notify {
    uint8_t protocol;
    uint16_t type; /* enum ike_notify_type */
    struct ike_data spi;
    struct ike_data data;
};

struct ike_delete {
    uint8_t protocol;
    uint8_t spi_size;
    uint16_t n_spis;
    struct ike_data spis; /* n_spis * spi_size bytes */
};

struct ike_ts {
    uint8_t type;  /* enum ike_ts_type */
    uint8_t proto; /* IP protocol, 0: any */
    uint16_t start_port, end_port;
    struct ike_data start, end; /* addresses: 4 (IPv4) or 16 (IPv6) bytes */
    struct ike_data other;      /* TS_SECLABEL label, or the body of an unknown type */
};

struct ike_ts_list { /* TSi, TSr */
    const struct ike_ts *ts;
    size_t n_ts;
};

struct ike_cp_attr {
    uint16_t type; /* enum ike_cfg_attr (15 bits) */
    struct ike_data value;
};

struct ike_cp {
    uint8_t type; /* enum ike_cfg_type */
    const struct ike_cp_attr *attrs;
    size_t n_attrs;
};

struct ike_eap {
    uint8_t code, id;
    uint16_t length;        /* EAP length field */
    uint8_t type;           /* method type for Request/Response, else 0 */
    struct ike_data data;   /* after the type octet (Request/Response) */
    struct ike_data packet; /* the whole EAP packet, as relayed to RADIUS */
};

struct ike_sk {
    uint8_t first;        /* type of the first inner payload */
    struct ike_data data; /* IV, ciphertext, ICV */
};

struct ike_skf {
    uint8_t first; /* type of the first inner payload (fragment 1), else 0 */
    uint16_t number, total;
    struct ike_data data; /* IV, ciphertext, ICV */
};

struct ike_payload {
    uint8_t type;         /* enum ike_payload_type */
    uint8_t next;         /* next-payload field as received */
    bool critical;        /* critical bit as received */
    const uint8_t *hdr;   /* generic header in the buffer (decoded only) */
    struct ike_data body; /* after the generic header */
    union {
        struct ike_sa sa;
        struct ike_ke ke;
        struct ike_id id;
        struct ike_cert cert; /* CERT and CERTREQ */
        struct ike_auth auth;
        struct ike_data nonce;
        struct ike_notify notify;
        struct ike_delete del;
        struct ike_data vendor;
        struct ike_ts_list ts; /* TSi and TSr */
        struct ike_sk sk;
        struct ike_cp cp;
        struct ike_eap eap;
        struct ike_skf skf;
    } u;
};

struct ike_msg {
    struct ike_hdr hdr;
    bool has_hdr; /* false for inner payload lists */
    struct ike_data raw;
    struct ike_payload pl[IKE_MAX_PAYLOADS];
    size_t n_pl;
    size_t n_skipped;             /* unknown non-critical payloads skipped */
    uint8_t unsupported_critical; /* set with IKE_ERR_CRITICAL */
    uint8_t err_type;             /* payload being decoded when decoding failed */
    size_t err_offset;            /* its offset in the buffer */

    /* Pools the payloads point into. */
    struct ike_proposal proposals[IKE_MAX_PROPOSALS];
    size_t n_proposals;
    struct ike_transform transforms[IKE_MAX_TRANSFORMS];
    size_t n_transforms;
    struct ike_ts ts[IKE_MAX_TS];
    size_t n_ts;
    struct ike_cp_attr cp_attrs[IKE_MAX_CP_ATTRS];
    size_t n_cp_attrs;
};

/* ---- decoding ---- */

/* Only the 28-byte header: for routing by SPI before a full decode, and for
 * answering INVALID_MAJOR_VERSION (filled in even then). Checks that the
 * length field equals len. */
enum ike_err ike_decode_header(const uint8_t *buf, size_t len, struct ike_hdr *h);

/* A whole message. On error msg->err_type and msg->err_offset say where. */
enum ike_err ike_decode(const uint8_t *buf, size_t len, struct ike_msg *msg);

/* The payloads of a decrypted SK/SKF plaintext (padding already removed),
 * starting with payload type first. An SK or SKF inside is IKE_ERR_SYNTAX. */
enum ike_err ike_decode_inner(const uint8_t *buf, size_t len, uint8_t first, struct ike_msg *inner);

/* Removes the padding and pad-length octet from a decrypted SK plaintext:
 * *payload_len is what ike_decode_inner() should get. */
enum ike_err ike_sk_unpad(const uint8_t *pt, size_t len, size_t *payload_len);

/* The first payload of a type at index >= *from (NULL if none); *from is
 * updated past it, so a loop visits every one. from NULL: from the start. */
const struct ike_payload *ike_msg_find(const struct ike_msg *m, uint8_t type, size_t *from);
const struct ike_notify *ike_msg_find_notify(const struct ike_msg *m, uint16_t type);
size_t ike_msg_count(const struct ike_msg *m, uint8_t type);
/* The SK or SKF payload of a message, or NULL. */
const struct ike_payload *ike_msg_encrypted(const struct ike_msg *m);

/* Notify data helpers. Each returns IKE_ERR_SYNTAX if the data is malformed. */
/* RFC 7427: the hash algorithm list; *count is the number found (up to max
 * stored). */
enum ike_err ike_notify_hash_algs(const struct ike_notify *n, uint16_t *out, size_t max,
                                  size_t *count);

/* RFC 5685 REDIRECT / REDIRECTED_FROM data. */
struct ike_redirect {
    uint8_t gw_type; /* enum ike_gw_id_type */
    struct ike_data gw;
    struct ike_data nonce; /* REDIRECT in IKE_SA_INIT: the initiator's nonce */
};
enum ike_err ike_notify_redirect(const struct ike_notify *n, struct ike_redirect *r);
/* Writes REDIRECT data (nonce may be NULL) into out; returns the length, or 0
 * if it does not fit or is invalid. */
size_t ike_redirect_encode(uint8_t *out, size_t cap, uint8_t gw_type, const uint8_t *gw,
                           size_t gw_len, const uint8_t *nonce, size_t nonce_len);

/* INVALID_KE_PAYLOAD (group), SET_WINDOW_SIZE, AUTH_LIFETIME (u32). */
enum ike_err ike_notify_u16(const struct ike_notify *n, uint16_t *v);
enum ike_err ike_notify_u32(const struct ike_notify *n, uint32_t *v);

/* ---- meaning checks ---- */

/* One payload (decoded, or filled in by the engine before encoding). On
 * IKE_ERR_INVALID *why (if not NULL) is a constant sentence for the log. */
enum ike_err ike_verify_payload(const struct ike_payload *p, const char **why);
/* Every payload of a message; *bad (if not NULL) is the index that failed. */
enum ike_err ike_verify_msg(const struct ike_msg *m, size_t *bad, const char **why);

/* Public-value length of a key exchange group, 0 if not fixed or unknown. */
size_t ike_ke_len(uint16_t group);

/* ---- building ---- */

struct ike_builder {
    struct wr w;
    size_t next_off; /* next-payload octet to patch with the next type; SIZE_MAX: none */
    uint8_t first;   /* type of the first payload (inner builders) */
    bool has_hdr;
    bool done;     /* ike_sk_end()/ike_put_sk*() closed the message */
    size_t sk_off; /* open SK payload's header, SIZE_MAX if none */
    size_t sk_iv_len;
    enum ike_err err; /* first error; every later call returns it */
};

/* A message with header h (h->next and h->length are computed). */
void ike_build_init(struct ike_builder *b, void *buf, size_t cap, const struct ike_hdr *h);
/* Only payloads (an SK plaintext built apart, e.g. to fragment it); b->first
 * is the type of the first payload. */
void ike_build_init_inner(struct ike_builder *b, void *buf, size_t cap);
/* Patches the message length; returns the bytes written, 0 on error. */
size_t ike_build_finish(struct ike_builder *b);

/* Any payload from its typed fields (p->type selects; body/hdr/next are
 * ignored; critical is written). Unknown types: p->body is written as is. */
enum ike_err ike_put_payload(struct ike_builder *b, const struct ike_payload *p);

enum ike_err ike_put_sa(struct ike_builder *b, const struct ike_proposal *props, size_t n);
enum ike_err ike_put_ke(struct ike_builder *b, uint16_t group, const uint8_t *data, size_t len);
/* type: IKE_PL_IDI or IKE_PL_IDR */
enum ike_err ike_put_id(struct ike_builder *b, uint8_t type, uint8_t id_type, const uint8_t *data,
                        size_t len);
/* type: IKE_PL_CERT or IKE_PL_CERTREQ */
enum ike_err ike_put_cert(struct ike_builder *b, uint8_t type, uint8_t encoding,
                          const uint8_t *data, size_t len);
enum ike_err ike_put_auth(struct ike_builder *b, uint8_t method, const uint8_t *data, size_t len);
enum ike_err ike_put_nonce(struct ike_builder *b, const uint8_t *data, size_t len);
enum ike_err ike_put_notify(struct ike_builder *b, uint8_t protocol, uint16_t type,
                            const uint8_t *spi, size_t spi_len, const uint8_t *data, size_t len);
enum ike_err ike_put_delete(struct ike_builder *b, uint8_t protocol, uint8_t spi_size,
                            const uint8_t *spis, uint16_t n_spis);
enum ike_err ike_put_vendor(struct ike_builder *b, const uint8_t *data, size_t len);
/* type: IKE_PL_TSI or IKE_PL_TSR */
enum ike_err ike_put_ts(struct ike_builder *b, uint8_t type, const struct ike_ts *ts, size_t n);
enum ike_err ike_put_cp(struct ike_builder *b, uint8_t cfg_type, const struct ike_cp_attr *attrs,
                        size_t n);
/* A whole EAP packet as received from RADIUS (its length field is checked). */
enum ike_err ike_put_eap(struct ike_builder *b, const uint8_t *packet, size_t len);

/* Where the crypto goes in a built SK/SKF payload; all inside the buffer.
 * Encrypt plain in place with iv, then write the ICV. AEAD (RFC 5282): the
 * associated data is aad (IKE header through the SK/SKF header). Otherwise:
 * the integrity check covers msg up to icv. */
struct ike_sk_region {
    uint8_t *msg;
    size_t msg_len;
    uint8_t *aad;
    size_t aad_len;
    uint8_t *iv;
    size_t iv_len;
    uint8_t *plain; /* inner payloads, padding, pad length */
    size_t plain_len;
    uint8_t *icv;
    size_t icv_len;
};

/* Opens an SK payload: writes its header and reserves iv_len (zeroed) bytes.
 * Payloads put after it are inside it. Must be the last payload. */
enum ike_err ike_sk_begin(struct ike_builder *b, size_t iv_len);
/* Closes it: pads the plaintext to a multiple of block_len (1 or 0: no
 * padding) counting the pad-length octet, reserves icv_len (zeroed), and
 * patches the SK and message lengths. The message is then complete. */
enum ike_err ike_sk_end(struct ike_builder *b, size_t block_len, size_t icv_len,
                        struct ike_sk_region *r);
/* An SK payload around an inner plaintext built apart (first: its first
 * payload type), then closed as ike_sk_end() does. */
enum ike_err ike_put_sk(struct ike_builder *b, uint8_t first, size_t iv_len, const uint8_t *inner,
                        size_t inner_len, size_t block_len, size_t icv_len,
                        struct ike_sk_region *r);
/* An SKF payload (RFC 7383) carrying one piece of the inner plaintext:
 * first is written only in fragment 1 (0 in the others). */
enum ike_err ike_put_skf(struct ike_builder *b, uint8_t first, uint16_t number, uint16_t total,
                         size_t iv_len, const uint8_t *piece, size_t piece_len, size_t block_len,
                         size_t icv_len, struct ike_sk_region *r);

#endif
