#!/usr/bin/python3
# slow
"""5,000 connections that never send a byte (more than the default 4,096
connection slots) do not lock new clients out: a new client is served
within a few seconds and later ones too. modeld raises its own open-file
limit to the hard limit, since the usual soft limit (1024) is below its
default --max-connections."""
import resource
import socket
import time

from harness import Daemon, expect, run

IDLE = 5000


def ask(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    finally:
        s.close()


def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return line.split()[3:5]
    raise AssertionError("no open-file limit for %d" % pid)


def test_5000_idle_connections_do_not_lock_out_new_clients():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 1000:
        raise AssertionError("the hard open-file limit %d is below what this test needs" % hard)
    # modeld starts with the usual soft limit and must raise it itself.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        d = Daemon(examples=False)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    idle = []
    with d:
        lim = soft_nofile(d.proc.pid)
        expect(lim[0] == lim[1], "modeld's open-file limit: soft %s, hard %s" % tuple(lim))
        try:
            for _ in range(IDLE):
                idle.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
            t_open = time.time()
            deadline = time.time() + 15
            statuses = []
            while time.time() < deadline:
                try:
                    st = ask(d.port)
                except OSError as e:
                    st = repr(e)
                statuses.append(st)
                if st == 200:
                    break
                time.sleep(0.1)
            waited = time.time() - t_open
            print("%d idle connections; a new client served %.2f s after the last opened "
                  "(%d tries)" % (len(idle), waited, len(statuses)))
            expect(statuses[-1] == 200, "never served: %r" % statuses[-5:])
            expect(waited < 5, "served only after %.2f s" % waited)
            for _ in range(100):
                st = ask(d.port)
                expect(st == 200, "a later new client got %r" % st)
            st, _, _ = d.request("GET", "/v2/health/ready")
            expect(st == 200, st)
        finally:
            for s in idle:
                s.close()

if __name__ == "__main__":
    run([test_5000_idle_connections_do_not_lock_out_new_clients])
