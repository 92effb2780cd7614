/* Tenant TUN devices: multi-queue TUN, namespace, MTU, addresses, hook.
 * See esp_io.h. Only at tenant setup: `ip` runs as a child process, never
 * on the packet path. */
#define _GNU_SOURCE
#include "esp/esp_io_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "concentrator/log.h"

extern char **environ;

#define CHILD_TIMEOUT_MS   10000
#define ESP_TUN_TXQUEUELEN 4096

/* --- child processes ----------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The program's path: as given if it has a slash, else the first
 * executable of that name in the usual system folders. */
static const char *find_prog(const char *name, char *buf, size_t len)
{
    if (strchr(name, '/'))
        return name;
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

/* Reads exactly len bytes from the (non-blocking) fd until deadline; true
 * if they came. */
static bool read_full(int fd, void *buf, size_t len, int64_t deadline)
{
    size_t got = 0;
    while (got < len) {
        int left = (int)(deadline - now_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r == 0)
            return false;
        if (r > 0)
            got += (size_t)r;
    }
    return true;
}

/*
 * Runs argv with envp, waits at most CHILD_TIMEOUT_MS; the first line of its
 * stderr goes to err. Returns 0 if it exited with 0.
 *
 * The daemon's event loop reaps every SIGCHLD child with waitpid(-1), which
 * would steal the program's exit status. So a helper is made with clone3
 * and no exit signal (invisible to waitpid(-1); it never execs, so it keeps
 * that), and the helper runs the program, waits for it, and writes its pid
 * and then its status to a pipe. Between clone and _exit the helper calls
 * only async-signal-safe functions.
 */
static int run(char *const argv[], char *const envp[], char *err, size_t errlen)
{
    int rc = -1, epipe[2] = {-1, -1}, spipe[2] = {-1, -1}, devnull = -1;
    char out[512], pathbuf[256];
    const char *path = find_prog(argv[0], pathbuf, sizeof(pathbuf));
    if (!path) {
        snprintf(err, errlen, "%s not found", argv[0]);
        return -1;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(epipe, O_CLOEXEC) < 0 || pipe2(spipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto done;
    }
    fcntl(epipe[0], F_SETFL, O_NONBLOCK);
    fcntl(spipe[0], F_SETFL, O_NONBLOCK);
    struct clone_args ca;
    memset(&ca, 0, sizeof(ca)); /* fork semantics, exit_signal 0 */
    pid_t helper = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    if (helper == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &dfl, NULL);
        struct clone_args cb;
        memset(&cb, 0, sizeof(cb));
        cb.exit_signal = SIGCHLD;
        pid_t pid = (pid_t)syscall(SYS_clone3, &cb, sizeof(cb));
        if (pid == 0) {
            if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(epipe[1], 2) < 0)
                _exit(126);
            execve(path, argv, envp);
            _exit(127);
        }
        int st = 127 << 8;
        if (write(spipe[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(1);
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        _exit(write(spipe[1], &st, sizeof(st)) == sizeof(st) ? 0 : 1);
    }
    close(epipe[1]);
    close(spipe[1]);
    epipe[1] = spipe[1] = -1;
    if (helper < 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
        goto done;
    }
    int64_t deadline = now_ms() + CHILD_TIMEOUT_MS;
    pid_t pid = -1;
    int status = 0;
    bool have_pid = read_full(spipe[0], &pid, sizeof(pid), deadline);
    bool have_status = have_pid && read_full(spipe[0], &status, sizeof(status), deadline);
    if (!have_status && have_pid && pid > 0) {
        kill(pid, SIGKILL); /* the program we started, by its pid */
        have_status = read_full(spipe[0], &status, sizeof(status), now_ms() + 2000);
    }
    while (waitpid(helper, NULL, __WCLONE) < 0 && errno == EINTR)
        ;
    if (!have_status || pid <= 0) {
        snprintf(err, errlen, "%s did not finish in %d s", argv[0], CHILD_TIMEOUT_MS / 1000);
        goto done;
    }
    ssize_t n = read(epipe[0], out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = 0;
    out[strcspn(out, "\n")] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
    } else {
        snprintf(err, errlen, "%s failed (%s%d)%s%s", argv[0],
                 WIFEXITED(status) ? "exit " : "signal ",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), *out ? ": " : "", out);
    }
done:
    if (devnull >= 0)
        close(devnull);
    for (int i = 0; i < 2; i++) {
        if (epipe[i] >= 0)
            close(epipe[i]);
        if (spipe[i] >= 0)
            close(spipe[i]);
    }
    return rc;
}

static int ip(char *err, size_t errlen, char *const argv[])
{
    return run(argv, environ, err, errlen);
}

/* --- checks -------------------------------------------------------------- */

static bool name_ok(const char *s, size_t max, bool allow_empty)
{
    size_t n = strnlen(s, max + 1);
    if (n > max || (!allow_empty && n == 0) || s[0] == '-' || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool addr_text_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n == 0 || n == max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':' || c == '/'))
            return false;
    }
    return true;
}

static int check_spec(const struct esp_tun_spec *s, char *err, size_t errlen)
{
    if (s->tenant == 0 || s->tenant >= ESP_IO_MAX_TENANTS) {
        snprintf(err, errlen, "tenant index %u out of range", s->tenant);
        return -1;
    }
    if (!name_ok(s->ifname, IFNAMSIZ - 1, false)) {
        snprintf(err, errlen, "bad interface name '%.20s'", s->ifname);
        return -1;
    }
    if (!name_ok(s->netns, sizeof(s->netns) - 1, true)) {
        snprintf(err, errlen, "bad network namespace name '%.64s'", s->netns);
        return -1;
    }
    if (s->n_nets > ESP_TUN_MAX_NETS) {
        snprintf(err, errlen, "too many pools");
        return -1;
    }
    for (unsigned i = 0; i < s->n_nets; i++) {
        const char *slash = strchr(s->nets[i].pool, '/');
        if (!addr_text_ok(s->nets[i].pool, sizeof(s->nets[i].pool)) || !slash ||
            !addr_text_ok(s->nets[i].gateway, sizeof(s->nets[i].gateway)) ||
            strchr(s->nets[i].gateway, '/')) {
            snprintf(err, errlen, "bad pool or gateway address");
            return -1;
        }
    }
    return 0;
}

static bool same_spec(const struct esp_tun_spec *a, const struct esp_tun_spec *b)
{
    if (a->tenant != b->tenant || strcmp(a->name, b->name) || strcmp(a->ifname, b->ifname) ||
        strcmp(a->netns, b->netns) || a->mtu != b->mtu || a->n_nets != b->n_nets)
        return false;
    for (unsigned i = 0; i < a->n_nets; i++)
        if (strcmp(a->nets[i].pool, b->nets[i].pool) ||
            strcmp(a->nets[i].gateway, b->nets[i].gateway))
            return false;
    return true;
}

/* --- the device ---------------------------------------------------------- */

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* TUNSETOFFLOAD (for the device, all queues): the tenant's kernel may hand
 * the workers TCP (TSO) and UDP (USO, Linux 6.2) packets of up to 64 KiB
 * and leave checksums to them; esp_gso.h cuts and completes them. Without
 * USO, TSO and checksum alone; a refusal leaves plain packets. */
static void set_offload(struct esp_tun *t, int fd)
{
    unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0 ||
        ioctl(fd, TUNSETOFFLOAD, base) == 0)
        t->offload = true;
}

static int open_queues(struct esp_tun *t, char *err, size_t errlen)
{
    for (unsigned i = 0; i < t->nq; i++) {
        int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
            return -1;
        }
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        /* The first queue makes the device: never attach to one another
         * process (or tenant) already has. */
        /* IFF_VNET_HDR: lets the workers write merged TCP segments as one
         * GSO packet (esp_gro.h). */
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (t->vnet ? IFF_VNET_HDR : 0) |
                        (i == 0 ? IFF_TUN_EXCL : 0);
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->spec.ifname);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
            snprintf(err, errlen, "cannot create TUN device %s: %s", t->spec.ifname,
                     strerror(errno));
            close(fd);
            return -1;
        }
        t->fds[i] = fd;
        if (t->vnet && i == 0)
            set_offload(t, fd);
    }
    return 0;
}

/* The MTU, and a transmit queue (what the kernel holds for the workers to
 * read) long enough for a worker's linger at a million packets a second
 * (the default 500 is half a millisecond of it). */
static int set_mtu_here(const char *ifname, unsigned mtu, char *err, size_t errlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    ifr.ifr_mtu = (int)mtu;
    int rc = ioctl(s, SIOCSIFMTU, &ifr);
    if (rc < 0)
        snprintf(err, errlen, "cannot set the MTU of %s to %u: %s", ifname, mtu, strerror(errno));
    ifr.ifr_qlen = ESP_TUN_TXQUEUELEN;
    if (rc == 0 && ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
        log_warn("esp", "cannot set the transmit queue of %s to %d packets: %s", ifname,
                 ESP_TUN_TXQUEUELEN, strerror(errno));
    close(s);
    return rc;
}

/* "10.1.0.1" + "10.1.0.0/24" -> "10.1.0.1/24". */
static void gw_with_plen(const struct esp_tun_net *n, char *out, size_t len)
{
    snprintf(out, len, "%s%s", n->gateway, strchr(n->pool, '/'));
}

/* MTU here, then into the namespace, then addresses and up there. */
static int configure(const struct esp_tun_spec *s, char *err, size_t errlen)
{
    unsigned mtu = s->mtu ? s->mtu : ESP_IO_DEFAULT_MTU;
    if (set_mtu_here(s->ifname, mtu, err, errlen) < 0)
        return -1;
    char ns[80];
    snprintf(ns, sizeof(ns), "%s", s->netns);
    char ifname[IFNAMSIZ];
    snprintf(ifname, sizeof(ifname), "%s", s->ifname);
    bool in_ns = s->netns[0] != 0;
    if (in_ns) {
        char *mv[] = {"ip", "link", "set", "dev", ifname, "netns", ns, NULL};
        if (ip(err, errlen, mv) < 0)
            return -1;
    }
    /* Addresses only inside the tenant's own namespace: in the daemon's
     * namespace, overlapping tenant pools would collide (and could shadow
     * the host's routes); there the hook places the device (VRF, ...). */
    for (unsigned i = 0; in_ns && i < s->n_nets; i++) {
        char a[140];
        gw_with_plen(&s->nets[i], a, sizeof(a));
        bool v6 = strchr(a, ':') != NULL;
        char *argv[16];
        unsigned k = 0;
        argv[k++] = "ip";
        if (in_ns) {
            argv[k++] = "-n";
            argv[k++] = ns;
        }
        argv[k++] = v6 ? "-6" : "-4";
        argv[k++] = "addr";
        argv[k++] = "add";
        argv[k++] = a;
        argv[k++] = "dev";
        argv[k++] = ifname;
        if (v6)
            argv[k++] = "nodad";
        argv[k] = NULL;
        if (ip(err, errlen, argv) < 0)
            return -1;
    }
    char *up_ns[] = {"ip", "-n", ns, "link", "set", "dev", ifname, "up", NULL};
    char *up[] = {"ip", "link", "set", "dev", ifname, "up", NULL};
    return ip(err, errlen, in_ns ? up_ns : up);
}

/* The tenant hook, with ISTHMUS_* in its environment. Failures are logged. */
static void hook(struct esp_io *io, const struct esp_tun_spec *s, const char *action)
{
    if (!io->cfg.tenant_hook[0])
        return;
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 8, sizeof(*envp));
    char *vars[7] = {0};
    char pools[ESP_TUN_MAX_NETS * 66 + 1] = "";
    for (unsigned i = 0; i < s->n_nets; i++) {
        size_t used = strlen(pools);
        snprintf(pools + used, sizeof(pools) - used, "%s%s", i ? " " : "", s->nets[i].pool);
    }
    int ok = asprintf(&vars[0], "ISTHMUS_TENANT=%s", s->name) >= 0 &&
             asprintf(&vars[1], "ISTHMUS_IFNAME=%s", s->ifname) >= 0 &&
             asprintf(&vars[2], "ISTHMUS_POOLS=%s", pools) >= 0 &&
             asprintf(&vars[3], "ISTHMUS_ACTION=%s", action) >= 0 &&
             asprintf(&vars[4], "ISTHMUS_NETNS=%s", s->netns) >= 0 &&
             asprintf(&vars[5], "ISTHMUS_MTU=%u", s->mtu ? s->mtu : ESP_IO_DEFAULT_MTU) >= 0 &&
             asprintf(&vars[6], "ISTHMUS_TENANT_INDEX=%u", s->tenant) >= 0;
    if (!envp || !ok) {
        log_err("esp", "tenant hook for %s not run: out of memory", s->name);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "ISTHMUS_", 8) != 0)
            envp[k++] = environ[i];
    for (size_t i = 0; i < 7; i++)
        envp[k++] = vars[i];
    envp[k] = NULL;
    char *argv[] = {io->cfg.tenant_hook, (char *)(uintptr_t)action, NULL};
    char err[300];
    struct log_ctx ctx = {s->name, NULL, NULL};
    if (run(argv, envp, err, sizeof(err)) < 0)
        log_msg(LOG_LVL_ERROR, "esp", &ctx, "tenant hook %s %s: %s", io->cfg.tenant_hook, action,
                err);
    else
        log_msg(LOG_LVL_INFO, "esp", &ctx, "tenant hook %s %s done", io->cfg.tenant_hook, action);
done:
    for (size_t i = 0; i < 7; i++)
        free(vars[i]);
    free(envp);
}

static void close_tun(struct esp_tun *t)
{
    for (unsigned i = 0; i < t->nq; i++)
        if (t->fds[i] >= 0)
            close(t->fds[i]);
    free(t);
}

static struct esp_tun *tun_alloc(unsigned nq)
{
    struct esp_tun *t = calloc(1, sizeof(*t) + nq * sizeof(int));
    if (!t)
        return NULL;
    t->nq = nq;
    for (unsigned i = 0; i < nq; i++)
        t->fds[i] = -1;
    return t;
}

/* Publishes t and adds its queues to the workers' epoll sets. */
static void publish(struct esp_io *io, struct esp_tun *t, uint32_t tenant)
{
    rcu_assign_pointer(io->tuns[tenant], t);
    for (unsigned i = 0; i < io->nworkers; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = esp_io_ev(EV_TUN, tenant)};
        if (epoll_ctl(io->w[i].epfd, EPOLL_CTL_ADD, t->fds[i], &ev) < 0)
            log_err("esp", "tenant %u: worker %u cannot watch its queue: %s", tenant, i,
                    strerror(errno));
    }
}

/* Unpublishes, waits until no worker can hold it, then closes. */
static void remove_locked(struct esp_io *io, uint32_t tenant)
{
    struct esp_tun *t = io->tuns[tenant];
    if (!t)
        return;
    rcu_assign_pointer(io->tuns[tenant], NULL);
    for (unsigned i = 0; i < io->nworkers && i < t->nq; i++)
        epoll_ctl(io->w[i].epfd, EPOLL_CTL_DEL, t->fds[i], NULL);
    synchronize_rcu();
    if (!t->attached) {
        hook(io, &t->spec, "down");
        struct log_ctx ctx = {t->spec.name, NULL, NULL};
        log_msg(LOG_LVL_NOTICE, "esp", &ctx, "device %s removed", t->spec.ifname);
    }
    close_tun(t);
}

int esp_tun_add(struct esp_io *io, const struct esp_tun_spec *spec, char *err, size_t errlen)
{
    if (check_spec(spec, err, errlen) < 0)
        return -1;
    int rc = -1;
    struct esp_tun *t = NULL;
    pthread_mutex_lock(&io->tun_lock);
    struct esp_tun *cur = io->tuns[spec->tenant];
    if (cur && !cur->attached && same_spec(&cur->spec, spec)) {
        rc = 0;
        goto done;
    }
    remove_locked(io, spec->tenant);
    t = tun_alloc(io->nworkers);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    t->spec = *spec;
    t->vnet = !io->cfg.no_offloads;
    if (open_queues(t, err, errlen) < 0 || configure(spec, err, errlen) < 0)
        goto done;
    hook(io, spec, "up");
    publish(io, t, spec->tenant);
    struct log_ctx ctx = {spec->name, NULL, NULL};
    log_msg(LOG_LVL_NOTICE, "esp", &ctx, "device %s up%s%s, MTU %u, %u queues", spec->ifname,
            spec->netns[0] ? " in namespace " : "", spec->netns,
            spec->mtu ? spec->mtu : ESP_IO_DEFAULT_MTU, t->nq);
    t = NULL;
    rc = 0;
done:
    pthread_mutex_unlock(&io->tun_lock);
    if (t)
        close_tun(t); /* the device disappears with its last queue */
    return rc;
}

int esp_tun_remove(struct esp_io *io, uint32_t tenant)
{
    if (tenant == 0 || tenant >= ESP_IO_MAX_TENANTS)
        return -1;
    pthread_mutex_lock(&io->tun_lock);
    int rc = io->tuns[tenant] ? 0 : -1;
    remove_locked(io, tenant);
    pthread_mutex_unlock(&io->tun_lock);
    return rc;
}

int esp_io_tenant_attach(struct esp_io *io, uint32_t tenant, const int *fds, unsigned n)
{
    if (tenant == 0 || tenant >= ESP_IO_MAX_TENANTS || n != io->nworkers)
        return -1;
    struct esp_tun *t = tun_alloc(n);
    if (!t)
        return -1;
    t->attached = true;
    t->spec.tenant = tenant;
    for (unsigned i = 0; i < n; i++)
        t->fds[i] = fds[i];
    pthread_mutex_lock(&io->tun_lock);
    remove_locked(io, tenant);
    publish(io, t, tenant);
    pthread_mutex_unlock(&io->tun_lock);
    return 0;
}

void esp_tun_sync(struct esp_io *io, const struct esp_tun_spec *specs, size_t n)
{
    for (uint32_t t = 1; t < ESP_IO_MAX_TENANTS; t++) {
        if (!io->tuns[t] || io->tuns[t]->attached)
            continue;
        bool keep = false;
        for (size_t i = 0; i < n && !keep; i++)
            keep = specs[i].tenant == t;
        if (!keep)
            esp_tun_remove(io, t);
    }
    for (size_t i = 0; i < n; i++) {
        char err[300];
        if (esp_tun_add(io, &specs[i], err, sizeof(err)) < 0) {
            struct log_ctx ctx = {specs[i].name, NULL, NULL};
            log_msg(LOG_LVL_ERROR, "esp", &ctx, "device %s not up: %s", specs[i].ifname, err);
        }
    }
}

void esp_tun_remove_all(struct esp_io *io)
{
    pthread_mutex_lock(&io->tun_lock);
    for (uint32_t t = 1; t < ESP_IO_MAX_TENANTS; t++)
        remove_locked(io, t);
    pthread_mutex_unlock(&io->tun_lock);
}
