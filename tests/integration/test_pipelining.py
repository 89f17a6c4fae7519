"""test_pipelining.py: clients that send many requests without waiting for answers, and the
network thread's watchdog.

A client may pipeline as many requests as its flood budget allows (flood_burst, 1000 by
default): every one is answered, in order of its own processing, or refused with FLOOD_WAIT;
the server reads no more from that socket than it can process (back-pressure) and keeps
serving everyone else. Before the pacer in networking.c, 145 store-bound requests that
arrived in one TLS record hung the whole server inside libwebsockets (SIGTERM included).

The watchdog test stops the network thread alone (ptrace on that thread; the other threads
run on) and checks that parleyd says where it was and exits non-zero without losing what it
acknowledged.
"""
import ctypes
import os
import secrets
import signal
import threading
import time

import websocket

import wire
from wire import build_frame, code_name

N_REQUESTS = 1000       # = the default flood_burst: within the budget


def request_mix(chat_id, n, first_id):
    """n store-bound requests of several kinds (reads and writes), as (id, kind, frame)."""
    out = []
    for i in range(n):
        rid = first_id + i
        k = i % 6
        if k == 0:
            f = build_frame("get_state", rid)
        elif k == 1:
            f = build_frame("get_history", rid, chat_id=chat_id, limit=3)
        elif k == 2:
            f = build_frame("send_message", rid, chat_id=chat_id, text=f"pipelined {i}",
                            random_id=secrets.randbits(63) | 1)
        elif k == 3:
            f = build_frame("get_difference", rid, since_pts=0, limit=5)
        elif k == 4:
            f = build_frame("get_chat", rid, chat_id=chat_id)
        else:
            f = build_frame("read_history", rid, chat_id=chat_id)
        out.append((rid, f.WhichOneof("request"), f))
    return out


def one_blob(reqs):
    """All frames in one write: they reach the server in as few TLS records as possible,
    the case that used to hang it."""
    return b"".join(websocket.ABNF.create_frame(f.SerializeToString(),
                                                websocket.ABNF.OPCODE_BINARY).format()
                    for _, _, f in reqs)


def pipeline(conn, reqs, timeout=180):
    """Sends reqs in one write, then reads until each has an answer. Returns
    (answered, flood_waits, wrong, sent): wrong lists answers that are errors other than
    FLOOD_WAIT, sent counts the messages SendMessage stored."""
    blob = one_blob(reqs)
    sock = conn.ws.sock
    sock.settimeout(timeout)
    sock.sendall(blob)
    answered = flood = sent = 0
    wrong = []
    deadline = time.monotonic() + timeout
    for rid, kind, _ in reqs:
        r = conn.wait_response(rid, timeout=max(0.1, deadline - time.monotonic()))
        if r.HasField("error") and r.error.code != 0:
            if code_name(r.error.code) == "FLOOD_WAIT":
                flood += 1
            else:
                wrong.append((kind, code_name(r.error.code), r.error.message))
        else:
            answered += 1
            sent += kind == "send_message"
    return answered, flood, wrong, sent


def pair(srv, prefix):
    a = wire.register(srv, prefix)
    b = wire.register(srv, prefix + "p")
    chat = a.open_chat(b.username)
    return a, b, chat


def test_pipelined_store_requests_one_connection(new_server):
    srv = new_server()
    a, b, chat = pair(srv, "pipe")
    bystander = wire.register(srv, "by")
    reqs = request_mix(chat.id, N_REQUESTS, 1000)
    answered, flood, wrong, sent = pipeline(a, reqs)
    assert not wrong, wrong[:5]
    assert answered + flood == N_REQUESTS
    assert answered >= N_REQUESTS // 2, (answered, flood)
    # everyone else was served meanwhile and still is
    bystander.ping(timeout=10)
    assert srv.http_get("/healthz")[0] == 200
    # the same connection goes on working
    a.ping()
    stored = [m for m in a.full_history(chat.id) if m.text.startswith("pipelined ")]
    assert len(stored) == sent > 0
    for c in (a, b, bystander):
        c.close()
    took = srv.stop(timeout=30)     # SIGTERM: exit 0, a clean log
    assert took < 30


def test_pipelined_store_requests_fifty_connections(new_server):
    """50 clients pipeline 1000 requests each at once: 50,000 requests, far above the
    server-wide in-flight mark, so the server-wide pause and every connection's backlog are
    exercised together."""
    srv = new_server()
    clients = [pair(srv, f"p{i}") for i in range(25)]
    conns = [(a, chat) for a, _, chat in clients] + [(b, chat) for _, b, chat in clients]
    results = [None] * len(conns)
    errors = []

    def run(i):
        c, chat = conns[i]
        try:
            results[i] = pipeline(c, request_mix(chat.id, N_REQUESTS, 1000))
        except Exception as e:      # reported below; the thread must not die silently
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(conns))]
    for t in threads:
        t.start()
    # /healthz answers while the 50 are being served
    assert srv.http_get("/healthz", timeout=30)[0] == 200
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a client is still waiting for answers"
    assert not errors, errors[:3]
    for i, (answered, flood, wrong, _) in enumerate(results):
        assert not wrong, (i, wrong[:5])
        assert answered + flood == N_REQUESTS, (i, answered, flood)
        assert answered >= N_REQUESTS // 2, (i, answered, flood)
    assert srv.http_get("/healthz")[0] == 200
    for a, b, _ in clients:
        a.close()
        b.close()
    srv.stop(timeout=30)


# ---- the watchdog -------------------------------------------------------------------------

PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_DETACH = 17


def ptrace(req, tid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(req, tid, None, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"ptrace({req:#x}, {tid}): {os.strerror(err)}")


def wait_exit(pid, timeout):
    """The exit status of a child we also trace: Popen.wait() would take the thread's
    ptrace stop for the end of the process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid and os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if got == pid and os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        time.sleep(0.05)
    raise AssertionError(f"parleyd {pid} did not exit within {timeout} s")


def test_watchdog_exits_when_the_network_thread_stops(new_server):
    srv = new_server(config_lines=["watchdog_seconds = 2"])
    a, b, chat = pair(srv, "wd")
    texts = [f"acknowledged {i}" for i in range(20)]
    a.send_many(chat.id, texts)
    # The network thread is parleyd's main thread (net_run runs in main()): its tid is the
    # pid. Seizing and interrupting that one thread stops it alone; the watchdog thread
    # runs on and must notice.
    pid = srv.proc.pid
    ptrace(PTRACE_SEIZE, pid)
    try:
        ptrace(PTRACE_INTERRUPT, pid)
        rc = wait_exit(pid, 60)
    finally:
        try:
            ptrace(PTRACE_DETACH, pid)
        except OSError:
            pass        # already gone: the expected case
    srv.proc.returncode = rc
    srv.proc = None
    srv._logf.close()
    log = srv.log_text()
    assert rc == 70, f"parleyd exited with {rc}, not the watchdog's 70:\n{log[-3000:]}"
    assert "watchdog: the network thread made no progress for 2 s" in log, log[-3000:]
    assert "it was in: " in log
    a.close()
    b.close()
    # Restarted (as a supervisor would), nothing acknowledged is missing.
    srv.start()
    c = wire.login(srv, a.username, a.password)
    got = [m.text for m in c.full_history(chat.id)]
    assert got == texts
    c.close()


def test_watchdog_stays_quiet_while_the_process_is_stopped(new_server):
    """SIGSTOP stops every thread, the watchdog's too: after SIGCONT the pause must not be
    taken for a hang."""
    srv = new_server(config_lines=["watchdog_seconds = 3"])
    c = wire.register(srv, "stopped")
    srv.proc.send_signal(signal.SIGSTOP)
    # Stopped for longer than watchdog_seconds. This waits on purpose (the pause is the
    # condition under test), not for an event.
    time.sleep(5)
    srv.proc.send_signal(signal.SIGCONT)
    c.ping(timeout=30)
    assert srv.alive(), srv.log_text()[-3000:]
    assert "watchdog:" not in srv.log_text()
    c.close()
