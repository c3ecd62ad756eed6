/* SPDX-License-Identifier: MIT */
/*
 * test_keyfile.c: secrets read from files only the owner (and its group)
 * may read (util/keyfile.h): modes 0600 and 0640 accepted, 0644, 0660,
 * 0604 and 0700 refused with the mode and the fix in the message; a group
 * that is not the process's own, another owner, a directory, a missing,
 * an empty and a too long file refused; trailing newlines dropped; write
 * creating a 0600 file and refusing to replace one. The ownership cases
 * need root (to chown) and say they are skipped otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/keyfile.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir {
    char path[64];
    char file[96];
};

static int setup(void **state)
{
    static struct dir d;

    (void)snprintf(d.path, sizeof(d.path), "/tmp/md-keyfile-XXXXXX");
    if (mkdtemp(d.path) == NULL)
        return -1;
    (void)snprintf(d.file, sizeof(d.file), "%s/key", d.path);
    *state = &d;
    return 0;
}

static int teardown(void **state)
{
    struct dir *d = *state;

    (void)unlink(d->file);
    (void)rmdir(d->path);
    return 0;
}

/* Writes text to d->file with the given mode (set after creation, past the umask). */
static void put(const struct dir *d, const char *text, mode_t mode)
{
    FILE *f;

    (void)unlink(d->file);
    f = fopen(d->file, "wb");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(d->file, mode), 0);
}

static void test_private_modes_accepted(void **state)
{
    struct dir *d = *state;
    struct md_err err;
    char *key;
    size_t len;

    put(d, "s3cret\n\n", 0600);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_OK);
    assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_OK);
    assert_int_equal(len, 6);
    assert_string_equal(key, "s3cret");
    md_keyfile_free(key, len);
    /* Group read for the process's own group: a mounted Kubernetes Secret. */
    put(d, "s3cret", 0640);
    assert_int_equal(chown(d->file, (uid_t)-1, getegid()), 0);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_OK);
    put(d, "s3cret", 0400);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_OK);
}

static void test_open_modes_refused(void **state)
{
    static const mode_t modes[] = {0644, 0604, 0660, 0620, 0700, 0602, 0666};
    struct dir *d = *state;
    struct md_err err;
    char want[32];
    char *key = (char *)"untouched";
    size_t len = 7;

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        put(d, "s3cret", modes[i]);
        assert_int_equal(md_keyfile_check(d->file, &err), MD_EINVAL);
        (void)snprintf(want, sizeof(want), "has mode %04o", (unsigned)modes[i]);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, d->file));
        assert_non_null(strstr(err.msg, "chmod 600"));
        /* read refuses too, and leaves nothing behind */
        assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_EINVAL);
        assert_null(key);
        assert_int_equal(len, 0);
    }
}

static void test_foreign_group_refused(void **state)
{
    struct dir *d = *state;
    struct md_err err;

    if (geteuid() != 0) {
        skip();
        return;
    }
    put(d, "s3cret", 0640);
    /* 54321: a group this process is not in (root's groups are root's) */
    assert_int_equal(chown(d->file, (uid_t)-1, 54321), 0);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "group 54321"));
    /* the same file without the group's read is fine */
    assert_int_equal(chmod(d->file, 0600), 0);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_OK);
}

static void test_other_owner_refused(void **state)
{
    struct dir *d = *state;
    struct md_err err;

    if (geteuid() != 0) {
        skip();
        return;
    }
    put(d, "s3cret", 0600);
    assert_int_equal(chown(d->file, 65534, (gid_t)-1), 0);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "belongs to user 65534"));
    /* root's own file is fine for any process user */
    assert_int_equal(chown(d->file, 0, (gid_t)-1), 0);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_OK);
}

static void test_not_a_file_refused(void **state)
{
    struct dir *d = *state;
    struct md_err err;
    char *key;
    size_t len;

    assert_int_equal(chmod(d->path, 0700), 0);
    assert_int_equal(md_keyfile_check(d->path, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    (void)unlink(d->file);
    assert_int_equal(md_keyfile_check(d->file, &err), MD_ENOTFOUND);
    assert_non_null(strstr(err.msg, d->file));
    assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_ENOTFOUND);
    assert_null(key);
}

static void test_empty_and_too_long_refused(void **state)
{
    struct dir *d = *state;
    struct md_err err;
    char *key;
    size_t len;

    put(d, "", 0600);
    assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "is empty"));
    assert_null(key);
    /* only newlines and spaces: empty too */
    put(d, " \n\r\n", 0600);
    assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "is empty"));
    /* exactly max bytes is fine, one more is refused */
    put(d, "0123456789abcdef", 0600);
    assert_int_equal(md_keyfile_read(d->file, 16, &key, &len, &err), MD_OK);
    assert_int_equal(len, 16);
    md_keyfile_free(key, len);
    assert_int_equal(md_keyfile_read(d->file, 15, &key, &len, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 15 bytes"));
    assert_null(key);
    assert_int_equal(len, 0);
}

static void test_write_private_and_exclusive(void **state)
{
    struct dir *d = *state;
    struct md_err err;
    struct stat st;
    char *key;
    size_t len;

    (void)unlink(d->file);
    assert_int_equal(md_keyfile_write(d->file, "abc\n", 4, &err), MD_OK);
    assert_int_equal(stat(d->file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(md_keyfile_read(d->file, 64, &key, &len, &err), MD_OK);
    assert_string_equal(key, "abc");
    md_keyfile_free(key, len);
    assert_int_equal(md_keyfile_write(d->file, "xyz", 3, &err), MD_ECONFLICT);
    md_keyfile_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_private_modes_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_modes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_group_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_too_long_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_private_and_exclusive, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
