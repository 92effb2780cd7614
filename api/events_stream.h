/*
 * GET /api/v1/events as a server-sent event stream (text/event-stream),
 * the libmicrohttpd side. Each stream is a response whose content comes
 * from a callback: when the stream has nothing to send, the callback
 * suspends the connection (MHD_suspend_connection), so no HTTP thread waits
 * on it; one pump thread waits on the event bus (concentrator/events.h)
 * and resumes the suspended streams that have something new, or whose
 * keepalive comment is due (every API_STREAM_KEEPALIVE_MS).
 *
 * Nothing is buffered per stream beyond the text of a few events: a reader
 * that falls behind the ring is told how many events it missed (event
 * "events.missed") and continues with the oldest one left.
 */
#ifndef ISTHMUS_API_EVENTS_STREAM_H
#define ISTHMUS_API_EVENTS_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_STREAMS_MAX         64
#define API_STREAM_KEEPALIVE_MS 15000
#define API_STREAM_RETRY_MS     5000 /* the "retry:" a client waits before reconnecting */

struct events;
struct api_streams;
struct api_stream;
struct MHD_Connection;
struct MHD_Response;

/* The streams of one API server, over the bus (not owned). Starts the
 * pump thread. NULL with a message in err. */
struct api_streams *api_streams_new(struct events *bus, unsigned max, char *err, size_t errlen);
/* Ends every stream (each sees the end of its response) and joins the
 * pump; no stream is suspended afterwards, so the HTTP daemon may stop.
 * Call before MHD_stop_daemon. NULL accepted. */
void api_streams_stop(struct api_streams *h);
/* After MHD_stop_daemon (every stream freed by then). NULL accepted. */
void api_streams_free(struct api_streams *h);

enum api_stream_refusal { API_STREAM_OK = 0, API_STREAM_FULL, API_STREAM_STOPPING };

/* A new stream of the events of tenant (NULL: all) newer than `after`
 * (has_after false: from now on). An `after` newer than every event (a
 * previous life of the daemon) gives an "events.missed" event first and
 * then every event still in the ring. NULL with *why set when the limit of
 * streams is reached or the server is stopping. */
struct api_stream *api_stream_open(struct api_streams *h, const char *tenant, bool has_after,
                                   uint64_t after, enum api_stream_refusal *why);
/* A stream that was opened but not handed to api_stream_response. */
void api_stream_close(struct api_stream *s);
/* The response of connection c (the stream belongs to it from now on,
 * freed when libmicrohttpd destroys the response). NULL: out of memory
 * (the stream is closed). */
struct MHD_Response *api_stream_response(struct api_stream *s, struct MHD_Connection *c);

/* Streams open now (metrics, tests). */
unsigned api_streams_count(struct api_streams *h);
/* Also keeps *gauge at the number of streams open (NULL: none). Before the
 * first stream opens. */
void api_streams_gauge(struct api_streams *h, atomic_uint *gauge);

#endif
