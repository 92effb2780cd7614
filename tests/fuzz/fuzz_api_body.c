/*
 * Request bodies of every API resource: the bytes a client sends, through
 * the same strict parser and field-table validation the handlers use, for
 * POST (create) and PATCH (merge patch over a current document), then
 * defaults, merging and redaction. The first byte picks the resource and
 * the mode; the rest is the body. Query strings (cursors, times) are fuzzed
 * with the same bytes. Nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/check.h"
#include "api/handlers.h"
#include "api/json.h"
#include "api/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t spec_count(void)
{
    const char *name;
    const struct api_field *f;
    size_t n = 0;
    while (api_body_spec(n, &name, &f))
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t nspecs;
    if (!nspecs)
        nspecs = spec_count();
    if (size < 1)
        return 0;
    const char *name;
    const struct api_field *fields;
    api_body_spec(data[0] % nspecs, &name, &fields);
    bool patch = (data[0] / nspecs) & 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    struct api_problem p = {0};
    json_object *o = api_json_parse(body, len, &p);
    if (o) {
        /* A current document for PATCH: the body itself with defaults, as
         * if it had been stored. */
        json_object *cur = api_merge_patch(NULL, o);
        api_apply_defaults(fields, cur);
        if (api_validate(fields, o, patch ? API_V_PATCH : API_V_CREATE, cur, &p) == 0) {
            json_object *merged = api_merge_patch(cur, o);
            api_apply_defaults(fields, merged);
            (void)api_validate(fields, merged, API_V_FULL, cur, &p);
            json_object *red = api_redact(fields, merged);
            (void)json_object_to_json_string(red);
            json_object_put(red);
            json_object_put(merged);
        }
        json_object_put(cur);
        json_object_put(o);
    }

    /* The same bytes as query values and single values. */
    char text[512];
    size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
    memcpy(text, body, n);
    text[n] = '\0';
    char key[API_PARAM_MAX];
    (void)api_page_decode(text, key, sizeof(key));
    long long ms;
    (void)api_parse_time_ms(text, &ms);
    struct api_cidr c;
    (void)api_cidr_parse(text, &c);
    (void)api_check_cidr(text);
    (void)api_check_identity(text);
    (void)api_check_ike_proposal(text);
    (void)api_check_esp_proposal(text);
    (void)api_proposal_is_weak(text);
    return 0;
}
