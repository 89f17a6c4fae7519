"""Groups over the raw protocol: membership, roles, rights, limits and who receives what."""
import concurrent.futures
import secrets
import time

import wire
from wire import Conn, pb

ROLE = {pb.MEMBER: "MEMBER", pb.ADMIN: "ADMIN", pb.CREATOR: "CREATOR"}


def members(conn, cid):
    return {m.user.username: ROLE.get(m.role, m.role)
            for m in conn.call("get_members", chat_id=cid).members}


def test_group_lifecycle(server):
    alice = wire.register(server, "galice")
    bob = wire.register(server, "gbob")
    carol = wire.register(server, "gcarol")
    dave = wire.register(server, "gdave")
    eve = wire.register(server, "geve")

    r = alice.call("create_group", title="Team ✓", usernames=[bob.username],
                   user_ids=[carol.user.id])
    g = r.chat
    assert g.kind == pb.GROUP and g.title == "Team ✓" and g.member_count == 3
    assert g.my_role == pb.CREATOR
    assert r.pts > 0
    assert members(alice, g.id) == {alice.username: "CREATOR", bob.username: "MEMBER",
                                    carol.username: "MEMBER"}
    # members learn about the chat; the outsider does not
    u = bob.wait_update("chat", lambda c: c.id == g.id)
    assert u.chat.title == "Team ✓" and u.chat.my_role == pb.MEMBER
    carol.wait_update("chat", lambda c: c.id == g.id)
    assert g.id in [c.id for c in bob.call("get_chats").chats]
    hist = alice.history(g.id)
    assert hist[0].kind == pb.SERVICE and hist[0].service_action == pb.GROUP_CREATED
    assert hist[0].service_title == "Team ✓"

    # messages reach every member
    m = alice.send(g.id, "hello team").message
    for who in (bob, carol):
        u = who.wait_update("new_message", lambda x: x.chat_id == g.id and x.id == m.id)
        assert u.new_message.text == "hello team"
        assert u.new_message.from_username == alice.username

    # outsider: cannot see, send, or join by itself
    for kind, kw in [("get_history", {}), ("get_members", {}),
                     ("send_message", {"text": "hi", "random_id": 5})]:
        assert eve.error(kind, chat_id=g.id, **kw) == "CHAT_NOT_FOUND"
    assert eve.error("add_members", chat_id=g.id,
                     user_ids=[eve.user.id]) == "CHAT_NOT_FOUND"

    # non-admins cannot remove, rename, change roles or timers
    assert bob.error("remove_members", chat_id=g.id, user_ids=[carol.user.id]) == "FORBIDDEN"
    assert bob.error("rename_chat", chat_id=g.id, title="bob's") == "FORBIDDEN"
    assert bob.error("set_role", chat_id=g.id, user_id=bob.user.id,
                     role=pb.ADMIN) == "FORBIDDEN"
    assert bob.error("remove_members", chat_id=g.id, user_ids=[alice.user.id]) == "FORBIDDEN"
    assert members(alice, g.id)[carol.username] == "MEMBER"
    assert alice.call("get_chat", chat_id=g.id).title == "Team ✓"

    # add
    r = alice.call("add_members", chat_id=g.id, usernames=[dave.username])
    assert r.chat.member_count == 4
    dave.wait_update("chat", lambda c: c.id == g.id)
    svc = [x for x in alice.history(g.id) if x.service_action == pb.MEMBERS_ADDED]
    assert svc and [su.username for su in svc[-1].service_users] == [dave.username]
    # adding an existing member changes nothing harmful
    r = alice.request("add_members", chat_id=g.id, usernames=[dave.username])
    assert r.HasField("error") or r.chat_result.chat.member_count == 4
    assert len(members(alice, g.id)) == 4

    # rename (admin): every member sees it
    r = alice.call("rename_chat", chat_id=g.id, title="Renamed")
    assert r.chat.title == "Renamed"
    bob.wait_update("chat", lambda c: c.id == g.id and c.title == "Renamed")
    assert bob.call("get_chat", chat_id=g.id).title == "Renamed"
    assert alice.error("rename_chat", chat_id=g.id, title="t" * 129) == "TITLE_INVALID"
    assert alice.call("rename_chat", chat_id=g.id, title="é" * 128).chat.title == "é" * 128

    # roles: only the creator changes them; an admin may remove members
    r = alice.call("set_role", chat_id=g.id, user_id=bob.user.id, role=pb.ADMIN)
    assert members(alice, g.id)[bob.username] == "ADMIN"
    assert bob.error("set_role", chat_id=g.id, user_id=carol.user.id,
                     role=pb.ADMIN) == "FORBIDDEN"
    assert bob.error("remove_members", chat_id=g.id,
                     user_ids=[alice.user.id]) == "FORBIDDEN", "admin removed the creator"

    # admin deletes someone else's message for everyone; a member cannot
    cm = carol.send(g.id, "carol's message").message
    dm = dave.send(g.id, "dave's message").message
    assert carol.error("delete_messages", chat_id=g.id, ids=[dm.id],
                       for_everyone=True) == "FORBIDDEN"
    r = bob.call("delete_messages", chat_id=g.id, ids=[cm.id], for_everyone=True)
    assert list(r.deleted) == [cm.id]
    for who in (alice, carol, dave):
        who.wait_update("delete_messages", lambda d: d.chat_id == g.id and cm.id in d.ids)
        assert cm.id not in [x.id for x in who.history(g.id)]
    # the creator may too
    r = alice.call("delete_messages", chat_id=g.id, ids=[dm.id], for_everyone=True)
    assert list(r.deleted) == [dm.id]
    # delete-for-me of another's message hides it only for the deleter
    am = alice.send(g.id, "visible to most").message
    r = carol.call("delete_messages", chat_id=g.id, ids=[am.id], for_everyone=False)
    assert list(r.deleted) == [am.id]
    assert am.id not in [x.id for x in carol.history(g.id)]
    assert am.id in [x.id for x in dave.history(g.id)]

    # remove carol: she is told, then sees and receives nothing more
    r = bob.call("remove_members", chat_id=g.id, user_ids=[carol.user.id])
    assert r.chat.member_count == 3
    carol.wait_update("chat_removed", lambda c: c.chat_id == g.id)
    assert carol.username not in members(alice, g.id)
    carol.updates.clear()
    secret = "after removal " + secrets.token_hex(4)
    m2 = alice.send(g.id, secret).message
    dave.wait_update("new_message", lambda x: x.id == m2.id)
    carol.drain(0.5)
    assert not carol.find_updates("new_message", lambda x: x.chat_id == g.id)
    assert carol.error("get_history", chat_id=g.id) == "CHAT_NOT_FOUND"
    assert carol.error("send_message", chat_id=g.id, text="let me in",
                       random_id=77) == "CHAT_NOT_FOUND"
    assert g.id not in [c.id for c in carol.call("get_chats").chats]
    ups, _, _ = carol.difference(0)
    assert secret not in [u.new_message.text for u in ups if u.HasField("new_message")]

    # leave
    alice.updates.clear()
    dave.call("leave_chat", chat_id=g.id)
    assert dave.error("get_history", chat_id=g.id) == "CHAT_NOT_FOUND"
    assert dave.username not in members(alice, g.id)
    left = [x for x in alice.history(g.id) if x.service_action == pb.MEMBER_LEFT]
    assert left and left[-1].from_user == dave.user.id
    assert alice.call("get_chat", chat_id=g.id).member_count == 2


def test_member_limit(server):
    """A group holds at most 1000 members (the creator included)."""
    n_others = 999
    creator = wire.register(server, "big")
    names = [wire.uname("m") for _ in range(n_others + 1)]

    def reg(chunk):
        ids = []
        for name in chunk:
            c = Conn(server)
            c.register(name, "password123")
            ids.append(c.user.id)
            c.close()
        return ids

    t0 = time.monotonic()
    chunks = [names[i::4] for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        ids = [i for part in ex.map(reg, chunks) for i in part]
    assert len(set(ids)) == n_others + 1
    extra = ids.pop()
    # one too many at creation
    assert creator.error("create_group", title="too big",
                         user_ids=ids + [extra]) == "LIMIT_REACHED"
    assert not [c for c in creator.call("get_chats").chats if c.title == "too big"]
    g = creator.call("create_group", title="full", user_ids=ids).chat
    assert g.member_count == 1000
    assert len(creator.call("get_members", chat_id=g.id).members) == 1000
    assert creator.error("add_members", chat_id=g.id, user_ids=[extra]) == "LIMIT_REACHED"
    assert creator.call("get_chat", chat_id=g.id).member_count == 1000
    # a message still fans out to a member at the far end of the list
    last = wire.login(server, names[-2], "password123")
    m = creator.send(g.id, "to everyone").message
    assert m.id in [x.id for x in last.history(g.id)]
    # after one leaves, there is room again
    last.call("leave_chat", chat_id=g.id)
    assert creator.call("add_members", chat_id=g.id,
                        user_ids=[extra]).chat.member_count == 1000
    assert time.monotonic() - t0 < 120
