/* Body parsing and validation: see json.h. */
#include "api/json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#define MAX_DEPTH 16

/* json-c's strict mode still takes 'single-quoted' strings: refuse a quote
 * outside a string before parsing. Returns the offset of one, or -1. */
static long stray_quote(const char *s, size_t len)
{
    bool in = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in = false;
        } else if (c == '"') {
            in = true;
        } else if (c == '\'') {
            return (long)i;
        }
    }
    return -1;
}

/* json-c also takes NaN and Infinity, which JSON has not. */
static bool nonfinite(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double:
        return !isfinite(json_object_get_double(o));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (nonfinite(json_object_array_get_idx(o, i)))
                return true;
        return false;
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            if (nonfinite(v))
                return true;
        }
        return false;
    }
    default:
        return false;
    }
}

json_object *api_json_parse(const char *body, size_t len, struct api_problem *p)
{
    if (!body || len == 0) {
        api_problem_set(p, 400, NULL, "the request needs a JSON object as its body");
        return NULL;
    }
    long q = stray_quote(body, len);
    if (q >= 0) {
        api_problem_set(p, 400, NULL, "malformed JSON at byte %ld: strings take double quotes", q);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok) {
        api_problem_set(p, 500, NULL, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (!o || jerr != json_tokener_success) {
        api_problem_set(p, 400, NULL, "malformed JSON at byte %zu: %s", used,
                        jerr == json_tokener_continue ? "unexpected end of input"
                                                      : json_tokener_error_desc(jerr));
        json_object_put(o);
        o = NULL;
        goto done;
    }
    for (; used < len; used++) {
        char c = body[used];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            api_problem_set(p, 400, NULL, "malformed JSON: data after the object at byte %zu",
                            used);
            json_object_put(o);
            o = NULL;
            goto done;
        }
    }
    if (nonfinite(o)) {
        api_problem_set(p, 400, NULL, "malformed JSON: NaN and Infinity are not JSON numbers");
        json_object_put(o);
        o = NULL;
    } else if (!json_object_is_type(o, json_type_object)) {
        api_problem_set(p, 400, NULL, "the body must be a JSON object");
        json_object_put(o);
        o = NULL;
    }
done:
    json_tokener_free(tok);
    return o;
}

const struct api_field *api_field_find(const struct api_field *fields, const char *name)
{
    for (const struct api_field *f = fields; f && f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

static const char *type_name(enum api_ftype t)
{
    switch (t) {
    case AT_STRING:
        return "a string";
    case AT_INT:
        return "an integer";
    case AT_BOOL:
        return "a boolean";
    case AT_STRLIST:
        return "an array of strings";
    case AT_OBJECT:
        return "an object";
    case AT_TIME:
        return "a time";
    }
    return "?";
}

static int check_string(const struct api_field *f, const char *path, json_object *v,
                        struct api_problem *p, const char *what)
{
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len) {
        api_problem_set(p, 400, path, "%s: %s holds a NUL character", path, what);
        return -1;
    }
    long long min = f->type == AT_STRING ? f->min : 1, max = f->type == AT_STRING ? f->max : 255;
    if ((long long)len < min || (long long)len > max) {
        api_problem_set(p, 400, path, "%s: %s must be %lld to %lld characters long", path, what,
                        min, max);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (f->flags & AF_MULTILINE && (c == '\n' || c == '\r' || c == '\t'))
            continue;
        if (c < 0x20 || c == 0x7f) {
            api_problem_set(p, 400, path, "%s: %s holds a control character", path, what);
            return -1;
        }
    }
    if (f->enums) {
        bool ok = false;
        for (const char *const *e = f->enums; *e; e++)
            ok = ok || !strcmp(*e, s);
        if (!ok) {
            char allowed[256] = "";
            for (const char *const *e = f->enums; *e; e++)
                snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                         e == f->enums ? "" : ", ", *e);
            api_problem_set(p, 400, path, "%s: must be one of %s", path, allowed);
            return -1;
        }
    }
    if (f->check) {
        const char *why = f->check(s);
        if (why) {
            api_problem_set(p, 400, path, "%s: '%.80s' %s", path, s, why);
            return -1;
        }
    }
    return 0;
}

static int validate_at(const struct api_field *fields, json_object *obj, enum api_vmode mode,
                       json_object *cur, const char *prefix, struct api_problem *p);

static int check_value(const struct api_field *f, const char *path, json_object *v,
                       enum api_vmode mode, json_object *cur, struct api_problem *p)
{
    if (!v) {
        if (mode == API_V_PATCH) {
            if (f->flags & AF_REQUIRED && !f->def) {
                api_problem_set(p, 400, path, "%s: is required and cannot be removed", path);
                return -1;
            }
            return 0;
        }
        if (f->flags & AF_NULLABLE)
            return 0;
        api_problem_set(p, 400, path, "%s: must be %s, not null", path, type_name(f->type));
        return -1;
    }
    switch (f->type) {
    case AT_STRING:
        if (!json_object_is_type(v, json_type_string))
            break;
        return check_string(f, path, v, p, "the value");
    case AT_INT:
        if (!json_object_is_type(v, json_type_int))
            break;
        {
            errno = 0;
            long long n = (long long)json_object_get_int64(v);
            if (json_object_get_uint64(v) > (uint64_t)INT64_MAX || n < f->min || n > f->max) {
                api_problem_set(p, 400, path, "%s: must be between %lld and %lld", path, f->min,
                                f->max);
                return -1;
            }
        }
        return 0;
    case AT_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            break;
        return 0;
    case AT_STRLIST:
        if (!json_object_is_type(v, json_type_array))
            break;
        {
            size_t n = json_object_array_length(v);
            if ((long long)n < f->min || (long long)n > f->max) {
                api_problem_set(p, 400, path, "%s: must hold %lld to %lld items", path, f->min,
                                f->max);
                return -1;
            }
            for (size_t i = 0; i < n; i++) {
                json_object *it = json_object_array_get_idx(v, i);
                char ipath[160];
                snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
                if (!json_object_is_type(it, json_type_string)) {
                    api_problem_set(p, 400, ipath, "%s: must be a string", ipath);
                    return -1;
                }
                if (check_string(f, ipath, it, p, "the item") < 0)
                    return -1;
                for (size_t j = 0; j < i; j++)
                    if (!strcasecmp(json_object_get_string(json_object_array_get_idx(v, j)),
                                    json_object_get_string(it))) {
                        api_problem_set(p, 400, ipath, "%s: '%.80s' is listed twice", ipath,
                                        json_object_get_string(it));
                        return -1;
                    }
            }
        }
        return 0;
    case AT_OBJECT:
        if (!json_object_is_type(v, json_type_object))
            break;
        {
            json_object *sub_cur = NULL;
            if (cur)
                json_object_object_get_ex(cur, f->name, &sub_cur);
            return validate_at(f->sub, v, mode, sub_cur, path, p);
        }
    case AT_TIME:
        break;
    }
    api_problem_set(p, 400, path, "%s: must be %s", path, type_name(f->type));
    return -1;
}

static int validate_at(const struct api_field *fields, json_object *obj, enum api_vmode mode,
                       json_object *cur, const char *prefix, struct api_problem *p)
{
    char path[160];
    /* Unknown and read-only members first: nothing of an odd body is used. */
    json_object_object_foreach(obj, key, val)
    {
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        const struct api_field *f = api_field_find(fields, key);
        if (!f) {
            api_problem_set(p, 400, path, "%s: unknown field", path);
            return -1;
        }
        if (mode != API_V_FULL && f->flags & AF_READONLY) {
            api_problem_set(p, 400, path, "%s: is read-only", path);
            return -1;
        }
        if (mode == API_V_PATCH && f->flags & (AF_IMMUTABLE | AF_CREATEONLY) &&
            f->type != AT_OBJECT) {
            json_object *old = NULL;
            if (!cur || !json_object_object_get_ex(cur, key, &old) ||
                !json_object_equal(old, val)) {
                api_problem_set(p, 400, path, "%s: cannot be changed after creation", path);
                return -1;
            }
        }
        if (check_value(f, path, val, mode, cur, p) < 0)
            return -1;
    }
    if (mode == API_V_PATCH)
        return 0;
    for (const struct api_field *f = fields; f->name; f++) {
        if (f->flags & AF_READONLY)
            continue;
        if (mode == API_V_FULL && f->flags & (AF_CREATEONLY | AF_SECRET))
            continue;
        if (f->flags & AF_REQUIRED && !json_object_object_get_ex(obj, f->name, NULL)) {
            snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
            api_problem_set(p, 400, path, "%s: is required", path);
            return -1;
        }
    }
    return 0;
}

int api_validate(const struct api_field *fields, json_object *obj, enum api_vmode mode,
                 json_object *cur, struct api_problem *p)
{
    if (!json_object_is_type(obj, json_type_object)) {
        api_problem_set(p, 400, NULL, "the body must be a JSON object");
        return -1;
    }
    return validate_at(fields, obj, mode, cur, "", p);
}

void api_apply_defaults(const struct api_field *fields, json_object *obj)
{
    for (const struct api_field *f = fields; f->name; f++) {
        json_object *v = NULL;
        bool have = json_object_object_get_ex(obj, f->name, &v);
        if (f->type == AT_OBJECT) {
            if (!have || !v) {
                v = json_object_new_object();
                json_object_object_add(obj, f->name, v);
            }
            if (json_object_is_type(v, json_type_object))
                api_apply_defaults(f->sub, v);
            continue;
        }
        if (!have && f->def)
            json_object_object_add(obj, f->name, json_tokener_parse(f->def));
    }
}

json_object *api_merge_patch(json_object *target, json_object *patch)
{
    if (!json_object_is_type(patch, json_type_object)) {
        json_object *copy = NULL;
        json_object_deep_copy(patch, &copy, NULL);
        return copy;
    }
    json_object *out = NULL;
    if (json_object_is_type(target, json_type_object))
        json_object_deep_copy(target, &out, NULL);
    else
        out = json_object_new_object();
    json_object_object_foreach(patch, key, val)
    {
        if (!val) {
            json_object_object_del(out, key);
            continue;
        }
        json_object *old = NULL;
        json_object_object_get_ex(out, key, &old);
        json_object_object_add(out, key, api_merge_patch(old, val));
    }
    return out;
}

json_object *api_redact(const struct api_field *fields, json_object *obj)
{
    json_object *out = json_object_new_object();
    json_object_object_foreach(obj, key, val)
    {
        const struct api_field *f = api_field_find(fields, key);
        if (f && f->flags & AF_SECRET) {
            json_object_object_add(out, key, json_object_new_string("***"));
        } else if (f && f->type == AT_OBJECT && json_object_is_type(val, json_type_object)) {
            json_object_object_add(out, key, api_redact(f->sub, val));
        } else {
            json_object *copy = NULL;
            if (val)
                json_object_deep_copy(val, &copy, NULL);
            json_object_object_add(out, key, copy);
        }
    }
    return out;
}
