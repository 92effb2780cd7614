/* Handlers that are not plain table resources (api/resource.h), and the
 * request-body field tables the fuzzer drives. */
#ifndef ISTHMUS_API_HANDLERS_H
#define ISTHMUS_API_HANDLERS_H

#include "api/http.h"
#include "api/json.h"

void api_h_tokens_list(struct api_req *req, struct api_resp *resp);
void api_h_tokens_get(struct api_req *req, struct api_resp *resp);
void api_h_tokens_create(struct api_req *req, struct api_resp *resp);
void api_h_tokens_revoke(struct api_req *req, struct api_resp *resp);
void api_h_audit_list(struct api_req *req, struct api_resp *resp);
void api_h_health(struct api_req *req, struct api_resp *resp);
void api_h_ready(struct api_req *req, struct api_resp *resp);

/* Live sessions, statistics, session history, metrics (h_sessions.c,
 * h_stats.c, metrics.c). */
void api_h_sessions_list(struct api_req *req, struct api_resp *resp);
void api_h_tenant_sessions_list(struct api_req *req, struct api_resp *resp);
void api_h_session_get(struct api_req *req, struct api_resp *resp);
void api_h_session_delete(struct api_req *req, struct api_resp *resp);
/* h_drain.c */
void api_h_session_redirect(struct api_req *req, struct api_resp *resp);
void api_h_drain_get(struct api_req *req, struct api_resp *resp);
void api_h_drain_start(struct api_req *req, struct api_resp *resp);
void api_h_drain_stop(struct api_req *req, struct api_resp *resp);
void api_h_session_history(struct api_req *req, struct api_resp *resp);
void api_h_stats(struct api_req *req, struct api_resp *resp);
void api_h_tenant_stats(struct api_req *req, struct api_resp *resp);
void api_h_metrics(struct api_req *req, struct api_resp *resp);
/* h_events.c: server-sent events of sessions (api/events_stream.h). */
void api_h_events(struct api_req *req, struct api_resp *resp);

extern const struct api_field api_token_fields[];

/* The i-th request body's field table and its name (fuzzer, tests); false
 * past the last. */
bool api_body_spec(size_t i, const char **name, const struct api_field **fields);

/* Set by the server: GET /ready answers 200 once true. */
void api_set_ready(bool ready);

/* Parses an RFC 3339 time ("2026-11-27T10:00:00Z", offsets, fractions) into
 * Unix milliseconds; false if it is not one. */
bool api_parse_time_ms(const char *s, long long *ms);

#endif
