/* The running daemon: see daemon.h. */
#define _GNU_SOURCE
#include "concentrator/daemon.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/server.h"
#include "auth/seal.h"
#include "concentrator/bench_inject.h"
#include "concentrator/event.h"
#include "concentrator/ike.h"
#include "concentrator/ike_tenant.h"
#include "concentrator/pool.h"
#include "concentrator/events.h"
#include "concentrator/registry.h"
#include "concentrator/snapshot.h"
#include "concentrator/stats.h"
#include "concentrator/snapshot_loader.h"
#include "concentrator/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/writer.h"
#include "esp/esp_io.h"
#include "esp/esp_sadb.h"

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
    struct esp_sadb *sadb;
    struct esp_io *esp;
    struct evl_async *esp_ike_wake; /* IKE datagrams from the ESP workers */
    pthread_mutex_t ev_lock;        /* guards ev_ike */
    struct ike_engine *ev_ike;      /* the engine while it takes data plane events */
};

/* Lifetime events of the SA database (from the workers) go to the engine
 * while it lives. */
static void esp_event_to_ike(void *arg, const struct esp_event *ev)
{
    struct daemon *d = arg;
    pthread_mutex_lock(&d->ev_lock);
    if (d->ev_ike)
        ike_rekey_esp_event(d->ev_ike, ev);
    pthread_mutex_unlock(&d->ev_lock);
}

/* ---- The ESP data plane (esp/esp_io.h): the workers own the NAT-T port and
 * hand IKE to this thread; tenants' TUN devices follow the snapshots. ---- */

static void esp_ike_wake(void *arg)
{
    struct daemon *d = arg;
    evl_async_send(d->esp_ike_wake); /* from a worker */
}

static void esp_ike_one(void *arg, uint8_t *buf, size_t len, const struct esp_io_path *p)
{
    struct daemon *d = arg;
    struct ike_path path;
    memset(&path, 0, sizeof(path));
    path.peer = p->peer;
    path.local = p->local;
    path.natt = true;
    ike_engine_natt_input(d->ike, buf, len, &path);
}

static void on_esp_ike(struct evl_async *a, void *arg)
{
    (void)a;
    struct daemon *d = arg;
    if (d->ike && d->esp)
        esp_io_ike_drain(d->esp, esp_ike_one, d);
}

static int esp_natt_send(void *arg, const uint8_t *buf, size_t len, const struct ike_path *path)
{
    struct daemon *d = arg;
    struct esp_io_path p;
    p.peer = path->peer;
    p.local = path->local;
    return esp_io_natt_send(d->esp, buf, len, &p);
}

static struct esp_io *esp_start(struct daemon *d, char *err, size_t errlen)
{
    const struct config *cfg = d->cfg;
    struct esp_io_config c;
    memset(&c, 0, sizeof(c));
    c.workers = cfg->esp_workers;
    for (unsigned i = 0; i < cfg->ike_listen_count && i < ESP_IO_MAX_LISTEN; i++)
        snprintf(c.listen[c.n_listen++], sizeof(c.listen[0]), "%s", cfg->ike_listen[i]);
    c.natt_port = cfg->natt_port;
    c.raw_esp = true;
    c.no_offloads = !cfg->esp_offloads;
    c.linger_us = cfg->esp_linger_us ? (int)cfg->esp_linger_us : -1;
    for (unsigned i = 0; i < cfg->esp_xdp_count && i < ESP_IO_MAX_LISTEN; i++)
        snprintf(c.xdp[c.n_xdp++], sizeof(c.xdp[0]), "%s", cfg->esp_xdp[i]);
    snprintf(c.tenant_hook, sizeof(c.tenant_hook), "%s", cfg->tenant_hook);
    c.ike_wake = esp_ike_wake;
    c.ike_arg = d;
    return esp_io_start(&c, d->sadb, err, errlen);
}

/* The TUN devices of the snapshot's enabled tenants: every pool of their
 * policies, with the gateway's address in it. */
static void esp_sync_tenants(struct daemon *d, const struct snapshot *s)
{
    if (!d->esp)
        return;
    struct esp_tun_spec *specs = calloc(s->n_tenants ? s->n_tenants : 1, sizeof(*specs));
    if (!specs) {
        log_err("daemon", "tenant devices not updated: out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_tenants; i++) {
        const struct snap_tenant *t = &s->tenants[i];
        if (!t->enabled || !t->ifname)
            continue;
        struct esp_tun_spec *sp = &specs[n++];
        sp->tenant = ike_tenant_index(t->id);
        snprintf(sp->name, sizeof(sp->name), "%s", t->id);
        snprintf(sp->ifname, sizeof(sp->ifname), "%s", t->ifname);
        snprintf(sp->netns, sizeof(sp->netns), "%s", t->netns ? t->netns : "");
        sp->mtu = t->mtu;
        for (size_t p = 0; p < t->n_policies; p++)
            for (size_t k = 0; k < t->policies[p].n_pools && sp->n_nets < ESP_TUN_MAX_NETS; k++) {
                const char *cidr = t->policies[p].pools[k];
                bool dup = false;
                for (unsigned j = 0; j < sp->n_nets; j++)
                    dup = dup || strcmp(sp->nets[j].pool, cidr) == 0;
                struct pool *pl = dup ? NULL : pool_new(cidr);
                if (!pl)
                    continue;
                struct pool_addr gw;
                pool_gateway(pl, &gw);
                struct esp_tun_net *net = &sp->nets[sp->n_nets++];
                snprintf(net->pool, sizeof(net->pool), "%s", cidr);
                pool_addr_str(&gw, net->gateway, sizeof(net->gateway));
                pool_free(pl);
            }
    }
    esp_io_tenant_sync(d->esp, specs, n);
    free(specs);
}

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

static void api_terminate_session(void *arg, const char *session_id, const char *why)
{
    struct daemon *d = arg;
    if (d->ike)
        ike_engine_terminate(d->ike, session_id, NULL, NULL, why);
}

static void api_drain(void *arg, const char *to)
{
    struct daemon *d = arg;
    if (d->ike)
        ike_engine_drain(d->ike, to);
}

static bool api_draining(void *arg, char *to, size_t cap)
{
    struct daemon *d = arg;
    return d->ike && ike_engine_draining(d->ike, to, cap);
}

static void api_redirect_session(void *arg, const char *session_id, const char *to)
{
    struct daemon *d = arg;
    if (d->ike)
        ike_engine_redirect(d->ike, session_id, to);
}

static void snapshot_to_ike(void *arg, struct snapshot *s)
{
    struct daemon *d = arg;
    esp_sync_tenants(d, s); /* queued: the ESP control thread does the work */
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
    struct daemon d = {
        .cfg = cfg, .config_path = config_path, .ev_lock = PTHREAD_MUTEX_INITIALIZER};
    struct seal_key key;
    struct db_writer *writer = NULL;
    struct api_server *api = NULL;
    struct api_metrics_server *metrics = NULL;
    struct stats *stats = NULL;
    struct events *events = NULL;
    struct evl_signal *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;
    bool rcu_registered = false;

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
    /* This thread is the SA database's writer (the IKE engine installs). */
    esp_rcu_register_writer();
    rcu_registered = true;
    struct esp_sadb_config scfg = {.workers = esp_io_workers_resolve(cfg->esp_workers),
                                   .on_event = esp_event_to_ike,
                                   .event_arg = &d};
    d.sadb = esp_sadb_new(&scfg);
    d.esp_ike_wake = evl_async_new(d.loop, on_esp_ike, &d);
    if (!d.sadb || !d.esp_ike_wake) {
        log_err("daemon", "cannot set up the ESP data plane: out of memory");
        goto done;
    }
    stats = stats_new();
    events = events_new(EVENTS_RING_DEFAULT);
    if (!stats || !events) {
        log_err("daemon", "out of memory");
        goto done;
    }
    struct ike_engine_deps ideps = {.cfg = cfg,
                                    .loop = d.loop,
                                    .master_key = &key,
                                    .sadb = d.sadb,
                                    .own_natt = false,
                                    .stats = stats,
                                    .writer = writer,
                                    .history_retention_days = cfg->history_retention_days,
                                    .events = events};
    d.ike = ike_engine_new(&ideps, err, sizeof(err));
    if (!d.ike) {
        log_err("daemon", "%s", err);
        goto done;
    }
    pthread_mutex_lock(&d.ev_lock);
    d.ev_ike = d.ike;
    pthread_mutex_unlock(&d.ev_lock);
    bench_inject_sessions(ike_engine_registry(d.ike), stats); /* benchmark builds only */
    d.esp = esp_start(&d, err, sizeof(err));
    if (!d.esp) {
        log_err("daemon", "%s", err);
        goto done;
    }
    ike_engine_set_natt_sender(d.ike, esp_natt_send, &d);
    stats_attach_io(stats, d.esp);
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
                            .terminate_sessions = api_terminate_sessions,
                            .registry = ike_engine_registry(d.ike),
                            .stats = stats,
                            .terminate_session = api_terminate_session,
                            .drain = api_drain,
                            .draining = api_draining,
                            .redirect_session = api_redirect_session,
                            .events = events};
    api = api_server_start(&deps, err, sizeof(err));
    if (!api) {
        log_err("daemon", "%s", err);
        goto done;
    }
    if (cfg->metrics_listen[0] && !(metrics = api_metrics_start(&deps, err, sizeof(err)))) {
        log_err("daemon", "%s", err);
        goto done;
    }
    api_server_set_ready(api, true);
    log_notice("daemon", "ready");

    evl_run(d.loop);
    rc = 0;

done:
    api_metrics_stop(metrics);
    api_server_stop(api);
    snapshot_loader_stop(d.loader);
    pthread_mutex_lock(&d.ev_lock);
    d.ev_ike = NULL;
    pthread_mutex_unlock(&d.ev_lock);
    ike_engine_free(d.ike); /* its Deletes still leave through the workers */
    d.ike = NULL;
    esp_io_stop(d.esp); /* tenant devices removed, down hooks run */
    evl_async_free(d.esp_ike_wake);
    esp_sadb_free(d.sadb);
    if (rcu_registered)
        esp_rcu_unregister();
    db_writer_stop(writer);
    stats_free(stats);
    events_free(events); /* after the engine, whose last sessions end into it */
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
