"""Secret chats, the server's part, over the raw protocol against a real parleyd: device
prekeys (publish, list, bundles handed out once), envelopes relayed to one device only
(push, inbox after reconnect, ack = physically deleted), idempotent sends across a kill -9,
and every kind of bad input answered with a clear error that changes nothing.

The server never sees keys or plaintext, so the "keys" and "envelopes" here are random
bytes of the right sizes: the server must treat them as opaque.

Bytes on disk: an envelope is stored encrypted at rest under a per-envelope key kept in the
database (like message text, see test_deleted_gone.py). The scan below plays the attacker
who owns the disk: plain bytes, or every 32-byte window of every file tried as the key.
Each scan first proves it finds the envelope while it is pending."""
import os
import secrets
import time

import pytest

import wire
from diskscan import readable, wait_for
from wire import Conn, code_name

ENVELOPE_MAX = 61440


def key():
    return os.urandom(32)


def spk(i=1):
    return (i, key(), os.urandom(64))


def publish(c, n_otk=5, first_id=1, identity=None):
    """Publishes a fresh identity (kept on c.identity) with n_otk one-time prekeys."""
    c.identity = identity or key()
    c.otks = [(first_id + i, key()) for i in range(n_otk)]
    c.spk = spk()
    r = c.publish_prekeys(c.identity, c.spk, c.otks)
    assert not r.HasField("error"), r
    assert r.prekey_status.one_time_remaining == n_otk
    assert r.prekey_status.device_id == c.session_id and r.prekey_status.published
    return r.prekey_status


def err(r):
    assert r.HasField("error") and r.error.code != 0, f"unexpectedly succeeded: {r}"
    assert r.WhichOneof("result") is None
    assert r.error.message
    return code_name(r.error.code)


def status(c):
    return c.call("get_prekey_status")


def device_with_keys(server, prefix="sec", n_otk=5):
    c = wire.register(server, prefix)
    publish(c, n_otk)
    return c


def second_device(server, c, n_otk=5, keys=True):
    d = wire.login(server, c.username, c.password, device=f"second-{secrets.token_hex(2)}")
    d.username, d.password = c.username, c.password
    if keys:
        publish(d, n_otk)
    return d


def sent(r):
    assert not r.HasField("error"), r
    return r.secret_sent


# ---- prekeys, devices, bundles ---------------------------------------------------------------

def test_publish_list_and_bundles_hand_out_each_prekey_once(server):
    alice = device_with_keys(server, "pka", n_otk=3)
    bob = wire.register(server, "pkb")
    devs = bob.call("list_devices", username=alice.username).devices
    assert [(d.user_id, d.device_id, d.identity_key) for d in devs] == \
        [(alice.user.id, alice.session_id, alice.identity)]
    # another account sees no device name and no last-active time (issue 16, item 9) ...
    assert devs[0].name == "" and devs[0].last_active == 0
    # ... the owner sees its own devices in full
    own = alice.call("list_devices", username=alice.username).devices
    assert own[0].name == "pytest" and own[0].last_active > 0
    assert list(bob.call("list_devices", user_id=alice.user.id).devices) == list(devs)
    got = []
    for how in ({"username": alice.username}, {"user_id": alice.user.id},
                {"username": alice.username, "device_id": alice.session_id}):
        b = bob.call("get_prekey_bundle", **how)
        assert (b.user_id, b.device_id, b.identity_key) == \
            (alice.user.id, alice.session_id, alice.identity)
        assert (b.signed_prekey.id, b.signed_prekey.public_key, b.signed_prekey.signature) == \
            alice.spk
        assert b.HasField("one_time_prekey")
        got.append((b.one_time_prekey.id, b.one_time_prekey.public_key))
    assert sorted(got) == sorted(alice.otks), "each one-time prekey exactly once"
    assert status(alice).one_time_remaining == 0
    b = bob.call("get_prekey_bundle", username=alice.username)
    assert not b.HasField("one_time_prekey") and b.identity_key == alice.identity
    assert b.signed_prekey.public_key == alice.spk[1]
    # replenish: same identity, new signed prekey, more one-time prekeys
    new_spk = spk(2)
    r = alice.publish_prekeys(alice.identity, new_spk, [(10, key()), (11, key())])
    assert r.prekey_status.one_time_remaining == 2
    b = bob.call("get_prekey_bundle", username=alice.username)
    assert b.signed_prekey.id == 2 and b.signed_prekey.public_key == new_spk[1]
    assert b.one_time_prekey.id == 10
    # a publish without a signed prekey keeps the stored one
    r = alice.publish_prekeys(alice.identity, None, [(12, key())])
    assert r.prekey_status.one_time_remaining == 2
    assert bob.call("get_prekey_bundle", username=alice.username).signed_prekey.id == 2


def test_identity_key_change_is_refused(server):
    alice = device_with_keys(server, "idk", n_otk=2)
    r = alice.publish_prekeys(key(), spk(5), [(50, key())])
    assert err(r) == "IDENTITY_KEY_CHANGED"
    st = status(alice)
    assert st.published and st.one_time_remaining == 2
    bob = wire.register(server, "idkb")
    b = bob.call("get_prekey_bundle", username=alice.username)
    assert b.identity_key == alice.identity and b.signed_prekey.id == alice.spk[0]
    assert b.one_time_prekey.id in (1, 2)


def test_default_device_is_the_newest_active_one(server):
    a1 = device_with_keys(server, "newest")
    a2 = second_device(server, a1)
    a3 = second_device(server, a1, keys=False)        # logged in, no keys: not a device
    bob = wire.register(server, "newestb")
    devs = bob.call("list_devices", username=a1.username).devices
    assert [d.device_id for d in devs] == [a1.session_id, a2.session_id]
    assert a3.session_id not in [d.device_id for d in devs]
    assert bob.call("get_prekey_bundle", username=a1.username).device_id == a2.session_id
    assert err(bob.request("get_prekey_bundle", username=a1.username,
                           device_id=a3.session_id)) == "DEVICE_NOT_FOUND"
    a2.call("logout")
    assert bob.call("get_prekey_bundle", username=a1.username).device_id == a1.session_id
    assert [d.device_id for d in bob.call("list_devices", username=a1.username).devices] == \
        [a1.session_id]


# ---- delivery -----------------------------------------------------------------------------------

def test_online_device_gets_the_push_and_no_one_else(server):
    a1 = device_with_keys(server, "push")
    a1b = wire.resume(server, a1.token)                # a second connection of the same device
    a2 = second_device(server, a1)
    bob = device_with_keys(server, "pushb")
    bob2 = second_device(server, bob)
    pts = {c: c.call("get_state").pts for c in (a1, a2, bob, bob2)}
    env = os.urandom(300)
    chat = secrets.randbits(64) | 1
    s = sent(bob.send_secret(a1.user.id, a1.session_id, env, secret_chat=chat))
    assert s.id > 0 and abs(s.date - time.time()) < 60
    for c in (a1, a1b):
        e = c.wait_secret(lambda x: x.id == s.id)
        assert (e.from_user, e.from_username, e.from_device, e.secret_chat, e.envelope,
                e.date) == (bob.user.id, bob.username, bob.session_id, chat, env, s.date)
    for c in (a2, bob, bob2):
        c.drain()
        assert c.secrets == [], "an envelope reached a device it was not for"
    for c in (a1, a2, bob, bob2):
        assert c.call("get_state").pts == pts[c], "an envelope entered an update log"
        ups, _, _ = c.difference(pts[c])
        assert ups == []
        c.drain()
        assert c.updates == []
    assert [e.id for e in a1.secret_inbox()] == [s.id]       # pending until acknowledged
    assert a2.secret_inbox() == [] and bob.secret_inbox() == []
    assert list(a1.call("ack_secret", ids=[s.id]).deleted) == [s.id]
    assert a1.secret_inbox() == [] and a1b.secret_inbox() == []


def test_offline_inbox_in_order_and_ack_leaves_no_bytes(new_server):
    s = new_server()
    alice = device_with_keys(s, "gone")
    bob = device_with_keys(s, "goneb")
    token, dev = alice.token, alice.session_id
    alice.close()
    marker = os.urandom(4096)
    keep = os.urandom(4096)
    bodies = [os.urandom(100), marker, os.urandom(2000)]
    ids = [sent(bob.send_secret(alice.user.id, dev, b)).id for b in bodies]
    assert ids == sorted(ids)
    keep_id = sent(bob.send_secret(alice.user.id, dev, keep)).id
    a = wire.resume(s, token)
    inbox = a.secret_inbox()
    assert [(e.id, e.envelope, e.from_device) for e in inbox] == \
        list(zip(ids + [keep_id], bodies + [keep], [bob.session_id] * 4))
    assert a.secrets == [], "pending envelopes are not pushed at resume"
    assert [e.id for e in a.secret_inbox(after_id=ids[0])] == ids[1:] + [keep_id]
    assert [e.id for e in a.secret_inbox(limit=1)] == ids + [keep_id]   # paged
    wait_for(lambda: readable(s.data_files(), marker), 5, "the envelope to be on disk")
    r = a.call("ack_secret", ids=ids + [ids[0], 987654321])
    assert sorted(r.deleted) == ids, "acked once each, unknown id skipped"
    assert [e.id for e in a.secret_inbox()] == [keep_id]
    wait_for(lambda: not readable(s.data_files(), marker), 10,
             "the acknowledged envelope to leave the disk")
    assert readable(s.data_files(), keep), "the scan lost sight of a pending envelope"
    s.stop()
    assert not readable(s.data_files(), marker)
    s.start()
    a = wire.resume(s, token)
    assert [(e.id, e.envelope) for e in a.secret_inbox()] == [(keep_id, keep)]
    assert not readable(s.data_files(), marker)


def test_inbox_pages_fit_a_frame(server):
    alice = device_with_keys(server, "page")
    bob = device_with_keys(server, "pageb")
    bodies = [os.urandom(20000) for _ in range(5)] + [os.urandom(ENVELOPE_MAX)]
    ids = [sent(bob.send_secret(alice.user.id, alice.session_id, b)).id for b in bodies]
    r = alice.call("get_secret_inbox")
    assert r.more and 1 <= len(r.envelopes) < len(bodies)
    got = alice.secret_inbox()
    assert [(e.id, e.envelope) for e in got] == list(zip(ids, bodies))
    assert err(alice.request("get_secret_inbox", limit=101)) == "BAD_REQUEST"
    alice.call("ack_secret", ids=ids)


def test_resend_is_idempotent_and_pending_survives_kill9(new_server):
    s = new_server()
    alice = device_with_keys(s, "kill")
    bob = device_with_keys(s, "killb")
    rid = secrets.randbits(63) | 1
    first = sent(bob.send_secret(alice.user.id, alice.session_id, b"one", random_id=rid))
    alice.wait_secret(lambda e: e.id == first.id)
    again = sent(bob.send_secret(alice.user.id, alice.session_id, b"other", random_id=rid))
    assert (again.id, again.date) == (first.id, first.date)
    alice.drain()
    assert alice.secrets == [], "a repeated send was pushed again"
    assert [(e.id, e.envelope) for e in alice.secret_inbox()] == [(first.id, b"one")]
    # a different device of the same account has its own random_id space
    bob2 = second_device(s, bob)
    other = sent(bob2.send_secret(alice.user.id, alice.session_id, b"two", random_id=rid))
    assert other.id != first.id
    last = sent(bob.send_secret(alice.user.id, alice.session_id, b"three"))
    s.kill9()
    s.start()
    a = wire.resume(s, alice.token)
    assert [(e.id, e.envelope) for e in a.secret_inbox()] == \
        [(first.id, b"one"), (other.id, b"two"), (last.id, b"three")]
    b = wire.resume(s, bob.token)
    again = sent(b.send_secret(alice.user.id, alice.session_id, b"x", random_id=rid))
    assert again.id == first.id
    # idempotency outlives the ack
    a.call("ack_secret", ids=[first.id])
    assert sent(b.send_secret(alice.user.id, alice.session_id, b"y", random_id=rid)).id == \
        first.id
    assert first.id not in [e.id for e in a.secret_inbox()]


def test_ending_a_session_deletes_its_keys_and_inbox(new_server):
    s = new_server()
    a1 = device_with_keys(s, "term")
    a2 = second_device(s, a1)
    bob = device_with_keys(s, "termb")
    marker = os.urandom(4096)
    sent(bob.send_secret(a1.user.id, a2.session_id, marker))
    outgoing = os.urandom(64)
    out_id = sent(a2.send_secret(bob.user.id, bob.session_id, outgoing)).id
    wait_for(lambda: readable(s.data_files(), marker), 5, "the envelope to be on disk")
    assert list(a1.call("terminate_session", session_id=a2.session_id).terminated) == \
        [a2.session_id]
    assert [d.device_id for d in bob.call("list_devices", user_id=a1.user.id).devices] == \
        [a1.session_id]
    assert err(bob.request("get_prekey_bundle", user_id=a1.user.id,
                           device_id=a2.session_id)) == "DEVICE_NOT_FOUND"
    assert err(bob.send_secret(a1.user.id, a2.session_id, b"late")) == "DEVICE_NOT_FOUND"
    wait_for(lambda: not readable(s.data_files(), marker), 10,
             "the ended device's inbox to leave the disk")
    # what the ended device sent stays for its recipient
    assert [(e.id, e.envelope, e.from_device) for e in bob.secret_inbox()] == \
        [(out_id, outgoing, a2.session_id)]
    # a fresh login is a new device that may publish a new identity
    a3 = second_device(s, a1)
    assert a3.session_id != a2.session_id


def test_logout_deletes_the_device(server):
    a = device_with_keys(server, "lgo")
    bob = device_with_keys(server, "lgob")
    sent(bob.send_secret(a.user.id, a.session_id, b"pending"))
    a.call("logout")
    assert list(bob.call("list_devices", user_id=a.user.id).devices) == []
    assert err(bob.request("get_prekey_bundle", user_id=a.user.id)) == "DEVICE_NOT_FOUND"


# ---- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 31, 33])
def test_bad_identity_key_lengths(server, n):
    c = wire.register(server, "badid")
    assert err(c.publish_prekeys(os.urandom(n), spk(), [(1, key())])) == "KEYS_INVALID"
    st = status(c)
    assert not st.published and st.one_time_remaining == 0


@pytest.mark.parametrize("pub,sig,otk", [
    (31, 64, 32), (33, 64, 32), (0, 64, 32), (32, 63, 32), (32, 65, 32), (32, 0, 32),
    (32, 64, 31), (32, 64, 33), (32, 64, 0)])
def test_bad_prekey_lengths(server, pub, sig, otk):
    c = wire.register(server, "badpk")
    r = c.publish_prekeys(key(), (1, os.urandom(pub), os.urandom(sig)),
                          [(1, key()), (2, os.urandom(otk))])
    assert err(r) == "KEYS_INVALID"
    assert not status(c).published
    # and on a device that has keys: nothing changes
    publish(c, 2)
    r = c.publish_prekeys(c.identity, (9, os.urandom(pub), os.urandom(sig)),
                          [(7, key()), (8, os.urandom(otk))])
    assert err(r) == "KEYS_INVALID"
    assert status(c).one_time_remaining == 2
    bob = wire.register(server, "badpkb")
    assert bob.call("get_prekey_bundle", user_id=c.user.id).signed_prekey.id == c.spk[0]


def test_first_publish_needs_a_signed_prekey(server):
    c = wire.register(server, "nospk")
    assert err(c.publish_prekeys(key(), None, [(1, key())])) == "KEYS_INVALID"
    assert not status(c).published


def test_too_many_and_duplicate_prekeys(server):
    c = wire.register(server, "many")
    r = c.publish_prekeys(key(), spk(), [(i, key()) for i in range(201)])
    assert err(r) == "LIMIT_REACHED"
    assert not status(c).published
    publish(c, 150)
    r = c.publish_prekeys(c.identity, None, [(1000 + i, key()) for i in range(51)])
    assert err(r) == "LIMIT_REACHED"
    assert status(c).one_time_remaining == 150
    r = c.publish_prekeys(c.identity, None, [(500, key()), (500, key())])
    assert err(r) == "KEYS_INVALID"
    # an id already stored: nothing of the request is added, the signed prekey is kept
    r = c.publish_prekeys(c.identity, spk(7), [(600, key()), (3, key())])
    assert err(r) == "KEYS_INVALID"
    assert status(c).one_time_remaining == 150
    r = c.publish_prekeys(c.identity, None, [(1000 + i, key()) for i in range(50)])
    assert r.prekey_status.one_time_remaining == 200
    bob = wire.register(server, "manyb")
    b = bob.call("get_prekey_bundle", user_id=c.user.id)
    assert b.signed_prekey.id == c.spk[0] and b.one_time_prekey.id == 1


def test_bad_envelopes(server):
    alice = device_with_keys(server, "benv")
    bob = device_with_keys(server, "benvb")
    to = (alice.user.id, alice.session_id)
    assert err(bob.send_secret(*to, b"")) == "BAD_REQUEST"
    assert err(bob.send_secret(*to, os.urandom(ENVELOPE_MAX + 1))) == "TOO_LARGE"
    assert err(bob.request("send_secret", to_user=to[0], to_device=to[1], secret_chat=0,
                           envelope=b"x", random_id=5)) == "BAD_REQUEST"
    assert err(bob.request("send_secret", to_user=to[0], to_device=to[1], secret_chat=5,
                           envelope=b"x", random_id=0)) == "BAD_REQUEST"
    assert err(bob.request("send_secret", to_user=0, to_device=to[1], secret_chat=5,
                           envelope=b"x", random_id=5)) == "BAD_REQUEST"
    assert err(bob.request("send_secret", to_user=to[0], to_device=-1, secret_chat=5,
                           envelope=b"x", random_id=5)) == "BAD_REQUEST"
    alice.drain()
    assert alice.secret_inbox() == [] and alice.secrets == []
    big = os.urandom(ENVELOPE_MAX)
    s = sent(bob.send_secret(*to, big))
    assert alice.wait_secret(lambda e: e.id == s.id).envelope == big
    alice.call("ack_secret", ids=[s.id])
    # a frame over the protocol's 64 KiB limit ends the connection, stores nothing
    c = wire.resume(server, bob.token)
    f = wire.build_frame("send_secret", 9, to_user=to[0], to_device=to[1], secret_chat=5,
                         envelope=os.urandom(65537), random_id=77)
    c.send_raw_chunked(f.SerializeToString())
    gb = c.wait_closed()
    assert gb is not None and code_name(gb.code) == "TOO_LARGE", gb
    assert alice.secret_inbox() == []


def test_wrong_recipient_devices(server):
    alice = device_with_keys(server, "wrong")
    a_nokeys = second_device(server, alice, keys=False)
    a_ended = second_device(server, alice)
    alice.call("terminate_session", session_id=a_ended.session_id)
    bob = device_with_keys(server, "wrongb")
    carol = device_with_keys(server, "wrongc")
    cases = [
        (alice.user.id, carol.session_id),     # another user's device
        (alice.user.id, 2 ** 40),              # unknown
        (alice.user.id, a_ended.session_id),   # terminated session
        (alice.user.id, a_nokeys.session_id),  # no keys published
        (bob.user.id, bob.session_id),         # the sender's own device
        (2 ** 40, alice.session_id),           # unknown user
    ]
    for u, d in cases:
        assert err(bob.send_secret(u, d, b"lost")) == "DEVICE_NOT_FOUND", (u, d)
        if u != 2 ** 40 and d != bob.session_id:    # own bundle: allowed
            assert err(bob.request("get_prekey_bundle", user_id=u, device_id=d)) == \
                "DEVICE_NOT_FOUND", (u, d)
    assert status(carol).one_time_remaining == 5, "a refused bundle consumed a prekey"
    for c in (alice, a_nokeys, bob, carol):
        assert c.secret_inbox() == []


def test_acking_another_devices_envelope_changes_nothing(server):
    alice = device_with_keys(server, "ackx")
    a2 = second_device(server, alice)
    mallory = device_with_keys(server, "ackm")
    bob = device_with_keys(server, "ackb")
    s = sent(bob.send_secret(alice.user.id, alice.session_id, b"for alice only"))
    for c in (mallory, a2, bob):
        assert list(c.call("ack_secret", ids=[s.id]).deleted) == []
        assert c.secret_inbox() == []
    assert [e.envelope for e in alice.secret_inbox()] == [b"for alice only"]
    assert err(alice.request("ack_secret", ids=[])) == "BAD_REQUEST"
    assert err(alice.request("ack_secret", ids=list(range(1, 502)))) == "BAD_REQUEST"
    assert err(alice.request("ack_secret", ids=[0])) == "BAD_REQUEST"
    assert [e.id for e in alice.secret_inbox()] == [s.id]
    assert list(alice.call("ack_secret", ids=[s.id]).deleted) == [s.id]


def test_lookups_of_unknown_users(server):
    c = wire.register(server, "look")
    nokeys = wire.register(server, "lookn")
    assert err(c.request("list_devices", username="nosuchuser_" + secrets.token_hex(4))) == \
        "USER_NOT_FOUND"
    assert err(c.request("list_devices", user_id=2 ** 40)) == "USER_NOT_FOUND"
    assert err(c.request("list_devices", username="x!")) == "USERNAME_INVALID"
    assert err(c.request("list_devices")) == "BAD_REQUEST"
    assert err(c.request("get_prekey_bundle", user_id=2 ** 40)) == "USER_NOT_FOUND"
    assert err(c.request("get_prekey_bundle", user_id=nokeys.user.id)) == "DEVICE_NOT_FOUND"
    assert err(c.request("get_prekey_bundle", user_id=nokeys.user.id, device_id=-3)) == \
        "BAD_REQUEST"
    assert list(c.call("list_devices", user_id=nokeys.user.id).devices) == []


def test_unauthenticated_requests(server):
    c = Conn(server)
    pk = wire.pb.PublishPrekeysRequest(identity_key=key())
    assert err(c.request_msg("publish_prekeys", pk)) == "NOT_AUTHENTICATED"
    for kind, fields in [("get_prekey_status", {}), ("list_devices", {"user_id": 1}),
                         ("get_prekey_bundle", {"user_id": 1}),
                         ("send_secret", {"to_user": 1, "to_device": 1, "secret_chat": 1,
                                          "envelope": b"x", "random_id": 1}),
                         ("get_secret_inbox", {}), ("ack_secret", {"ids": [1]})]:
        assert err(c.request(kind, **fields)) == "NOT_AUTHENTICATED", kind
    c.ping()


def test_send_secret_flood(new_server):
    s = new_server(config_lines=["flood_rate = 2", "flood_burst = 10"])
    alice = device_with_keys(s, "flood")
    bob = device_with_keys(s, "floodb")
    rids = []
    for i in range(30):
        rid = bob.new_id()
        bob.send_frame(wire.build_frame("send_secret", rid, to_user=alice.user.id,
                                        to_device=alice.session_id, secret_chat=1,
                                        envelope=b"f%d" % i, random_id=i + 1))
        rids.append(rid)
    ok = flooded = 0
    for rid in rids:
        r = bob.wait_response(rid)
        if r.HasField("error"):
            assert code_name(r.error.code) == "FLOOD_WAIT" and r.error.retry_after >= 1
            flooded += 1
        else:
            ok += 1
    assert flooded > 0 and ok > 0
    time.sleep(2)
    assert len(alice.secret_inbox(limit=100)) == ok, "a refused send was stored"


def test_pending_caps(new_server):
    s = new_server(config_lines=["secret_inbox_max = 3", "secret_inbox_bytes = 4K"])
    alice = device_with_keys(s, "cap")
    bob = device_with_keys(s, "capb")
    to = (alice.user.id, alice.session_id)
    ids = [sent(bob.send_secret(*to, b"e%d" % i)).id for i in range(3)]
    assert err(bob.send_secret(*to, b"one too many")) == "LIMIT_REACHED"
    assert [e.id for e in alice.secret_inbox()] == ids
    alice.call("ack_secret", ids=[ids[0]])
    ids.append(sent(bob.send_secret(*to, b"fits again")).id)
    alice.call("ack_secret", ids=ids)
    big = sent(bob.send_secret(*to, os.urandom(3000))).id
    assert err(bob.send_secret(*to, os.urandom(1500))) == "LIMIT_REACHED"
    assert [e.id for e in alice.secret_inbox()] == [big]
    # another device's inbox has its own cap
    a2 = second_device(s, alice)
    sent(bob.send_secret(alice.user.id, a2.session_id, os.urandom(1500)))


def test_pipelined_bundle_fetches_never_share_a_prekey(server):
    alice = device_with_keys(server, "pipe", n_otk=6)
    bob = wire.register(server, "pipeb")
    rids = []
    for _ in range(8):                     # sent back to back: most land in one store batch
        rid = bob.new_id()
        bob.send_frame(wire.build_frame("get_prekey_bundle", rid, user_id=alice.user.id))
        rids.append(rid)
    got = [bob.wait_response(r).prekey_bundle for r in rids]
    ids = [b.one_time_prekey.id for b in got if b.HasField("one_time_prekey")]
    assert sorted(ids) == [i for i, _ in alice.otks], "each one-time prekey exactly once"
    assert len(got) - len(ids) == 2
    assert status(alice).one_time_remaining == 0


def test_invalid_utf8_username_in_device_lookups(server):
    c = wire.register(server, "utf")
    for kind in ("list_devices", "get_prekey_bundle"):
        rid = c.new_id()
        data = wire.build_frame(kind, rid, username="PLACEHOLDER").SerializeToString()
        c.send_raw(wire.replace_same_len(data, "PLACEHOLDER", b"abc\xff\xfe\xc0defgh"))
        r = c.wait_response(rid)
        assert err(r) == "USERNAME_INVALID", kind
    c.ping()
