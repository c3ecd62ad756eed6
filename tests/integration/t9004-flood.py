#!/usr/bin/python3
# slow
"""A flood of several times the server's capacity for a bounded time: the
server stays up, its memory stays under a bound, every request gets an answer
(a success or a refusal) and none hangs, and it serves normally right after."""
import http.client
import json
import threading
import time

from harness import Daemon, expect, run, status_kib, v2_row

CLIENTS = 64
SECONDS = 5.0
RSS_BOUND_MIB = 512


def test_flood():
    big = v2_row([0.3] * 30)
    big["inputs"][0]["shape"] = [500, 30]
    big["inputs"][0]["data"] = [0.3] * (500 * 30)
    bodies = [json.dumps(v2_row([0.1] * 30)), json.dumps(big)]
    with Daemon(examples=False) as d:
        stats = {"ok": 0, "refused": 0, "error": [], "max_rss": 0}
        lock = threading.Lock()
        stop = time.time() + SECONDS

        def client(i):
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
            ok = refused = 0
            errors = []
            n = 0
            while time.time() < stop and n < 100000:
                n += 1
                try:
                    c.request("POST", "/v2/models/bench/infer", bodies[(i + n) % 7 == 0])
                    r = c.getresponse()
                    r.read()
                    if r.status == 200:
                        ok += 1
                    elif r.status in (429, 503):
                        refused += 1
                    else:
                        errors.append(r.status)
                except (ConnectionError, http.client.RemoteDisconnected):
                    refused += 1  # refused at the door: an answer, not a hang
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
                except Exception as e:  # noqa: BLE001 - a timeout is a hang: counted
                    errors.append(repr(e))
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
            c.close()
            with lock:
                stats["ok"] += ok
                stats["refused"] += refused
                stats["error"] += errors[:3]

        def watch():
            while time.time() < stop:
                stats["max_rss"] = max(stats["max_rss"], status_kib(d.proc.pid) / 1024)
                time.sleep(0.1)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        w = threading.Thread(target=watch)
        w.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        w.join(10)
        print("flood: %d ok, %d refused, %d errors, max RSS %.0f MiB"
              % (stats["ok"], stats["refused"], len(stats["error"]), stats["max_rss"]))
        expect(not any(t.is_alive() for t in threads), "a client hung")
        expect(not stats["error"], stats["error"])
        expect(stats["ok"] > 0, stats)
        expect(stats["max_rss"] < RSS_BOUND_MIB, "RSS %.0f MiB" % stats["max_rss"])
        expect(d.proc.poll() is None, "server died")
        t0 = time.time()
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)
        expect(time.time() - t0 < 1.0, "slow right after the flood")


if __name__ == "__main__":
    run([test_flood])
