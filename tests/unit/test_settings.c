/* SPDX-License-Identifier: MIT */
/*
 * test_settings.c: the daemon's settings table (control/settings.c): the
 * defaults and limits the flags had before the table, the actions, the
 * --config file read after the flags and overridden by them, and --help.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "control/settings.h"
#include "backend/loadcheck.h"
#include "net/http.h"
#include "util/log.h"
#include "watch/predlog.h"

#include <fcntl.h>
#include <unistd.h>

/* md_settings_parse on "modeld" and a NULL-terminated list of arguments. */
static enum md_settings_action run(struct md_settings *s, struct md_err *err, ...)
{
    static char buf[16][128];
    char *argv[17];
    int argc = 0;
    va_list ap;

    md_settings_init(s);
    md_err_clear(err);
    argv[argc++] = (char *)"modeld";
    va_start(ap, err);
    for (;;) {
        const char *a = va_arg(ap, const char *);

        if (a == NULL)
            break;
        assert_true(argc < 16 && strlen(a) < sizeof(buf[0]));
        (void)snprintf(buf[argc], sizeof(buf[0]), "%s", a);
        argv[argc] = buf[argc];
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    return md_settings_parse(s, argc, argv, err);
}

static void test_defaults(void **state)
{
    struct md_settings s;
    size_t i;

    (void)state;
    md_settings_init(&s);
    /* The defaults main.c had before the table. */
    assert_string_equal(s.repo, "models");
    assert_string_equal(s.listen, "127.0.0.1:8080");
    assert_string_equal(s.data, "var");
    assert_int_equal(s.poll_s, 0);
    assert_int_equal(s.threads, 0);
    assert_int_equal(s.max_body_bytes, 64u << 20);
    assert_int_equal(s.max_upload_bytes, 1u << 30);
    assert_int_equal(s.max_connections, 4096);
    assert_int_equal(s.idle_timeout_s, 60);
    assert_int_equal(s.max_header_bytes, MD_HTTP_MAX_HEADER);
    assert_int_equal(s.conn_buffer_bytes, MD_HTTP_CONN_BUFFER);
    assert_int_equal(s.shutdown_delay_s, 0);
    assert_int_equal(s.drain_timeout_s, 10);
    assert_int_equal(s.load_timeout_s, MD_LOADCHECK_TIMEOUT_S);
    assert_int_equal(s.load_memory_mb, MD_LOADCHECK_MEMORY_MB);
    assert_int_equal(s.shadow_queue, 1024);
    assert_int_equal(s.shadow_threads, 1);
    assert_null(s.access_log);
    assert_int_equal(s.log_level, MD_LOG_INFO);
    assert_null(s.config_file);
    /* Every key is its flag with '_' for '-'. */
    for (i = 0; i < s.config.n; i++) {
        const struct md_config_setting *t = &s.config.table[i];
        size_t k;

        assert_int_equal(strlen(t->key), strlen(t->flag));
        for (k = 0; t->flag[k] != '\0'; k++)
            assert_int_equal(t->key[k], t->flag[k] == '-' ? '_' : t->flag[k]);
        assert_false(md_settings_given(&s, t->key));
    }
    assert_false(s.insecure);
    /* bearer tokens (part tokens): off; with them, health open and metrics closed */
    assert_false(s.auth);
    assert_false(s.auth_health);
    assert_true(s.auth_metrics);
    assert_string_equal(s.history_retention, "30d");
    assert_null(s.history_metrics);
    /* the prediction log's five */
    assert_int_equal(s.log_ring, MD_PREDLOG_RING_DEFAULT);
    assert_int_equal(s.log_horizon_days, 30);
    assert_int_equal(s.log_features_days, 0);
    assert_int_equal(s.log_features_rows, 0);
    assert_null(s.pii_key_file);
    assert_null(s.subject_key_file);
    /* encryption at rest's */
    assert_null(s.data_key_file);
    /* feedback's */
    assert_int_equal(s.feedback_horizon_s, 30 * 24 * 3600);
    /* the audit log's key: none, the log off */
    assert_null(s.audit_key_file);
    /* TLS: off */
    assert_null(s.tls_cert);
    assert_null(s.tls_key);
    assert_null(s.tls_client_ca);
    /* part harden's: --user */
    assert_null(s.user);
    /* JSON Web Tokens: none taken */
    assert_null(s.jwt_jwks_file);
    assert_null(s.jwt_issuer);
    assert_null(s.jwt_audience);
    assert_string_equal(s.jwt_role_claim, "roles");
    assert_null(s.jwt_models_claim);
    assert_int_equal(s.jwt_skew_s, 60);
    /* the dashboard's sessions */
    assert_string_equal(s.session_idle, "1h");
    assert_string_equal(s.session_max_age, "12h");
    assert_int_equal(s.sessions_max, 1024);
    assert_int_equal(s.config.n, 47);
    md_settings_release(&s);
}

static void test_limits(void **state)
{
    /* Each flag's accepted range, as before the table: the last value in and the first out. */
    static const struct {
        const char *flag;
        const char *ok;
        const char *bad;
    } cases[] = {
        {"--poll", "86400", "86401"},
        {"--threads", "1024", "1025"},
        {"--max-body-bytes", "1", "0"},
        {"--max-body-bytes", "2147483648", "2147483649"},
        {"--max-upload-bytes", "1", "0"},
        {"--max-upload-bytes", "1099511627776", "1099511627777"},
        {"--max-connections", "1000000", "1000001"},
        {"--idle-timeout", "86400", "86401"},
        {"--max-header-bytes", "1024", "1023"},
        {"--max-header-bytes", "1048576", "1048577"},
        {"--conn-buffer-bytes", "4096", "4095"},
        {"--conn-buffer-bytes", "1048576", "1048577"},
        {"--drain-timeout", "3600", "3601"},
        {"--log-level", "warning", "loud"},
    };
    struct md_settings s;
    struct md_err err;
    char want[160];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        assert_int_equal(run(&s, &err, cases[i].flag, cases[i].ok, (char *)NULL),
                         MD_SETTINGS_SERVE);
        md_settings_release(&s);
        assert_int_equal(run(&s, &err, cases[i].flag, cases[i].bad, (char *)NULL), MD_SETTINGS_BAD);
        (void)snprintf(want, sizeof(want), "%s: '%s' is not ", cases[i].flag, cases[i].bad);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("%s %s: '%s'", cases[i].flag, cases[i].bad, err.msg);
        md_settings_release(&s);
    }
    assert_int_equal(run(&s, &err, "--log-level", "warning", (char *)NULL), MD_SETTINGS_SERVE);
    assert_int_equal(s.log_level, MD_LOG_WARN);
    assert_true(md_settings_given(&s, "log_level"));
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--log-level", "loud", (char *)NULL), MD_SETTINGS_BAD);
    assert_string_equal(err.msg, "--log-level: 'loud' is not one of debug, info, warn, error, off");
    md_settings_release(&s); /* The history's retention: a duration, read into ms. */
    assert_int_equal(run(&s, &err, (char *)NULL), MD_SETTINGS_SERVE);
    assert_true(s.history_retention_ms == 30LL * 86400 * 1000);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--history-retention", "3650d", (char *)NULL),
                     MD_SETTINGS_SERVE);
    assert_true(s.history_retention_ms == 3650LL * 86400 * 1000);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--history-retention", "3651d", (char *)NULL), MD_SETTINGS_BAD);
    assert_string_equal(err.msg, "history_retention: '3651d' is not a duration from 1s to 3650d "
                                 "(90m, 12h, 30d)");
    md_settings_release(&s);
    /* The dashboard sessions' lives: durations up to 30 days, read into ms. */
    assert_int_equal(run(&s, &err, (char *)NULL), MD_SETTINGS_SERVE);
    assert_true(s.session_idle_ms == 3600LL * 1000);
    assert_true(s.session_max_age_ms == 12LL * 3600 * 1000);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--session-idle", "90s", "--session-max-age", "30d",
                         "--sessions-max", "1", (char *)NULL),
                     MD_SETTINGS_SERVE);
    assert_true(s.session_idle_ms == 90LL * 1000);
    assert_true(s.session_max_age_ms == 30LL * 86400 * 1000);
    assert_int_equal(s.sessions_max, 1);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--session-idle", "31d", (char *)NULL), MD_SETTINGS_BAD);
    assert_string_equal(err.msg,
                        "session_idle: '31d' is not a duration from 1s to 30d (90s, 30m, 1h)");
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--session-max-age", "soon", (char *)NULL), MD_SETTINGS_BAD);
    assert_string_equal(err.msg,
                        "session_max_age: 'soon' is not a duration from 1s to 30d (90m, 12h, 7d)");
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--sessions-max", "0", (char *)NULL), MD_SETTINGS_BAD);
    md_settings_release(&s);
}

static void test_actions(void **state)
{
    struct md_settings s;
    struct md_err err;

    (void)state;
    assert_int_equal(run(&s, &err, (char *)NULL), MD_SETTINGS_SERVE);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--repo", "r", "--check", (char *)NULL), MD_SETTINGS_CHECK);
    assert_string_equal(s.repo, "r");
    md_settings_release(&s);
    /* --help and --version stop the reading where they stand. */
    assert_int_equal(run(&s, &err, "--help", "--poll", "x", (char *)NULL), MD_SETTINGS_HELP);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--version", "--nope", (char *)NULL), MD_SETTINGS_VERSION);
    md_settings_release(&s);
    /* So does --routes. */
    assert_int_equal(run(&s, &err, "--routes", "--nope", (char *)NULL), MD_SETTINGS_ROUTES);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--role-matrix", (char *)NULL), MD_SETTINGS_ROLES);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--auth", "--auth-metrics=false", (char *)NULL),
                     MD_SETTINGS_SERVE);
    assert_true(s.auth && !s.auth_metrics);
    md_settings_release(&s);
    /* A boolean: its flag alone means true; =false and =true are taken too. */
    assert_int_equal(run(&s, &err, "--insecure", (char *)NULL), MD_SETTINGS_SERVE);
    assert_true(s.insecure);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--insecure=false", (char *)NULL), MD_SETTINGS_SERVE);
    assert_false(s.insecure);
    assert_true(md_settings_given(&s, "insecure"));
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--poll", "x", "--help", (char *)NULL), MD_SETTINGS_BAD);
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--nope", (char *)NULL), MD_SETTINGS_USAGE);
    assert_string_equal(err.msg, "unrecognized option '--nope'");
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "extra", (char *)NULL), MD_SETTINGS_USAGE);
    assert_string_equal(err.msg, "unexpected argument 'extra'");
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--config", "a", "--config", "b", (char *)NULL),
                     MD_SETTINGS_BAD);
    assert_string_equal(err.msg, "--config: given more than once");
    md_settings_release(&s);
    assert_int_equal(run(&s, &err, "--config", "/nonexistent/modeld.yaml", (char *)NULL),
                     MD_SETTINGS_BAD);
    assert_string_equal(
        err.msg, "--config: '/nonexistent/modeld.yaml': cannot open: No such file or directory");
    md_settings_release(&s);
}

static void test_config_file(void **state)
{
    char path[] = "/tmp/md-test-settings-XXXXXX";
    static const char text[] = "listen: 127.0.0.1:9\n"
                               "threads: 3\n"
                               "poll: 2\n"
                               "log_level: warn\n"
                               "max_body_bytes: 1048576\n";
    struct md_settings s;
    struct md_err err;
    char want[128];
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    assert_int_equal(close(fd), 0);

    /* The flag wins whether it comes before or after --config. */
    assert_int_equal(run(&s, &err, "--threads", "5", "--config", path, "--poll=7", (char *)NULL),
                     MD_SETTINGS_SERVE);
    assert_string_equal(s.config_file, path);
    assert_string_equal(s.listen, "127.0.0.1:9");
    assert_int_equal(s.threads, 5);
    assert_int_equal(s.poll_s, 7);
    assert_int_equal(s.log_level, MD_LOG_WARN);
    assert_int_equal(s.max_body_bytes, 1048576);
    assert_int_equal(s.idle_timeout_s, 60);
    assert_string_equal(md_config_file(&s.config), path);
    assert_int_equal(md_config_source_of(&s.config, (size_t)md_config_find(&s.config, "threads")),
                     MD_CONFIG_FLAG);
    assert_int_equal(md_config_source_of(&s.config, (size_t)md_config_find(&s.config, "listen")),
                     MD_CONFIG_FILE);
    assert_true(md_settings_given(&s, "log_level"));
    assert_false(md_settings_given(&s, "idle_timeout"));
    md_settings_release(&s);

    /* --check reads the file too. */
    assert_int_equal(run(&s, &err, "--check", "--config", path, (char *)NULL), MD_SETTINGS_CHECK);
    assert_int_equal(s.log_level, MD_LOG_WARN);
    md_settings_release(&s);

    /* A bad file is a bad value: exit 2 with the file's message, unprefixed. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "threads: 2000\n", 14), 14);
    assert_int_equal(close(fd), 0);
    assert_int_equal(run(&s, &err, "--config", path, (char *)NULL), MD_SETTINGS_BAD);
    (void)snprintf(want, sizeof(want), "%s:1: threads: '2000' is not a whole number from 0 to 1024",
                   path);
    assert_string_equal(err.msg, want);
    md_settings_release(&s);
    assert_int_equal(unlink(path), 0);
}

static void test_usage(void **state)
{
    struct md_settings s;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *line;
    size_t i;

    (void)state;
    assert_non_null(f);
    md_settings_usage(f);
    assert_int_equal(fclose(f), 0);
    assert_true(strncmp(text, "usage: modeld [options]\n", 24) == 0);
    /* Every setting and action has its line; t0001-startup.py checks some too. */
    md_settings_init(&s);
    for (i = 0; i < s.config.n; i++) {
        char flag[64];

        /* A boolean takes no value. */
        (void)snprintf(flag, sizeof(flag), "\n  --%s %s", s.config.table[i].flag,
                       s.config.table[i].metavar != NULL ? s.config.table[i].metavar : "");
        if (strstr(text, flag) == NULL)
            fail_msg("no '%s' in --help", flag + 1);
    }
    md_settings_release(&s);
    assert_non_null(strstr(text, "\n  --repo DIR            model repository (default: models)\n"));
    assert_non_null(strstr(text, "\n  --config FILE         read settings from this YAML file"));
    assert_non_null(strstr(text, "\n  --check               load the repository"));
    assert_non_null(strstr(text, "\n  --routes              print the route table"));
    assert_non_null(strstr(text, "\n  --version             print the version and exit\n"));
    assert_non_null(strstr(text, "\n  --help                print this help and exit\n"));
    assert_non_null(strstr(text, "(default: 24576)"));
    assert_non_null(strstr(text, "\nsignals: "));
    for (line = text; *line != '\0';) {
        size_t n = strcspn(line, "\n");

        assert_true(n <= 80);
        line += n + (line[n] != '\0');
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_actions),  cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_usage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
