/* isthmusd: command line. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/token.h"
#include "concentrator/config.h"
#include "concentrator/daemon.h"
#include "concentrator/log.h"
#include "db/audit.h"
#include "db/db.h"
#include "db/tokens.h"

#define DEFAULT_CONFIG "/etc/isthmus/isthmus.conf"

static void usage(FILE *out)
{
    fprintf(out, "usage: isthmusd [-c FILE] [--check-config | --migrate |\n"
                 "                --issue-token NAME --role ROLE [--tenant TENANT]]\n"
                 "\n"
                 "  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
                 "      --check-config    validate the configuration and exit\n"
                 "      --migrate         apply database migrations and exit\n"
                 "      --issue-token NAME  create an API token, print it once, and exit\n"
                 "      --role ROLE       operator, tenant-admin or tenant-viewer\n"
                 "      --tenant TENANT   the tenant of a tenant-admin or tenant-viewer token\n"
                 "  -h, --help            this text\n");
}

static int issue_token(const struct config *cfg, const char *name, const char *role,
                       const char *tenant)
{
    int lock_fd;
    bool tenant_role = !strcmp(role, "tenant-admin") || !strcmp(role, "tenant-viewer");
    if (strcmp(role, "operator") != 0 && !tenant_role) {
        fprintf(stderr, "isthmusd: --role must be operator, tenant-admin or tenant-viewer\n");
        return 2;
    }
    if (tenant_role != (tenant != NULL)) {
        fprintf(stderr, "isthmusd: %s\n",
                tenant_role ? "--tenant is required for a tenant role"
                            : "--tenant is only for tenant-admin and tenant-viewer");
        return 2;
    }
    if (name[0] == '\0' || strlen(name) > 128) {
        fprintf(stderr, "isthmusd: the token name must be 1 to 128 characters\n");
        return 2;
    }
    sqlite3 *db = daemon_open_store(cfg, &lock_fd);
    if (!db)
        return 1;
    char text[TOKEN_TEXT_MAX], id[TOKEN_ID_LEN + 1];
    uint8_t hash[TOKEN_HASH_LEN];
    int rc = 1;
    if (token_generate(text, id) < 0) {
        fprintf(stderr, "isthmusd: no randomness for a token\n");
        goto done;
    }
    token_hash(text, hash);
    char changes[512];
    snprintf(changes, sizeof(changes), "{\"name\":\"%s\",\"role\":\"%s\"}", "(see token)", role);
    if (db_begin(db) != SQLITE_OK)
        goto done;
    int src = db_token_insert(db, id, name, role, tenant, hash, sizeof(hash), "cli");
    if (src == SQLITE_OK)
        src = db_audit_insert(db, "cli", tenant, "token", id, "create", changes);
    if (src != SQLITE_OK) {
        db_rollback(db);
        if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
            fprintf(stderr, "isthmusd: no tenant '%s'\n", tenant);
        else
            fprintf(stderr, "isthmusd: cannot store the token: %s\n", sqlite3_errstr(src));
        goto done;
    }
    if (db_commit(db) != SQLITE_OK)
        goto done;
    log_notice("daemon", "issued API token %s (%s) with role %s", id, name, role);
    printf("%s\n", text);
    rc = 0;
done:
    memset(text, 0, sizeof(text));
    db_close(db);
    close(lock_fd);
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_path = DEFAULT_CONFIG;
    const char *token_name = NULL, *role = NULL, *tenant = NULL;
    bool check = false, migrate = false;
    enum { OPT_CHECK = 256, OPT_MIGRATE, OPT_TOKEN, OPT_ROLE, OPT_TENANT };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"migrate", no_argument, NULL, OPT_MIGRATE},
        {"issue-token", required_argument, NULL, OPT_TOKEN},
        {"role", required_argument, NULL, OPT_ROLE},
        {"tenant", required_argument, NULL, OPT_TENANT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    umask(027); /* the database and logs are for the daemon's user and group */
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_MIGRATE:
            migrate = true;
            break;
        case OPT_TOKEN:
            token_name = optarg;
            break;
        case OPT_ROLE:
            role = optarg;
            break;
        case OPT_TENANT:
            tenant = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || (check + migrate + (token_name != NULL)) > 1 ||
        ((role || tenant) && !token_name)) {
        usage(stderr);
        return 2;
    }
    if (token_name && !role) {
        fprintf(stderr, "isthmusd: --issue-token needs --role\n");
        return 2;
    }

    struct config cfg;
    char err[1024];
    config_defaults(&cfg);
    if (config_load(&cfg, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "isthmusd: %s\n", err);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK\n", config_path);
        return 0;
    }
    /* --migrate and --issue-token are run by an operator at a terminal: their
     * lines (and why they failed) go to standard error, not the daemon's log. */
    bool one_shot = migrate || token_name;
    if (log_open(cfg.log_file[0] && !one_shot ? cfg.log_file : NULL, cfg.syslog && !one_shot,
                 cfg.log_level) < 0) {
        fprintf(stderr, "isthmusd: cannot open log file %s\n", cfg.log_file);
        return 1;
    }
    int rc;
    if (migrate) {
        int lock_fd;
        sqlite3 *db = daemon_open_store(&cfg, &lock_fd);
        rc = db ? 0 : 1;
        db_close(db);
        if (db)
            close(lock_fd);
    } else if (token_name) {
        rc = issue_token(&cfg, token_name, role, tenant);
    } else {
        rc = daemon_run(&cfg, config_path);
    }
    log_close();
    return rc;
}
