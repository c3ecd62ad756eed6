/* SPDX-License-Identifier: MIT */
/*
 * store_fixture.h: a store in a directory of its own for the unit tests
 * that use one (test_store, test_erase, test_feedback_store, test_dataset,
 * test_aead), and reads and writes of its file through a connection of the
 * test's own. Each fails the cmocka test on an error. Include after
 * cmocka.h.
 */
#ifndef MD_TESTS_STORE_FIXTURE_H
#define MD_TESTS_STORE_FIXTURE_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Makes the directory /tmp/md-<name>-XXXXXX into dir and the database
 * file's path into db (NULL: not wanted); opens the store there into *s
 * unless s is NULL.
 */
static inline void store_fx_make(const char *name, char dir[64], char db[128], struct md_store **s)
{
    struct md_err err;

    snprintf(dir, 64, "/tmp/md-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
    if (db != NULL)
        snprintf(db, 128, "%s/modeld.db", dir);
    if (s != NULL) {
        md_err_clear(&err);
        if (md_store_open(dir, s, &err) != MD_OK)
            fail_msg("%s", err.msg);
    }
}

/* Closes s (NULL ok) and removes dir whole, whatever modes its files were left with. */
static inline void store_fx_drop(const char *dir, struct md_store *s)
{
    char cmd[200];

    md_store_close(s);
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
}

/* Runs sql on the file db (made when missing) through a connection of the test's own. */
static inline void sql_exec(const char *db, const char *sql)
{
    sqlite3 *h = NULL;

    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* The integer the first row of sql holds, read from the file db; -1 when there is no row. */
static inline int64_t sql_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    return v;
}

#endif
