#!/usr/bin/env python3
"""Hostile-connection drill: one address (127.0.0.1) opens IDLE idle sockets and SLOW slowloris
connections (headers trickled a byte at a time); meanwhile an ordinary reader from another address
(127.0.0.2) asks /healthz and a thread page, and we report their latency percentiles.

    scripts/hostile.py [--bin target/release/saring] [--idle 5000] [--slow 500] [--nofile 1024]

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/saring")
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--slow", type=int, default=500)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()

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
