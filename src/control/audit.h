/* SPDX-License-Identifier: MIT */
/*
 * audit.h: the audit log at start and offline: the key read from its file
 * (--audit-key-file) and given to the store, or the plain warning that the
 * log is off; and `modeld audit verify`, which checks a store's chain
 * without a running daemon. What is recorded is api/audit.h's (requests)
 * and control's (its decisions, through md_store_tx_audit_add).
 */
#ifndef MD_CONTROL_AUDIT_H
#define MD_CONTROL_AUDIT_H

#include "store/store.h"

/*
 * Turns the store's audit chain on with the key in the file at key_file
 * (util/keyfile.h's checks), *on set; or, key_file NULL, logs a warning that
 * the audit log is off and leaves *on false. MD_OK, or the error (the file
 * refused or unreadable, a key of a wrong length) with its message in err.
 */
int md_audit_start(struct md_store *store, const char *key_file, bool *on,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * Records a retention step done outside a store job of the main connection
 * (the prediction log's writer has a connection of its own): an entry
 * "control:retention" action (e.g. "retention.predictions") with
 * {"removed": n, "trimmed": m} appended by a job of its own, not waited
 * for (a failure is logged). Does nothing when both are 0 or store is NULL.
 */
void md_audit_retention(struct md_store *store, const char *action, uint64_t removed,
                        uint64_t trimmed);

/*
 * `modeld audit verify --data DIR --audit-key-file FILE` (argv after
 * "audit"): checks the chain of the store in DIR; prints "audit chain
 * intact: N entries (key K)" and exits 0, or "audit chain broken at entry
 * N: reason" and exits 1; 2 for a usage error or a store it cannot read.
 */
int md_audit_main(int argc, char **argv);

#endif
