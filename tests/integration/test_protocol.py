"""The protocol as docs/PROTOCOL.md states it, checked against the real server: how the
server ends a connection (Goodbye, then a WebSocket close frame with a status code)."""
import time

import pytest
import websocket

import wire
from wire import Closed, Conn, build_frame, code_name


# ---- closing: Goodbye, then a close frame ---------------------------------------------------

def closed_by_server(c, timeout=10.0):
    """Reads until the server ends the connection; returns (Goodbye code name, close status).
    The close status is None when the TCP connection ended without a close frame."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close the connection"
        try:
            c.pump(left)
        except Closed as e:
            gb = code_name(e.goodbye.code) if e.goodbye is not None else None
            return gb, e.close_code


def raw_close_frame(c, timeout=10.0):
    """Reads raw frames (answering nothing) until a close frame; returns its status, or None
    if the connection ended without one."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no close frame and no end of the connection"
        c.ws.settimeout(left)
        try:
            fr = c.ws.recv_frame()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return None
        if fr.opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(fr.data[:2], "big")


def wait_tcp_end(c, timeout):
    """Reads until the server ends the TCP connection; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        left = t0 + timeout - time.monotonic()
        assert left > 0, f"the server kept the connection open over {timeout} s"
        c.ws.sock.settimeout(left)
        try:
            if not c.ws.sock.recv(4096):
                return time.monotonic() - t0
        except (ConnectionError, OSError):
            return time.monotonic() - t0


def test_text_frame_closes_with_1003(server):
    c = Conn(server)
    c.send_text("text is not the protocol")
    assert closed_by_server(c) == ("BAD_REQUEST", 1003)   # unacceptable data type


def test_oversized_frame_closes_with_1009(server):
    c = Conn(server)
    c.send_raw(b"\x00" * (64 * 1024 + 1))
    assert closed_by_server(c) == ("TOO_LARGE", 1009)     # message too big


def test_malformed_frame_closes_with_1007(server):
    c = Conn(server)
    c.send_raw(b"\xff\xff\xff\xff")
    assert closed_by_server(c) == ("BAD_REQUEST", 1007)   # invalid payload data


@pytest.mark.parametrize("first,goodbye", [
    (("get_chats", {}), "BAD_REQUEST"),
    (("hello", {"protocol_version": 99}), "UNSUPPORTED_VERSION"),
], ids=["not_hello", "wrong_version"])
def test_refused_hello_closes_with_1008(server, first, goodbye):
    c = Conn(server, hello=False)
    kind, fields = first
    c.send_frame(build_frame(kind, 1, **fields))
    assert closed_by_server(c) == (goodbye, 1008)          # policy violation


def test_terminated_session_closes_with_1000(server):
    a = wire.register(server, "term")
    other = wire.login(server, a.username, a.password, device="other")
    a.call("terminate_session", session_id=other.session_id)
    assert closed_by_server(other) == ("SESSION_TERMINATED", 1000)


def test_logout_closes_the_sessions_other_connections_with_1000(server):
    a = wire.register(server, "lgo")
    twin = wire.resume(server, a.token)
    a.call("logout")
    assert closed_by_server(twin) == ("SESSION_TERMINATED", 1000)
    a.ping()                     # the connection that logged out stays, unauthenticated
    assert a.error("get_chats") == "NOT_AUTHENTICATED"


def test_tcp_ends_right_after_the_clients_close_answer(server):
    """The server waits for the client's close frame (RFC 6455 7.1.1), then ends TCP at once,
    without waiting for its timeout."""
    c = Conn(server)
    c.send_text("x")
    assert raw_close_frame(c) == 1003
    c.ws.send_close()
    assert wait_tcp_end(c, 10) < 3


def test_tcp_ends_when_the_client_never_answers_the_close(server):
    c = Conn(server)
    c.send_text("x")
    assert raw_close_frame(c) == 1003
    assert wait_tcp_end(c, 15) < 10
    c2 = Conn(server)            # and the server serves on
    assert c2.ping()
