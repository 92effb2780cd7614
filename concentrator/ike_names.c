/* Tables from IKEv2 numbers to names; see ike_names.h. */
#include "concentrator/ike_names.h"

#include <stdio.h>

#include "concentrator/ike_types.h"

struct name {
    unsigned v;
    const char *s;
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *lookup(const struct name *t, size_t n, unsigned v, char *buf, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].v == v)
            return t[i].s;
    if (!buf || len == 0)
        return "UNKNOWN";
    snprintf(buf, len, "UNKNOWN(%u)", v);
    return buf;
}

#define X(p, n)                                                                                    \
    {                                                                                              \
        p##n, #n                                                                                   \
    }

static const struct name exchanges[] = {
    X(IKE_EXCH_, SA_INIT),          X(IKE_EXCH_, AUTH),           X(IKE_EXCH_, CREATE_CHILD_SA),
    X(IKE_EXCH_, INFORMATIONAL),    X(IKE_EXCH_, SESSION_RESUME), X(IKE_EXCH_, GSA_AUTH),
    X(IKE_EXCH_, GSA_REGISTRATION), X(IKE_EXCH_, GSA_REKEY),      X(IKE_EXCH_, INTERMEDIATE),
    X(IKE_EXCH_, FOLLOWUP_KE),
};

const char *ike_exchange_name(unsigned v, char *buf, size_t len)
{
    /* The registry spells them IKE_SA_INIT, IKE_AUTH, ...: keep the prefix
     * where the RFC does. */
    switch (v) {
    case IKE_EXCH_SA_INIT:
        return "IKE_SA_INIT";
    case IKE_EXCH_AUTH:
        return "IKE_AUTH";
    case IKE_EXCH_SESSION_RESUME:
        return "IKE_SESSION_RESUME";
    case IKE_EXCH_INTERMEDIATE:
        return "IKE_INTERMEDIATE";
    case IKE_EXCH_FOLLOWUP_KE:
        return "IKE_FOLLOWUP_KE";
    default:
        return lookup(exchanges, COUNT(exchanges), v, buf, len);
    }
}

static const struct name payloads[] = {
    {IKE_PL_NONE, "NO_NEXT_PAYLOAD"},
    {IKE_PL_SA, "SECURITY_ASSOCIATION"},
    {IKE_PL_KE, "KEY_EXCHANGE"},
    {IKE_PL_IDI, "ID_INITIATOR"},
    {IKE_PL_IDR, "ID_RESPONDER"},
    {IKE_PL_CERT, "CERTIFICATE"},
    {IKE_PL_CERTREQ, "CERTIFICATE_REQUEST"},
    {IKE_PL_AUTH, "AUTHENTICATION"},
    {IKE_PL_NONCE, "NONCE"},
    {IKE_PL_NOTIFY, "NOTIFY"},
    {IKE_PL_DELETE, "DELETE"},
    {IKE_PL_VENDOR, "VENDOR_ID"},
    {IKE_PL_TSI, "TS_INITIATOR"},
    {IKE_PL_TSR, "TS_RESPONDER"},
    {IKE_PL_SK, "ENCRYPTED"},
    {IKE_PL_CP, "CONFIGURATION"},
    {IKE_PL_EAP, "EAP"},
    {IKE_PL_GSPM, "GSPM"},
    {IKE_PL_IDG, "ID_GROUP"},
    {IKE_PL_GSA, "GROUP_SA"},
    {IKE_PL_KD, "KEY_DOWNLOAD"},
    {IKE_PL_SKF, "ENCRYPTED_FRAGMENT"},
    {IKE_PL_PS, "PUZZLE_SOLUTION"},
};

const char *ike_payload_name(unsigned v, char *buf, size_t len)
{
    return lookup(payloads, COUNT(payloads), v, buf, len);
}

static const struct name payloads_short[] = {
    {IKE_PL_NONE, "NONE"},       {IKE_PL_SA, "SA"},     {IKE_PL_KE, "KE"},
    {IKE_PL_IDI, "IDi"},         {IKE_PL_IDR, "IDr"},   {IKE_PL_CERT, "CERT"},
    {IKE_PL_CERTREQ, "CERTREQ"}, {IKE_PL_AUTH, "AUTH"}, {IKE_PL_NONCE, "No"},
    {IKE_PL_NOTIFY, "N"},        {IKE_PL_DELETE, "D"},  {IKE_PL_VENDOR, "V"},
    {IKE_PL_TSI, "TSi"},         {IKE_PL_TSR, "TSr"},   {IKE_PL_SK, "SK"},
    {IKE_PL_CP, "CP"},           {IKE_PL_EAP, "EAP"},   {IKE_PL_GSPM, "GSPM"},
    {IKE_PL_IDG, "IDg"},         {IKE_PL_GSA, "GSA"},   {IKE_PL_KD, "KD"},
    {IKE_PL_SKF, "SKF"},         {IKE_PL_PS, "PS"},
};

const char *ike_payload_short_name(unsigned v, char *buf, size_t len)
{
    return lookup(payloads_short, COUNT(payloads_short), v, buf, len);
}

static const struct name notifies[] = {
    X(IKE_N_, UNSUPPORTED_CRITICAL_PAYLOAD),
    X(IKE_N_, INVALID_IKE_SPI),
    X(IKE_N_, INVALID_MAJOR_VERSION),
    X(IKE_N_, INVALID_SYNTAX),
    X(IKE_N_, INVALID_MESSAGE_ID),
    X(IKE_N_, INVALID_SPI),
    X(IKE_N_, NO_PROPOSAL_CHOSEN),
    X(IKE_N_, INVALID_KE_PAYLOAD),
    X(IKE_N_, AUTHENTICATION_FAILED),
    X(IKE_N_, SINGLE_PAIR_REQUIRED),
    X(IKE_N_, NO_ADDITIONAL_SAS),
    X(IKE_N_, INTERNAL_ADDRESS_FAILURE),
    X(IKE_N_, FAILED_CP_REQUIRED),
    X(IKE_N_, TS_UNACCEPTABLE),
    X(IKE_N_, INVALID_SELECTORS),
    X(IKE_N_, UNACCEPTABLE_ADDRESSES),
    X(IKE_N_, UNEXPECTED_NAT_DETECTED),
    {IKE_N_USE_ASSIGNED_HOA, "USE_ASSIGNED_HoA"},
    X(IKE_N_, TEMPORARY_FAILURE),
    X(IKE_N_, CHILD_SA_NOT_FOUND),
    X(IKE_N_, INVALID_GROUP_ID),
    X(IKE_N_, AUTHORIZATION_FAILED),
    X(IKE_N_, STATE_NOT_FOUND),
    X(IKE_N_, INITIAL_CONTACT),
    X(IKE_N_, SET_WINDOW_SIZE),
    X(IKE_N_, ADDITIONAL_TS_POSSIBLE),
    X(IKE_N_, IPCOMP_SUPPORTED),
    X(IKE_N_, NAT_DETECTION_SOURCE_IP),
    X(IKE_N_, NAT_DETECTION_DESTINATION_IP),
    X(IKE_N_, COOKIE),
    X(IKE_N_, USE_TRANSPORT_MODE),
    X(IKE_N_, HTTP_CERT_LOOKUP_SUPPORTED),
    X(IKE_N_, REKEY_SA),
    X(IKE_N_, ESP_TFC_PADDING_NOT_SUPPORTED),
    X(IKE_N_, NON_FIRST_FRAGMENTS_ALSO),
    X(IKE_N_, MOBIKE_SUPPORTED),
    X(IKE_N_, ADDITIONAL_IP4_ADDRESS),
    X(IKE_N_, ADDITIONAL_IP6_ADDRESS),
    X(IKE_N_, NO_ADDITIONAL_ADDRESSES),
    X(IKE_N_, UPDATE_SA_ADDRESSES),
    X(IKE_N_, COOKIE2),
    X(IKE_N_, NO_NATS_ALLOWED),
    X(IKE_N_, AUTH_LIFETIME),
    X(IKE_N_, MULTIPLE_AUTH_SUPPORTED),
    X(IKE_N_, ANOTHER_AUTH_FOLLOWS),
    X(IKE_N_, REDIRECT_SUPPORTED),
    X(IKE_N_, REDIRECT),
    X(IKE_N_, REDIRECTED_FROM),
    X(IKE_N_, TICKET_LT_OPAQUE),
    X(IKE_N_, TICKET_REQUEST),
    X(IKE_N_, TICKET_ACK),
    X(IKE_N_, TICKET_NACK),
    X(IKE_N_, TICKET_OPAQUE),
    X(IKE_N_, LINK_ID),
    X(IKE_N_, USE_WESP_MODE),
    X(IKE_N_, ROHC_SUPPORTED),
    X(IKE_N_, EAP_ONLY_AUTHENTICATION),
    X(IKE_N_, CHILDLESS_IKEV2_SUPPORTED),
    X(IKE_N_, QUICK_CRASH_DETECTION),
    X(IKE_N_, IKEV2_MESSAGE_ID_SYNC_SUPPORTED),
    X(IKE_N_, IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED),
    X(IKE_N_, IKEV2_MESSAGE_ID_SYNC),
    X(IKE_N_, IPSEC_REPLAY_COUNTER_SYNC),
    X(IKE_N_, SECURE_PASSWORD_METHODS),
    X(IKE_N_, PSK_PERSIST),
    X(IKE_N_, PSK_CONFIRM),
    X(IKE_N_, ERX_SUPPORTED),
    X(IKE_N_, IFOM_CAPABILITY),
    X(IKE_N_, SENDER_REQUEST_ID),
    X(IKE_N_, IKEV2_FRAGMENTATION_SUPPORTED),
    X(IKE_N_, SIGNATURE_HASH_ALGORITHMS),
    X(IKE_N_, CLONE_IKE_SA_SUPPORTED),
    X(IKE_N_, CLONE_IKE_SA),
    X(IKE_N_, PUZZLE),
    X(IKE_N_, USE_PPK),
    X(IKE_N_, PPK_IDENTITY),
    X(IKE_N_, NO_PPK_AUTH),
    X(IKE_N_, INTERMEDIATE_EXCHANGE_SUPPORTED),
    X(IKE_N_, IP4_ALLOWED),
    X(IKE_N_, IP6_ALLOWED),
    X(IKE_N_, ADDITIONAL_KEY_EXCHANGE),
    X(IKE_N_, USE_AGGFRAG),
};

const char *ike_notify_name(unsigned v, char *buf, size_t len)
{
    return lookup(notifies, COUNT(notifies), v, buf, len);
}

static const struct name protocols[] = {
    X(IKE_PROTO_, NONE), X(IKE_PROTO_, IKE),           X(IKE_PROTO_, AH),
    X(IKE_PROTO_, ESP),  X(IKE_PROTO_, FC_ESP_HEADER), X(IKE_PROTO_, FC_CT_AUTHENTICATION),
};

const char *ike_protocol_name(unsigned v, char *buf, size_t len)
{
    return lookup(protocols, COUNT(protocols), v, buf, len);
}

static const struct name transform_types[] = {
    X(IKE_TT_, ENCR), X(IKE_TT_, PRF), X(IKE_TT_, INTEG), X(IKE_TT_, DH),
    X(IKE_TT_, ESN),  {6, "ADDKE1"},   {7, "ADDKE2"},     {8, "ADDKE3"},
    {9, "ADDKE4"},    {10, "ADDKE5"},  {11, "ADDKE6"},    {12, "ADDKE7"},
};

const char *ike_transform_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(transform_types, COUNT(transform_types), v, buf, len);
}

static const struct name encrs[] = {
    X(IKE_ENCR_, DES_IV64),
    X(IKE_ENCR_, DES),
    X(IKE_ENCR_, 3DES),
    X(IKE_ENCR_, RC5),
    X(IKE_ENCR_, IDEA),
    X(IKE_ENCR_, CAST),
    X(IKE_ENCR_, BLOWFISH),
    X(IKE_ENCR_, 3IDEA),
    X(IKE_ENCR_, DES_IV32),
    X(IKE_ENCR_, NULL),
    X(IKE_ENCR_, AES_CBC),
    X(IKE_ENCR_, AES_CTR),
    X(IKE_ENCR_, AES_CCM_8),
    X(IKE_ENCR_, AES_CCM_12),
    X(IKE_ENCR_, AES_CCM_16),
    X(IKE_ENCR_, AES_GCM_8),
    X(IKE_ENCR_, AES_GCM_12),
    X(IKE_ENCR_, AES_GCM_16),
    X(IKE_ENCR_, NULL_AUTH_AES_GMAC),
    X(IKE_ENCR_, CAMELLIA_CBC),
    X(IKE_ENCR_, CAMELLIA_CTR),
    X(IKE_ENCR_, CAMELLIA_CCM_8),
    X(IKE_ENCR_, CAMELLIA_CCM_12),
    X(IKE_ENCR_, CAMELLIA_CCM_16),
    X(IKE_ENCR_, CHACHA20_POLY1305),
    X(IKE_ENCR_, AES_CCM_8_IIV),
    X(IKE_ENCR_, AES_GCM_16_IIV),
    X(IKE_ENCR_, CHACHA20_POLY1305_IIV),
};

const char *ike_encr_name(unsigned v, char *buf, size_t len)
{
    return lookup(encrs, COUNT(encrs), v, buf, len);
}

static const struct name prfs[] = {
    X(IKE_PRF_, HMAC_MD5),      X(IKE_PRF_, HMAC_SHA1),     X(IKE_PRF_, HMAC_TIGER),
    X(IKE_PRF_, AES128_XCBC),   X(IKE_PRF_, HMAC_SHA2_256), X(IKE_PRF_, HMAC_SHA2_384),
    X(IKE_PRF_, HMAC_SHA2_512), X(IKE_PRF_, AES128_CMAC),   X(IKE_PRF_, HMAC_STREEBOG_512),
};

const char *ike_prf_name(unsigned v, char *buf, size_t len)
{
    return lookup(prfs, COUNT(prfs), v, buf, len);
}

static const struct name integs[] = {
    X(IKE_INTEG_, NONE),
    X(IKE_INTEG_, HMAC_MD5_96),
    X(IKE_INTEG_, HMAC_SHA1_96),
    X(IKE_INTEG_, DES_MAC),
    X(IKE_INTEG_, KPDK_MD5),
    X(IKE_INTEG_, AES_XCBC_96),
    X(IKE_INTEG_, HMAC_MD5_128),
    X(IKE_INTEG_, HMAC_SHA1_160),
    X(IKE_INTEG_, AES_CMAC_96),
    X(IKE_INTEG_, AES_128_GMAC),
    X(IKE_INTEG_, AES_192_GMAC),
    X(IKE_INTEG_, AES_256_GMAC),
    X(IKE_INTEG_, HMAC_SHA2_256_128),
    X(IKE_INTEG_, HMAC_SHA2_384_192),
    X(IKE_INTEG_, HMAC_SHA2_512_256),
};

const char *ike_integ_name(unsigned v, char *buf, size_t len)
{
    return lookup(integs, COUNT(integs), v, buf, len);
}

static const struct name dhs[] = {
    X(IKE_DH_, NONE),
    X(IKE_DH_, MODP768),
    X(IKE_DH_, MODP1024),
    X(IKE_DH_, MODP1536),
    X(IKE_DH_, MODP2048),
    X(IKE_DH_, MODP3072),
    X(IKE_DH_, MODP4096),
    X(IKE_DH_, MODP6144),
    X(IKE_DH_, MODP8192),
    X(IKE_DH_, ECP256),
    X(IKE_DH_, ECP384),
    X(IKE_DH_, ECP521),
    X(IKE_DH_, MODP1024_S160),
    X(IKE_DH_, MODP2048_S224),
    X(IKE_DH_, MODP2048_S256),
    X(IKE_DH_, ECP192),
    X(IKE_DH_, ECP224),
    X(IKE_DH_, BRAINPOOL224),
    X(IKE_DH_, BRAINPOOL256),
    X(IKE_DH_, BRAINPOOL384),
    X(IKE_DH_, BRAINPOOL512),
    X(IKE_DH_, CURVE25519),
    X(IKE_DH_, CURVE448),
    X(IKE_DH_, GOST3410_2012_256),
    X(IKE_DH_, GOST3410_2012_512),
    X(IKE_DH_, ML_KEM_512),
    X(IKE_DH_, ML_KEM_768),
    X(IKE_DH_, ML_KEM_1024),
};

const char *ike_dh_name(unsigned v, char *buf, size_t len)
{
    return lookup(dhs, COUNT(dhs), v, buf, len);
}

static const struct name esns[] = {
    X(IKE_ESN_, NO),
    X(IKE_ESN_, YES),
};

const char *ike_esn_name(unsigned v, char *buf, size_t len)
{
    return lookup(esns, COUNT(esns), v, buf, len);
}

const char *ike_transform_name(unsigned type, unsigned id, char *buf, size_t len)
{
    switch (type) {
    case IKE_TT_ENCR:
        return ike_encr_name(id, buf, len);
    case IKE_TT_PRF:
        return ike_prf_name(id, buf, len);
    case IKE_TT_INTEG:
        return ike_integ_name(id, buf, len);
    case IKE_TT_DH:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case IKE_TT_ADDKE7:
        return ike_dh_name(id, buf, len);
    case IKE_TT_ESN:
        return ike_esn_name(id, buf, len);
    default:
        if (!buf || len == 0)
            return "UNKNOWN";
        snprintf(buf, len, "UNKNOWN(%u/%u)", type, id);
        return buf;
    }
}

static const struct name id_types[] = {
    X(IKE_, ID_IPV4_ADDR), X(IKE_, ID_FQDN),        X(IKE_, ID_RFC822_ADDR),
    X(IKE_, ID_IPV6_ADDR), X(IKE_, ID_DER_ASN1_DN), X(IKE_, ID_DER_ASN1_GN),
    X(IKE_, ID_KEY_ID),    X(IKE_, ID_FC_NAME),     X(IKE_, ID_NULL),
};

const char *ike_id_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(id_types, COUNT(id_types), v, buf, len);
}

static const struct name cert_encodings[] = {
    X(IKE_CERT_, PKCS7_X509),
    X(IKE_CERT_, PGP),
    X(IKE_CERT_, DNS_SIGNED_KEY),
    X(IKE_CERT_, X509_SIGNATURE),
    X(IKE_CERT_, KERBEROS_TOKEN),
    X(IKE_CERT_, CRL),
    X(IKE_CERT_, ARL),
    X(IKE_CERT_, SPKI),
    X(IKE_CERT_, X509_ATTRIBUTE),
    X(IKE_CERT_, RAW_RSA_KEY),
    X(IKE_CERT_, HASH_URL_X509_CERT),
    X(IKE_CERT_, HASH_URL_X509_BUNDLE),
    X(IKE_CERT_, OCSP_CONTENT),
    X(IKE_CERT_, RAW_PUBLIC_KEY),
};

const char *ike_cert_encoding_name(unsigned v, char *buf, size_t len)
{
    return lookup(cert_encodings, COUNT(cert_encodings), v, buf, len);
}

static const struct name auth_methods[] = {
    X(IKE_AUTH_, RSA_SIG),
    X(IKE_AUTH_, SHARED_KEY_MIC),
    X(IKE_AUTH_, DSS_SIG),
    X(IKE_AUTH_, ECDSA_SHA256_P256),
    X(IKE_AUTH_, ECDSA_SHA384_P384),
    X(IKE_AUTH_, ECDSA_SHA512_P521),
    X(IKE_AUTH_, GENERIC_SECURE_PASSWORD),
    X(IKE_AUTH_, NULL),
    X(IKE_AUTH_, DIGITAL_SIGNATURE),
};

const char *ike_auth_method_name(unsigned v, char *buf, size_t len)
{
    return lookup(auth_methods, COUNT(auth_methods), v, buf, len);
}

static const struct name hash_algs[] = {
    X(IKE_HASH_, SHA1),     X(IKE_HASH_, SHA2_256), X(IKE_HASH_, SHA2_384),
    X(IKE_HASH_, SHA2_512), X(IKE_HASH_, IDENTITY), X(IKE_HASH_, STREEBOG_512),
};

const char *ike_hash_alg_name(unsigned v, char *buf, size_t len)
{
    return lookup(hash_algs, COUNT(hash_algs), v, buf, len);
}

static const struct name ts_types[] = {
    X(IKE_, TS_IPV4_ADDR_RANGE),
    X(IKE_, TS_IPV6_ADDR_RANGE),
    X(IKE_, TS_FC_ADDR_RANGE),
    X(IKE_, TS_SECLABEL),
};

const char *ike_ts_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(ts_types, COUNT(ts_types), v, buf, len);
}

static const struct name cfg_types[] = {
    X(IKE_, CFG_REQUEST),
    X(IKE_, CFG_REPLY),
    X(IKE_, CFG_SET),
    X(IKE_, CFG_ACK),
};

const char *ike_cfg_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(cfg_types, COUNT(cfg_types), v, buf, len);
}

static const struct name cfg_attrs[] = {
    X(IKE_CFG_, INTERNAL_IP4_ADDRESS),
    X(IKE_CFG_, INTERNAL_IP4_NETMASK),
    X(IKE_CFG_, INTERNAL_IP4_DNS),
    X(IKE_CFG_, INTERNAL_IP4_NBNS),
    X(IKE_CFG_, INTERNAL_IP4_DHCP),
    X(IKE_CFG_, APPLICATION_VERSION),
    X(IKE_CFG_, INTERNAL_IP6_ADDRESS),
    X(IKE_CFG_, INTERNAL_IP6_DNS),
    X(IKE_CFG_, INTERNAL_IP6_DHCP),
    X(IKE_CFG_, INTERNAL_IP4_SUBNET),
    X(IKE_CFG_, SUPPORTED_ATTRIBUTES),
    X(IKE_CFG_, INTERNAL_IP6_SUBNET),
    X(IKE_CFG_, MIP6_HOME_PREFIX),
    X(IKE_CFG_, INTERNAL_IP6_LINK),
    X(IKE_CFG_, INTERNAL_IP6_PREFIX),
    X(IKE_CFG_, HOME_AGENT_ADDRESS),
    X(IKE_CFG_, P_CSCF_IP4_ADDRESS),
    X(IKE_CFG_, P_CSCF_IP6_ADDRESS),
    X(IKE_CFG_, FTT_KAT),
    X(IKE_CFG_, EXTERNAL_SOURCE_IP4_NAT_INFO),
    X(IKE_CFG_, TIMEOUT_PERIOD_FOR_LIVENESS_CHECK),
    X(IKE_CFG_, INTERNAL_DNS_DOMAIN),
    X(IKE_CFG_, INTERNAL_DNSSEC_TA),
};

const char *ike_cfg_attr_name(unsigned v, char *buf, size_t len)
{
    return lookup(cfg_attrs, COUNT(cfg_attrs), v, buf, len);
}

static const struct name gw_id_types[] = {
    X(IKE_GW_, IPV4),
    X(IKE_GW_, IPV6),
    X(IKE_GW_, FQDN),
};

const char *ike_gw_id_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(gw_id_types, COUNT(gw_id_types), v, buf, len);
}

static const struct name eap_codes[] = {
    X(IKE_EAP_, REQUEST),
    X(IKE_EAP_, RESPONSE),
    X(IKE_EAP_, SUCCESS),
    X(IKE_EAP_, FAILURE),
};

const char *ike_eap_code_name(unsigned v, char *buf, size_t len)
{
    return lookup(eap_codes, COUNT(eap_codes), v, buf, len);
}

static const struct name eap_types[] = {
    X(IKE_EAP_, IDENTITY), X(IKE_EAP_, NOTIFICATION), X(IKE_EAP_, NAK),      X(IKE_EAP_, MD5),
    X(IKE_EAP_, GTC),      X(IKE_EAP_, TLS),          X(IKE_EAP_, SIM),      X(IKE_EAP_, TTLS),
    X(IKE_EAP_, AKA),      X(IKE_EAP_, PEAP),         X(IKE_EAP_, MSCHAPV2), X(IKE_EAP_, AKA_PRIME),
    X(IKE_EAP_, EXPANDED),
};

const char *ike_eap_type_name(unsigned v, char *buf, size_t len)
{
    return lookup(eap_types, COUNT(eap_types), v, buf, len);
}
