/* SPDX-License-Identifier: MIT */
/*
 * drift_feed.h: what joins a version to drift. At load a version reads the
 * reference profile beside its artifact (profile.json), checks it against
 * its contract and, when it fits, gets a live window (watch/drift.h) and the
 * maps from its contract's features, categories and labels to the
 * profile's bins. An observer of answered predictions (serve/predict.h)
 * counts every answered row's values and prediction into the window of the
 * version that answered. This file also answers for drift elsewhere: the
 * report of GET /api/v1/models/{m}/drift, the named metrics (drift_psi:<f>,
 * drift_js:<f>, drift_score, drift_features, prediction_drift_psi) and the
 * gauges of /metrics.
 *
 * A version without a profile, or with one that is malformed or does not fit
 * its contract, serves as usual; its drift report says why it has no
 * reference (md_version.drift_note), and the load logs a bad profile once.
 */
#ifndef MD_SERVE_DRIFT_FEED_H
#define MD_SERVE_DRIFT_FEED_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "serve/contract.h"
#include "watch/drift.h"
#include "watch/signals.h"

struct md_drift_feed;
struct md_repo;

/*
 * Reads dir/profile.json for a version with contract c. MD_OK with *out a
 * new feed; MD_ENOTFOUND when there is no profile.json; another code when
 * it is unusable. Either way without a feed, note says why ("no
 * profile.json beside the artifact", "profile.json: features.age.edges[2]:
 * ..."). c must outlive the feed.
 */
int md_drift_feed_load(const char *dir, const struct md_contract *c, struct md_drift_feed **out,
                       char *note, size_t note_size) MD_MUST_CHECK;
void md_drift_feed_free(struct md_drift_feed *f); /* NULL ok */

/* The feed's window (borrowed: md_drift_window_ref to keep it). */
struct md_drift_window *md_drift_feed_window(const struct md_drift_feed *f);

/* Attaches the observer that counts answered rows (md_predict_attach). */
int md_drift_attach(struct md_err *err) MD_MUST_CHECK;
void md_drift_detach(void);

/*
 * The report of model's version (NULL or "": the champion) over window_ms
 * (0: the version's drift.window_s) as one JSON object into out, with what
 * flags (enum md_drift_json_flags, watch/drift.h) adds. A version
 * without a reference answers with verdict "no_reference" and its reason.
 * MD_ENOTFOUND / MD_EUNAVAIL as md_repo_acquire; MD_ENOMEM.
 */
int md_drift_json(struct md_repo *r, const char *model, const char *version, int64_t window_ms,
                  unsigned flags, struct md_buf *out, struct md_err *err) MD_MUST_CHECK;

/* Registers drift_psi, drift_js, drift_score, drift_features and prediction_drift_psi,
 * answered from r's versions. */
int md_drift_signals_add(struct md_signals *s, struct md_repo *r, struct md_err *err) MD_MUST_CHECK;

/* Appends the drift gauges of every ready version with a reference (Prometheus text). */
int md_drift_prom(struct md_repo *r, struct md_buf *b);

#endif
