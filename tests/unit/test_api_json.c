/* API request bodies: strict parsing, validation against field tables (the
 * field at fault is named), JSON Merge Patch (RFC 7396), redaction, value
 * checks (CIDRs, proposals, names) and list cursors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/check.h"
#include "api/handlers.h"
#include "api/json.h"
#include "api/page.h"

static const char *const colours[] = {"red", "green", NULL};

static const struct api_field inner[] = {
    {.name = "mtu", .type = AT_INT, .min = 1280, .max = 9000, .def = "1400"},
    {.name = "ns", .type = AT_STRING, .flags = AF_NULLABLE, .min = 1, .max = 8},
    {0},
};

static const struct api_field fields[] = {
    {.name = "id",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 10,
     .check = api_check_slug},
    {.name = "on", .type = AT_BOOL, .def = "true"},
    {.name = "colour", .type = AT_STRING, .min = 1, .max = 10, .enums = colours},
    {.name = "nets", .type = AT_STRLIST, .min = 0, .max = 3, .def = "[]", .check = api_check_cidr},
    {.name = "net", .type = AT_OBJECT, .sub = inner},
    {.name = "secret", .type = AT_STRING, .flags = AF_SECRET, .min = 1, .max = 20},
    {.name = "pem", .type = AT_STRING, .flags = AF_MULTILINE, .min = 0, .max = 100},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY},
    {0},
};

/* Validates text in mode; returns the problem's field ("" if none, "OK"
 * when valid). */
static const char *verdict(const char *text, enum api_vmode mode, const char *cur_text)
{
    static struct api_problem p;
    memset(&p, 0, sizeof(p));
    json_object *o = api_json_parse(text, strlen(text), &p);
    if (!o)
        return "PARSE";
    json_object *cur = cur_text ? json_tokener_parse(cur_text) : NULL;
    int rc = api_validate(fields, o, mode, cur, &p);
    json_object_put(o);
    json_object_put(cur);
    if (rc == 0)
        return "OK";
    assert_int_equal(p.status, 400);
    /* The detail starts with the field it names. */
    if (p.field[0])
        assert_memory_equal(p.detail, p.field, strlen(p.field));
    return p.field;
}

static void parse_is_strict(void **state)
{
    (void)state;
    struct api_problem p = {0};
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "1",
                         "\"x\"",
                         "{} {}",
                         "{\"a\":1,}",
                         "{'a':1}",
                         "{\"a\":\"\xff\"}",
                         "{\"a\":NaN}",
                         "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *o = api_json_parse(bad[i], strlen(bad[i]), &p);
        if (o)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(p.status, 400);
    }
    char deep[512] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    assert_null(api_json_parse(deep, strlen(deep), &p));
    const char *spaced = "  {\"a\": [1, 2]}\n ";
    json_object *o = api_json_parse(spaced, strlen(spaced), &p);
    assert_non_null(o);
    json_object_put(o);
}

static void validation_names_the_field(void **state)
{
    (void)state;
    assert_string_equal(verdict("{\"id\":\"a\"}", API_V_CREATE, NULL), "OK");
    assert_string_equal(verdict("{}", API_V_CREATE, NULL), "id");
    assert_string_equal(verdict("{\"id\":\"a\",\"x\":1}", API_V_CREATE, NULL), "x");
    assert_string_equal(verdict("{\"id\":\"A\"}", API_V_CREATE, NULL), "id");
    assert_string_equal(verdict("{\"id\":\"abcdefghijk\"}", API_V_CREATE, NULL), "id");
    assert_string_equal(verdict("{\"id\":1}", API_V_CREATE, NULL), "id");
    assert_string_equal(verdict("{\"id\":\"a\",\"on\":1}", API_V_CREATE, NULL), "on");
    assert_string_equal(verdict("{\"id\":\"a\",\"on\":null}", API_V_CREATE, NULL), "on");
    assert_string_equal(verdict("{\"id\":\"a\",\"colour\":\"blue\"}", API_V_CREATE, NULL),
                        "colour");
    assert_string_equal(verdict("{\"id\":\"a\",\"nets\":\"10.0.0.0/8\"}", API_V_CREATE, NULL),
                        "nets");
    assert_string_equal(
        verdict("{\"id\":\"a\",\"nets\":[\"10.0.0.0/8\",\"10.0.0.1/8\"]}", API_V_CREATE, NULL),
        "nets[1]");
    assert_string_equal(verdict("{\"id\":\"a\",\"nets\":[\"10.0.0.0/8\",5]}", API_V_CREATE, NULL),
                        "nets[1]");
    assert_string_equal(
        verdict("{\"id\":\"a\",\"nets\":[\"1.0.0.0/8\",\"1.0.0.0/8\"]}", API_V_CREATE, NULL),
        "nets[1]");
    assert_string_equal(verdict("{\"id\":\"a\",\"nets\":[\"1.0.0.0/8\",\"2.0.0.0/8\",\"3.0.0.0/"
                                "8\",\"4.0.0.0/8\"]}",
                                API_V_CREATE, NULL),
                        "nets");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":{\"mtu\":100}}", API_V_CREATE, NULL),
                        "net.mtu");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":{\"mtu\":1400.0}}", API_V_CREATE, NULL),
                        "net.mtu");
    assert_string_equal(
        verdict("{\"id\":\"a\",\"net\":{\"mtu\":99999999999999999999}}", API_V_CREATE, NULL),
        "net.mtu");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":{\"mtu\":-1}}", API_V_CREATE, NULL),
                        "net.mtu");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":{\"zz\":1}}", API_V_CREATE, NULL), "net.zz");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":{\"ns\":null}}", API_V_CREATE, NULL), "OK");
    assert_string_equal(verdict("{\"id\":\"a\",\"net\":[]}", API_V_CREATE, NULL), "net");
    assert_string_equal(verdict("{\"id\":\"a\",\"created_at\":\"x\"}", API_V_CREATE, NULL),
                        "created_at");
    assert_string_equal(verdict("{\"id\":\"a\\u0000b\"}", API_V_CREATE, NULL), "id");
    assert_string_equal(verdict("{\"id\":\"a\",\"secret\":\"x\\ny\"}", API_V_CREATE, NULL),
                        "secret");
    assert_string_equal(verdict("{\"id\":\"a\",\"pem\":\"x\\ny\\r\\n\"}", API_V_CREATE, NULL),
                        "OK");
}

static void patch_rules(void **state)
{
    (void)state;
    const char *cur = "{\"id\":\"a\",\"on\":true,\"net\":{\"mtu\":1400}}";
    assert_string_equal(verdict("{\"on\":false}", API_V_PATCH, cur), "OK");
    assert_string_equal(verdict("{\"id\":\"a\"}", API_V_PATCH, cur), "OK");
    assert_string_equal(verdict("{\"id\":\"b\"}", API_V_PATCH, cur), "id");
    assert_string_equal(verdict("{\"id\":null}", API_V_PATCH, cur), "id");
    assert_string_equal(verdict("{\"on\":null}", API_V_PATCH, cur), "OK");
    assert_string_equal(verdict("{\"net\":{\"mtu\":null}}", API_V_PATCH, cur), "OK");
    assert_string_equal(verdict("{\"net\":{\"mtu\":1}}", API_V_PATCH, cur), "net.mtu");
    assert_string_equal(verdict("{\"created_at\":\"x\"}", API_V_PATCH, cur), "created_at");
}

static void check_merge(const char *target, const char *patch, const char *want)
{
    json_object *t = json_tokener_parse(target), *p = json_tokener_parse(patch);
    json_object *w = json_tokener_parse(want);
    json_object *got = api_merge_patch(t, p);
    if (!json_object_equal(got, w))
        fail_msg("merge %s + %s = %s, want %s", target, patch, json_object_to_json_string(got),
                 want);
    json_object_put(t);
    json_object_put(p);
    json_object_put(w);
    json_object_put(got);
}

static void merge_patch_follows_rfc7396(void **state)
{
    (void)state;
    /* RFC 7396 Appendix A. */
    check_merge("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_merge("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check_merge("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check_merge("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check_merge("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_merge("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check_merge("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
                "{\"a\":{\"b\":\"d\"}}");
    check_merge("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check_merge("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check_merge("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void defaults_and_redaction(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse("{\"id\":\"a\",\"secret\":\"hunter2\"}");
    api_apply_defaults(fields, o);
    json_object *want = json_tokener_parse(
        "{\"id\":\"a\",\"secret\":\"hunter2\",\"on\":true,\"nets\":[],\"net\":{\"mtu\":1400}}");
    assert_true(json_object_equal(o, want));
    json_object *red = api_redact(fields, o);
    json_object *s = NULL;
    assert_true(json_object_object_get_ex(red, "secret", &s));
    assert_string_equal(json_object_get_string(s), "***");
    assert_null(strstr(json_object_to_json_string(red), "hunter2"));
    json_object_put(o);
    json_object_put(want);
    json_object_put(red);
}

static void value_checks(void **state)
{
    (void)state;
    assert_null(api_check_cidr("10.0.0.0/8"));
    assert_null(api_check_cidr("fd00::/64"));
    assert_null(api_check_cidr("0.0.0.0/0"));
    assert_non_null(api_check_cidr("10.0.0.1/8"));
    assert_non_null(api_check_cidr("10.0.0.0/33"));
    assert_non_null(api_check_cidr("10.0.0.0"));
    assert_non_null(api_check_cidr("10.0.0.0/08"));
    assert_non_null(api_check_cidr("fd00::1/64"));
    assert_non_null(api_check_cidr("x/8"));
    assert_null(api_check_ip("192.0.2.1"));
    assert_null(api_check_ip("2001:db8::1"));
    assert_non_null(api_check_ip("192.0.2.256"));
    assert_null(api_check_slug("acme-2"));
    assert_non_null(api_check_slug("-acme"));
    assert_non_null(api_check_slug("Acme"));
    assert_null(api_check_identity("vpn.acme.example"));
    assert_null(api_check_identity("192.0.2.1"));
    assert_null(api_check_identity("gw@acme.example"));
    assert_non_null(api_check_identity("a b"));
    assert_non_null(api_check_domain("a..b"));
    assert_non_null(api_check_domain("-a.b"));
    assert_null(api_check_email(""));
    assert_non_null(api_check_email("nobody"));
    assert_null(api_check_ifname("ist-acme"));
    assert_non_null(api_check_ifname("sixteen-chars-xx"));
    assert_non_null(api_check_ifname(".."));

    assert_null(api_check_ike_proposal("aes256gcm16-prfsha384-ecp384"));
    assert_null(api_check_ike_proposal("aes256-sha256-modp2048"));
    assert_non_null(api_check_ike_proposal("aes256-modp2048"));       /* no integrity */
    assert_non_null(api_check_ike_proposal("aes256gcm16-prfsha384")); /* no DH */
    assert_non_null(api_check_ike_proposal("aes256gcm16-prfsha384-ecp384-"));
    assert_non_null(api_check_ike_proposal("rot13-sha256-ecp256"));
    assert_null(api_check_esp_proposal("aes256gcm16"));
    assert_null(api_check_esp_proposal("aes128-sha256-ecp256-esn"));
    assert_non_null(api_check_esp_proposal("aes256gcm16-prfsha256"));
    assert_true(api_proposal_is_weak("3des-sha256-modp2048"));
    assert_true(api_proposal_is_weak("aes128-sha256-modp1024"));
    assert_true(api_proposal_is_weak("aes128-sha1-ecp256"));
    assert_false(api_proposal_is_weak("aes256gcm16-prfsha384-ecp384"));
}

static void cidr_arithmetic(void **state)
{
    (void)state;
    struct api_cidr a, b, ip;
    assert_true(api_cidr_parse("10.1.0.0/16", &a));
    assert_true(api_cidr_parse("10.1.2.0/24", &b));
    assert_true(api_cidr_overlap(&a, &b) && api_cidr_overlap(&b, &a));
    assert_true(api_cidr_parse("10.2.0.0/16", &b));
    assert_false(api_cidr_overlap(&a, &b));
    assert_true(api_cidr_parse("fd00::/8", &b));
    assert_false(api_cidr_overlap(&a, &b)); /* families never overlap */
    assert_true(api_cidr_parse("10.1.255.255", &ip));
    assert_true(api_cidr_contains(&a, &ip));
    assert_true(api_cidr_parse("10.0.255.255", &ip));
    assert_false(api_cidr_contains(&a, &ip));
    assert_true(api_cidr_parse("fd12:3456::1", &ip));
    assert_true(api_cidr_contains(&b, &ip));
    assert_true(api_cidr_parse("10.1.0.0/17", &a));
    assert_true(api_cidr_parse("10.1.128.0/17", &b));
    assert_false(api_cidr_overlap(&a, &b));
}

static void cursors_round_trip_and_reject_forgeries(void **state)
{
    (void)state;
    const char *keys[] = {"a", "alice@acme.example", "user-0042", "x", "ab", "abc"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char cur[600], back[API_PARAM_MAX];
        api_page_cursor(keys[i], cur, sizeof(cur));
        assert_true(api_page_decode(cur, back, sizeof(back)));
        assert_string_equal(back, keys[i]);
        assert_null(strchr(cur, '=')); /* URL-safe, no padding */
    }
    char back[API_PARAM_MAX];
    assert_false(api_page_decode("", back, sizeof(back)));
    assert_false(api_page_decode("!!!!", back, sizeof(back)));
    assert_false(api_page_decode("Zm9v", back, sizeof(back))); /* "foo": no prefix */
    assert_false(api_page_decode("A", back, sizeof(back)));
}

static void every_body_table_is_well_formed(void **state)
{
    (void)state;
    const char *name;
    const struct api_field *f;
    size_t n = 0;
    for (size_t i = 0; api_body_spec(i, &name, &f); i++, n++) {
        for (; f->name; f++) {
            if (f->type == AT_INT || f->type == AT_STRING || f->type == AT_STRLIST)
                assert_true(f->min <= f->max);
            if (f->def) {
                json_object *d = json_tokener_parse(f->def);
                if (!d && strcmp(f->def, "null") != 0)
                    fail_msg("%s.%s: default %s is not JSON", name, f->name, f->def);
                json_object_put(d);
            }
        }
    }
    assert_true(n >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_is_strict),
        cmocka_unit_test(validation_names_the_field),
        cmocka_unit_test(patch_rules),
        cmocka_unit_test(merge_patch_follows_rfc7396),
        cmocka_unit_test(defaults_and_redaction),
        cmocka_unit_test(value_checks),
        cmocka_unit_test(cidr_arithmetic),
        cmocka_unit_test(cursors_round_trip_and_reject_forgeries),
        cmocka_unit_test(every_body_table_is_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
