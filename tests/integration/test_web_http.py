"""test_web_http.py: parleyd's browser side over real TLS: the web client's files and their
security headers, path traversal, the cookie login API (POST /api/register|login|logout) and
its bad input, and the WebSocket's cookie authentication with its Origin check."""
import gzip
import http.client
import re
import secrets
import ssl

import pytest
import websocket

import wire
from wire import pb

PW = "web password 1"


def raw(server, method, path, body=None, headers=None, origin=True):
    """One HTTPS request with the path sent exactly as given. -> (status, headers, body)."""
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    h = dict(headers or {})
    if origin is True:
        h.setdefault("Origin", f"https://127.0.0.1:{server.port}")
    elif origin:
        h["Origin"] = origin
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        if body:
            c.send(body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def api(server, kind, username, password, device="pytest-web", **kw):
    msg = (pb.RegisterRequest if kind == "register" else pb.LoginRequest)(
        username=username, password=password, device=device)
    server.secrets.add(password)
    return raw(server, "POST", f"/api/{kind}", msg.SerializeToString(), **kw)


def response(body):
    r = pb.Response()
    r.ParseFromString(body)
    return r


def cookie_of(headers):
    m = re.match(r"parley_session=([0-9a-f]{64}); (.*)", headers.get("set-cookie", ""))
    assert m, f"no session cookie in {headers.get('set-cookie')!r}"
    return m.group(1), m.group(2)


def web_conn(server, token_hex, **kw):
    """A WebSocket as a browser on our page opens it: the cookie and our Origin."""
    if not kw.get("suppress_origin"):
        kw.setdefault("origin", f"https://127.0.0.1:{server.port}")
    return wire.Conn(server, header=[f"Cookie: parley_session={token_hex}"], **kw)


REFUSED = (websocket.WebSocketBadStatusException, websocket.WebSocketConnectionClosedException,
           ConnectionError)


# ---- static files ------------------------------------------------------------------------

def test_index_and_security_headers(server):
    status, h, body = raw(server, "GET", "/")
    assert status == 200, body
    assert h["content-type"].startswith("text/html")
    assert b'<script type="module" src="/app.js">' in body
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    # quoted keywords: 'wasm-unsafe-eval' (WebAssembly for RNNoise) allows no JavaScript eval
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert h["strict-transport-security"] == "max-age=63072000"   # HSTS, two years
    # No reference to another origin anywhere in the page.
    assert b"http://" not in body and b"https://" not in body


def test_mime_types_and_gzip(server):
    status, h, plain = raw(server, "GET", "/app.js")
    assert status == 200 and h["content-type"].startswith("text/javascript")
    assert "content-encoding" not in h
    status, h, packed = raw(server, "GET", "/app.js", headers={"Accept-Encoding": "gzip, br"})
    assert status == 200 and h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed) == plain
    status, h, _ = raw(server, "GET", "/app.css")
    assert status == 200 and h["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
    "/%252e%252e/etc/passwd", "/....//....//etc/passwd", "//etc/passwd", "/.git/config",
    "/src/../../README.md", "/README.md", "/web/dist/index.html", "/app.js%00.html",
    "/index.html/", "/.%2e/parley.db", "/%5c..%5cetc%5cpasswd", "/app.js.gz", "/nope.js",
    "/ws", "/api/", "/api/unknown",
])
def test_traversal_and_unknown_paths_are_404(server, path):
    try:
        status, h, body = raw(server, "GET", path)
    except http.client.RemoteDisconnected:
        # libwebsockets' parser drops a request with an encoded NUL outright: also a refusal.
        assert "%00" in path
        return
    assert status in (400, 403, 404), (path, status)
    assert b"root:" not in body and b"# Parley" not in body and b"SQLite" not in body
    if status == 404:
        assert h["x-content-type-options"] == "nosniff"
        assert h["strict-transport-security"] == "max-age=63072000"


def test_hsts_on_every_response(server):
    """Issue 16: Strict-Transport-Security on every HTTPS answer: files, 404s, errors of the
    API, and /healthz (written by another path)."""
    for method, path in [("GET", "/"), ("GET", "/app.js"), ("GET", "/nope"), ("GET", "/healthz"),
                         ("GET", "/api/login"), ("POST", "/")]:
        status, h, _ = raw(server, method, path, b"x" if method == "POST" else None)
        assert h.get("strict-transport-security") == "max-age=63072000", (method, path, status, h)


def test_wrong_methods(server):
    status, h, _ = raw(server, "POST", "/", b"x")
    assert status == 405 and h["allow"] == "GET"
    status, h, _ = raw(server, "GET", "/api/login")
    assert status == 405 and h["allow"] == "POST"


# ---- the login API -----------------------------------------------------------------------

def test_register_sets_httponly_cookie_and_no_token_in_body(server):
    name = wire.uname("webreg")
    status, h, body = api(server, "register", name, PW)
    assert status == 200, response(body)
    token, attrs = cookie_of(h)
    for a in ("Path=/", "HttpOnly", "Secure", "SameSite=Strict"):
        assert a in attrs.split("; "), attrs
    assert h["cache-control"] == "no-store"
    r = response(body)
    assert r.WhichOneof("result") == "auth"
    assert r.auth.user.username == name and r.auth.session_id > 0
    assert r.auth.token == b"", "the token must not reach page script"
    assert bytes.fromhex(token) not in body
    server.secrets.add(token)
    # The cookie authenticates a WebSocket: Resume without a token.
    c = web_conn(server, token)
    a = c.call("resume")
    assert a.user.username == name and a.session_id == r.auth.session_id
    c.close()


def test_login_and_wrong_password(server):
    name = wire.uname("weblog")
    assert api(server, "register", name, PW)[0] == 200
    status, h, body = api(server, "login", name, "wrong password!")
    assert status == 401 and "set-cookie" not in h
    assert wire.code_name(response(body).error.code) == "INVALID_CREDENTIALS"
    status, h, body = api(server, "login", name.upper(), PW)  # usernames are case-insensitive
    assert status == 200
    cookie_of(h)


@pytest.mark.parametrize("origin", [None, "https://evil.example", "http://127.0.0.1", "null"])
def test_api_needs_our_origin_and_changes_nothing(server, origin):
    name = wire.uname("weborg")
    status, h, body = api(server, "register", name, PW, origin=origin or False)
    assert status == 403 and "set-cookie" not in h
    assert wire.code_name(response(body).error.code) == "FORBIDDEN"
    # Nothing was created: the name is still free.
    c = wire.Conn(server)
    c.register(name, PW)
    c.close()


def test_api_bad_bodies(server):
    name = wire.uname("webbad")
    status, h, body = raw(server, "POST", "/api/register", b"x" * 5000)
    assert status == 413 and wire.code_name(response(body).error.code) == "TOO_LARGE"
    status, _, body = raw(server, "POST", "/api/register", b"\xff\xfe garbage")
    assert status == 400 and wire.code_name(response(body).error.code) == "BAD_REQUEST"
    status, _, body = raw(server, "POST", "/api/login", b"")
    assert status == 400
    bad_utf8 = pb.RegisterRequest(username="x", password=PW).SerializeToString().replace(
        b"\x0a\x01x", b"\x0a\x02\xc3\x28")
    status, _, body = raw(server, "POST", "/api/register", bad_utf8)
    assert status == 400 and wire.code_name(response(body).error.code) == "USERNAME_INVALID"
    status, _, body = api(server, "register", "Bad Name!", PW)
    assert status == 400 and wire.code_name(response(body).error.code) == "USERNAME_INVALID"
    status, _, body = api(server, "register", name, "short")
    assert status == 400 and wire.code_name(response(body).error.code) == "PASSWORD_INVALID"
    # None of it made the account.
    c = wire.Conn(server)
    c.register(name, PW)
    c.close()


def test_api_needs_a_content_length(server):
    """A chunked body (no Content-Length) is refused at once with 411, not left hanging."""
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    try:
        # Only the headers: the server answers (and closes) before any chunk, so sending
        # chunks here would race its close.
        c.putrequest("POST", "/api/login")
        c.putheader("Origin", f"https://127.0.0.1:{server.port}")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        r = c.getresponse()
        assert r.status == 411
        assert wire.code_name(response(r.read()).error.code) == "BAD_REQUEST"
    finally:
        c.close()
    status, _, _ = raw(server, "POST", "/api/login", None,
                       headers={"Content-Length": "12abc"})
    assert status == 411


def test_duplicate_register_is_409(server):
    name = wire.uname("webdup")
    assert api(server, "register", name, PW)[0] == 200
    status, h, body = api(server, "register", name, PW)
    assert status == 409 and "set-cookie" not in h


# ---- the WebSocket's cookie --------------------------------------------------------------

def test_websocket_cookie_rules(server):
    name = wire.uname("webws")
    status, h, _ = api(server, "register", name, PW)
    token, _ = cookie_of(h)
    server.secrets.add(token)
    # A wrong or malformed cookie authenticates nothing. An unknown token is answered like a
    # terminated session, as for the CLI's Resume; a cookie that is no token is no cookie.
    c = web_conn(server, secrets.token_hex(32))
    assert c.error("resume") == "SESSION_TERMINATED"
    c.close()
    for bad in ("zz" * 32, token[:-2], "", token + "00"):
        c = web_conn(server, bad)
        assert c.error("resume") == "BAD_REQUEST"
        c.close()
    # Without any cookie, Resume needs a token.
    c = wire.Conn(server)
    assert c.error("resume") == "BAD_REQUEST"
    c.close()
    # Cross-site WebSocket hijacking: the cookie with a foreign Origin, or without one.
    for origin in ("https://evil.example", f"http://127.0.0.1:{server.port}", "null"):
        with pytest.raises(REFUSED):
            web_conn(server, token, origin=origin)
    with pytest.raises(REFUSED):
        web_conn(server, token, suppress_origin=True)
    # Without a cookie there is no ambient credential to steal: any Origin may connect and
    # must log in itself (the CLI sends no Origin; python's websocket-client an http one).
    for kw in ({"suppress_origin": True}, {"origin": "https://evil.example"}):
        c = wire.Conn(server, **kw)
        assert c.error("resume") == "BAD_REQUEST"
        c.close()


def test_logout_ends_the_session_on_the_server(server):
    name = wire.uname("webout")
    status, h, _ = api(server, "register", name, PW)
    token, _ = cookie_of(h)
    server.secrets.add(token)
    live = web_conn(server, token)
    live.call("resume")
    status, h, body = raw(server, "POST", "/api/logout", b"",
                          headers={"Cookie": f"parley_session={token}"})
    assert status == 200
    assert re.match(r"parley_session=; .*Max-Age=0", h["set-cookie"]), h["set-cookie"]
    # The browser's open connection is told and closed.
    g = live.wait_closed(5)
    assert g is not None and wire.code_name(g.code) == "SESSION_TERMINATED"
    # The cookie no longer opens anything.
    c = web_conn(server, token)
    assert c.error("resume") == "SESSION_TERMINATED"
    c.close()
    # Logging out again (or without a cookie) is harmless.
    status, h, _ = raw(server, "POST", "/api/logout", b"",
                       headers={"Cookie": f"parley_session={token}"})
    assert status == 200
    status, _, _ = raw(server, "POST", "/api/logout", b"")
    assert status == 200
    # Logout needs our Origin too (no cross-site logout).
    status, _, _ = raw(server, "POST", "/api/logout", b"", origin="https://evil.example")
    assert status == 403


def test_web_session_is_listed_and_terminable(server):
    name = wire.uname("websess")
    status, h, _ = api(server, "register", name, PW, device="Web: Chromium on Linux")
    token, _ = cookie_of(h)
    server.secrets.add(token)
    cli = wire.Conn(server)
    cli.login(name, PW)
    sessions = cli.call("list_sessions").sessions
    web = [s for s in sessions if s.device == "Web: Chromium on Linux"]
    assert len(web) == 1
    live = web_conn(server, token)
    live.call("resume")
    cli.call("terminate_session", session_id=web[0].id)
    g = live.wait_closed(5)
    assert g is not None and wire.code_name(g.code) == "SESSION_TERMINATED"
    cli.close()
