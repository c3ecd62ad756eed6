#!/usr/bin/python3
"""A full ring drops and counts, and never fails nor holds up a prediction:
with --log-ring 1 a two-row request cannot fit (both records dropped and
counted, the answer 200), and a burst from several clients leaves written +
dropped equal to the rows answered, every answer 200; the ring's depth and
capacity are in /metrics; a writer kept from every CPU by busy processes
still writes (it leaves the idle class); --log-ring 0 turns the log off."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from harness import Daemon, expect, run, wait_for
from predloglib import ROW, ROW2, keyed_repo, metric, v2_body


def test_tiny_ring_drops_and_counts():
    tmp = tempfile.mkdtemp(prefix="modeld-t6205-")
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data"),
                    args=["--log-ring", "1"]) as d:
            expect(metric(d, "modeld_predlog_ring_capacity") == 1, "capacity")
            st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW, ROW2]))
            expect(st == 200, doc)
            expect(metric(d, "modeld_predlog_records_dropped_total") == 2, "two rows dropped")
            answers = []

            def burst():
                for _ in range(50):
                    answers.append(d.json("POST", "/v2/models/fraud/infer", v2_body([ROW]))[0])

            threads = [threading.Thread(target=burst) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            expect(answers.count(200) == 200, answers)

            def balanced():
                w = metric(d, "modeld_predlog_records_written_total")
                x = metric(d, "modeld_predlog_records_dropped_total")
                return w + x == 202 and metric(d, "modeld_predlog_ring_depth") == 0

            expect(wait_for(balanced), (metric(d, "modeld_predlog_records_written_total"),
                                        metric(d, "modeld_predlog_records_dropped_total")))
            expect(metric(d, "modeld_predlog_batches_total") >= 1, "batches")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_writer_leaves_the_idle_class_when_starved():
    """The writer waits in the idle scheduling class; with every CPU kept busy it would
    never run: the control loop's tick puts it back at nice 10 and the records land."""
    tmp = tempfile.mkdtemp(prefix="modeld-t6205-")
    spinners = []
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data")) as d:
            spin = ("import sys, time\nend = time.time() + 20\nprint('spinning', flush=True)\n"
                    "while time.time() < end: pass\n")
            spinners = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE)
                        for _ in range(2 * (os.cpu_count() or 2))]
            for p in spinners:
                expect(p.stdout.readline() == b"spinning\n", "a spinner did not start")
            expect(metric(d, "modeld_predlog_writer_idle") == 1, "the writer is not idle")
            # Enough rows that the writer needs a share of a CPU, not a crumb: when the idle
            # class gets it none for a second, the tick takes it out
            # (modeld_predlog_writer_promotions_total).
            for _ in range(10):
                st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW, ROW2] * 100))
                expect(st == 200, doc)
            expect(wait_for(lambda: metric(d, "modeld_predlog_records_written_total") == 2000,
                            30), metric(d, "modeld_predlog_records_written_total"))
    finally:
        for p in spinners:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_log_off():
    tmp = tempfile.mkdtemp(prefix="modeld-t6205-")
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data"),
                    args=["--log-ring", "0"]) as d:
            st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW]))
            expect(st == 200, doc)
            expect(metric(d, "modeld_predlog_ring_capacity") is None, "log figures while off")
            st, doc, _ = d.json("GET", "/api/v1/predictions")
            expect(st == 200 and doc["predictions"] == [], doc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_tiny_ring_drops_and_counts, test_writer_leaves_the_idle_class_when_starved,
         test_log_off])
