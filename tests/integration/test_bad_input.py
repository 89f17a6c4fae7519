"""Bad input over the raw protocol: every malformed, out-of-range or hostile request gets a
clear typed error (or Goodbye + close), the server keeps serving, another connected client is
unaffected, and nothing stored changes."""
import os
import socket
import ssl
import time

import pytest
import websocket

import wire
from wire import Closed, Conn, build_frame, code_name, pb, replace_same_len


@pytest.fixture(scope="module")
def env(module_server):
    s = module_server
    alice = wire.register(s, "alice")
    bob = wire.register(s, "bob")
    eve = wire.register(s, "eve")
    carol = wire.register(s, "carol")          # the bystander: must keep being served
    chat = alice.open_chat(bob.username)
    msgs = [alice.send(chat.id, f"hello {i}").message for i in range(3)]
    msgs.append(bob.send(chat.id, "from bob").message)
    group = alice.call("create_group", title="crew", usernames=[bob.username]).chat
    alice.send(group.id, "group hi")
    # enough group messages that the group's ids run past the private chat's
    alice.send_many(group.id, [f"group filler {i}" for i in range(40)])

    class E:
        pass
    e = E()
    e.server, e.alice, e.bob, e.eve, e.carol = s, alice, bob, eve, carol
    e.chat, e.msgs, e.group = chat, msgs, group
    return e


def snapshot(e):
    """What is stored, as the accounts see it."""
    def hist(conn, cid):
        return [(m.id, m.from_user, m.text, m.edit_date, m.reply_to, m.ttl, m.kind)
                for m in conn.full_history(cid)]

    def chats(conn):
        return sorted((c.id, c.kind, c.title, c.member_count, c.top_message_id, c.auto_delete)
                      for c in conn.call("get_chats").chats)

    def members(conn, cid):
        return sorted((m.user.id, m.role) for m in conn.call("get_members", chat_id=cid).members)

    return (hist(e.alice, e.chat.id), hist(e.bob, e.chat.id), hist(e.alice, e.group.id),
            chats(e.alice), chats(e.bob), chats(e.eve), members(e.alice, e.group.id),
            e.alice.call("get_state").pts, e.bob.call("get_state").pts,
            e.eve.call("get_state").pts)


@pytest.fixture
def unharmed(env):
    """Before: snapshot. After: server alive, bystander answered, healthz ok, same data."""
    before = snapshot(env)
    yield env
    assert env.server.alive(), "parleyd died:\n" + env.server.log_text()[-3000:]
    t0 = time.monotonic()
    env.carol.ping(timeout=10)
    assert time.monotonic() - t0 < 10
    assert env.server.http_get("/healthz")[0] == 200
    env.alice.updates.clear()
    env.bob.updates.clear()
    assert snapshot(env) == before, "stored data changed after bad input"


def expect_reject(c, codes, timeout=10, need_close=False):
    """After a malformed frame: a Response error with a code in `codes` (connection may stay
    open), or Goodbye with such a code followed by the close. Returns "error" or "closed"."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no error, no Goodbye, no close after bad input")
        try:
            sf = c.pump(left)
        except Closed as e:
            assert e.goodbye is not None, "connection closed without a Goodbye"
            assert code_name(e.goodbye.code) in codes, e.goodbye
            return "closed"
        if sf is None:
            continue
        w = sf.WhichOneof("frame")
        if w == "response":
            r = c.responses.pop(sf.response.id)
            assert r.HasField("error"), f"bad input accepted: {r}"
            assert code_name(r.error.code) in codes, r.error
            assert r.error.message
            if need_close:
                gb = c.wait_closed()
                assert gb is not None, "closed without Goodbye"
            return "error"
        if w == "goodbye":
            assert code_name(sf.goodbye.code) in codes, sf.goodbye
            c.wait_closed()
            return "closed"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


# ---- framing --------------------------------------------------------------------------------

@pytest.mark.parametrize("hello_first", [False, True])
def test_garbage_frame(unharmed, hello_first):
    c = Conn(unharmed.server, hello=hello_first)
    c.send_raw(b"\xff\xfe\xfd garbage \x00\x01" + os.urandom(64))
    expect_reject(c, {"BAD_REQUEST"})
    c.close()


def test_truncated_protobuf(unharmed):
    e = unharmed
    c = wire.resume(e.server, e.alice.token)
    f = build_frame("send_message", 77, chat_id=e.chat.id, text="truncated " + "x" * 40,
                    random_id=12345)
    data = f.SerializeToString()
    c.send_raw(data[:len(data) - 20])
    expect_reject(c, {"BAD_REQUEST"})
    c.close()


def test_text_frame_gets_goodbye(unharmed):
    c = Conn(unharmed.server)
    c.send_text("hello, I am text")
    gb = c.wait_closed()
    assert gb is not None and code_name(gb.code) == "BAD_REQUEST", gb


def test_oversized_frame(unharmed):
    c = Conn(unharmed.server)
    c.send_raw_chunked(b"\x00" * (70 * 1024))
    gb = c.wait_closed()
    assert gb is not None and code_name(gb.code) == "TOO_LARGE", gb


def test_oversized_valid_send_is_not_stored(unharmed):
    e = unharmed
    c = wire.resume(e.server, e.alice.token)
    c.send_raw_chunked(build_frame("send_message", 5, chat_id=e.chat.id,
                                   text="y" * (66 * 1024), random_id=99).SerializeToString())
    gb = c.wait_closed()
    assert gb is not None and code_name(gb.code) == "TOO_LARGE", gb


def test_request_before_hello(unharmed):
    c = Conn(unharmed.server, hello=False)
    r = c.request("ping", nonce=5)
    assert r.HasField("error") and code_name(r.error.code) == "BAD_REQUEST", r
    gb = c.wait_closed()
    assert gb is not None, "no Goodbye before close"


def test_login_before_hello(unharmed):
    e = unharmed
    c = Conn(e.server, hello=False)
    r = c.request("login", username=e.alice.username, password=e.alice.password, device="x")
    assert r.HasField("error") and code_name(r.error.code) == "BAD_REQUEST", r
    assert not r.HasField("auth")
    c.wait_closed()


@pytest.mark.parametrize("version", [0, 2, 1000])
def test_wrong_protocol_version(unharmed, version):
    c = Conn(unharmed.server, hello=False)
    r = c.request("hello", protocol_version=version)
    assert r.HasField("error") and code_name(r.error.code) == "UNSUPPORTED_VERSION", r
    c.wait_closed()


def test_unknown_request(unharmed):
    c = Conn(unharmed.server)
    c.send_frame(build_frame(None, 41))           # empty oneof
    r = c.wait_response(41)
    assert code_name(r.error.code) == "UNKNOWN_REQUEST", r
    # a request type from a newer client: an unknown field number (999, length-delimited)
    data = build_frame(None, 42).SerializeToString() + varint((999 << 3) | 2) + varint(3) + b"abc"
    c.send_raw(data)
    r = c.wait_response(42)
    assert code_name(r.error.code) == "UNKNOWN_REQUEST", r
    c.ping()                                       # the connection stays usable
    c.close()


def test_second_hello_and_reauth(unharmed):
    e = unharmed
    c = wire.resume(e.server, e.bob.token)
    assert c.error("register", username=wire.uname("x"), password="password1",
                   device="d") == "ALREADY_AUTHENTICATED"
    assert c.error("login", username=e.alice.username, password=e.alice.password,
                   device="d") == "ALREADY_AUTHENTICATED"
    assert c.error("resume", token=e.alice.token) == "ALREADY_AUTHENTICATED"
    # still bob
    assert c.call("get_chat", chat_id=e.chat.id).peer_user_id == e.alice.user.id
    c.close()


# ---- authentication ----------------------------------------------------------------------------

def test_requests_before_login(unharmed):
    e = unharmed
    c = Conn(e.server)
    for kind, kw in [("get_chats", {}), ("get_state", {}), ("list_sessions", {}),
                     ("logout", {}),
                     ("get_history", {"chat_id": e.chat.id}),
                     ("send_message", {"chat_id": e.chat.id, "text": "x", "random_id": 7}),
                     ("get_difference", {"since_pts": 0}),
                     ("open_private_chat", {"username": e.alice.username}),
                     ("resolve_user", {"username": e.alice.username}),
                     ("create_group", {"title": "t"})]:
        assert c.error(kind, **kw) == "NOT_AUTHENTICATED", kind
    c.ping()
    # the same connection can still log in afterwards
    c.login(e.carol.username, e.carol.password)
    assert c.user.id == e.carol.user.id
    c.close()


@pytest.mark.parametrize("token", [os.urandom(32), b"", b"short", os.urandom(64)],
                         ids=["random32", "empty", "short", "long"])
def test_wrong_resume_token(unharmed, token):
    c = Conn(unharmed.server)
    code = c.error("resume", token=token)
    # a token that names no live session vs. something that is no token (docs/PROTOCOL.md)
    assert code == ("SESSION_TERMINATED" if len(token) == 32 else "BAD_REQUEST")
    try:
        assert c.error("get_chats") == "NOT_AUTHENTICATED"
    except Closed:
        pass
    c.close()


# ---- invalid values ----------------------------------------------------------------------------

BAD_UTF8 = {
    "ff": b"\xff",
    "overlong_nul": b"\xc0\x80",
    "overlong_slash": b"\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above_10ffff": b"\xf4\x90\x80\x80",
    "truncated": b"\xe2\x82",
    "lone_continuation": b"\x80",
    "nul": b"\x00",
}


def _with_bad(kind, field_value_name, bad, pre=b"ab", post=b"cd", **fields):
    """Serialized frame whose string field carries `bad` bytes wrapped in ASCII."""
    payload = pre + bad + post
    placeholder = "Z" * len(payload)
    fields[field_value_name] = placeholder
    return build_frame(kind, 900, **fields).SerializeToString(), placeholder, payload


@pytest.mark.parametrize("name", sorted(BAD_UTF8))
def test_invalid_utf8_text(unharmed, name):
    e = unharmed
    c = wire.resume(e.server, e.alice.token)
    data, ph, payload = _with_bad("send_message", "text", BAD_UTF8[name], chat_id=e.chat.id,
                                  random_id=4242)
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"TEXT_INVALID"}) == "error"
    # editing to invalid text is refused too
    data, ph, payload = _with_bad("edit_message", "text", BAD_UTF8[name], chat_id=e.chat.id,
                                  id=e.msgs[0].id)
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"TEXT_INVALID"}) == "error"
    c.close()


@pytest.mark.parametrize("name", ["ff", "surrogate", "overlong_nul", "truncated", "nul"])
def test_invalid_utf8_title(unharmed, name):
    e = unharmed
    c = wire.resume(e.server, e.alice.token)
    data, ph, payload = _with_bad("create_group", "title", BAD_UTF8[name])
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"TITLE_INVALID"}) == "error"
    data, ph, payload = _with_bad("rename_chat", "title", BAD_UTF8[name], chat_id=e.group.id)
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"TITLE_INVALID"}) == "error"
    c.close()


@pytest.mark.parametrize("name", ["ff", "overlong_nul", "surrogate", "nul"])
def test_invalid_utf8_username(unharmed, name):
    e = unharmed
    c = Conn(e.server)
    # a valid username on either side, so that cutting at a NUL would still "work"
    pre = wire.uname("utf")[:14].encode()
    data, ph, payload = _with_bad("register", "username", BAD_UTF8[name], pre=pre,
                                  post=b"zz", password="password123", device="d")
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"USERNAME_INVALID"}) == "error"
    data, ph, payload = _with_bad("resolve_user", "username", BAD_UTF8[name])
    c2 = wire.resume(e.server, e.alice.token)
    c2.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c2, {"USERNAME_INVALID", "USER_NOT_FOUND", "BAD_REQUEST"}) == "error"
    c.close()
    c2.close()


def test_nul_in_password_is_not_cut(module_server):
    """A password with a NUL byte is refused, or kept whole: never shortened to its prefix."""
    s = module_server
    name = wire.uname("nulpw")
    c = Conn(s)
    data, ph, payload = _with_bad("register", "password", b"\x00", pre=b"goodprefix",
                                  post=b"secret-tail", username=name, device="d")
    c.send_raw(replace_same_len(data, ph, payload))
    r = c.wait_response(900)
    c.close()
    if r.HasField("error"):
        assert code_name(r.error.code) in ("PASSWORD_INVALID", "BAD_REQUEST"), r.error
        return
    c = Conn(s)
    code = c.error("login", username=name, password="goodprefix", device="d")
    assert code == "INVALID_CREDENTIALS", code
    c.close()


def test_invalid_utf8_device_name(unharmed):
    e = unharmed
    c = Conn(e.server)
    data, ph, payload = _with_bad("login", "device", b"\xff\xfe", username=e.bob.username,
                                  password=e.bob.password)
    c.send_raw(replace_same_len(data, ph, payload))
    assert expect_reject(c, {"BAD_REQUEST"}) == "error"
    c.close()


def test_text_length_limits(unharmed):
    e = unharmed
    a = e.alice
    assert a.error("send_message", chat_id=e.chat.id, text="", random_id=1001) == "TEXT_INVALID"
    assert a.error("send_message", chat_id=e.chat.id, text="a" * 4097,
                   random_id=1002) == "TEXT_INVALID"
    # characters are code points, not bytes: 4097 two-byte characters is still too long
    assert a.error("send_message", chat_id=e.chat.id, text="é" * 4097,
                   random_id=1003) == "TEXT_INVALID"
    assert a.error("edit_message", chat_id=e.chat.id, id=e.msgs[0].id,
                   text="") == "TEXT_INVALID"
    assert a.error("edit_message", chat_id=e.chat.id, id=e.msgs[0].id,
                   text="b" * 4097) == "TEXT_INVALID"


def test_max_length_text_is_accepted_exactly(env):
    """4096 characters of 1, 2 and 4 bytes are stored and returned byte-for-byte (this test
    changes data, so it does not use the `unharmed` check)."""
    e = env
    for ch in ("a", "é", "😀"):
        text = ch * 4096
        m = e.alice.send(e.chat.id, text).message
        assert m.text == text
        got = [x for x in e.bob.history(e.chat.id, 5) if x.id == m.id]
        assert got and got[0].text == text


def test_ids_list_limits(unharmed):
    e = unharmed
    ids = [m.id for m in e.msgs]
    assert e.alice.error("delete_messages", chat_id=e.chat.id,
                         ids=ids + list(range(10_000, 10_097)),
                         for_everyone=True) in ("BAD_REQUEST", "TOO_LARGE")
    assert e.alice.error("delete_messages", chat_id=e.chat.id, ids=[],
                         for_everyone=True) == "BAD_REQUEST"
    big = list(range(1, 5001))
    assert e.alice.error("delete_messages", chat_id=e.chat.id, ids=big,
                         for_everyone=False) in ("BAD_REQUEST", "TOO_LARGE")


def test_chats_the_user_is_not_in(unharmed):
    e = unharmed
    ev = e.eve
    for cid in (e.chat.id, e.group.id):
        mid = e.msgs[0].id
        for kind, kw in [("get_history", {}), ("get_chat", {}), ("get_members", {}),
                         ("send_message", {"text": "intruder", "random_id": 31337}),
                         ("edit_message", {"id": mid, "text": "intruder"}),
                         ("delete_messages", {"ids": [mid], "for_everyone": True}),
                         ("delete_messages", {"ids": [mid], "for_everyone": False}),
                         ("read_history", {"max_id": 0}),
                         ("add_members", {"usernames": [ev.username]}),
                         ("add_members", {"user_ids": [ev.user.id]}),
                         ("remove_members", {"user_ids": [e.bob.user.id]}),
                         ("leave_chat", {}),
                         ("rename_chat", {"title": "pwned"}),
                         ("set_role", {"user_id": ev.user.id, "role": pb.ADMIN}),
                         ("set_auto_delete", {"seconds": 5})]:
            code = ev.error(kind, chat_id=cid, **kw)
            assert code == "CHAT_NOT_FOUND", (kind, cid, code)


def test_someone_elses_message(unharmed):
    e = unharmed
    mine = e.msgs[0]          # alice's
    assert e.bob.error("edit_message", chat_id=e.chat.id, id=mine.id,
                       text="bob was here") == "FORBIDDEN"
    assert e.bob.error("delete_messages", chat_id=e.chat.id, ids=[mine.id],
                       for_everyone=True) == "FORBIDDEN"
    # in a group, a plain member cannot delete the creator's message for everyone either
    gm = e.alice.history(e.group.id)[-1]
    assert e.bob.error("delete_messages", chat_id=e.group.id, ids=[gm.id],
                       for_everyone=True) == "FORBIDDEN"
    assert e.bob.error("edit_message", chat_id=e.group.id, id=gm.id, text="x") == "FORBIDDEN"


def test_zero_and_negative_ids(unharmed):
    e = unharmed
    a = e.alice
    for cid in (0, -1, -(2 ** 63)):
        assert a.error("get_history", chat_id=cid) in ("CHAT_NOT_FOUND", "BAD_REQUEST")
        assert a.error("send_message", chat_id=cid, text="x",
                       random_id=555) in ("CHAT_NOT_FOUND", "BAD_REQUEST")
        assert a.error("get_chat", chat_id=cid) in ("CHAT_NOT_FOUND", "BAD_REQUEST")
    for mid in (0, -1, -(2 ** 63), 2 ** 63 - 1):
        assert a.error("edit_message", chat_id=e.chat.id, id=mid,
                       text="x") in ("MESSAGE_NOT_FOUND", "BAD_REQUEST")
        r = a.request("delete_messages", chat_id=e.chat.id, ids=[mid], for_everyone=True)
        if not r.HasField("error"):
            assert list(r.deleted.deleted) == [], r
        else:
            assert code_name(r.error.code) in ("MESSAGE_NOT_FOUND", "BAD_REQUEST")
    for rt in (-1, 2 ** 62):
        assert a.error("send_message", chat_id=e.chat.id, text="reply", reply_to=rt,
                       random_id=777) in ("MESSAGE_NOT_FOUND", "BAD_REQUEST")
    # a reply to a message of another chat is not a reply to this one
    gm = a.history(e.group.id)[-1]
    assert gm.id > max(m.id for m in a.history(e.chat.id)), "fixture: group ids too low"
    assert a.error("send_message", chat_id=e.chat.id, text="reply", reply_to=gm.id,
                   random_id=778) in ("MESSAGE_NOT_FOUND", "BAD_REQUEST")
    r = a.request("get_history", chat_id=e.chat.id, before_id=-5)
    assert r.HasField("error") or len(r.messages.messages) == 0


def test_random_id_zero(unharmed):
    e = unharmed
    assert e.alice.error("send_message", chat_id=e.chat.id, text="no key",
                         random_id=0) == "BAD_REQUEST"


def test_out_of_range_values(unharmed):
    e = unharmed
    a = e.alice
    assert a.error("send_message", chat_id=e.chat.id, text="t", ttl=31536001,
                   random_id=888) == "BAD_REQUEST"
    assert a.error("set_auto_delete", chat_id=e.chat.id, seconds=31536001) == "BAD_REQUEST"
    assert a.error("set_auto_delete", chat_id=e.chat.id, seconds=2 ** 32 - 1) == "BAD_REQUEST"
    r = a.request("get_history", chat_id=e.chat.id, limit=201)
    assert (r.HasField("error") and code_name(r.error.code) == "BAD_REQUEST") or \
        len(r.messages.messages) <= 200
    r = a.request("get_difference", since_pts=0, limit=100000)
    assert (r.HasField("error") and code_name(r.error.code) == "BAD_REQUEST") or \
        len(r.difference.updates) <= 1000
    assert a.error("set_role", chat_id=e.group.id, user_id=e.bob.user.id,
                   role=pb.CREATOR) in ("BAD_REQUEST", "FORBIDDEN")
    assert a.error("set_role", chat_id=e.group.id, user_id=e.bob.user.id,
                   role=77) in ("BAD_REQUEST", "FORBIDDEN")
    assert a.error("create_group", title="") == "TITLE_INVALID"
    assert a.error("create_group", title="t" * 129) == "TITLE_INVALID"
    assert a.error("rename_chat", chat_id=e.group.id, title="") == "TITLE_INVALID"
    assert a.error("open_private_chat", username="nosuchuser_zz") == "USER_NOT_FOUND"
    assert a.error("resolve_user", username="nosuchuser_zz") == "USER_NOT_FOUND"
    assert a.error("create_group", title="t",
                   usernames=["nosuchuser_zz"]) == "USER_NOT_FOUND"
    assert a.error("add_members", chat_id=e.group.id,
                   user_ids=[2 ** 62]) == "USER_NOT_FOUND"


# ---- floods and abuse --------------------------------------------------------------------------

def test_request_flood(new_server):
    """5000 pings sent without reading any answer: the server answers FLOOD_WAIT or says
    Goodbye, and keeps serving everybody else meanwhile. (Its own server: a server that
    fails this must not take the rest of the module down with it.)"""
    srv = new_server()

    class E:
        pass
    e = E()
    e.server = srv
    e.eve = wire.register(srv, "flooder")
    e.carol = wire.register(srv, "bystander")
    peer = e.carol.open_chat(e.eve.username)
    e.carol.send(peer.id, "before the flood")
    before = [(m.id, m.text) for m in e.carol.full_history(peer.id)]
    c = wire.resume(e.server, e.eve.token)
    n = 5000
    base = 10_000
    blob = b"".join(
        websocket.ABNF.create_frame(build_frame("ping", base + i, nonce=i).SerializeToString(),
                                    websocket.ABNF.OPCODE_BINARY).format()
        for i in range(n))
    sock = c.ws.sock
    sock.settimeout(5)
    sent = 0
    try:
        while sent < len(blob):
            sent += sock.send(blob[sent:sent + 65536])
    except (OSError, ssl.SSLError):
        pass        # the server may stop reading or close mid-flood; both are allowed
    # others are still served promptly
    t0 = time.monotonic()
    e.carol.ping(timeout=10)
    assert time.monotonic() - t0 < 5
    pongs = flood_errors = 0
    closed_with = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and pongs + flood_errors < n:
        try:
            sf = c.pump(3.0)
        except Closed as ex:
            closed_with = ex.goodbye
            break
        if sf is None:
            break
        if sf.WhichOneof("frame") == "response":
            r = c.responses.pop(sf.response.id)
            if r.HasField("error"):
                assert code_name(r.error.code) == "FLOOD_WAIT", r.error
                assert r.error.retry_after >= 1
                flood_errors += 1
            else:
                assert r.pong.nonce == r.id - base
                pongs += 1
    try:
        e.carol.ping(timeout=10)
        ok = srv.http_get("/healthz")[0] == 200
    except (TimeoutError, OSError, ssl.SSLError):
        ok = False
    assert ok, f"after the flood ({pongs} pongs, {flood_errors} FLOOD_WAIT, closed: " \
               f"{closed_with is not None}) parleyd no longer serves other clients or /healthz"
    assert flood_errors > 0 or closed_with is not None, \
        f"{n} pings without reading: {pongs} pongs, no FLOOD_WAIT and no Goodbye"
    if closed_with is not None:
        assert code_name(closed_with.code) in ("FLOOD_WAIT", "BUSY"), closed_with
    assert pongs >= 1, "not even the first requests were answered"
    c.close()
    # afterwards: the server still serves everybody, eve's account included
    for _ in range(3):
        e.carol.ping(timeout=10)
    assert srv.http_get("/healthz")[0] == 200
    c2 = wire.resume(e.server, e.eve.token)
    c2.ping()
    c2.close()
    assert [(m.id, m.text) for m in e.carol.full_history(peer.id)] == before


def test_http_unknown_path(unharmed):
    s = unharmed.server
    for path in ("/nope", "/ws/../etc/passwd", "/" + "a" * 2000, "/healthz/x"):
        status, _ = s.http_get(path)
        assert status == 404, (path, status)


def test_abrupt_connections(unharmed):
    """Connections dropped at every stage of the handshake leave the server serving."""
    s = unharmed.server
    socks = []

    def tcp():
        return socket.create_connection(("127.0.0.1", s.port), timeout=5)

    for i in range(40):
        k = i % 8
        try:
            if k == 0:                      # connect, close
                tcp().close()
            elif k == 1:                    # random bytes instead of TLS
                x = tcp()
                x.sendall(os.urandom(200))
                x.close()
            elif k == 2:                    # half a ClientHello
                x = tcp()
                x.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
                x.close()
            elif k == 3:                    # TLS done, no HTTP
                wire.tls_socket(s).close()
            elif k == 4:                    # half an upgrade request
                x = wire.tls_socket(s)
                x.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websock")
                x.close()
            elif k == 5:                    # WebSocket up, no Hello
                c = Conn(s, hello=False)
                c.ws.sock.close()
            elif k == 6:                    # half a frame header, then reset
                c = Conn(s)
                c.ws.sock.send(b"\x82\xfe")
                c.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.ws.sock.close()
            else:                           # left open while others come and go
                x = wire.tls_socket(s)
                x.sendall(b"GET /ws HTTP/1.1\r\n")
                socks.append(x)
        except OSError:
            pass
    for x in socks:
        x.close()
    time.sleep(0.2)
    # a full new login still works
    c = wire.login(s, unharmed.carol.username, unharmed.carol.password)
    c.ping()
    c.close()


def test_many_unanswered_connections_then_hello(unharmed):
    """Idle half-open connections do not block new clients."""
    s = unharmed.server
    idle = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(30)]
    try:
        t0 = time.monotonic()
        c = Conn(s)
        c.ping()
        c.close()
        assert time.monotonic() - t0 < 10
    finally:
        for x in idle:
            x.close()
