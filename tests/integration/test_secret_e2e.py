"""Secret chats end to end: the real `parley` CLI on four devices (alice, alice2, bob, bob2)
against a real parleyd. A conversation, fingerprints, timers, delete for everyone, close;
plaintext scans of everything the server wrote and of both devices' profiles after the
self-destruct timer; a peer identity key change refused until accepted; bad input (unknown
ids, a closed chat, tampered / replayed / garbage envelopes injected over the raw protocol)
rejected with the session still working afterwards; a live push reaching `receive --follow`; the sealed
local store refusing moved values and a wrong secret.key."""
import secrets
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import wire
from conftest import PARLEY, Cli, read_json_until


def profile_files(cli, name):
    out = []
    for p in sorted(Path(cli.profile(name)).rglob("*")):
        if p.is_file():
            try:
                out.append((p, p.read_bytes()))
            except FileNotFoundError:
                pass
    return out


def found_in(files, needle):
    return [str(p) for p, data in files if needle in data]


def session_of(cli, name):
    return cli.ok(name, "whoami").json[-1]["session"]


def token_of(cli, name):
    db = sqlite3.connect(str(Path(cli.profile(name)) / "profile.db"))
    try:
        (tok,) = db.execute("SELECT value FROM kv WHERE key = 'session_token'").fetchone()
    finally:
        db.close()
    return bytes(tok)


def received(cli, name, timeout=0):
    args = ["receive"] + (["--timeout", str(timeout)] if timeout else [])
    return cli.ok(name, *args).json


def secret_msgs(objs, chat=None):
    return [o for o in objs if o.get("type") == "message" and o.get("secret")
            and (chat is None or o["secret_chat"] == chat)]


def setup_devices(cli):
    """alice + alice2, bob2 + bob (bob logs in last: his newest device)."""
    pw = "pw-" + secrets.token_hex(8)
    a, b = wire.uname("sca"), wire.uname("scb")
    cli.ok("alice", "register", a, password=pw)
    cli.ok("bob2", "register", b, password=pw)
    cli.ok("alice2", "login", a, password=pw)
    cli.ok("bob", "login", b, password=pw)
    return a, b


def start_chat(cli, b, bob_session=None):
    args = ["secret", "start", "@" + b]
    if bob_session:
        args += ["--device", str(bob_session)]
    r = cli.ok("alice", *args).json[-1]
    assert r["type"] == "secret_chat" and r["peer"] == b and r["state"] == "pending"
    assert r["timer"] is None and r["verified"] is False
    return r["secret_chat"]


@pytest.fixture
def devices(cli):
    a, b = setup_devices(cli)
    return cli, a, b


def test_conversation_fingerprint_timer_delete_close(devices):
    cli, a, b = devices
    bob_dev = session_of(cli, "bob")
    chat = start_chat(cli, b, bob_dev)
    m1 = cli.ok("alice", "secret", "send", chat, "hello bob").json[-1]
    assert m1["secret"] is True and m1["secret_chat"] == chat and m1["from"] == a
    assert m1["id"] == 1 and m1["text"] == "hello bob"

    got = received(cli, "bob")
    chats = [o for o in got if o["type"] == "secret_chat"]
    assert chats and chats[0]["secret_chat"] == chat and chats[0]["peer"] == a
    assert chats[0]["state"] == "active"
    msgs = secret_msgs(got, chat)
    assert [(m["id"], m["from"], m["text"]) for m in msgs] == [(1, a, "hello bob")]

    r = cli.ok("bob", "secret", "send", chat, "hi alice").json[-1]
    assert r["id"] == 2
    got = received(cli, "alice")
    assert [(m["id"], m["from"], m["text"]) for m in secret_msgs(got, chat)] == \
        [(2, b, "hi alice")]
    assert cli.ok("alice", "secret", "list").json[-1]["state"] == "active"

    fa = cli.ok("alice", "secret", "verify", chat).json[-1]
    fb = cli.ok("bob", "secret", "verify", chat, "--mark-verified").json[-1]
    assert fa["type"] == "fingerprint" and fa["secret_chat"] == chat
    assert (fa["number"], fa["long_number"]) == (fb["number"], fb["long_number"])
    assert len(fa["number"]) == 71 and fa["number"].replace(" ", "").isdigit()
    assert len(fa["long_number"]) == 95 and fa["long_number"].replace(" ", "").isdigit()
    assert "emoji" not in fa       # 30 static bits are gone (issue 16): see test_secret_verify
    assert cli.ok("bob", "secret", "list").json[-1]["verified"] is True
    assert cli.ok("alice", "secret", "list").json[-1]["verified"] is False

    # The accounts' other devices never see the chat.
    for other in ("alice2", "bob2"):
        assert secret_msgs(received(cli, other)) == []
        assert cli.ok(other, "secret", "list").json == []
        r = cli.run(other, "secret", "history", chat)
        assert r.rc == 1 and r.err_json()["code"] == "CHAT_NOT_FOUND"

    # A timer set by one side is a service message on both.
    t = cli.ok("bob", "secret", "timer", chat, "1h").json[-1]
    assert t.get("service") is True and t["secret_chat"] == chat
    got = secret_msgs(received(cli, "alice"), chat)
    assert [(m["id"], m["text"], m.get("service")) for m in got] == \
        [(t["id"], t["text"], True)]
    assert "timer" in t["text"]
    assert cli.ok("alice", "secret", "list").json[-1]["timer"] == 3600
    cli.ok("bob", "secret", "timer", chat, "off")
    received(cli, "alice")

    # Delete for everyone.
    d = cli.ok("alice", "secret", "send", chat, "oops, wrong text").json[-1]
    assert [m["text"] for m in secret_msgs(received(cli, "bob"), chat)] == ["oops, wrong text"]
    r = cli.ok("alice", "secret", "delete", chat, d["id"]).json[-1]
    assert r["type"] == "delete" and r["ids"] == [d["id"]]
    got = received(cli, "bob")
    assert any(o["type"] == "delete" and o.get("secret_chat") == chat and o["ids"] == [d["id"]]
               for o in got)
    for dev in ("alice", "bob"):
        hist = cli.ok(dev, "secret", "history", chat).json
        assert d["id"] not in [m["id"] for m in hist]
        assert "hello bob" in [m["text"] for m in hist]
    r = cli.run("alice", "secret", "delete", chat, 999)
    assert r.rc == 1 and r.err_json()["code"] == "MESSAGE_NOT_FOUND"

    # Close wipes both sides; nothing can be sent afterwards.
    r = cli.ok("bob", "secret", "close", chat).json[-1]
    assert r["state"] == "closed"
    assert cli.ok("bob", "secret", "history", chat).json == []
    got = received(cli, "alice")
    assert any(o["type"] == "secret_chat" and o["state"] == "closed" for o in got)
    assert cli.ok("alice", "secret", "history", chat).json == []
    for dev in ("alice", "bob"):
        r = cli.run(dev, "secret", "send", chat, "anyone?")
        assert r.rc == 1 and r.err_json()["code"] == "CHAT_CLOSED", r


def test_default_device_is_the_newest(devices):
    cli, a, b = devices
    chat = start_chat(cli, b)                       # bob logged in last
    cli.ok("alice", "secret", "send", chat, "to the newest")
    assert [m["text"] for m in secret_msgs(received(cli, "bob"), chat)] == ["to the newest"]
    assert secret_msgs(received(cli, "bob2")) == []


def test_no_plaintext_on_server_or_after_self_destruct(new_server, tmp_path):
    srv = new_server()
    cli = Cli(srv, tmp_path)
    a, b = setup_devices(cli)
    chat = start_chat(cli, b, session_of(cli, "bob"))
    cli.ok("alice", "secret", "timer", chat, "2")
    to_bob = ["mk-" + secrets.token_hex(12) for _ in range(3)]
    to_alice = ["mk-" + secrets.token_hex(12) for _ in range(2)]
    for t in to_bob:
        cli.ok("alice", "secret", "send", chat, t)
    got = secret_msgs(received(cli, "bob"), chat)
    assert [m["text"] for m in got if not m.get("service")] == to_bob
    assert all(m["ttl"] == 2 for m in got if not m.get("service"))
    for t in to_alice:
        cli.ok("bob", "secret", "send", chat, t)
    assert [m["text"] for m in secret_msgs(received(cli, "alice"), chat)] == to_alice
    received(cli, "bob")                            # alice's read notices

    # Encrypted at rest: not in the profile files even before the timer fires...
    for dev in ("alice", "bob"):
        files = profile_files(cli, dev)
        for t in to_bob + to_alice:
            assert found_in(files, t.encode()) == [], (dev, t)
    for dev in ("alice", "bob"):
        assert (Path(cli.profile(dev)) / "secret.key").stat().st_mode & 0o777 == 0o600
    # ...and the scan itself can find a marker where one is.
    probe = "mk-" + secrets.token_hex(12)
    (Path(cli.profile("alice")) / "probe.txt").write_text("x" + probe + "y")
    assert found_in(profile_files(cli, "alice"), probe.encode())
    (Path(cli.profile("alice")) / "probe.txt").unlink()

    time.sleep(3.2)
    for dev in ("alice", "bob"):
        hist = cli.ok(dev, "secret", "history", chat).json
        assert [m for m in hist if not m.get("service")] == [], (dev, hist)
    for dev in ("alice", "bob"):
        files = profile_files(cli, dev)
        for t in to_bob + to_alice:
            assert found_in(files, t.encode()) == [], (dev, t)

    files = srv.data_files() + [(Path("parleyd.log"), srv.log_text().encode())]
    assert files
    for t in to_bob + to_alice:
        assert found_in(files, t.encode()) == [], t


def test_identity_key_change_refused_until_accepted(devices):
    cli, a, b = devices
    chat = start_chat(cli, b, session_of(cli, "bob"))
    cli.ok("alice", "secret", "send", chat, "before")
    received(cli, "bob")
    # The key alice's device accepted for bob's device is no longer the session's: what a
    # re-keyed session from a device with a new identity key leaves behind.
    db = sqlite3.connect(str(Path(cli.profile("alice")) / "profile.db"))
    db.execute("UPDATE sc_chats SET peer_ik = ? WHERE id = ?", (secrets.token_bytes(32), chat))
    db.commit()
    db.close()
    r = cli.run("alice", "secret", "send", chat, "refused")
    assert r.rc == 1 and r.err_json()["code"] == "IDENTITY_KEY_CHANGED", r
    assert "accept" in r.err_json()["message"]
    assert cli.ok("alice", "secret", "list").json[-1].get("key_changed") is True
    r = cli.run("alice", "secret", "verify", chat, "--mark-verified")
    assert r.rc == 1 and r.err_json()["code"] == "IDENTITY_KEY_CHANGED"
    cli.ok("alice", "secret", "accept-key", chat)
    assert "key_changed" not in cli.ok("alice", "secret", "list").json[-1]
    cli.ok("alice", "secret", "send", chat, "after")
    assert [m["text"] for m in secret_msgs(received(cli, "bob"), chat)] == ["after"]


def test_bad_input(devices):
    cli, a, b = devices
    for args in (("send", 987654321, "x"), ("history", 987654321), ("timer", 987654321, "5"),
                 ("verify", 987654321), ("close", 987654321), ("accept-key", 987654321)):
        r = cli.run("alice", "secret", *args)
        assert r.rc == 1 and r.err_json()["code"] == "CHAT_NOT_FOUND", r
    for args in (("send", "abc", "x"), ("send", 1), ("timer", 1, "2w"), ("timer", 1, "x"),
                 ("frobnicate",), ("delete", 1, "zz"), ("start",), ("list", "--device", "3")):
        assert cli.run("alice", "secret", *args).rc == 2, args
    r = cli.run("alice", "secret", "start", "@nosuchuser_" + secrets.token_hex(3))
    assert r.rc == 1 and r.err_json()["code"] == "USER_NOT_FOUND", r
    r = cli.run("alice", "secret", "start", "@" + b, "--device", "99999999")
    assert r.rc == 1 and r.err_json()["code"] == "DEVICE_NOT_FOUND", r

    bob_dev = session_of(cli, "bob")
    chat = start_chat(cli, b, bob_dev)
    cli.ok("alice", "secret", "send", chat, "first")
    r = cli.run("alice", "secret", "send", chat, "x" * 4097)
    assert r.rc == 1 and r.err_json()["code"] == "TEXT_INVALID", r
    r = cli.run("alice", "secret", "send", chat, "\U0001F600" * 4096)   # 16 KiB of UTF-8
    assert r.rc == 1 and r.err_json()["code"] == "TOO_LARGE", r

    raw_bob = wire.resume(cli.server, token_of(cli, "bob"))
    raw_alice = wire.resume(cli.server, token_of(cli, "alice"))
    inbox = raw_bob.secret_inbox()
    assert len(inbox) == 2
    good = inbox[-1].envelope
    alice_id, bob_id = raw_alice.user.id, raw_bob.user.id
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    bad = [bytes(flipped), good[:-1], secrets.token_bytes(len(good)), b"\x01", good,
           bytes([good[0], 1]) + good[2:], inbox[0].envelope]      # ... and a replayed start
    for e in bad:
        r = raw_alice.send_secret(bob_id, bob_dev, e, secret_chat=chat)
        assert r.secret_sent.id
    # Another account's device claiming alice's chat id.
    mallory = wire.register(cli.server, wire.uname("mal"), "pw-" + secrets.token_hex(8))
    mallory.send_secret(bob_id, bob_dev, good, secret_chat=chat)

    got = received(cli, "bob")
    assert [m["text"] for m in secret_msgs(got, chat)] == ["first"]
    assert raw_bob.secret_inbox() == [], "bad envelopes must be acknowledged, not kept"
    cli.ok("alice", "secret", "send", chat, "still works")
    assert [m["text"] for m in secret_msgs(received(cli, "bob"), chat)] == ["still works"]
    cli.ok("bob", "secret", "send", chat, "both ways")
    assert [m["text"] for m in secret_msgs(received(cli, "alice"), chat)] == ["both ways"]
    assert alice_id != bob_id
    big = "\U0001F600" * 4000                                    # 16,000 bytes: fits
    assert cli.ok("alice", "secret", "send", chat, big).json[-1]["text"] == big
    assert [m["text"] for m in secret_msgs(received(cli, "bob"), chat)] == [big]

    # A replayed start never reopens a closed chat.
    cli.ok("bob", "secret", "close", chat)
    raw_alice.send_secret(bob_id, bob_dev, inbox[0].envelope, secret_chat=chat)
    received(cli, "bob")
    assert [c["state"] for c in cli.ok("bob", "secret", "list").json] == ["closed"]
    assert raw_bob.secret_inbox() == []


def test_live_push_reaches_receive_follow(devices):
    cli, a, b = devices
    chat = start_chat(cli, b, session_of(cli, "bob"))
    received(cli, "bob")
    cmd = [str(PARLEY), "--profile", str(cli.profile("bob")), "--json", "receive", "--follow"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)                        # connected and caught up
        marker = "live-" + secrets.token_hex(6)
        cli.ok("alice", "secret", "send", chat, marker)
        got = read_json_until(p, lambda o: o.get("text") == marker, 20,
                              what="matching line from receive --follow")
        assert got["secret"] is True and got["secret_chat"] == chat and got["from"] == a
    finally:
        p.terminate()
        p.wait(10)


def test_sealed_store_rejects_tampering(devices):
    cli, a, b = devices
    chat = start_chat(cli, b, session_of(cli, "bob"))
    cli.ok("alice", "secret", "send", chat, "one")
    cli.ok("alice", "secret", "send", chat, "two")
    dbp = str(Path(cli.profile("alice")) / "profile.db")
    db = sqlite3.connect(dbp)
    rows = db.execute("SELECT id, sealed FROM sc_messages WHERE chat = ? ORDER BY id",
                      (chat,)).fetchall()
    assert len(rows) == 2 and all(b"one" not in r[1] and b"two" not in r[1] for r in rows)
    # A sealed value moved to another row does not open there.
    db.execute("UPDATE sc_messages SET sealed = ? WHERE chat = ? AND id = ?",
               (rows[0][1], chat, rows[1][0]))
    db.commit()
    r = cli.run("alice", "secret", "history", chat)
    assert r.rc == 1 and r.err_json()["code"] == "PROFILE", r
    db.execute("UPDATE sc_messages SET sealed = ? WHERE chat = ? AND id = ?",
               (rows[1][1], chat, rows[1][0]))
    db.commit()
    db.close()
    assert [m["text"] for m in cli.ok("alice", "secret", "history", chat).json] == ["one", "two"]
    # Without the right secret.key nothing opens.
    key = Path(cli.profile("alice")) / "secret.key"
    good = key.read_bytes()
    key.write_bytes(secrets.token_bytes(32))
    r = cli.run("alice", "secret", "history", chat)
    assert r.rc == 1 and r.err_json()["code"] == "PROFILE", r
    key.write_bytes(good)
    assert len(cli.ok("alice", "secret", "history", chat).json) == 2


def test_logout_wipes_the_devices_secret_chats(devices):
    cli, a, b = devices
    chat = start_chat(cli, b, session_of(cli, "bob"))
    cli.ok("alice", "secret", "send", chat, "soon gone")
    assert secret_msgs(received(cli, "bob"), chat)
    cli.ok("bob", "logout")
    db = sqlite3.connect(str(Path(cli.profile("bob")) / "profile.db"))
    try:
        for t in ("sc_device", "sc_otk", "sc_chats", "sc_messages"):
            assert db.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,), t
    finally:
        db.close()
    # alice's chat now points at an ended device: sending fails on the server's check.
    r = cli.run("alice", "secret", "send", chat, "anyone?")
    assert r.rc == 1 and r.err_json()["code"] == "DEVICE_NOT_FOUND", r
