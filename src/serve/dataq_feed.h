/* SPDX-License-Identifier: MIT */
/*
 * dataq_feed.h: feeds data quality (watch/dataq.h) from the completion hook
 * (serve/predict.h): every prediction answered by a version with figures
 * (md_version.dq) is read once, its values as sent checked against the
 * version's contract (missing, out of range), its refusal classified, and
 * its predicted labels and scores counted. The figures are the version's;
 * this file only reads the story.
 */
#ifndef MD_SERVE_DATAQ_FEED_H
#define MD_SERVE_DATAQ_FEED_H

#include "util/common.h"
#include "util/err.h"
#include "serve/predict.h"

/* Attaches the feed as an observer of every prediction (md_predict_attach's errors). */
int md_dataq_feed_attach(struct md_err *err) MD_MUST_CHECK;
/* Detaches it (a request that already loaded the observers may still call it). */
void md_dataq_feed_detach(void);

/* What the feed does with one story: the observer's function, for tests. */
void md_dataq_feed_told(void *ctx, const struct md_predict_story *s);

#endif
