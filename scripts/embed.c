/* SPDX-License-Identifier: MIT */
/*
 * embed.c: writes the dashboard's files (ui/) into a C file for the build,
 * so that modeld serves them from its own binary: nothing is read from disk
 * or fetched at run time.
 *
 *   embed OUT.c FILE...
 *
 * Each FILE becomes an entry of md_ui_assets (api/ui.h) named by its base
 * name, with its content type (by extension), its bytes and an ETag (a
 * 64-bit FNV-1a hash of the bytes). An unknown extension is an error, so a
 * stray file in ui/ cannot be served as something it is not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
};

static const char *type_of(const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);

        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return NULL;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (n == cap) {
            unsigned char *nb;

            cap = cap == 0 ? 65536 : cap * 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                (void)fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        (void)fclose(f);
        return NULL;
    }
    (void)fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    FILE *out;
    int i;

    if (argc < 2) {
        (void)fprintf(stderr, "usage: embed OUT.c FILE...\n");
        return 2;
    }
    out = fopen(argv[1], "w");
    if (out == NULL) {
        (void)fprintf(stderr, "embed: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    (void)fprintf(out, "/* Made by scripts/embed.c from ui/: do not edit. */\n"
                       "#include \"api/ui.h\"\n\n");
    for (i = 2; i < argc; i++) {
        const char *base = strrchr(argv[i], '/') != NULL ? strrchr(argv[i], '/') + 1 : argv[i];
        unsigned char *data;
        size_t len = 0;

        if (type_of(base) == NULL) {
            (void)fprintf(stderr, "embed: %s: no content type for this extension\n", argv[i]);
            return 1;
        }
        data = slurp(argv[i], &len);
        if (data == NULL) {
            (void)fprintf(stderr, "embed: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        (void)fprintf(out, "static const unsigned char f%d[%zu] = {", i, len + 1);
        for (size_t k = 0; k < len; k++)
            (void)fprintf(out, "%s%u,", k % 24 == 0 ? "\n" : "", data[k]);
        (void)fprintf(out, "0};\n");
        free(data);
    }
    (void)fprintf(out, "\nconst struct md_ui_asset md_ui_assets[] = {\n");
    for (i = 2; i < argc; i++) {
        const char *base = strrchr(argv[i], '/') != NULL ? strrchr(argv[i], '/') + 1 : argv[i];
        size_t len = 0;
        unsigned char *data = slurp(argv[i], &len);
        uint64_t h = 14695981039346656037u;

        if (data == NULL)
            return 1;
        for (size_t k = 0; k < len; k++) {
            h ^= data[k];
            h *= 1099511628211u;
        }
        free(data);
        (void)fprintf(out, "    {\"%s\", \"%s\", f%d, %zu, \"\\\"%016" PRIx64 "\\\"\"},\n", base,
                      type_of(base), i, len, h);
    }
    (void)fprintf(out, "};\nconst size_t md_ui_n_assets = %d;\n", argc - 2);
    if (fclose(out) != 0) {
        (void)fprintf(stderr, "embed: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}
