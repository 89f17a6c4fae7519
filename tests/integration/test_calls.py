"""Calls over the raw protocol: the signalling state machine in parleyd (call.c), ringing on
every device of the callee, busy, cancel, decline, the ring timeout, history entries synced to
every device, TURN credentials (recomputed here), and every bad or out-of-order signal."""
import base64
import hashlib
import hmac
import shutil
import time

import pytest

import wire
from conftest import Server, _new_base
from wire import Conn, pb

SECRET = "test-turn-secret-0123456789"
RING = 2   # seconds: short, so the timeout test is quick; accepting tests answer well before


@pytest.fixture(scope="module")
def srv():
    s = Server(_new_base("calls"), config_lines=[
        f"call_ring_timeout = {RING}", f"turn_secret = {SECRET}", "turn_ttl = 600",
        "turn_urls = turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp"])
    s.secrets.add(SECRET)
    s.start()
    yield s
    try:
        if s.alive():
            s.stop()
        else:
            s.check_log()
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def pair(srv):
    """Two fresh accounts with their private chat."""
    a = wire.register(srv, "ca")
    b = wire.register(srv, "cb")
    chat = a.open_chat(b.username)
    return a, b, chat.id


def second_device(srv, c):
    return wire.login(srv, c.username, c.password, device="second")


def call_entries(conn, chat_id):
    return [m for m in conn.history(chat_id) if m.kind == pb.CALL]


def wait_entry(conn, chat_id, timeout=5.0):
    """The NEW_MESSAGE update carrying the call's history entry."""
    u = conn.wait_update("new_message", lambda m: m.chat_id == chat_id and m.kind == pb.CALL,
                         timeout)
    return u.new_message


def test_accept_media_relay_and_hangup(srv):
    a, b, chat = pair(srv)
    a2 = second_device(srv, a)         # the caller's other device gets the entry too
    b2 = second_device(srv, b)
    cid = a.start_call(chat, video=True)
    for dev in (b, b2):                # every device of the callee rings
        e = dev.wait_call("start", cid)
        assert e.peer.id == a.user.id and e.peer.username == a.username
        assert e.chat_id == chat and e.video and e.signal.start.chat_id == chat
    assert "start" not in a2.call_kinds()   # the caller's own devices do not ring
    b.signal_ok(cid, "ringing")
    a.wait_call("ringing", cid)
    b.signal_ok(cid, "accept")
    e = a.wait_call("accept", cid)
    assert e.peer.id == b.user.id
    b2.wait_call("answered_elsewhere", cid)
    # b2 is no longer part of the call: it cannot accept, send media or hang up
    assert b2.signal_err(cid, "accept") == "CALL_NOT_FOUND"
    assert b2.signal_err(cid, "hangup") == "CALL_NOT_FOUND"
    assert a2.signal_err(cid, "offer", sdp="v=0") == "CALL_NOT_FOUND"
    # SDP and ICE pass between exactly the two bound connections
    a.signal_ok(cid, "offer", sdp="v=0 offer")
    assert b.wait_call("offer", cid).signal.offer.sdp == "v=0 offer"
    a.signal_ok(cid, "candidate", candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host",
                sdp_mid="0", sdp_mline_index=0)
    got = b.wait_call("candidate", cid).signal.candidate
    assert got.candidate.startswith("candidate:1") and got.sdp_mid == "0"
    b.signal_ok(cid, "answer", sdp="v=0 answer")
    assert a.wait_call("answer", cid).signal.answer.sdp == "v=0 answer"
    b.signal_ok(cid, "media", audio=True, video=False, screen=True)
    m = a.wait_call("media", cid).signal.media
    assert m.audio and m.screen and not m.video
    # renegotiation from the callee's side
    b.signal_ok(cid, "offer", sdp="v=0 reneg")
    a.wait_call("offer", cid)
    a.signal_ok(cid, "answer", sdp="v=0 reneg answer")
    b.wait_call("answer", cid)
    for dev in (a2, b2):
        kinds = dev.call_kinds()
        assert not {"offer", "answer", "candidate", "media"} & set(kinds), kinds
    time.sleep(1.1)
    a.signal_ok(cid, "hangup")
    b.wait_call("hangup", cid)
    # the entry reaches every device of both sides, as a message of the chat
    for dev in (a, a2, b, b2):
        m = wait_entry(dev, chat)
        assert m.from_user == a.user.id
        assert m.call.outcome == pb.CALL_ENDED and m.call.video and m.call.duration >= 1
    [h] = call_entries(b, chat)
    assert h.call.outcome == pb.CALL_ENDED
    # and through GetDifference for a device that was offline
    ups, _, _ = b.difference(0)
    assert any(u.new_message.kind == pb.CALL for u in ups if u.WhichOneof("kind") == "new_message")
    # the call is over: its id is gone
    assert a.signal_err(cid, "hangup") == "CALL_NOT_FOUND"
    # and the two can call again
    cid2 = b.start_call(chat, video=False)
    a.wait_call("start", cid2)
    b.signal_ok(cid2, "cancel")
    a.wait_call("cancel", cid2)


def test_decline(srv):
    a, b, chat = pair(srv)
    b2 = second_device(srv, b)
    cid = a.start_call(chat, video=False)
    b.wait_call("start", cid)
    b2.wait_call("start", cid)
    b2.signal_ok(cid, "decline")
    a.wait_call("decline", cid)
    b.wait_call("decline", cid)          # the other device stops ringing
    m = wait_entry(a, chat)
    assert m.call.outcome == pb.CALL_DECLINED and not m.call.video and m.call.duration == 0
    assert a.signal_err(cid, "cancel") == "CALL_NOT_FOUND"


def test_cancel_before_answer(srv):
    a, b, chat = pair(srv)
    cid = a.start_call(chat)
    b.wait_call("start", cid)
    assert b.signal_err(cid, "cancel") == "CALL_STATE"   # only the caller cancels
    a.signal_ok(cid, "cancel")
    b.wait_call("cancel", cid)
    assert wait_entry(b, chat).call.outcome == pb.CALL_CANCELLED
    assert b.signal_err(cid, "accept") == "CALL_NOT_FOUND"


def test_busy(srv):
    a, b, chat = pair(srv)
    c = wire.register(srv, "cc")
    chat_cb = c.open_chat(b.username).id
    cid = a.start_call(chat)
    b.wait_call("start", cid)
    b.signal_ok(cid, "accept")
    a.wait_call("accept", cid)
    # b is in a call: c's call is refused as busy and leaves a BUSY entry
    assert c.signal_err(0, "start", chat_id=chat_cb) == "CALL_BUSY"
    assert wait_entry(b, chat_cb).call.outcome == pb.CALL_BUSY_OUTCOME
    assert "start" not in b.call_kinds()
    # the caller is busy too, on any device
    chat_ac = a.open_chat(c.username).id
    assert a.signal_err(0, "start", chat_id=chat_ac) == "CALL_BUSY"
    # a callee device may answer busy itself
    d = wire.register(srv, "cd")
    chat_dc = d.open_chat(c.username).id
    cid2 = d.start_call(chat_dc)
    c.wait_call("start", cid2)
    c.signal_ok(cid2, "busy")
    d.wait_call("busy", cid2)
    assert wait_entry(d, chat_dc).call.outcome == pb.CALL_BUSY_OUTCOME
    # the first call was not disturbed by any of this
    a.signal_ok(cid, "offer", sdp="v=0")
    b.wait_call("offer", cid)
    b.signal_ok(cid, "hangup")
    a.wait_call("hangup", cid)


def test_timeout_is_missed_on_both_sides(srv):
    a, b, chat = pair(srv)
    a2 = second_device(srv, a)
    cid = a.start_call(chat)
    b.wait_call("start", cid)
    t0 = time.monotonic()
    a.wait_call("timeout", cid, timeout=RING + 5)
    assert time.monotonic() - t0 >= RING - 1
    b.wait_call("timeout", cid)
    for dev in (a, a2, b):
        assert wait_entry(dev, chat).call.outcome == pb.CALL_MISSED
    assert b.signal_err(cid, "accept") == "CALL_NOT_FOUND"


def test_connection_drop_hangs_up(srv):
    a, b, chat = pair(srv)
    cid = a.start_call(chat)
    b.wait_call("start", cid)
    b.signal_ok(cid, "accept")
    a.wait_call("accept", cid)
    b.close()
    a.wait_call("hangup", cid)
    assert wait_entry(a, chat).call.outcome == pb.CALL_ENDED
    # caller gone while ringing = cancelled
    b = wire.login(srv, b.username, b.password)
    cid = a.start_call(chat)
    b.wait_call("start", cid)
    a.close()
    b.wait_call("cancel", cid)
    assert wait_entry(b, chat).call.outcome == pb.CALL_CANCELLED


def test_turn_credentials_and_always_relay(srv):
    a = wire.register(srv, "cturn")
    a2 = second_device(srv, a)
    now = int(time.time())
    cfg = a.call("get_call_config")
    assert cfg.always_relay is False and cfg.ring_timeout == RING
    [ice] = cfg.ice_servers
    assert list(ice.urls) == ["turn:127.0.0.1:3478?transport=udp",
                              "turn:127.0.0.1:3478?transport=tcp"]
    expiry, uid = ice.username.split(":")
    assert int(uid) == a.user.id
    assert now + 600 - 5 <= int(expiry) <= now + 600 + 5 and cfg.expires == int(expiry)
    want = base64.b64encode(hmac.new(SECRET.encode(), ice.username.encode(),
                                     hashlib.sha1).digest()).decode()
    assert ice.credential == want
    # the setting is per account: the other device sees it
    r = a.call("set_call_settings", always_relay=True)
    assert r.always_relay is True
    assert a2.call("get_call_config").always_relay is True
    other = wire.register(srv, "cturn2")
    assert other.call("get_call_config").always_relay is False
    a2.call("set_call_settings", always_relay=False)
    assert a.call("get_call_config").always_relay is False
    assert SECRET not in srv.log_text()


def test_no_turn_configured(new_server):
    s = new_server()
    a = wire.register(s, "cnoturn")
    cfg = a.call("get_call_config")
    assert len(cfg.ice_servers) == 0 and cfg.expires == 0


def test_bad_signalling(srv):
    a, b, chat = pair(srv)
    x, y, chat_xy = pair(srv)
    # a call going on elsewhere that nothing below may disturb
    cxy = x.start_call(chat_xy)
    y.wait_call("start", cxy)
    y.signal_ok(cxy, "accept")
    x.wait_call("accept", cxy)

    # before any call
    assert a.signal_err(12345, "hangup") == "CALL_NOT_FOUND"
    assert a.signal_err(0, "hangup") == "BAD_REQUEST"
    assert a.signal_err(0, "start", chat_id=0) == "BAD_REQUEST"
    assert a.signal_err(5, "start", chat_id=chat) == "BAD_REQUEST"
    assert a.signal_err(0, "start", chat_id=chat_xy) == "CHAT_NOT_FOUND"   # not a member
    assert a.signal_err(0, "start", chat_id=10 ** 12) == "CHAT_NOT_FOUND"
    group = a.call("create_group", title="g", usernames=[b.username]).chat
    assert a.signal_err(0, "start", chat_id=group.id) == "BAD_REQUEST"      # calls are 1:1
    r = a.request("call_signal", call_id=1)                                  # no kind at all
    assert r.error.code == pb.BAD_REQUEST

    # someone else's call id: indistinguishable from a missing one, and changes nothing
    for kind, kw in [("hangup", {}), ("cancel", {}), ("accept", {}), ("decline", {}),
                     ("offer", {"sdp": "v=0"}), ("answer", {"sdp": "v=0"}),
                     ("candidate", {"candidate": "c"}), ("media", {"audio": True})]:
        assert a.signal_err(cxy, kind, **kw) == "CALL_NOT_FOUND", kind

    cid = a.start_call(chat)
    b.wait_call("start", cid)
    # out of order while ringing
    assert a.signal_err(cid, "offer", sdp="v=0") == "CALL_STATE"
    assert b.signal_err(cid, "answer", sdp="v=0") == "CALL_STATE"
    assert b.signal_err(cid, "candidate", candidate="c") == "CALL_STATE"
    assert a.signal_err(cid, "accept") == "CALL_STATE"        # the caller cannot accept
    assert a.signal_err(cid, "decline") == "CALL_STATE"
    for kind in ("answered_elsewhere", "timeout"):
        assert b.signal_err(cid, kind) == "BAD_REQUEST"
    b.signal_ok(cid, "accept")
    a.wait_call("accept", cid)
    assert b.signal_err(cid, "accept") == "CALL_STATE"        # twice
    assert a.signal_err(cid, "cancel") == "CALL_STATE"        # too late to cancel
    assert b.signal_err(cid, "answer", sdp="v=0") == "CALL_STATE"   # an answer to no offer
    # oversized fields
    assert a.signal_err(cid, "offer", sdp="") == "TOO_LARGE"
    assert a.signal_err(cid, "offer", sdp="v" * 16385) == "TOO_LARGE"
    assert a.signal_err(cid, "candidate", candidate="c" * 1025) == "TOO_LARGE"
    assert a.signal_err(cid, "candidate", candidate="c", sdp_mid="m" * 65) == "TOO_LARGE"
    assert a.signal_err(cid, "candidate", candidate="c", sdp_mline_index=64) == "BAD_REQUEST"
    # invalid UTF-8 in the SDP: the generic string check
    bad = pb.ClientFrame()
    bad.id = 999
    bad.call_signal.call_id = cid
    bad.call_signal.offer.sdp = "PLACEHOLDER"
    raw = wire.replace_same_len(bad.SerializeToString(), "PLACEHOLDER", b"\xff\xfeBADUTF8!!")
    a.send_raw(raw)
    assert a.wait_response(999).error.code == pb.BAD_REQUEST
    assert "offer" not in b.call_kinds(0.1)
    # offer, then a second offer before its answer; the offerer cannot answer itself
    a.signal_ok(cid, "offer", sdp="v=0")
    b.wait_call("offer", cid)
    assert a.signal_err(cid, "offer", sdp="v=0") == "CALL_STATE"
    assert a.signal_err(cid, "answer", sdp="v=0") == "CALL_STATE"
    b.signal_ok(cid, "answer", sdp="v=0")
    a.wait_call("answer", cid)
    # a flood of candidates: capped per side
    for i in range(100):
        a.signal_ok(cid, "candidate", candidate=f"candidate:{i}")
    assert a.signal_err(cid, "candidate", candidate="one too many") == "CALL_LIMIT"
    b.signal_ok(cid, "candidate", candidate="the other side still may")
    n = 0
    deadline = time.monotonic() + 5
    while n < 100 and time.monotonic() < deadline:
        b.pump(0.5)
        n = sum(1 for e in b.call_events if e.signal.WhichOneof("kind") == "candidate")
    assert n == 100
    # media signals: capped per call too (1000, both sides together)
    for i in range(1000):
        (a if i % 2 else b).signal_ok(cid, "media", audio=bool(i % 3))
    assert a.signal_err(cid, "media", audio=True) == "CALL_LIMIT"
    assert b.signal_err(cid, "media", audio=True) == "CALL_LIMIT"
    # the other call was disturbed by none of it
    assert not x.call_kinds(0.1) and not y.call_kinds(0.1)
    x.signal_ok(cxy, "offer", sdp="v=0 xy")
    assert y.wait_call("offer", cxy).signal.offer.sdp == "v=0 xy"
    x.signal_ok(cxy, "hangup")
    y.wait_call("hangup", cxy)
    a.signal_ok(cid, "hangup")
    b.wait_call("hangup", cid)


def test_unauthenticated_call(srv):
    c = Conn(srv)
    assert c.error("get_call_config") == "NOT_AUTHENTICATED"
    assert c.signal_err(0, "start", chat_id=1) == "NOT_AUTHENTICATED"


def test_start_flood_is_throttled(srv):
    """Each start rings every callee device and writes an entry: 10 a minute per account."""
    a, b, chat = pair(srv)
    started = 0
    for _ in range(25):
        r = a.signal(0, "start", chat_id=chat)
        if r.HasField("error") and r.error.code:
            assert wire.code_name(r.error.code) == "FLOOD_WAIT" and 1 <= r.error.retry_after <= 60
            break
        started += 1
        a.signal_ok(r.call_started.call_id, "cancel")
    # the minute may roll over once during the loop, never twice
    assert 10 <= started <= 20, started
    assert r.error.code, "the loop ended by the throttle"
    rings = [k for k in b.call_kinds() if k == "start"]
    assert len(rings) == started
    # another account is not affected
    c = wire.register(srv, "cflood")
    cid = c.start_call(c.open_chat(b.username).id)
    c.signal_ok(cid, "cancel")
