/*
 * A live session as JSON (the Session schema of openapi.yaml), written
 * straight into a JSON text buffer (api/jbuf.h): a 1,000-item page is
 * ~750 KB, and building it as json-c objects cost more than everything
 * else a request does. Peer-supplied identities are escaped, invalid UTF-8
 * replaced, by the buffer.
 */
#ifndef ISTHMUS_API_SESSION_JSON_H
#define ISTHMUS_API_SESSION_JSON_H

#include "api/jbuf.h"

struct reg_session;
struct stats;

/* About what one session takes, to size a page's buffer up front. */
#define API_SESSION_JSON_SIZE 800

/* Writes one session; st (may be NULL) supplies the live counters. */
void api_session_write(struct jbuf *b, const struct stats *st, const struct reg_session *s);

#endif
