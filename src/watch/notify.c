/* SPDX-License-Identifier: MIT */
/*
 * notify.c: the sender of notifications: a queue per receiver and a
 * thread per receiver that POSTs its head with libcurl, retrying with
 * backoff (notify.h has the bodies and the rules), so that a receiver slow
 * to answer holds back none but its own messages.
 */
#include "watch/notify.h"

#include "util/log.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void md_notify_config_init(struct md_notify_config *c)
{
    memset(c, 0, sizeof(*c));
    c->queue = 1000;
    c->max_attempts = 5;
    c->backoff_ms = 500;
    c->max_backoff_ms = 30000;
    c->timeout_ms = 5000;
}

static void receiver_release(struct md_receiver *r)
{
    free(r->name);
    free(r->url);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
}

void md_notify_config_release(struct md_notify_config *c)
{
    for (size_t i = 0; i < c->n; i++)
        receiver_release(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

int md_notify_config_find(const struct md_notify_config *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- the sender ----------------------------------------------------------- */

struct msg {
    struct msg *next;
    char *body;
    unsigned attempts; /* POSTs tried */
    int64_t next_ms;   /* monotonic: not before */
};

/* A receiver: its queue and the thread that sends it. */
struct rcv {
    struct md_notify *n;
    struct md_receiver cfg; /* a copy */
    struct msg *head;       /* guarded by n->mu */
    struct msg *tail;
    size_t len;
    uint64_t sent, failed, retried, dropped; /* guarded by n->mu */
    pthread_cond_t cv;                       /* signalled when a message comes, or at stop */
    pthread_t thread;
    bool started;
};

struct md_notify {
    pthread_mutex_t mu; /* guards every receiver's queue and counters */
    _Atomic bool stop;
    struct rcv *r; /* n */
    size_t n;
    size_t queue;
    unsigned max_attempts, backoff_ms, max_backoff_ms, timeout_ms;
    char *external_url;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    MD_UNUSED(p);
    MD_UNUSED(ctx);
    return size * n;
}

/* Ends a POST under way when the sender stops. */
static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    const struct md_notify *n = ctx;

    MD_UNUSED(dltotal);
    MD_UNUSED(dlnow);
    MD_UNUSED(ultotal);
    MD_UNUSED(ulnow);
    return atomic_load(&((struct md_notify *)n)->stop) ? 1 : 0;
}

/* POSTs body to r: the HTTP status, or 0 when no answer came (why in why). */
static long post(struct md_notify *n, CURL *curl, const struct rcv *r, const char *body, char *why,
                 size_t why_size)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURLcode rc;

    for (size_t i = 0; i < r->cfg.n_headers; i++) {
        char line[MD_ALERT_TEXT_MAX + MD_ALERT_NAME_MAX + 4];

        (void)snprintf(line, sizeof(line), "%s: %s", r->cfg.headers[i].name,
                       r->cfg.headers[i].value);
        headers = curl_slist_append(headers, line);
    }
    errbuf[0] = '\0';
    curl_easy_reset(curl);
    (void)curl_easy_setopt(curl, CURLOPT_URL, r->cfg.url);
    (void)curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    (void)curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
    (void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)n->timeout_ms);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    (void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(curl, CURLOPT_USERAGENT, "modeld/" MD_VERSION);
    (void)curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    (void)curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    (void)curl_easy_setopt(curl, CURLOPT_XFERINFODATA, n);
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    else
        (void)snprintf(why, why_size, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    return status;
}

static void pop(struct rcv *r)
{
    struct msg *m = r->head;

    r->head = m->next;
    if (r->head == NULL)
        r->tail = NULL;
    r->len--;
    free(m->body);
    free(m);
}

/* Waits on r's condition until a message may be due, wait_ms at most (-1: no limit). */
static void wait_for(struct md_notify *n, struct rcv *r, int64_t wait_ms)
{
    struct timespec ts;

    if (wait_ms < 0) {
        pthread_cond_wait(&r->cv, &n->mu);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&r->cv, &n->mu, &ts);
}

/* What to do after a POST answered status (0: no answer). */
static void settle(struct md_notify *n, struct rcv *r, long status, const char *why)
{
    struct msg *m = r->head;
    bool retry = status == 0 || status == 408 || status == 429 || status >= 500;
    char code[16];

    if (status >= 200 && status < 300) {
        r->sent++;
        pop(r);
        return;
    }
    (void)snprintf(code, sizeof(code), "%ld", status);
    if (retry && m->attempts < n->max_attempts && !atomic_load(&n->stop)) {
        int64_t delay = n->backoff_ms;

        for (unsigned i = 1; i < m->attempts && delay < n->max_backoff_ms; i++)
            delay *= 2;
        if (delay > n->max_backoff_ms)
            delay = n->max_backoff_ms;
        m->next_ms = mono_ms() + delay;
        r->retried++;
        return;
    }
    r->failed++;
    md_log_kv(MD_LOG_WARN, "notification not delivered", "receiver", r->cfg.name, "status",
              status != 0 ? code : "none", "reason",
              why[0] != '\0' ? why : (retry ? "attempts spent" : "refused by the receiver"),
              MD_KV_END);
    pop(r);
}

/* A receiver's thread: its messages in order, each until it is delivered or given up. */
static void *sender(void *arg)
{
    struct rcv *r = arg;
    struct md_notify *n = r->n;
    CURL *curl = curl_easy_init();

    pthread_mutex_lock(&n->mu);
    while (!atomic_load(&n->stop)) {
        int64_t now = mono_ms();
        char *body;
        char why[CURL_ERROR_SIZE];
        long status;

        if (r->head == NULL || r->head->next_ms > now) {
            wait_for(n, r, r->head == NULL ? -1 : r->head->next_ms - now);
            continue;
        }
        r->head->attempts++;
        body = r->head->body; /* the head stays queued: only this thread pops */
        why[0] = '\0';
        pthread_mutex_unlock(&n->mu);
        if (curl != NULL) {
            status = post(n, curl, r, body, why, sizeof(why));
        } else {
            status = 0;
            (void)snprintf(why, sizeof(why), "libcurl could not start");
        }
        pthread_mutex_lock(&n->mu);
        settle(n, r, status, why);
    }
    pthread_mutex_unlock(&n->mu);
    curl_easy_cleanup(curl);
    return NULL;
}

int md_notify_new(const struct md_notify_config *c, const char *external_url,
                  struct md_notify **out, struct md_err *err)
{
    struct md_notify *n = md_xcalloc(1, sizeof(*n));
    pthread_condattr_t ca;

    *out = NULL;
    n->queue = c->queue > 0 ? c->queue : 1000;
    n->max_attempts = c->max_attempts > 0 ? c->max_attempts : 1;
    n->backoff_ms = c->backoff_ms > 0 ? c->backoff_ms : 1;
    n->max_backoff_ms = c->max_backoff_ms >= n->backoff_ms ? c->max_backoff_ms : n->backoff_ms;
    n->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 5000;
    n->external_url = md_xstrdup(external_url != NULL ? external_url : "");
    n->r = md_xcalloc(c->n + 1, sizeof(*n->r));
    n->n = c->n;
    for (size_t i = 0; i < c->n; i++) {
        struct md_receiver *d = &n->r[i].cfg;
        const struct md_receiver *s = &c->v[i];

        *d = *s;
        d->name = md_xstrdup(s->name);
        d->url = md_xstrdup(s->url);
        d->headers = md_xcalloc(s->n_headers + 1, sizeof(*d->headers));
        for (size_t k = 0; k < s->n_headers; k++) {
            d->headers[k].name = md_xstrdup(s->headers[k].name);
            d->headers[k].value = md_xstrdup(s->headers[k].value);
        }
    }
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (size_t i = 0; i < n->n; i++) {
        n->r[i].n = n;
        pthread_cond_init(&n->r[i].cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < n->n; i++) {
        if (pthread_create(&n->r[i].thread, NULL, sender, &n->r[i]) != 0) {
            md_notify_free(n);
            return md_err_set(err, MD_EINTERNAL,
                              "cannot start the notification thread of receiver '%s'",
                              c->v[i].name);
        }
        n->r[i].started = true;
    }
    *out = n;
    return MD_OK;
}

void md_notify_free(struct md_notify *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->stop, true);
    for (size_t i = 0; i < n->n; i++)
        pthread_cond_signal(&n->r[i].cv);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < n->n; i++)
        if (n->r[i].started)
            pthread_join(n->r[i].thread, NULL);
    for (size_t i = 0; i < n->n; i++) {
        while (n->r[i].head != NULL)
            pop(&n->r[i]);
        receiver_release(&n->r[i].cfg);
        pthread_cond_destroy(&n->r[i].cv);
    }
    free(n->r);
    free(n->external_url);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

/* Queues body (taken) for receiver i. */
static void enqueue(struct md_notify *n, size_t i, char *body)
{
    struct rcv *r = &n->r[i];

    pthread_mutex_lock(&n->mu);
    if (r->len >= n->queue) {
        r->dropped++;
        pthread_mutex_unlock(&n->mu);
        free(body);
        md_log_kv(MD_LOG_WARN, "notification dropped: the receiver's queue is full", "receiver",
                  r->cfg.name, MD_KV_END);
        return;
    }
    {
        struct msg *m = md_xcalloc(1, sizeof(*m));

        m->body = body;
        m->next_ms = mono_ms();
        if (r->tail != NULL)
            r->tail->next = m;
        else
            r->head = m;
        r->tail = m;
        r->len++;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&n->mu);
}

/* ---- bodies --------------------------------------------------------------- */

static void put_str(struct md_buf *b, const char *s)
{
    (void)md_buf_json_str(b, s, strlen(s));
}

int md_notify_alert_body(const struct md_alert_transition *t, const char *receiver,
                         const char *external_url, struct md_buf *b)
{
    const char *status = t->state == MD_ALERT_RESOLVED ? "resolved" : "firing";
    char key[MD_ALERT_NAME_MAX + 32];
    char url[1024];

    (void)snprintf(key, sizeof(key), "{}:{alertname=\"%s\"}", t->rule);
    (void)snprintf(url, sizeof(url), "%s/api/v1/alert-rules/%s", external_url, t->rule);
    (void)md_buf_puts(b, "{\"version\":\"4\",\"groupKey\":");
    put_str(b, key);
    (void)md_buf_printf(b, ",\"truncatedAlerts\":0,\"status\":\"%s\",\"receiver\":", status);
    put_str(b, receiver);
    (void)md_buf_puts(b, ",\"groupLabels\":{\"alertname\":");
    put_str(b, t->rule);
    (void)md_buf_printf(b, "},\"commonLabels\":%s,\"commonAnnotations\":%s,\"externalURL\":",
                        t->labels, t->annotations);
    put_str(b, external_url);
    (void)md_buf_printf(b,
                        ",\"alerts\":[{\"status\":\"%s\",\"labels\":%s,\"annotations\":%s,"
                        "\"startsAt\":",
                        status, t->labels, t->annotations);
    md_buf_json_time_ms(b, t->fired_ms != 0 ? t->fired_ms : t->at_ms);
    (void)md_buf_puts(b, ",\"endsAt\":");
    if (t->state == MD_ALERT_RESOLVED)
        md_buf_json_time_ms(b, t->at_ms);
    else
        (void)md_buf_puts(b, "\"0001-01-01T00:00:00Z\"");
    (void)md_buf_puts(b, ",\"generatorURL\":");
    put_str(b, url);
    (void)md_buf_printf(b, ",\"fingerprint\":\"%s\"}]}", t->fingerprint);
    return md_buf_error(b);
}

static bool names(const struct md_alert_transition *t, const char *receiver)
{
    if (t->n_receivers == 0)
        return true;
    for (size_t i = 0; i < t->n_receivers; i++)
        if (strcmp(t->receivers[i], receiver) == 0)
            return true;
    return false;
}

void md_notify_alert(struct md_notify *n, const struct md_alert_transition *t)
{
    if (t->state != MD_ALERT_FIRING && t->state != MD_ALERT_RESOLVED)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct md_receiver *r = &n->r[i].cfg;
        struct md_buf b;

        if (!names(t, r->name) || (t->state == MD_ALERT_RESOLVED && !r->send_resolved))
            continue;
        md_buf_init(&b, (size_t)1 << 20);
        if (md_notify_alert_body(t, r->name, n->external_url, &b) == MD_OK &&
            md_buf_putc(&b, '\0') == MD_OK)
            enqueue(n, i, md_buf_detach(&b, NULL));
        md_buf_release(&b);
    }
}

void md_notify_event(struct md_notify *n, const struct md_notify_event *e)
{
    for (size_t i = 0; i < n->n; i++) {
        const struct md_receiver *r = &n->r[i].cfg;
        struct md_buf b;

        if (!r->events)
            continue;
        md_buf_init(&b, (size_t)1 << 20);
        (void)md_buf_puts(&b, "{\"version\":\"1\",\"kind\":\"event\",\"receiver\":");
        put_str(&b, r->name);
        (void)md_buf_puts(&b, ",\"externalURL\":");
        put_str(&b, n->external_url);
        (void)md_buf_printf(&b, ",\"event\":{\"id\":%lld,\"time\":", (long long)e->id);
        md_buf_json_time_ms(&b, e->at_ms);
        (void)md_buf_puts(&b, ",\"model\":");
        put_str(&b, e->model != NULL ? e->model : "");
        (void)md_buf_puts(&b, ",\"kind\":");
        put_str(&b, e->kind);
        (void)md_buf_puts(&b, ",\"message\":");
        put_str(&b, e->message);
        (void)md_buf_printf(&b, ",\"details\":%s}}",
                            e->details != NULL && e->details[0] != '\0' ? e->details : "{}");
        if (md_buf_putc(&b, '\0') == MD_OK)
            enqueue(n, i, md_buf_detach(&b, NULL));
        md_buf_release(&b);
    }
}

bool md_notify_has_receiver(const struct md_notify *n, const char *name)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->r[i].cfg.name, name) == 0)
            return true;
    return false;
}

bool md_notify_wants_events(const struct md_notify *n)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->r[i].cfg.events)
            return true;
    return false;
}

void md_notify_get_stats(struct md_notify *n, struct md_notify_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < n->n; i++) {
        out->sent += n->r[i].sent;
        out->failed += n->r[i].failed;
        out->retried += n->r[i].retried;
        out->dropped += n->r[i].dropped;
        out->queued += n->r[i].len;
    }
    pthread_mutex_unlock(&n->mu);
}

void md_notify_prom(struct md_notify *n, struct md_buf *b)
{
    static const char *const names_[] = {"sent", "failed", "retried", "dropped"};
    static const char *const help[] = {
        "Notifications a receiver took (a 2xx answer).",
        "Notifications given up: attempts spent, or refused by the receiver.",
        "Notifications tried again after a failure.",
        "Notifications dropped because the receiver's queue was full."};

    pthread_mutex_lock(&n->mu);
    for (size_t k = 0; k < MD_ARRAY_LEN(names_); k++) {
        (void)md_buf_printf(b,
                            "# HELP modeld_notifications_%s_total %s\n"
                            "# TYPE modeld_notifications_%s_total counter\n",
                            names_[k], help[k], names_[k]);
        for (size_t i = 0; i < n->n; i++) {
            const struct rcv *r = &n->r[i];
            uint64_t v = k == 0 ? r->sent : k == 1 ? r->failed : k == 2 ? r->retried : r->dropped;

            (void)md_buf_printf(b, "modeld_notifications_%s_total{receiver=\"%s\"} %llu\n",
                                names_[k], r->cfg.name, (unsigned long long)v);
        }
    }
    (void)md_buf_puts(b, "# HELP modeld_notifications_queued Notifications waiting to be sent.\n"
                         "# TYPE modeld_notifications_queued gauge\n");
    for (size_t i = 0; i < n->n; i++)
        (void)md_buf_printf(b, "modeld_notifications_queued{receiver=\"%s\"} %zu\n",
                            n->r[i].cfg.name, n->r[i].len);
    pthread_mutex_unlock(&n->mu);
}
