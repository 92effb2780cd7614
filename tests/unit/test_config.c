/* The configuration file as an operator writes it: defaults, every key, and
 * the errors a typo gets (file:line and the key named). */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "concentrator/config.h"

struct fixture {
    char *dir;
    char *path; /* dir/isthmus.conf */
    struct config cfg;
    char err[1024];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->dir = tu_tmpdir();
    if (!f->dir)
        return -1;
    f->path = tu_path(f->dir, "isthmus.conf");
    config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Writes text as the config file and loads it into fresh defaults. */
static int load(struct fixture *f, const char *text)
{
    assert_int_equal(tu_write(f->path, text), 0);
    config_defaults(&f->cfg);
    f->err[0] = '\0';
    return config_load(&f->cfg, f->path, f->err, sizeof(f->err));
}

/* The error must name "path:line:" and contain each of the given words. */
static void assert_error_at(struct fixture *f, int line, const char *word1, const char *word2)
{
    char where[1200];
    snprintf(where, sizeof(where), "%s:%d:", f->path, line);
    if (!strstr(f->err, where) || (word1 && !strstr(f->err, word1)) ||
        (word2 && !strstr(f->err, word2)))
        fail_msg("error \"%s\" should name \"%s\" and \"%s\" \"%s\"", f->err, where,
                 word1 ? word1 : "", word2 ? word2 : "");
}

static void defaults_are_documented_values(void **state)
{
    struct fixture *f = *state;
    struct config *c = &f->cfg;
    config_defaults(c);
    assert_string_equal(c->database, "/var/lib/isthmus/isthmus.db");
    assert_int_equal(c->log_level, LOG_LVL_INFO);
    assert_string_equal(c->log_file, "");
    assert_false(c->syslog);
    assert_string_equal(c->master_key_file, "/etc/isthmus/master.key");
    assert_string_equal(c->default_tenant, "");
    assert_string_equal(c->tenant_hook, "");
    assert_int_equal(c->history_retention_days, 90);
    assert_int_equal(c->ike_listen_count, 1);
    assert_string_equal(c->ike_listen[0], "0.0.0.0");
    assert_int_equal(c->ike_port, 500);
    assert_int_equal(c->natt_port, 4500);
    assert_int_equal(c->half_open_limit, 10000);
    assert_int_equal(c->half_open_per_peer, 50);
    assert_int_equal(c->cookie_threshold, 500);
    assert_int_equal(c->half_open_timeout_s, 30);
    assert_int_equal(c->dpd_delay_s, 30);
    assert_int_equal(c->retransmit_base_ms, 2000);
    assert_int_equal(c->retransmit_tries, 5);
    assert_int_equal(c->esp_workers, 0);
    assert_int_equal(c->esp_linger_us, 500);
    assert_true(c->esp_offloads);
    assert_int_equal(c->esp_xdp_count, 0);
    assert_string_equal(c->api_listen, "127.0.0.1:8443");
    assert_string_equal(c->api_tls_cert, "");
    assert_string_equal(c->api_tls_key, "");
    assert_int_equal(c->api_threads, 4);
    assert_int_equal(c->api_nice, 10);
    assert_string_equal(c->metrics_listen, "");
}

static void empty_file_keeps_defaults(void **state)
{
    struct fixture *f = *state;
    struct config def;
    config_defaults(&def);
    assert_int_equal(load(f, "; nothing but a comment\n# and another\n\n"), 0);
    assert_memory_equal(&def, &f->cfg, sizeof(def));
}

static void every_key_is_read(void **state)
{
    struct fixture *f = *state;
    struct config *c = &f->cfg;
    int rc = load(f, "[daemon]\n"
                     "database = /srv/isthmus/state.db\n"
                     "log_level = debug\n"
                     "log_file = /var/log/isthmusd.log\n"
                     "syslog = yes\n"
                     "master_key_file = /srv/isthmus/master.key\n"
                     "default_tenant = acme\n"
                     "tenant_hook = /usr/local/sbin/tenant-hook\n"
                     "history_retention_days = 30\n"
                     "[ike]\n"
                     "listen = 198.51.100.1, 2001:db8::1\n"
                     "port = 5500\n"
                     "natt_port = 5501\n"
                     "half_open_limit = 2000\n"
                     "half_open_per_peer = 7\n"
                     "cookie_threshold = 0\n"
                     "half_open_timeout = 12\n"
                     "dpd_delay = 0\n"
                     "retransmit_timeout = 750\n"
                     "retransmit_tries = 3\n"
                     "[esp]\n"
                     "workers = 3\n"
                     "linger = 0\n"
                     "offloads = no\n"
                     "xdp = wan0, wan1\twan.2\n"
                     "[api]\n"
                     "listen = [::1]:9443\n"
                     "tls_cert = /etc/isthmus/api.crt\n"
                     "tls_key = /etc/isthmus/api.key\n"
                     "threads = 8\n"
                     "nice = 0\n"
                     "metrics_listen = 127.0.0.1:9100\n");
    if (rc != 0)
        fail_msg("unexpected error: %s", f->err);
    assert_string_equal(c->database, "/srv/isthmus/state.db");
    assert_int_equal(c->log_level, LOG_LVL_DEBUG);
    assert_string_equal(c->log_file, "/var/log/isthmusd.log");
    assert_true(c->syslog);
    assert_string_equal(c->master_key_file, "/srv/isthmus/master.key");
    assert_string_equal(c->default_tenant, "acme");
    assert_string_equal(c->tenant_hook, "/usr/local/sbin/tenant-hook");
    assert_int_equal(c->history_retention_days, 30);
    assert_int_equal(c->ike_listen_count, 2);
    assert_string_equal(c->ike_listen[0], "198.51.100.1");
    assert_string_equal(c->ike_listen[1], "2001:db8::1");
    assert_int_equal(c->ike_port, 5500);
    assert_int_equal(c->natt_port, 5501);
    assert_int_equal(c->half_open_limit, 2000);
    assert_int_equal(c->half_open_per_peer, 7);
    assert_int_equal(c->cookie_threshold, 0);
    assert_int_equal(c->half_open_timeout_s, 12);
    assert_int_equal(c->dpd_delay_s, 0);
    assert_int_equal(c->retransmit_base_ms, 750);
    assert_int_equal(c->retransmit_tries, 3);
    assert_int_equal(c->esp_workers, 3);
    assert_int_equal(c->esp_linger_us, 0);
    assert_false(c->esp_offloads);
    assert_int_equal(c->esp_xdp_count, 3);
    assert_string_equal(c->esp_xdp[0], "wan0");
    assert_string_equal(c->esp_xdp[2], "wan.2");
    assert_string_equal(c->api_listen, "[::1]:9443");
    assert_string_equal(c->api_tls_cert, "/etc/isthmus/api.crt");
    assert_string_equal(c->api_tls_key, "/etc/isthmus/api.key");
    assert_int_equal(c->api_threads, 8);
    assert_int_equal(c->api_nice, 0);
    assert_string_equal(c->metrics_listen, "127.0.0.1:9100");
}

static void every_log_level_and_boolean_spelling(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *word;
        enum log_level lvl;
    } levels[] = {{"error", LOG_LVL_ERROR},   {"warn", LOG_LVL_WARN}, {"warning", LOG_LVL_WARN},
                  {"notice", LOG_LVL_NOTICE}, {"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG}};
    char text[256];
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        snprintf(text, sizeof(text), "[daemon]\nlog_level = %s\n", levels[i].word);
        assert_int_equal(load(f, text), 0);
        assert_int_equal(f->cfg.log_level, levels[i].lvl);
    }
    static const char *const yes[] = {"yes", "YES", "true", "on", "1"};
    static const char *const no[] = {"no", "False", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), "[daemon]\nsyslog = %s\n", yes[i]);
        assert_int_equal(load(f, text), 0);
        assert_true(f->cfg.syslog);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(text, sizeof(text), "[daemon]\nsyslog = on\nsyslog = %s\n", no[i]);
        assert_int_equal(load(f, text), 0);
        assert_false(f->cfg.syslog);
    }
}

static void inline_comments_and_blank_values(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "[ike]\n"
                     "port = 5500 ; the lab's port\n"
                     "[daemon]\n"
                     "log_file =\n"
                     "default_tenant =\n");
    if (rc != 0)
        fail_msg("unexpected error: %s", f->err);
    assert_int_equal(f->cfg.ike_port, 5500);
    assert_string_equal(f->cfg.log_file, "");
}

/* Each bad value sits on line 4, after a comment, a section and a good key. */
static void bad_values_name_file_line_and_key(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *section, *line, *key;
    } cases[] = {
        {"daemon", "log_level = loud", "log_level"},
        {"daemon", "syslog = maybe", "syslog"},
        {"daemon", "history_retention_days = 0", "history_retention_days"},
        {"daemon", "history_retention_days = 36501", "history_retention_days"},
        {"ike", "port = 0", "port"},
        {"ike", "port = 65536", "port"},
        {"ike", "port = 5oo", "port"},
        {"ike", "port = -1", "port"},
        {"ike", "port =", "port"},
        {"ike", "natt_port = 99999999999999999999", "natt_port"},
        {"ike", "half_open_limit = 0", "half_open_limit"},
        {"ike", "half_open_per_peer = 1e3", "half_open_per_peer"},
        {"ike", "cookie_threshold = 1000001", "cookie_threshold"},
        {"ike", "half_open_timeout = 3601", "half_open_timeout"},
        {"ike", "half_open_timeout = +5", "half_open_timeout"},
        {"ike", "listen = 198.51.100.300", "listen"},
        {"ike", "listen = gateway.example", "listen"},
        {"ike", "listen = ,", "listen"},
        {"esp", "xdp = eth0/1", "not an interface name"},
        {"esp", "xdp = averyveryverylongname0", "not an interface name"},
        {"esp", "xdp = a b c d e f g h i", "more than 8 interfaces"},
        {"ike", "listen = 1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,1.1.1.7,1.1.1.8,1.1.1.9",
         "listen"},
        {"esp", "workers = 65", "workers"},
        {"api", "listen = localhost:8443", "listen"},
        {"api", "listen = 127.0.0.1", "listen"},
        {"api", "listen = 127.0.0.1:", "listen"},
        {"api", "listen = ::1:8443", "listen"},
        {"api", "threads = 0", "threads"},
        {"api", "threads = 65", "threads"},
        {"api", "metrics_listen = 127.0.0.1:0", "metrics_listen"},
    };
    char text[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "; line 1\n[%s]\n\n%s\n[daemon]\nlog_level = info\n",
                 cases[i].section, cases[i].line);
        if (load(f, text) == 0)
            fail_msg("\"%s\" in [%s] was accepted", cases[i].line, cases[i].section);
        assert_error_at(f, 4, cases[i].key, cases[i].section);
    }
}

static void unknown_key_is_an_error_naming_it(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "[daemon]\nlog_level = info\ndatabse = /tmp/x.db\n"), -1);
    assert_error_at(f, 3, "databse", "[daemon]");
    /* A key of another section is unknown here too. */
    assert_int_equal(load(f, "[ike]\nworkers = 2\n"), -1);
    assert_error_at(f, 2, "workers", "[ike]");
}

static void unknown_section_is_an_error_naming_it(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "[daemon]\nsyslog = no\n\n[iek]\nport = 500\n"), -1);
    assert_error_at(f, 5, "[iek]", "port");
    /* Keys before any section are in the unnamed section: unknown too. */
    assert_int_equal(load(f, "port = 500\n"), -1);
    assert_error_at(f, 1, "port", NULL);
}

static void first_error_is_reported_with_its_own_line(void **state)
{
    struct fixture *f = *state;
    /* Two typos: the first one is reported. */
    assert_int_equal(load(f, "[ike]\nport = 0\nnatt_prot = 4500\n"), -1);
    assert_error_at(f, 2, "port", "out of range");
    assert_int_equal(load(f, "[api]\nnice = 20\n"), -1);
    assert_error_at(f, 2, "nice", "out of range");
    /* A syntax error before a bad key: the syntax error, at its line. */
    assert_int_equal(load(f, "[ike]\nthis line has no equals sign\nprot = 1\n"), -1);
    assert_error_at(f, 2, "syntax error", NULL);
    /* A bad key before a syntax error: the key, at its line. */
    assert_int_equal(load(f, "[ike]\nprot = 1\nno equals sign here\n"), -1);
    assert_error_at(f, 2, "prot", NULL);
    /* A broken section header. */
    assert_int_equal(load(f, "[daemon]\nsyslog = no\n[api\nthreads = 2\n"), -1);
    assert_error_at(f, 3, "syntax error", NULL);
}

static void overlong_line_is_an_error_at_its_line(void **state)
{
    struct fixture *f = *state;
    char text[2048];
    char longpath[600];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    /* The rest of the long line holds "=": it must not be read as a key. */
    snprintf(text, sizeof(text), "[daemon]\ndatabase = %s/x=y\nsyslog = no\n", longpath);
    assert_int_equal(load(f, text), -1);
    assert_error_at(f, 2, "longer than", NULL);
    /* A long comment is refused too: its rest would be read as a line. */
    snprintf(text, sizeof(text), "; %s\n[ike]\nport = 0\n", longpath);
    assert_int_equal(load(f, text), -1);
    assert_error_at(f, 1, "longer than", NULL);
}

static void tls_cert_and_key_go_together(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "[api]\ntls_cert = /etc/isthmus/api.crt\n"), -1);
    if (!strstr(f->err, f->path) || !strstr(f->err, "tls_cert") || !strstr(f->err, "tls_key"))
        fail_msg("error should name the file, tls_cert and tls_key: %s", f->err);
    assert_int_equal(load(f, "[api]\ntls_key = /etc/isthmus/api.key\n"), -1);
    assert_non_null(strstr(f->err, "tls_cert"));
    assert_int_equal(load(f, "[api]\ntls_cert = a.crt\ntls_key = a.key\n"), 0);
}

static void ike_ports_must_differ(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "[ike]\nport = 4500\n"), -1);
    assert_non_null(strstr(f->err, "natt_port"));
    assert_int_equal(load(f, "[ike]\nport = 4500\nnatt_port = 500\n"), 0);
}

static void relative_paths_are_from_the_config_folder(void **state)
{
    struct fixture *f = *state;
    char *sub = tu_path(f->dir, "etc");
    assert_int_equal(mkdir(sub, 0755), 0);
    char *conf = tu_path(sub, "isthmus.conf");
    assert_int_equal(tu_write(conf, "[daemon]\n"
                                    "database = db/isthmus.db\n"
                                    "master_key_file = ../keys/master.key\n"
                                    "log_file = /var/log/isthmusd.log\n"
                                    "tenant_hook = hook.sh\n"
                                    "[api]\n"
                                    "tls_cert = tls/api.crt\n"
                                    "tls_key = /abs/api.key\n"),
                     0);
    config_defaults(&f->cfg);
    if (config_load(&f->cfg, conf, f->err, sizeof(f->err)) != 0)
        fail_msg("unexpected error: %s", f->err);
    char want[1024];
    snprintf(want, sizeof(want), "%s/db/isthmus.db", sub);
    assert_string_equal(f->cfg.database, want);
    snprintf(want, sizeof(want), "%s/../keys/master.key", sub);
    assert_string_equal(f->cfg.master_key_file, want);
    assert_string_equal(f->cfg.log_file, "/var/log/isthmusd.log");
    snprintf(want, sizeof(want), "%s/hook.sh", sub);
    assert_string_equal(f->cfg.tenant_hook, want);
    snprintf(want, sizeof(want), "%s/tls/api.crt", sub);
    assert_string_equal(f->cfg.api_tls_cert, want);
    assert_string_equal(f->cfg.api_tls_key, "/abs/api.key");

    /* A config named without a folder: paths are from the current folder. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(sub), 0);
    config_defaults(&f->cfg);
    int rc = config_load(&f->cfg, "isthmus.conf", f->err, sizeof(f->err));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(f->cfg.database, "./db/isthmus.db");
    free(conf);
    free(sub);
}

static void missing_file_is_named(void **state)
{
    struct fixture *f = *state;
    char *missing = tu_path(f->dir, "nope.conf");
    assert_int_equal(config_load(&f->cfg, missing, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, missing));
    assert_non_null(strstr(f->err, "No such file"));
    free(missing);
}

static void hostport_accepts_v4_and_bracketed_v6(void **state)
{
    (void)state;
    static const struct {
        const char *in, *host;
        uint16_t port;
    } good[] = {
        {"127.0.0.1:8443", "127.0.0.1", 8443},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"[::1]:8443", "::1", 8443},
        {"[2001:db8::5]:65535", "2001:db8::5", 65535},
        {"[::]:80", "::", 80},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char host[CONFIG_ADDR_MAX] = "";
        uint16_t port = 0;
        if (config_split_hostport(good[i].in, host, sizeof(host), &port) != 0)
            fail_msg("\"%s\" was refused", good[i].in);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
}

static void hostport_refuses_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "127.0.0.1",     "127.0.0.1:",  ":8443",           "[::1]8443",
        "[::1]",         "[::1",        "[]:80",           "1.2.3.4:0",
        "1.2.3.4:65536", "1.2.3.4:80x", "1.2.3.4:+80",     "1.2.3.4: 80",
        "1.2.3.4:-1",    "::1:8443",    "2001:db8::1:443", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[CONFIG_ADDR_MAX];
        uint16_t port;
        if (config_split_hostport(bad[i], host, sizeof(host), &port) == 0)
            fail_msg("\"%s\" was accepted as %s port %u", bad[i], host, port);
    }
    /* A host longer than the caller's buffer is refused, not cut. */
    char small[8];
    uint16_t port;
    assert_int_equal(config_split_hostport("198.51.100.100:80", small, sizeof(small), &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_are_documented_values, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_file_keeps_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(every_key_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(every_log_level_and_boolean_spelling, setup, teardown),
        cmocka_unit_test_setup_teardown(inline_comments_and_blank_values, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_values_name_file_line_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_key_is_an_error_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_section_is_an_error_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(first_error_is_reported_with_its_own_line, setup, teardown),
        cmocka_unit_test_setup_teardown(overlong_line_is_an_error_at_its_line, setup, teardown),
        cmocka_unit_test_setup_teardown(tls_cert_and_key_go_together, setup, teardown),
        cmocka_unit_test_setup_teardown(ike_ports_must_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(relative_paths_are_from_the_config_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file_is_named, setup, teardown),
        cmocka_unit_test(hostport_accepts_v4_and_bracketed_v6),
        cmocka_unit_test(hostport_refuses_malformed),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
