"""diskscan.py: can a secret still be read from the files a server wrote?

The store keeps message text and secret-chat envelopes encrypted at rest (XChaCha20 under a
per-item 32-byte key kept in the database, zero nonce: see store_sqlite.c). `readable` plays
the attacker who owns the disk: the needle counts as readable if it is in a file as plain
bytes, or if the ciphertext some 32-byte window of some file would make of it (as a key) is
in a file. Used by test_deleted_gone.py and test_secret_server.py; each test first proves
the scan finds what is still stored, so a change of the at-rest format fails loudly."""
import ctypes
import ctypes.util
import time

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert _sodium.sodium_init() >= 0
_ZERO_NONCE = bytes(24)
PROBE = 16          # bytes of ciphertext that must match


def _keystream(key, n):
    out = ctypes.create_string_buffer(n)
    rc = _sodium.crypto_stream_xchacha20(out, ctypes.c_ulonglong(n), _ZERO_NONCE, key)
    assert rc == 0
    return out.raw


def readable(files, needle):
    """Names of the files (path, data pairs) from which `needle` (bytes, at least PROBE long)
    can be read: plainly, or encrypted under a key found on disk."""
    found = [str(p) for p, data in files if needle in data]
    if found:
        return found
    assert len(needle) >= PROBE
    windows = {}
    keys = set()
    for p, data in files:
        for i in range(len(data) - PROBE + 1):
            windows.setdefault(data[i:i + PROBE], str(p))
        for i in range(len(data) - 31):
            keys.add(data[i:i + 32])
    keys.discard(bytes(32))
    head = int.from_bytes(needle[:PROBE], "big")
    for k in keys:
        c = (int.from_bytes(_keystream(k, PROBE), "big") ^ head).to_bytes(PROBE, "big")
        if c in windows:
            return [windows[c] + " (encrypted, key on disk)"]
    return []


def wait_for(cond, timeout, what):
    """Polls cond() every 0.1 s until it is truthy (and returns it) or `timeout` seconds pass:
    what reaches the files does so asynchronously (commits, checkpoints, scrubs)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
