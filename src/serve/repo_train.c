/* SPDX-License-Identifier: MIT */
/*
 * repo_train.c: what a training run reads of the repository (see repo.h's
 * md_repo_training_source): the texts of model.yaml and the champion's
 * artifact, found where the version lives (the repository's directory for
 * a version found there, the data directory's for one registered).
 */
#include "serve/repo_int.h"
#include "util/sys.h"
#include "util/mem.h"

#include <limits.h>
#include <sys/stat.h>

#define YAML_MAX ((size_t)4 << 20)

int md_repo_training_source(struct md_repo *r, const char *model, int64_t version,
                            const char *artifact, struct md_repo_source *out, struct md_err *err)
{
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    struct stat st;
    struct mentry *e;
    int rc = MD_OK;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&r->scan_lock);
    e = md_repo__find(r, model);
    if (e == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_ENOTFOUND, "unknown model '%s'", model);
    }
    if (e->yaml == NULL) {
        pthread_mutex_unlock(&r->scan_lock);
        return md_err_set(err, MD_EINVAL, "model '%s' has no model.yaml", model);
    }
    out->yaml = md_xmalloc(e->yaml_len + 1);
    memcpy(out->yaml, e->yaml, e->yaml_len);
    out->yaml[e->yaml_len] = '\0';
    out->yaml_len = e->yaml_len;
    dir[0] = '\0';
    if (r->versions_dir != NULL) {
        (void)snprintf(dir, sizeof(dir), "%s/%s/%lld", r->versions_dir, model, (long long)version);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            dir[0] = '\0';
    }
    if (dir[0] == '\0')
        (void)snprintf(dir, sizeof(dir), "%s/%s/%lld", r->dir, model, (long long)version);
    (void)snprintf(path, sizeof(path), "%s/model.yaml", dir);
    if (stat(path, &st) == 0) {
        rc = md_read_file(path, YAML_MAX, &out->version_yaml, &out->version_yaml_len, NULL, err);
    } else {
        out->version_yaml = md_xstrdup(out->yaml);
        out->version_yaml_len = out->yaml_len;
    }
    pthread_mutex_unlock(&r->scan_lock);
    if (rc == MD_OK && (size_t)snprintf(out->artifact, sizeof(out->artifact), "%s/%s", dir,
                                        artifact) >= sizeof(out->artifact))
        rc = md_err_set(err, MD_EINVAL, "model '%s': the artifact's path is too long", model);
    if (rc != MD_OK)
        md_repo_source_release(out);
    return rc;
}

void md_repo_source_release(struct md_repo_source *s)
{
    free(s->yaml);
    free(s->version_yaml);
    memset(s, 0, sizeof(*s));
}
