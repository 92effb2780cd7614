/* Transform facts: see ike_alg.h. */
#include "concentrator/ike_alg.h"

#include "concentrator/ike_names.h"

size_t ike_alg_prf_len(uint16_t prf)
{
    switch (prf) {
    case IKE_PRF_HMAC_SHA1:
        return 20;
    case IKE_PRF_HMAC_SHA2_256:
        return 32;
    case IKE_PRF_HMAC_SHA2_384:
        return 48;
    case IKE_PRF_HMAC_SHA2_512:
        return 64;
    default:
        return 0;
    }
}

const char *ike_alg_prf_digest(uint16_t prf)
{
    switch (prf) {
    case IKE_PRF_HMAC_SHA1:
        return "SHA1";
    case IKE_PRF_HMAC_SHA2_256:
        return "SHA256";
    case IKE_PRF_HMAC_SHA2_384:
        return "SHA384";
    case IKE_PRF_HMAC_SHA2_512:
        return "SHA512";
    default:
        return NULL;
    }
}

size_t ike_alg_integ_key_len(uint16_t integ)
{
    switch (integ) {
    case IKE_INTEG_HMAC_SHA1_96:
        return 20;
    case IKE_INTEG_HMAC_SHA2_256_128:
        return 32;
    case IKE_INTEG_HMAC_SHA2_384_192:
        return 48;
    case IKE_INTEG_HMAC_SHA2_512_256:
        return 64;
    default:
        return 0;
    }
}

size_t ike_alg_integ_icv_len(uint16_t integ)
{
    switch (integ) {
    case IKE_INTEG_HMAC_SHA1_96:
        return 12;
    case IKE_INTEG_HMAC_SHA2_256_128:
        return 16;
    case IKE_INTEG_HMAC_SHA2_384_192:
        return 24;
    case IKE_INTEG_HMAC_SHA2_512_256:
        return 32;
    default:
        return 0;
    }
}

const char *ike_alg_integ_digest(uint16_t integ)
{
    switch (integ) {
    case IKE_INTEG_HMAC_SHA1_96:
        return "SHA1";
    case IKE_INTEG_HMAC_SHA2_256_128:
        return "SHA256";
    case IKE_INTEG_HMAC_SHA2_384_192:
        return "SHA384";
    case IKE_INTEG_HMAC_SHA2_512_256:
        return "SHA512";
    default:
        return NULL;
    }
}

bool ike_alg_integ_supported(uint16_t integ)
{
    return integ == IKE_INTEG_NONE || ike_alg_integ_digest(integ) != NULL;
}

bool ike_alg_encr_is_aead(uint16_t encr)
{
    switch (encr) {
    case IKE_ENCR_AES_GCM_8:
    case IKE_ENCR_AES_GCM_12:
    case IKE_ENCR_AES_GCM_16:
    case IKE_ENCR_CHACHA20_POLY1305:
        return true;
    default:
        return false;
    }
}

bool ike_alg_encr_supported(uint16_t encr, uint16_t keybits, bool esp)
{
    switch (encr) {
    case IKE_ENCR_NULL:
        return esp;
    case IKE_ENCR_AES_CBC:
    case IKE_ENCR_AES_GCM_8:
    case IKE_ENCR_AES_GCM_12:
    case IKE_ENCR_AES_GCM_16:
        return keybits == 128 || keybits == 192 || keybits == 256;
    case IKE_ENCR_CHACHA20_POLY1305:
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
    case IKE_ENCR_NULL:
        return 0;
    case IKE_ENCR_AES_CBC:
    case IKE_ENCR_AES_GCM_8:
    case IKE_ENCR_AES_GCM_12:
    case IKE_ENCR_AES_GCM_16:
        if (keybits != 128 && keybits != 192 && keybits != 256)
            return 0;
        return keybits / 8u + ike_alg_encr_salt_len(encr);
    case IKE_ENCR_CHACHA20_POLY1305:
        return 32 + 4;
    default:
        return 0;
    }
}

size_t ike_alg_encr_icv_len(uint16_t encr)
{
    switch (encr) {
    case IKE_ENCR_AES_GCM_8:
        return 8;
    case IKE_ENCR_AES_GCM_12:
        return 12;
    case IKE_ENCR_AES_GCM_16:
    case IKE_ENCR_CHACHA20_POLY1305:
        return 16;
    default:
        return 0;
    }
}

bool ike_alg_dh_supported(uint16_t group)
{
    switch (group) {
    case IKE_DH_MODP1024:
    case IKE_DH_MODP2048:
    case IKE_DH_MODP3072:
    case IKE_DH_ECP256:
    case IKE_DH_ECP384:
    case IKE_DH_ECP521:
    case IKE_DH_CURVE25519:
        return true;
    default:
        return false;
    }
}

bool ike_alg_is_weak(int transform_type, uint16_t id)
{
    switch (transform_type) {
    case IKE_TT_PRF:
        return id == IKE_PRF_HMAC_SHA1;
    case IKE_TT_INTEG:
        return id == IKE_INTEG_HMAC_SHA1_96;
    case IKE_TT_DH:
        return id == IKE_DH_MODP1024;
    default:
        return false;
    }
}

const char *ike_alg_name(int transform_type, uint16_t id)
{
    return ike_transform_name((unsigned)transform_type, id, NULL, 0);
}
