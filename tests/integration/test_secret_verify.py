"""Interactive secret-chat verification (issue 16 item 6) through the real `parley` CLI on
two devices against a real parleyd: `secret verify ID --start` on alice's device and
`--accept` on bob's, each one process that prints {"type":"sas",...} lines and reads the
user's answer from stdin when the 7 emoji are shown. A full run ends "done" with the chat
marked verified on both devices; "no match" on one side, or a run nobody answers (timeout),
cancels on both and marks nothing. The verification messages travel inside the chat's
Double Ratchet, so the server only relays envelopes.
The crypto itself (commitment, tampered reveal, substituted keys) is tested in
tests/unit/test_lib_sc_sas.c."""
import secrets
import sqlite3
import subprocess
from pathlib import Path

import wire
from conftest import ALARMING, PARLEY, read_json_until


def setup_chat(cli):
    pw = "pw-" + secrets.token_hex(8)
    a, b = wire.uname("sva"), wire.uname("svb")
    cli.ok("alice", "register", a, password=pw)
    cli.ok("bob", "register", b, password=pw)
    chat = cli.ok("alice", "secret", "start", "@" + b).json[-1]["secret_chat"]
    cli.ok("bob", "receive")              # bob's device accepts the chat
    cli.ok("alice", "receive")            # alice's sees the answer: active
    assert cli.ok("alice", "secret", "list").json[-1]["state"] == "active"
    return chat


def spawn(cli, name, *args):
    cmd = [str(PARLEY), "--profile", str(cli.profile(name)), "--server", cli.server.url,
           "--ca", str(cli.server.ca), "--json"] + [str(x) for x in args]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sas_until(p, states, timeout=30):
    """The first {"type":"sas"} line of p whose state is in states (liveness guard only)."""
    return read_json_until(p, lambda o: o.get("type") == "sas" and o["state"] in states,
                           timeout, what=f"sas line in {states}")


def answer(p, text):
    p.stdin.write(text + "\n")
    p.stdin.flush()


def kill_all(*ps):
    """Kills whichever of the CLI processes ps (None: never started) still run (a failed
    test's clean-up)."""
    for p in ps:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def finish(p):
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    err = p.stderr.read()
    m = ALARMING.search(err)
    assert m is None, f"parley printed {m.group(0)!r}: {err[-4000:]}"
    return p.returncode, err


def verified(cli, name):
    return cli.ok(name, "secret", "list").json[-1]["verified"]


def test_full_verification_marks_both_verified(cli):
    chat = setup_chat(cli)
    pa = spawn(cli, "alice", "secret", "verify", chat, "--start", "--timeout", "60")
    pb = spawn(cli, "bob", "secret", "verify", chat, "--accept", "--timeout", "60")
    try:
        assert sas_until(pa, {"started"})["secret_chat"] == chat
        sa = sas_until(pa, {"show"})
        sb = sas_until(pb, {"show"})
        assert sa["emoji"] == sb["emoji"] and len(sa["emoji"]) == 7
        assert all(0x1F300 <= ord(ch) <= 0x1F6FF or 0x1F900 <= ord(ch) <= 0x1F9FF
                   for ch in sa["emoji"])
        assert not verified(cli, "alice") and not verified(cli, "bob")
        answer(pa, "match")
        answer(pb, "match")
        assert sas_until(pa, {"done", "cancelled"})["state"] == "done"
        assert sas_until(pb, {"done", "cancelled"})["state"] == "done"
        assert finish(pa)[0] == 0 and finish(pb)[0] == 0
    finally:
        kill_all(pa, pb)
    assert verified(cli, "alice") and verified(cli, "bob")
    # The chat still works both ways after the run.
    cli.ok("alice", "secret", "send", chat, "after verify")
    got = cli.ok("bob", "receive").json
    assert [o["text"] for o in got if o.get("type") == "message"] == ["after verify"]


def test_no_match_cancels_both_and_marks_nothing(cli):
    chat = setup_chat(cli)
    pa = spawn(cli, "alice", "secret", "verify", chat, "--start", "--timeout", "60")
    pb = spawn(cli, "bob", "secret", "verify", chat, "--accept", "--timeout", "60")
    try:
        sas_until(pa, {"show"})
        sas_until(pb, {"show"})
        answer(pa, "match")                # alice says match, bob says they differ
        answer(pb, "no match")
        cb = sas_until(pb, {"done", "cancelled"})
        assert cb["state"] == "cancelled" and cb["by_peer"] is False and cb["code"] == 1
        ca = sas_until(pa, {"done", "cancelled"})
        assert ca["state"] == "cancelled" and ca["by_peer"] is True
        assert "did not match" in ca["reason"]
        rc_a, err_a = finish(pa)
        rc_b, err_b = finish(pb)
        assert rc_a == 1 and rc_b == 1
        assert "VERIFICATION_CANCELLED" in err_a and "nothing marked" in err_b
    finally:
        kill_all(pa, pb)
    assert not verified(cli, "alice") and not verified(cli, "bob")
    # A later run starts cleanly and can still succeed.
    pa = spawn(cli, "alice", "secret", "verify", chat, "--start", "--timeout", "60")
    pb = spawn(cli, "bob", "secret", "verify", chat, "--accept", "--timeout", "60")
    try:
        sas_until(pa, {"show"})
        sas_until(pb, {"show"})
        answer(pa, "match")
        answer(pb, "match")
        assert finish(pa)[0] == 0 and finish(pb)[0] == 0
    finally:
        kill_all(pa, pb)
    assert verified(cli, "alice") and verified(cli, "bob")


def test_unanswered_run_times_out_and_marks_nothing(cli):
    chat = setup_chat(cli)
    r = cli.run("alice", "secret", "verify", chat, "--start", "--timeout", "2")
    assert r.rc == 1 and r.err_json()["code"] == "VERIFICATION_CANCELLED"
    assert "timed out" in r.err_json()["message"]
    states = [o["state"] for o in r.json if o.get("type") == "sas"]
    assert states[0] == "started" and states[-1] == "cancelled"
    assert r.json[-1]["code"] == 2
    # Bob's device fetches the request and the cancel together: nothing is left to accept
    # (the remembered request is forgotten with the cancel).
    got = cli.ok("bob", "receive").json
    assert [o["state"] for o in got if o.get("type") == "sas"] == ["requested", "cancelled"]
    assert remembered_request(cli, "bob") is None
    r = cli.run("bob", "secret", "verify", chat, "--accept", "--timeout", "1")
    assert r.rc == 1 and "timed out" in r.err_json()["message"]
    assert not verified(cli, "alice") and not verified(cli, "bob")


def remembered_request(cli, name):
    db = sqlite3.connect(str(Path(cli.profile(name)) / "profile.db"))
    try:
        row = db.execute("SELECT value FROM kv WHERE key = 'sc_sas_request'").fetchone()
    finally:
        db.close()
    return row[0] if row else None


def test_request_fetched_by_receive_is_accepted_later(cli):
    """The usual CLI order: bob's `receive` shows the request, then bob runs --accept."""
    chat = setup_chat(cli)
    pa = spawn(cli, "alice", "secret", "verify", chat, "--start", "--timeout", "60")
    pb = None
    try:
        sas_until(pa, {"started"})
        got = cli.ok("bob", "receive").json
        assert [o["state"] for o in got if o.get("type") == "sas"] == ["requested"]
        assert remembered_request(cli, "bob")
        pb = spawn(cli, "bob", "secret", "verify", chat, "--accept", "--timeout", "60")
        assert sas_until(pb, {"accepted"})["secret_chat"] == chat
        sa = sas_until(pa, {"show"})
        assert sas_until(pb, {"show"})["emoji"] == sa["emoji"]
        answer(pb, "yes")
        answer(pa, "match")
        assert finish(pa)[0] == 0 and finish(pb)[0] == 0
    finally:
        kill_all(pa, pb)
    assert verified(cli, "alice") and verified(cli, "bob")
    assert remembered_request(cli, "bob") is None


def test_bad_arguments(cli):
    chat = setup_chat(cli)
    for args in (("--start", "--accept"), ("--start", "--mark-verified"),
                 ("--timeout", "5"), ("--start", "--timeout", "0"),
                 ("--start", "--timeout", "601")):
        r = cli.run("alice", "secret", "verify", chat, *args)
        assert r.rc == 2, (args, r)
    r = cli.run("alice", "secret", "send", chat, "x", "--start")
    assert r.rc == 2
    r = cli.run("alice", "secret", "verify", 987654321, "--start", "--timeout", "1")
    assert r.rc == 1 and r.err_json()["code"] == "CHAT_NOT_FOUND"
    assert not verified(cli, "alice")
