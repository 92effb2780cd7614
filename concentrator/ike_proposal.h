/*
 * Proposal policy: what a tenant policy allows, written the way operators
 * write strongSwan proposals ("aes256gcm16-prfsha384-ecp384",
 * "aes256-sha256-modp2048"), and the responder's choice among what a client
 * offers.
 *
 * A proposal string lists algorithms of each kind joined by '-'; several of
 * one kind are alternatives. For IKE a non-AEAD cipher needs an integrity
 * algorithm (its PRF follows from it unless a prf... token is given); an
 * AEAD cipher needs a PRF (prfsha256 when none is given). ESP proposals may
 * carry a DH group (PFS) and esn/noesn. Weak algorithms (3des, sha1,
 * modp1024) are refused unless allow_weak is set.
 */
#ifndef ISTHMUS_IKE_PROPOSAL_H
#define ISTHMUS_IKE_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IKE_PROP_MAX_ALGS 12

struct ike_prop_encr {
    uint16_t id;
    uint16_t keybits; /* 0 for fixed-key ciphers */
};

struct ike_prop {
    struct ike_prop_encr encr[IKE_PROP_MAX_ALGS];
    size_t n_encr;
    uint16_t integ[IKE_PROP_MAX_ALGS];
    size_t n_integ;
    uint16_t prf[IKE_PROP_MAX_ALGS];
    size_t n_prf;
    uint16_t dh[IKE_PROP_MAX_ALGS]; /* for ESP: PFS groups; empty: no PFS */
    size_t n_dh;
    bool esn, noesn; /* ESP only; neither given means noesn */
    bool aead;
};

#define IKE_PROP_MAX 8

struct ike_prop_set {
    struct ike_prop p[IKE_PROP_MAX];
    size_t n;
};

/* Parses one proposal string. esp selects the ESP rules. Returns 0, or -1
 * with a message naming the offending token in err. */
int ike_proposal_parse(const char *s, bool esp, bool allow_weak, struct ike_prop *out, char *err,
                       size_t errlen);

/* True if the proposal string names a weak algorithm (3des, sha1, md5,
 * modp1024, ...), whether or not it parses. */
bool ike_proposal_is_weak(const char *s);

/* Parses a list of strings into a set; an empty list gives the safe
 * default set. */
int ike_proposal_set_parse(char *const *list, size_t n, bool esp, bool allow_weak,
                           struct ike_prop_set *out, char *err, size_t errlen);

/* The safe defaults (AES-GCM, ChaCha20-Poly1305, AES-CBC with SHA-2;
 * Curve25519, ECP, MODP >= 2048). */
void ike_proposal_defaults(bool esp, struct ike_prop_set *out);

/* What a client offered in one proposal of its SA payload. */
struct ike_offer_transform {
    uint8_t type; /* 1 ENCR, 2 PRF, 3 INTEG, 4 DH, 5 ESN */
    uint16_t id;
    uint16_t keybits; /* the Key Length attribute, 0 if absent */
};

struct ike_offer {
    uint8_t number; /* proposal number, echoed in the answer */
    uint8_t protocol;
    const struct ike_offer_transform *t;
    size_t n;
};

/* The chosen transforms: one of each kind (0 where the kind is absent). */
struct ike_choice {
    uint8_t number;
    uint16_t encr, encr_keybits, prf, integ, dh;
    bool esn;
};

/* Chooses among the client's offers (in the client's order) the first that
 * our set accepts in full, taking within it our preferred transform of each
 * kind. For IKE a DH group is required. For ESP, PFS: a DH transform is taken
 * only if the offer has one. Returns the index of the chosen offer, or -1
 * (NO_PROPOSAL_CHOSEN). */
int ike_proposal_choose(const struct ike_prop_set *ours, const struct ike_offer *offers,
                        size_t n_offers, bool esp, struct ike_choice *out);

/* For INVALID_KE_PAYLOAD: the group the client should use, given what it
 * chose and sent. Returns the group to ask for, or 0 if ke_group is fine
 * (c->dh is then set to it: a client may send KE for any group it offered
 * that we also allow). */
uint16_t ike_proposal_ke_group(struct ike_choice *c, const struct ike_offer *offer,
                               const struct ike_prop_set *ours, uint16_t ke_group);

/* "AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384" for logs and the API. */
void ike_choice_str(const struct ike_choice *c, bool esp, char *buf, size_t len);

#endif
