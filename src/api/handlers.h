/* SPDX-License-Identifier: MIT */
/*
 * handlers.h: every endpoint handler, for the route table in net/router.c,
 * which runs each after the request's permission check. Each writes its
 * whole answer (status, body) into resp and never fails otherwise.
 */
#ifndef MD_API_HANDLERS_H
#define MD_API_HANDLERS_H

#include "api/api.h"

/* Open Inference Protocol (api/v2.c) */
void md_v2_server_metadata(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);
void md_v2_live(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);
void md_v2_ready(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);
void md_v2_model_metadata(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp);
void md_v2_model_ready(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp);
void md_v2_model_config(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);
void md_v2_model_stats(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp);
void md_v2_infer(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                 struct md_api_resp *resp);

/* Repository extension (api/repository.c) */
void md_repo_api_index(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);
void md_repo_api_load(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp);
void md_repo_api_unload(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);

/* TensorFlow Serving REST (api/tfs.c) */
void md_tfs_status(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                   struct md_api_resp *resp);
void md_tfs_metadata(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                     struct md_api_resp *resp);
void md_tfs_predict(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp);

/* Prometheus text exposition (api/prom.c) */
void md_prom_metrics(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);

/* The prediction log (api/predictions.c): its /metrics families (appended to b) and its
 * listing */
void md_predictions_prom(struct md_api *api, struct md_buf *b);
void md_predictions_api_list(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);

/* How pairs of a model's versions compare (api/comparison.c) */
void md_comparison_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp);

/* A model's named metrics now and in the past (api/history.c) */
void md_history_api_signals(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp);
void md_history_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);
/* Appends the history's families to /metrics (nothing without a history). */
void md_history_api_prom(struct md_api *api, struct md_buf *b);
/* A version's drift against its reference profile (api/drift.c) */
void md_drift_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp);

/* Data quality per version (api/dataq.c) */
void md_dataq_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp);

/* The names of the named metrics (api/signals.c); their values are a
 * model's: md_history_api_signals */
void md_signals_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp);

/*
 * Query arguments shared by the watch endpoints (api/dataq.c): a window as
 * seconds or with a unit ("300", "30s", "5m", "1h") into *ms, a version
 * number (1 or more); MD_EINVAL naming the argument otherwise.
 */
int md_api_query_window(const char *text, int64_t *ms, struct md_err *err) MD_MUST_CHECK;
int md_api_query_version(const char *text, int64_t *version, struct md_err *err) MD_MUST_CHECK;

/* The daemon's settings and their sources (api/settings.c) */
void md_settings_api_list(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);
void md_settings_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp);
void md_settings_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp);

/* Versions, aliases, traffic policies, events and the store (api/traffic.c) */
#define MD_TRAFFIC_HANDLER(name)                                                                   \
    void name(struct md_api *api, const struct md_route *rt, struct md_api_req *req,               \
              struct md_api_resp *resp)
MD_TRAFFIC_HANDLER(md_traffic_api_model_put);
MD_TRAFFIC_HANDLER(md_traffic_api_versions);
MD_TRAFFIC_HANDLER(md_traffic_api_archive);
MD_TRAFFIC_HANDLER(md_traffic_api_aliases);
MD_TRAFFIC_HANDLER(md_traffic_api_alias_put);
MD_TRAFFIC_HANDLER(md_traffic_api_alias_delete);
MD_TRAFFIC_HANDLER(md_traffic_api_get);
MD_TRAFFIC_HANDLER(md_traffic_api_put);
MD_TRAFFIC_HANDLER(md_traffic_api_events);
MD_TRAFFIC_HANDLER(md_traffic_api_store);

/* Rollouts and strategies (api/rollouts.c) */
MD_TRAFFIC_HANDLER(md_rollouts_api_start);
MD_TRAFFIC_HANDLER(md_rollouts_api_list);
MD_TRAFFIC_HANDLER(md_rollouts_api_get);
MD_TRAFFIC_HANDLER(md_rollouts_api_command);
MD_TRAFFIC_HANDLER(md_strategies_api_get);
MD_TRAFFIC_HANDLER(md_strategies_api_put);
MD_TRAFFIC_HANDLER(md_strategies_api_delete);

/* Training runs (api/trainings.c) */
MD_TRAFFIC_HANDLER(md_trainings_api_start);
MD_TRAFFIC_HANDLER(md_trainings_api_list);
MD_TRAFFIC_HANDLER(md_trainings_api_get);

/* Alert rules and alerts (api/alerts.c) */
MD_TRAFFIC_HANDLER(md_alert_rules_api_get);
MD_TRAFFIC_HANDLER(md_alert_rules_api_put);
MD_TRAFFIC_HANDLER(md_alert_rules_api_delete);
MD_TRAFFIC_HANDLER(md_alerts_api_get);
/* The alerts' and notifications' series of /metrics. */
void md_alerts_api_prom(struct md_api *api, struct md_buf *b);
/* Feedback and quality (api/feedback.c) */
MD_TRAFFIC_HANDLER(md_feedback_api_post);
MD_TRAFFIC_HANDLER(md_feedback_api_quality);
/* Review queues (api/review.c) */
MD_TRAFFIC_HANDLER(md_review_api_next);
MD_TRAFFIC_HANDLER(md_review_api_answer);
MD_TRAFFIC_HANDLER(md_review_api_list);

/* Uploaded versions (api/upload.c): the body streams to md_upload_sink (api/upload.h) */
void md_upload_api_post(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);

/* Training sets and base datasets (api/dataset.c) */
MD_TRAFFIC_HANDLER(md_dataset_api_summary);
MD_TRAFFIC_HANDLER(md_dataset_api_export);
MD_TRAFFIC_HANDLER(md_dataset_api_put);
MD_TRAFFIC_HANDLER(md_dataset_api_list);
MD_TRAFFIC_HANDLER(md_dataset_api_delete);

/* The audit log (api/audit.c) */
void md_audit_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp);
void md_audit_api_verify(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp);
/* Erasure of a subject's data (api/subjects.c) */
void md_subjects_api_erase(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp);
/* Encryption at rest: rotating the data keys (api/keys.c) */
void md_keys_api_rotate(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);
void md_keys_api_progress(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp);
/* Bearer tokens (api/token.c) */
MD_TRAFFIC_HANDLER(md_token_api_create);
MD_TRAFFIC_HANDLER(md_token_api_list);
MD_TRAFFIC_HANDLER(md_token_api_revoke);
/* The security self-assessment (api/security.c) */
MD_TRAFFIC_HANDLER(md_security_api_report);
/* The dashboard's files (api/ui.c) */
MD_TRAFFIC_HANDLER(md_ui_api_root);
MD_TRAFFIC_HANDLER(md_ui_api_asset);

#endif
