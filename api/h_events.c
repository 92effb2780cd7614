/* GET /api/v1/events: who may see which events, and from where the stream
 * starts; the stream itself is api/events_stream.c. A tenant token sees its
 * tenant's events only; an operator sees all, or one tenant's with
 * ?tenant=. Last-Event-ID (what a browser's EventSource sends when it
 * reconnects) continues after that event. */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/events_stream.h"
#include "api/handlers.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/server.h"

/* A decimal event id, nothing else. */
static bool parse_id(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

void api_h_events(struct api_req *req, struct api_resp *resp)
{
    const struct api_deps *d = req->deps;
    if (!d || !d->events || !d->streams) {
        api_problem(resp, 503, NULL, "session events are not available (no IKE engine)");
        return;
    }
    const char *tenant = api_caller_tenant(req);
    const char *qt = api_query(req, "tenant");
    if (qt) {
        if (!api_may_read(req, qt, resp))
            return;
        if (!api_tenant_exists(req->db, qt)) {
            api_problem(resp, 404, NULL, "no tenant '%.64s'", qt);
            return;
        }
        tenant = qt;
    }
    const char *last = api_header(req, "Last-Event-ID");
    uint64_t after = 0;
    if (last && !parse_id(last, &after)) {
        api_problem(resp, 400, "Last-Event-ID", "Last-Event-ID: not an event id this API sent");
        return;
    }
    enum api_stream_refusal why;
    struct api_stream *s = api_stream_open(d->streams, tenant, last != NULL, after, &why);
    if (!s) {
        if (why == API_STREAM_STOPPING)
            api_problem(resp, 503, NULL, "the daemon is stopping");
        else
            api_problem(resp, 503, NULL, "too many event streams are open (at most %u)",
                        (unsigned)API_STREAMS_MAX);
        return;
    }
    resp->status = 200;
    resp->ctype = "text/event-stream";
    resp->stream = s;
}
