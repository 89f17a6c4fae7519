#!/usr/bin/python3
"""crash_cycles.py: kills parleyd with SIGKILL at random moments under load, N times, then
checks that nothing acknowledged was lost or doubled.

Each cycle starts parleyd on the same data directory, connects three senders (accounts A, B
and C, each on its own connection and thread, speaking the real protocol through
tests/integration/wire.py) that pipeline SendMessage requests into a private chat (A-B) and
a group (A, B, C), and SIGKILLs the server after a random delay (uniform in
[--min-kill, --max-kill] seconds). Every SendResult is recorded: chat, message id, text. A
quarter of the requests left unanswered by a kill are sent again in the next cycle with the
same random_id (the idempotency key), so a message stored just before a kill must come back
with its first id, never twice.

After the last cycle the server is started once more and every account is checked from
several devices (the senders' sessions, resumed, and a fresh login per account):
  - every acknowledged message is in the chat's history exactly once, with its text and id;
  - no text appears twice in a history (idempotent resends stored once);
  - GetDifference(0) is gap-free (pts 1..N, N = GetState's pts) and holds each of the
    account's acknowledged messages exactly once as new_message;
then the server is stopped with SIGTERM (must exit 0, its logs free of sanitizer reports)
and SQLite's `PRAGMA integrity_check` on data/parley.db answers ok.

Run: PARLEY_BIN=build/bin tests/faults/crash_cycles.py --cycles 100   (make test-faults)
tests/faults/test_faults.py runs 5 cycles in `make test`. Exit status 0 = every check held.
"""
import argparse
import importlib.util
import json
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import wire  # noqa: E402
from wire import Closed, build_frame  # noqa: E402

# The integration suite's Server (start, kill9, stop with exit-code and log checks), loaded
# under its own name: pytest also imports that file, as "conftest".
_spec = importlib.util.spec_from_file_location("parley_it_conftest_faults",
                                               HERE.parent / "integration" / "conftest.py")
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)
Server = _it.Server

WINDOW = 16


class Sender(threading.Thread):
    """One account's connection sending into its chats until the server dies or `stop` is
    set. Acknowledged messages go to `acked` (text -> (chat, id)); requests sent and not
    answered stay in `unanswered` (text -> (chat, random_id))."""

    def __init__(self, server, token, name, chats, cycle, resend, stop):
        super().__init__(daemon=True)
        self.server, self.token, self.name = server, token, name
        self.chats, self.cycle, self.stop_ev = chats, cycle, stop
        self.todo = list(resend)           # (text, chat, random_id) to send again first
        self.acked, self.unanswered, self.errors = {}, {}, []
        self.seq = 0

    def next_message(self):
        if self.todo:
            return self.todo.pop()
        self.seq += 1
        text = f"c{self.cycle} {self.name} {self.seq} {secrets.token_hex(3)}"
        return text, random.choice(self.chats), secrets.randbits(62) | 1

    def run(self):
        try:
            c = wire.resume(self.server, self.token)
        except (Closed, OSError, TimeoutError, wire.ServerError):
            return                          # killed before we got in
        pending = {}
        try:
            while not self.stop_ev.is_set():
                while len(pending) < WINDOW:
                    text, chat, rid = self.next_message()
                    req = c.new_id()
                    c.send_frame(build_frame("send_message", req, chat_id=chat, text=text,
                                             random_id=rid))
                    pending[req] = (text, chat, rid)
                    self.unanswered[text] = (chat, rid)
                c.pump(0.5)
                for req in [r for r in pending if r in c.responses]:
                    text, chat, rid = pending.pop(req)
                    r = c.responses.pop(req)
                    if r.HasField("error"):
                        code = wire.code_name(r.error.code)
                        if code not in ("FLOOD_WAIT", "BUSY"):
                            self.errors.append(f"{text}: {code} {r.error.message}")
                        continue            # stays unanswered: may be resent
                    del self.unanswered[text]
                    m = r.sent.message
                    if m.text != text or m.chat_id != chat:
                        self.errors.append(f"answer for {text!r} is {m.text!r} in {m.chat_id}")
                    self.acked[text] = (chat, m.id)
        except (Closed, OSError, TimeoutError):
            pass
        finally:
            c.close()


def setup(server):
    """Three accounts, a private chat A-B and a group of all three. Returns tokens, chats,
    usernames and passwords."""
    conns = {n: wire.register(server, f"cc{n}") for n in "ABC"}
    a = conns["A"]
    private = a.open_chat(conns["B"].username).id
    group = a.call("create_group", title="crash cycles",
                   usernames=[conns["B"].username, conns["C"].username]).chat.id
    info = {n: {"token": c.token, "username": c.username, "password": c.password}
            for n, c in conns.items()}
    for c in conns.values():
        c.close()
    chats = {"A": [private, group], "B": [private, group], "C": [group]}
    return info, chats


def run_cycles(base, cycles, min_kill, max_kill, seed, log=print):
    rng = random.Random(seed)
    server = Server(base)
    server.start()
    info, chats = setup(server)
    acked = {}            # text -> (chat, id), over all cycles
    stored_twice = []
    resend = {n: [] for n in "ABC"}
    kills = []
    for cycle in range(cycles):
        if cycle:
            server.start()
        stop = threading.Event()
        senders = [Sender(server, info[n]["token"], n, chats[n], cycle, resend[n], stop)
                   for n in "ABC"]
        for s in senders:
            s.start()
        delay = rng.uniform(min_kill, max_kill)
        time.sleep(delay)   # the random moment is the point: not a wait for an event
        server.kill9()
        stop.set()
        for s in senders:
            s.join(30)
            assert not s.is_alive(), "a sender did not notice the kill"
            assert not s.errors, s.errors[:5]
            for text, (chat, mid) in s.acked.items():
                if text in acked and acked[text] != (chat, mid):
                    stored_twice.append((text, acked[text], (chat, mid)))
                acked[text] = (chat, mid)
            left = [(t, ch, rid) for t, (ch, rid) in s.unanswered.items() if t not in acked]
            resend[s.name] = left[: max(1, len(left) // 4)] if left else []
        got = sum(len(s.acked) for s in senders)
        kills.append({"cycle": cycle, "after_s": round(delay, 3), "acked": got})
        log(f"cycle {cycle + 1}/{cycles}: killed after {delay:.2f}s, {got} acknowledged")
    assert not stored_twice, f"a resent message got a second id: {stored_twice[:3]}"
    server.start()
    verify(server, info, chats, acked)
    server.stop(timeout=30)        # exit 0, and check_log(): no sanitizer report
    check_integrity(server.data / "parley.db")
    return {"cycles": cycles, "acknowledged": len(acked), "kills": kills}


def verify(server, info, chats, acked):
    by_chat = {}
    for text, (chat, mid) in acked.items():
        by_chat.setdefault(chat, {})[mid] = text
    for name, acc in info.items():
        devices = [wire.resume(server, acc["token"]),
                   wire.login(server, acc["username"], acc["password"], device="verifier")]
        for dev in devices:
            for chat in chats[name]:
                check_history(dev.full_history(chat), by_chat.get(chat, {}), name, chat)
            check_difference(dev, by_chat, chats[name], name)
            dev.close()


def check_history(hist, want, who, chat):
    ids = [m.id for m in hist]
    assert ids == sorted(set(ids)), f"{who}: chat {chat} history has repeated/unsorted ids"
    texts = [m.text for m in hist]
    assert len(texts) == len(set(texts)), f"{who}: chat {chat}: a message was stored twice"
    have = {m.id: m.text for m in hist}
    lost = [(mid, t) for mid, t in want.items() if have.get(mid) != t]
    assert not lost, f"{who}: chat {chat}: {len(lost)} acknowledged messages lost, e.g. {lost[0]}"


def check_difference(dev, by_chat, my_chats, who):
    ups, pts, _ = dev.difference(0)
    state = dev.call("get_state").pts
    assert pts == state, f"{who}: difference ends at {pts}, GetState says {state}"
    seq = [u.pts for u in ups]
    assert seq == list(range(1, pts + 1)), f"{who}: update log has gaps or repeats"
    seen = {}
    for u in ups:
        if u.WhichOneof("kind") == "new_message":
            key = (u.new_message.chat_id, u.new_message.id)
            seen[key] = seen.get(key, 0) + 1
    for chat in my_chats:
        for mid in by_chat.get(chat, {}):
            n = seen.get((chat, mid), 0)
            assert n == 1, f"{who}: message {chat}/{mid} is {n} times in the update log"


def check_integrity(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    assert rows == [("ok",)], f"integrity_check: {rows[:5]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--min-kill", type=float, default=0.05)
    ap.add_argument("--max-kill", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else secrets.randbits(32)
    base = Path(tempfile.mkdtemp(prefix="parley-crash-"))
    t0 = time.monotonic()
    print(f"crash cycles: {a.cycles}, seed {seed}, data {base}")
    try:
        res = run_cycles(base, a.cycles, a.min_kill, a.max_kill, seed)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    res.update(seed=seed, seconds=round(time.monotonic() - t0, 1))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    print(f"crash cycles: {res['cycles']} kills, {res['acknowledged']} acknowledged messages "
          f"all present exactly once on every device; update logs gap-free; integrity ok "
          f"({res['seconds']} s)")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
