/* Logging: see log.h. */
#define _GNU_SOURCE
#include "concentrator/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

static _Atomic int cur_level = LOG_LVL_INFO;
static int log_fd = STDERR_FILENO; /* written only by log_open/log_reopen/log_close */
static bool to_syslog;
static char *log_path; /* owned; NULL for stderr */
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LVL_WARN;
        return true;
    }
    return false;
}

const char *log_level_name(enum log_level lvl)
{
    if ((unsigned)lvl >= sizeof(level_names) / sizeof(level_names[0]))
        return "?";
    return level_names[lvl];
}

void log_set_level(enum log_level lvl)
{
    atomic_store(&cur_level, (int)lvl);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&cur_level, memory_order_relaxed);
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_open(const char *path, bool use_syslog, enum log_level lvl)
{
    pthread_mutex_lock(&reopen_lock);
    log_set_level(lvl);
    to_syslog = use_syslog;
    free(log_path);
    log_path = NULL;
    if (use_syslog)
        openlog("isthmusd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    int rc = 0;
    if (path && !use_syslog) {
        int fd = open_file(path);
        if (fd < 0) {
            rc = -1;
        } else {
            log_path = strdup(path);
            if (log_fd != STDERR_FILENO)
                close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

int log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&reopen_lock);
    if (log_path) {
        int fd = open_file(log_path);
        if (fd < 0) {
            rc = -1;
        } else {
            /* dup2 swaps the file under the same descriptor number, so a
             * thread writing at this moment writes to the old or the new
             * file, never to a closed descriptor. */
            dup2(fd, log_fd);
            close(fd);
        }
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

void log_close(void)
{
    pthread_mutex_lock(&reopen_lock);
    if (to_syslog)
        closelog();
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
        log_fd = STDERR_FILENO;
    }
    free(log_path);
    log_path = NULL;
    to_syslog = false;
    pthread_mutex_unlock(&reopen_lock);
}

/* Appends fmt to buf at *off without overflowing; the line is cut if long. */
static void append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    if (*off >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = (size_t)n < cap - *off ? *off + (size_t)n : cap - 1;
}

/* Replaces control characters (a peer's identity may carry them) so that one
 * event is always one line. */
static void sanitize(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            s[i] = '?';
    }
}

void log_vmsg(enum log_level lvl, const char *subsys, const struct log_ctx *ctx, const char *fmt,
              va_list ap)
{
    if (!log_enabled(lvl))
        return;
    char line[2048];
    size_t off = 0;

    if (!to_syslog) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        append(line, sizeof(line), &off, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    }
    append(line, sizeof(line), &off, "%-6s %-6s ", log_level_name(lvl), subsys ? subsys : "-");
    if (ctx && (ctx->tenant || ctx->session || ctx->peer)) {
        const char *sep = "";
        append(line, sizeof(line), &off, "[");
        if (ctx->tenant) {
            append(line, sizeof(line), &off, "tenant=%s", ctx->tenant);
            sep = " ";
        }
        if (ctx->session) {
            append(line, sizeof(line), &off, "%ssession=%s", sep, ctx->session);
            sep = " ";
        }
        if (ctx->peer)
            append(line, sizeof(line), &off, "%speer=%s", sep, ctx->peer);
        append(line, sizeof(line), &off, "] ");
    }
    size_t body = off;
    if (off < sizeof(line)) {
        int n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
        if (n > 0)
            off = (size_t)n < sizeof(line) - off ? off + (size_t)n : sizeof(line) - 1;
    }
    sanitize(line + body, off - body);

    if (to_syslog) {
        syslog(syslog_prio[lvl], "%.*s", (int)off, line);
        return;
    }
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    line[off++] = '\n';
    ssize_t w;
    do {
        w = write(log_fd, line, off);
    } while (w < 0 && errno == EINTR);
}

void log_msg(enum log_level lvl, const char *subsys, const struct log_ctx *ctx, const char *fmt,
             ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, subsys, ctx, fmt, ap);
    va_end(ap);
}
