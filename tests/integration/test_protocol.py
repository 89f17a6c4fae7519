"""The protocol as docs/PROTOCOL.md states it, checked against the real server: how the
server ends a connection (Goodbye, then a WebSocket close frame with a status code), the
range of positions every state-changing result carries, and Resume's one answer for a dead
token (with what the CLI does about it)."""
import secrets
import sqlite3
import time

import pytest
import websocket

import wire
from wire import Closed, Conn, build_frame, code_name, pb


# ---- closing: Goodbye, then a close frame ---------------------------------------------------

def closed_by_server(c, timeout=10.0):
    """Reads until the server ends the connection; returns (Goodbye code name, close status).
    The close status is None when the TCP connection ended without a close frame."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close the connection"
        try:
            c.pump(left)
        except Closed as e:
            gb = code_name(e.goodbye.code) if e.goodbye is not None else None
            return gb, e.close_code


def raw_close_frame(c, timeout=10.0):
    """Reads raw frames (answering nothing) until a close frame; returns its status, or None
    if the connection ended without one."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no close frame and no end of the connection"
        c.ws.settimeout(left)
        try:
            fr = c.ws.recv_frame()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return None
        if fr.opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(fr.data[:2], "big")


def wait_tcp_end(c, timeout):
    """Reads until the server ends the TCP connection; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        left = t0 + timeout - time.monotonic()
        assert left > 0, f"the server kept the connection open over {timeout} s"
        c.ws.sock.settimeout(left)
        try:
            if not c.ws.sock.recv(4096):
                return time.monotonic() - t0
        except (ConnectionError, OSError):
            return time.monotonic() - t0


def test_text_frame_closes_with_1003(server):
    c = Conn(server)
    c.send_text("text is not the protocol")
    assert closed_by_server(c) == ("BAD_REQUEST", 1003)   # unacceptable data type


def test_oversized_frame_closes_with_1009(server):
    c = Conn(server)
    c.send_raw(b"\x00" * (64 * 1024 + 1))
    assert closed_by_server(c) == ("TOO_LARGE", 1009)     # message too big


def test_malformed_frame_closes_with_1007(server):
    c = Conn(server)
    c.send_raw(b"\xff\xff\xff\xff")
    assert closed_by_server(c) == ("BAD_REQUEST", 1007)   # invalid payload data


@pytest.mark.parametrize("first,goodbye", [
    (("get_chats", {}), "BAD_REQUEST"),
    (("hello", {"protocol_version": 99}), "UNSUPPORTED_VERSION"),
], ids=["not_hello", "wrong_version"])
def test_refused_hello_closes_with_1008(server, first, goodbye):
    c = Conn(server, hello=False)
    kind, fields = first
    c.send_frame(build_frame(kind, 1, **fields))
    assert closed_by_server(c) == (goodbye, 1008)          # policy violation


def test_terminated_session_closes_with_1000(server):
    a = wire.register(server, "term")
    other = wire.login(server, a.username, a.password, device="other")
    a.call("terminate_session", session_id=other.session_id)
    assert closed_by_server(other) == ("SESSION_TERMINATED", 1000)


def test_logout_closes_the_sessions_other_connections_with_1000(server):
    a = wire.register(server, "lgo")
    twin = wire.resume(server, a.token)
    a.call("logout")
    assert closed_by_server(twin) == ("SESSION_TERMINATED", 1000)
    a.ping()                     # the connection that logged out stays, unauthenticated
    assert a.error("get_chats") == "NOT_AUTHENTICATED"


def test_tcp_ends_right_after_the_clients_close_answer(server):
    """The server waits for the client's close frame (RFC 6455 7.1.1), then ends TCP at once,
    without waiting for its timeout."""
    c = Conn(server)
    c.send_text("x")
    assert raw_close_frame(c) == 1003
    c.ws.send_close()
    assert wait_tcp_end(c, 10) < 3


def test_tcp_ends_when_the_client_never_answers_the_close(server):
    c = Conn(server)
    c.send_text("x")
    assert raw_close_frame(c) == 1003
    assert wait_tcp_end(c, 15) < 10
    c2 = Conn(server)            # and the server serves on
    assert c2.ping()


# ---- positions: every state-changing result carries the range it added ---------------------
#
# The rule (docs/PROTOCOL.md, "Updates and positions"): a result carries `pts` and `pts_count`,
# the request added entries pts-pts_count+1..pts to the caller's log; the connection that
# asked is not pushed them, every other connection of the account is.

class Follower:
    """A client that keeps its position by the documented rule and counts the gaps it would
    have to fill with GetDifference."""

    def __init__(self, pts):
        self.local = pts
        self.gaps = 0

    def push(self, u):
        if u.pts <= self.local:
            return
        if u.pts != self.local + 1:
            self.gaps += 1
            return
        self.local = u.pts

    def result(self, pts, count):
        if count == 0 or pts <= self.local:
            return
        if self.local >= pts - count:
            self.local = pts
        else:
            self.gaps += 1


class Env:
    """Account A on three connections: `a` acts; `twin` shares a's session, `other` is A's
    second session (both must be pushed what a's requests add). B and C are other people."""


@pytest.fixture
def env(server):
    e = Env()
    e.server = server
    e.a = wire.register(server, "acta")
    e.twin = wire.resume(server, e.a.token)
    e.other = wire.login(server, e.a.username, e.a.password, device="second")
    e.b = wire.register(server, "actb")
    e.c = wire.register(server, "actc")
    e.chat = e.a.open_chat(e.b.username)
    e.group = e.a.call("create_group", title="crew",
                       usernames=[e.b.username, e.c.username]).chat
    e.a.call("set_role", chat_id=e.group.id, user_id=e.b.user.id, role=pb.ADMIN)
    e.msg = e.b.send(e.chat.id, "hello a").message
    e.mine = e.a.send(e.chat.id, "mine").message
    return e


def kinds(ups):
    return [(u.pts, u.WhichOneof("kind")) for u in ups]


def acted(e, request, count, **fields):
    """Makes `a` send the request; checks the result's range against the log (GetDifference),
    the pushes to A's other connections and the acting connection, and a Follower. Returns
    (result, the entries from the difference)."""
    a = e.a
    p0 = a.call("get_state").pts
    for c in (e.twin, e.other, a):
        c.drain(0)
        c.updates.clear()
    f = Follower(p0)
    r = a.call(request, **fields)
    assert (r.pts, r.pts_count) == ((p0 + count, count) if count else (0, 0)), \
        f"{request}: expected {count} entries after {p0}, result says {r.pts_count} ending at {r.pts}"
    ups, end, _ = a.difference(p0)
    assert [u.pts for u in ups] == list(range(p0 + 1, p0 + count + 1)) and end == p0 + count, \
        f"{request}: the log holds {kinds(ups)} after {p0}"
    for c in (e.twin, e.other):
        if count:
            deadline = time.monotonic() + 5
            while not any(u.pts == p0 + count for u in c.updates):
                assert time.monotonic() < deadline, f"{request}: not pushed to another connection"
                c.pump(0.2)
        c.drain(0)
        assert kinds(u for u in c.updates if u.pts > p0) == kinds(ups), request
    a.drain(0)
    assert not [u for u in a.updates if u.pts > p0], \
        f"{request}: the acting connection was pushed its own entries"
    f.result(r.pts, r.pts_count)
    assert f.gaps == 0 and f.local == p0 + count
    if hasattr(r, "updates"):
        assert kinds(r.updates) == kinds(ups), f"{request}: result updates differ from the log"
    return r, ups


def test_send_message(env):
    r, ups = acted(env, "send_message", 1, chat_id=env.chat.id, text="one", random_id=4242)
    assert ups[0].new_message.id == r.message.id
    # the same random_id again stores nothing: the range is the first send's entry
    again = env.a.call("send_message", chat_id=env.chat.id, text="one", random_id=4242)
    assert (again.message.id, again.pts, again.pts_count) == (r.message.id, r.pts, 1)


def test_edit_message(env):
    r, ups = acted(env, "edit_message", 1, chat_id=env.chat.id, id=env.mine.id, text="edited")
    assert ups[0].edit_message.text == "edited"


@pytest.mark.parametrize("for_everyone,kind", [(True, "delete_messages"),
                                               (False, "hide_messages")])
def test_delete_messages(env, for_everyone, kind):
    r, ups = acted(env, "delete_messages", 1, chat_id=env.chat.id, ids=[env.mine.id],
                   for_everyone=for_everyone)
    assert list(r.deleted) == [env.mine.id] and ups[0].WhichOneof("kind") == kind
    acted(env, "delete_messages", 0, chat_id=env.chat.id, ids=[999999], for_everyone=True)


def test_read_history(env):
    r, ups = acted(env, "read_history", 1, chat_id=env.chat.id, max_id=env.msg.id)
    assert ups[0].read.max_id == env.msg.id
    acted(env, "read_history", 0, chat_id=env.chat.id, max_id=env.msg.id)   # no move


def test_open_private_chat(env):
    d = wire.register(env.server, "actd")
    r, ups = acted(env, "open_private_chat", 1, username=d.username)
    assert ups[0].chat.id == r.chat.id
    acted(env, "open_private_chat", 0, username=d.username)                 # exists


def service(ups):
    return [pb.ServiceAction.Name(u.new_message.service_action) for u in ups
            if u.WhichOneof("kind") == "new_message"]


def test_create_group(env):
    r, ups = acted(env, "create_group", 2, title="fresh", usernames=[env.b.username])
    assert [u.WhichOneof("kind") for u in r.updates] == ["chat", "new_message"]
    assert service(r.updates) == ["GROUP_CREATED"] and r.updates[0].chat.id == r.chat.id


def test_rename_chat(env):
    r, ups = acted(env, "rename_chat", 2, chat_id=env.group.id, title="renamed")
    assert service(r.updates) == ["TITLE_CHANGED"] and r.chat.title == "renamed"
    acted(env, "rename_chat", 0, chat_id=env.group.id, title="renamed")      # same title


def test_add_members(env):
    d = wire.register(env.server, "actd")
    r, ups = acted(env, "add_members", 2, chat_id=env.group.id, usernames=[d.username])
    assert service(r.updates) == ["MEMBERS_ADDED"]


def test_remove_members(env):
    """One chat change and one service message per removed member."""
    r, ups = acted(env, "remove_members", 3, chat_id=env.group.id,
                   usernames=[env.b.username, env.c.username])
    assert service(r.updates) == ["MEMBER_REMOVED", "MEMBER_REMOVED"]


def test_set_role(env):
    """The chat change goes to the promoted member only; the actor logs the service message."""
    r, ups = acted(env, "set_role", 1, chat_id=env.group.id, user_id=env.c.user.id,
                   role=pb.ADMIN)
    assert service(r.updates) == ["ROLE_CHANGED"]


def test_set_auto_delete(env):
    r, ups = acted(env, "set_auto_delete", 2, chat_id=env.group.id, seconds=3600)
    assert service(r.updates) == ["AUTODELETE_CHANGED"] and r.chat.auto_delete == 3600


def test_leave_chat(env):
    """The creator leaves: the chat is gone for A (one entry); the hand-over is B's news."""
    r, ups = acted(env, "leave_chat", 1, chat_id=env.group.id)
    assert not r.HasField("chat")
    assert [u.WhichOneof("kind") for u in r.updates] == ["chat_removed"]
    assert r.updates[0].chat_removed.chat_id == env.group.id


def test_terminate_session(env):
    third = wire.login(env.server, env.a.username, env.a.password, device="third")
    r, ups = acted(env, "terminate_session", 1, session_id=third.session_id)
    assert list(r.terminated) == [third.session_id]
    assert ups[0].session_ended.id == third.session_id


def test_terminate_other_sessions(env):
    """One entry per ended session; `other` is among them, so only the twin is checked for
    pushes here."""
    third = wire.login(env.server, env.a.username, env.a.password, device="third")
    a = env.a
    p0 = a.call("get_state").pts
    r = a.call("terminate_session", others=True)
    assert sorted(r.terminated) == sorted([env.other.session_id, third.session_id])
    assert (r.pts, r.pts_count) == (p0 + 2, 2)
    ups, end, _ = a.difference(p0)
    assert [u.pts for u in ups] == [p0 + 1, p0 + 2]
    env.twin.wait_update("session_ended", lambda s: s.id == env.other.session_id)
    env.twin.wait_update("session_ended", lambda s: s.id == third.session_id)
    a.drain(0)
    assert not a.find_updates("session_ended")


def test_a_client_following_the_rule_never_sees_a_gap(env):
    """Requests of every kind mixed with pushes from others: a Follower fed the acting
    connection's results and pushes stays gap-free and ends at the server's position."""
    a, b = env.a, env.b
    f = Follower(a.call("get_state").pts)
    a.drain(0)
    a.updates.clear()

    def res(r):
        for u in a.updates:
            f.push(u)
        a.updates.clear()
        f.result(r.pts, r.pts_count)

    def pushed(text):            # waits, leaving the update in a.updates for res()
        deadline = time.monotonic() + 5
        while not any(u.WhichOneof("kind") == "new_message" and u.new_message.text == text
                      for u in a.updates):
            assert time.monotonic() < deadline, f"{text!r} was not pushed"
            a.pump(0.2)

    g = a.call("create_group", title="mix", usernames=[b.username])
    res(g)
    b.send(g.chat.id, "from b")
    pushed("from b")
    res(a.call("rename_chat", chat_id=g.chat.id, title="mix 2"))
    res(a.send(g.chat.id, "from a"))
    res(a.call("set_auto_delete", chat_id=g.chat.id, seconds=60))
    b.send(env.chat.id, "private")
    pushed("private")
    res(a.call("remove_members", chat_id=g.chat.id, usernames=[b.username]))
    res(a.call("read_history", chat_id=env.chat.id))
    res(a.call("leave_chat", chat_id=g.chat.id))
    a.drain(0)
    for u in a.updates:
        f.push(u)
    assert f.gaps == 0
    assert f.local == a.call("get_state").pts


def test_cli_device_is_not_handed_back_its_own_changes(cli, server):
    """libparley applies each result's range: a profile that made group changes (two or more
    entries each), left a group and ended a session receives none of them back as updates,
    only what others did, and its saved position is the server's."""
    pw = "pw-proto-cli"
    a, b, c = wire.uname("clpa"), wire.uname("clpb"), wire.uname("clpc")
    for name, who in (("a", a), ("b", b), ("c", c)):
        cli.ok(name, "register", who, password=pw)
    cli.ok("a2", "login", a, password=pw)
    cli.ok("b", "send", "@" + a, "hi")           # the private chat exists from here on
    cli.ok("a", "receive")                       # this device's position: now
    gid = str(cli.ok("a", "group", "create", "own changes", "@" + b).json[0]["chat"])
    cli.ok("a", "group", "rename", gid, "still mine")
    cli.ok("a", "group", "add", gid, "@" + c)
    cli.ok("a", "group", "remove", gid, "@" + b, "@" + c)
    cli.ok("a", "chat", "autodelete", gid, "1h")
    # (a difference leaves out what concerns a chat the account has left: leave another one)
    left = str(cli.ok("a", "group", "create", "left", "@" + b).json[0]["chat"])
    cli.ok("a", "group", "leave", left)
    a2_session = [s for s in cli.ok("a", "sessions").json if not s.get("current")][0]["id"]
    cli.ok("a", "sessions", "terminate", str(a2_session))
    sent = cli.ok("b", "send", "@" + a, "from b").json[-1]
    got = cli.ok("a", "receive").json
    assert [(o["type"], o.get("id")) for o in got] == [("message", sent["id"])], got
    raw = wire.login(server, a, pw, device="raw")
    state = raw.call("get_state").pts
    assert cli.ok("a", "receive").json == []
    assert raw.call("get_state").pts == state


# ---- Resume: one answer for every token that names no live session --------------------------
#
# The server keeps only SHA-256 hashes of live tokens; ending a session deletes its row, so
# "never issued" and "ended" cannot be told apart. Both answer SESSION_TERMINATED (the
# connection stays, unauthenticated, for a Login); INVALID_CREDENTIALS is Login's answer.

def resume_error(server, token):
    c = Conn(server)
    code = c.error("resume", token=token)
    assert c.error("get_chats") == "NOT_AUTHENTICATED"
    return code, c


def test_resume_never_issued_token(server):
    code, c = resume_error(server, secrets.token_bytes(32))
    assert code == "SESSION_TERMINATED"
    a = wire.register(server, "resnew")           # the same connection can still log in
    c.login(a.username, a.password)
    assert c.call("get_state").pts >= 0


def test_resume_terminated_logged_out_and_wrong_length_tokens(server):
    a = wire.register(server, "resend")
    ended = wire.login(server, a.username, a.password, device="ended")
    out = wire.login(server, a.username, a.password, device="out")
    a.call("terminate_session", session_id=ended.session_id)
    out.call("logout")
    assert resume_error(server, ended.token)[0] == "SESSION_TERMINATED"
    assert resume_error(server, out.token)[0] == "SESSION_TERMINATED"
    # not a token at all: a malformed request
    for bad in (b"", ended.token[:31], ended.token + b"\0"):
        assert resume_error(server, bad)[0] == "BAD_REQUEST"
    # Login's wrong password is the one INVALID_CREDENTIALS
    assert Conn(server).error("login", username=a.username, password="wrong password",
                              device="x") == "INVALID_CREDENTIALS"


def profile_token(cli, profile, token):
    db = sqlite3.connect(cli.profile(profile) / "profile.db")
    with db:
        db.execute("UPDATE kv SET value = ? WHERE key = 'session_token'", (token,))
    db.close()


@pytest.mark.parametrize("how", ["never_issued", "terminated"])
def test_cli_forgets_a_dead_token_and_asks_for_login(cli, how):
    pw = "pw-proto-resume"
    a = wire.uname("clres")
    cli.ok("dev", "register", a, password=pw)
    if how == "never_issued":
        profile_token(cli, "dev", secrets.token_bytes(32))
    else:
        cli.ok("other", "login", a, password=pw)
        dev = cli.ok("dev", "whoami").json[0]["session"]
        cli.ok("other", "sessions", "terminate", str(dev))
    r = cli.run("dev", "chats")
    assert r.rc == 1 and r.err_json()["code"] == "SESSION_TERMINATED"
    assert "parley login" in r.err_json()["message"]
    r = cli.run("dev", "chats")                  # the token is forgotten
    assert r.rc == 1 and r.err_json()["code"] == "NO_SESSION"
    assert cli.ok("dev", "login", a, password=pw).json[-1]["username"] == a
    cli.ok("dev", "chats")


# ---- frame sizes ---------------------------------------------------------------------------

def test_cli_reads_server_frames_over_64_kib(cli, server):
    """Client frames are limited to 64 KiB, server frames are not: a history page or a
    difference of long messages is larger, and libparley must take it (it refused anything
    over 64 KiB, and such a device could never catch up)."""
    pw = "pw-proto-big"
    a, b = wire.uname("bigfa"), wire.uname("bigfb")
    cli.ok("b", "register", b, password=pw)
    cli.ok("a", "register", a, password=pw)
    raw = wire.login(server, a, pw, device="raw")
    chat = raw.open_chat(b)
    texts = ["é" * 4000 + f" {i}" for i in range(40)]     # 8 KB each: 320 KB in all
    raw.send_many(chat.id, texts)
    page = raw.call("get_history", chat_id=chat.id, limit=40)
    assert page.ByteSize() > 64 * 1024
    got = [m["text"] for m in cli.ok("a", "receive").json if m["type"] == "message"]
    assert got == texts
    assert [m["text"] for m in cli.ok("b", "history", "@" + a, "--limit", "40").json] == texts


def test_history_and_difference_limits(server):
    """GetHistory: limit 0 means 50, 200 is the most, 201 is refused; GetDifference: 0 means
    500, 1000 is the most, 1001 is refused."""
    a = wire.register(server, "lim")
    b = wire.register(server, "limb")
    chat = a.open_chat(b.username)
    since = a.call("get_state").pts
    sent = a.send_many(chat.id, [f"m{i}" for i in range(510)])
    ids = sorted(r.message.id for r in sent)
    page = a.call("get_history", chat_id=chat.id, limit=0).messages
    assert [m.id for m in page] == ids[-50:]                    # newest 50, oldest first
    assert [m.id for m in a.history(chat.id, limit=200)] == ids[-200:]
    assert [m.id for m in a.history(chat.id, limit=3, before_id=ids[10])] == ids[7:10]
    assert a.error("get_history", chat_id=chat.id, limit=201) == "BAD_REQUEST"
    d = a.call("get_difference", since_pts=since, limit=0)
    assert len(d.updates) == 500 and d.more and d.pts == since + 500
    d = a.call("get_difference", since_pts=since, limit=1000)
    assert len(d.updates) == 510 and not d.more
    assert a.error("get_difference", since_pts=since, limit=1001) == "BAD_REQUEST"
