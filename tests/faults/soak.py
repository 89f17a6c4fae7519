#!/usr/bin/python3
"""soak.py: runs parleyd for a long time at a steady rate with connections coming and going,
and records per slice (default one minute) its RSS, open file descriptors, database size and
message latency, into a CSV and (with python3-matplotlib) a PNG plot.

Load: one parley-bench run per slice (--clients clients connect, send at --rate messages/s
in private chats for the slice, and disconnect: every slice's connections are new), plus a
churn thread that keeps opening a connection, resuming a session, sending one message and
closing (about --churn per second). The server is the parleyd of PARLEY_BIN (build/bin, or
build-asan/bin for the sanitizer run), started on a temporary data directory and stopped
with SIGTERM at the end: it must exit 0 with no sanitizer report in its log.

After each slice: VmRSS and the entries of /proc/PID/fd of parleyd, the bytes of
parley.db + -wal + -shm, the messages kept so far (acknowledged by the bench and the churn
thread) and the bytes per kept message, the slice's delivery latency p50/p99 and throughput
as parley-bench measured them.

--check applies generous bounds that only catch growth without bound (a leak of memory or
descriptors): the last slice's fds at most the first's + 32, its RSS at most 1.5x the
first's + 64 MiB. It is what tests/faults/test_faults.py runs in `make test`; `make soak`
runs the hour (SOAK_MINUTES, SOAK_RATE) and `make soak-asan` ten minutes under ASan/LSan.
"""
import argparse
import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import wire  # noqa: E402
from wire import Closed  # noqa: E402

_spec = importlib.util.spec_from_file_location("parley_it_conftest_soak",
                                               HERE.parent / "integration" / "conftest.py")
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)

FIELDS = ["slice", "elapsed_s", "rss_kb", "fds", "db_bytes", "messages_kept",
          "bytes_per_message", "p50_ms", "p99_ms", "delivered_per_s", "lost", "churn_conns"]


class Churn(threading.Thread):
    """Connections coming and going: resume, send one message, close; about `rate`/s."""

    def __init__(self, server, rate):
        super().__init__(daemon=True)
        self.server, self.rate = server, rate
        self.stop_ev = threading.Event()
        self.conns = self.sent = 0
        self.errors = []
        a = wire.register(server, "soak")
        b = wire.register(server, "soakb")
        self.token, self.chat = a.token, a.open_chat(b.username).id
        a.close()
        b.close()

    def run(self):
        period = 1.0 / self.rate
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                c = wire.resume(self.server, self.token)
                c.send(self.chat, f"churn {self.conns} {secrets.token_hex(4)}")
                c.close()
                self.conns += 1
                self.sent += 1
            except (Closed, OSError, TimeoutError, wire.ServerError) as e:
                self.errors.append(repr(e))
            # pacing of a load generator, not a test waiting for an event
            self.stop_ev.wait(max(0.0, period - (time.monotonic() - t0)))


def proc_sample(pid, data):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    db = sum((data / n).stat().st_size for n in ("parley.db", "parley.db-wal", "parley.db-shm")
             if (data / n).exists())
    return rss, fds, db


def bench_slice(bench, server, args, seconds):
    warm = 2 if seconds >= 20 else 1
    cmd = [str(bench), "--server", f"wss://127.0.0.1:{server.port}", "--ca", str(server.ca),
           "--server-pid", str(server.proc.pid), "--clients", str(args.clients),
           "--rate", str(args.rate), "--duration", str(max(1, seconds - warm - 1)),
           "--warmup", str(warm), "--grace", "10", "--json", "--quiet"]
    # One retry, said out loud: under ASan, libparley's pl_read_file() once reported a
    # "read error" on the certificate while registering the bench's accounts (seen once,
    # at the 4th slice of the short soak; not a server fault, not yet explained). A second
    # failure in a row fails the soak.
    for attempt in (1, 2):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
        if r.returncode == 0:
            return json.loads(r.stdout)
        msg = f"parley-bench failed ({r.returncode}): {r.stderr[-2000:]}"
        if attempt == 2:
            raise AssertionError(msg)
        print(f"retrying the slice once: {msg}", flush=True)


def plot(rows, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    t = [r["elapsed_s"] / 60 for r in rows]
    fig, ax = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    ax[0][0].plot(t, [r["rss_kb"] / 1024 for r in rows], marker="o")
    ax[0][0].set_ylabel("parleyd RSS (MiB)")
    ax[0][1].plot(t, [r["fds"] for r in rows], marker="o")
    ax[0][1].set_ylabel("open file descriptors")
    ax[1][0].plot(t, [r["db_bytes"] / 2**20 for r in rows], marker="o", label="db + WAL (MiB)")
    ax2 = ax[1][0].twinx()
    ax2.plot(t, [r["bytes_per_message"] for r in rows], color="tab:orange", marker=".",
             label="bytes per kept message")
    ax[1][0].set_ylabel("database (MiB)")
    ax2.set_ylabel("bytes / kept message")
    ax[1][1].plot(t, [r["p50_ms"] for r in rows], marker="o", label="p50")
    ax[1][1].plot(t, [r["p99_ms"] for r in rows], marker="o", label="p99")
    ax[1][1].set_ylabel("delivery latency (ms)")
    ax[1][1].legend()
    for a in ax[1]:
        a.set_xlabel("minutes")
    fig.suptitle("parleyd soak")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    return True


def run(args):
    bindir = Path(os.environ.get("PARLEY_BIN", HERE.parents[1] / "build" / "bin")).resolve()
    bench = bindir / "parley-bench"
    base = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    server = _it.Server(base, config_lines=["max_connections = 100000", "log_level = warn"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    # Under ASan, freed memory sits in a quarantine (256 MiB by default) that fills over
    # minutes and would read as growth; a small one keeps RSS about the server's own memory.
    # It does not change what ASan and LSan detect.
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "quarantine_size_mb=16"
    try:
        try:
            server.start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        churn = Churn(server, args.churn)
        churn.start()
        t0 = time.monotonic()
        kept = 0
        n = max(1, round(args.minutes * 60 / args.slice))
        for i in range(n):
            res = bench_slice(bench, server, args, args.slice)
            kept_now = kept + res.get("acked", 0)
            kept = kept_now
            rss, fds, db = proc_sample(server.proc.pid, server.data)
            lat = res.get("latency", {})
            total = kept + churn.sent
            row = {"slice": i + 1, "elapsed_s": round(time.monotonic() - t0, 1),
                   "rss_kb": rss, "fds": fds, "db_bytes": db, "messages_kept": total,
                   "bytes_per_message": round(db / total, 1) if total else 0,
                   "p50_ms": round(lat.get("p50_ns", 0) / 1e6, 2),
                   "p99_ms": round(lat.get("p99_ns", 0) / 1e6, 2),
                   "delivered_per_s": res.get("delivered_per_s", 0), "lost": res.get("lost", 0),
                   "churn_conns": churn.conns}
            rows.append(row)
            print(" ".join(f"{k}={row[k]}" for k in FIELDS), flush=True)
            write_csv(rows, out / "soak.csv")
        churn.stop_ev.set()
        churn.join(30)
        server.stop(timeout=60)     # exit 0; no sanitizer report in the log
    finally:
        if server.alive():
            server.proc.kill()
        shutil.rmtree(base, ignore_errors=True)
    if plot(rows, out / "soak.png"):
        print(f"plot: {out / 'soak.png'}")
    if churn.errors:
        print(f"churn errors ({len(churn.errors)}): {churn.errors[:3]}")
    return rows, churn


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def check(rows, churn):
    first, last = rows[0], rows[-1]
    assert last["fds"] <= first["fds"] + 32, \
        f"file descriptors grew from {first['fds']} to {last['fds']}"
    assert last["rss_kb"] <= first["rss_kb"] * 1.5 + 64 * 1024, \
        f"RSS grew from {first['rss_kb']} kB to {last['rss_kb']} kB"
    assert churn.conns > 0, "no connection came and went"
    assert not churn.errors, churn.errors[:3]
    assert all(r["delivered_per_s"] > 0 for r in rows), "a slice delivered nothing"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--slice", type=int, default=60, help="seconds per sample")
    ap.add_argument("--rate", type=int, default=750)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--churn", type=float, default=2.0, help="connections per second")
    ap.add_argument("--out", default="build/soak")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    rows, churn = run(a)
    if a.check:
        check(rows, churn)
        print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
