/* SPDX-License-Identifier: MIT */
/*
 * scrub.h: removing erased rows from the training sets the daemon wrote.
 * A training run leaves its set in <data>/trainings/<id>/train.jsonl and
 * holdout.jsonl (learn/dataset.h's JSON lines, each store row ending in
 * "request_id":...,"row":N}); the newest runs' directories are kept. When
 * a subject is erased, every line of those files that is one of the
 * subject's rows goes: the file is overwritten with zeros where it was,
 * synced, then written again without those lines and synced, so the
 * removed lines' bytes do not stay in the file's blocks (on a file system
 * that rewrites blocks in place; see docs/security.md).
 *
 * Threads: any; one scrub at a time per data directory (the store thread
 * runs it, after the erasure commits).
 */
#ifndef MD_LEARN_SCRUB_H
#define MD_LEARN_SCRUB_H

#include "util/common.h"
#include "util/err.h"

#define MD_SCRUB_FILE_MAX ((size_t)1 << 31) /* a training set larger than this is removed whole */

/* One row to remove: its request id and row. */
struct md_scrub_row {
    const char *request_id;
    int64_t row;
};

/* What a scrub did. */
struct md_scrub_counts {
    uint64_t files;   /* training set files read */
    uint64_t changed; /* files rewritten without some rows (or removed, when too large) */
    uint64_t lines;   /* lines removed */
};

/*
 * Removes rows[0..n) from every training set under dir/trainings (dir: the
 * data directory). MD_EIO naming the file when one cannot be rewritten
 * (the scrub goes on with the others; the first error is returned).
 * Counts into *out.
 */
int md_scrub_training_sets(const char *dir, const struct md_scrub_row *rows, size_t n,
                           struct md_scrub_counts *out, struct md_err *err) MD_MUST_CHECK;

#endif
