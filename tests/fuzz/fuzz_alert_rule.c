/* SPDX-License-Identifier: MIT */
/*
 * fuzz_alert_rule.c: libFuzzer target for alert rules and receivers.
 * Arbitrary bytes go two ways: as the JSON body of PUT
 * /api/v1/alert-rules/{name} (md_alert_rule_parse, against a registry of a
 * few signals), and as a --config file with the `alert_rules:` and
 * `receivers:` sections. An accepted rule must hold its invariants (a
 * finite threshold, a window above 0, an interval of a second or more, the
 * labels sorted) and read back from what it writes to the same text; a
 * refused one must say why; every receiver kept must have an http(s) URL.
 */
#include "control/alerting.h"
#include "control/settings.h"
#include "watch/alert_rule.h"

#include <math.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static int answer(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                  struct md_err *err)
{
    (void)ctx;
    (void)q;
    (void)err;
    out->value = 0;
    out->samples = 0;
    return MD_OK;
}

static struct md_signals *registry(void)
{
    static const struct md_signal_info infos[] = {
        {"error_rate", "ratio", NULL, "x"},
        {"latency_p99_ms", "ms", NULL, "x"},
        {"missing_rate", "ratio", "feature", "x"},
    };
    struct md_signals *s = md_signals_new();
    struct md_err err;

    for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
        CHECK(md_signals_add(s, &infos[i], answer, NULL, &err) == MD_OK);
    return s;
}

/* r's text, read back, is written the same. */
static void check_rule(const struct md_alert_rule *r, const struct md_signals *s)
{
    struct md_alert_rule *back = NULL;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;

    CHECK(isfinite(r->threshold) && r->window_ms > 0 && r->for_ms >= 0 && r->interval_ms >= 1000 &&
          r->model[0] != '\0' && r->metric[0] != '\0');
    for (size_t i = 1; i < r->n_labels; i++)
        CHECK(strcmp(r->labels[i - 1].name, r->labels[i].name) < 0);
    md_buf_init(&a, 1 << 20);
    md_buf_init(&b, 1 << 20);
    CHECK(md_alert_rule_format(r, &a) == MD_OK);
    CHECK(md_alert_rule_parse(r->name, a.data, a.len, s, &back, &err) == MD_OK);
    CHECK(md_alert_rule_format(back, &b) == MD_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    md_alert_rule_free(back);
    md_buf_release(&a);
    md_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_signals *signals;
    struct md_alert_rule *r = NULL;
    struct md_settings s;
    struct md_err err = {0};
    int rc;

    if (signals == NULL)
        signals = registry();
    rc = md_alert_rule_parse("fuzz_rule", (const char *)data, size, signals, &r, &err);
    if (rc == MD_OK)
        check_rule(r, signals);
    else
        CHECK(r == NULL && (rc == MD_EINVAL || rc == MD_ETOOBIG) && err.msg[0] != '\0');
    md_alert_rule_free(r);

    md_settings_init(&s);
    {
        const struct md_config_section sections[] = {
            {"alert_rules", md_alert_rules_parse, &s.alerting},
            {"receivers", md_receivers_parse, &s.alerting},
        };

        rc = md_config_parse(&s.config, (const char *)data, size, "fuzz.yaml", sections, 2, &err);
    }
    if (rc != MD_OK) {
        CHECK(err.msg[0] != '\0');
    } else {
        for (size_t i = 0; i < s.alerting.n_rules; i++) {
            rc = md_alert_rule_parse(s.alerting.rules[i].name, s.alerting.rules[i].json,
                                     strlen(s.alerting.rules[i].json), NULL, &r, &err);
            CHECK(rc == MD_OK);
            md_alert_rule_free(r);
        }
        for (size_t i = 0; i < s.alerting.notify.n; i++)
            CHECK(strncmp(s.alerting.notify.v[i].url, "http", 4) == 0);
    }
    md_settings_release(&s);
    return 0;
}
