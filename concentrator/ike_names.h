/*
 * Names of IKEv2 numbers for log lines an operator reads (never bare
 * numbers). Known values return a constant string; unknown values are
 * written as "UNKNOWN(n)" into the caller's buffer, which is returned, so
 * the functions are thread-safe without static buffers. With buf NULL or
 * len 0 an unknown value returns "UNKNOWN".
 *
 * IKE_NAME(fn, v) gives a buffer living until the end of the enclosing
 * block, for use inside one log call:
 *     log_info("ike", "got %s", IKE_NAME(ike_exchange_name, hdr.exchange));
 */
#ifndef ISTHMUS_IKE_NAMES_H
#define ISTHMUS_IKE_NAMES_H

#include <stddef.h>

#define IKE_NAME_BUFLEN 32
#define IKE_NAME(fn, v) fn((v), (char[IKE_NAME_BUFLEN]){0}, IKE_NAME_BUFLEN)
#define IKE_TRANSFORM_NAME(t, id)                                                                  \
    ike_transform_name((t), (id), (char[IKE_NAME_BUFLEN]){0}, IKE_NAME_BUFLEN)

const char *ike_exchange_name(unsigned v, char *buf, size_t len);
const char *ike_payload_name(unsigned v, char *buf, size_t len);
/* Short names as in RFC 7296's diagrams: "SA", "KE", "IDi", "N", "SK". */
const char *ike_payload_short_name(unsigned v, char *buf, size_t len);
const char *ike_notify_name(unsigned v, char *buf, size_t len);
const char *ike_protocol_name(unsigned v, char *buf, size_t len);
const char *ike_transform_type_name(unsigned v, char *buf, size_t len);
/* A transform ID in the registry of its type ("AES_GCM_16", "CURVE25519"). */
const char *ike_transform_name(unsigned type, unsigned id, char *buf, size_t len);
const char *ike_encr_name(unsigned v, char *buf, size_t len);
const char *ike_prf_name(unsigned v, char *buf, size_t len);
const char *ike_integ_name(unsigned v, char *buf, size_t len);
const char *ike_dh_name(unsigned v, char *buf, size_t len);
const char *ike_esn_name(unsigned v, char *buf, size_t len);
const char *ike_id_type_name(unsigned v, char *buf, size_t len);
const char *ike_cert_encoding_name(unsigned v, char *buf, size_t len);
const char *ike_auth_method_name(unsigned v, char *buf, size_t len);
const char *ike_hash_alg_name(unsigned v, char *buf, size_t len);
const char *ike_ts_type_name(unsigned v, char *buf, size_t len);
const char *ike_cfg_type_name(unsigned v, char *buf, size_t len);
const char *ike_cfg_attr_name(unsigned v, char *buf, size_t len);
const char *ike_gw_id_type_name(unsigned v, char *buf, size_t len);
const char *ike_eap_code_name(unsigned v, char *buf, size_t len);
const char *ike_eap_type_name(unsigned v, char *buf, size_t len);

#endif
