/* SPDX-License-Identifier: MIT */
/*
 * subject.c: the subject key and the keyed hash of a subject id
 * (subject.h).
 */
#include "watch/subject.h"
#include "util/keyfile.h"
#include "util/mem.h"
#include "watch/predlog.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

struct md_subject_key {
    char *key; /* from md_keyfile_read */
    size_t len;
};

/* Makes dir/subject.key: 32 random bytes as 64 hex digits and a newline, mode 0600. */
static int create(const char *path, struct md_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    char text[65];
    size_t i;
    int rc;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return md_err_set(err, MD_EIO, "subject key %s: no random bytes: %s", path,
                          strerror(errno));
    for (i = 0; i < sizeof(raw); i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[64] = '\n';
    rc = md_keyfile_write(path, text, sizeof(text), err);
    memset(raw, 0, sizeof(raw));
    memset(text, 0, sizeof(text));
    __asm__ __volatile__("" : : "r"(raw), "r"(text) : "memory");
    return rc;
}

int md_subject_key_load(const char *path, const char *dir, struct md_subject_key **out,
                        bool *created, struct md_err *err)
{
    char own[PATH_MAX];
    char *key = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    *created = false;
    if (path == NULL) {
        if (dir == NULL || dir[0] == '\0')
            return md_err_set(err, MD_EINVAL,
                              "subject key: no --subject-key-file and no data directory to keep "
                              "one in");
        if (snprintf(own, sizeof(own), "%s/%s", dir, MD_SUBJECT_KEY_FILE) >= (int)sizeof(own))
            return md_err_set(err, MD_EINVAL, "subject key: the data directory's path is too long");
        path = own;
        rc = md_keyfile_check(path, err);
        if (rc == MD_ENOTFOUND) {
            rc = create(path, err);
            if (rc != MD_OK)
                return rc;
            *created = true;
        }
    }
    rc = md_keyfile_read(path, MD_SUBJECT_KEY_MAX, &key, &len, err);
    if (rc != MD_OK)
        return rc;
    if (len < MD_SUBJECT_KEY_MIN) {
        md_keyfile_free(key, len);
        return md_err_set(err, MD_EINVAL, "subject key file %s: %zu bytes; a key has at least %d",
                          path, len, MD_SUBJECT_KEY_MIN);
    }
    *out = md_xcalloc(1, sizeof(**out));
    (*out)->key = key;
    (*out)->len = len;
    return MD_OK;
}

void md_subject_key_free(struct md_subject_key *k)
{
    if (k == NULL)
        return;
    md_keyfile_free(k->key, k->len + 1);
    free(k);
}

void md_subject_hash(const struct md_subject_key *k, const char *id, size_t n, char out[65])
{
    md_predlog_hmac((const unsigned char *)k->key, k->len, id, n, out);
}
