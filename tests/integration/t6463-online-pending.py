#!/usr/bin/python3
"""Online learning of labels that arrive before their prediction is
logged: feedback posted for request ids not yet predicted waits
(pending); once the predictions come and the items attach, the learner,
which had already moved past their ids, looks at them again and learns
every one."""
import shutil
import tempfile
import os

from feedbacklib import db_rows, post, rng_for
from harness import Daemon, expect, run, wait_for
from onlinelib import online_repo, rows, send, start_learning, truth, updates, wait_learned

ONLINE = "online: {learning_rate: 0.5, snapshot_updates: 0, snapshot_s: 0}\n"


def test_pending_labels_learned():
    tmp = tempfile.mkdtemp(prefix="modeld-t6463-")
    rng = rng_for(6463)
    try:
        with Daemon(repo=online_repo(tmp, ONLINE), data=os.path.join(tmp, "data")) as d:
            start_learning(d, rng)
            batch = rows(30, rng)
            doc = post(d, {"model": "ol", "items": [{"request_id": "early-%d" % i, "row": 0,
                                                     "label": truth(r)}
                                                    for i, r in enumerate(batch)]})
            expect(doc["stored"] == 30 and
                   all(it["state"] == "pending" for it in doc["items"]), doc)
            # later labels move the learner's cursor past the pending items' ids
            before = updates(d)
            send(d, rows(10, rng), "later")
            wait_learned(d, before + 10)
            for i, r in enumerate(batch):
                st, _, _ = d.json("POST", "/v2/models/ol/infer",
                                  {"inputs": [{"name": "x0", "datatype": "FP32", "shape": [1],
                                               "data": [r[0]]},
                                              {"name": "x1", "datatype": "FP32", "shape": [1],
                                               "data": [r[1]]}]},
                                  {"X-Request-Id": "early-%d" % i})
                expect(st == 200, st)
            attached = "SELECT count(*) AS n FROM feedback WHERE request_id LIKE 'early-%' " \
                       "AND state = 'attached'"
            expect(wait_for(lambda: db_rows(d.data, attached)[0]["n"] == 30, 20),
                   db_rows(d.data, attached))
            wait_learned(d, before + 40)
            expect(updates(d) == before + 40, (updates(d), before))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_pending_labels_learned])
