/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h: the HTTP side of the prediction pipeline (serve/predict.h).
 * A protocol's inference endpoint is one md_api_predictor (decode, bind,
 * encode) and one call of md_api_predict, which runs the rest the same way
 * for every protocol: the version resolved, the inputs validated and
 * prepared, the engine run or the request parked for the batcher and
 * answered after its wake, the statistics kept, the errors answered through
 * the one code-to-status table, and the completion hook told after the
 * answer is queued.
 */
#ifndef MD_API_PIPELINE_H
#define MD_API_PIPELINE_H

#include "api/api.h"
#include "serve/predict.h"

/* Bytes of protocol state an adapter may keep for one request (it survives a park). */
#define MD_API_PREDICT_STATE 128

/* A protocol's adapter. state is MD_API_PREDICT_STATE bytes, aligned for any type. */
struct md_api_predictor {
    const char *route; /* the story's route: "v2 infer", "tfs predict" */
    /*
     * Decodes req's body into p (inputs, timeout_us, bind) and state,
     * without a version: MD_OK, or an error with its message in err, which
     * is answered unless the version cannot be resolved (answered first).
     */
    int (*decode)(void *state, struct md_predict *p, const struct md_api_req *req,
                  struct md_err *err);
    /*
     * Writes the answer of a successful prediction into resp->body (and
     * resp->json_len, resp->content_type); MD_OK, or non-zero when the body
     * could not hold it (answered 500 "response too large").
     */
    int (*encode)(void *state, const struct md_predict *p, const struct md_api_req *req,
                  struct md_api_resp *resp);
};

/*
 * Answers one inference request of model rt->model (version rt->version,
 * label rt->label) through pr. Parks the request (md_api_park) when its
 * rows wait in a batch queue and req->wake is set; the call after the wake
 * answers it.
 */
void md_api_predict(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp, const struct md_api_predictor *pr);

#endif
