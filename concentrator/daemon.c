/* The running daemon: see daemon.h. */
#define _GNU_SOURCE
#include "concentrator/daemon.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "auth/seal.h"
#include "concentrator/event.h"
#include "concentrator/ike.h"
#include "concentrator/registry.h"
#include "concentrator/snapshot.h"
#include "concentrator/snapshot_loader.h"
#include "concentrator/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/writer.h"

#define WRITER_QUEUE_MAX 100000

static void ensure_parent_dir(const char *path)
{
    char buf[CONFIG_PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    char *dir = dirname(buf);
    if (mkdir(dir, 0750) == 0)
        log_notice("daemon", "created folder %s", dir);
}

struct sqlite3 *daemon_open_store(const struct config *cfg, int *lock_fd)
{
    char err[512];
    ensure_parent_dir(cfg->database);
    *lock_fd = db_lock_exclusive(cfg->database, err, sizeof(err));
    if (*lock_fd < 0) {
        log_err("daemon", "%s", err);
        return NULL;
    }
    sqlite3 *db = db_open(cfg->database, true, err, sizeof(err));
    if (!db) {
        log_err("daemon", "%s", err);
        goto fail;
    }
    int n = db_migrate(db, err, sizeof(err));
    if (n < 0) {
        log_err("daemon", "%s", err);
        goto fail;
    }
    log_info("daemon", "database %s at schema version %d%s", cfg->database, db_schema_version(db),
             n ? "" : " (up to date)");
    return db;
fail:
    db_close(db);
    close(*lock_fd);
    *lock_fd = -1;
    return NULL;
}

struct daemon {
    const struct config *cfg;
    const char *config_path;
    struct evl *loop;
    int stop_signal;
    struct ike_engine *ike;
    struct snapshot_loader *loader;
};

/* The API's hooks into the daemon: a configuration change rebuilds the IKE
 * thread's tenant snapshot; sessions are counted in the registry and ended
 * by the IKE thread. */
static void api_config_changed(void *arg, const char *tenant)
{
    struct daemon *d = arg;
    log_debug("daemon", "configuration of tenant %s changed: rebuilding the snapshot", tenant);
    if (d->loader)
        snapshot_loader_kick(d->loader);
}

static int api_sessions_of_tenant(void *arg, const char *tenant)
{
    struct daemon *d = arg;
    return d->ike ? (int)registry_count(ike_engine_registry(d->ike), tenant) : 0;
}

static void api_terminate_sessions(void *arg, const char *tenant, const char *username)
{
    struct daemon *d = arg;
    if (d->ike)
        ike_engine_terminate(d->ike, NULL, tenant, username,
                             username ? "the user was disabled or deleted"
                                      : "the tenant was disabled or deleted");
}

static void snapshot_to_ike(void *arg, struct snapshot *s)
{
    struct daemon *d = arg;
    ike_engine_post_snapshot(d->ike, s);
}

static void on_stop(struct evl_signal *s, int signum, void *arg)
{
    (void)s;
    struct daemon *d = arg;
    log_notice("daemon", "%s received: shutting down", strsignal(signum));
    d->stop_signal = signum;
    evl_stop(d->loop);
}

static void on_hup(struct evl_signal *s, int signum, void *arg)
{
    (void)s;
    (void)signum;
    (void)arg;
    if (log_reopen() < 0)
        log_err("daemon", "SIGHUP: cannot reopen the log file: %s", strerror(errno));
    else
        log_notice("daemon", "SIGHUP: log file reopened");
}

int daemon_run(const struct config *cfg, const char *config_path)
{
    int rc = 1, lock_fd = -1;
    char err[512];
    struct daemon d = {.cfg = cfg, .config_path = config_path};
    struct seal_key key;
    struct db_writer *writer = NULL;
    struct api_server *api = NULL;
    struct evl_signal *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;

    signal(SIGPIPE, SIG_IGN);
    log_notice("daemon", "isthmusd starting (config %s, pid %d)", config_path, (int)getpid());

    sqlite3 *db = daemon_open_store(cfg, &lock_fd);
    if (!db)
        return 1;
    db_close(db); /* every thread opens its own connection */

    ensure_parent_dir(cfg->master_key_file);
    if (seal_key_load(&key, cfg->master_key_file, 1, err, sizeof(err)) < 0) {
        log_err("daemon", "%s", err);
        goto done_lock;
    }

    d.loop = evl_default();
    sig_term = evl_signal_new(d.loop, SIGTERM, on_stop, &d);
    sig_int = evl_signal_new(d.loop, SIGINT, on_stop, &d);
    sig_hup = evl_signal_new(d.loop, SIGHUP, on_hup, &d);

    writer = db_writer_start(cfg->database, WRITER_QUEUE_MAX, err, sizeof(err));
    if (!writer) {
        log_err("daemon", "%s", err);
        goto done;
    }
    struct ike_engine_deps ideps = {
        .cfg = cfg, .loop = d.loop, .master_key = &key, .sadb = NULL, .own_natt = true};
    d.ike = ike_engine_new(&ideps, err, sizeof(err));
    if (!d.ike) {
        log_err("daemon", "%s", err);
        goto done;
    }
    d.loader = snapshot_loader_start(cfg->database, &key, snapshot_to_ike, &d, err, sizeof(err));
    if (!d.loader) {
        log_err("daemon", "%s", err);
        goto done;
    }
    struct api_deps deps = {.cfg = cfg,
                            .master_key = &key,
                            .arg = &d,
                            .config_changed = api_config_changed,
                            .sessions_of_tenant = api_sessions_of_tenant,
                            .terminate_sessions = api_terminate_sessions};
    api = api_server_start(&deps, err, sizeof(err));
    if (!api) {
        log_err("daemon", "%s", err);
        goto done;
    }
    api_server_set_ready(api, true);
    log_notice("daemon", "ready");

    evl_run(d.loop);
    rc = 0;

done:
    api_server_stop(api);
    snapshot_loader_stop(d.loader);
    ike_engine_free(d.ike);
    db_writer_stop(writer);
    evl_signal_free(sig_term);
    evl_signal_free(sig_int);
    evl_signal_free(sig_hup);
    seal_key_wipe(&key);
    if (rc == 0)
        log_notice("daemon", "stopped cleanly");
done_lock:
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}
