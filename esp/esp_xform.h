/*
 * The ESP packet transforms (RFC 4303 tunnel mode), pure functions of a
 * keyed context and a buffer: no SA, no replay state, no allocation. They
 * work in place: encap writes the ESP header and IV into the headroom and
 * the padding, trailer and ICV into the tailroom; decap moves the buffer's
 * window onto the inner packet.
 *
 * AEAD (AES-GCM-16, RFC 4106; ChaCha20-Poly1305, RFC 7634): nonce = salt ||
 * 8-byte explicit IV; the explicit IV is the 64-bit sequence number, which
 * never repeats within an SA, so neither does the nonce. AAD = SPI || seq
 * (32-bit) or SPI || seq high || seq low (ESN), RFC 4106 section 5.
 *
 * AES-CBC + HMAC-SHA2 (RFC 3602, RFC 4868): the IV must be unpredictable.
 * It is counter-derived: IV = AES_K(seq64 || 0^64), the "encrypt a unique
 * nonce under the same key" method of NIST SP 800-38A appendix C. It costs
 * one extra block in the same CBC pass (the nonce block is encrypted with a
 * zero IV in the IV slot of the packet) and needs no randomness per packet;
 * unique because the sequence number never repeats within an SA.
 * The ICV is HMAC over ESP header || IV || ciphertext (|| seq high with ESN,
 * RFC 4303 section 2.2.1), truncated to 128/192/256 bits.
 */
#ifndef ISTHMUS_ESP_XFORM_H
#define ISTHMUS_ESP_XFORM_H

#include "esp/esp.h"
#include "esp/esp_crypto.h"

#define ESP_NH_IPV4  4
#define ESP_NH_IPV6  41
#define ESP_NH_DUMMY 59

/* Encapsulates pkt (any payload, next_header as given). seq is the full
 * 64-bit sequence number (the low 32 bits go on the wire; with esn the high
 * 32 bits are authenticated). c must be an encrypt context. */
enum esp_reason esp_xform_encap(struct esp_cctx *c, uint32_t spi, uint64_t seq, bool esn,
                                uint8_t next_header, struct esp_buf *pkt);

/* As esp_xform_encap with a caller-chosen IV (8 bytes for AEAD, 16 for CBC)
 * instead of the sequence-derived one. For published test vectors only: an
 * AEAD IV must never repeat under one key. */
enum esp_reason esp_xform_encap_iv(struct esp_cctx *c, uint32_t spi, uint64_t seq, bool esn,
                                   uint8_t next_header, const uint8_t *iv, struct esp_buf *pkt);

/* Reads the SPI and the low sequence number of an ESP packet. */
bool esp_xform_peek(const struct esp_buf *pkt, uint32_t *spi, uint32_t *seq_lo);

/* Verifies and decrypts pkt (from the SPI on) in place with the decrypt
 * context c; seq_hi is the inferred high half (ignored without esn). Checks
 * the padding (length and bytes 1, 2, 3, ...). On ESP_OK pkt is the payload
 * without trailer and *next_header is set; otherwise ESP_DROP_MALFORMED,
 * _INTEGRITY, _PADDING or _CRYPTO. */
enum esp_reason esp_xform_decap(struct esp_cctx *c, bool esn, uint32_t seq_hi, struct esp_buf *pkt,
                                uint8_t *next_header);

/* --- Inner packet checks ------------------------------------------------- */

bool esp_prefix_contains(const struct esp_prefix *p, const struct esp_addr *a);
/* True if a is in one of ts[0..n). */
bool esp_ts_match(const struct esp_prefix *ts, unsigned n, const struct esp_addr *a);

/* Parses an inner IP header: version/next header agreement, header and total
 * length against the bytes present; trims trailing bytes beyond the IP total
 * length (TFC padding, RFC 4303 2.7). next_header 0: take the version from
 * the packet (outbound). Fills src/dst. Returns ESP_OK,
 * ESP_DROP_NEXT_HEADER, ESP_DROP_DUMMY or ESP_DROP_INNER_HEADER. */
enum esp_reason esp_inner_parse(struct esp_buf *pkt, uint8_t next_header, struct esp_addr *src,
                                struct esp_addr *dst);

#endif
