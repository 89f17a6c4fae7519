"""Durability and shutdown: every message the server acknowledged survives a kill -9 in the
middle of a burst of sends; SIGTERM ends parleyd cleanly (exit 0) within a few seconds."""
import secrets
import threading
import time

import wire
from wire import Closed, build_frame


def test_acknowledged_messages_survive_kill9(new_server):
    s = new_server()
    a = wire.register(s, "crash")
    b = wire.register(s, "crashb")
    chat = a.open_chat(b.username)
    n = 2000
    texts = [f"durable {i} {secrets.token_hex(4)}" for i in range(n)]
    rids = [secrets.randbits(63) | 1 for _ in range(n)]
    acked = {}                     # index -> message id
    window = 32
    pending = {}
    nxt = 0
    killed = threading.Event()
    kill_after = 600

    t0 = time.monotonic()
    try:
        while (nxt < n or pending) and time.monotonic() - t0 < 120:
            while nxt < n and len(pending) < window:
                rid = a.new_id()
                a.send_frame(build_frame("send_message", rid, chat_id=chat.id, text=texts[nxt],
                                         random_id=rids[nxt]))
                pending[rid] = nxt
                nxt += 1
            a.pump(1.0)
            for rid in [r for r in pending if r in a.responses]:
                i = pending.pop(rid)
                r = a.responses.pop(rid)
                if r.HasField("error"):
                    # FLOOD_WAIT: give it back to the queue's end is not needed for this test
                    assert wire.code_name(r.error.code) in ("FLOOD_WAIT", "BUSY"), r.error
                    continue
                assert r.sent.message.text == texts[i]
                acked[i] = r.sent.message.id
            if len(acked) >= kill_after and not killed.is_set():
                s.kill9()
                killed.set()
    except (Closed, OSError):
        pass
    assert killed.is_set(), f"only {len(acked)} acknowledged before the burst ended"
    assert len(acked) >= kill_after
    assert nxt > len(acked), "nothing was in flight when the server was killed"

    s.start()
    c = wire.resume(s, a.token)
    hist = c.full_history(chat.id)
    by_id = {m.id: m.text for m in hist}
    missing = [i for i, mid in acked.items() if by_id.get(mid) != texts[i]]
    assert not missing, f"{len(missing)} acknowledged messages lost or changed, e.g. " \
                        f"#{missing[0]}"
    texts_seen = [m.text for m in hist]
    assert len(texts_seen) == len(set(texts_seen)), "a message was stored twice"
    ids = [m.id for m in hist]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # resending the unacknowledged ones with their random_id never duplicates: those that
    # were stored before the kill come back with their stored id
    stored_text_to_id = {t: i for i, t in by_id.items()}
    unacked = [i for i in range(nxt) if i not in acked][:50]
    for i in unacked:
        r = c.send(chat.id, texts[i], random_id=rids[i])
        if texts[i] in stored_text_to_id:
            assert r.message.id == stored_text_to_id[texts[i]]
    after = [m.text for m in c.full_history(chat.id)]
    assert len(after) == len(set(after))
    # the recipient sees the same history and a consistent update log
    bc = wire.resume(s, b.token)
    assert [m.id for m in bc.full_history(chat.id)] == [m.id for m in c.full_history(chat.id)]
    ups, pts, _ = bc.difference(0)
    assert pts == bc.call("get_state").pts
    assert [u.pts for u in ups] == sorted(u.pts for u in ups)


def test_sigterm_exits_cleanly_with_clients_connected(new_server):
    s = new_server()
    a = wire.register(s, "term")
    b = wire.register(s, "termb")
    chat = a.open_chat(b.username)
    m = a.send(chat.id, "before shutdown").message
    idle = wire.Conn(s, hello=False)   # a connection that never said Hello
    took = s.stop(timeout=10)           # asserts exit code 0 and a clean log
    assert took < 5, f"SIGTERM took {took:.1f}s"
    for c in (a, b, idle):
        try:
            c.wait_closed(timeout=3)
        except Closed:
            pass
    s.start()
    c = wire.resume(s, b.token)
    assert [(x.id, x.text) for x in c.history(chat.id)] == [(m.id, "before shutdown")]


def test_sigterm_during_load(new_server):
    s = new_server()
    a = wire.register(s, "termload")
    b = wire.register(s, "termloadb")
    chat = a.open_chat(b.username)
    for i in range(200):
        a.send_frame(build_frame("send_message", a.new_id(), chat_id=chat.id,
                                 text=f"load {i}", random_id=i + 1))
    time.sleep(0.05)
    took = s.stop(timeout=10)
    assert took < 5
    s.start()
    c = wire.resume(s, a.token)
    texts = [x.text for x in c.full_history(chat.id)]
    assert len(texts) == len(set(texts))
    assert set(texts) <= {f"load {i}" for i in range(200)}


def test_port_in_use_fails_at_start_with_the_reason(server, tmp_path):
    """A second parleyd on a port that is taken exits non-zero at once and says why, instead
    of reporting itself ready while listening nowhere; the first one is not disturbed."""
    import subprocess
    from conftest import PARLEYD
    r = subprocess.run([str(PARLEYD), "--data", str(tmp_path / "data"), "--listen",
                        f"127.0.0.1:{server.port}"], capture_output=True, timeout=30)
    err = r.stdout.decode() + r.stderr.decode()
    assert r.returncode != 0, err
    assert "cannot listen on 127.0.0.1:%d" % server.port in err and "in use" in err, err
    assert "parleyd ready" not in err, err
    status, body = server.http_get("/healthz")
    assert status == 200 and body.strip() == b"ok"
