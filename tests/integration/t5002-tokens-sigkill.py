#!/usr/bin/python3
"""A token made or revoked through the API is stored before its answer:
three clients make tokens (POST /api/v1/tokens) and revoke some of them
(DELETE /api/v1/tokens/{name}) while the daemon is killed with SIGKILL in
the middle; after a restart on the same store every token whose making was
answered 201 authenticates, unless its revocation was asked for (a
revocation asked for but not answered may or may not have been made), and
every token whose revocation was answered 200 is refused (401)."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import Daemon, MODELD, expect, run

CLIENTS = 3
PER_CLIENT = 400  # a bound: the kill comes long before


def offline_admin(data):
    p = subprocess.run([MODELD, "token", "create", "--data", data, "--role", "admin",
                        "--name", "root"], capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (p.returncode, p.stderr))
    return p.stdout.strip()


def ready(d, h):
    """Waits until d answers health as ready with the headers h."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if d.request("GET", "/v2/health/ready", headers=h, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("not ready:\n" + d.logs())


def client(port, root, k, made, revoked, asked, stop):
    """Makes tokens c<k>-<i>; revokes every third one made. Records what was acknowledged."""
    h = {"Authorization": "Bearer " + root, "Content-Type": "application/json"}
    for i in range(PER_CLIENT):
        if stop.is_set():
            return
        name = "c%d-%d" % (k, i)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/api/v1/tokens", json.dumps({"role": "viewer", "name": name}), h)
            r = c.getresponse()
            body = r.read()
            if r.status == 201:
                made[name] = json.loads(body)["token"]
            if r.status == 201 and i % 3 == 0:
                asked.add(name)  # from here its state is the daemon's until answered
                c.request("DELETE", "/api/v1/tokens/" + name, headers=h)
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    revoked.add(name)
            c.close()
        except (OSError, http.client.HTTPException, ValueError):
            return  # the daemon is gone


def test_tokens_survive_sigkill():
    tmp = tempfile.mkdtemp(prefix="modeld-t5002-")
    try:
        data = os.path.join(tmp, "data")
        root = offline_admin(data)
        made, revoked, asked = {}, set(), set()
        stop = threading.Event()
        d = Daemon(args=["--auth"], data=data, wait=False)
        try:
            ready(d, {"Authorization": "Bearer " + root})
            threads = [threading.Thread(target=client, args=(d.port, root, k, made, revoked,
                                                             asked, stop)) for k in range(CLIENTS)]
            for t in threads:
                t.start()
            # Kill once a fair number are acknowledged, while the clients go on.
            deadline = time.time() + 60
            while len(made) < 60 and time.time() < deadline:
                time.sleep(0.01)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(timeout=10)
            stop.set()
            for t in threads:
                t.join(timeout=30)
        finally:
            d.stop(check=False)
        expect(len(made) >= 60 and revoked, (len(made), len(revoked)))
        with Daemon(args=["--auth"], data=data, wait=False) as d2:
            ready(d2, {"Authorization": "Bearer " + root})
            lost, alive = [], []
            for name, secret in sorted(made.items()):
                st, _, _ = d2.request("GET", "/v2", headers={"Authorization": "Bearer " + secret})
                if name in revoked and st != 401:
                    alive.append((name, st))
                if name not in asked and st != 200:
                    lost.append((name, st))
            expect(not lost, "tokens acknowledged but lost: %r" % lost[:5])
            expect(not alive, "revocations acknowledged but lost: %r" % alive[:5])
            print("%d tokens made and %d revoked before the kill; all as answered" %
                  (len(made), len(revoked)))
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    run([test_tokens_survive_sigkill])
