/* SPDX-License-Identifier: MIT */
/*
 * feedback.h: the body of POST /api/v1/feedback, read into items that the
 * store can take (store.h's struct md_store_feedback), each with its own
 * error: a malformed item is refused alone, naming its index and field,
 * and the rest of the batch is still taken. api/feedback.c checks each
 * item against its model (a label among its classes) and stores them.
 *
 *   one item      {"model": "fraud", "request_id": "r-1", "row": 0,
 *                  "label": "fraud", "source": "expert", "comment": "..."}
 *   by a key      {"model": "fraud", "key": {"name": "txn", "value": "T-1"},
 *                  "label": "ok"}   (or "key": {"txn": "T-1"})
 *   many          {"model": "fraud", "items": [{...}, {...}]}: the top
 *                 level's model is each item's unless it names its own
 *
 * An item has exactly one outcome: "label" (a string), "value", "reward"
 * or "rating" (finite numbers); "source" is "user" (the default),
 * "system" or "expert".
 */
#ifndef MD_API_FEEDBACK_H
#define MD_API_FEEDBACK_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "store/store.h"

#define MD_FEEDBACK_MAX_ITEMS   10000 /* items of one request at most */
#define MD_FEEDBACK_MAX_ID      256   /* bytes of a request id */
#define MD_FEEDBACK_MAX_LABEL   256   /* bytes of a label */
#define MD_FEEDBACK_MAX_COMMENT 4096  /* bytes of a comment */
#define MD_FEEDBACK_MAX_KEY     4096  /* bytes of a key's value (a contract's longest) */

/* One item as read. */
struct md_feedback_item {
    struct md_store_feedback f;   /* strings in the request's arena */
    const char *positive;         /* set by the handler: the model's labels[1] when binary */
    enum md_feedback_state state; /* set once stored */
    struct md_err err;            /* MD_OK, or why this item is refused (its message names
                                     the field: "items[3].label: ...") */
};

struct md_feedback_batch {
    struct md_feedback_item *items; /* n, in the arena */
    size_t n;
    bool many; /* the body was {"items": [...]} (fields are then named items[i].x) */
};

/*
 * Reads body (len bytes) into out, in arena a. An error of the whole body
 * (not JSON, not an object, "items" not an array, more than
 * MD_FEEDBACK_MAX_ITEMS items: MD_EINVAL or MD_ETOOBIG) is returned; an
 * error of one item is that item's err, and the call returns MD_OK.
 */
int md_feedback_parse(const char *body, size_t len, struct md_arena *a,
                      struct md_feedback_batch *out, struct md_err *err) MD_MUST_CHECK;

struct md_api;
struct md_buf;
/* Appends the quality and feedback families to /metrics (api/feedback_prom.c). */
void md_feedback_prom(struct md_api *api, struct md_buf *b);

#endif
