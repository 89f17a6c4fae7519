"""Paged answers of long messages stay under the server's page budget (PAGE_MAX_BYTES, 1 MiB
of entries, src/server/validate.h): a device that was offline while hundreds of maximal
messages arrived catches up through GetDifference and GetHistory (raw protocol, libparley
through the CLI) without being disconnected as "too slow" (the server queues at most 4 MiB per
connection), gets every message exactly once and in order, and no answer frame exceeds the
budget. A page then holds fewer entries than `limit`; only `more` says whether to go on."""
import pytest

import wire

PAGE_MAX = 1 << 20
FRAME_MAX = PAGE_MAX + 1024      # the entries plus the Response around them
N = 300
# 4096 code points (the text limit counts code points, not bytes) of a 4-byte character:
# 16 KiB of UTF-8, the longest message there is; 300 of them are about 5 MB.
CLEF = "\U0001D11E"


def long_text(i):
    return f"{i:04d}" + CLEF * 4092


@pytest.fixture
def backlog(server):
    """alice's device `token` went offline; then her other device sent N long messages to bob
    (offline too). Returns (alice, chat, token, since, bob_token, bob_since, expected)."""
    a = wire.register(server, "bigpg")
    b = wire.register(server, "bigpgb")
    chat = a.open_chat(b.username)
    off = wire.login(server, a.username, a.password, device="offline")
    token, since = off.token, off.pts
    off.close()
    bpts = b.call("get_state").pts
    b.close()
    res = a.send_many(chat.id, [long_text(i) for i in range(N)], window=16)
    expected = [(r.message.id, r.message.text) for r in sorted(res, key=lambda r: r.message.id)]
    assert all(len(t) == 4096 and len(t.encode()) > 16000 for _, t in expected)
    return a, chat, token, since, b.token, bpts, expected


def catch_up(dev, since, limit):
    dev.largest_frame = 0
    try:
        ups, pts, pages = dev.difference(since, limit)
    except wire.Closed as e:
        pytest.fail(f"disconnected during GetDifference(limit {limit}): {e.goodbye}")
    assert dev.goodbye is None
    assert dev.largest_frame <= FRAME_MAX, f"a {dev.largest_frame}-byte answer frame"
    return ups, pts, pages


@pytest.mark.parametrize("limit", [0, 1000])
def test_difference_of_long_messages_pages_under_the_budget(server, backlog, limit):
    a, chat, token, since, _, _, expected = backlog
    dev = wire.resume(server, token)
    ups, pts, pages = catch_up(dev, since, limit)
    assert [u.pts for u in ups] == list(range(since + 1, since + N + 1)), "gaps or repeats"
    assert [(u.new_message.id, u.new_message.text) for u in ups] == expected
    assert pts == since + N == dev.call("get_state").pts
    # 5 MB cannot come in fewer than 5 pages of 1 MiB
    assert pages >= 5
    # one page: fewer entries than asked, `more` set, pts = its last entry
    d = dev.call("get_difference", since_pts=since, limit=limit)
    assert 1 <= len(d.updates) < N and d.more and d.pts == d.updates[-1].pts
    # the recipient too
    bdev = wire.resume(server, backlog[4])
    bups, _, _ = catch_up(bdev, backlog[5], limit)
    got = [(u.new_message.id, u.new_message.text) for u in bups
           if u.WhichOneof("kind") == "new_message"]
    assert got == expected


def test_difference_cut_never_skips_an_existing_entry(server, backlog):
    """Deleted messages leave positions without content in the log; a page cut by size must
    still end at its last entry, so that the survivors all come, once each, in order."""
    a, chat, token, since, _, _, expected = backlog
    gone = [mid for k, (mid, _) in enumerate(expected) if k % 3 == 1]
    for i in range(0, len(gone), 100):
        a.call("delete_messages", chat_id=chat.id, ids=gone[i:i + 100], for_everyone=True)
    dev = wire.resume(server, token)
    ups, pts, _ = catch_up(dev, since, 1000)
    assert [u.pts for u in ups] == sorted({u.pts for u in ups}), "out of order or repeated"
    got = [(u.new_message.id, u.new_message.text) for u in ups
           if u.WhichOneof("kind") == "new_message"]
    assert got == [e for e in expected if e[0] not in set(gone)]
    deleted = [i for u in ups if u.WhichOneof("kind") == "delete_messages"
               for i in u.delete_messages.ids]
    assert sorted(deleted) == sorted(gone)
    assert pts == dev.call("get_state").pts


def test_history_of_long_messages_pages_under_the_budget(server, backlog):
    a, chat, _, _, _, _, expected = backlog
    a.largest_frame = 0
    page = a.call("get_history", chat_id=chat.id, limit=200)
    # the newest messages that fit, oldest first; fewer than asked, and `more` says so
    assert 1 <= len(page.messages) < 200 and page.more
    assert [(m.id, m.text) for m in page.messages] == expected[-len(page.messages):]
    assert a.largest_frame <= FRAME_MAX, f"a {a.largest_frame}-byte answer frame"
    for limit in (200, 50):
        a.largest_frame = 0
        full = a.full_history(chat.id, limit)
        assert a.goodbye is None and a.largest_frame <= FRAME_MAX
        assert [(m.id, m.text) for m in full] == expected
    # a short page that reached the beginning says so
    last = a.call("get_history", chat_id=chat.id, limit=3, before_id=expected[2][0])
    assert [m.id for m in last.messages] == [expected[0][0], expected[1][0]] and not last.more


def test_cli_catches_up_long_messages(cli, server):
    """The real client (libparley): `receive` follows `more` through short pages, and
    `history --limit 200` still shows 200 messages although the server sends fewer a page."""
    pw = "pw-big-pages"
    alice, bob = wire.uname("clibig"), wire.uname("clibigb")
    cli.ok("b", "register", bob, password=pw)
    cli.ok("a", "register", alice, password=pw)
    raw = wire.login(server, alice, pw, device="raw")
    chat = raw.open_chat(bob)
    res = raw.send_many(chat.id, [long_text(i) for i in range(N)], window=16)
    expected = [(r.message.id, r.message.text) for r in sorted(res, key=lambda r: r.message.id)]
    got = [o for o in cli.ok("a", "receive", timeout=120).json if o.get("type") == "message"]
    assert [(m["id"], m["text"]) for m in got] == expected
    assert [o for o in cli.ok("a", "receive").json if o.get("type") == "message"] == []
    hist = cli.ok("b", "history", "@" + alice, "--limit", "200").json
    assert [(m["id"], m["text"]) for m in hist] == expected[-200:]
    hist = cli.ok("b", "history", "@" + alice, "--limit", "200", "--before",
                  str(expected[-200][0])).json
    assert [(m["id"], m["text"]) for m in hist] == expected[:-200]
