#!/usr/bin/python3
"""gen_srv_corpus.py: writes the seed corpora of the server fuzz targets
(tests/fuzz/fuzz_srv_*.c) into tests/fuzz/corpus/srv_<name>/: valid ClientFrames of every
request type (built with the integration tests' wire.py from proto/parley.proto, so the
seeds follow the schema), a few broken ones, login API bodies, config files and command
lines. The seeds name the fixed world of tests/fuzz/srv_harness.c: users 1 "fuzza" and 2
"fuzzb", chat 1 (their private chat) and chat 2 (a group). Run: make fuzz-srv-corpus."""
import hashlib
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import wire  # noqa: E402
from wire import build_frame  # noqa: E402

OUT = HERE / "corpus"


def frame(kind, rid=7, **fields):
    return build_frame(kind, rid, **fields).SerializeToString()


def requests():
    """One representative frame per request type, as a logged-in client sends them."""
    f = []
    f.append(frame("ping", nonce=42))
    f.append(frame("hello", protocol_version=1))
    f.append(frame("get_state"))
    f.append(frame("get_chats"))
    f.append(frame("get_chat", chat_id=1))
    f.append(frame("get_history", chat_id=1, limit=20))
    f.append(frame("send_message", chat_id=1, text="hello fuzz", random_id=99))
    f.append(frame("send_message", chat_id=2, text="ttl \u00e9\U0001F600", ttl=30,
                   random_id=100))
    f.append(frame("send_message", chat_id=1, text="reply", reply_to=1, random_id=101))
    f.append(frame("edit_message", chat_id=1, id=1, text="edited"))
    f.append(frame("delete_messages", chat_id=1, ids=[1, 2], for_everyone=True))
    f.append(frame("read_history", chat_id=1, max_id=0))
    f.append(frame("get_difference", since_pts=0, limit=100))
    f.append(frame("resolve_user", username="fuzzb"))
    f.append(frame("open_private_chat", username="fuzzb"))
    f.append(frame("open_private_chat", user_id=2))
    f.append(frame("create_group", title="g", usernames=["fuzzb"]))
    f.append(frame("add_members", chat_id=2, user_ids=[2]))
    f.append(frame("remove_members", chat_id=2, usernames=["fuzzb"]))
    f.append(frame("rename_chat", chat_id=2, title="renamed"))
    f.append(frame("get_members", chat_id=2))
    f.append(frame("set_auto_delete", chat_id=1, seconds=60))
    f.append(frame("leave_chat", chat_id=2))
    f.append(frame("list_sessions"))
    f.append(frame("terminate_session", others=True))
    f.append(frame("get_prekey_status"))
    f.append(frame("list_devices", user_id=2))
    f.append(frame("get_secret_inbox"))
    f.append(frame("ack_secret", ids=[1, 2, 3]))
    f.append(frame("send_secret", to_user=2, to_device=0, secret_chat=5, envelope=b"x" * 40,
                   random_id=5))
    f.append(frame("get_call_config"))
    f.append(frame("set_call_settings", always_relay=True))
    f.append(frame("get_group_call", chat_id=2))
    f.append(frame("group_call_leave", call_id=1, participant_id=1))
    return f


def broken():
    return [b"", b"\x08", b"\xff\xff\xff\xff", b"\x08\x01\xb2\x01\x03\x0a\x01\xc0",
            b"\x08\x01\xb2\x01\x04\x12\x02a\x00"]


def put(name, blobs):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    for b in blobs:
        (d / hashlib.sha1(b).hexdigest()).write_bytes(b)
    print(f"{name}: {len(blobs)} seeds")


def records(frames):
    return b"".join(struct.pack("<H", len(x)) + x for x in frames)


def main():
    reqs = requests()
    put("srv_frame", reqs + broken() +
        [frame("register", username="a", password="pw", device="d"),
         frame("resume", token=b"\x01" * 32)])
    seq = [records([r]) for r in reqs]
    seq.append(records(reqs[:8]))
    seq.append(records([frame("send_message", 1, chat_id=1, text="a", random_id=7),
                        frame("edit_message", 2, chat_id=1, id=1, text="b"),
                        frame("get_difference", 3, since_pts=0),
                        frame("delete_messages", 4, chat_id=1, ids=[1])]))
    seq.append(records(broken()[3:]))
    put("srv_dispatch", seq)
    reg = wire.pb.RegisterRequest(username="webfuzz", password="pw-long-enough",
                                  device="Web: fuzz").SerializeToString()
    login = wire.pb.LoginRequest(username="fuzza", password="fuzz-password-1",
                                 device="Web").SerializeToString()
    bad = wire.pb.LoginRequest(username="fuzza", password="wrong",
                               device="Web").SerializeToString()
    put("srv_webauth", [b"\x00\x80" + reg, b"\x01\x80" + login, b"\x01\x10" + bad,
                        b"\x01\x00" + b"\xff" * 8, b"\x00\xff" + b"\x0a\x02\xc3\x28"])
    conf = [b"listen = 127.0.0.1:8443\ndata = ./data\nlog_level = debug\n",
            b"# comment\nflood_rate = 200\nflood_burst = 1000\nmax_frame = 64K\n",
            b"argon2_ops = 2\nargon2_mem = 64M\nlogin_fail_user = 5\n",
            b"turn_urls = turn:127.0.0.1:3478?transport=udp\nturn_secret = s\nturn_ttl = 60\n",
            b"sfu = off\nsfu_port = 0\ngroup_call_max_participants = 10\n",
            b"watchdog_seconds = 0\nsecret_inbox_bytes = 1G\nmax_connections = 5\n",
            b"listen = [::1]:0\n", b"nonsense\n", b"flood_rate = -1\n"]
    args = [b"--data\0/tmp/x\0--listen\0[::1]:9\0", b"--log-level=warn\0--web\0w\0",
            b"--help\0", b"--bogus\0"]
    put("srv_config", [b"\x00" + c for c in conf] + [b"\x01" + a for a in args] +
        [b"\x02127.0.0.1:8443", b"\x02[::1]:1", b"\x02host:99999"])


if __name__ == "__main__":
    main()
