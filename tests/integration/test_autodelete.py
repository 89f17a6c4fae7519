"""Self-destructing messages: private-chat timers start when the recipient reads, group timers
at send, and a chat's auto-delete timer applies to messages sent after it was set."""
import time

import wire
from wire import pb

TTL = 2


def wait_deleted(conn, chat_id, mid, timeout):
    u = conn.wait_update("delete_messages", lambda d: d.chat_id == chat_id and mid in d.ids,
                         timeout=timeout)
    return u


def test_private_ttl_starts_when_read(server):
    a = wire.register(server, "ttla")
    b = wire.register(server, "ttlb")
    chat = a.open_chat(b.username)
    keep = a.send(chat.id, "no timer").message
    r = a.send(chat.id, "self destruct", ttl=TTL)
    m = r.message
    assert m.ttl == TTL and m.expires_at == 0
    u = b.wait_update("new_message", lambda x: x.id == m.id)
    assert u.new_message.ttl == TTL and u.new_message.expires_at == 0

    time.sleep(TTL + 1.5)          # unread: the timer has not started
    for who in (a, b):
        h = {x.id: x for x in who.history(chat.id)}
        assert m.id in h, "deleted before the recipient read it"
        assert h[m.id].expires_at == 0
    assert not a.find_updates("delete_messages") and not b.find_updates("delete_messages")

    t_read = time.time()
    rd = b.call("read_history", chat_id=chat.id, max_id=m.id)
    assert rd.max_id == m.id
    h = {x.id: x for x in b.history(chat.id)}
    assert abs(h[m.id].expires_at - (t_read + TTL)) <= 1.5, h[m.id]
    t0 = time.monotonic()
    wait_deleted(a, chat.id, m.id, timeout=TTL + 4)
    wait_deleted(b, chat.id, m.id, timeout=2)
    took = time.monotonic() - t0
    assert took <= TTL + 2.5, f"expired after {took:.1f}s, ttl {TTL}"
    for who in (a, b):
        ids = [x.id for x in who.history(chat.id)]
        assert m.id not in ids and keep.id in ids
    # and it stays gone for a device that syncs later
    ups, _, _ = b.difference(0)
    assert "self destruct" not in [x.new_message.text for x in ups if x.HasField("new_message")]


def test_group_ttl_starts_at_send(server):
    a = wire.register(server, "gttla")
    b = wire.register(server, "gttlb")
    g = a.call("create_group", title="ttl group", usernames=[b.username]).chat
    t0 = time.monotonic()
    m = a.send(g.id, "group self destruct", ttl=TTL).message
    assert m.ttl == TTL and m.expires_at > 0
    assert abs(m.expires_at - (m.date + TTL)) <= 1
    wait_deleted(b, g.id, m.id, timeout=TTL + 4)
    took = time.monotonic() - t0
    assert TTL - 1.1 <= took <= TTL + 2.5, took
    wait_deleted(a, g.id, m.id, timeout=2)
    assert m.id not in [x.id for x in b.history(g.id)]


def test_chat_autodelete_applies_to_new_messages(server):
    a = wire.register(server, "ada")
    b = wire.register(server, "adb")
    g = a.call("create_group", title="auto", usernames=[b.username]).chat
    old = a.send(g.id, "before the timer").message
    assert old.ttl == 0
    r = a.call("set_auto_delete", chat_id=g.id, seconds=TTL)
    assert r.chat.auto_delete == TTL
    b.wait_update("chat", lambda c: c.id == g.id and c.auto_delete == TTL)
    svc = [x for x in a.history(g.id) if x.service_action == pb.AUTODELETE_CHANGED]
    assert svc and svc[-1].service_seconds == TTL
    assert b.call("get_chat", chat_id=g.id).auto_delete == TTL
    t0 = time.monotonic()
    new = a.send(g.id, "under the timer").message
    assert new.ttl == TTL and new.expires_at > 0
    explicit = b.send(g.id, "own timer", ttl=60).message
    assert explicit.ttl == 60
    wait_deleted(b, g.id, new.id, timeout=TTL + 4)
    assert time.monotonic() - t0 <= TTL + 2.5
    ids = [x.id for x in a.history(g.id)]
    assert old.id in ids and explicit.id in ids and new.id not in ids
    # switching it off
    a.call("set_auto_delete", chat_id=g.id, seconds=0)
    assert a.send(g.id, "timer off").message.ttl == 0
    assert a.call("get_chat", chat_id=g.id).auto_delete == 0


def test_private_autodelete_waits_for_read(server):
    a = wire.register(server, "pada")
    b = wire.register(server, "padb")
    chat = a.open_chat(b.username)
    a.call("set_auto_delete", chat_id=chat.id, seconds=1)
    m = a.send(chat.id, "private auto").message
    assert m.ttl == 1 and m.expires_at == 0
    time.sleep(2.2)
    assert m.id in [x.id for x in b.history(chat.id)]
    b.call("read_history", chat_id=chat.id, max_id=0)
    wait_deleted(a, chat.id, m.id, timeout=4)
    assert m.id not in [x.id for x in b.history(chat.id)]
