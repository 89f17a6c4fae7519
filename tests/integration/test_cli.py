"""The real `parley` CLI against a real parleyd: JSON output shapes, the message flow between
two accounts, sessions, groups, timers, and one-line errors with the right exit codes."""
import json
import re
import secrets
import subprocess
import time

import pytest

import wire
from conftest import PARLEY, free_port

MESSAGE_KEYS = {"type", "chat", "id", "from", "text", "date", "edit_date", "reply_to", "ttl"}


def one_line(err_text):
    lines = [ln for ln in err_text.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    return lines[0]


def by_type(res, t):
    return [o for o in res.json if o.get("type") == t]


@pytest.fixture
def pair(cli):
    pw = "pw-" + secrets.token_hex(8)
    a, b = wire.uname("clia"), wire.uname("clib")
    ra = cli.ok("alice", "register", a, password=pw)
    rb = cli.ok("bob", "register", b, password=pw)
    ua, ub = ra.json[-1], rb.json[-1]
    assert ua["type"] == "user" and ua["username"] == a and isinstance(ua["id"], int)
    assert isinstance(ua["session"], int) and ua["session"] > 0
    assert ub["username"] == b and ub["id"] != ua["id"]
    return a, b, pw, ua, ub


def test_whoami_logout_login(cli, pair):
    a, b, pw, ua, _ = pair
    w = cli.ok("alice", "whoami").json
    assert w == [{"type": "user", "id": ua["id"], "username": a, "session": ua["session"]}]
    assert cli.ok("alice", "logout").json == [{"type": "ok"}]
    for args in (("whoami",), ("send", "@" + b, "after logout"), ("chats",), ("receive",)):
        r = cli.run("alice", *args, json_out=False)
        assert r.rc != 0, args
        line = one_line(r.err)
        assert "not logged in" in line, line
        assert r.out == ""
    # the old session is really gone on the server
    r = cli.run("alice", "whoami")
    assert r.rc != 0
    # wrong password
    r = cli.run("alice", "login", a, password="not-the-password")
    assert r.rc == 1
    assert r.err_json()["code"] == "INVALID_CREDENTIALS"
    r2 = cli.run("alice", "login", a, password="not-the-password", json_out=False)
    assert "wrong username or password" in one_line(r2.err)
    # unknown user: same answer (no account enumeration)
    r = cli.run("alice", "login", "nosuchuser_abc", password="whatever-password")
    assert r.rc == 1 and r.err_json()["code"] == "INVALID_CREDENTIALS"
    # and the right one
    u = cli.ok("alice", "login", a, password=pw).json[-1]
    assert u["id"] == ua["id"] and u["session"] != ua["session"]


def test_message_flow(cli, pair):
    a, b, pw, ua, ub = pair
    t0 = time.time()
    r = cli.ok("alice", "send", "@" + b, "hello")
    assert len(r.json) == 1
    m = r.json[0]
    assert set(m) == MESSAGE_KEYS, m
    assert m["type"] == "message" and m["from"] == a and m["text"] == "hello"
    assert isinstance(m["chat"], int) and isinstance(m["id"], int) and m["id"] > 0
    assert m["edit_date"] is None and m["reply_to"] is None and m["ttl"] is None
    assert abs(m["date"] - t0) < 60
    chat = m["chat"]

    got = by_type(cli.ok("bob", "receive"), "message")
    assert got == [m], got

    # reply
    rep = cli.ok("bob", "send", "@" + a, "hi alice", "--reply-to", m["id"]).json[0]
    assert rep["reply_to"] == m["id"] and rep["chat"] == chat and rep["from"] == b
    got = [x for x in by_type(cli.ok("alice", "receive"), "message") if x["from"] == b]
    assert [(x["id"], x["reply_to"], x["text"]) for x in got] == [(rep["id"], m["id"], "hi alice")]

    # edit: both sides see "type":"edit"
    e = cli.ok("alice", "edit", "@" + b, m["id"], "hello, edited").json[0]
    assert e["type"] == "edit" and e["id"] == m["id"] and e["text"] == "hello, edited"
    assert isinstance(e["edit_date"], int) and e["edit_date"] >= m["date"]
    assert set(e) == MESSAGE_KEYS
    got = by_type(cli.ok("bob", "receive"), "edit")
    assert [(x["id"], x["text"]) for x in got] == [(m["id"], "hello, edited")]
    r = cli.run("bob", "edit", "@" + a, m["id"], "bob edits alice")
    assert r.rc == 1 and r.err_json()["code"] == "FORBIDDEN"

    # read marker reaches the sender
    rd = cli.ok("bob", "read", "@" + a).json[0]
    assert rd == {"type": "read", "chat": chat, "by": b, "max_id": rep["id"]}
    got = by_type(cli.ok("alice", "receive"), "read")
    assert {"type": "read", "chat": chat, "by": b, "max_id": rep["id"]} in got

    # delete for me: gone for bob only
    d = cli.ok("bob", "delete", "@" + a, m["id"]).json[0]
    assert d["type"] == "delete" and d["chat"] == chat and d["ids"] == [m["id"]]
    assert d.get("for_everyone") is False
    assert m["id"] not in [x["id"] for x in cli.ok("bob", "history", "@" + a).json]
    assert m["id"] in [x["id"] for x in cli.ok("alice", "history", "@" + b).json]

    # delete for everyone: gone for both, and bob's device is told
    m2 = cli.ok("alice", "send", "@" + b, "second").json[0]
    cli.ok("bob", "receive")
    d = cli.ok("alice", "delete", "@" + b, m2["id"], "--for-everyone").json[0]
    assert d["type"] == "delete" and d["chat"] == chat and d["ids"] == [m2["id"]]
    assert d.get("for_everyone") is True
    got = by_type(cli.ok("bob", "receive"), "delete")
    assert [(x["chat"], x["ids"]) for x in got] == [(chat, [m2["id"]])]
    for prof, peer in (("alice", b), ("bob", a)):
        assert m2["id"] not in [x["id"] for x in cli.ok(prof, "history", "@" + peer).json]
    r = cli.run("bob", "delete", "@" + a, rep["id"] + 1000, "--for-everyone")
    assert r.rc == 0 or r.err_json()["code"] in ("MESSAGE_NOT_FOUND", "BAD_REQUEST")


def test_history_paging_and_unread(cli, pair):
    a, b, pw, _, _ = pair
    sent = [cli.ok("alice", "send", "@" + b, f"msg {i}").json[0] for i in range(6)]
    ids = [m["id"] for m in sent]
    h = cli.ok("bob", "history", "@" + a).json
    assert [(x["id"], x["text"]) for x in h] == [(m["id"], m["text"]) for m in sent]
    h = cli.ok("bob", "history", "@" + a, "--limit", "2").json
    assert [x["id"] for x in h] == ids[-2:]
    h = cli.ok("bob", "history", "@" + a, "--limit", "3", "--before", ids[4]).json
    assert [x["id"] for x in h] == ids[1:4]
    h = cli.ok("bob", "history", "@" + a, "--before", ids[0]).json
    assert h == []
    r = cli.run("bob", "history", "@" + a, "--limit", "0")
    assert r.rc != 0
    r = cli.run("bob", "history", "@" + a, "--limit", "201")
    assert r.rc != 0

    chats = {c["title"]: c for c in by_type(cli.ok("bob", "chats"), "chat")}
    c = chats[a]
    assert c["kind"] == "private" and c["unread"] == 6 and c["members"] == 2
    assert c["last_message_id"] == ids[-1]
    cli.ok("bob", "read", "@" + a, ids[2])
    assert {c["title"]: c for c in by_type(cli.ok("bob", "chats"), "chat")}[a]["unread"] == 3
    cli.ok("bob", "read", "@" + a)
    assert {c["title"]: c for c in by_type(cli.ok("bob", "chats"), "chat")}[a]["unread"] == 0
    # the sender's own messages are never unread for her
    assert {c["title"]: c for c in by_type(cli.ok("alice", "chats"), "chat")}[b]["unread"] == 0


def test_sessions_via_cli(cli, pair):
    a, b, pw, ua, _ = pair
    cli.ok("phone", "login", a, password=pw)
    cli.ok("tablet", "login", a, password=pw)
    ss = by_type(cli.ok("alice", "sessions"), "session")
    assert len(ss) == 3
    assert [s["id"] for s in ss if s["current"]] == [ua["session"]]
    assert set(ss[0]) >= {"type", "id", "device", "created", "last_active", "current"}
    phone = cli.ok("phone", "whoami").json[0]["session"]
    t = cli.ok("alice", "sessions", "terminate", phone).json
    assert t == [{"type": "terminated", "ids": [phone]}]
    r = cli.run("phone", "send", "@" + b, "from a dead session", json_out=False)
    assert r.rc == 1
    assert "terminated" in one_line(r.err)
    r = cli.run("phone", "whoami")     # the profile may have forgotten the dead session
    assert r.rc == 1 and r.err_json()["code"] in ("SESSION_TERMINATED", "NO_SESSION")
    tablet = cli.ok("tablet", "whoami").json[0]["session"]
    t = cli.ok("alice", "sessions", "terminate", "--others").json
    assert t == [{"type": "terminated", "ids": [tablet]}]
    r = cli.run("tablet", "chats")
    assert r.rc == 1 and r.err_json()["code"] == "SESSION_TERMINATED"
    ss = by_type(cli.ok("alice", "sessions"), "session")
    assert [(s["id"], s["current"]) for s in ss] == [(ua["session"], True)]


def test_groups_via_cli(cli, pair):
    a, b, pw, ua, ub = pair
    c = wire.uname("clic")
    cli.ok("carol", "register", c, password=pw)
    g = cli.ok("alice", "group", "create", "Cli Group", "@" + b, c).json[0]
    assert g["type"] == "chat" and g["kind"] == "group" and g["title"] == "Cli Group"
    assert g["members"] == 3 and g["role"] == "creator"
    gid = str(g["chat"])
    mem = {m["username"]: m["role"] for m in by_type(cli.ok("bob", "group", "members", gid),
                                                      "member")}
    assert mem == {a: "creator", b: "member", c: "member"}
    r = cli.run("bob", "group", "rename", gid, "bob's now")
    assert r.rc == 1 and r.err_json()["code"] == "FORBIDDEN"
    r = cli.run("bob", "group", "remove", gid, "@" + c)
    assert r.rc == 1 and r.err_json()["code"] == "FORBIDDEN"
    assert cli.ok("alice", "group", "rename", gid, "Renamed").json[0]["title"] == "Renamed"
    cm = cli.ok("carol", "send", gid, "carol here").json[0]
    # the creator deletes a member's message for everyone
    d = cli.ok("alice", "delete", gid, cm["id"], "--for-everyone").json[0]
    assert d["ids"] == [cm["id"]]
    assert cm["id"] not in [x["id"] for x in cli.ok("bob", "history", gid).json]
    g2 = cli.ok("alice", "group", "admin", gid, "@" + b).json[0]
    assert g2["chat"] == g["chat"]
    mem = {m["username"]: m["role"] for m in by_type(cli.ok("alice", "group", "members", gid),
                                                      "member")}
    assert mem[b] == "admin"
    cli.ok("bob", "group", "remove", gid, "@" + c)
    r = cli.run("carol", "history", gid)
    assert r.rc == 1 and r.err_json()["code"] == "CHAT_NOT_FOUND"
    r = cli.run("carol", "send", gid, "still here?")
    assert r.rc == 1 and r.err_json()["code"] == "CHAT_NOT_FOUND"
    got = cli.ok("carol", "receive")
    assert g["chat"] in [x["chat"] for x in by_type(got, "chat_removed")]
    assert cli.ok("bob", "group", "leave", gid).json == [{"type": "ok"}]
    mem = {m["username"] for m in by_type(cli.ok("alice", "group", "members", gid), "member")}
    assert mem == {a}


def test_ttl_via_cli(cli, pair):
    a, b, pw, _, _ = pair
    m = cli.ok("alice", "send", "@" + b, "burn after reading", "--ttl", "2").json[0]
    assert m["ttl"] == 2
    time.sleep(2.5)
    assert m["id"] in [x["id"] for x in cli.ok("bob", "history", "@" + a).json]
    cli.ok("bob", "read", "@" + a)
    t0 = time.monotonic()
    while m["id"] in [x["id"] for x in cli.ok("bob", "history", "@" + a).json]:
        assert time.monotonic() - t0 < 5, "not deleted within ttl+3 s of being read"
        time.sleep(0.3)
    got = by_type(cli.ok("alice", "receive"), "delete")
    assert [x["ids"] for x in got] == [[m["id"]]]
    assert m["id"] not in [x["id"] for x in cli.ok("alice", "history", "@" + b).json]
    ch = cli.ok("alice", "chat", "autodelete", "@" + b, "1h").json[0]
    assert ch["type"] == "chat" and ch["auto_delete"] == 3600
    assert cli.ok("alice", "send", "@" + b, "timed").json[0]["ttl"] == 3600
    assert cli.ok("alice", "chat", "autodelete", "@" + b, "off").json[0]["auto_delete"] is None
    assert cli.ok("alice", "send", "@" + b, "untimed").json[0]["ttl"] is None
    r = cli.run("alice", "send", "@" + b, "x", "--ttl", "400d")
    assert r.rc != 0


# ---- errors -------------------------------------------------------------------------------

def test_unknown_user(cli, pair):
    r = cli.run("alice", "send", "@nosuchuser", "x", json_out=False)
    assert r.rc == 1
    line = one_line(r.err)
    assert "nosuchuser" in line and "unknown user" in line, line
    r = cli.run("alice", "send", "@nosuchuser", "x")
    assert r.rc == 1 and r.out == ""
    e = r.err_json()
    assert e["code"] == "USER_NOT_FOUND" and e["message"]


def test_text_limits_via_cli(cli, pair):
    a, b, pw, _, _ = pair
    r = cli.run("alice", "send", "@" + b, "")
    assert r.rc != 0
    r = cli.run("alice", "send", "@" + b, "x" * 4097)
    assert r.rc == 1 and r.err_json()["code"] == "TEXT_INVALID"
    ok = cli.ok("alice", "send", "@" + b, "ж" * 4096).json[0]
    assert ok["text"] == "ж" * 4096


def test_server_unreachable(cli, new_server, cli_factory):
    port = free_port()           # nothing listens there
    r = cli.run("fresh", "register", wire.uname("nope"), password="password123",
                server_url=f"wss://127.0.0.1:{port}", json_out=False, timeout=30)
    assert r.rc == 3, r
    line = one_line(r.err)
    assert "unreachable" in line, line
    # a logged-in profile whose server went away
    s = new_server()
    own = cli_factory(s)
    own.ok("p", "register", wire.uname("gone"), password="password123")
    s.stop()
    t0 = time.monotonic()
    r = own.run("p", "chats", timeout=30)
    assert r.rc == 3, r
    assert r.err_json()["code"] == "CONNECT"
    assert time.monotonic() - t0 < 20
    r = own.run("p", "send", "@someone", "x", json_out=False, timeout=30)
    assert r.rc == 3 and "unreachable" in one_line(r.err)


def _fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                          str(pem)], capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].upper()


def test_untrusted_certificate_shows_fingerprint(cli, server):
    # another self-signed certificate, kept in the CLI fixture's temp dir (removed after)
    cli.base.mkdir(parents=True, exist_ok=True)
    other_key, other = cli.base / "k.pem", cli.base / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(other_key),
                    "-out", str(other), "-subj", "/CN=not-the-server", "-days", "2"],
                   check=True, capture_output=True)
    fp = _fingerprint(server.ca)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fp)
    r = cli.run("untrusting", "register", wire.uname("tls"), password="password123",
                ca=other, json_out=False)
    assert r.rc == 3, r
    line = one_line(r.err)
    assert fp in line.upper(), (fp, line)
    assert fp != _fingerprint(other) and _fingerprint(other) not in line.upper()
    r = cli.run("untrusting2", "register", wire.uname("tls"), password="password123", ca=other)
    assert r.rc == 3
    assert fp in r.err_json()["message"].upper()
    # nothing was registered through the untrusted connection; the right CA works
    cli.ok("untrusting3", "register", wire.uname("tlsok"), password="password123")


@pytest.mark.parametrize("name,code", [
    ("abcd", "USERNAME_INVALID"), ("a" * 33, "USERNAME_INVALID"),
    ("1abcde", "USERNAME_INVALID"), ("ab-cde", "USERNAME_INVALID"),
    ("ab cde", "USERNAME_INVALID"), ("abcdé", "USERNAME_INVALID"),
])
def test_cli_invalid_usernames(cli, name, code):
    r = cli.run("inv", "register", name, password="password123")
    assert r.rc == 1, r
    assert r.err_json()["code"] == code


def test_cli_username_case_and_password(cli):
    base = wire.uname("Up")
    mixed = base[:2].upper() + base[2:]
    u = cli.ok("up1", "register", mixed, password="password123").json[0]
    assert u["username"] == base
    r = cli.run("up2", "register", base, password="password123")
    assert r.rc == 1 and r.err_json()["code"] == "USERNAME_TAKEN"
    r = cli.run("up3", "register", wire.uname("shortpw"), password="1234567")
    assert r.rc == 1 and r.err_json()["code"] == "PASSWORD_INVALID"
    r = cli.run("up4", "register", wire.uname("longpw"), password="p" * 1025)
    assert r.rc == 1 and r.err_json()["code"] == "PASSWORD_INVALID"


def test_readme_example_profile_remembers_server_and_options_after_command(cli, pair):
    """The README's flow: only the first command names --server/--ca (the profile remembers
    them), and global options may follow the command (`parley --profile P receive --json`)."""
    a, b, pw, ua, ub = pair
    prof_a, prof_b = str(cli.profile("alice")), str(cli.profile("bob"))

    def bare(*args):
        return subprocess.run([str(PARLEY), *args], capture_output=True, text=True,
                              timeout=60)

    text = "readme-" + secrets.token_hex(4)
    r = bare("--profile", prof_a, "send", "@" + b, text)
    assert r.returncode == 0, r.stderr
    r = bare("--profile", prof_b, "receive", "--json")
    assert r.returncode == 0, r.stderr
    msgs = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    got = [m for m in msgs if m.get("type") == "message" and m.get("text") == text]
    assert len(got) == 1 and got[0]["from"] == a
    # a global option after the command, with a value, works too
    r = bare("--profile", "/nonexistent-should-be-overridden", "whoami", "--profile", prof_b,
             "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["username"] == b
    # a bad value of a trailing global option is a usage error (exit 2)
    r = bare("--profile", prof_b, "whoami", "--timeout-ms", "abc")
    assert r.returncode == 2 and "timeout-ms" in r.stderr

