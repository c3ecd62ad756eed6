/* SPDX-License-Identifier: MIT */
/*
 * check.c: the report of `modeld --check`. It adds no loading of its own:
 * md_repo_scan loads the repository exactly as at the server's start, and
 * this file lays out what md_repo_foreach and md_repo_foreach_skipped then
 * say, deciding the exit status from each row's fault flag.
 */
#include "control/check.h"
#include "serve/repo.h"
#include "util/buf.h"
#include "util/mem.h"

enum row_kind { ROW_MODEL = 0, ROW_VERSION = 1, ROW_SKIP = 2 };

struct row {
    char *model;       /* or the name of an entry skipped at the top level */
    char *version;     /* the number, the name of an entry skipped in a model, or "" */
    const char *state; /* "READY", "FAILED", "UNAVAILABLE", "IGNORED", ... */
    char *reason;
    enum row_kind kind;
    int64_t number; /* ROW_VERSION */
};

struct report {
    struct row *rows;
    size_t n;
    size_t ready;   /* versions READY */
    size_t failed;  /* model-level faults and failed versions */
    size_t unused;  /* versions the policy does not select */
    size_t skipped; /* entries passed over */
    size_t models;  /* models seen (with a model-level row or a version row) */
};

static struct row *add_row(struct report *rep)
{
    struct row *r;

    rep->rows = md_xrealloc(rep->rows, (rep->n + 1) * sizeof(*rep->rows));
    r = &rep->rows[rep->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

static void on_row(void *ctx, const struct md_repo_row *in)
{
    struct report *rep = ctx;
    struct row *r = add_row(rep);

    r->model = md_xstrdup(in->model);
    r->reason = md_xstrdup(in->reason);
    r->number = in->version;
    if (in->version > 0) {
        char num[24];

        r->kind = ROW_VERSION;
        (void)snprintf(num, sizeof(num), "%lld", (long long)in->version); /* fits */
        r->version = md_xstrdup(num);
    } else {
        r->kind = ROW_MODEL;
        r->version = md_xstrdup("");
    }
    if (in->fault) {
        r->state = "FAILED";
        rep->failed++;
    } else {
        r->state = md_version_state_name(in->state);
        if (in->state == MD_VS_READY)
            rep->ready++;
        else
            rep->unused++;
    }
}

static void on_skip(void *ctx, const struct md_repo_skip *in)
{
    struct report *rep = ctx;
    struct row *r = add_row(rep);

    r->kind = ROW_SKIP;
    r->state = "IGNORED";
    r->reason = md_xstrdup(in->reason);
    if (in->model != NULL) {
        r->model = md_xstrdup(in->model);
        r->version = md_xstrdup(in->name);
    } else {
        r->model = md_xstrdup(in->name);
        r->version = md_xstrdup("");
    }
    rep->skipped++;
}

/* Models by name; in a model, its own row, then versions ascending, then skipped entries. */
static int cmp_row(const void *pa, const void *pb)
{
    const struct row *a = pa;
    const struct row *b = pb;
    int c = strcmp(a->model, b->model);

    if (c != 0)
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == ROW_VERSION)
        return a->number < b->number ? -1 : a->number > b->number ? 1 : 0;
    if (a->kind == ROW_SKIP)
        return strcmp(a->version, b->version);
    return 0;
}

/* One table line: cells padded to their column's width, trailing blanks dropped. */
static void print_line(FILE *out, const char *const cells[4], const size_t width[4],
                       struct md_buf *line)
{
    size_t c;
    size_t n;
    int rc = MD_OK;

    md_buf_reset(line);
    for (c = 0; c < 4 && rc == MD_OK; c++)
        rc = md_buf_printf(line, "%-*s  ", (int)width[c], cells[c]);
    n = line->len;
    while (n > 0 && line->data[n - 1] == ' ')
        n--;
    fprintf(out, "%.*s\n", (int)n, line->data != NULL ? line->data : "");
}

/* The table's four cells of row r. */
static void row_cells(const struct row *r, const char *cells[4])
{
    cells[0] = r->model;
    cells[1] = r->version;
    cells[2] = r->state;
    cells[3] = r->reason;
}

static void print_report(FILE *out, const struct report *rep)
{
    static const char *const head[4] = {"MODEL", "VERSION", "STATE", "REASON"};
    const char *cells[4];
    size_t width[4];
    struct md_buf line;
    size_t i;
    size_t c;

    for (c = 0; c < 4; c++)
        width[c] = strlen(head[c]);
    for (i = 0; i < rep->n; i++) {
        row_cells(&rep->rows[i], cells);
        for (c = 0; c < 4; c++)
            if (strlen(cells[c]) > width[c])
                width[c] = strlen(cells[c]);
    }
    md_buf_init(&line, (size_t)1 << 20);
    print_line(out, head, width, &line);
    for (i = 0; i < rep->n; i++) {
        row_cells(&rep->rows[i], cells);
        print_line(out, cells, width, &line);
    }
    md_buf_release(&line);
    fprintf(out,
            "\n%s: %zu model%s, %zu version%s ready, %zu not selected by a version policy, "
            "%zu failed, %zu entr%s ignored\n",
            rep->failed > 0 || rep->models == 0 ? "check failed" : "check passed", rep->models,
            rep->models == 1 ? "" : "s", rep->ready, rep->ready == 1 ? "" : "s", rep->unused,
            rep->failed, rep->skipped, rep->skipped == 1 ? "y" : "ies");
}

static void report_release(struct report *rep)
{
    size_t i;

    for (i = 0; i < rep->n; i++) {
        free(rep->rows[i].model);
        free(rep->rows[i].reason);
        free(rep->rows[i].version);
    }
    free(rep->rows);
}

int md_check_repo(const char *dir, FILE *out, FILE *errout)
{
    struct md_repo *repo = NULL;
    struct report rep;
    struct md_err err;
    size_t i;

    if (md_repo_open(dir, &repo, &err) != MD_OK) {
        fprintf(errout, "modeld: --check: cannot open the model repository: %s\n", err.msg);
        return 1;
    }
    (void)md_repo_scan(repo); /* the rows say what failed, each with its reason */
    memset(&rep, 0, sizeof(rep));
    md_repo_foreach(repo, on_row, &rep);
    md_repo_foreach_skipped(repo, on_skip, &rep);
    md_repo_free(repo);
    for (i = 0; i < rep.n; i++)
        if (rep.rows[i].kind != ROW_SKIP && (i == 0 || rep.rows[i - 1].kind == ROW_SKIP ||
                                             strcmp(rep.rows[i - 1].model, rep.rows[i].model) != 0))
            rep.models++;
    if (rep.n > 1)
        qsort(rep.rows, rep.n, sizeof(*rep.rows), cmp_row);
    print_report(out, &rep);
    if (rep.models == 0)
        fprintf(errout, "modeld: --check: repository '%s' holds no model directory\n", dir);
    report_release(&rep);
    return rep.failed > 0 || rep.models == 0 ? 1 : 0;
}
