/* SPDX-License-Identifier: MIT */
/*
 * subject.h: the subject key, by which the prediction log records whom a
 * row is about without keeping who it is in a form erasure could miss. A
 * contract's key marked `subject: true` names the person a row is about;
 * each row stores HMAC-SHA256 of that id under this key (predictions.
 * subject), so that erasure (DELETE /api/v1/subjects/{id}) finds every row
 * of a subject by the same hash, and an audit entry or event can name the
 * subject without naming the person. The key comes from --subject-key-file
 * (read through util/keyfile: a file only its owner may read), or, without
 * one, from `subject.key` in the data directory, made there (32 random
 * bytes in hex, mode 0600) at the first start. The key never leaves the
 * process, is never logged, and is wiped when freed.
 *
 * Threads: md_subject_hash from any thread once the key is loaded; load
 * and free at start and stop.
 */
#ifndef MD_WATCH_SUBJECT_H
#define MD_WATCH_SUBJECT_H

#include "util/common.h"
#include "util/err.h"

#define MD_SUBJECT_KEY_MIN  16   /* bytes of a subject key at least */
#define MD_SUBJECT_KEY_MAX  1024 /* and at most */
#define MD_SUBJECT_KEY_FILE "subject.key"

struct md_subject_key;

/*
 * Loads the subject key: from path when not NULL (a key file of 16 to 1024
 * bytes, trailing newlines dropped; MD_EINVAL or MD_ENOTFOUND naming the
 * file and the fix when it is refused), else from dir/subject.key, created
 * first when absent (*created set true then; MD_EIO naming the path when it
 * cannot be made). The new key into *out, to be freed with
 * md_subject_key_free.
 */
int md_subject_key_load(const char *path, const char *dir, struct md_subject_key **out,
                        bool *created, struct md_err *err) MD_MUST_CHECK;

/* Wipes and frees the key. NULL ok. */
void md_subject_key_free(struct md_subject_key *k);

/*
 * The subject hash of id (n bytes): HMAC-SHA256 under key k, as 64
 * lower-case hex digits and a NUL into out. Thread-safe.
 */
void md_subject_hash(const struct md_subject_key *k, const char *id, size_t n, char out[65]);

#endif
