"""Secret chats under abuse (issue 16, items 5, 7 and 9), against a real parleyd over the raw
protocol, and with the real CLI where the cryptography matters:

* Mallory floods Bob's device inbox from several devices: she fills only her own share, and
  Alice's envelope still gets through (item 5); her send rate is limited per account, across
  her devices, with FLOOD_WAIT and a retry_after that is enough (item 5);
* envelopes nobody collects expire (item 5): the database's dates are moved back while
  parleyd is stopped, and the running expiry deletes them;
* prekey bundles: a requester that fetches too many gets FLOOD_WAIT; a crowd of accounts
  cannot drain a device's one-time prekeys (beyond the hourly allowance bundles come without
  one), and a secret chat still starts and works (item 7);
* another account's device list has no device names and no last-active times; the owner's
  own list has them (item 9).

Each attack also times a well-behaved client's request without and with the attack (printed,
never asserted: deadlines are generous liveness guards only).
"""
import os
import secrets
import sqlite3
import time

import wire
from wire import code_name


def key():
    return os.urandom(32)


def publish(c, n_otk=5, first_id=1):
    c.identity = key()
    c.otks = [(first_id + i, key()) for i in range(n_otk)]
    c.spk = (1, key(), os.urandom(64))
    r = c.publish_prekeys(c.identity, c.spk, c.otks)
    assert not r.HasField("error"), r
    return c


def device(server, prefix, n_otk=5):
    return publish(wire.register(server, prefix), n_otk)


def second_device(server, c, n_otk=5):
    d = wire.login(server, c.username, c.password, device=f"second-{secrets.token_hex(2)}")
    d.username, d.password = c.username, c.password
    return publish(d, n_otk, first_id=1000)


def err_of(r):
    assert r.HasField("error") and r.error.code, f"unexpectedly succeeded: {r}"
    return code_name(r.error.code)


def ok(r):
    assert not r.HasField("error"), r
    return r


def timed(fn):
    t = time.monotonic()
    out = fn()
    return out, (time.monotonic() - t) * 1000


# ---- item 5: inbox shares, send rate, expiry --------------------------------------------------

def test_flooded_inbox_still_takes_others_envelopes(new_server):
    s = new_server(config_lines=["secret_inbox_max = 40", "secret_inbox_sender_max = 8",
                                 "secret_inbox_sender_bytes = 64K",
                                 "secret_send_rate = 1000", "secret_send_burst = 1000"])
    bob = device(s, "sbob")
    alice = device(s, "salice")
    mal = device(s, "smal")
    mal2 = second_device(s, mal)
    first, base_ms = timed(lambda: ok(alice.send_secret(bob.user.id, bob.session_id,
                                                        b"alice-before")))
    # Mallory sends until refused, from both her devices: her share is per account
    sent = refused = 0
    for i in range(30):
        m = mal if i % 2 else mal2
        r = m.send_secret(bob.user.id, bob.session_id, os.urandom(1000))
        if r.HasField("error"):
            assert err_of(r) == "LIMIT_REACHED" and "your envelopes" in r.error.message
            refused += 1
        else:
            sent += 1
    assert sent == 8 and refused == 22
    # her bytes share too: a fresh account of hers cannot park one big envelope past 64K
    big = device(s, "smalbig")
    assert ok(big.send_secret(bob.user.id, bob.session_id, os.urandom(60000)))
    assert err_of(big.send_secret(bob.user.id, bob.session_id, os.urandom(8000))) == \
        "LIMIT_REACHED"
    # Alice still gets through, and Bob reads her envelopes among Mallory's
    r, attack_ms = timed(lambda: ok(alice.send_secret(bob.user.id, bob.session_id,
                                                      b"alice-during")))
    print(f"\nsecret send of a bystander: {base_ms:.1f} ms without, {attack_ms:.1f} ms with "
          f"the inbox flood")
    inbox = bob.secret_inbox()
    assert [e.envelope for e in inbox if e.from_user == alice.user.id] == \
        [b"alice-before", b"alice-during"]
    assert sum(1 for e in inbox if e.from_user == mal.user.id) == 8
    # acknowledging gives Mallory her share back (pending, not lifetime)
    ok(bob.request("ack_secret", ids=[e.id for e in inbox if e.from_user == mal.user.id]))
    assert ok(mal.send_secret(bob.user.id, bob.session_id, b"again"))
    assert first.secret_sent.id > 0


def test_send_rate_is_per_account(new_server):
    s = new_server(config_lines=["secret_send_rate = 0.5", "secret_send_burst = 4"])
    bob = device(s, "rbob")
    alice = device(s, "ralice")
    mal = device(s, "rmal")
    mal2 = second_device(s, mal)
    _, base_ms = timed(lambda: ok(alice.send_secret(bob.user.id, bob.session_id, b"a1")))
    for i in range(4):
        ok((mal if i % 2 else mal2).send_secret(bob.user.id, bob.session_id, b"m"))
    for m in (mal, mal2):                         # both devices: one bucket for the account
        r = m.send_secret(bob.user.id, bob.session_id, b"m")
        assert err_of(r) == "FLOOD_WAIT" and r.error.retry_after >= 1
    retry = r.error.retry_after
    # refusals are not charged: asking again and again does not lengthen the wait
    for _ in range(20):
        assert err_of(mal.send_secret(bob.user.id, bob.session_id, b"m")) == "FLOOD_WAIT"
    _, attack_ms = timed(lambda: ok(alice.send_secret(bob.user.id, bob.session_id, b"a2")))
    print(f"\nsecret send of a bystander: {base_ms:.1f} ms without, {attack_ms:.1f} ms with "
          f"a throttled sender")
    # the retry_after given is enough (a liveness wait on the server's own promise)
    deadline = time.monotonic() + retry + 30
    time.sleep(retry)
    while True:
        r = mal.send_secret(bob.user.id, bob.session_id, b"after")
        if not r.HasField("error"):
            break
        assert err_of(r) == "FLOOD_WAIT" and time.monotonic() < deadline
        time.sleep(0.2)
    # nothing refused was stored: bob has alice's two and mallory's five
    inbox = bob.secret_inbox()
    assert sum(1 for e in inbox if e.from_user == mal.user.id) == 5
    assert sum(1 for e in inbox if e.from_user == alice.user.id) == 2


def test_uncollected_envelopes_expire(new_server):
    s = new_server(config_lines=["secret_envelope_ttl_days = 2", "secret_inbox_max = 2"])
    bob = device(s, "xbob")
    alice = device(s, "xalice")
    old = ok(alice.send_secret(bob.user.id, bob.session_id, b"never collected")).secret_sent
    young = ok(alice.send_secret(bob.user.id, bob.session_id, b"one day")).secret_sent
    assert err_of(alice.send_secret(bob.user.id, bob.session_id, b"full")) == "LIMIT_REACHED"
    s.stop()
    db = sqlite3.connect(str(s.data / "parley.db"))
    try:
        db.execute("UPDATE secret_inbox SET date = date - 3 * 86400 WHERE id = ?", (old.id,))
        db.execute("UPDATE secret_inbox SET date = date - 86400 WHERE id = ?", (young.id,))
        db.commit()
    finally:
        db.close()
    s.start()
    bob = wire.resume(s, bob.token)
    deadline = time.monotonic() + 30
    while True:                                   # the expiry runs at least every 2 s
        ids = [e.id for e in bob.secret_inbox()]
        if old.id not in ids:
            break
        assert time.monotonic() < deadline, "the old envelope did not expire"
        time.sleep(0.2)
    assert ids == [young.id]
    # and the device's pending counters followed: a full inbox has room again
    alice = wire.resume(s, alice.token)
    ok(alice.send_secret(bob.user.id, bob.session_id, b"new"))


# ---- item 7: bundle fetches ------------------------------------------------------------------------

def test_bundle_fetches_per_requester(new_server):
    s = new_server(config_lines=["prekey_fetch_per_minute = 1", "prekey_fetch_burst = 3"])
    bob = device(s, "fbob", n_otk=20)
    alice = wire.register(s, "falice")
    mal = wire.register(s, "fmal")
    _, base_ms = timed(lambda: ok(alice.request("get_prekey_bundle", username=bob.username)))
    for _ in range(3):
        ok(mal.request("get_prekey_bundle", username=bob.username))
    r = mal.request("get_prekey_bundle", user_id=bob.user.id)
    assert err_of(r) == "FLOOD_WAIT" and r.error.retry_after >= 1
    # another connection of the same account shares the bucket
    mal_b = wire.resume(s, mal.token)
    assert err_of(mal_b.request("get_prekey_bundle", username=bob.username)) == "FLOOD_WAIT"
    r, attack_ms = timed(lambda: ok(alice.request("get_prekey_bundle", username=bob.username)))
    print(f"\nbundle fetch of a bystander: {base_ms:.1f} ms without, {attack_ms:.1f} ms with "
          f"a throttled requester")
    assert r.prekey_bundle.HasField("one_time_prekey")
    assert bob.call("get_prekey_status").one_time_remaining == 20 - 5


def test_crowd_cannot_drain_one_time_prekeys(new_server, cli_factory):
    """A crowd of accounts fetches bundles: after the hourly allowance, bundles come without a
    one-time prekey, the rest stay, and a real secret chat still starts and works."""
    s = new_server(config_lines=["prekey_otk_per_hour = 4"])
    cli = cli_factory(s)
    pw = "pw-" + secrets.token_hex(8)
    a, b = wire.uname("dra"), wire.uname("drb")
    cli.ok("bob", "register", b, password=pw)
    cli.ok("alice", "register", a, password=pw)
    bob = wire.login(s, b, pw, device="watcher")    # only to read bob's device (no keys)
    dev = bob.call("list_devices", username=b).devices[0].device_id
    crowd = [wire.register(s, "crowd") for _ in range(8)]
    got = [c.call("get_prekey_bundle", username=b) for c in crowd]
    with_otk = [g for g in got if g.HasField("one_time_prekey")]
    assert len(with_otk) <= 4 and all(g.device_id == dev for g in got)
    assert len(got) - len(with_otk) >= 4               # served, without a one-time prekey
    # the CLI starts a chat on such a bundle (X3DH without a one-time prekey) and it works
    start = cli.ok("alice", "secret", "start", "@" + b).json[-1]
    chat = start["secret_chat"]
    cli.ok("alice", "secret", "send", chat, "hello through the crowd")
    got = cli.ok("bob", "receive").json
    texts = [o.get("text") for o in got if o.get("type") == "message" and o.get("secret")]
    assert "hello through the crowd" in texts
    cli.ok("bob", "secret", "send", chat, "hi alice")
    got = cli.ok("alice", "receive").json
    assert "hi alice" in [o.get("text") for o in got if o.get("secret")]


# ---- item 9: device lists ----------------------------------------------------------------------------

def test_device_list_shows_peers_only_what_x3dh_needs(server):
    alice = device(server, "dla")
    alice2 = second_device(server, alice)
    bob = wire.register(server, "dlb")
    theirs = bob.call("list_devices", username=alice.username).devices
    assert [(d.user_id, d.device_id, d.identity_key) for d in theirs] == \
        [(alice.user.id, alice.session_id, alice.identity),
         (alice.user.id, alice2.session_id, alice2.identity)]
    for d in theirs:
        assert d.name == "" and d.last_active == 0
        assert not d.SerializeToString().count(b"second-"), "a device name leaked"
    own = alice2.call("list_devices", user_id=alice.user.id).devices
    assert [d.name for d in own] == ["pytest", alice2_name(alice2, own)]
    assert all(d.last_active > 0 for d in own)


def alice2_name(c, own):
    """The name the second device logged in with ("second-xxxx")."""
    names = [d.name for d in own if d.device_id == c.session_id]
    assert len(names) == 1 and names[0].startswith("second-")
    return names[0]


# ---- item 7: signed prekey rotation and one-time prekey replenishment (libparley, the CLI) ------

def profile_db(cli, name, sql, args=()):
    db = sqlite3.connect(str(cli.profile(name) / "profile.db"))
    try:
        rows = db.execute(sql, args).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


def test_signed_prekey_rotates_and_old_half_serves_in_flight_starts(new_server, cli_factory):
    """A week-old signed prekey is replaced (the new one published, signed by the same
    identity); an initial message made from a bundle fetched before the rotation still opens
    (the retired private half is kept for the grace period), and is deleted after it. The
    device's clock is moved by editing its profile's rotation dates (plain columns)."""
    s = new_server()
    cli = cli_factory(s)
    pw = "pw-" + secrets.token_hex(8)
    a, b = wire.uname("rota"), wire.uname("rotb")
    cli.ok("alice", "register", a, password=pw)
    cli.ok("bob", "register", b, password=pw)
    cli.ok("alice", "secret", "list")                 # alice's keys are published
    cli.ok("bob", "secret", "list")
    watcher = wire.register(s, "rotw")
    before = watcher.call("list_devices", username=a).devices[0]
    assert [r[0] for r in profile_db(cli, "alice", "SELECT pending FROM sc_spk_state")] == [0]
    # bob starts a chat: bundle with alice's signed prekey 1, first message pending for her
    chat = cli.ok("bob", "secret", "start", "@" + a).json[-1]["secret_chat"]
    cli.ok("bob", "secret", "send", chat, "sent before the rotation")
    # a week passes on alice's device
    profile_db(cli, "alice", "UPDATE sc_spk_state SET created = created - 8 * 86400")
    got = cli.ok("alice", "receive").json            # rotates first, then reads the inbox
    texts = [o.get("text") for o in got if o.get("type") == "message" and o.get("secret")]
    assert "sent before the rotation" in texts
    assert [r[0] for r in profile_db(cli, "alice", "SELECT id FROM sc_spk_old")] == [1]
    assert [r[0] for r in profile_db(cli, "alice", "SELECT pending FROM sc_spk_state")] == [0]
    b2 = watcher.call("get_prekey_bundle", username=a)
    assert b2.signed_prekey.id == 2 and b2.identity_key == before.identity_key
    # the chat works both ways after the rotation
    cli.ok("alice", "secret", "send", chat, "after the rotation")
    got = cli.ok("bob", "receive").json
    assert "after the rotation" in [o.get("text") for o in got if o.get("secret")]
    # a new chat made now uses signed prekey 2
    cli.ok("bob", "secret", "start", "@" + a)
    cli.ok("alice", "receive")
    # past the grace period (and another week): 1 is deleted, 2 retired, 3 current
    profile_db(cli, "alice", "UPDATE sc_spk_old SET retired = retired - 15 * 86400")
    profile_db(cli, "alice", "UPDATE sc_spk_state SET created = created - 8 * 86400")
    cli.ok("alice", "secret", "list")
    assert [r[0] for r in profile_db(cli, "alice", "SELECT id FROM sc_spk_old")] == [2]
    assert watcher.call("get_prekey_bundle", username=a).signed_prekey.id == 3


def test_one_time_prekeys_are_replenished(new_server, cli_factory):
    """Drained one-time prekeys are topped up by the device when the server reports few."""
    s = new_server(config_lines=["prekey_otk_per_hour = 0", "prekey_fetch_burst = 1000",
                                 "prekey_fetch_per_minute = 100"])
    cli = cli_factory(s)
    pw = "pw-" + secrets.token_hex(8)
    a = wire.uname("repa")
    cli.ok("alice", "register", a, password=pw)
    cli.ok("alice", "secret", "list")
    crowd = wire.register(s, "repc")
    n = 0
    while crowd.call("get_prekey_bundle", username=a).HasField("one_time_prekey"):
        n += 1
        assert n <= 60
    assert n == 50                                    # the first batch, all gone
    cli.ok("alice", "secret", "list")                 # a new process checks the count
    n = 0
    while crowd.call("get_prekey_bundle", username=a).HasField("one_time_prekey"):
        n += 1
        assert n <= 60
    assert n == 50                                    # one new batch of 50 was published
