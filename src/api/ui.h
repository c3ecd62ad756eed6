/* SPDX-License-Identifier: MIT */
/*
 * ui.h: the dashboard's files, built into the binary. scripts/embed.c turns
 * every file of ui/ into a row of md_ui_assets at build time; api/ui.c
 * serves them at /ui/ (GET / sends a browser there) with a strict
 * Content-Security-Policy. Nothing is read from disk or fetched at run time.
 */
#ifndef MD_API_UI_H
#define MD_API_UI_H

#include <stddef.h>

/* One file of ui/. */
struct md_ui_asset {
    const char *name;          /* its base name: "index.html", "app.js" */
    const char *type;          /* its Content-Type */
    const unsigned char *data; /* len bytes (and a NUL after them) */
    size_t len;
    const char *etag; /* a quoted hash of the bytes, for If-None-Match */
};

/* The files, made by the build (build/gen/ui_assets.c). */
extern const struct md_ui_asset md_ui_assets[];
extern const size_t md_ui_n_assets;

/* The asset named name, or NULL. */
const struct md_ui_asset *md_ui_asset_find(const char *name);

/* The Content-Security-Policy every dashboard file is sent with. */
extern const char md_ui_csp[];

#endif
