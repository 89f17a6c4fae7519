"""Accounts, sessions and login throttling over the raw protocol."""
import time

import pytest

import wire
from wire import Closed, Conn


# ---- registration rules --------------------------------------------------------------------

@pytest.mark.parametrize("username", [
    "", "abcd", "a" * 33, "1abcde", "_abcde", "ab-cde", "ab cde", "abc.de", "abcdé",
    "ab\tcde", "@alice", "Ж" * 6,
])
def test_register_invalid_username(server, username):
    c = Conn(server)
    assert c.error("register", username=username, password="password123",
                   device="d") == "USERNAME_INVALID"
    c.close()


def test_username_limits_and_case(server):
    base = wire.uname("Case")[:20]                   # e.g. case_1a2b3c4d
    five = "q" + base[-4:]                           # exactly 5 characters
    c = Conn(server)
    c.register(five, "password123")
    assert c.user.username == five
    c.close()
    long32 = ("l" + base.replace("_", ""))[:11] + "x" * 21
    assert len(long32) == 32
    c = Conn(server)
    c.register(long32, "password123")
    assert c.user.username == long32
    c.close()
    mixed = "Mix_" + base
    c = Conn(server)
    c.register(mixed, "password123")
    assert c.user.username == mixed.lower()
    c.close()
    for again in (mixed.lower(), mixed.upper(), mixed):
        c = Conn(server)
        assert c.error("register", username=again, password="password123",
                       device="d") == "USERNAME_TAKEN"
        c.close()
    # login and lookups are case-insensitive as well
    c = Conn(server)
    c.login(mixed.upper(), "password123")
    assert c.user.username == mixed.lower()
    assert c.call("resolve_user", username=mixed.upper()).username == mixed.lower()
    c.close()


@pytest.mark.parametrize("pw", ["", "1234567", "x" * 1025], ids=["empty", "7", "1025"])
def test_register_invalid_password(server, pw):
    c = Conn(server)
    name = wire.uname("pw")
    assert c.error("register", username=name, password=pw, device="d") == "PASSWORD_INVALID"
    # and nothing was created: the name is still free
    c.register(name, "password123")
    c.close()


@pytest.mark.parametrize("pw", ["12345678", "p" * 1024, "пароль-パスワード"])
def test_register_password_bounds_accepted(server, pw):
    c = Conn(server)
    name = wire.uname("pwok")
    c.register(name, pw)
    c.close()
    c = wire.login(server, name, pw)
    assert c.user.username == name
    c.close()


def test_login_failures_do_not_reveal_users(module_server):
    a = wire.register(module_server, "real")
    c = Conn(module_server)
    assert c.error("login", username=a.username, password="wrong-password",
                   device="d") == "INVALID_CREDENTIALS"
    assert c.error("login", username="nosuchuser_q", password="wrong-password",
                   device="d") == "INVALID_CREDENTIALS"
    assert c.error("login", username="!!", password="wrong-password",
                   device="d") in ("INVALID_CREDENTIALS", "USERNAME_INVALID")
    c.close()


# ---- sessions ----------------------------------------------------------------------------------

def test_sessions_list_terminate_and_goodbye(server):
    a1 = wire.register(server, "sess", device="laptop")
    a2 = wire.login(server, a1.username, a1.password, device="phone")
    a3 = wire.login(server, a1.username, a1.password, device="tablet ✓")
    assert len({a1.session_id, a2.session_id, a3.session_id}) == 3
    assert a1.user.id == a2.user.id == a3.user.id
    now = time.time()
    for me in (a1, a2):
        lst = list(me.call("list_sessions").sessions)
        assert sorted(s.device for s in lst) == sorted(["laptop", "phone", "tablet ✓"])
        assert sorted(s.id for s in lst) == sorted([a1.session_id, a2.session_id,
                                                    a3.session_id])
        cur = [s.id for s in lst if s.current]
        assert cur == [me.session_id]
        for s in lst:
            assert abs(s.created - now) < 120 and abs(s.last_active - now) < 120

    # another account's session cannot be terminated, nor is it listed
    bob = wire.register(server, "sessbob")
    r = a1.request("terminate_session", session_id=bob.session_id)
    assert r.HasField("error") or list(r.terminated.terminated) == []
    bob.ping()
    assert bob.session_id not in [s.id for s in a1.call("list_sessions").sessions]

    # terminate a2 from a1: a2's live connection is told and closed at once
    t0 = time.monotonic()
    r = a1.call("terminate_session", session_id=a2.session_id)
    assert list(r.terminated) == [a2.session_id]
    gb = a2.wait_closed(timeout=3)
    assert gb is not None and wire.code_name(gb.code) == "SESSION_TERMINATED", gb
    assert time.monotonic() - t0 < 3
    u = a3.wait_update("session_ended", lambda s: s.id == a2.session_id)
    assert u.pts > 0
    c = Conn(server)
    assert c.error("resume", token=a2.token) == "SESSION_TERMINATED"
    c.close()
    assert sorted(s.id for s in a1.call("list_sessions").sessions) == sorted(
        [a1.session_id, a3.session_id])

    # terminate all others
    r = a1.call("terminate_session", others=True)
    assert list(r.terminated) == [a3.session_id]
    gb = a3.wait_closed(timeout=3)
    assert gb is not None and wire.code_name(gb.code) == "SESSION_TERMINATED"
    assert [s.id for s in a1.call("list_sessions").sessions] == [a1.session_id]
    # nothing left to terminate
    assert list(a1.call("terminate_session", others=True).terminated) == []

    # logout ends this session too
    tok = a1.token
    a1.call("logout")
    try:
        assert a1.error("get_chats") in ("NOT_AUTHENTICATED", "SESSION_TERMINATED")
    except Closed:
        pass
    c = Conn(server)
    assert c.error("resume", token=tok) == "SESSION_TERMINATED"
    c.close()
    bob.ping()


def test_resume_keeps_identity(server):
    a = wire.register(server, "resume")
    r = Conn(server)
    res = r.resume(a.token)
    assert res.user.id == a.user.id and res.user.username == a.username
    assert res.session_id == a.session_id
    assert len(res.token) == 0, "Resume must not hand out the token again"
    assert res.pts == a.call("get_state").pts
    r.close()


def test_device_names(server):
    a = wire.register(server, "dev", device="")
    lst = a.call("list_sessions").sessions
    assert [s.device for s in lst] == ["unknown"]
    c = Conn(server)
    assert c.error("login", username=a.username, password=a.password,
                   device="d" * 65) == "BAD_REQUEST"
    c.login(a.username, a.password, device="ü" * 64)
    assert sorted(s.device for s in a.call("list_sessions").sessions) == sorted(
        ["unknown", "ü" * 64])
    c.close()


# ---- login throttling ---------------------------------------------------------------------------

def test_login_throttling_per_user_and_per_ip(new_server):
    user_limit, ip_limit = 5, 12
    s = new_server(config_lines=[f"login_fail_user = {user_limit}",
                                 f"login_fail_ip = {ip_limit}",
                                 "login_fail_window = 900"])
    x = wire.register(s, "victim")
    y = wire.register(s, "other")
    z = wire.register(s, "third")
    c = Conn(s)
    fails = 0
    for i in range(user_limit):
        assert c.error("login", username=x.username, password=f"wrong-password-{i}",
                       device="d") == "INVALID_CREDENTIALS"
        fails += 1
    r = c.request("login", username=x.username, password="wrong-again", device="d")
    assert wire.code_name(r.error.code) == "FLOOD_WAIT", r
    assert 1 <= r.error.retry_after <= 900
    # the right password does not get through while the username is throttled
    r = c.request("login", username=x.username, password=x.password, device="d")
    assert wire.code_name(r.error.code) == "FLOOD_WAIT", r
    assert not r.HasField("auth")
    # another user from the same address still logs in
    c2 = Conn(s)
    c2.login(y.username, y.password)
    c2.close()
    # x's existing session is not affected
    x.ping()
    # failures for other names count towards the per-address limit
    n = 0
    while True:
        n += 1
        assert n <= ip_limit + 2, "per-address limit never reached"
        r = c.request("login", username=f"nobody_{n}_zz", password="wrong-password",
                      device="d")
        code = wire.code_name(r.error.code)
        if code == "FLOOD_WAIT":
            assert r.error.retry_after >= 1
            break
        assert code == "INVALID_CREDENTIALS", code
        fails += 1
    assert fails == ip_limit, f"address throttled after {fails} failures, limit {ip_limit}"
    # now even a correct password for an untouched user is throttled from this address
    c3 = Conn(s)
    r = c3.request("login", username=z.username, password=z.password, device="d")
    assert wire.code_name(r.error.code) == "FLOOD_WAIT", r
    c3.close()
    c.close()
