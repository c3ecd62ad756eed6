/* SPDX-License-Identifier: MIT */
/*
 * http.c: libmicrohttpd glue. Threads: MHD's pool, one epoll loop per thread;
 * each request runs on the thread that read it. A request whose handler parks
 * it (md_api_park: its rows wait in a batch queue, or its load for control)
 * is suspended, so the thread serves other connections, and resumed by the
 * wake from the thread that finished the work; the handler then runs again
 * to answer.
 * Per-connection state (arena, body and reply buffers) is created when a
 * connection opens and freed when it closes, so steady keep-alive traffic
 * does not allocate.
 *
 * Every open connection is on one list, under h->lock (taken when a
 * connection opens or closes, never per request), with its phase: waiting
 * for a request (or for the rest of one), or busy with one (handled, parked
 * or being answered). When a new connection finds the slots taken, the
 * connections that have waited longest for a request are shut down from the
 * accepting thread (evict); their own threads see the end of the stream and
 * close them. A busy connection is never touched.
 *
 * Stopping (md_http_stop): the listener is closed (pending connections are
 * taken first), every answer from then on carries Connection: close, and the
 * stop waits until no request is being read or answered and every
 * connection left has waited a moment without sending one.
 */
#include "net/http.h"
#include "net/head.h"
#include "net/router.h"
#include "net/tls.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/accesslog.h"
#include "watch/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ARENA_MAX ((size_t)1 << 31)
#define REPLY_MAX ((size_t)1 << 31)

/*
 * conn.park: the hand-shake between parking and waking, which may come first.
 * A parked request is suspended on the handler's next call, not the one that
 * parked it: MHD leaves a connection's poll state as it was when it is
 * suspended in the call that received the request (still "read"), so on
 * resuming it would read first, and a client that had half-closed its side
 * after sending (read returns 0) would be closed unanswered. One call later
 * the state is "block" (request received, no answer yet), and MHD resumes
 * the connection to call the handler, not to read.
 */
enum {
    PARK_NONE = 0,      /* not parked, or parked and not yet suspended */
    PARK_SUSPENDED = 1, /* the connection is suspended: the wake resumes it */
    PARK_WOKEN = 2      /* woken before the suspension: the next call answers */
};

/*
 * conn.phase: whether a connection may be shut down to make room. Its own
 * thread moves it WAIT -> BODY -> BUSY -> WAIT; evict moves WAIT or BODY
 * to CUT (under h->lock), so each step of the thread out of WAIT or BODY is
 * a compare-and-swap that fails once the connection is cut.
 */
enum {
    PHASE_WAIT = 0, /* no request started: idle keep-alive, or its head still arriving */
    PHASE_BODY = 1, /* a request's head is in, its body arriving */
    PHASE_BUSY = 2, /* a request is handled, parked or answered */
    PHASE_CUT = 3   /* shut down by evict: its thread closes it on the end of stream */
};

#define EVICT_BATCH       32   /* connections shut down at most per shortage (as nginx) */
#define EVICT_MIN_WAIT_MS 1000 /* waiting less than this, a connection is kept */
#define EVICT_PAUSE_MS    10   /* after a search that found none to shut down */
#define OVER_TIMEOUT_S    1    /* idle timeout of a connection opened past the limit */
#define DRAIN_WAIT_MS     200  /* on stop, a connection idle for less may still send */

#define ID_MAX 64 /* characters of a client's X-Request-Id kept (docs/api.md) */

/*
 * The request headers read on every request: taken in the one pass that
 * measures the headers, and answered from there by req->header.
 */
enum { KEPT_REQUEST_ID, KEPT_CONTENT_LENGTH, KEPT_JSON_LEN, N_KEPT };

static const struct {
    const char *name;
    size_t len;
} kept_headers[N_KEPT] = {
    [KEPT_REQUEST_ID] = {"X-Request-Id", sizeof("X-Request-Id") - 1},
    [KEPT_CONTENT_LENGTH] = {MHD_HTTP_HEADER_CONTENT_LENGTH,
                             sizeof(MHD_HTTP_HEADER_CONTENT_LENGTH) - 1},
    [KEPT_JSON_LEN] = {"Inference-Header-Content-Length",
                       sizeof("Inference-Header-Content-Length") - 1},
};

struct conn {
    struct md_http *h; /* the server it belongs to */
    struct md_arena arena;
    struct md_buf body;
    struct md_buf reply;
    bool over;           /* opened past --max-connections: every request is refused, then closed */
    bool close;          /* close the connection after this answer */
    char id[ID_MAX + 1]; /* the request's id: the client's, or 32 hex digits */
    const char *kept[N_KEPT]; /* the request's values of kept_headers, or NULL */
    uint64_t start_ns;
    const char *method;        /* the request's, for the access log (MHD's memory) */
    const char *url;           /* likewise */
    struct MHD_Connection *mc; /* the request's connection, for the wake */
    struct md_router_hit hit;  /* the request's route, found when its head arrived */
    /* A route whose body streams (router.h): its sink, else NULL (every other
     * route: the body gathers in body). */
    const struct md_api_sink *sink;
    void *sink_state;   /* the open sink; NULL before it opens and once it is closed */
    uint64_t streamed;  /* body bytes handed to the sink */
    uint64_t stream_cl; /* the body's Content-Length; 0 when chunked */
    bool stream_over;   /* the body passed --max-upload-bytes: sink closed, the rest dropped */
    void *resume;       /* handler state of a parked request, else NULL */
    /* The request's principal once admitted (its arena's, or static), so
     * that a parked request's second call and a streamed body's handler
     * are not authenticated (nor charged to a rate) again; else NULL. */
    const struct md_principal *principal;
    void (*drop)(void *state); /* releases resume when the client leaves unanswered */
    _Atomic int park;          /* PARK_*: written by the HTTP thread and the waker */
    _Atomic int phase;         /* PHASE_*: see the enum */
    _Atomic int64_t since_ms;  /* coarse_ms() since which it has waited for a request */
    int fd;                    /* the socket, for evict's shutdown; fixed */
    uint64_t tls_gen;          /* h->lock: md_tls_generation when it opened (TLS only) */
    struct conn *prev;         /* h->lock: the list of open connections */
    struct conn *next;
};

struct md_http {
    struct MHD_Daemon *d;
    struct md_api *api;
    size_t max_body;
    uint64_t max_upload;   /* the body of a route that streams, in bytes */
    size_t max_header;     /* request line plus headers, in bytes */
    _Atomic long parked;   /* requests parked and not yet answered */
    _Atomic long routing;  /* handler calls running that may park (wake set) */
    _Atomic bool stopping; /* md_http_stop has begun: park no more */
    _Atomic bool closing;  /* every answer carries Connection: close */
    _Atomic long conns;    /* connections open and not cut; written under lock */
    long max_conn;         /* connections served; a few more are accepted to be refused */
    unsigned port;
    bool loopback;                    /* listening on a loopback address */
    pthread_mutex_t lock;             /* the connection list, conns' writes, evict_after_ms */
    struct conn *list;                /* lock: every open connection, newest first */
    int64_t evict_after_ms;           /* lock: no search for connections to shut down before this */
    struct md_access_log *access_log; /* borrowed; NULL: none */
    struct md_tls *tls;               /* owned; NULL: plain HTTP */
};

/* A cheap monotonic clock in milliseconds (a few ms coarse), for the waits above. */
static int64_t coarse_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One step of xorshift128+ over the state s[0..1]. */
static uint64_t xorshift128p(uint64_t s[2])
{
    uint64_t x = s[0];
    uint64_t y = s[1];

    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
}

/*
 * Request ids: 32 hex digits, time-ordered: 48 bits of wall-clock
 * milliseconds, then 80 random-looking bits from a per-thread generator
 * seeded by getrandom (no syscall per request). Ids made in a later
 * millisecond sort after, so a store indexed by id appends.
 */
static void make_id(char *out)
{
    static _Thread_local uint64_t s[2];
    static const char hex[] = "0123456789abcdef";
    struct timespec ts;
    uint64_t ms;
    uint64_t a;
    uint64_t b;
    int i;

    if (s[0] == 0 && s[1] == 0) {
        uint64_t seed[2] = {0, 0};

        if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
            seed[0] = md_now_ns();
            seed[1] = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15u;
        }
        s[0] = seed[0] | 1;
        s[1] = seed[1];
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    a = ((ms & 0xffffffffffffu) << 16) | (xorshift128p(s) >> 48); /* 48 bits of time, 16 random */
    b = xorshift128p(s);                                          /* 64 random */
    for (i = 0; i < 16; i++) {
        out[i] = hex[(a >> (60 - 4 * i)) & 15];
        out[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

/* A client's X-Request-Id is kept when it is short (ID_MAX at most) and plain. */
static bool usable_id(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (i >= ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* What one pass over a request's headers collects. */
struct head {
    size_t bytes;         /* the request line and headers' size, as sent */
    const char **kept;    /* the values of kept_headers, the first of each as MHD's lookup gives */
    struct md_head check; /* framing and field checks (head.h) */
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct head *hd = cls;
    size_t i;

    MD_UNUSED(kind);
    hd->bytes += key_size + value_size + 4; /* ": " and CRLF */
    md_head_field(&hd->check, key, key_size, value, value_size);
    for (i = 0; i < N_KEPT && value != NULL; i++) {
        if (hd->kept[i] == NULL && key_size == kept_headers[i].len &&
            strcasecmp(key, kept_headers[i].name) == 0)
            hd->kept[i] = value;
    }
    return MHD_YES;
}

/* req->header: conn is the struct conn. */
static const char *lookup_header(void *conn, const char *name)
{
    const struct conn *cs = conn;
    size_t len = strlen(name);
    size_t i;

    /* The length first: strcasecmp only for the one name it can be. */
    for (i = 0; i < N_KEPT; i++)
        if (len == kept_headers[i].len && strcasecmp(name, kept_headers[i].name) == 0)
            return cs->kept[i];
    return MHD_lookup_connection_value(cs->mc, MHD_HEADER_KIND, name);
}

/* req->query: an argument of the request's query string (decoded), or NULL. */
static const char *lookup_query(void *conn, const char *name)
{
    const struct conn *cs = conn;

    return MHD_lookup_connection_value(cs->mc, MHD_GET_ARGUMENT_KIND, name);
}

/*
 * Shuts down up to EVICT_BATCH of the connections that have waited longest
 * for a request, each at least EVICT_MIN_WAIT_MS (h->lock held): their
 * threads read the end of the stream and close them. Returns how many.
 * Busy connections are skipped, and the compare-and-swap to PHASE_CUT fails
 * for one that has just become busy. Its socket is still open: a connection
 * is unlisted under h->lock before MHD closes it.
 */
static long evict(struct md_http *h, int64_t now)
{
    struct {
        struct conn *cs;
        int64_t since;
    } pick[EVICT_BATCH];
    size_t n = 0;
    size_t i;
    long cut = 0;
    struct conn *cs;

    if (now < h->evict_after_ms)
        return 0;
    for (cs = h->list; cs != NULL; cs = cs->next) {
        int ph = atomic_load(&cs->phase);
        int64_t since = atomic_load_explicit(&cs->since_ms, memory_order_relaxed);

        if ((ph != PHASE_WAIT && ph != PHASE_BODY) || now - since < EVICT_MIN_WAIT_MS)
            continue;
        if (n == EVICT_BATCH && since >= pick[n - 1].since)
            continue;
        /* Kept sorted, longest waiting first. */
        i = n < EVICT_BATCH ? n++ : n - 1;
        while (i > 0 && pick[i - 1].since > since) {
            pick[i] = pick[i - 1];
            i--;
        }
        pick[i].cs = cs;
        pick[i].since = since;
    }
    for (i = 0; i < n; i++) {
        int ph = atomic_load(&pick[i].cs->phase);

        if ((ph == PHASE_WAIT || ph == PHASE_BODY) &&
            atomic_compare_exchange_strong(&pick[i].cs->phase, &ph, PHASE_CUT)) {
            (void)shutdown(pick[i].cs->fd, SHUT_RDWR); /* its thread closes it either way */
            atomic_fetch_sub(&h->conns, 1);
            cut++;
        }
    }
    if (cut == 0)
        h->evict_after_ms = now + EVICT_PAUSE_MS;
    return cut;
}

/*
 * TLS (net/tls.h). GnuTLS's callbacks carry no context of their own: each
 * session's pointer is its MHD connection (libmicrohttpd sets it so; set
 * here too, before the handshake, should a version not), whose socket
 * context is its struct conn.
 */
static struct md_tls *session_tls(gnutls_session_t s, struct MHD_Connection **out)
{
    struct MHD_Connection *c = gnutls_session_get_ptr(s);
    const union MHD_ConnectionInfo *ci;
    const struct conn *cs;

    if (c == NULL)
        return NULL;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cs = ci != NULL ? ci->socket_context : NULL;
    if (out != NULL)
        *out = c;
    return cs != NULL ? cs->h->tls : NULL;
}

/* gnutls_certificate_retrieve_function2: the current certificate and key. */
static int tls_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca, int n_req,
                        const gnutls_pk_algorithm_t *algos, int n_algos, gnutls_pcert_st **pcert,
                        unsigned int *n_pcert, gnutls_privkey_t *key)
{
    struct md_tls *t = session_tls(s, NULL);

    MD_UNUSED(req_ca);
    MD_UNUSED(n_req);
    MD_UNUSED(algos);
    MD_UNUSED(n_algos);
    if (t == NULL)
        return -1;
    return md_tls_retrieve(t, pcert, n_pcert, key);
}

/* The session's verify function under mutual TLS: the client's certificate or no handshake. */
static int tls_verify(gnutls_session_t s)
{
    struct MHD_Connection *c = NULL;
    struct md_tls *t = session_tls(s, &c);
    char why[256];
    int rc;

    if (t == NULL)
        return GNUTLS_E_CERTIFICATE_ERROR;
    rc = md_tls_verify_peer(t, s, why, sizeof(why));
    if (rc < 0) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char peer[INET6_ADDRSTRLEN] = "?";
        const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

        if (sa != NULL && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
        else if (sa != NULL && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof(peer));
        md_log_kv(MD_LOG_INFO, "client certificate refused", "peer", peer, "reason", why,
                  MD_KV_END);
    }
    return rc;
}

/* A TLS connection has opened, its handshake to come. */
static void tls_started(struct md_http *h, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t s = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;

    if (s == NULL)
        return;
    if (gnutls_session_get_ptr(s) != c)
        gnutls_session_set_ptr(s, c);
    md_tls_session(h->tls, s, tls_verify);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    struct md_http *h = cls;
    struct conn *cs;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        int64_t now = coarse_ms();
        long cut = 0;

        cs = md_xcalloc(1, sizeof(*cs));
        cs->h = h;
        md_arena_init(&cs->arena, ARENA_MAX);
        md_buf_init(&cs->body, h->max_body);
        md_buf_init(&cs->reply, REPLY_MAX);
        cs->fd = ci != NULL ? ci->connect_fd : -1;
        atomic_init(&cs->phase, PHASE_WAIT);
        atomic_init(&cs->since_ms, now);
        pthread_mutex_lock(&h->lock);
        cs->next = h->list;
        if (h->list != NULL)
            h->list->prev = cs;
        h->list = cs;
        if (atomic_fetch_add(&h->conns, 1) >= h->max_conn)
            cut = evict(h, now);
        cs->over = atomic_load(&h->conns) > h->max_conn;
        if (h->tls != NULL)
            cs->tls_gen = md_tls_generation(h->tls);
        pthread_mutex_unlock(&h->lock);
        if (h->tls != NULL)
            tls_started(h, c);
        if (cut > 0) {
            char n[24];

            (void)snprintf(n, sizeof(n), "%ld", cut); /* any long fits */
            md_log_kv(MD_LOG_DEBUG, "closed connections waiting longest for a request",
                      "connections", n, MD_KV_END);
        }
        /* Refused at its first request; one that sends none leaves soon. */
        if (cs->over)
            MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)OVER_TIMEOUT_S);
        *socket_ctx = cs;
        return;
    }
    cs = *socket_ctx;
    if (cs == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    if (cs->prev != NULL)
        cs->prev->next = cs->next;
    else
        h->list = cs->next;
    if (cs->next != NULL)
        cs->next->prev = cs->prev;
    if (atomic_load(&cs->phase) != PHASE_CUT)
        atomic_fetch_sub(&h->conns, 1);
    pthread_mutex_unlock(&h->lock);
    md_arena_release(&cs->arena);
    md_buf_release(&cs->body);
    md_buf_release(&cs->reply);
    free(cs);
    *socket_ctx = NULL;
}

/* Moves cs out of from into to; false when evict cut it meanwhile. */
static bool step(struct conn *cs, int from, int to)
{
    return atomic_compare_exchange_strong(&cs->phase, &from, to);
}

/* Until the wake of cs's parked request has come (a rare wait: see on_completed). */
static void wait_for_wake(const struct conn *cs)
{
    struct timespec ts = {0, 100000L}; /* 0.1 ms */
    unsigned n = 0;

    while (atomic_load(&cs->park) == PARK_NONE) {
        if (++n % 10000 == 0)
            md_log(MD_LOG_WARN, "a closed connection waits for its parked request");
        nanosleep(&ts, NULL);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                         enum MHD_RequestTerminationCode code)
{
    struct md_http *h = cls;
    struct conn *cs = *req_ctx;

    MD_UNUSED(c);
    MD_UNUSED(code);
    if (cs == NULL)
        return;
    if (cs->resume != NULL) {
        /* Parked, and the client left before the answer: release what the
         * handler parked, after the wake (the job is done with the arena). A
         * connection parked a moment ago and not yet suspended may be closed
         * before the wake: then wait for it, which comes once the job's
         * batch is taken (or its deadline passes). */
        wait_for_wake(cs);
        cs->drop(cs->resume);
        cs->resume = NULL;
        atomic_fetch_sub(&h->parked, 1);
    }
    if (MD_UNLIKELY(cs->sink != NULL)) {
        /* Answered or not (the client may have left mid-body): its files go now. */
        if (cs->sink_state != NULL)
            cs->sink->close(cs->sink_state);
        cs->sink_state = NULL;
        cs->sink = NULL;
    }
    cs->close = false;
    /* Waiting for the next request from now (the time before the phase). */
    if (atomic_load(&cs->phase) != PHASE_CUT) {
        atomic_store_explicit(&cs->since_ms, coarse_ms(), memory_order_relaxed);
        if (!step(cs, PHASE_BUSY, PHASE_WAIT))
            (void)step(cs, PHASE_BODY, PHASE_WAIT); /* a request cut short */
    }
    /* Large requests give their memory back; small ones keep it for the next. */
    if (cs->body.cap > (size_t)1 << 20)
        md_buf_release(&cs->body);
    if (cs->reply.cap > (size_t)1 << 20)
        md_buf_release(&cs->reply);
    md_arena_reset(&cs->arena);
    *req_ctx = NULL;
}

/* The request's line in the access log. */
static void access_line(struct md_http *h, struct MHD_Connection *c, const struct conn *cs,
                        const struct md_api_resp *resp)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct md_access_rec rec;
    uint64_t now = md_now_ns();

    rec.id = cs->id;
    rec.peer = ci != NULL ? ci->client_addr : NULL;
    rec.method = cs->method;
    rec.path = cs->url;
    rec.model = resp->model;
    rec.version = resp->version;
    rec.status = resp->status;
    rec.latency_us = now > cs->start_ns ? (now - cs->start_ns) / 1000u : 0;
    md_access_log_write(h->access_log, &rec);
}

static enum MHD_Result send_reply(struct md_http *h, struct MHD_Connection *c, struct conn *cs,
                                  struct md_api_resp *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ok;

    /* An answer whose writing failed is never sent in part (util/buf.h). */
    md_api_finish(resp, md_buf_error(&cs->reply));
    r = MHD_create_response_from_buffer(cs->reply.len, cs->reply.data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    if (resp->content_type != NULL && (cs->reply.len > 0 || resp->status != 200))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    MHD_add_response_header(r, "X-Request-Id", cs->id);
    if (resp->route[0] != '\0' && resp->version[0] != '\0') {
        MHD_add_response_header(r, "X-Model-Version", resp->version);
        MHD_add_response_header(r, "X-Model-Route", resp->route);
    }
    if (resp->retry_after[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, resp->retry_after);
    if (resp->status == 401) /* RFC 6750: how to authenticate */
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"modeld\"");
    if (resp->allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (cs->over || cs->close || atomic_load_explicit(&h->closing, memory_order_relaxed))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    for (unsigned i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    if (resp->json_len > 0) {
        char n[24];

        (void)snprintf(n, sizeof(n), "%zu", resp->json_len); /* any size_t fits */
        MHD_add_response_header(r, "Inference-Header-Content-Length", n);
    }
    ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    md_api_count(h->api, resp->family, resp->status);
    if (h->access_log != NULL)
        access_line(h, c, cs, resp);
    return ok;
}

static void init_resp(struct md_api_resp *resp, struct conn *cs)
{
    md_buf_reset(&cs->reply);
    resp->status = 200;
    resp->body = &cs->reply;
    resp->content_type = "application/json";
    resp->retry_after[0] = '\0';
    resp->allow = NULL;
    resp->family = MD_API_OTHER;
    resp->json_len = 0;
    resp->resume = NULL;
    resp->drop = NULL;
    resp->parked = false;
    resp->model = NULL;
    resp->version[0] = '\0';
    resp->route[0] = '\0';
    resp->after = NULL;
    resp->after_ctx = NULL;
    resp->n_headers = 0;
}

/* req->wake: runs on the thread that finished the parked request's work. */
static void wake_conn(void *ctx)
{
    struct conn *cs = ctx;
    int expect = PARK_NONE;

    /* Before the HTTP thread has suspended: its next call sees PARK_WOKEN. */
    if (atomic_compare_exchange_strong(&cs->park, &expect, PARK_WOKEN))
        return;
    MHD_resume_connection(cs->mc);
}

/*
 * req->want_wake: offers the wake to a request that the lone-connection rule
 * below left without one. Counted in routing like any call that may park.
 */
static void want_wake(struct md_api_req *req)
{
    struct conn *cs = req->wake_ctx;
    struct md_http *h = cs->h;

    if (req->wake != NULL)
        return;
    atomic_fetch_add(&h->routing, 1);
    if (!atomic_load(&h->stopping))
        req->wake = wake_conn;
    else
        atomic_fetch_sub(&h->routing, 1);
}

/* A handler parked the request: no answer now. MHD calls again at once
 * (the request is received and unanswered), and that call suspends. */
static enum MHD_Result park(struct md_http *h, struct conn *cs, const struct md_api_resp *resp)
{
    cs->resume = resp->resume;
    cs->drop = resp->drop;
    atomic_fetch_add(&h->parked, 1);
    return MHD_YES;
}

/* A call for a parked request: suspends until the wake, or true when the
 * wake has come (the call then answers). */
static bool woken(struct MHD_Connection *c, struct conn *cs)
{
    int expect = PARK_NONE;

    if (atomic_load(&cs->park) != PARK_NONE)
        return true; /* woken first, or resumed by the wake */
    MHD_suspend_connection(c);
    if (!atomic_compare_exchange_strong(&cs->park, &expect, PARK_SUSPENDED))
        MHD_resume_connection(c); /* the wake came meanwhile: answer after the resume */
    return false;
}

/*
 * A call after a wake that parks again (the audit log's entry of a change
 * the handler answered after its own park): suspended at once. The state is
 * "block" by now (see conn.park), and MHD would not call again before the
 * connection's next event.
 */
static void park_again(struct MHD_Connection *c, struct conn *cs)
{
    int expect = PARK_NONE;

    MHD_suspend_connection(c);
    if (!atomic_compare_exchange_strong(&cs->park, &expect, PARK_SUSPENDED))
        MHD_resume_connection(c); /* the wake came meanwhile: answer after the resume */
}

/* An answer from the first call, before any body is read (the connection is then closed):
 * the status of code (api/api.h's table). */
static enum MHD_Result refuse(struct md_http *h, struct MHD_Connection *c, struct conn *cs,
                              int code, const char *msg)
{
    struct md_api_resp resp;

    if (!step(cs, PHASE_BODY, PHASE_BUSY))
        return MHD_NO; /* shut down to make room meanwhile */
    init_resp(&resp, cs);
    md_api_error_msg(&resp, code, msg);
    return send_reply(h, c, cs, &resp);
}

/* req->peer: the client's IP address, for the audit log. */
static void peer_address(void *conn, char *out, size_t n)
{
    const struct conn *cs = conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(cs->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    out[0] = '\0';
    if (sa == NULL || n < INET6_ADDRSTRLEN)
        return;
    if (sa->sa_family == AF_INET)
        (void)inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                        (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        (void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                        (socklen_t)n);
}

/* The request as a handler sees it, but for its body and the wake. */
static void fill_req(struct conn *cs, struct md_api_req *req)
{
    req->method = cs->method;
    req->path = cs->url;
    req->body = "";
    req->body_len = 0;
    req->arena = &cs->arena;
    req->request_id = cs->id;
    req->start_ns = cs->start_ns;
    req->header = lookup_header;
    req->query = lookup_query;
    req->conn = cs;
    req->wake = NULL;
    req->wake_ctx = cs;
    req->want_wake = NULL;
    req->principal = cs->principal; /* NULL until the router admits the request */
    req->refused = NULL;
    req->sink = NULL;
    req->peer = peer_address;
}

/*
 * The head of a request whose route streams its body (cl its
 * Content-Length, or 0): refused at once past --max-upload-bytes or
 * without the route's permission, before a byte of the body is read or a
 * file made; else its sink is opened, and the body goes there as it comes.
 */
static enum MHD_Result start_stream(struct md_http *h, struct MHD_Connection *c, struct conn *cs,
                                    unsigned long long cl)
{
    struct md_api_req req;
    struct md_api_resp resp;
    struct md_err err;
    char msg[160];

    if (cl > h->max_upload) {
        (void)snprintf(msg, sizeof(msg),
                       "upload larger than the limit of %llu bytes (--max-upload-bytes)",
                       (unsigned long long)h->max_upload);
        return refuse(h, c, cs, MD_ETOOBIG, msg);
    }
    fill_req(cs, &req);
    init_resp(&resp, cs);
    if (md_router_admit(h->api, &cs->hit, &req, &resp) == MD_OK) {
        cs->principal = req.principal;
    } else {
        if (!step(cs, PHASE_BODY, PHASE_BUSY))
            return MHD_NO;
        resp.family = cs->hit.family;
        resp.model = cs->hit.rt.model;
        return send_reply(h, c, cs, &resp);
    }
    if (cs->sink->open(h->api, &cs->hit.rt, &req, &cs->sink_state, &err) != MD_OK) {
        cs->sink_state = NULL;
        return refuse(h, c, cs, err.code, err.msg);
    }
    return MHD_YES;
}

/*
 * Whether the client of a streaming body has left (its socket at the end
 * of its stream, or reset) before sending all it announced.
 * libmicrohttpd (0.9.75, edge-triggered epoll) takes a read that came short
 * to mean the socket is drained, so an end of stream that arrived with the
 * last bytes is seen only at the idle timeout, and an upload's file would
 * stay that long. Asked only while bytes are still due: a client that
 * half-closes after its whole body is still answered. A chunked body
 * announces no length: its client's leaving is found by libmicrohttpd.
 */
static bool client_left(const struct conn *cs)
{
    char b;
    ssize_t r;

    if (cs->fd < 0 || cs->streamed >= cs->stream_cl)
        return false;
    r = recv(cs->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * n more bytes of a streaming route's body: to its sink, up to the limit.
 * False when the client has left mid-body: the sink is closed, and the
 * connection had better be too.
 */
static bool stream(struct md_http *h, struct conn *cs, const char *p, size_t n)
{
    if (cs->sink_state == NULL)
        return true; /* past the limit: dropped, answered 413 at the end */
    if (n > h->max_upload - cs->streamed) {
        /* The sink goes now (its files with it), not when the rest has come. */
        cs->sink->close(cs->sink_state);
        cs->sink_state = NULL;
        cs->stream_over = true;
        return true;
    }
    cs->streamed += n;
    cs->sink->write(cs->sink_state, p, n);
    if (!client_left(cs))
        return true;
    cs->sink->close(cs->sink_state);
    cs->sink_state = NULL;
    return false;
}

/* The first call of a request, its head received: checks it and gets ready for its body. */
static enum MHD_Result start_request(struct md_http *h, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, void **req_ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *cs;
    struct head hd;
    unsigned long long cl = 0;
    char msg[160];

    if (ci == NULL || ci->socket_context == NULL)
        return MHD_NO;
    cs = ci->socket_context;
    if (!step(cs, PHASE_WAIT, PHASE_BODY))
        return MHD_NO; /* shut down to make room: MHD closes it */
    *req_ctx = cs;
    cs->close = false;
    cs->start_ns = md_now_ns();
    cs->method = method;
    cs->url = url;
    cs->mc = c;
    cs->sink = NULL;
    md_buf_reset(&cs->body);
    memset(cs->kept, 0, sizeof(cs->kept));
    hd.bytes = strlen(url) + strlen(method) + 12;
    hd.kept = cs->kept;
    md_head_init(&hd.check);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &hd);
    if (usable_id(cs->kept[KEPT_REQUEST_ID]))
        (void)snprintf(cs->id, sizeof(cs->id), "%s",
                       cs->kept[KEPT_REQUEST_ID]); /* fits: usable_id */
    else
        make_id(cs->id);
    if (cs->over) {
        /* Past the connection limit: refused at once, never left waiting. */
        struct md_api_resp resp;

        if (!step(cs, PHASE_BODY, PHASE_BUSY))
            return MHD_NO;
        init_resp(&resp, cs);
        (void)snprintf(msg, sizeof(msg), "server at its limit of %ld connections; retry later",
                       h->max_conn);
        md_api_error_msg(&resp, MD_EUNAVAIL, msg); /* 503 and Retry-After */
        return send_reply(h, c, cs, &resp);
    }
    if (md_head_finish(&hd.check, strcmp(version, MHD_HTTP_VERSION_1_0) == 0) != MD_OK) {
        /* Framing a proxy could read otherwise: answered, then the connection closed. */
        cs->close = true;
        return refuse(h, c, cs, hd.check.code, hd.check.msg);
    }
    if (hd.bytes > h->max_header) {
        (void)snprintf(msg, sizeof(msg),
                       "request line and headers larger than the limit of %zu bytes",
                       h->max_header);
        return refuse(h, c, cs, MD_EHEADTOOBIG, msg);
    }
    if (cs->kept[KEPT_CONTENT_LENGTH] != NULL)
        cl = strtoull(cs->kept[KEPT_CONTENT_LENGTH], NULL, 10);
    /* The route now, so that its body's destination is known before the body. */
    md_router_find(method, url, &cs->arena, &cs->hit);
    cs->principal = NULL;
    if (MD_UNLIKELY(cs->hit.endpoint != NULL && cs->hit.endpoint->sink != NULL)) {
        cs->sink = cs->hit.endpoint->sink;
        cs->sink_state = NULL;
        cs->streamed = 0;
        cs->stream_cl = cl;
        cs->stream_over = false;
        return start_stream(h, c, cs, cl);
    }
    if (cl > h->max_body) {
        /* Refuse before reading a byte of the body; MHD closes the
         * connection after this answer. */
        (void)snprintf(msg, sizeof(msg), "request body larger than the limit of %zu bytes",
                       h->max_body);
        return refuse(h, c, cs, MD_ETOOBIG, msg);
    }
    /* The body's size is known: room for all of it at once, not by doublings.
     * A size this process cannot allocate stays in the buffer as its error
     * (util/buf.h): the rest of the body is dropped and answered 413. */
    if (cl > 0 && md_buf_grow(&cs->body, (size_t)cl) != MD_OK)
        md_log(MD_LOG_DEBUG, "request body too large to hold: dropped, answered 413");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_ctx)
{
    struct md_http *h = cls;
    struct conn *cs = *req_ctx;
    struct md_api_req req;
    struct md_api_resp resp;
    bool resumed = false;

    if (cs == NULL)
        return start_request(h, c, url, method, version, req_ctx);
    if (*upload_size > 0) {
        /* Past the limit the buffer keeps its error and drops the rest. */
        size_t n = *upload_size;

        *upload_size = 0;
        if (MD_LIKELY(cs->sink == NULL))
            md_buf_append(&cs->body, upload, n);
        else if (!stream(h, cs, upload, n))
            return MHD_NO; /* the client left mid-body: MHD closes the connection */
        return MHD_YES;
    }
    if (cs->resume != NULL && !woken(c, cs))
        return MHD_YES; /* suspended until the wake */
    /* The request is in: busy until answered (a parked one already is). */
    if (atomic_load_explicit(&cs->phase, memory_order_relaxed) != PHASE_BUSY &&
        !step(cs, PHASE_BODY, PHASE_BUSY))
        return MHD_NO; /* shut down to make room meanwhile: MHD closes it */
    init_resp(&resp, cs);
    if (md_buf_error(&cs->body) != MD_OK || MD_UNLIKELY(cs->sink != NULL && cs->stream_over)) {
        char msg[128];

        if (cs->sink != NULL)
            (void)snprintf(msg, sizeof(msg),
                           "upload larger than the limit of %llu bytes (--max-upload-bytes)",
                           (unsigned long long)h->max_upload);
        else
            (void)snprintf(msg, sizeof(msg), "request body larger than the limit of %zu bytes",
                           h->max_body);
        md_api_error_msg(&resp, MD_ETOOBIG, msg);
        if (cs->sink != NULL)
            resp.family = cs->hit.family;
        return send_reply(h, c, cs, &resp);
    }
    fill_req(cs, &req);
    req.body = cs->body.data ? cs->body.data : "";
    req.body_len = cs->body.len;
    req.sink = cs->sink_state;
    /* With a single connection nothing can join a batch: the request had
     * better block and run its rows itself than park and hand them over
     * (a handler whose work is long anyway asks for the wake: want_wake).
     * Once stopping, nothing parks: MHD must not stop with a suspended
     * connection. routing is counted before stopping is read, and
     * md_http_stop sets stopping before it reads routing, so it sees every
     * call that may still park. */
    req.want_wake = want_wake;
    if (atomic_load_explicit(&h->conns, memory_order_relaxed) > 1) {
        atomic_fetch_add(&h->routing, 1);
        if (!atomic_load(&h->stopping))
            req.wake = wake_conn;
        else
            atomic_fetch_sub(&h->routing, 1);
    }
    if (cs->resume != NULL) {
        /* Called again after the wake: the handler answers now. */
        resp.resume = cs->resume;
        resp.drop = cs->drop; /* tells whose state it is (api/audit.h) */
        cs->resume = NULL;
        atomic_fetch_sub(&h->parked, 1);
        resumed = true;
    }
    cs->mc = c;
    atomic_store(&cs->park, PARK_NONE);
    md_router_run(h->api, &cs->hit, &req, &resp);
    cs->principal = req.principal;
    if (resp.parked) {
        enum MHD_Result ok = park(h, cs, &resp);

        if (resumed)
            park_again(c, cs);
        atomic_fetch_sub(&h->routing, 1);
        return ok;
    }
    if (req.wake != NULL)
        atomic_fetch_sub(&h->routing, 1);
    if (resp.after == NULL)
        return send_reply(h, c, cs, &resp);
    {
        /* The answer is queued; what the handler left for after it runs now. */
        enum MHD_Result ok = send_reply(h, c, cs, &resp);

        resp.after(resp.after_ctx, resp.status);
        return ok;
    }
}

/* api->http_gauges: what /metrics shows of the server. */
static void gauges(void *ctx, long *connections, long *in_flight)
{
    struct md_http *h = ctx;
    const struct conn *cs;
    long busy = 0;

    /* Counted here, at the scrape, from each connection's phase: a shared
     * counter moved by every request would cost the hot path a contended
     * cache line. A request is in flight from its head to its answer. */
    pthread_mutex_lock(&h->lock);
    for (cs = h->list; cs != NULL; cs = cs->next) {
        int phase = atomic_load_explicit(&cs->phase, memory_order_relaxed);

        busy += phase == PHASE_BODY || phase == PHASE_BUSY;
    }
    pthread_mutex_unlock(&h->lock);
    *connections = atomic_load_explicit(&h->conns, memory_order_relaxed);
    *in_flight = busy;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    MD_UNUSED(cls);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a debug line: cut short */
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    md_log_kv(MD_LOG_DEBUG, "http", "detail", msg, MD_KV_END);
}

/* Whether a listening address is a loopback one: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104. */
static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* "HOST:PORT", "[V6]:PORT", ":PORT" -> a socket address. */
static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                   struct md_err *err)
{
    char host[256];
    const char *colon;
    const char *port;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    size_t hl;
    int rc;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (close == NULL || close[1] != ':')
            return md_err_set(err, MD_EINVAL, "--listen '%s': expected [ADDR]:PORT", listen);
        hl = (size_t)(close - listen - 1);
        colon = close + 1;
        listen++;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return md_err_set(err, MD_EINVAL, "--listen '%s': expected HOST:PORT", listen);
        hl = (size_t)(colon - listen);
    }
    if (hl >= sizeof(host))
        return md_err_set(err, MD_EINVAL, "--listen: host name too long");
    memcpy(host, listen, hl);
    host[hl] = '\0';
    port = colon + 1;
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        strtoul(port, NULL, 10) > 65535)
        return md_err_set(err, MD_EINVAL, "--listen: port '%s' is not a number 0-65535", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
    if (rc != 0 || res == NULL)
        return md_err_set(err, MD_EINVAL, "--listen: cannot resolve '%s': %s", host,
                          gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return MD_OK;
}

int md_http_bind(const char *addr, int *fd, struct md_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int one = 1;
    int s;
    int rc;

    *fd = -1;
    memset(&ss, 0, sizeof(ss));
    rc = resolve(addr, &ss, &sslen, err);
    if (rc != MD_OK)
        return rc;
    s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return md_err_set(err, MD_EIO, "cannot listen on %s: %s", addr, strerror(errno));
    /* As MHD does when it binds itself: SO_REUSEADDR, so that a restart
     * binds past the last run's connections in TIME_WAIT, and not
     * SO_REUSEPORT, so that a port in use is refused; the backlog is capped
     * by the kernel (net.core.somaxconn). */
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s, (struct sockaddr *)&ss, sslen) != 0 || listen(s, 4096) != 0) {
        rc = md_err_set(err, MD_EIO, "cannot listen on %s: %s", addr, strerror(errno));
        (void)close(s);
        return rc;
    }
    *fd = s;
    return MD_OK;
}

int md_http_start(const struct md_http_config *cfg, struct md_api *api, struct md_http **out,
                  struct md_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct md_http *h;
    unsigned threads = cfg->threads;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    const union MHD_DaemonInfo *di;
    struct MHD_OptionItem tls_opts[3] = {
        {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    size_t max_header;
    size_t pool_bytes;
    unsigned spare;
    int rc;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    rc = resolve(cfg->listen, &ss, &sslen, err);
    if (rc != MD_OK)
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Without authentication anyone who reaches the port may do anything:
     * only on loopback, or when told so (api/auth.h). */
    if (!api->auth.enabled && !is_loopback(&ss) && !cfg->insecure)
        return md_err_set(err, MD_EINVAL,
                          "--listen %s is not a loopback address and authentication is off: "
                          "anyone reaching it could do anything; start with --auth (first token: "
                          "modeld token create --role admin), or --insecure on a trusted network",
                          cfg->listen);
    md_auth_init(&api->auth, cfg->listen);
    api->auth.loopback = is_loopback(&ss);
    api->auth.tls = cfg->tls_cert != NULL && cfg->tls_key != NULL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        threads = n > 0 ? (unsigned)n : 1;
    }
    /* MHD keeps a connection's request line and headers in a per-connection
     * pool, reads a body half a pool at a time, and zeroes the pool on every
     * request: a bigger pool reads a large body in fewer calls, and costs
     * every small request its zeroing (docs/performance.md). */
    max_header = cfg->max_header_bytes ? cfg->max_header_bytes : MD_HTTP_MAX_HEADER;
    pool_bytes = cfg->conn_buffer_bytes ? cfg->conn_buffer_bytes : MD_HTTP_CONN_BUFFER;
    if (pool_bytes > MD_HTTP_CONN_BUFFER_MAX)
        pool_bytes = MD_HTTP_CONN_BUFFER_MAX;
    if (pool_bytes < 2 * max_header)
        pool_bytes = 2 * max_header;
    if (pool_bytes < 4096)
        pool_bytes = 4096;
    h = md_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    h->api = api;
    h->access_log = cfg->access_log;
    if (cfg->tls_cert != NULL || cfg->tls_key != NULL) {
        struct md_tls_config tc = {cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca};

        rc = md_tls_new(&tc, &h->tls, err);
        if (rc != MD_OK) {
            pthread_mutex_destroy(&h->lock);
            free(h);
            return rc;
        }
        flags |= MHD_USE_TLS;
        /* The certificate comes from tls_retrieve at each handshake, so a
         * reload serves new connections without touching open ones. */
        tls_opts[0].option = MHD_OPTION_HTTPS_CERT_CALLBACK;
        tls_opts[0].ptr_value = (void *)tls_retrieve;
        /* GnuTLS's defaults, less TLS 1.0 and 1.1 (and DTLS). */
        tls_opts[1].option = MHD_OPTION_HTTPS_PRIORITIES;
        tls_opts[1].ptr_value = (void *)MD_TLS_PRIORITIES;
    }
    h->max_body = cfg->max_body_bytes;
    h->max_upload = cfg->max_upload_bytes;
    h->max_header = max_header;
    h->max_conn = cfg->max_connections ? (long)cfg->max_connections : 4096;
    /* Past max_conn, once no connection can be shut down to make room (see
     * evict), a quarter more (and at least 16) are accepted only to be answered
     * 503 and closed; beyond that the kernel's backlog (as long as the kernel
     * allows, net.core.somaxconn) holds them. */
    spare = (unsigned)(h->max_conn / 4 + 16);
    api->http_gauges = gauges;
    api->http_ctx = h;
    /* The logger first: MHD reports what it finds in the options that follow
     * through the logger set so far. The pool size last, and only for two
     * threads or more (MHD warns of a pool of 0 or 1, and runs one epoll
     * thread without a pool): for one thread, MHD_OPTION_END comes first.
     * MHD_OPTION_LISTENING_ADDRESS_REUSE is left out: true would add
     * SO_REUSEPORT (a second process could share the port), false would drop
     * SO_REUSEADDR (no restart while connections are in TIME_WAIT). */
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->max_conn + spare, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->idle_timeout_s ? cfg->idle_timeout_s : 60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        pool_bytes, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_LISTEN_SOCKET, cfg->bound ? cfg->listen_fd : MHD_INVALID_SOCKET,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)h->max_conn + spare,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
    if (h->d == NULL) {
        api->http_gauges = NULL;
        api->http_ctx = NULL;
        md_tls_free(h->tls);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return md_err_set(err, MD_EIO, "cannot listen on %s: %s", cfg->listen,
                          errno ? strerror(errno) : "address in use or not permitted");
    }
    di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    h->loopback = is_loopback(&ss);
    *out = h;
    return MD_OK;
}

unsigned md_http_port(const struct md_http *h)
{
    return h->port;
}

bool md_http_loopback(const struct md_http *h)
{
    return h->loopback;
}

/*
 * Takes the connections waiting in the listener's backlog (they were
 * accepted by the kernel: their clients may have sent a request) and hands
 * them to MHD, then shuts the listener, so that later ones are refused.
 */
static void close_listener(struct md_http *h, int lfd)
{
    int i;

    for (i = 0; i < 65536; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* EAGAIN: the backlog is empty */
        }
        if (MHD_add_connection(h->d, fd, (struct sockaddr *)&ss, len) != MHD_YES)
            md_log(MD_LOG_WARN, "a connection taken from the backlog was refused");
    }
    (void)shutdown(lfd, SHUT_RD); /* Linux: the socket stops listening */
}

/* Whether the stop may go on (h->lock held): no request is being read or
 * answered, and every connection has waited DRAIN_WAIT_MS without one. */
static bool drained(struct md_http *h, int64_t now)
{
    const struct conn *cs;

    for (cs = h->list; cs != NULL; cs = cs->next) {
        int ph = atomic_load(&cs->phase);

        if (ph == PHASE_CUT)
            continue;
        if (ph != PHASE_WAIT ||
            now - atomic_load_explicit(&cs->since_ms, memory_order_relaxed) < DRAIN_WAIT_MS)
            return false;
    }
    return true;
}

void md_http_stop(struct md_http *h, unsigned drain_ms)
{
    struct timespec ts = {0, 5000000L}; /* 5 ms */
    int64_t deadline;
    unsigned waited = 0;
    int lfd;

    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    atomic_store(&h->closing, true);
    lfd = MHD_quiesce_daemon(h->d);
    if (lfd != MHD_INVALID_SOCKET)
        close_listener(h, lfd);
    deadline = coarse_ms() + drain_ms;
    for (;;) {
        int64_t now = coarse_ms();
        bool done;

        pthread_mutex_lock(&h->lock);
        done = drained(h, now);
        pthread_mutex_unlock(&h->lock);
        if (done || now >= deadline)
            break;
        nanosleep(&ts, NULL);
    }
    /* A parked request is in an engine call that will end; MHD must not stop
     * with a suspended connection, so wait for it past the drain time. */
    while (atomic_load(&h->routing) > 0 || atomic_load(&h->parked) > 0) {
        if (waited++ % 1000 == 0)
            md_log(MD_LOG_WARN, "waiting for parked requests to finish");
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->d);
    h->api->http_gauges = NULL;
    h->api->http_ctx = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    md_tls_free(h->tls);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

bool md_http_tls(const struct md_http *h)
{
    return h->tls != NULL;
}

int md_http_reload_tls(struct md_http *h, struct md_err *err)
{
    const struct conn *cs;
    uint64_t oldest;
    int rc;

    if (h->tls == NULL)
        return MD_OK;
    rc = md_tls_reload(h->tls, err);
    if (rc != MD_OK)
        return rc;
    /* The sets no open connection can still take go now (tls.h). */
    pthread_mutex_lock(&h->lock);
    oldest = md_tls_generation(h->tls);
    for (cs = h->list; cs != NULL; cs = cs->next)
        if (cs->tls_gen < oldest)
            oldest = cs->tls_gen;
    md_tls_collect(h->tls, oldest);
    pthread_mutex_unlock(&h->lock);
    return MD_OK;
}
