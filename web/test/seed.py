"""seed.py PORT CA USERNAME PASSWORD PEER COUNT: logs USERNAME in on a parleyd at 127.0.0.1:PORT
(through tests/integration/wire.py, the raw protocol) and sends COUNT messages "m00001", ...
to the private chat with PEER, pipelined. Used by the browser tests and bench/web-budget.mjs
to make a long history quickly."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
import wire  # noqa: E402


class Target:
    def __init__(self, port, ca):
        self.port = int(port)
        self.ca = ca


def main():
    port, ca, user, password, peer, count = sys.argv[1:7]
    c = wire.Conn(Target(port, ca))
    c.login(user, password)
    chat = c.open_chat(peer)
    texts = [f"m{i:05d}" for i in range(1, int(count) + 1)]
    for start in range(0, len(texts), 1000):
        c.send_many(chat.id, texts[start:start + 1000], timeout=300)
    c.close()
    print(chat.id)


if __name__ == "__main__":
    main()
