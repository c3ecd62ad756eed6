/* SPDX-License-Identifier: MIT */
/*
 * predictions.c: the prediction log seen from outside: its figures in
 * /metrics and GET /api/v1/predictions, the listing of stored rows with
 * filters and paging, as JSON or JSON lines. The rows are written by the
 * log's writer (watch/predlog.h, serve/predrec.h); this file only reads.
 */
#include "api/handlers.h"
#include "util/fmt.h"
#include "util/mem.h"

/* ---- /metrics ----------------------------------------------------------------- */

static void family(struct md_buf *b, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
    (void)md_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        v);
}

void md_predictions_prom(struct md_api *api, struct md_buf *b)
{
    struct md_predlog_counts c;

    if (api->predlog == NULL)
        return;
    md_predlog_counts(api->predlog, &c);
    family(b, "modeld_predlog_records_written_total", "counter",
           "Prediction records committed to the store.", (unsigned long long)c.written);
    family(b, "modeld_predlog_records_dropped_total", "counter",
           "Prediction records dropped because the log's ring was full (never waited for).",
           (unsigned long long)c.dropped);
    family(b, "modeld_predlog_records_failed_total", "counter",
           "Prediction records lost because their batch's commit failed.",
           (unsigned long long)c.failed);
    family(b, "modeld_predlog_batches_total", "counter",
           "Batches the log's writer committed (one transaction each).",
           (unsigned long long)c.batches);
    family(b, "modeld_predlog_ring_depth", "gauge",
           "Prediction records waiting for the log's writer now.", (unsigned long long)c.depth);
    family(b, "modeld_predlog_ring_capacity", "gauge",
           "Prediction records the ring holds at most (--log-ring).",
           (unsigned long long)c.capacity);
    family(b, "modeld_predlog_writer_lag_milliseconds", "gauge",
           "The last batch: from its oldest record's arrival in the ring to its commit.",
           (unsigned long long)c.lag_ms);
    family(b, "modeld_predlog_batch_records_max", "gauge",
           "The largest batch committed so far, in records.", (unsigned long long)c.largest);
    family(b, "modeld_predlog_records_expired_total", "counter",
           "Prediction records removed past the horizon (--log-horizon-days).",
           (unsigned long long)c.retained);
    family(b, "modeld_predlog_features_removed_total", "counter",
           "Prediction records whose features were removed by age or count "
           "(--log-features-days, --log-features-rows).",
           (unsigned long long)c.trimmed);
}
