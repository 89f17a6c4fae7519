"""The short versions of the fault-injection runs, for `make test` (both builds):
  - 5 crash cycles (tests/faults/crash_cycles.py; `make test-faults` runs 100);
  - a full disk mid-load (a 16 MiB tmpfs mounted for the test): sends get an error, never a
    crash or a hang, nothing acknowledged is lost, SQLite's integrity check passes, and
    sends succeed again once space returns;
  - a short soak (tests/faults/soak.py --check; `make soak` runs the hour): parleyd's RSS
    and file descriptors do not grow without bound while connections come and go.
"""
import os
import subprocess
import sys
import tempfile
import shutil
from pathlib import Path

import pytest

import wire

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import crash_cycles  # noqa: E402
import soak  # noqa: E402


def test_crash_cycles_short(tmp_path):
    res = crash_cycles.run_cycles(tmp_path, cycles=5, min_kill=0.05, max_kill=1.0, seed=None,
                                  log=lambda s: None)
    assert res["cycles"] == 5
    # The load must have been real: messages acknowledged and then checked.
    assert res["acknowledged"] > 0


def _mount_tmpfs(path, size):
    """Mounts a tmpfs of `size` at path. Needs root (CI runs as root); anyone else fails
    here with mount's own message rather than skipping."""
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                        str(path)], capture_output=True, text=True)
    assert r.returncode == 0, f"cannot mount a size-limited tmpfs (needs root): {r.stderr}"


def _free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_disk_full_mid_load():
    base = Path(tempfile.mkdtemp(prefix="parley-diskfull-"))
    disk = base / "disk"
    disk.mkdir()
    _mount_tmpfs(disk, "16m")
    s = None
    try:
        s = crash_cycles.Server(disk)
        s.start()
        a = wire.register(s, "full")
        b = wire.register(s, "fullb")
        chat = a.open_chat(b.username).id
        before = a.send_many(chat, [f"before {i}" for i in range(50)])
        # Leave ~256 KiB: a few dozen 4 KiB messages (and their WAL frames) fit, then not.
        filler = disk / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, _free_bytes(disk) - 256 * 1024))
        acked, refused = [], []
        big = "x" * 4000
        for i in range(300):
            r = a.request("send_message", chat_id=chat, text=f"{i} {big}",
                          random_id=1000 + i)
            if r.HasField("error"):
                refused.append((wire.code_name(r.error.code), r.error.message,
                                r.error.retry_after))
            else:
                acked.append((r.sent.message.id, f"{i} {big}"))
        assert refused, "the disk never filled up"
        # A clear, temporary error: BUSY that says why and when to retry, every time.
        for code, msg, retry in refused:
            assert code == "BUSY" and "disk is full" in msg and retry > 0, \
                (code, msg, retry, s.log_text()[-2000:])
        assert s.alive(), "parleyd died when the disk filled up"
        status, _ = s.http_get("/healthz")
        assert status == 200
        # Other requests still work while the disk is full (reads need no space).
        assert len(b.full_history(chat)) >= len(before) + len(acked)
        # Space returns: sends succeed again, on the same connection.
        filler.unlink()
        after = a.send(chat, "after the disk had room again")
        assert after.message.id > 0
        hist = {m.id: m.text for m in wire.resume(s, b.token).full_history(chat)}
        for mid, text in [(r.message.id, r.message.text) for r in before] + acked:
            assert hist.get(mid) == text, f"acknowledged message {mid} lost"
        texts = list(hist.values())
        assert len(texts) == len(set(texts)), "a message was stored twice"
        a.close()
        b.close()
        s.stop(timeout=30)
        log = s.log_text()
        assert log.count("the disk is full") == 1, "the full disk is logged once per episode"
        assert "writes succeed again" in log
        crash_cycles.check_integrity(s.data / "parley.db")
    finally:
        if s is not None and s.alive():
            s.proc.kill()
            s.proc.wait()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_soak_short(tmp_path):
    """About 40 seconds: four 10-second slices at 300 messages/s with 20 clients each."""
    args = type("A", (), dict(minutes=40 / 60, slice=10, rate=300, clients=20, churn=2.0,
                              out=str(tmp_path)))()
    rows, churn = soak.run(args)
    assert len(rows) == 4
    soak.check(rows, churn)
    assert (tmp_path / "soak.csv").exists()
