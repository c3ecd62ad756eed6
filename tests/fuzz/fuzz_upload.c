/* SPDX-License-Identifier: MIT */
/*
 * fuzz_upload.c: libFuzzer target for the intake of an uploaded version
 * (api/upload.h): the whole path an authenticated upload's body takes
 * before registration. The first byte picks how the body is cut into
 * writes (whole, or chunks of 1 to 255 bytes); the rest is the multipart
 * body of Content-Type "multipart/form-data; boundary=t-Bnd", streamed
 * through md_upload_sink as the HTTP layer streams it, then staged. A
 * refusal must say why; a staged upload must hold what upload.h promises
 * (the artifact's file of its size in the upload directory, a sha256 in
 * lower-case hex, a file name with no directory part, no leading '.' and
 * no control byte, metadata and profile JSON objects, each part within its
 * limit). Once the sink is closed, no file is left behind, accepted or not.
 */
#include "api/upload.h"

#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CTYPE "multipart/form-data; boundary=t-Bnd"

static const char *header(void *conn, const char *name)
{
    MD_UNUSED(conn);
    return strcmp(name, "Content-Type") == 0 ? CTYPE : NULL;
}

static char dir[64];
static char up[96];

/* At exit: the directories made below (every upload's file is gone by then). */
static void remove_dirs(void)
{
    (void)rmdir(up);
    (void)rmdir(dir);
}

/* The upload directory, made once per process. */
static const char *upload_dir(void)
{
    if (up[0] == '\0') {
        struct md_err err;

        (void)snprintf(dir, sizeof(dir), "/tmp/fuzz_upload_XXXXXX");
        if (mkdtemp(dir) == NULL)
            __builtin_trap();
        (void)snprintf(up, sizeof(up), "%s/tmp", dir);
        if (md_upload_dir_prepare(up, &err) != MD_OK)
            __builtin_trap();
        (void)atexit(remove_dirs);
    }
    return up;
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    const struct dirent *de;
    size_t n = 0;

    if (d == NULL)
        __builtin_trap();
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    (void)closedir(d);
    return n;
}

static void check_object(const char *text, size_t len, size_t max)
{
    json_t *doc;

    if (len > max)
        __builtin_trap();
    doc = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (doc == NULL || !json_is_object(doc))
        __builtin_trap();
    json_decref(doc);
}

static void check_staged(const char *dir, const struct md_upload *u)
{
    struct stat st;
    size_t n = strlen(dir);

    if (u->path == NULL || strncmp(u->path, dir, n) != 0 || u->path[n] != '/')
        __builtin_trap();
    if (stat(u->path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != u->size)
        __builtin_trap();
    if (strlen(u->sha256) != 64 || strspn(u->sha256, "0123456789abcdef") != 64)
        __builtin_trap();
    if (u->filename == NULL || u->filename[0] == '\0' || u->filename[0] == '.' ||
        strchr(u->filename, '/') != NULL || strlen(u->filename) > MD_UPLOAD_FILENAME_MAX)
        __builtin_trap();
    for (const char *p = u->filename; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            __builtin_trap();
    check_object(u->metadata, u->metadata_len, MD_UPLOAD_METADATA_MAX);
    if (u->model_yaml != NULL &&
        (u->model_yaml_len > MD_UPLOAD_MODEL_YAML_MAX || u->model_yaml[u->model_yaml_len] != '\0'))
        __builtin_trap();
    if (u->profile != NULL)
        check_object(u->profile, u->profile_len, MD_UPLOAD_PROFILE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_api api;
    struct md_api_req req;
    struct md_route rt = {.model = "m"};
    struct md_upload *u = NULL;
    struct md_err err;
    void *st = NULL;
    size_t chunk;
    size_t at = 0;
    int rc;

    if (size < 1)
        return 0;
    chunk = data[0];
    data++;
    size--;
    memset(&api, 0, sizeof(api));
    api.upload_dir = upload_dir();
    memset(&req, 0, sizeof(req));
    req.header = header;
    md_err_clear(&err);
    if (md_upload_sink.open(&api, &rt, &req, &st, &err) != MD_OK)
        __builtin_trap(); /* the Content-Type is good */
    while (at < size) {
        size_t k = chunk == 0 || chunk > size - at ? size - at : chunk;

        md_upload_sink.write(st, (const char *)data + at, k);
        at += k;
    }
    md_err_clear(&err);
    rc = md_upload_stage(st, &u, &err);
    if (rc == MD_OK)
        check_staged(api.upload_dir, u);
    else if (err.msg[0] == '\0' || rc >= 0)
        __builtin_trap();
    md_upload_sink.close(st);
    if (files_in(api.upload_dir) != 0)
        __builtin_trap();
    return 0;
}
