/* Transform facts: see ike_alg.h. */
#include "concentrator/ike_alg.h"

size_t ike_alg_prf_len(uint16_t prf)
{
    switch (prf) {
    case IKE_ALG_PRF_HMAC_SHA1:
        return 20;
    case IKE_ALG_PRF_HMAC_SHA2_256:
        return 32;
    case IKE_ALG_PRF_HMAC_SHA2_384:
        return 48;
    case IKE_ALG_PRF_HMAC_SHA2_512:
        return 64;
    default:
        return 0;
    }
}

const char *ike_alg_prf_digest(uint16_t prf)
{
    switch (prf) {
    case IKE_ALG_PRF_HMAC_SHA1:
        return "SHA1";
    case IKE_ALG_PRF_HMAC_SHA2_256:
        return "SHA256";
    case IKE_ALG_PRF_HMAC_SHA2_384:
        return "SHA384";
    case IKE_ALG_PRF_HMAC_SHA2_512:
        return "SHA512";
    default:
        return NULL;
    }
}

size_t ike_alg_integ_key_len(uint16_t integ)
{
    switch (integ) {
    case IKE_ALG_INTEG_HMAC_SHA1_96:
        return 20;
    case IKE_ALG_INTEG_HMAC_SHA2_256_128:
        return 32;
    case IKE_ALG_INTEG_HMAC_SHA2_384_192:
        return 48;
    case IKE_ALG_INTEG_HMAC_SHA2_512_256:
        return 64;
    default:
        return 0;
    }
}

size_t ike_alg_integ_icv_len(uint16_t integ)
{
    switch (integ) {
    case IKE_ALG_INTEG_HMAC_SHA1_96:
        return 12;
    case IKE_ALG_INTEG_HMAC_SHA2_256_128:
        return 16;
    case IKE_ALG_INTEG_HMAC_SHA2_384_192:
        return 24;
    case IKE_ALG_INTEG_HMAC_SHA2_512_256:
        return 32;
    default:
        return 0;
    }
}

const char *ike_alg_integ_digest(uint16_t integ)
{
    switch (integ) {
    case IKE_ALG_INTEG_HMAC_SHA1_96:
        return "SHA1";
    case IKE_ALG_INTEG_HMAC_SHA2_256_128:
        return "SHA256";
    case IKE_ALG_INTEG_HMAC_SHA2_384_192:
        return "SHA384";
    case IKE_ALG_INTEG_HMAC_SHA2_512_256:
        return "SHA512";
    default:
        return NULL;
    }
}

bool ike_alg_integ_supported(uint16_t integ)
{
    return integ == IKE_ALG_INTEG_NONE || ike_alg_integ_digest(integ) != NULL;
}

bool ike_alg_encr_is_aead(uint16_t encr)
{
    switch (encr) {
    case IKE_ALG_ENCR_AES_GCM_8:
    case IKE_ALG_ENCR_AES_GCM_12:
    case IKE_ALG_ENCR_AES_GCM_16:
    case IKE_ALG_ENCR_CHACHA20_POLY1305:
        return true;
    default:
        return false;
    }
}

bool ike_alg_encr_supported(uint16_t encr, uint16_t keybits, bool esp)
{
    switch (encr) {
    case IKE_ALG_ENCR_NULL:
        return esp;
    case IKE_ALG_ENCR_AES_CBC:
    case IKE_ALG_ENCR_AES_GCM_8:
    case IKE_ALG_ENCR_AES_GCM_12:
    case IKE_ALG_ENCR_AES_GCM_16:
        return keybits == 128 || keybits == 192 || keybits == 256;
    case IKE_ALG_ENCR_CHACHA20_POLY1305:
        return true;
    default:
        return false;
    }
}

size_t ike_alg_encr_salt_len(uint16_t encr)
{
    return ike_alg_encr_is_aead(encr) ? 4 : 0;
}

size_t ike_alg_encr_keymat_len(uint16_t encr, uint16_t keybits)
{
    switch (encr) {
    case IKE_ALG_ENCR_NULL:
        return 0;
    case IKE_ALG_ENCR_AES_CBC:
    case IKE_ALG_ENCR_AES_GCM_8:
    case IKE_ALG_ENCR_AES_GCM_12:
    case IKE_ALG_ENCR_AES_GCM_16:
        if (keybits != 128 && keybits != 192 && keybits != 256)
            return 0;
        return keybits / 8u + ike_alg_encr_salt_len(encr);
    case IKE_ALG_ENCR_CHACHA20_POLY1305:
        return 32 + 4;
    default:
        return 0;
    }
}

size_t ike_alg_encr_icv_len(uint16_t encr)
{
    switch (encr) {
    case IKE_ALG_ENCR_AES_GCM_8:
        return 8;
    case IKE_ALG_ENCR_AES_GCM_12:
        return 12;
    case IKE_ALG_ENCR_AES_GCM_16:
    case IKE_ALG_ENCR_CHACHA20_POLY1305:
        return 16;
    default:
        return 0;
    }
}

bool ike_alg_dh_supported(uint16_t group)
{
    switch (group) {
    case IKE_ALG_DH_MODP_1024:
    case IKE_ALG_DH_MODP_2048:
    case IKE_ALG_DH_MODP_3072:
    case IKE_ALG_DH_ECP_256:
    case IKE_ALG_DH_ECP_384:
    case IKE_ALG_DH_ECP_521:
    case IKE_ALG_DH_CURVE25519:
        return true;
    default:
        return false;
    }
}

bool ike_alg_is_weak(int transform_type, uint16_t id)
{
    switch (transform_type) {
    case 2:
        return id == IKE_ALG_PRF_HMAC_SHA1;
    case 3:
        return id == IKE_ALG_INTEG_HMAC_SHA1_96;
    case 4:
        return id == IKE_ALG_DH_MODP_1024;
    default:
        return false;
    }
}

struct name {
    uint16_t id;
    const char *name;
};

static const struct name encr_names[] = {
    {IKE_ALG_ENCR_NULL, "NULL"},
    {IKE_ALG_ENCR_AES_CBC, "AES_CBC"},
    {IKE_ALG_ENCR_AES_GCM_8, "AES_GCM_8"},
    {IKE_ALG_ENCR_AES_GCM_12, "AES_GCM_12"},
    {IKE_ALG_ENCR_AES_GCM_16, "AES_GCM_16"},
    {IKE_ALG_ENCR_CHACHA20_POLY1305, "CHACHA20_POLY1305"},
};

static const struct name prf_names[] = {
    {IKE_ALG_PRF_HMAC_SHA1, "PRF_HMAC_SHA1"},
    {IKE_ALG_PRF_HMAC_SHA2_256, "PRF_HMAC_SHA2_256"},
    {IKE_ALG_PRF_HMAC_SHA2_384, "PRF_HMAC_SHA2_384"},
    {IKE_ALG_PRF_HMAC_SHA2_512, "PRF_HMAC_SHA2_512"},
};

static const struct name integ_names[] = {
    {IKE_ALG_INTEG_NONE, "NONE"},
    {IKE_ALG_INTEG_HMAC_SHA1_96, "HMAC_SHA1_96"},
    {IKE_ALG_INTEG_HMAC_SHA2_256_128, "HMAC_SHA2_256_128"},
    {IKE_ALG_INTEG_HMAC_SHA2_384_192, "HMAC_SHA2_384_192"},
    {IKE_ALG_INTEG_HMAC_SHA2_512_256, "HMAC_SHA2_512_256"},
};

static const struct name dh_names[] = {
    {IKE_ALG_DH_MODP_1024, "MODP_1024"},   {IKE_ALG_DH_MODP_2048, "MODP_2048"},
    {IKE_ALG_DH_MODP_3072, "MODP_3072"},   {IKE_ALG_DH_ECP_256, "ECP_256"},
    {IKE_ALG_DH_ECP_384, "ECP_384"},       {IKE_ALG_DH_ECP_521, "ECP_521"},
    {IKE_ALG_DH_CURVE25519, "CURVE25519"},
};

static const char *lookup(const struct name *t, size_t n, uint16_t id)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id)
            return t[i].name;
    return "unknown";
}

#define LOOKUP(t, id) lookup(t, sizeof(t) / sizeof(t[0]), id)

const char *ike_alg_name(int transform_type, uint16_t id)
{
    switch (transform_type) {
    case 1:
        return LOOKUP(encr_names, id);
    case 2:
        return LOOKUP(prf_names, id);
    case 3:
        return LOOKUP(integ_names, id);
    case 4:
        return LOOKUP(dh_names, id);
    default:
        return "unknown";
    }
}
