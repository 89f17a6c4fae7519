"""test_connections.py: abuse at the connection level (issue 16, items 1 and 10's server side).

Each test runs an attack against a real parleyd and checks that a well-behaved client on the
side is still served (within a generous deadline), printing that client's latency without
and during the attack:

- silent sockets (raw TCP, TLS without a request, WebSockets that never log in, and one
  that logs out) are closed after auth_timeout_seconds, WebSockets with
  Goodbye{NOT_AUTHENTICATED};
- max_connections_per_source refuses the excess of one address at once while another
  address still gets in, and a slot is free again once a connection closes;
- an IPv6 /64 named in PROXY v2 headers counts as one source;
- through a real HAProxy (Debian's, send-proxy-v2) parleyd counts the client's address, not
  the proxy's; a PROXY header sent directly by an untrusted peer is refused, and a trusted
  proxy's connection without one is closed;
- a logged-in client that stops reading is dropped with Goodbye{BUSY "too slow"} once its
  queued output passes the bound, and catches up with everything after a reconnect.

Sources other than 127.0.0.1 are other loopback addresses (127.0.0.2, ...): the client socket
is bound to them before connecting. The trusted proxy (HAProxy, or the test playing it) is
127.0.0.9, so that the test harness's own direct requests (health checks from 127.0.0.1) are
not a trusted proxy's. All traffic stays on loopback.
"""
import secrets
import select
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest

import wire

PASSWORD = "correct horse battery"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_IP = "127.0.0.9"


# ---- helpers ---------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_context(srv):
    ctx = ssl.create_default_context(cafile=str(srv.ca))
    ctx.check_hostname = False
    return ctx


def tcp(port, src="127.0.0.1", rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.settimeout(wire.DEFAULT_TIMEOUT)
    s.connect(("127.0.0.1", port))
    return s


def proxy_header(src_ip, dst_ip="2001:db8::1", sport=40000, dport=8443):
    """A PROXY protocol v2 header (PROXY command, TCP) naming src_ip as the client."""
    if ":" in src_ip:
        fam, body = 0x21, (socket.inet_pton(socket.AF_INET6, src_ip) +
                           socket.inet_pton(socket.AF_INET6, dst_ip))
    else:
        fam, body = 0x11, socket.inet_aton(src_ip) + socket.inet_aton("192.0.2.1")
    body += struct.pack("!HH", sport, dport)
    return SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def tls(srv, src="127.0.0.1", port=None, header=None, rcvbuf=None):
    """A TLS connection to parleyd (or to `port`, e.g. HAProxy's), from `src`, after sending
    `header` in clear. Raises OSError / ssl.SSLError when the server closes instead."""
    s = tcp(port or srv.port, src, rcvbuf)
    if header:
        s.sendall(header)
    try:
        return tls_context(srv).wrap_socket(s, server_hostname="127.0.0.1")
    except Exception:
        s.close()
        raise


def refused(fn):
    """Whether fn() (opening a TLS connection) fails because the server closed it."""
    try:
        s = fn()
    except (OSError, ssl.SSLError):
        return True
    s.close()
    return False


def wait_closed(sock, timeout):
    """Reads (and drops) until the server ends the connection; the seconds it took."""
    t0 = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - t0)
        assert left > 0, "the server did not close the connection"
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if not pending:
            r, _, _ = select.select([sock], [], [], min(left, 1.0))
            if not r:
                continue
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except ssl.SSLWantReadError:
            continue
        except (OSError, ssl.SSLError):
            return time.monotonic() - t0


def wait_log(srv, text, timeout=30):
    deadline = time.monotonic() + timeout
    while text not in srv.log_text():
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{srv.log_text()[-3000:]}"
        time.sleep(0.05)


class Probe:
    """The well-behaved client: connects (from `src`, optionally through HAProxy), Hello,
    Resume, Ping. Its latency is measured once before the attack and once during it."""

    def __init__(self, srv, capsys, name, src="127.0.0.1", port=None):
        self.srv, self.capsys, self.name, self.src, self.port = srv, capsys, name, src, port
        c = self.conn()
        c.register(wire.uname("probe"), PASSWORD)
        self.token = c.token
        c.ws.close()
        self.base = self.once()

    def conn(self):
        return wire.Conn(self.srv, sock=tls(self.srv, self.src, self.port))

    def once(self):
        t0 = time.monotonic()
        c = self.conn()
        c.resume(self.token)
        c.ping()
        c.ws.close()
        return time.monotonic() - t0

    def during(self):
        t = self.once()
        with self.capsys.disabled():
            print(f"\n[abuse] {self.name}: well-behaved client {self.base * 1000:.1f} ms "
                  f"without the attack, {t * 1000:.1f} ms during it")
        return t


def new_srv(new_server, *lines):
    return new_server(config_lines=list(lines))


# ---- silent sockets --------------------------------------------------------------------------

def test_silent_connections_closed_after_auth_timeout(new_server, capsys):
    srv = new_srv(new_server, "auth_timeout_seconds = 2")
    probe = Probe(srv, capsys, "silent sockets")
    t_open = time.monotonic()
    raw = [tcp(srv.port, "127.0.0.2") for _ in range(30)]              # not even TLS
    quiet_tls = [tls(srv, "127.0.0.3") for _ in range(10)]             # TLS, no request
    hello_only = [wire.Conn(srv, sock=tls(srv, "127.0.0.4")) for _ in range(5)]
    logged_out = wire.Conn(srv, sock=tls(srv, "127.0.0.4"))
    logged_out.register(wire.uname("lo"), PASSWORD)
    logged_out.call("logout")
    t_logout = time.monotonic()

    probe.during()

    for s in raw + quiet_tls:
        took = wait_closed(s, 60)
        # never before the deadline (measured from our connect: the server's clock started
        # a little later, so this bound is safe on a loaded machine)
        assert time.monotonic() - t_open >= 1.5, took
        s.close()
    for c in hello_only + [logged_out]:
        g = c.wait_closed(60)
        assert g is not None and wire.code_name(g.code) == "NOT_AUTHENTICATED", g
        assert g.reason == "authentication timeout"
    assert time.monotonic() - t_logout >= 1.5
    wait_log(srv, "not logged in within 2 s")
    # the well-behaved client was served throughout, and still is
    probe.during()


# ---- per-source cap --------------------------------------------------------------------------

def test_per_source_cap(new_server, capsys):
    srv = new_srv(new_server, "max_connections_per_source = 5", "auth_timeout_seconds = 60")
    probe = Probe(srv, capsys, "per-source cap")
    held = [tls(srv, "127.0.0.2") for _ in range(5)]
    # the sixth from the same address is closed at once, before TLS
    assert refused(lambda: tls(srv, "127.0.0.2"))
    wait_log(srv, "refusing a connection from 127.0.0.2: 5 open (max_connections_per_source)")
    # another address still gets in, and the well-behaved client is served
    other = tls(srv, "127.0.0.3")
    probe.during()
    # a slot comes free when one of the five closes (the server learns it asynchronously)
    held.pop().close()
    deadline = time.monotonic() + 30
    while True:
        try:
            held.append(tls(srv, "127.0.0.2"))
            break
        except (OSError, ssl.SSLError):
            assert time.monotonic() < deadline, "the slot never came free"
            time.sleep(0.05)
    for s in held + [other]:
        s.close()


def test_ipv6_64_is_one_source_behind_a_proxy(new_server, capsys):
    """The test plays the trusted proxy (127.0.0.9): each connection starts with a PROXY v2
    header naming an IPv6 client. Four hosts of one /64 share its cap of 3; another /64 gets
    in; the well-behaved client comes from another IPv4 address, through a header too."""
    srv = new_srv(new_server, f"trusted_proxies = {PROXY_IP}", "max_connections_per_source = 3")

    def via(client):
        return tls(srv, PROXY_IP, header=proxy_header(client))

    class ProxiedProbe(Probe):
        def conn(self):
            return wire.Conn(self.srv, sock=via("198.51.100.20"))

    probe = ProxiedProbe(srv, capsys, "IPv6 /64")
    held = [via(f"2001:db8:1:2::{i:x}") for i in (1, 2, 0xffff)]
    assert refused(lambda: via("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
    wait_log(srv, "refusing a connection from 2001:db8:1:2::/64: 3 open")
    held.append(via("2001:db8:1:3::1"))   # the next /64
    # a WebSocket through a header works end to end
    c = wire.Conn(srv, sock=via("2001:db8:1:3::2"))
    c.register(wire.uname("v6"), PASSWORD)
    c.ping()
    probe.during()
    for s in held:
        s.close()
    c.ws.close()


# ---- a real HAProxy in front -----------------------------------------------------------------

@pytest.fixture
def haproxy(tmp_path):
    """haproxy(backend_port) -> the port of a HAProxy (TCP mode, send-proxy-v2) in front of
    parleyd on 127.0.0.1; stopped at the end."""
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    procs = []

    def start(srv):
        backend_port = srv.port
        port = free_port()
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(f"""global
    maxconn 500
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend parley
    bind 127.0.0.1:{port}
    default_backend parleyd
backend parleyd
    server parleyd 127.0.0.1:{backend_port} send-proxy-v2 source {PROXY_IP}
""")
        log = open(tmp_path / "haproxy.log", "wb")
        p = subprocess.Popen([exe, "-f", str(cfg), "-db"], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        procs.append((p, log))
        # Ready once a TLS handshake through it reaches parleyd (from an address of its own,
        # so that no per-source count of the test is touched).
        deadline = time.monotonic() + 30
        while True:
            assert p.poll() is None, (tmp_path / "haproxy.log").read_text()
            try:
                tls(srv, "127.0.0.8", port=port).close()
                return port
            except (OSError, ssl.SSLError):
                assert time.monotonic() < deadline, "haproxy did not start"
                time.sleep(0.05)

    yield start
    for p, log in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()



def test_haproxy_send_proxy_v2(new_server, haproxy, capsys):
    srv = new_srv(new_server, f"trusted_proxies = {PROXY_IP}", "max_connections_per_source = 3")
    hport = haproxy(srv)
    # the well-behaved client, through HAProxy from 127.0.0.5: a whole WebSocket session
    probe = Probe(srv, capsys, "HAProxy", src="127.0.0.5", port=hport)

    # parleyd counts the client's address (127.0.0.2), not HAProxy's (127.0.0.9)
    held = [tls(srv, "127.0.0.2", port=hport) for _ in range(3)]
    assert refused(lambda: tls(srv, "127.0.0.2", port=hport))
    wait_log(srv, "refusing a connection from 127.0.0.2: 3 open")
    held.append(tls(srv, "127.0.0.3", port=hport))
    probe.during()

    # a direct client cannot claim another address with a PROXY header of its own
    assert refused(lambda: tls(srv, "127.0.0.6", header=proxy_header("198.51.100.7")))
    wait_log(srv, "refusing a PROXY header from 127.0.0.6: not in trusted_proxies")
    # nor can anything reach parleyd from the proxy's address without a header
    assert refused(lambda: tls(srv, PROXY_IP))
    wait_log(srv, f"closing a connection from trusted proxy {PROXY_IP}: no PROXY v2 header")
    # ... or with a malformed one (version 1 in the binary form)
    bad = bytearray(proxy_header("198.51.100.8"))
    bad[12] = 0x11
    assert refused(lambda: tls(srv, PROXY_IP, header=bytes(bad)))
    wait_log(srv, f"closing a connection from trusted proxy {PROXY_IP}: malformed PROXY v2")
    assert "198.51.100.7" not in srv.log_text() and "198.51.100.8" not in srv.log_text()
    probe.during()
    for s in held:
        s.close()


# ---- a client that stops reading -------------------------------------------------------------

def test_slow_reader_dropped_and_recovers(new_server, capsys):
    srv = new_srv(new_server, "flood_rate = 100000", "flood_burst = 100000")
    probe = Probe(srv, capsys, "slow reader")
    # alice's socket has a small receive buffer, so the server's queue fills rather than the
    # kernels' buffers
    alice = wire.Conn(srv, sock=tls(srv, rcvbuf=8192))
    alice_name, bob_name = wire.uname("slow"), wire.uname("bob")
    alice.register(alice_name, PASSWORD)
    bob = wire.Conn(srv)
    bob.register(bob_name, PASSWORD)
    chat = bob.open_chat(alice_name)
    alice.wait_update("chat")
    alice.drain()
    local = max([alice.pts] + [u.pts for u in alice.updates])
    alice.updates.clear()

    # alice stops reading; bob sends 16 KiB messages until the server gives up on her
    text = "\U0001F600" * 4096           # 4096 characters, 16 KiB of UTF-8
    sent = []
    while "outbound queue full, disconnecting" not in srv.log_text():
        assert len(sent) < 4000, "alice was never disconnected"
        sent += bob.send_many(chat.id, [text] * 32)
    acked = {r.message.id for r in sent}
    probe.during()

    # she reads what reached her, then the Goodbye
    g = alice.wait_closed(60)
    assert g is not None and wire.code_name(g.code) == "BUSY" and g.reason == "too slow", g
    applied = set()
    for u in alice.updates:
        if u.pts != local + 1:
            break                          # a gap: the rest comes with the difference
        local = u.pts
        if u.WhichOneof("kind") == "new_message":
            applied.add(u.new_message.id)

    # after a reconnect the difference brings everything that was acknowledged to bob
    again = wire.Conn(srv)
    again.resume(alice.token)
    ups, _, _ = again.difference(local)
    caught = {u.new_message.id for u in ups if u.WhichOneof("kind") == "new_message"}
    assert acked <= applied | caught, f"lost {len(acked - applied - caught)} messages"
    assert len(acked - applied) > 0, "the drop lost nothing only because nothing was missing"
    again.ws.close()
    bob.ws.close()
