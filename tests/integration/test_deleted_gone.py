"""Deleted means gone: after a delete for everyone, an edit, or a timer expiry, the old text
cannot be read from any file of the data dir (database, WAL, shm, anything), while the server
keeps running. Each test first proves that the scan does find the text while it is stored.

"Readable" covers two ways a text can sit on disk: as plain bytes, or encrypted at rest the
way store_sqlite.c documents it (XChaCha20 under a per-text 32-byte key kept in the database,
zero nonce). For the latter the scan plays the attacker who owns the disk: every 32-byte
window of every file is tried as a key, and the text counts as readable if the ciphertext it
would produce appears in any file. Should the at-rest format change, the "stored text is
readable" precondition fails loudly instead of the test passing vacuously."""
import secrets

import wire
from diskscan import readable, wait_for


def readable_in(files, text):
    """Names of the files from which `text` can be read (plain or with an on-disk key)."""
    return readable(files, text.encode())


def holders(server, needle):
    return readable_in(server.data_files(), needle)


def unique(label):
    return f"{label}-{secrets.token_hex(16)}"


def setup_pair(server):
    a = wire.register(server, "gonea")
    b = wire.register(server, "goneb")
    chat = a.open_chat(b.username)
    return a, b, chat


def test_deleted_for_everyone_leaves_no_bytes(new_server):
    s = new_server()
    a, b, chat = setup_pair(s)
    secret = unique("delete-me")
    keep = unique("keep-me")
    s.secrets.update({secret, keep})
    # padding so the secret does not sit alone on a fresh page
    a.send_many(chat.id, [f"filler {i}" for i in range(50)])
    m = a.send(chat.id, secret).message
    a.send(chat.id, keep)
    b.wait_update("new_message", lambda x: x.id == m.id)
    wait_for(lambda: holders(s, secret), 5, "the secret to be on disk")
    assert holders(s, keep)
    r = a.call("delete_messages", chat_id=chat.id, ids=[m.id], for_everyone=True)
    assert list(r.deleted) == [m.id]
    b.wait_update("delete_messages", lambda d: m.id in d.ids)
    wait_for(lambda: not holders(s, secret), 5, f"deleted text to leave {holders(s, secret)}")
    assert holders(s, keep), "the scan lost sight of stored text"
    assert s.alive()
    b.ping()
    # still gone after a restart (nothing to replay from a journal)
    s.stop()
    assert not holders(s, secret)
    s.start()
    c = wire.resume(s, b.token)
    assert secret not in [x.text for x in c.full_history(chat.id)]
    assert not holders(s, secret)


def test_edited_text_leaves_no_bytes(new_server):
    s = new_server()
    a, b, chat = setup_pair(s)
    old = unique("old-text")
    new = unique("new-text")
    s.secrets.update({old, new})
    m = a.send(chat.id, old).message
    wait_for(lambda: holders(s, old), 5, "the old text to be on disk")
    e = a.call("edit_message", chat_id=chat.id, id=m.id, text=new)
    assert e.message.text == new
    b.wait_update("edit_message", lambda x: x.id == m.id)
    wait_for(lambda: not holders(s, old), 5, f"edited text to leave {holders(s, old)}")
    assert holders(s, new)
    # a second edit likewise
    newer = unique("newer-text")
    s.secrets.add(newer)
    a.call("edit_message", chat_id=chat.id, id=m.id, text=newer)
    wait_for(lambda: not holders(s, new), 5, "the first edit's text to leave")
    assert holders(s, newer)
    assert s.alive()


def test_expired_text_leaves_no_bytes(new_server):
    s = new_server()
    a, b, _ = setup_pair(s)
    g = a.call("create_group", title="ttl", usernames=[b.username]).chat
    secret = unique("expire-me")
    s.secrets.add(secret)
    m = a.send(g.id, secret, ttl=1).message
    wait_for(lambda: holders(s, secret), 5, "the secret to be on disk")
    b.wait_update("delete_messages", lambda d: m.id in d.ids, timeout=6)
    wait_for(lambda: not holders(s, secret), 5, f"expired text to leave {holders(s, secret)}")
    assert s.alive()
    a.ping()


def test_private_expiry_after_read_leaves_no_bytes(new_server):
    s = new_server()
    a, b, chat = setup_pair(s)
    secret = unique("read-then-gone")
    s.secrets.add(secret)
    m = a.send(chat.id, secret, ttl=1).message
    wait_for(lambda: holders(s, secret), 5, "the secret to be on disk")
    b.call("read_history", chat_id=chat.id, max_id=m.id)
    a.wait_update("delete_messages", lambda d: m.id in d.ids, timeout=6)
    wait_for(lambda: not holders(s, secret), 5, f"expired text to leave {holders(s, secret)}")
