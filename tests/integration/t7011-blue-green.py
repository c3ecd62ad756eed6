#!/usr/bin/python3
"""Blue/green: two routes, blue (weight 100) and green (weight 0); all
traffic switches to green and back, each switch one policy change, under
load from several threads with no failed request, and every request sent
after a switch was acknowledged is answered by the new colour. The idle
colour stays loaded and reachable by version number and by alias (route
"direct"); moving an alias under load fails no request either."""
import shutil
import threading
import time

from harness import Daemon, clients, expect, run
import trafficlib as T


def colours(blue, green):
    return {"routes": [{"name": "blue", "version": "1", "weight": blue},
                       {"name": "green", "version": "2", "weight": green}]}


def test_switch_under_load_fails_nothing():
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", colours(100, 0))
        T.set_alias(d, "m", "blue", "1")
        T.set_alias(d, "m", "green", "2")
        log = []  # (start, end, version, route) of every request
        lock = threading.Lock()
        stop = threading.Event()

        def load(conn, i, deadline):
            mine = []
            while not stop.is_set() and time.time() < deadline:
                t0 = time.monotonic()
                st, v, route, data = T.infer(conn, "m")
                expect(st == 200, (st, data[:200]))
                mine.append((t0, time.monotonic(), v, route))
            with lock:
                log.extend(mine)

        switches = []  # (sent, acknowledged, colour now serving)
        runner = threading.Thread(target=clients, args=(d.port, 6, load, 60))
        runner.start()
        try:
            time.sleep(0.3)
            for k in range(10):
                colour = "green" if k % 2 == 0 else "blue"
                rev = T.traffic(d, "m")["revision"]
                sent = time.monotonic()
                T.set_traffic(d, "m", colours(0, 100) if colour == "green" else colours(100, 0),
                              revision=rev)
                switches.append((sent, time.monotonic(), colour))
                time.sleep(0.15)
                # The idle colour answers by number and by alias meanwhile.
                idle, idle_v = ("blue", "1") if colour == "green" else ("green", "2")
                c = T.conn(d)
                for name in (idle_v, idle):
                    st, v, route, data = T.infer(c, "m", version=name)
                    expect(st == 200 and v == idle_v and route == "direct", (name, st, v, route))
                c.close()
        finally:
            stop.set()
            runner.join()  # clients() fails the test on any failed request
        expect(len(log) > 500, "only %d requests under load" % len(log))
        want = {"blue": ("1", "blue"), "green": ("2", "green")}
        for k, (sent, acked, colour) in enumerate(switches):
            until = switches[k + 1][0] if k + 1 < len(switches) else float("inf")
            # Sent after the acknowledgement, answered before the next switch was sent.
            late = [e for e in log
                    if acked <= e[0] and e[1] < until and (e[2], e[3]) != want[colour]]
            expect(not late, "%d requests sent after switch %d to %s was acknowledged got %r"
                   % (len(late), k, colour, late[:3]) + " (switch sent %.6f, acknowledged %.6f)" % (sent, acked))
        seen = {(v, r) for _, _, v, r in log}
        expect(seen == {("1", "blue"), ("2", "green")}, seen)
        # Both colours stayed loaded: the policy names both (latest: 1 would keep only 2).
        vs = T.versions(d, "m")
        expect(vs["1"]["state"] == "READY" and vs["2"]["state"] == "READY", vs)
        expect(vs["1"]["traffic_percent"] == 100 and vs["2"]["traffic_percent"] == 0, vs)
    shutil.rmtree(repo)


def test_alias_moves_under_load_fail_nothing():
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", colours(50, 50))  # both loaded
        T.set_alias(d, "m", "live", "1")
        stop = threading.Event()
        seen = set()
        lock = threading.Lock()

        def load(conn, i, deadline):
            while not stop.is_set() and time.time() < deadline:
                st, v, route, data = T.infer(conn, "m", version="live")
                expect(st == 200 and route == "direct", (st, route, data[:200]))
                with lock:
                    seen.add(v)

        runner = threading.Thread(target=clients, args=(d.port, 4, load, 60))
        runner.start()
        try:
            for k in range(10):
                v = "2" if k % 2 == 0 else "1"
                T.set_alias(d, "m", "live", v)
                c = T.conn(d)
                st, got, _, _ = T.infer(c, "m", version="live")
                c.close()
                expect(st == 200 and got == v, "alias moved to %s, answered by %s" % (v, got))
                time.sleep(0.05)
        finally:
            stop.set()
            runner.join()
        expect(seen == {"1", "2"}, seen)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_switch_under_load_fails_nothing, test_alias_moves_under_load_fail_nothing])
