/* SPDX-License-Identifier: MIT */
/*
 * test_accesslog.c: access-log lines (every field, JSON escaping of what a
 * client sent, IPv4 and IPv6 peers, long paths cut), reopening after a
 * rotation, a file that cannot be opened, and a disk that refuses writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/accesslog.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/modeld-alog-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
    static const char *const files[] = {"access.log", "rotate.log", "rotate.log.1"};
    char path[128];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(files); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    return rmdir(dir);
}

/* The lines of path, parsed; asserts each is one JSON object. */
static size_t read_lines(const char *path, json_t **out, size_t max)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    size_t n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t je;

        assert_true(n < max);
        assert_true(strlen(line) > 0 && line[strlen(line) - 1] == '\n');
        out[n] = json_loads(line, 0, &je);
        if (out[n] == NULL)
            fail_msg("not JSON (%s): %s", je.text, line);
        n++;
    }
    (void)fclose(f);
    return n;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_lines(void **state)
{
    struct md_access_log *l = NULL;
    struct md_access_rec r;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct md_err err;
    char path[128];
    char long_path[2000];
    json_t *lines[8];
    size_t n;
    size_t i;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/access.log", dir);
    assert_int_equal(md_access_log_open(path, &l, &err), MD_OK);
    memset(&in4, 0, sizeof(in4));
    in4.sin_family = AF_INET;
    in4.sin_port = htons(5123);
    inet_pton(AF_INET, "10.1.2.3", &in4.sin_addr);
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(443);
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);

    r.id = "0193a1b2c3d4e5f60718293a4b5c6d7e";
    r.peer = (const struct sockaddr *)&in4;
    r.method = "POST";
    r.path = "/v2/models/fraud/infer";
    r.model = "fraud";
    r.version = "2";
    r.status = 200;
    r.latency_us = 412;
    assert_true(md_access_log_write(l, &r));
    r.peer = (const struct sockaddr *)&in6;
    r.path = "/v2/models/a\"b\\c\x01\xc3\xa9/infer";
    r.model = NULL;
    r.version = "";
    r.status = 404;
    assert_true(md_access_log_write(l, &r));
    memset(long_path, 'x', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    r.peer = NULL;
    r.path = long_path;
    r.status = 414;
    assert_true(md_access_log_write(l, &r));
    md_access_log_close(l);

    n = read_lines(path, lines, 8);
    assert_int_equal(n, 3);
    assert_string_equal(str(lines[0], "id"), "0193a1b2c3d4e5f60718293a4b5c6d7e");
    assert_string_equal(str(lines[0], "client"), "10.1.2.3:5123");
    assert_string_equal(str(lines[0], "method"), "POST");
    assert_string_equal(str(lines[0], "path"), "/v2/models/fraud/infer");
    assert_string_equal(str(lines[0], "model"), "fraud");
    assert_string_equal(str(lines[0], "version"), "2");
    assert_int_equal(json_integer_value(json_object_get(lines[0], "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(lines[0], "latency_us")), 412);
    assert_int_equal(strlen(str(lines[0], "ts")), 24);
    assert_string_equal(str(lines[1], "client"), "[::1]:443");
    /* What the client sent is escaped; bytes past ASCII as \u00XX. */
    assert_string_equal(str(lines[1], "path"), "/v2/models/a\"b\\c\x01\xc3\x83\xc2\xa9/infer");
    assert_true(json_is_null(json_object_get(lines[1], "model")));
    assert_true(json_is_null(json_object_get(lines[1], "version")));
    assert_true(json_is_null(json_object_get(lines[2], "client")));
    assert_int_equal(strlen(str(lines[2], "path")), 512);
    assert_int_equal(json_integer_value(json_object_get(lines[2], "status")), 414);
    for (i = 0; i < n; i++)
        json_decref(lines[i]);
}

static void test_reopen(void **state)
{
    struct md_access_log *l = NULL;
    struct md_access_rec r = {"id-1", NULL, "GET", "/before", NULL, NULL, 200, 1};
    struct md_err err;
    char path[128];
    char moved[140];
    json_t *lines[4];
    size_t i;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/rotate.log", dir);
    (void)snprintf(moved, sizeof(moved), "%s.1", path);
    assert_int_equal(md_access_log_open(path, &l, &err), MD_OK);
    assert_true(md_access_log_write(l, &r));
    /* The writer's turn comes within 100 ms: wait for the line to be out. */
    for (i = 0; i < 200 && access(path, F_OK) == 0; i++) {
        FILE *f = fopen(path, "r");
        long size;

        assert_non_null(f);
        (void)fseek(f, 0, SEEK_END);
        size = ftell(f);
        (void)fclose(f);
        if (size > 0)
            break;
        usleep(10000);
    }
    assert_int_equal(rename(path, moved), 0);
    md_access_log_reopen(l);
    r.path = "/after";
    assert_true(md_access_log_write(l, &r));
    assert_int_equal(md_access_log_dropped(l), 0);
    md_access_log_close(l);
    assert_int_equal(read_lines(moved, lines, 4), 1);
    assert_string_equal(str(lines[0], "path"), "/before");
    json_decref(lines[0]);
    assert_int_equal(read_lines(path, lines, 4), 1);
    assert_string_equal(str(lines[0], "path"), "/after");
    json_decref(lines[0]);
}

static void test_errors(void **state)
{
    struct md_access_log *l = NULL;
    struct md_access_rec r = {"id", NULL, "GET", "/", NULL, NULL, 200, 1};
    struct md_err err;
    char path[128];

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/no/such/dir/a.log", dir);
    assert_int_equal(md_access_log_open(path, &l, &err), MD_EIO);
    assert_null(l);
    assert_non_null(strstr(err.msg, "access log '"));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    /* A disk that refuses every write: lines are lost, the server goes on. */
    assert_int_equal(md_access_log_open("/dev/full", &l, &err), MD_OK);
    assert_true(md_access_log_write(l, &r));
    md_access_log_close(l);
    md_access_log_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
