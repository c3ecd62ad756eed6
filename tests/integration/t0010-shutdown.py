#!/usr/bin/python3
"""Graceful shutdown with keep-alive clients: on SIGTERM, readiness turns
503 at once while predictions keep being served for --shutdown-delay
seconds; then the listener closes (a new connection is refused), every
request already sent on an open connection is answered, with
`Connection: close`, and the process exits promptly. No request sent on an
established connection loses its answer."""
import http.client
import json
import signal
import socket
import threading
import time

from harness import Daemon, expect, run, v2_row

CLIENTS = 6
DELAY_S = 1.0
EXIT_BOUND_S = 2.5  # from the end of the delay to the process's exit


class Client(threading.Thread):
    """Sends predictions on one keep-alive connection after another until a
    new connection is refused. Each request is counted as answered, or as
    lost when it was sent (or its sending began) on an established
    connection and no full answer came back."""

    def __init__(self, port, body):
        super().__init__()
        self.port = port
        self.body = body
        self.answered = 0
        self.lost = []
        self.refused = False
        self.closes = 0            # answers that carried Connection: close
        self.keepalive_after = []  # keep-alive answers after a close was seen elsewhere
        self.statuses = {}
        self.times_close = []      # when each Connection: close answer came

    def run(self):
        conn = None
        deadline = time.time() + 60
        while time.time() < deadline:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                try:
                    conn.connect()
                except ConnectionRefusedError:
                    self.refused = True
                    return
                except OSError as e:
                    self.lost.append("connect: %r" % e)
                    return
            try:
                conn.request("POST", "/v2/models/bench/infer", self.body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException) as e:
                self.lost.append(repr(e))
                conn.close()
                conn = None
                continue
            self.answered += 1
            self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
            if (r.getheader("Connection") or "").lower() == "close":
                self.closes += 1
                self.times_close.append(time.time())
                conn.close()
                conn = None


def test_keepalive_clients_lose_nothing_through_sigterm():
    with Daemon(examples=False, args=["--shutdown-delay", "%g" % DELAY_S]) as d:
        body = json.dumps(v2_row([0.25] * 30))
        clients = [Client(d.port, body) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        deadline = time.time() + 10
        while time.time() < deadline and sum(c.answered for c in clients) < 200:
            time.sleep(0.01)
        expect(sum(c.answered for c in clients) >= 200, "clients not under way")

        t_term = time.time()
        d.signal(signal.SIGTERM)
        # During the delay: readiness is 503 (on a new connection each time),
        # liveness and predictions still answer 200.
        # The signal takes a moment to arrive: readiness turns 503 within 0.3 s.
        while time.time() < t_term + 0.3:
            st, _, _ = d.request("GET", "/v2/health/ready", timeout=5)
            if st == 503:
                break
        expect(st == 503, "readiness still %d after SIGTERM" % st)
        ready = []
        while time.time() < t_term + DELAY_S * 0.8:
            for path in ("/v2/health/ready", "/v2/models/bench/ready"):
                st, _, _ = d.request("GET", path, timeout=5)
                ready.append(st)
            if len(ready) == 2:
                st2, _, _ = d.request("POST", "/v2/models/bench/infer", body,
                                      {"Content-Type": "application/json"}, timeout=5)
                expect(st2 == 200, "a prediction during the delay got %d" % st2)
            time.sleep(0.05)
        expect(len(ready) >= 4 and all(st == 503 for st in ready),
               "readiness during the delay: %r" % ready)
        answered_in_delay = sum(c.answered for c in clients)

        for c in clients:
            c.join(30)
        rc = d.proc.wait(timeout=30)
        t_exit = time.time()
        lost = [x for c in clients for x in c.lost]
        statuses = {}
        for c in clients:
            for k, v in c.statuses.items():
                statuses[k] = statuses.get(k, 0) + v
        print("answered %d (%d in the delay's first %.1f s), statuses %r, lost %d, "
              "Connection: close answers %d, exit %.2f s after SIGTERM"
              % (sum(c.answered for c in clients), answered_in_delay, DELAY_S * 0.8, statuses,
                 len(lost), sum(c.closes for c in clients), t_exit - t_term))
        expect(rc == 0, "exit status %d" % rc)
        expect(not lost, "requests lost on established connections: %r" % lost[:5])
        expect(set(statuses) == {200}, statuses)
        # Every client was told to close and then found the listener closed.
        expect(all(c.refused for c in clients), [c.refused for c in clients])
        expect(all(c.closes >= 1 for c in clients), [c.closes for c in clients])
        # Predictions were served through the delay, and no close came before it.
        for c in clients:
            expect(all(t >= t_term + DELAY_S - 0.05 for t in c.times_close),
                   "Connection: close before the delay ended")
        expect(t_exit - t_term < DELAY_S + EXIT_BOUND_S,
               "exit %.2f s after SIGTERM" % (t_exit - t_term))
        logs = d.logs()
        expect("shutting down" in logs and "stopped" in logs, logs[-2000:])


def test_idle_connection_is_closed_and_exit_is_prompt():
    # A keep-alive connection that sends nothing does not hold the exit up,
    # and a second signal ends the delay early.
    with Daemon(examples=False, args=["--shutdown-delay", "30"]) as d:
        idle = socket.create_connection(("127.0.0.1", d.port))
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.request("GET", "/v2/health/live")
        r = c.getresponse()
        r.read()
        expect(r.status == 200, r.status)
        t0 = time.time()
        d.signal(signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline:
            st, _, _ = d.request("GET", "/v2/health/ready", timeout=5)
            if st == 503:
                break
            time.sleep(0.02)
        expect(st == 503, "ready %d after SIGTERM" % st)
        d.signal(signal.SIGTERM)
        rc = d.proc.wait(timeout=10)
        expect(rc == 0, "exit status %d" % rc)
        expect(time.time() - t0 < 5, "exit %.2f s after SIGTERM" % (time.time() - t0))
        idle.settimeout(5)
        expect(idle.recv(100) == b"", "the idle connection was not closed")
        idle.close()
        c.close()


def test_bad_shutdown_delay():
    import subprocess
    from harness import MODELD
    p = subprocess.run([MODELD, "--shutdown-delay", "x"], capture_output=True, text=True)
    expect(p.returncode == 2, p.returncode)
    expect("--shutdown-delay" in p.stderr, p.stderr)


if __name__ == "__main__":
    run([test_keepalive_clients_lose_nothing_through_sigterm,
         test_idle_connection_is_closed_and_exit_is_prompt,
         test_bad_shutdown_delay])
