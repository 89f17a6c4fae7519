"""wire.py: a raw Parley protocol client for the integration tests.

It speaks proto/parley.proto over a real TLS WebSocket (python3-websocket) so tests can send
exactly the bytes they want, including malformed ones, and see exactly what parleyd answers.
The Python protobuf module is generated from proto/parley.proto with protoc at import time into
tests/integration/gen/ (gitignored), so the tests always follow the current schema.
"""
import os
import secrets
import socket
import ssl
import subprocess
import sys
import select
import tempfile
import time
from pathlib import Path

import websocket

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GEN = HERE / "gen"


def _load_pb():
    proto = ROOT / "proto" / "parley.proto"
    out = GEN / "parley_pb2.py"
    if not out.exists() or out.stat().st_mtime < proto.stat().st_mtime:
        GEN.mkdir(exist_ok=True)
        # Generate into a temp dir and rename, so a concurrent run never imports half a file.
        with tempfile.TemporaryDirectory(dir=GEN) as tmp:
            subprocess.run(["protoc", f"-I{proto.parent}", f"--python_out={tmp}", str(proto)],
                           check=True)
            os.replace(Path(tmp) / "parley_pb2.py", out)
    if str(GEN) not in sys.path:
        sys.path.insert(0, str(GEN))
    import parley_pb2  # noqa: E402
    return parley_pb2


pb = _load_pb()

DEFAULT_TIMEOUT = float(os.environ.get("PARLEY_TEST_TIMEOUT", "20"))


def code_name(code):
    return pb.ErrorCode.Name(code)


class ServerError(Exception):
    """A Response carrying an Error."""

    def __init__(self, kind, err):
        self.kind = kind
        self.code = code_name(err.code)
        self.message = err.message
        self.retry_after = err.retry_after
        super().__init__(f"{kind}: {self.code} ({err.message!r}, retry_after={err.retry_after})")


class Closed(Exception):
    """The server closed the connection; goodbye is the Goodbye frame seen before, if any,
    close_code the status of the WebSocket close frame (None: the TCP connection ended
    without one)."""

    def __init__(self, goodbye, close_code=None):
        self.goodbye = goodbye
        self.close_code = close_code
        super().__init__("connection closed" +
                         (f" after Goodbye {code_name(goodbye.code)} {goodbye.reason!r}"
                          if goodbye is not None else " without Goodbye") +
                         (f", close frame {close_code}" if close_code is not None
                          else ", no close frame"))


def uname(prefix="u"):
    """A fresh valid username: starts with a letter, lower case, at most 32 chars."""
    return (prefix[:20] + "_" + secrets.token_hex(4)).lower()


def build_frame(kind, req_id, **fields):
    f = pb.ClientFrame()
    f.id = req_id
    if kind is not None:
        sub = getattr(f, kind)
        sub.SetInParent()
        for k, v in fields.items():
            if isinstance(v, (list, tuple)):
                getattr(sub, k).extend(v)
            else:
                setattr(sub, k, v)
    return f


class Conn:
    """One WebSocket connection to parleyd. Updates pushed by the server are collected in
    self.updates (in arrival order); responses are matched to requests by id."""

    def __init__(self, server, hello=True, timeout=DEFAULT_TIMEOUT, path="/ws",
                 subprotocol="parley.v1", header=None, origin=None, suppress_origin=False,
                 host="127.0.0.1", sock=None):
        self.server = server
        self.timeout = timeout
        kw = {}
        if subprotocol:
            kw["subprotocols"] = [subprotocol]
        # websocket-client sends Origin: https://HOST:PORT unless told otherwise.
        if header:
            kw["header"] = list(header)
        if origin:
            kw["origin"] = origin
        if suppress_origin:
            kw["suppress_origin"] = True
        if sock is not None:   # an already connected TLS socket (another source address,
            kw["socket"] = sock  # a PROXY header sent first, a small receive buffer, ...)
        self.ws = websocket.create_connection(
            f"wss://{'[' + host + ']' if ':' in host else host}:{server.port}{path}",
            sslopt={"ca_certs": str(server.ca), "check_hostname": False},
            timeout=timeout, **kw)
        self.next_id = 1
        self.updates = []
        self.secrets = []        # SecretEnvelope frames pushed to this connection, in order
        self.call_events = []   # ServerFrame.call events, in arrival order
        self.gc_events = []     # ServerFrame.group_call events, in arrival order
        self.responses = {}
        self.goodbye = None
        self.closed = False
        self.close_code = None   # status of the server's close frame, once it came
        self.user = None
        self.token = None
        self.session_id = None
        self.pts = 0
        self.largest_frame = 0   # bytes of the largest ServerFrame received
        if hello:
            r = self.call("hello", protocol_version=1, client="pytest-wire")
            assert r.protocol_version == 1

    # ---- low level -------------------------------------------------------------------
    def send_raw(self, data):
        self.ws.send_binary(bytes(data))

    def send_raw_chunked(self, data, chunk=4096):
        """Sends one binary frame a piece at a time, reading between pieces, for frames the
        server may refuse (Goodbye + close) before it has read them whole. One thread only:
        an SSL connection must not be read and written concurrently. Returns False if the
        server closed the connection before the frame was sent whole."""
        frame = websocket.ABNF.create_frame(bytes(data), websocket.ABNF.OPCODE_BINARY)
        raw = frame.format()
        sock = self.ws.sock
        off = 0
        while off < len(raw):
            try:
                sock.settimeout(self.timeout)
                off += sock.send(raw[off:off + chunk])
            except (OSError, ssl.SSLError):
                return False
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or sock.pending():
                try:
                    self.pump(0.05)
                except Closed:
                    return False
        return True

    def send_text(self, text):
        self.ws.send(text)

    def send_frame(self, f):
        self.ws.send_binary(f.SerializeToString())

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def pump(self, timeout):
        """Reads at most one frame. Returns the ServerFrame, None on timeout; raises Closed."""
        if self.closed:
            raise Closed(self.goodbye, self.close_code)
        self.ws.settimeout(max(timeout, 0.001))
        try:
            opcode, data = self.ws.recv_data()   # answers a close frame with one
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, ssl.SSLError,
                OSError):
            self.closed = True
            raise Closed(self.goodbye, self.close_code)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            # 1005: a close frame without a status (RFC 6455 7.4.1)
            self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            raise Closed(self.goodbye, self.close_code)
        assert opcode == websocket.ABNF.OPCODE_BINARY, f"server sent opcode {opcode}"
        self.largest_frame = max(self.largest_frame, len(data))
        sf = pb.ServerFrame()
        sf.ParseFromString(data)
        which = sf.WhichOneof("frame")
        if which == "response":
            assert sf.response.id not in self.responses, f"two responses for id {sf.response.id}"
            self.responses[sf.response.id] = sf.response
        elif which == "update":
            self.updates.append(sf.update)
        elif which == "goodbye":
            self.goodbye = sf.goodbye
        elif which == "secret":
            self.secrets.append(sf.secret)
        elif which == "call":
            self.call_events.append(sf.call)
        elif which == "group_call":
            self.gc_events.append(sf.group_call)
        else:
            raise AssertionError(f"empty ServerFrame {data!r}")
        return sf

    def wait_response(self, req_id, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while req_id not in self.responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response to request {req_id}")
            self.pump(left)
        return self.responses.pop(req_id)

    def wait_closed(self, timeout=5.0):
        """Reads until the server closes. Returns the Goodbye (or None). Fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("server did not close the connection")
            try:
                self.pump(left)
            except Closed:
                return self.goodbye

    # ---- requests --------------------------------------------------------------------
    def request(self, kind, _timeout=None, **fields):
        """Sends one request and returns its Response (error or result)."""
        rid = self.new_id()
        self.send_frame(build_frame(kind, rid, **fields))
        r = self.wait_response(rid, _timeout)
        assert r.id == rid
        return r

    def call(self, kind, _timeout=None, **fields):
        """Sends one request and returns the result message; raises ServerError."""
        r = self.request(kind, _timeout, **fields)
        if r.HasField("error") and r.error.code != 0:
            assert r.WhichOneof("result") is None, "Response has both error and result"
            raise ServerError(kind, r.error)
        which = r.WhichOneof("result")
        assert which is not None, f"{kind}: Response has neither error nor result"
        return getattr(r, which)

    def error(self, kind, **fields):
        """Sends a request that must fail; returns the error code name."""
        r = self.request(kind, **fields)
        assert r.HasField("error") and r.error.code != 0, \
            f"{kind} {fields!r} unexpectedly succeeded: {r}"
        assert r.WhichOneof("result") is None
        assert r.error.message, "error without a human readable message"
        return code_name(r.error.code)

    def ping(self, timeout=None):
        n = secrets.randbits(63)
        r = self.call("ping", _timeout=timeout, nonce=n)
        assert r.nonce == n
        return True

    # ---- auth helpers ----------------------------------------------------------------
    def _auth(self, r):
        self.user = r.user
        self.session_id = r.session_id
        if r.token:
            self.token = r.token
        self.pts = r.pts
        return r

    def register(self, username, password, device="pytest"):
        r = self._auth(self.call("register", username=username, password=password,
                                 device=device))
        assert len(r.token) == 32
        return r

    def login(self, username, password, device="pytest"):
        r = self._auth(self.call("login", username=username, password=password, device=device))
        assert len(r.token) == 32
        return r

    def resume(self, token):
        r = self.call("resume", token=token)
        self.token = token
        return self._auth(r)

    # ---- convenience -----------------------------------------------------------------
    def send(self, chat_id, text, **kw):
        kw.setdefault("random_id", secrets.randbits(63) | 1)
        return self.call("send_message", chat_id=chat_id, text=text, **kw)

    def send_many(self, chat_id, texts, window=64, timeout=120, **kw):
        """Pipelines one SendMessage per text (at most `window` unanswered); FLOOD_WAIT
        answers are retried with the same random_id after retry_after. Returns the SendResults
        in the order of `texts`."""
        results = [None] * len(texts)
        rids = [secrets.randbits(63) | 1 for _ in texts]
        pending = {}          # request id -> index
        todo = list(range(len(texts)))
        todo.reverse()
        retry_at = 0.0
        deadline = time.monotonic() + timeout
        while todo or pending:
            assert time.monotonic() < deadline, "send_many timed out"
            while todo and len(pending) < window and time.monotonic() >= retry_at:
                i = todo.pop()
                rid = self.new_id()
                self.send_frame(build_frame("send_message", rid, chat_id=chat_id,
                                            text=texts[i], random_id=rids[i], **kw))
                pending[rid] = i
            done = [r for r in pending if r in self.responses]
            if not done:
                self.pump(0.2 if pending else max(0.0, retry_at - time.monotonic()))
                continue
            for rid in done:
                i = pending.pop(rid)
                r = self.responses.pop(rid)
                if r.HasField("error"):
                    if code_name(r.error.code) != "FLOOD_WAIT":
                        raise ServerError("send_message", r.error)
                    retry_at = time.monotonic() + max(1, r.error.retry_after)
                    todo.append(i)
                else:
                    results[i] = r.sent
        return results

    def open_chat(self, username):
        """The Chat; the server answers OpenPrivateChat with ChatResult{chat, pts}."""
        r = self.call("open_private_chat", username=username)
        return r.chat if hasattr(r, "pts") else r

    def history(self, chat_id, limit=200, before_id=0):
        return list(self.call("get_history", chat_id=chat_id, limit=limit,
                              before_id=before_id).messages)

    def full_history(self, chat_id, limit=200):
        """Every message visible to this account, oldest first (pages of `limit`). A page may
        be shorter than `limit` (the server's size budget): only `more` ends the paging."""
        out = []
        before = 0
        while True:
            page = self.call("get_history", chat_id=chat_id, limit=limit, before_id=before)
            assert len(page.messages) <= limit
            out[:0] = page.messages
            if not page.more:
                break
            assert page.messages, "an empty page must not say more"
            before = page.messages[0].id
        return out

    def difference(self, since, limit=0):
        """All updates since `since`, following `more`. Returns (updates, final pts, pages)."""
        ups = []
        pages = 0
        pts = since
        while True:
            d = self.call("get_difference", since_pts=pts, limit=limit)
            pages += 1
            assert d.pts >= pts, f"difference went backwards: {d.pts} < {pts}"
            ups.extend(d.updates)
            pts = d.pts
            if not d.more:
                return ups, pts, pages
            assert pages < 10000

    def wait_update(self, kind, pred=None, timeout=5.0):
        """Waits for a pushed update whose oneof is `kind` (and pred(update.<kind>) holds);
        removes it from self.updates and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, u in enumerate(self.updates):
                if u.WhichOneof("kind") == kind and (pred is None or pred(getattr(u, kind))):
                    del self.updates[i]
                    return u
            left = deadline - time.monotonic()
            if left <= 0:
                got = [u.WhichOneof("kind") for u in self.updates]
                raise TimeoutError(f"no {kind} update within {timeout}s (have {got})")
            self.pump(min(left, 0.5))

    def drain(self, wait=0.3):
        """Pings (so everything the server sent before is read), then reads for `wait` s."""
        self.ping()
        end = time.monotonic() + wait
        while time.monotonic() < end:
            self.pump(end - time.monotonic())

    # ---- calls -----------------------------------------------------------------------
    def signal(self, call_id, kind, **fields):
        """Sends CallSignal{call_id, <kind>{fields}}; returns the Response."""
        rid = self.new_id()
        f = pb.ClientFrame()
        f.id = rid
        f.call_signal.call_id = call_id
        sub = getattr(f.call_signal, kind)
        sub.SetInParent()
        for k, v in fields.items():
            setattr(sub, k, v)
        self.send_frame(f)
        return self.wait_response(rid)

    def signal_ok(self, call_id, kind, **fields):
        r = self.signal(call_id, kind, **fields)
        assert not (r.HasField("error") and r.error.code), f"{kind}: {r.error}"
        return r

    def signal_err(self, call_id, kind, **fields):
        """A signal that must fail: returns the error code name."""
        r = self.signal(call_id, kind, **fields)
        assert r.HasField("error") and r.error.code, f"{kind} unexpectedly succeeded: {r}"
        assert r.error.message
        return code_name(r.error.code)

    def start_call(self, chat_id, video=True):
        r = self.signal_ok(0, "start", chat_id=chat_id, video=video)
        assert r.WhichOneof("result") == "call_started" and r.call_started.call_id
        return r.call_started.call_id

    def wait_call(self, kind, call_id=None, timeout=5.0):
        """Waits for a CallEvent whose signal is `kind` (for call_id, if given); removes
        and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.call_events):
                if e.signal.WhichOneof("kind") == kind and call_id in (None, e.call_id):
                    del self.call_events[i]
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                got = [e.signal.WhichOneof("kind") for e in self.call_events]
                raise TimeoutError(f"no call event {kind} within {timeout}s (have {got})")
            self.pump(min(left, 0.5))

    def wait_gc(self, kind, pred=None, timeout=5.0):
        """Waits for a GroupCallEvent of `kind` (and pred(event) holds); removes and returns
        it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.gc_events):
                if e.WhichOneof("kind") == kind and (pred is None or pred(e)):
                    del self.gc_events[i]
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                got = [e.WhichOneof("kind") for e in self.gc_events]
                raise TimeoutError(f"no group call event {kind} within {timeout}s (have {got})")
            self.pump(min(left, 0.5))

    def gc_kinds(self, wait=0.3):
        """Reads for `wait` s (after a ping) and returns the kinds of all group call events."""
        self.drain(wait)
        return [e.WhichOneof("kind") for e in self.gc_events]

    def call_kinds(self, wait=0.3):
        """Reads for `wait` s (after a ping) and returns the kinds of all call events seen."""
        self.drain(wait)
        return [e.signal.WhichOneof("kind") for e in self.call_events]

    def find_updates(self, kind, pred=None):
        return [getattr(u, kind) for u in self.updates
                if u.WhichOneof("kind") == kind and (pred is None or pred(getattr(u, kind)))]

    # ---- secret chats ------------------------------------------------------------------
    def publish_prekeys(self, identity_key, spk=None, otks=(), **kw):
        """PublishPrekeys. spk = (id, public_key, signature) or None; otks = [(id, key)]."""
        f = pb.PublishPrekeysRequest(identity_key=identity_key, **kw)
        if spk is not None:
            f.signed_prekey.id, f.signed_prekey.public_key, f.signed_prekey.signature = spk
        for i, k in otks:
            f.one_time_prekeys.add(id=i, public_key=k)
        return self.request_msg("publish_prekeys", f)

    def request_msg(self, kind, msg, _timeout=None):
        """Sends one request whose body is the ready-made message `msg`; returns the Response."""
        rid = self.new_id()
        fr = pb.ClientFrame(id=rid)
        getattr(fr, kind).CopyFrom(msg)
        self.send_frame(fr)
        return self.wait_response(rid, _timeout)

    def send_secret(self, to_user, to_device, envelope, secret_chat=None, random_id=None):
        """SendSecret; returns the Response (error or secret_sent)."""
        return self.request("send_secret", to_user=to_user, to_device=to_device,
                            secret_chat=secret_chat or (secrets.randbits(63) | 1),
                            envelope=envelope,
                            random_id=random_id or (secrets.randbits(63) | 1))

    def secret_inbox(self, after_id=0, limit=0):
        """Every pending envelope of this device after after_id, following `more`."""
        out = []
        while True:
            r = self.call("get_secret_inbox", after_id=after_id, limit=limit)
            out.extend(r.envelopes)
            if not r.more:
                return out
            assert r.envelopes, "more without envelopes"
            after_id = r.envelopes[-1].id

    def wait_secret(self, pred=None, timeout=5.0):
        """Waits for a pushed SecretEnvelope (matching pred); removes and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.secrets):
                if pred is None or pred(e):
                    del self.secrets[i]
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no secret envelope within {timeout}s")
            self.pump(min(left, 0.5))

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
        self.closed = True


def register(server, prefix="u", password=None, device="pytest", username=None):
    """Registers a fresh account; returns a connected, authenticated Conn with .username
    and .password set."""
    c = Conn(server)
    username = username or uname(prefix)
    password = password or ("pw-" + secrets.token_hex(8))
    c.register(username, password, device)
    c.username = username
    c.password = password
    server.secrets.add(password)
    return c


def login(server, username, password, device="pytest"):
    c = Conn(server)
    c.login(username, password, device)
    c.username = username
    c.password = password
    return c


def resume(server, token):
    c = Conn(server)
    c.resume(token)
    return c


def replace_same_len(frame_bytes, placeholder, replacement):
    """Swaps a placeholder string inside serialized protobuf for raw bytes of the same length
    (protobuf refuses to build invalid UTF-8 itself)."""
    p = placeholder.encode()
    assert len(p) == len(replacement)
    assert frame_bytes.count(p) == 1
    return frame_bytes.replace(p, replacement)


def tls_socket(server, timeout=5.0):
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return ctx.wrap_socket(raw)
