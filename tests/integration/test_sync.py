"""Multi-device sync: live pushes to the other devices of an account, gap-free catch-up of an
offline device through GetDifference (raw protocol and the real CLI), idempotent sends."""
import secrets

import wire


def kinds(updates):
    return [u.WhichOneof("kind") for u in updates]


def test_live_updates_reach_other_devices_not_the_sender(server):
    a1 = wire.register(server, "sync")
    a2 = wire.login(server, a1.username, a1.password, device="second")
    b = wire.register(server, "syncbob")
    chat = a1.open_chat(b.username)
    a1.drain(0.2)
    a2.drain(0.2)
    b.drain(0.2)
    a1.updates.clear()
    a2.updates.clear()
    b.updates.clear()
    base = a2.call("get_state").pts

    r = a1.send(chat.id, "from device one")
    assert r.pts == base + 1
    u = a2.wait_update("new_message")
    assert u.pts == r.pts, "both devices of one account share the same pts sequence"
    assert u.new_message.id == r.message.id and u.new_message.text == "from device one"
    assert u.new_message.chat_id == chat.id
    ub = b.wait_update("new_message")
    assert ub.new_message.id == r.message.id and ub.new_message.text == "from device one"
    assert ub.new_message.from_user == a1.user.id

    e = a1.call("edit_message", chat_id=chat.id, id=r.message.id, text="edited")
    assert e.pts == base + 2 and e.message.edit_date > 0 and e.message.text == "edited"
    u = a2.wait_update("edit_message")
    assert u.pts == base + 2 and u.edit_message.text == "edited"
    assert b.wait_update("edit_message").edit_message.text == "edited"

    rd = b.call("read_history", chat_id=chat.id, max_id=0)
    assert rd.max_id == r.message.id
    for dev in (a1, a2):
        u = dev.wait_update("read")
        assert u.read.chat_id == chat.id and u.read.by_user == b.user.id
        assert u.read.max_id == r.message.id

    d = a1.call("delete_messages", chat_id=chat.id, ids=[r.message.id], for_everyone=True)
    assert list(d.deleted) == [r.message.id]
    u = a2.wait_update("delete_messages")
    assert list(u.delete_messages.ids) == [r.message.id]
    assert list(b.wait_update("delete_messages").delete_messages.ids) == [r.message.id]

    # the device that made each change got it in its result, not as a pushed update
    a1.drain(0.3)
    assert [k for k in kinds(a1.updates) if k in ("new_message", "edit_message",
                                                 "delete_messages")] == []
    # and the pts the other device saw is gap-free
    assert a2.call("get_state").pts == a1.call("get_state").pts


def test_offline_device_catches_up_gap_free(server):
    a1 = wire.register(server, "bulk")
    b = wire.register(server, "bulkbob")
    chat = a1.open_chat(b.username)
    off = wire.login(server, a1.username, a1.password, device="offline")
    since = off.pts
    token = off.token
    off.close()
    bpts = b.call("get_state").pts
    b.close()

    n = 1200
    texts = [f"bulk {i} {secrets.token_hex(3)}" for i in range(n)]
    res = a1.send_many(chat.id, texts)
    by_id = sorted(res, key=lambda r: r.message.id)
    assert [r.pts for r in sorted(res, key=lambda r: r.pts)] == \
        list(range(since + 1, since + n + 1)), "sender pts not consecutive"
    expected = [(r.message.id, r.message.text) for r in by_id]
    assert len({t for _, t in expected}) == n

    dev = wire.resume(server, token)
    ups, pts, pages = dev.difference(since)           # default limit: 500
    assert pages >= 3, f"{n} updates in {pages} pages with the default limit 500"
    assert [u.pts for u in ups] == list(range(since + 1, since + n + 1)), "gaps or repeats"
    assert all(u.WhichOneof("kind") == "new_message" for u in ups)
    assert [(u.new_message.id, u.new_message.text) for u in ups] == expected
    assert pts == since + n == dev.call("get_state").pts
    # asking again (an update applied twice) gives the very same answer
    again, pts2, _ = dev.difference(since)
    assert [u.SerializeToString() for u in again] == [u.SerializeToString() for u in ups]
    assert pts2 == pts
    # bigger pages
    ups3, pts3, pages3 = dev.difference(since, limit=1000)
    assert pages3 == 2 and [u.pts for u in ups3] == [u.pts for u in ups]
    # nothing new since the end
    d = dev.call("get_difference", since_pts=pts)
    assert len(d.updates) == 0 and not d.more and d.pts == pts
    # a single-update page
    d = dev.call("get_difference", since_pts=since, limit=1)
    assert len(d.updates) == 1 and d.more and d.pts == since + 1

    # the recipient catches up the same way
    bdev = wire.resume(server, b.token)
    bups, _, _ = bdev.difference(bpts)
    got = [(u.new_message.id, u.new_message.text) for u in bups
           if u.WhichOneof("kind") == "new_message"]
    assert got == expected
    assert [u.pts for u in bups] == list(range(bpts + 1, bpts + len(bups) + 1))


def test_difference_after_delete_has_no_deleted_content(server):
    a = wire.register(server, "diffdel")
    b = wire.register(server, "diffdelb")
    chat = a.open_chat(b.username)
    since = b.call("get_state").pts
    gone = "soon gone " + secrets.token_hex(6)
    m1 = a.send(chat.id, "stays").message
    m2 = a.send(chat.id, gone).message
    a.call("delete_messages", chat_id=chat.id, ids=[m2.id], for_everyone=True)
    ups, pts, _ = b.difference(since)
    assert pts == b.call("get_state").pts
    texts = [u.new_message.text for u in ups if u.HasField("new_message")]
    assert texts == ["stays"]
    assert gone not in str(ups)
    dels = [list(u.delete_messages.ids) for u in ups if u.HasField("delete_messages")]
    assert dels == [[m2.id]]
    assert [u.pts for u in ups] == sorted(u.pts for u in ups)
    assert m1.id != m2.id


def test_send_is_idempotent(server):
    a = wire.register(server, "idem")
    b = wire.register(server, "idemb")
    chat = a.open_chat(b.username)
    rid = secrets.randbits(62) + 1
    r1 = a.send(chat.id, "once", random_id=rid)
    r2 = a.send(chat.id, "once", random_id=rid)
    assert r2.message.id == r1.message.id and r2.message.text == "once"
    assert [m.text for m in a.history(chat.id)].count("once") == 1
    b.wait_update("new_message", lambda m: m.id == r1.message.id)
    b.drain(0.3)
    assert not b.find_updates("new_message", lambda m: m.id == r1.message.id)


# ---- through the CLI ------------------------------------------------------------------------

def msgs_of(res):
    return [o for o in res.json if o.get("type") == "message"]


def test_cli_second_device_receives(cli):
    pw = "pw-" + secrets.token_hex(6)
    alice, bob = wire.uname("clisync"), wire.uname("clisyncb")
    cli.ok("a1", "register", alice, password=pw)
    cli.ok("a2", "login", alice, password=pw)
    cli.ok("b", "register", bob, password=pw)
    text = "multi device " + secrets.token_hex(4)
    sent = cli.ok("a1", "send", "@" + bob, text).json[-1]
    got = msgs_of(cli.ok("a2", "receive"))
    assert [(m["id"], m["text"], m["from"]) for m in got] == [(sent["id"], text, alice)]
    got = msgs_of(cli.ok("b", "receive"))
    assert [(m["id"], m["text"]) for m in got] == [(sent["id"], text)]
    # nothing is shown twice
    assert msgs_of(cli.ok("a2", "receive")) == []
    assert msgs_of(cli.ok("b", "receive")) == []


def test_cli_offline_device_catches_up(cli, server):
    pw = "pw-" + secrets.token_hex(6)
    alice, bob = wire.uname("clibulk"), wire.uname("clibulkb")
    cli.ok("b", "register", bob, password=pw)
    cli.ok("a", "register", alice, password=pw)
    raw = wire.login(server, alice, pw, device="raw")
    chat = raw.open_chat(bob)
    n = 1050          # more than the largest difference page (1000): at least two pages
    texts = [f"cli bulk {i}" for i in range(n)]
    res = raw.send_many(chat.id, texts)
    expected = [(r.message.id, r.message.text) for r in sorted(res, key=lambda r: r.message.id)]
    # alice's CLI device was offline while her other device sent them all
    got = msgs_of(cli.ok("a", "receive", timeout=120))
    assert [(m["id"], m["text"]) for m in got] == expected
    assert all(m["chat"] == chat.id and m["from"] == alice for m in got)
    # a second run repeats none of them
    assert msgs_of(cli.ok("a", "receive")) == []
    # bob's device sees the newest ones through history right away
    hist = cli.ok("b", "history", "@" + alice, "--limit", "3").json
    assert [(m["id"], m["text"]) for m in hist] == expected[-3:]


def test_open_private_chat_returns_the_requesters_pts(server):
    """OpenPrivateChat answers ChatResult{chat, pts}: pts is the CHAT update it appended to the
    requester's own log (so the client sees no gap), and 0 when the chat already existed."""
    a = wire.register(server, "ocpts")
    a2 = wire.login(server, a.username, a.password, device="second")
    b = wire.register(server, "ocptsbob")
    before = a.call("get_state").pts
    r = a.call("open_private_chat", username=b.username)
    assert r.chat.id > 0 and r.pts == before + 1
    assert a.call("get_state").pts == r.pts
    u = a2.wait_update("chat")
    assert u.pts == r.pts and u.chat.id == r.chat.id
    again = a.call("open_private_chat", username=b.username)
    assert again.chat.id == r.chat.id and again.pts == 0
    assert a.call("get_state").pts == r.pts
