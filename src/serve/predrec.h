/* SPDX-License-Identifier: MIT */
/*
 * predrec.h: what the prediction log records of a prediction, and the
 * observer that records it. The log's ring and writer are watch/predlog.h's
 * and know no contract; this side knows the contract: it packs a story
 * (serve/predict.h) into one entry on the request's thread — the request
 * id, the version (a reference), the route, the keys, the inputs as sent,
 * the engine's scores: copies, nothing formatted — and on the writer's
 * thread turns an entry into one store row per prediction row, with its
 * keys, features and outputs as JSON text, each feature's `pii:` policy
 * applied, features kept for the share of requests the model's
 * `logging: {features: F}` asks for.
 *
 * Threads: md_predrec_told from many threads at once (it is the
 * observer's told); the rest at start and stop.
 */
#ifndef MD_SERVE_PREDREC_H
#define MD_SERVE_PREDREC_H

#include "util/common.h"
#include "util/err.h"
#include "serve/predict.h"
#include "watch/predlog.h"

struct md_predrec;

/*
 * A recorder that writes through a new log on store (cfg as
 * md_predlog_new's). key: the HMAC key of `pii: hash` features (klen
 * bytes, copied), or NULL: none (md_predrec_check then refuses a contract
 * that asks for hashes). Errors as md_predlog_new's.
 */
int md_predrec_new(const struct md_predlog_config *cfg, struct md_store *store,
                   const unsigned char *key, size_t klen, struct md_predrec **out,
                   struct md_err *err) MD_MUST_CHECK;

/* Writes what is queued, stops the log, frees everything. No told may run. NULL ok. */
void md_predrec_free(struct md_predrec *r);

struct md_subject_key;

/*
 * The key of the subject hashes (watch/subject.h; borrowed: it must outlive
 * r): each row of a model with a key marked `subject: true` stores the
 * hash of that key's value. Before the first told. NULL r: nothing.
 */
void md_predrec_set_subject_key(struct md_predrec *r, const struct md_subject_key *k);

/* The log (its figures, flush, retention); NULL for a NULL recorder (the log off). */
struct md_predlog *md_predrec_log(struct md_predrec *r);

/* The observer to attach (md_predict_attach) and to give the shadow executor. */
struct md_predict_observer md_predrec_observer(struct md_predrec *r);

/*
 * Records the story s (the observer's told; ctx is the recorder): one record
 * per row of a prediction that ran (or was prepared), one for a request that
 * failed before (row 0, no outputs). Nothing for a story without a version.
 * Never waits, never fails the prediction: a full ring or no memory counts
 * the records as dropped.
 */
void md_predrec_told(void *ctx, const struct md_predict_story *s);

/*
 * Whether contract c can be logged as it asks: MD_EINVAL naming the feature
 * when a `pii: hash` feature has no key to hash with (has_key false) ("the
 * prediction log: features[2].pii: hash needs a key: start modeld with
 * --pii-key-file"), or when the contract samples its features' logging
 * (`logging: features` below 1) though a training set, online learning or
 * review built from the log would lack them (md_predrec_needs_every_row).
 */
int md_predrec_check(const struct md_contract *c, bool has_key, struct md_err *err) MD_MUST_CHECK;

/*
 * Whether the daemon has a PII key: set at start (md_predrec_new sets it
 * when given a key; --check, which makes no recorder, when --pii-key-file
 * reads), read by every version load (md_version_load checks its contract
 * with md_predrec_check).
 */
void md_predrec_set_key_given(bool given);
bool md_predrec_key_given(void);

/*
 * Whether a model learns from its log (retraining, online learning, review):
 * then every row keeps its features, and each contract feature must reach
 * the training set (not dropped by `pii:`): a contract with a `training:`,
 * `online:` or `review:` section.
 */
bool md_predrec_needs_every_row(const struct md_contract *c);

#endif
