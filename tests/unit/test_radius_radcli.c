/*
 * What Debian's libradcli 1.2.11 does with the Message-Authenticator of a
 * reply, found by test against tests/system/radius/fake_radius.py in mode
 * bad-ma (an Access-Accept whose Response Authenticator is right but whose
 * Message-Authenticator is forged). Run by tests/system/test_radius_relay.py;
 * skipped unless RADIUS_FAKE_BADMA_PORT is set.
 *
 * radcli 1.2.11 accepts that reply (OK_RC) and hands back only parsed
 * attributes, never the raw reply, so a caller cannot check the
 * Message-Authenticator itself. This is why auth/radius_pkt.c builds and
 * checks packets itself. If a newer radcli refuses the forged reply, this
 * test fails and says so: then radcli can be reconsidered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <radcli/radcli.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_radcli_accepts_forged_message_authenticator(void **state)
{
    (void)state;
    const char *port = getenv("RADIUS_FAKE_BADMA_PORT");
    const char *secret = getenv("RADIUS_FAKE_SECRET");
    if (!port || !secret)
        skip();
    char server[128], msg[PW_MAX_MSG_SIZE];
    snprintf(server, sizeof(server), "127.0.0.1:%s:%s", port, secret);

    rc_handle *rh = rc_new();
    assert_non_null(rh);
    rh = rc_config_init(rh);
    assert_non_null(rh);
    assert_int_equal(rc_add_config(rh, "dictionary", "/etc/radcli/dictionary", "test", 0), 0);
    assert_int_equal(rc_add_config(rh, "authserver", server, "test", 0), 0);
    assert_int_equal(rc_add_config(rh, "acctserver", server, "test", 0), 0);
    assert_int_equal(rc_add_config(rh, "radius_timeout", "1", "test", 0), 0);
    assert_int_equal(rc_add_config(rh, "radius_retries", "1", "test", 0), 0);
    assert_int_equal(rc_apply_config(rh), 0);
    assert_int_equal(rc_read_dictionary(rh, rc_conf_str(rh, "dictionary")), 0);

    VALUE_PAIR *send = NULL, *recv = NULL;
    const uint8_t eap[] = {2, 1, 0, 10, 1, 'c', 'a', 'r', 'o', 'l'};
    assert_non_null(rc_avpair_add(rh, &send, PW_USER_NAME, "carol", -1, 0));
    assert_non_null(rc_avpair_add(rh, &send, PW_EAP_MESSAGE, eap, sizeof(eap), 0));
    int rc = rc_aaa(rh, 0, send, &recv, msg, 0, PW_ACCESS_REQUEST);
    printf("radcli 1.2.11 on an Access-Accept with a forged Message-Authenticator: %s\n",
           rc == OK_RC ? "accepted (OK_RC)" : "refused");
    assert_int_equal(rc, OK_RC);
    rc_avpair_free(send);
    rc_avpair_free(recv);
    rc_destroy(rh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_radcli_accepts_forged_message_authenticator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
