/* SPDX-License-Identifier: MIT */
/*
 * upload.h: the intake of an uploaded version (POST
 * /api/v1/models/{model}/versions). The request's multipart/form-data body
 * streams through md_upload_sink (net/ hands it the body as it arrives, up
 * to --max-upload-bytes, instead of buffering it): the part "artifact" goes
 * to a temporary file in the upload directory while its sha256 is taken;
 * "metadata", "model.yaml" and "profile" are kept in memory, each under its
 * limit. The route's handler then checks what arrived and hands a staged
 * struct md_upload to md_upload_accept, which registers it
 * (api/upload_accept.c). Anything refused leaves no file behind, and
 * neither does a client that leaves mid-upload.
 */
#ifndef MD_API_UPLOAD_H
#define MD_API_UPLOAD_H

#include "api/api.h"

#define MD_UPLOAD_METADATA_MAX   ((size_t)1 << 20)  /* bytes of the part "metadata" */
#define MD_UPLOAD_MODEL_YAML_MAX ((size_t)1 << 20)  /* bytes of the part "model.yaml" */
#define MD_UPLOAD_PROFILE_MAX    ((size_t)16 << 20) /* bytes of the part "profile" */
#define MD_UPLOAD_HEAD_MAX       8192               /* bytes of one part's header block */
#define MD_UPLOAD_PARTS_MAX      16                 /* parts in one body */
#define MD_UPLOAD_FILENAME_MAX   255                /* bytes of the artifact's file name */

/* The file name prefix of the upload directory's temporary files. */
#define MD_UPLOAD_TMP_PREFIX "upload-"

/*
 * An upload staged for registration: owned by the intake, valid until the
 * request ends (across a park: md_upload_accept may be called again with
 * the same one). Its temporary file is removed when the request ends,
 * unless md_upload_detach_path took it first.
 */
struct md_upload {
    char *path;          /* the artifact's temporary file, in the upload directory;
                            NULL once removed or taken */
    char sha256[65];     /* lower-case hex of the artifact's bytes */
    uint64_t size;       /* the artifact's bytes */
    char *filename;      /* the artifact's file name as sent, without any directory
                            part; not empty, no leading '.', no control byte; its
                            extension is what tells an engine */
    char *metadata;      /* a JSON object's text as sent; "{}" when the part was absent */
    size_t metadata_len; /* bytes at metadata */
    char *model_yaml;    /* the part "model.yaml" as sent, NUL-terminated, or NULL */
    size_t model_yaml_len;
    char *profile; /* the part "profile": a JSON object's text, or NULL */
    size_t profile_len;
};

/*
 * The sink of the upload route (router.c's table): open checks the
 * Content-Type (multipart/form-data with a boundary) and that uploads have
 * a directory (api->upload_dir), write parses the body as it arrives, close
 * removes whatever the request left behind.
 */
extern const struct md_api_sink md_upload_sink;

/*
 * The body has all arrived into the sink state (req->sink): the intake's
 * last checks (the final boundary, the artifact present, metadata and
 * profile JSON objects), then *out is the staged upload, owned by state.
 * MD_OK, or the intake's first failure (the file then already removed):
 * MD_EINVAL for a malformed body ("multipart body: ..."), a missing,
 * unknown or repeated part, bad JSON; MD_ETOOBIG for a part past its
 * limit; MD_EIO for a temporary file that could not be written. A second
 * call gives the same outcome. The route's handler (md_upload_api_post, in
 * handlers.h) calls it, logs what arrived, and calls md_upload_accept.
 */
int md_upload_stage(void *state, struct md_upload **out, struct md_err *err) MD_MUST_CHECK;

/*
 * Registers u as a new version of model; the one function between the
 * intake and registration, in api/upload_accept.c. Called on the HTTP
 * thread once the intake has passed (u complete, its file written and
 * closed); writes the whole answer into resp (4xx with the reason when it
 * refuses), or parks the request (md_api_park) and is called again with the
 * same u and resp->resume set to answer. It takes the file with
 * md_upload_detach_path, or leaves it to be removed (md_upload_discard
 * removes it at once).
 */
void md_upload_accept(struct md_api *api, const char *model, struct md_upload *u,
                      struct md_api_req *req, struct md_api_resp *resp);

/* Removes u's temporary file now, if it still has one. */
void md_upload_discard(struct md_upload *u);

/*
 * Hands u's temporary file over (its path, which the caller frees, and the
 * file, which the caller renames or removes): u no longer removes it. NULL
 * when u has none.
 */
char *md_upload_detach_path(struct md_upload *u);

/*
 * Makes dir the upload directory: creates it and its parent if missing
 * (0700), and removes the temporary files an earlier run left there (those
 * named MD_UPLOAD_TMP_PREFIX*; a crash leaves them). MD_EIO naming the
 * directory when it cannot.
 */
int md_upload_dir_prepare(const char *dir, struct md_err *err) MD_MUST_CHECK;

#endif
