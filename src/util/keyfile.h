/* SPDX-License-Identifier: MIT */
/*
 * keyfile.h: reading a secret from a file the operator keeps outside the
 * store (the audit log's MAC key, the data keys, a TLS private key). A key
 * file must be a regular file that no other user may read or write: its
 * mode may grant the owner read and write and the group read (a mounted
 * Kubernetes Secret is group-readable by the pod's fsGroup), nothing more,
 * the group it grants read to must be one of the process's own (its group
 * or a supplementary one), and it must belong to the process's user or to
 * root. Anything else is
 * refused with a message naming the file, its mode and the fix.
 */
#ifndef MD_UTIL_KEYFILE_H
#define MD_UTIL_KEYFILE_H

#include "util/common.h"
#include "util/err.h"

/*
 * MD_OK when the file at path may hold a secret (above), else MD_EINVAL
 * (MD_ENOTFOUND when it does not exist) with the reason. Follows symbolic
 * links, as Kubernetes mounts Secrets through them.
 */
int md_keyfile_check(const char *path, struct md_err *err) MD_MUST_CHECK;

/*
 * Reads the key file at path after md_keyfile_check: at most max bytes,
 * into a new buffer (*out, NUL-terminated, *len bytes; trailing newlines
 * and spaces dropped). The caller wipes and frees it with md_keyfile_free.
 */
int md_keyfile_read(const char *path, size_t max, char **out, size_t *len,
                    struct md_err *err) MD_MUST_CHECK;

/* Wipes len bytes at key and frees it; NULL does nothing. */
void md_keyfile_free(char *key, size_t len);

/*
 * Creates a key file at path holding text (len bytes), mode 0600, failing
 * if the file exists (O_EXCL); for `modeld keys create` and tests.
 */
int md_keyfile_write(const char *path, const char *text, size_t len,
                     struct md_err *err) MD_MUST_CHECK;

#endif
