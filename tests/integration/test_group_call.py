"""Group-call signalling over the raw protocol: parleyd (groupcall.c, req_groupcall.c) with the
real parley-sfu it starts and supervises (sfu_link.c). The offers are a real Chromium offer
(tests/unit/data/chromium_simulcast_offer.sdp); media itself is tested with real browsers in
web/test/. Covers joining and the pushes members and participants get, paging, media flags,
sealed keys reaching only their recipient, leaving in every way (Leave, closing, removal from
the chat, SFU consent, the SFU dying), and every refused request changing nothing."""
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

import wire
from conftest import Server, _new_base
from wire import pb

OFFER = (Path(__file__).resolve().parents[1] / "unit" / "data" /
         "chromium_simulcast_offer.sdp").read_text()
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def srv():
    s = Server(_new_base("groupcall"), config_lines=["group_call_max_video = 3",
                                                      "group_call_max_participants = 6"])
    s.start()
    yield s
    try:
        if s.alive():
            s.stop()
        else:
            s.check_log()
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def group(srv, n):
    """n fresh accounts (connected) and a group of all of them."""
    people = [wire.register(srv, "g") for _ in range(n)]
    chat = people[0].call("create_group", title="call crew",
                          usernames=[p.username for p in people[1:]]).chat
    return people, chat.id


def join(c, chat, video=True, key=KEY, offer=OFFER, **kw):
    """Joins; a server that has just started may still be starting its SFU (SFU_UNAVAILABLE),
    which is retried for a few seconds."""
    deadline = time.monotonic() + 10
    while True:
        r = c.request("group_call_join", _timeout=15, chat_id=chat, offer_sdp=offer,
                      call_key=key, audio=True, video=video, **kw)
        if r.HasField("error") and wire.code_name(r.error.code) == "SFU_UNAVAILABLE" and \
                time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        assert not (r.HasField("error") and r.error.code), r.error
        r = r.group_call_joined
        assert r.participant_id > 0 and "a=ice-lite" in r.answer_sdp
        return r


def state(c, chat, after=0):
    return c.call("get_group_call", chat_id=chat, after_participant=after)


def sfu_pid(s):
    """parley-sfu, as parleyd's child."""
    for t in Path(f"/proc/{s.proc.pid}/task").iterdir():
        for pid in (t / "children").read_text().split():
            if "parley-sfu" in Path(f"/proc/{pid}/cmdline").read_text():
                return int(pid)
    return None


def wait_sfu(s, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = sfu_pid(s)
        if pid:
            return pid
        time.sleep(0.05)
    raise AssertionError("parleyd did not start parley-sfu")


def test_join_pushes_and_state(srv):
    (a, b, c), chat = group(srv, 3)
    outsider = wire.register(srv, "o")
    ja = join(a, chat)
    # members not in the call (and the joiner's own connection) learn it started
    for m in (b, c):
        e = m.wait_gc("started")
        assert e.chat_id == chat and e.participant_count == 1
        assert e.started.started_by.id == a.user.id
        assert [p.participant_id for p in e.started.participants] == [ja.participant_id]
    assert outsider.gc_kinds() == []          # not a member: told nothing
    jb = join(b, chat, video=False)
    assert jb.participant_id != ja.participant_id
    assert jb.state.call_id == ja.state.call_id
    assert len(jb.state.participants) == 2
    e = a.wait_gc("joined", lambda e: e.joined.participant_id == jb.participant_id)
    assert e.joined.user.id == b.user.id and e.joined.call_key == KEY
    assert not e.joined.video and e.joined.audio and e.version > ja.state.version
    c.wait_gc("joined")                        # members outside the call see the count
    st = state(c, chat)
    assert st.call_id == ja.state.call_id and st.participant_count == 2
    assert {p.user.id for p in st.participants} == {a.user.id, b.user.id}
    # the non-member cannot read it, nor join it: the same answer as for a chat with no call
    assert outsider.error("get_group_call", chat_id=chat) == "GROUP_CALL_NOT_FOUND"
    assert outsider.error("group_call_join", chat_id=chat, offer_sdp=OFFER,
                          call_key=KEY) == "GROUP_CALL_NOT_FOUND"
    # a second join from the same connection is refused
    assert a.error("group_call_join", chat_id=chat, offer_sdp=OFFER,
                   call_key=KEY) == "CALL_BUSY"
    for p in (a, b):
        p.call("group_call_leave", call_id=st.call_id,
               participant_id=(ja if p is a else jb).participant_id)
    c.wait_gc("ended")
    assert state(c, chat).call_id == 0


def test_flags_keys_and_subscribe(srv):
    (a, b, c), chat = group(srv, 3)
    ja, jb, jc = join(a, chat), join(b, chat), join(c, chat)
    cid = ja.state.call_id
    a.call("group_call_media", call_id=cid, participant_id=ja.participant_id,
           audio=False, video=True, hand_raised=True)
    for m in (b, c):
        e = m.wait_gc("changed", lambda e: e.changed.participant_id == ja.participant_id)
        assert e.changed.hand_raised and not e.changed.audio
    # sealed keys: each reaches its recipient's connection only, from the right sender
    r = a.call("group_call_keys", call_id=cid, participant_id=ja.participant_id, epoch=7,
               keys=[pb.GroupCallSealedKey(to_participant=jb.participant_id, sealed=b"k-for-b"),
                     pb.GroupCallSealedKey(to_participant=jc.participant_id, sealed=b"k-for-c"),
                     pb.GroupCallSealedKey(to_participant=9999, sealed=b"nobody"),
                     pb.GroupCallSealedKey(to_participant=ja.participant_id, sealed=b"self")])
    assert r.delivered == 2
    kb = b.wait_gc("key")
    assert (kb.key.from_participant, kb.key.epoch, kb.key.sealed) == \
        (ja.participant_id, 7, b"k-for-b")
    kc = c.wait_gc("key")
    assert kc.key.sealed == b"k-for-c"
    assert "key" not in b.gc_kinds() and "key" not in a.gc_kinds()
    # subscribe: slots answered per view; a view of oneself or an unknown id is refused
    s = a.call("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
               views=[pb.GroupCallView(publisher=jb.participant_id, max_height=360),
                      pb.GroupCallView(publisher=jc.participant_id, max_height=0)])
    assert [x.publisher for x in s.slots] == [jb.participant_id, jc.participant_id]
    for bad in ([pb.GroupCallView(publisher=ja.participant_id)],
                [pb.GroupCallView(publisher=4242)],
                [pb.GroupCallView(publisher=jb.participant_id)] * 2):
        assert a.error("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
                       views=bad) == "BAD_REQUEST"
    s = a.call("group_call_subscribe", call_id=cid, participant_id=ja.participant_id, views=[])
    assert len(s.slots) == 0


def test_nobody_acts_for_another(srv):
    (a, b), chat = group(srv, 2)
    ja, jb = join(a, chat), join(b, chat)
    cid = ja.state.call_id
    a2 = wire.login(srv, a.username, a.password, device="second")
    v0 = state(b, chat).version
    # b cannot use a's id; a's other device cannot either
    for who in (b, a2):
        assert who.error("group_call_leave", call_id=cid,
                         participant_id=ja.participant_id) == "GROUP_CALL_NOT_FOUND"
        assert who.error("group_call_media", call_id=cid, participant_id=ja.participant_id,
                         audio=True) == "GROUP_CALL_NOT_FOUND"
        assert who.error("group_call_keys", call_id=cid, participant_id=ja.participant_id,
                         keys=[pb.GroupCallSealedKey(to_participant=jb.participant_id,
                                                     sealed=b"x")]) == "GROUP_CALL_NOT_FOUND"
        assert who.error("group_call_renegotiate", call_id=cid,
                         participant_id=ja.participant_id,
                         offer_sdp=OFFER) == "GROUP_CALL_NOT_FOUND"
        assert who.error("group_call_subscribe", call_id=cid,
                         participant_id=ja.participant_id, views=[]) == "GROUP_CALL_NOT_FOUND"
    # a presentation needs one's own participant
    assert b.error("group_call_join", chat_id=chat, offer_sdp=OFFER, call_key=KEY,
                   presentation_of=ja.participant_id) == "GROUP_CALL_NOT_FOUND"
    st = state(b, chat)
    assert st.version == v0 and len(st.participants) == 2


def test_bad_input_changes_nothing(srv):
    (a, b), chat = group(srv, 2)
    ja = join(a, chat)
    cid = ja.state.call_id
    v0 = state(b, chat).version
    for fields, code in [
            (dict(chat_id=chat, offer_sdp=OFFER, call_key=b"short"), "BAD_REQUEST"),
            (dict(chat_id=chat, offer_sdp=OFFER, call_key=KEY * 2), "BAD_REQUEST"),
            (dict(chat_id=chat, offer_sdp="", call_key=KEY), "BAD_REQUEST"),
            (dict(chat_id=chat, offer_sdp="v=0\r\n" * 12001, call_key=KEY), "TOO_LARGE"),
            (dict(chat_id=0, offer_sdp=OFFER, call_key=KEY), "BAD_REQUEST"),
            (dict(chat_id=chat + 100000, offer_sdp=OFFER, call_key=KEY),
             "GROUP_CALL_NOT_FOUND"),
            (dict(chat_id=chat, offer_sdp="this is not sdp", call_key=KEY), "BAD_REQUEST")]:
        assert b.error("group_call_join", **fields) == code, fields
    too_many = [pb.GroupCallSealedKey(to_participant=1, sealed=b"x")] * 501
    big = [pb.GroupCallSealedKey(to_participant=1, sealed=b"x" * 257)]
    empty = [pb.GroupCallSealedKey(to_participant=1, sealed=b"")]
    for keys, code in ((too_many, "TOO_LARGE"), (big, "TOO_LARGE"), (empty, "BAD_REQUEST"),
                       ([], "BAD_REQUEST")):
        assert a.error("group_call_keys", call_id=cid, participant_id=ja.participant_id,
                       keys=keys) == code
    assert a.error("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
                   views=[pb.GroupCallView(publisher=1)] * 1001) == "TOO_LARGE"
    assert a.error("group_call_leave", call_id=cid + 1,
                   participant_id=ja.participant_id) == "GROUP_CALL_NOT_FOUND"
    st = state(b, chat)
    assert st.version == v0 and [p.participant_id for p in st.participants] == \
        [ja.participant_id]
    assert "ended" not in a.gc_kinds()


def test_limits(srv):
    people, chat = group(srv, 7)
    joined = [join(p, chat, video=i < 3) for i, p in enumerate(people[:3])]
    cid = joined[0].state.call_id
    # the fourth video sender is refused; joining without video works, turning it on is refused
    assert people[3].error("group_call_join", chat_id=chat, offer_sdp=OFFER, call_key=KEY,
                           video=True) == "GROUP_CALL_FULL"
    j3 = join(people[3], chat, video=False)
    assert people[3].error("group_call_media", call_id=cid, participant_id=j3.participant_id,
                           video=True) == "GROUP_CALL_FULL"
    # presentations count as participants: 6 at most
    people[0].call("group_call_join", _timeout=15, chat_id=chat, offer_sdp=OFFER, call_key=KEY,
                   presentation_of=joined[0].participant_id)
    assert people[0].error("group_call_join", chat_id=chat, offer_sdp=OFFER, call_key=KEY,
                           presentation_of=joined[0].participant_id) == "CALL_BUSY"
    join(people[4], chat, video=False)
    assert people[5].error("group_call_join", chat_id=chat, offer_sdp=OFFER,
                           call_key=KEY) == "GROUP_CALL_FULL"
    assert state(people[6], chat).participant_count == 6
    # the owner leaving takes its presentation along
    people[0].call("group_call_leave", call_id=cid, participant_id=joined[0].participant_id)
    assert state(people[6], chat).participant_count == 4


def test_paging(srv):
    people, chat = group(srv, 5)
    ids = [join(p, chat, video=False).participant_id for p in people]
    st = state(people[0], chat)
    assert [p.participant_id for p in st.participants] == ids and not st.more
    st = state(people[0], chat, after=ids[2])
    assert [p.participant_id for p in st.participants] == ids[3:]


def test_close_and_removal_leave(srv):
    (a, b, c), chat = group(srv, 3)
    ja, jb, jc = join(a, chat), join(b, chat), join(c, chat)
    b.ws.close()                                 # closing the connection leaves
    e = a.wait_gc("left", lambda e: e.left == jb.participant_id)
    assert e.participant_count == 2
    a.call("remove_members", chat_id=chat, usernames=[c.username])   # removal leaves
    a.wait_gc("left", lambda e: e.left == jc.participant_id)
    st = state(a, chat)
    assert [p.participant_id for p in st.participants] == [ja.participant_id]


def test_consent_timeout_drops_silent_participants():
    """The SFU drops participants whose browsers never do ICE (consent freshness, here 2 s);
    parleyd removes them, tells the others, and the call ends."""
    s = Server(_new_base("gc-consent"), config_lines=["sfu_consent_timeout = 2"])
    s.start()
    try:
        (a, b, c), chat = group(s, 3)
        ja, jb = join(a, chat), join(b, chat)
        t0 = time.monotonic()
        c.wait_gc("left", timeout=10)
        c.wait_gc("ended", timeout=10)
        assert 1.5 < time.monotonic() - t0 < 10
        assert state(c, chat).call_id == 0
        s.stop()
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_sfu_restart_ends_calls_then_works(srv):
    (a, b), chat = group(srv, 2)
    join(a, chat)
    b.wait_gc("started")
    pid = wait_sfu(srv)
    os.kill(pid, signal.SIGKILL)
    b.wait_gc("ended", timeout=10)
    assert state(b, chat).call_id == 0
    deadline = time.monotonic() + 20
    while True:                                 # back in at most the back-off
        r = b.request("group_call_join", chat_id=chat, offer_sdp=OFFER, call_key=KEY)
        if not r.HasField("error") or r.error.code == 0:
            break
        assert wire.code_name(r.error.code) == "SFU_UNAVAILABLE"
        assert time.monotonic() < deadline, "parley-sfu was not restarted"
        time.sleep(0.2)
    assert wait_sfu(srv) != pid
    assert state(a, chat).participant_count == 1


def test_sfu_off_and_child_stopped_with_parleyd():
    s = Server(_new_base("gc-off"), config_lines=["sfu = off"])
    s.start()
    try:
        (a, b), chat = group(s, 2)
        assert a.error("group_call_join", chat_id=chat, offer_sdp=OFFER,
                       call_key=KEY) == "SFU_UNAVAILABLE"
        assert sfu_pid(s) is None
    finally:
        s.stop()
        shutil.rmtree(s.base, ignore_errors=True)
    s = Server(_new_base("gc-stop"))
    s.start()
    try:
        pid = wait_sfu(s)
    finally:
        s.stop()
    try:
        assert not Path(f"/proc/{pid}").exists() or \
            "parley-sfu" not in Path(f"/proc/{pid}/cmdline").read_text()
        s.start()
        pid = wait_sfu(s)
        s.kill9()                                # parleyd killed: the kernel stops the SFU
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}/cmdline").exists() or \
            "parley-sfu" not in Path(f"/proc/{pid}/cmdline").read_text()
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def offer_with_slots(kinds, ufrag=None):
    """The Chromium offer plus recvonly m-lines (receive slots) with mids 2, 3, ..., one per
    letter of kinds ("a" audio, "v" video), appended in order as a browser adds recvonly
    transceivers."""
    parts = "\r\n".join(OFFER.splitlines()).split("\r\nm=")
    head, media = parts[0], ["m=" + p for p in parts[1:]]
    media[-1] = media[-1].rstrip("\r\n")

    def recv(sec, mid):
        out = []
        for line in sec.split("\r\n"):
            if line.startswith(("a=ssrc", "a=msid", "a=rid", "a=simulcast")):
                continue
            if line.startswith("a=mid:"):
                line = f"a=mid:{mid}"
            if line in ("a=sendrecv", "a=sendonly"):
                line = "a=recvonly"
            out.append(line)
        return "\r\n".join(out)

    mids, extra = [], []
    for k in kinds:
        mid = str(2 + len(mids))
        mids.append(mid)
        extra.append(recv(media["av".index(k)], mid))
    head = head.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE " + " ".join(["0", "1"] + mids))
    sdp = "\r\n".join([head] + media + extra) + "\r\n"
    if ufrag:
        sdp = sdp.replace("a=ice-ufrag:ixDr", f"a=ice-ufrag:{ufrag}")
    return sdp


def test_slots_and_renegotiation(srv):
    (a, b, c), chat = group(srv, 3)
    ja = join(a, chat, offer=offer_with_slots("av"))
    assert ja.answer_sdp.count("m=") == 4
    jb, jc = join(b, chat), join(c, chat)
    cid = ja.state.call_id
    view = lambda *ps: [pb.GroupCallView(publisher=p.participant_id, max_height=h) for p, h in ps]
    s = a.call("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
               views=view((jb, 360), (jc, 360)))
    got = {x.publisher: (x.audio_mid, x.video_mid) for x in s.slots}
    assert got[jb.participant_id] == ("2", "3")       # the slots, in the browser's mids
    assert got[jc.participant_id] == ("", "")         # none left
    assert (s.free_audio_slots, s.free_video_slots) == (0, 0)
    # renegotiating with more slots: the old ones keep their place, c gets the new ones
    bad = a.error("group_call_renegotiate", call_id=cid, participant_id=ja.participant_id,
                  offer_sdp=offer_with_slots("avav", ufrag="Zz99"))
    assert bad == "BAD_REQUEST"
    r = a.call("group_call_renegotiate", call_id=cid, participant_id=ja.participant_id,
               offer_sdp=offer_with_slots("avav"))
    assert r.answer_sdp.count("m=") == 6
    s = a.call("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
               views=view((jb, 360), (jc, 0)))
    got = {x.publisher: (x.audio_mid, x.video_mid) for x in s.slots}
    assert got[jb.participant_id] == ("2", "3")
    assert got[jc.participant_id] == ("4", "")   # audio only: no video slot
    assert (s.free_audio_slots, s.free_video_slots) == (0, 1)
    # dropping b frees its slots
    s = a.call("group_call_subscribe", call_id=cid, participant_id=ja.participant_id,
               views=view((jc, 720)))
    assert (s.slots[0].audio_mid, s.free_audio_slots) == ("4", 1)
    assert s.slots[0].video_mid == "3" and s.free_video_slots == 1   # the first free one


def call_entries(c, chat):
    return [m for m in c.history(chat) if m.kind == pb.CALL]


def test_history_entries(srv):
    """A group call leaves two entries in the chat, for every member: who opened it, and that
    it ended and after how long. A call whose joins never became visible leaves none."""
    (a, b, c), chat = group(srv, 3)
    ja = join(a, chat)
    jb = join(b, chat)
    for m in (a, b, c):
        u = m.wait_update("new_message", lambda x: x.chat_id == chat and x.kind == pb.CALL)
        assert u.new_message.call.outcome == pb.GROUP_CALL_STARTED
        assert u.new_message.from_user == a.user.id
    time.sleep(1.1)
    cid = ja.state.call_id
    b.call("group_call_leave", call_id=cid, participant_id=jb.participant_id)
    assert [m.call.outcome for m in call_entries(c, chat)] == [pb.GROUP_CALL_STARTED]
    a.call("group_call_leave", call_id=cid, participant_id=ja.participant_id)
    for m in (a, b, c):
        u = m.wait_update("new_message", lambda x: x.chat_id == chat and x.kind == pb.CALL and
                          x.call.outcome == pb.GROUP_CALL_ENDED)
        assert u.new_message.from_user == a.user.id and u.new_message.call.duration >= 1
    assert [m.call.outcome for m in call_entries(b, chat)] == [pb.GROUP_CALL_STARTED,
                                                                 pb.GROUP_CALL_ENDED]
    # a private chat's group call is logged the same way; a refused join logs nothing
    d = wire.register(srv, "p")
    pc = a.open_chat(d.username).id
    assert d.error("group_call_join", chat_id=pc, offer_sdp="v=0 bad", call_key=KEY) != "OK"
    assert call_entries(a, pc) == []
    jd = join(d, pc)
    d.call("group_call_leave", call_id=jd.state.call_id, participant_id=jd.participant_id)
    d.wait_update("new_message", lambda x: x.chat_id == pc and x.kind == pb.CALL and
                  x.call.outcome == pb.GROUP_CALL_ENDED)
    assert [(m.call.outcome, m.from_user) for m in call_entries(a, pc)] == [
        (pb.GROUP_CALL_STARTED, d.user.id), (pb.GROUP_CALL_ENDED, d.user.id)]


def test_removed_member_hears_nothing_more(srv):
    """Issue 16 item 8: the call's audience follows membership at once. A member removed from
    the chat (or leaving it) gets no further event of the call (participants, device ids,
    keys), neither its own `left` nor anything others do afterwards, even with no new join."""
    (a, b, c, d), chat = group(srv, 4)
    ja, jb, jc = join(a, chat), join(b, chat), join(c, chat)
    cid = ja.state.call_id
    for m in (c, d):
        m.ping()                                 # every push before this point is read
        m.gc_events.clear()
    a.call("remove_members", chat_id=chat, usernames=[c.username])
    a.wait_gc("left", lambda e: e.left == jc.participant_id)
    d.call("leave_chat", chat_id=chat)           # leaving: the same, for a non-participant
    d.gc_events.clear()                          # (it was a member when c's `left` went)
    # the others change state: a changed flag, a key, a speaker-less leave
    a.call("group_call_media", call_id=cid, participant_id=ja.participant_id,
           audio=False, video=True, hand_raised=True)
    b.wait_gc("changed", lambda e: e.changed.participant_id == ja.participant_id)
    assert a.call("group_call_keys", call_id=cid, participant_id=ja.participant_id, epoch=2,
                  keys=[pb.GroupCallSealedKey(to_participant=jb.participant_id,
                                              sealed=b"k")]).delivered == 1
    b.wait_gc("key")
    b.call("group_call_leave", call_id=cid, participant_id=jb.participant_id)
    a.wait_gc("left", lambda e: e.left == jb.participant_id)
    for m in (c, d):
        m.ping()                                 # anything pushed to m before now has arrived
        assert m.gc_events == [], [e.WhichOneof("kind") for e in m.gc_events]
        assert m.error("get_group_call", chat_id=chat) == "GROUP_CALL_NOT_FOUND"
    a.call("group_call_leave", call_id=cid, participant_id=ja.participant_id)


def signed_msg(call_id, user_id, device_id, key):
    return (b"parley-gc-callkey-v1" + call_id.to_bytes(8, "big") + user_id.to_bytes(8, "big") +
            device_id.to_bytes(8, "big") + key)


def test_device_key_and_signed_call_key(srv):
    """RegisterDeviceKey binds a device's identity key once (a change is refused and changes
    nothing); GroupCallSign takes only a signature of the participant's own call key, in this
    call, by that key, and only then do others see the key and the signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    raw = lambda k: k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)  # noqa: E731
    (a, b), chat = group(srv, 2)
    ident, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert b.error("group_call_sign", call_id=1, participant_id=1,
                   call_key_signature=b"x" * 63) == "BAD_REQUEST"
    assert a.error("register_device_key", identity_key=b"x" * 31) == "BAD_REQUEST"
    r = a.call("register_device_key", identity_key=raw(ident))
    assert r.device_id == a.session_id and r.user_id == a.user.id
    a.call("register_device_key", identity_key=raw(ident))           # the same again: fine
    assert a.error("register_device_key", identity_key=raw(other)) == "IDENTITY_KEY_CHANGED"
    ja, jb = join(a, chat), join(b, chat)                              # b has no identity key
    cid, pa, pb_ = ja.state.call_id, ja.participant_id, jb.participant_id
    assert not jb.state.participants[0].call_key_signature            # unsigned: nothing shown
    good = ident.sign(signed_msg(cid, a.user.id, a.session_id, KEY))
    v0 = state(b, chat).version
    for sig in (other.sign(signed_msg(cid, a.user.id, a.session_id, KEY)),     # wrong key
                ident.sign(signed_msg(cid + 1, a.user.id, a.session_id, KEY)),  # other call
                ident.sign(signed_msg(cid, a.user.id, a.session_id, bytes(32)))):  # other key
        assert a.error("group_call_sign", call_id=cid, participant_id=pa,
                       call_key_signature=sig) == "BAD_REQUEST"
    assert b.error("group_call_sign", call_id=cid, participant_id=pa,      # not b's participant
                   call_key_signature=good) == "GROUP_CALL_NOT_FOUND"
    assert b.error("group_call_sign", call_id=cid, participant_id=pb_,     # b registered none
                   call_key_signature=good) == "DEVICE_NOT_FOUND"
    assert state(b, chat).version == v0
    a.call("group_call_sign", call_id=cid, participant_id=pa, call_key_signature=good)
    e = b.wait_gc("changed", lambda e: e.changed.participant_id == pa)
    assert e.changed.identity_key == raw(ident) and e.changed.call_key_signature == good
    a.call("group_call_sign", call_id=cid, participant_id=pa, call_key_signature=good)  # retry
    assert a.error("group_call_sign", call_id=cid, participant_id=pa, call_key_signature=ident.sign(
        b"another message")) == "BAD_REQUEST"                         # once only
    p = [p for p in state(b, chat).participants if p.participant_id == pa][0]
    assert p.identity_key == raw(ident) and p.call_key_signature == good
