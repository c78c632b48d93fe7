#!/usr/bin/env python3
"""Hostile-connection drill: one address (127.0.0.1) opens IDLE idle sockets and SLOW slowloris
connections (headers trickled a byte at a time); meanwhile an ordinary reader from another address
(127.0.0.2) asks /healthz and a thread page, and we report their latency percentiles.

    scripts/hostile.py [--bin target/release/saring] [--idle 5000] [--slow 500] [--nofile 1024]

Report flood (`--reports N`, instead of the connection drill): one published comment gets N
reports, each from its own IPv6 /64 (`X-Forwarded-For: 2001:db8:X:Y::1` through loopback as a
trusted proxy), PARALLEL at a time, with the default rate limits on; then a moderator reads the
comment and decides on it. Prints the statuses seen, the reports/s, the stored count and the
decision's latency; fails on any 5xx or a decision that does not go through.

    scripts/hostile.py --reports 20000 [--parallel 32]

Starts its own server (rate limits off, a temporary data folder) on a free port. `--nofile` runs
the server under that soft file-descriptor limit (and hard limit, so it cannot be raised), as
`ulimit -n 1024` would. Needs Linux (127.0.0.2 is routed to loopback) and a client fd limit above
IDLE + SLOW.
"""
import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_up(port, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("server did not start")


def request(port, path, source="127.0.0.2"):
    """One GET on a fresh connection from `source`; seconds taken, or None on failure."""
    start = time.perf_counter()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        if not data.startswith(b"HTTP/1.1 200"):
            return None
        return time.perf_counter() - start
    except OSError:
        return None


MOD_TOKEN = "hostile-drill-moderator-token-0123456789"


def solve(question):
    """The blank of a sum like `[ ] − 3 = 3`, found by trying every candidate."""
    text = question.replace("\u2212", "-").replace("\u00d7", "*").replace("[ ]", "X")
    left, right = text.split("=")
    for x in range(0, 1_000_001):
        l, r = left.replace("X", str(x)), right.replace("X", str(x))
        if eval(l) == eval(r):  # noqa: S307 -- digits and + - * only, from our own server
            return x
    sys.exit(f"cannot solve {question!r}")


def call(conn, method, path, body=None, headers=None):
    """One request on a kept-alive connection; (status, parsed JSON or None)."""
    import json
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, None


def report_flood(args):
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    data = tempfile.mkdtemp(prefix="saring-reports-")
    env = dict(os.environ, RUST_LOG="warn", SARING_LOG="warn",
               SARING_TRUSTED_PROXIES="127.0.0.1/32",
               # The drill is about reports: its one comment posts the sum alone.
               SARING_POW_DIFFICULTY="0",
               SARING_MODERATOR_TOKENS=f"drill:{MOD_TOKEN}")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        thread = "berita-banjir-laporan"
        _, c = call(conn, "GET", f"/api/v1/captcha?thread={thread}")
        status, posted = call(conn, "POST", f"/api/v1/threads/{thread}/comments", {
            # A name and text the default policy (learned model included) publishes.
            "author_name": "Pembaca", "author_email": "pembaca@contoh.id",
            "body": "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan.",
            "captcha_token": c["token"], "captcha_answer": solve(c["question"]),
        })
        if status != 201 or posted["status"] != "published":
            sys.exit(f"the comment was not published: {status} {posted}")
        cid = posted["id"]

        local = threading.local()

        def one(n):
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ip = f"2001:db8:{n >> 16:x}:{n & 0xffff:x}::1"
            try:
                return call(local.conn, "POST", f"/api/v1/comments/{cid}/flag",
                            {"reason": "kasar"}, {"X-Forwarded-For": ip})[0]
            except (OSError, http.client.HTTPException):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                return 0

        start = time.perf_counter()
        with ThreadPoolExecutor(args.parallel) as pool:
            statuses = list(pool.map(one, range(args.reports)))
        took = time.perf_counter() - start
        seen = {}
        for st in statuses:
            seen[st] = seen.get(st, 0) + 1

        auth = {"Authorization": f"Bearer {MOD_TOKEN}"}
        # The first connection sat idle through the flood and was closed (idle_seconds).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t = time.perf_counter()
        status, record = call(conn, "GET", f"/api/v1/mod/comments/{cid}", headers=auth)
        read_ms = (time.perf_counter() - t) * 1000
        if status != 200:
            sys.exit(f"the moderator record did not load: {status} {record}")
        t = time.perf_counter()
        status, decided = call(conn, "POST", f"/api/v1/mod/comments/{cid}/decision",
                               {"action": "reject", "expected_version": record["version"]},
                               auth)
        decide_ms = (time.perf_counter() - t) * 1000
        print(f"{args.reports} reports from distinct /64s, {args.parallel} at a time: "
              f"{took:.2f} s ({args.reports / took:.0f}/s), statuses {dict(sorted(seen.items()))}")
        print(f"moderator record: {record['reports']} reports stored "
              f"(capped: {record['reports_capped']}), {len(record['history'])} events, "
              f"read in {read_ms:.1f} ms")
        print(f"decision: {status} {decided.get('status') if decided else ''} in {decide_ms:.1f} ms")
        bad = sum(n for st, n in seen.items() if st >= 500 or st == 0)
        return 0 if bad == 0 and status == 200 else 1
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/saring")
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--slow", type=int, default=500)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--reports", type=int, default=0,
                    help="run the report flood with this many reports instead")
    ap.add_argument("--parallel", type=int, default=32)
    args = ap.parse_args()
    if args.reports:
        return report_flood(args)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.idle + args.slow + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    port = free_port()
    data = tempfile.mkdtemp(prefix="saring-hostile-")
    env = dict(os.environ, SARING_RATE_LIMITS="off", RUST_LOG="warn", SARING_LOG="warn")

    def limit():
        if args.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))

    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
        env=env,
        preexec_fn=limit,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(port)
        baseline = [t for t in (request(port, "/healthz") for _ in range(50)) if t]

        idle, slow, refused = [], [], 0
        for _ in range(args.idle):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                refused += 1
        for _ in range(args.slow):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
                slow.append(s)
            except OSError:
                refused += 1

        stop = threading.Event()

        def trickle():
            # One header byte per socket per second: the classic slowloris.
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                stop.wait(1)

        threading.Thread(target=trickle, daemon=True).start()

        times, failures = [], 0
        paths = ["/healthz", "/api/v1/threads/berita-uji/comments"]
        for i in range(args.samples):
            t = request(port, paths[i % 2])
            if t is None:
                failures += 1
            else:
                times.append(t)
        stop.set()

        def alive(socks):
            n = 0
            for s in socks:
                s.setblocking(False)
                try:
                    n += s.recv(1, socket.MSG_PEEK) != b""
                except BlockingIOError:
                    n += 1
                except OSError:
                    pass
            return n

        def pct(xs, p):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")

        print(f"server fd limit: {args.nofile or 'unchanged'}")
        print(f"flood from 127.0.0.1: {args.idle} idle + {args.slow} slowloris opened, "
              f"{refused} refused at connect, {alive(idle) + alive(slow)} still open after the run")
        print(f"baseline /healthz from 127.0.0.2: median {statistics.median(baseline) * 1000:.2f} ms")
        print(f"ordinary requests from 127.0.0.2 during the flood: {len(times)} ok, {failures} failed; "
              f"p50 {pct(times, 0.5):.2f} ms, p99 {pct(times, 0.99):.2f} ms, max {pct(times, 1.0):.2f} ms")
        for s in idle + slow:
            s.close()
        return 0 if failures == 0 and pct(times, 0.99) < 100 else 1
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
