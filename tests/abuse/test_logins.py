"""test_logins.py: registration and login abuse (issue 16, items 2-4) against a real parleyd.

Two sources on one machine: parleyd listens dual-stack on [::], so a client on 127.0.0.1 is
one source (an IPv4 address) and a client on ::1 another (the IPv6 /64 ::/64). The attacker
is always ::1, the well-behaved client 127.0.0.1.

How many password checks reach Argon2 is read from parleyd's debug log: req_account.c logs
"auth: verify|hash job queued for source S" for each job it hands to the Argon2 pool.

  (a) a registration flood from one source is refused before hashing (at most the hourly
      allowance is hashed; the rest get FLOOD_WAIT or BUSY) while a login on the side is
      served; the HTTP API (POST /api/register) shares the same per-source limit;
  (b) 40 parallel wrong guesses for one account: at most 5 reach Argon2;
  (c) an attacker's failures for an account from source A do not block the owner's right
      password from source B, on the WebSocket or the HTTP API;
  (d) Resume (a device already logged in) is never throttled, even from source A;
  and registration = closed refuses new accounts on every path (WebSocket, HTTP API, CLI).
"""
import http.client
import re
import ssl
import threading
import time

import wire
from wire import Conn, code_name, pb

ATTACKER = "::1"
SIDE = "127.0.0.1"
DEADLINE = 60          # liveness guard for one well-behaved request, seconds
PW = "right password 1"


def dual_stack(new_server, *config_lines):
    s = new_server(start=False, config_lines=["log_level = debug", *config_lines])
    s.listen_host = "[::]"
    return s.start()


def jobs_queued(server, kind):
    """{source: count} of the password jobs of `kind` ("verify"/"hash") handed to Argon2."""
    out = {}
    for m in re.finditer(rf"auth: {kind} job queued for source (\S+)", server.log_text()):
        out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def attacker_jobs(server, kind):
    return sum(n for src, n in jobs_queued(server, kind).items() if src != SIDE)


def timed_login(server, username, password, host=SIDE):
    t0 = time.monotonic()
    c = Conn(server, host=host, timeout=DEADLINE)
    c.login(username, password)
    took = time.monotonic() - t0
    c.close()
    return took


def api(server, kind, username, password, host, **extra):
    """POST /api/<kind> from `host` as a browser on our page; -> (status, Response)."""
    msg = (pb.RegisterRequest if kind == "register" else pb.LoginRequest)(
        username=username, password=password, device="pytest-web", **extra)
    body = msg.SerializeToString()
    server.secrets.add(password)
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.check_hostname = False
    c = http.client.HTTPSConnection(host, server.port, context=ctx, timeout=DEADLINE)
    netloc = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    try:
        c.request("POST", f"/api/{kind}", body, {"Origin": f"https://{netloc}",
                                                "Content-Length": str(len(body))})
        r = c.getresponse()
        resp = pb.Response()
        resp.ParseFromString(r.read())
        return r.status, resp
    finally:
        c.close()


def test_sources_are_distinct(new_server):
    """The premise of the other tests: ::1 and 127.0.0.1 reach parleyd as two sources."""
    s = dual_stack(new_server)
    a = wire.register(s, "srcb")
    c = Conn(s, host=ATTACKER)
    c.login(a.username, a.password)
    c.close()
    srcs = jobs_queued(s, "verify")
    assert SIDE not in srcs and len(srcs) == 1, srcs
    assert jobs_queued(s, "hash") == {SIDE: 1}


# ---- (a) registration flood ---------------------------------------------------------------

def _register_flood(server, stop, results, rounds=300):
    """One attacker thread: registers fresh names on one connection until told to stop."""
    c = Conn(server, host=ATTACKER, timeout=DEADLINE)
    try:
        for _ in range(rounds):
            if stop.is_set():
                break
            r = c.request("register", username=wire.uname("flood"), password="flood-pass-1",
                          device="bot")
            if r.HasField("error") and r.error.code:
                results.append((code_name(r.error.code), r.error.retry_after))
            else:
                results.append(("OK", 0))
                c.close()
                c = Conn(server, host=ATTACKER, timeout=DEADLINE)
    finally:
        c.close()


def test_registration_flood_refused_before_hashing(new_server):
    limit = 3
    s = dual_stack(new_server, f"registrations_per_source_per_hour = {limit}",
                   "password_jobs_per_source = 4", "argon2_mem = 1M")
    alice = wire.register(s, "alice", password=PW)
    alice.close()
    before = max(timed_login(s, alice.username, PW) for _ in range(3))

    stop, results = threading.Event(), []
    threads = [threading.Thread(target=_register_flood, args=(s, stop, results))
               for _ in range(8)]
    for t in threads:
        t.start()
    try:
        while not results:   # the flood has begun
            assert any(t.is_alive() for t in threads), "the flood threads ended early"
            time.sleep(0.01)
        n0 = len(results)
        during = [timed_login(s, alice.username, PW) for _ in range(5)]  # must succeed
        n1 = len(results)
    finally:
        stop.set()
        for t in threads:
            t.join(DEADLINE)
    print(f"\nside login with no attack: {before * 1000:.1f} ms (max of 3); during a "
          f"registration flood ({n1 - n0} of its {len(results)} requests answered meanwhile): "
          f"max {max(during) * 1000:.1f} ms over {len(during)} logins")
    assert n1 > n0, "the flood did not run while the side logins were measured"
    assert during, "no login was measured during the attack"
    ok = [r for r in results if r[0] == "OK"]
    refused = [r for r in results if r[0] != "OK"]
    assert len(ok) <= limit, f"{len(ok)} accounts made from one source, limit {limit}"
    assert refused, "the flood was never refused"
    for code, retry in refused:
        assert code in ("FLOOD_WAIT", "BUSY"), code
        assert retry >= 1, (code, retry)
    assert any(code == "FLOOD_WAIT" for code, _ in refused)
    hashed = attacker_jobs(s, "hash")
    assert hashed <= limit, f"{hashed} registrations reached Argon2, limit {limit}"

    # The browser's API shares the limit: this source is refused there too, the other
    # source can still register there.
    status, r = api(s, "register", wire.uname("webflood"), "flood-pass-1", ATTACKER)
    assert status == 429 and code_name(r.error.code) == "FLOOD_WAIT", (status, r)
    assert r.error.retry_after >= 1
    status, r = api(s, "register", wire.uname("webside"), "side-pass-1", SIDE)
    assert status == 200 and r.HasField("auth"), (status, r)
    assert attacker_jobs(s, "hash") == hashed


# ---- (b) parallel guesses ------------------------------------------------------------------

def test_parallel_guesses_at_most_five_reach_argon2(new_server):
    s = dual_stack(new_server)
    alice = wire.register(s, "alice", password=PW)
    alice.close()
    before = timed_login(s, alice.username, PW)
    conns = [Conn(s, host=ATTACKER, timeout=DEADLINE) for _ in range(40)]
    ids = []
    for i, c in enumerate(conns):   # all 40 sent before any answer is read
        rid = c.new_id()
        c.send_frame(wire.build_frame("login", rid, username=alice.username,
                                      password=f"guess-{i:04d}", device="bot"))
        ids.append(rid)
    codes = {}
    for c, rid in zip(conns, ids):
        r = c.wait_response(rid, DEADLINE)
        assert r.HasField("error") and r.error.code, r
        name = code_name(r.error.code)
        codes[name] = codes.get(name, 0) + 1
        if name != "INVALID_CREDENTIALS":
            assert name in ("FLOOD_WAIT", "BUSY") and r.error.retry_after >= 1, r.error
        c.close()
    checked = attacker_jobs(s, "verify")
    during = timed_login(s, alice.username, PW)
    print(f"\n40 parallel guesses: answers {codes}, {checked} reached Argon2; the owner's "
          f"login from the other source: {before * 1000:.1f} ms before, "
          f"{during * 1000:.1f} ms after")
    assert 1 <= codes.get("INVALID_CREDENTIALS", 0) <= 5, codes
    assert 1 <= checked <= 5, f"{checked} of 40 parallel guesses reached Argon2"


# ---- (c) and (d): the owner is not locked out ----------------------------------------------

def test_attacker_failures_do_not_lock_out_owner(new_server):
    s = dual_stack(new_server)
    alice = wire.register(s, "alice", password=PW)   # this device stays logged in
    before = timed_login(s, alice.username, PW)
    bad = Conn(s, host=ATTACKER)
    for i in range(5):
        assert bad.error("login", username=alice.username, password=f"wrong-guess-{i}",
                         device="bot") == "INVALID_CREDENTIALS"
    r = bad.request("login", username=alice.username, password="wrong-guess-x", device="bot")
    assert code_name(r.error.code) == "FLOOD_WAIT" and r.error.retry_after >= 1, r
    # the attacker's source is slowed even with the right password: the limit is per
    # (username, source), and this one has used its attempts
    r = bad.request("login", username=alice.username, password=PW, device="bot")
    assert code_name(r.error.code) == "FLOOD_WAIT" and not r.HasField("auth"), r
    status, resp = api(s, "login", alice.username, PW, ATTACKER)
    assert status == 429 and code_name(resp.error.code) == "FLOOD_WAIT", (status, resp)
    bad.close()

    # (c) the owner, from the other source: WebSocket and HTTP API
    during = timed_login(s, alice.username, PW, host=SIDE)
    status, resp = api(s, "login", alice.username, PW, SIDE)
    assert status == 200 and resp.HasField("auth"), (status, resp)
    print(f"\nowner's login from the other source: {before * 1000:.1f} ms before the "
          f"attack, {during * 1000:.1f} ms after 5 failures + FLOOD_WAIT from the attacker")

    # (d) devices already logged in: the open connection works, and Resume with the token
    # is served even from the throttled source
    alice.ping()
    c = Conn(s, host=ATTACKER)
    res = c.resume(alice.token)
    assert res.user.id == alice.user.id
    c.ping()
    c.close()
    alice.close()
    assert attacker_jobs(s, "verify") == 5


# ---- registration = closed ------------------------------------------------------------------

def test_registration_closed(new_server, cli_factory):
    """An operator's closed server: no new account by any path; existing ones log in."""
    s = new_server(config_lines=["log_level = debug"])
    alice = wire.register(s, "alice", password=PW)
    alice.close()
    s.stop()
    s.config_lines.append("registration = closed")
    s.start()
    c = Conn(s)
    r = c.request("register", username=wire.uname("late"), password="late-pass-1", device="d")
    assert code_name(r.error.code) == "FORBIDDEN" and "closed" in r.error.message, r
    c.login(alice.username, PW)
    c.close()
    status, resp = api(s, "register", wire.uname("lateweb"), "late-pass-1", SIDE)
    assert status == 403 and code_name(resp.error.code) == "FORBIDDEN", (status, resp)
    res = cli_factory(s).run("p1", "register", wire.uname("latecli"), password="late-pass-1")
    assert res.rc != 0 and res.err_json()["code"] == "FORBIDDEN", res
    assert jobs_queued(s, "hash") == {SIDE: 1}, "a refused registration was hashed"


# ---- registration = invite ------------------------------------------------------------------

def make_invite(server):
    import subprocess
    from conftest import PARLEYD
    p = subprocess.run([str(PARLEYD), "--data", str(server.data), "--make-invite"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    code = p.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", code), p.stdout
    server.secrets.add(code)
    return code


def test_registration_by_invite(new_server, cli_factory):
    """registration = invite: a code from `parleyd --make-invite` (made while the server
    runs) registers one account, once; without a code nothing is hashed."""
    s = new_server(config_lines=["log_level = debug", "registration = invite"])
    c = Conn(s)
    r = c.request("register", username=wire.uname("noinv"), password="inv-pass-1", device="d")
    assert code_name(r.error.code) == "FORBIDDEN" and "invite" in r.error.message, r
    assert not jobs_queued(s, "hash"), "a registration without a code was hashed"
    r = c.request("register", username=wire.uname("badinv"), password="inv-pass-1",
                  device="d", invite="0" * 32)
    assert code_name(r.error.code) == "FORBIDDEN" and "invite" in r.error.message, r
    code = make_invite(s)
    name = wire.uname("inv")
    r = c.request("register", username=name, password="inv-pass-1", device="d", invite=code)
    assert r.HasField("auth") and r.auth.user.username == name, r
    c.close()
    c = Conn(s)   # the code is used up
    r = c.request("register", username=wire.uname("again"), password="inv-pass-1",
                  device="d", invite=code)
    assert code_name(r.error.code) == "FORBIDDEN", r
    c.close()
    # the browser's API and the CLI take a code too
    status, resp = api(s, "register", wire.uname("webinv"), "inv-pass-1", SIDE)
    assert status == 403, (status, resp)
    status, resp = api(s, "register", wire.uname("webinv"), "inv-pass-1", SIDE,
                       invite=make_invite(s))
    assert status == 200 and resp.HasField("auth"), (status, resp)
    cli = cli_factory(s)
    res = cli.run("p1", "register", wire.uname("cliinv"), password="inv-pass-1")
    assert res.rc != 0 and res.err_json()["code"] == "FORBIDDEN", res
    code2 = make_invite(s)
    res = cli.run("p1", "register", wire.uname("cliinv"), password="inv-pass-1",
                  env_extra={"PARLEY_INVITE": code2})
    assert res.rc == 0, res
