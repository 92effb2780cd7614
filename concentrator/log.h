/*
 * Logging for every module: one line per event with time, level, subsystem
 * and, where known, the tenant and session it concerns.
 *
 *   2026-11-27T10:00:00.123Z info  ike    [tenant=acme session=1f2e] IKE_SA ...
 *
 * Lines go to stderr by default, to a file (reopened on SIGHUP) or to syslog.
 * Each line is written with one write(2), so threads never interleave.
 * Never pass a secret (key, password, token, shared secret) to these calls.
 */
#ifndef ISTHMUS_LOG_H
#define ISTHMUS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN,
    LOG_LVL_NOTICE,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

/* Context printed in brackets; any field may be NULL. */
struct log_ctx {
    const char *tenant;
    const char *session;
    const char *peer;
};

/* Parses "error", "warn", "notice", "info", "debug"; false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);

/* Sets where lines go. path NULL: stderr. use_syslog: syslog(3) instead.
 * Returns 0, or -1 with errno if the file cannot be opened. */
int log_open(const char *path, bool use_syslog, enum log_level lvl);
/* Reopens the log file (after rotation); no-op for stderr and syslog. */
int log_reopen(void);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_close(void);

void log_msg(enum log_level lvl, const char *subsys, const struct log_ctx *ctx, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));
void log_vmsg(enum log_level lvl, const char *subsys, const struct log_ctx *ctx, const char *fmt,
              va_list ap) __attribute__((format(printf, 4, 0)));

#define log_enabled(lvl) ((lvl) <= log_get_level())

#define log_err(sub, ...)    log_msg(LOG_LVL_ERROR, sub, NULL, __VA_ARGS__)
#define log_warn(sub, ...)   log_msg(LOG_LVL_WARN, sub, NULL, __VA_ARGS__)
#define log_notice(sub, ...) log_msg(LOG_LVL_NOTICE, sub, NULL, __VA_ARGS__)
#define log_info(sub, ...)   log_msg(LOG_LVL_INFO, sub, NULL, __VA_ARGS__)
#define log_debug(sub, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_msg(LOG_LVL_DEBUG, sub, NULL, __VA_ARGS__);                                        \
    } while (0)

#endif
