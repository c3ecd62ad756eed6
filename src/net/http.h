/* SPDX-License-Identifier: MIT */
/*
 * http.h: the HTTP server, on libmicrohttpd. It reads each request body into
 * per-connection memory (reused across keep-alive requests), or, for a route
 * whose body streams (an upload: the route table's sink), hands the body to
 * the route's sink as it arrives; gives every request an id, runs the router
 * on the connection's thread, and answers from a per-connection buffer
 * without copying.
 */
#ifndef MD_NET_HTTP_H
#define MD_NET_HTTP_H

#include "util/common.h"
#include "util/err.h"
#include "api/api.h"
#include "watch/accesslog.h"

/* Default limit on the request line plus headers. */
#define MD_HTTP_MAX_HEADER 8192
/*
 * Default per-connection memory: 12 KB reads, between the single-row case's
 * best (16 KiB) and the large request's (32 KiB and up): docs/performance.md.
 */
#define MD_HTTP_CONN_BUFFER 24576
/* The most per-connection memory a caller may ask for. */
#define MD_HTTP_CONN_BUFFER_MAX 1048576

struct md_http_config {
    const char *listen;               /* "HOST:PORT", "[V6]:PORT" or ":PORT" */
    unsigned threads;                 /* worker threads; 0 = one per core */
    size_t max_body_bytes;            /* larger bodies get 413 */
    uint64_t max_upload_bytes;        /* the same for a route whose body streams (uploads) */
    unsigned max_connections;         /* concurrent connections */
    unsigned idle_timeout_s;          /* idle keep-alive connections are closed after this */
    size_t max_header_bytes;          /* request line + headers larger than this get 431 or 414 */
    size_t conn_buffer_bytes;         /* per-connection memory for the request line, headers and
                                         reading the body (half of it per read); 0 = the default,
                                         at most MD_HTTP_CONN_BUFFER_MAX, raised to twice
                                         max_header_bytes and to at least 4096 */
    struct md_access_log *access_log; /* NULL, or a line per answered request (borrowed:
                                         open until md_http_stop returns) */
    bool insecure;                    /* without authentication (api->auth.enabled), serve
                                         on a non-loopback address anyway (api/auth.h) */
    /* TLS (net/tls.h): non-NULL cert and key make the listener speak TLS only.
     * client_ca, when not NULL, requires every client to present a certificate
     * it issued (mutual TLS). */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_client_ca;
    bool bound;    /* listen_fd is a socket md_http_bind made for
                      listen: serve on it (taken over) */
    int listen_fd; /* with bound only */
};

struct md_http;

/*
 * Binds and starts serving. MD_EINVAL for a bad address, or a non-loopback
 * one with authentication off (api->auth.enabled, set before) and without
 * cfg->insecure; MD_EIO if it cannot bind;
 * with TLS, md_tls_new's codes for files it cannot use (net/tls.h).
 */
int md_http_start(const struct md_http_config *cfg, struct md_api *api, struct md_http **out,
                  struct md_err *err) MD_MUST_CHECK;

/*
 * Binds a listening socket for addr ("HOST:PORT" as above) before the
 * server starts, so that a process started as root can bind a port below
 * 1024 and drop root before it opens anything else (main.c, --user). *fd
 * is the socket (close-on-exec), for md_http_config.listen_fd. MD_EINVAL
 * for a bad address, MD_EIO if it cannot bind.
 */
int md_http_bind(const char *addr, int *fd, struct md_err *err) MD_MUST_CHECK;

/* The port actually bound (useful with port 0). */
unsigned md_http_port(const struct md_http *h);

/* Whether it listens on a loopback address (127.0.0.0/8, ::1). */
bool md_http_loopback(const struct md_http *h);

/* Whether the listener speaks TLS. */
bool md_http_tls(const struct md_http *h);

/*
 * Reads the TLS certificate, key and client CA files again (SIGHUP): new
 * handshakes use them, open connections go on as they are. On failure the
 * files in use stay and err says why. MD_OK without TLS.
 */
int md_http_reload_tls(struct md_http *h, struct md_err *err) MD_MUST_CHECK;

/* Stops accepting, waits up to drain_ms for running requests, then stops. NULL ok. */
void md_http_stop(struct md_http *h, unsigned drain_ms);

#endif
