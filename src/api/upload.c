/* SPDX-License-Identifier: MIT */
/*
 * upload.c: the intake of an uploaded version (upload.h): the sink the
 * upload route's body streams to, the handler that checks what arrived and
 * hands it to md_upload_accept, and the upload directory.
 *
 * The body is parsed as it arrives (util/multipart.h). The part "artifact"
 * goes to a temporary file, made in the upload directory when the part
 * begins, through a buffer of WBUF_BYTES, which is also what the sha256 is
 * taken over; the other parts go to memory, each up to its limit. The first
 * failure (a malformed body, an unknown or repeated part, a part past its
 * limit, a write that fails) is kept, the file removed at once and the rest
 * of the body dropped; the handler answers it. Registration is not this
 * file's: md_upload_accept (upload_accept.c) gets the staged upload.
 */
#include "api/upload.h"
#include "api/handlers.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/multipart.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#define WBUF_BYTES ((size_t)256 << 10) /* the artifact is hashed and written in blocks of this */

/* The parts an upload may hold. */
enum { P_ARTIFACT = 0, P_METADATA, P_MODEL_YAML, P_PROFILE, N_PARTS, P_NONE = -1 };

static const struct {
    const char *name;
    size_t max; /* bytes kept in memory; 0 for the artifact, which goes to a file */
} parts[N_PARTS] = {
    [P_ARTIFACT] = {"artifact", 0},
    [P_METADATA] = {"metadata", MD_UPLOAD_METADATA_MAX},
    [P_MODEL_YAML] = {"model.yaml", MD_UPLOAD_MODEL_YAML_MAX},
    [P_PROFILE] = {"profile", MD_UPLOAD_PROFILE_MAX},
};

/* One upload's state, from the request's head to its end (the sink's state). */
struct intake {
    struct md_upload u;          /* what is staged, for md_upload_accept */
    const char *dir;             /* the upload directory (the api's) */
    int fd;                      /* the artifact's file while its part arrives, else -1 */
    EVP_MD_CTX *sha;             /* the artifact's sha256 while its part arrives, else NULL */
    struct md_buf text[N_PARTS]; /* the parts kept in memory (text[P_ARTIFACT] unused) */
    int cur;                     /* the part arriving (P_*), P_NONE between parts */
    bool seen[N_PARTS];          /* the parts that began */
    bool own;                    /* err was set here, not by the parser: no prefix */
    bool staged;                 /* md_upload_stage passed: u is complete */
    struct md_err err;           /* MD_OK, or the first failure: the rest is dropped */
    size_t wlen;                 /* bytes waiting in wbuf */
    struct md_multipart mp;      /* the body's parser */
    char wbuf[WBUF_BYTES];
};

/* ---- the staged upload -------------------------------------------------- */

void md_upload_discard(struct md_upload *u)
{
    if (u->path == NULL)
        return;
    if (unlink(u->path) != 0 && errno != ENOENT)
        md_log_kv(MD_LOG_WARN, "cannot remove an upload's temporary file", "path", u->path,
                  "reason", strerror(errno), MD_KV_END);
    free(u->path);
    u->path = NULL;
}

char *md_upload_detach_path(struct md_upload *u)
{
    char *p = u->path;

    u->path = NULL;
    return p;
}

/* ---- the parts, as the parser hands them over --------------------------- */

/*
 * s for a message: at most 64 bytes, anything but printable ASCII as '?',
 * so that the answer's JSON holds only what the client can read.
 */
static const char *shown(const char *s, char *out, size_t n)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < n && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = '?';
        if (c >= 0x20 && c < 0x7f)
            out[i] = s[i];
    }
    out[i] = '\0';
    return out;
}

/* Sets the intake's own error (no "multipart body: " prefix) into err, the parser's. */
static int refuse(struct intake *in, struct md_err *err, int code, const char *fmt, ...)
    MD_PRINTF(4, 5);

static int refuse(struct intake *in, struct md_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    in->own = true;
    err->code = code;
    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    return code;
}

/* The artifact's file name as sent, without its directories, if it is a plain one. */
static int take_filename(struct intake *in, const char *sent, struct md_err *err)
{
    const char *base = sent;
    char show[72];
    const char *p;
    size_t n;

    if (sent == NULL)
        return refuse(in, err, MD_EINVAL,
                      "artifact: the part has no filename; send the model file as a file "
                      "(its extension tells the engine)");
    for (p = sent; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    n = strlen(base);
    if (n == 0)
        return refuse(in, err, MD_EINVAL, "artifact: filename '%s' names no file",
                      shown(sent, show, sizeof(show)));
    if (base[0] == '.')
        return refuse(in, err, MD_EINVAL, "artifact: filename '%s' starts with '.'",
                      shown(base, show, sizeof(show)));
    if (n > MD_UPLOAD_FILENAME_MAX)
        return refuse(in, err, MD_EINVAL, "artifact: filename longer than %d bytes",
                      MD_UPLOAD_FILENAME_MAX);
    for (p = base; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return refuse(in, err, MD_EINVAL, "artifact: filename '%s' holds a control character",
                          shown(base, show, sizeof(show)));
    in->u.filename = md_xstrndup(base, n);
    return MD_OK;
}

/* The artifact's part begins: its temporary file and its sha256. */
static int open_artifact(struct intake *in, const char *filename, struct md_err *err)
{
    size_t dlen = strlen(in->dir);
    char *path;
    int rc;

    rc = take_filename(in, filename, err);
    if (rc != MD_OK)
        return rc;
    path = md_xmalloc(dlen + sizeof("/" MD_UPLOAD_TMP_PREFIX "XXXXXX"));
    memcpy(path, in->dir, dlen);
    memcpy(path + dlen, "/" MD_UPLOAD_TMP_PREFIX "XXXXXX",
           sizeof("/" MD_UPLOAD_TMP_PREFIX "XXXXXX"));
    in->fd = mkostemp(path, O_CLOEXEC);
    if (in->fd < 0) {
        rc = refuse(in, err, MD_EIO, "artifact: cannot create a temporary file in '%s': %s",
                    in->dir, strerror(errno));
        free(path);
        return rc;
    }
    in->u.path = path;
    in->sha = EVP_MD_CTX_new();
    if (in->sha == NULL || EVP_DigestInit_ex(in->sha, EVP_sha256(), NULL) != 1)
        return refuse(in, err, MD_EINTERNAL, "artifact: cannot start its sha256");
    return MD_OK;
}

/* The artifact's buffered bytes: into its sha256 and its file. */
static int flush(struct intake *in, struct md_err *err)
{
    size_t off = 0;

    if (in->wlen == 0)
        return MD_OK;
    if (EVP_DigestUpdate(in->sha, in->wbuf, in->wlen) != 1)
        return refuse(in, err, MD_EINTERNAL, "artifact: its sha256 failed");
    while (off < in->wlen) {
        ssize_t w = write(in->fd, in->wbuf + off, in->wlen - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return refuse(in, err, MD_EIO, "artifact: cannot write its temporary file: %s",
                          w < 0 ? strerror(errno) : "no progress");
        off += (size_t)w;
    }
    in->wlen = 0;
    return MD_OK;
}

static int on_begin(void *ctx, const struct md_multipart_part *part, struct md_err *err)
{
    struct intake *in = ctx;
    char show[72];
    int i;

    for (i = 0; i < N_PARTS; i++)
        if (strcmp(part->name, parts[i].name) == 0)
            break;
    if (i == N_PARTS)
        return refuse(in, err, MD_EINVAL,
                      "unknown part '%s': an upload holds artifact, metadata, model.yaml and "
                      "profile",
                      shown(part->name, show, sizeof(show)));
    if (in->seen[i])
        return refuse(in, err, MD_EINVAL, "%s: the part is sent twice", parts[i].name);
    in->seen[i] = true;
    in->cur = i;
    return i == P_ARTIFACT ? open_artifact(in, part->filename, err) : MD_OK;
}

static int on_data(void *ctx, const char *p, size_t n, struct md_err *err)
{
    struct intake *in = ctx;

    if (in->cur != P_ARTIFACT) {
        if (md_buf_append(&in->text[in->cur], p, n) == MD_OK)
            return MD_OK;
        if (md_buf_error(&in->text[in->cur]) == MD_ETOOBIG)
            return refuse(in, err, MD_ETOOBIG, "%s: larger than the limit of %zu bytes",
                          parts[in->cur].name, parts[in->cur].max);
        return refuse(in, err, MD_ENOMEM, "%s: out of memory", parts[in->cur].name);
    }
    in->u.size += n;
    while (n > 0) {
        size_t k = WBUF_BYTES - in->wlen < n ? WBUF_BYTES - in->wlen : n;
        int rc;

        memcpy(in->wbuf + in->wlen, p, k);
        in->wlen += k;
        p += k;
        n -= k;
        if (in->wlen < WBUF_BYTES)
            continue;
        rc = flush(in, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* The artifact's part has ended: the rest written, the file closed, the sha256 as hex. */
static int close_artifact(struct intake *in, struct md_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t i;
    int rc = flush(in, err);

    if (rc != MD_OK)
        return rc;
    if (EVP_DigestFinal_ex(in->sha, md, &mdlen) != 1 || mdlen != 32)
        return refuse(in, err, MD_EINTERNAL, "artifact: its sha256 failed");
    for (i = 0; i < mdlen; i++) {
        in->u.sha256[2 * i] = hex[md[i] >> 4];
        in->u.sha256[2 * i + 1] = hex[md[i] & 15];
    }
    in->u.sha256[64] = '\0';
    EVP_MD_CTX_free(in->sha);
    in->sha = NULL;
    rc = close(in->fd);
    in->fd = -1;
    if (rc != 0)
        return refuse(in, err, MD_EIO, "artifact: cannot write its temporary file: %s",
                      strerror(errno));
    return MD_OK;
}

static int on_end(void *ctx, struct md_err *err)
{
    struct intake *in = ctx;
    int cur = in->cur;

    in->cur = P_NONE;
    return cur == P_ARTIFACT ? close_artifact(in, err) : MD_OK;
}

static const struct md_multipart_handler handler = {on_begin, on_data, on_end};

/* ---- the sink ----------------------------------------------------------- */

/* The intake has failed (in->err): the file goes now; the rest of the body is dropped. */
static void failed(struct intake *in)
{
    if (!in->own)
        md_err_prefix(&in->err, "multipart body: ");
    if (in->fd >= 0) {
        (void)close(in->fd); /* the file is removed next: nothing to lose */
        in->fd = -1;
    }
    md_upload_discard(&in->u);
}

static void sink_close(void *state)
{
    struct intake *in = state;
    int i;

    if (in->fd >= 0)
        (void)close(in->fd); /* removed next */
    md_upload_discard(&in->u);
    EVP_MD_CTX_free(in->sha);
    for (i = 0; i < N_PARTS; i++)
        md_buf_release(&in->text[i]);
    free(in->u.filename);
    free(in->u.metadata);
    free(in->u.model_yaml);
    free(in->u.profile);
    free(in);
}

static int sink_open(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                     void **state, struct md_err *err)
{
    char boundary[MD_MULTIPART_BOUNDARY_MAX + 1];
    const char *ct = req->header != NULL ? req->header(req->conn, "Content-Type") : NULL;
    struct intake *in;
    int rc;
    int i;

    MD_UNUSED(rt);
    *state = NULL;
    if (api->upload_dir == NULL)
        return md_err_set(err, MD_EINTERNAL, "uploads are not available: no upload directory");
    rc = md_multipart_boundary(ct, boundary, err);
    if (rc != MD_OK)
        return rc;
    in = md_malloc(sizeof(*in));
    if (in == NULL)
        return md_err_set(err, MD_ENOMEM, "upload: out of memory");
    memset(&in->u, 0, sizeof(in->u));
    in->dir = api->upload_dir;
    in->fd = -1;
    in->sha = NULL;
    for (i = 0; i < N_PARTS; i++) {
        md_buf_init(&in->text[i], parts[i].max);
        in->seen[i] = false;
    }
    in->cur = P_NONE;
    in->own = false;
    in->staged = false;
    md_err_clear(&in->err);
    in->wlen = 0;
    rc = md_multipart_init(&in->mp, boundary, MD_UPLOAD_HEAD_MAX, MD_UPLOAD_PARTS_MAX, &handler, in,
                           err);
    if (rc != MD_OK) {
        sink_close(in);
        return rc;
    }
    *state = in;
    return MD_OK;
}

static void sink_write(void *state, const char *p, size_t n)
{
    struct intake *in = state;

    if (in->err.code != MD_OK)
        return;
    if (md_multipart_feed(&in->mp, p, n, &in->err) != MD_OK)
        failed(in);
}

const struct md_api_sink md_upload_sink = {sink_open, sink_write, sink_close};

/* ---- the handler -------------------------------------------------------- */

/* A kept part that must be a JSON object: name's text at b, b->len bytes. */
static int check_object(struct intake *in, const char *name, const struct md_buf *b)
{
    json_error_t jerr;
    json_t *doc = json_loadb(b->data != NULL ? b->data : "", b->len,
                             JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    static const char *const types[] = {"an object", "an array", "a string", "a number",
                                        "a number",  "true",     "false",    "null"};
    int rc = MD_OK;

    if (doc == NULL)
        return refuse(in, &in->err, MD_EINVAL, "%s: invalid JSON at line %d, column %d: %s", name,
                      jerr.line, jerr.column, jerr.text);
    if (!json_is_object(doc))
        rc = refuse(in, &in->err, MD_EINVAL, "%s: expected a JSON object, got %s", name,
                    types[json_typeof(doc)]);
    json_decref(doc);
    return rc;
}

/* The body is in: the intake's last checks, then u is complete. */
static int finish(struct intake *in)
{
    struct md_upload *u = &in->u;
    int rc = MD_OK;

    if (in->err.code == MD_OK && md_multipart_finish(&in->mp, &in->err) != MD_OK)
        failed(in);
    if (in->err.code != MD_OK)
        return in->err.code;
    if (!in->seen[P_ARTIFACT])
        rc = refuse(in, &in->err, MD_EINVAL, "artifact: missing");
    if (rc == MD_OK && in->seen[P_METADATA])
        rc = check_object(in, "metadata", &in->text[P_METADATA]);
    if (rc == MD_OK && in->seen[P_PROFILE])
        rc = check_object(in, "profile", &in->text[P_PROFILE]);
    if (rc != MD_OK) {
        failed(in);
        return rc;
    }
    if (in->seen[P_METADATA] && in->text[P_METADATA].len > 0) {
        u->metadata = md_buf_detach(&in->text[P_METADATA], &u->metadata_len);
    } else {
        u->metadata = md_xstrdup("{}");
        u->metadata_len = 2;
    }
    if (in->seen[P_MODEL_YAML]) {
        u->model_yaml = md_buf_detach(&in->text[P_MODEL_YAML], &u->model_yaml_len);
        if (u->model_yaml == NULL)
            u->model_yaml = md_xstrdup(""); /* sent empty: present all the same */
    }
    if (in->seen[P_PROFILE])
        u->profile = md_buf_detach(&in->text[P_PROFILE], &u->profile_len);
    in->staged = true;
    return MD_OK;
}

int md_upload_stage(void *state, struct md_upload **out, struct md_err *err)
{
    struct intake *in = state;

    int rc = in->staged ? MD_OK : finish(in);

    *out = NULL;
    if (rc != MD_OK) {
        if (err != NULL)
            *err = in->err;
        return rc;
    }
    *out = &in->u;
    return MD_OK;
}

void md_upload_api_post(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_upload *u;
    struct md_err err;
    char bytes[24];

    if (req->sink == NULL) {
        md_api_errorf(resp, MD_EINTERNAL, "upload: the body did not stream to the intake");
        return;
    }
    if (resp->resume == NULL) {
        /* The first call: a call after a park finds the upload staged already. */
        if (md_upload_stage(req->sink, &u, &err) != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        (void)snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)u->size);
        md_log_kv(MD_LOG_INFO, "upload received", "model", rt->model, "filename", u->filename,
                  "bytes", bytes, "sha256", u->sha256, "request_id", req->request_id, MD_KV_END);
    } else {
        u = &((struct intake *)req->sink)->u;
    }
    md_upload_accept(api, rt->model, u, req, resp);
}

/* ---- the upload directory ----------------------------------------------- */

/* mkdir -p dir (0700): each missing directory on the way. */
static int make_dirs(const char *dir, struct md_err *err)
{
    char *p = md_xstrdup(dir);
    size_t i;
    int rc = MD_OK;

    for (i = 1; p[i] != '\0' && rc == MD_OK; i++) {
        if (p[i] != '/' || p[i - 1] == '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = md_err_set(err, MD_EIO, "upload directory '%s': cannot create '%s': %s", dir, p,
                            strerror(errno));
        p[i] = '/';
    }
    if (rc == MD_OK && mkdir(p, 0700) != 0 && errno != EEXIST)
        rc = md_err_set(err, MD_EIO, "upload directory '%s': cannot create it: %s", dir,
                        strerror(errno));
    free(p);
    return rc;
}

int md_upload_dir_prepare(const char *dir, struct md_err *err)
{
    const struct dirent *de;
    DIR *d;
    long removed = 0;
    int rc = make_dirs(dir, err);

    if (rc != MD_OK)
        return rc;
    d = opendir(dir);
    if (d == NULL)
        return md_err_set(err, MD_EIO, "upload directory '%s': %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, MD_UPLOAD_TMP_PREFIX, strlen(MD_UPLOAD_TMP_PREFIX)) != 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
        else
            md_log_kv(MD_LOG_WARN, "cannot remove an upload's temporary file", "dir", dir, "file",
                      de->d_name, "reason", strerror(errno), MD_KV_END);
    }
    closedir(d);
    if (removed > 0) {
        char n[24];

        (void)snprintf(n, sizeof(n), "%ld", removed);
        md_log_kv(MD_LOG_INFO, "removed the temporary files of uploads cut short", "dir", dir,
                  "files", n, MD_KV_END);
    }
    return MD_OK;
}
