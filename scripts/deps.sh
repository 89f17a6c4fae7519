#!/bin/sh
# deps.sh: makes sure the Debian packages Parley builds and tests with are installed.
# As root it installs what is missing; otherwise it prints the one apt-get line to run and
# fails. `make run` and `make test` call it first, so a fresh Debian 12 clone needs nothing else.
# The web client needs node and npm (Debian's nodejs and npm, unless a node is already there,
# e.g. a nodejs package that bundles npm) and its tests Debian's chromium.
set -eu
# libstrophe, libmosquitto and libnats: parley-bench's XMPP, MQTT and NATS targets.
# zlib: parley-sfu (STUN FINGERPRINT); libsrtp2: the reference its own SRTP is tested
# against. libvpx: tests/tools/media_check.
# libcurl and libjansson: parley-sfu-bench's Janus target (Janus's REST API).
# protobuf-compiler: protoc, which the web build (web/build.mjs) runs; pkgconf is Debian 12's
# pkg-config (the package named pkg-config is only a transitional one that pulls it).
# tests/build/check_deps.py (in `make test`) checks this list against what a traced build runs.
BUILD="build-essential pkgconf libssl-dev libsodium-dev libsqlite3-dev libwebsockets-dev libuv1-dev
 libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libjansson-dev openssl
 libstrophe-dev libmosquitto-dev libnats-dev
 libsrtp2-dev zlib1g-dev libvpx-dev libcurl4-openssl-dev"
# The peer servers are for bench/run-peers --quick, part of `make test`; clang and its
# libFuzzer runtime (libclang-rt-14-dev) for `make fuzz-smoke` and `fuzz-smoke-sfu`, also
# part of it; coturn is
# the TURN relay the call tests start on loopback, iproute2 brings up their network
# namespace's loopback. strace: tests/build/check_deps.py traces a build with it.
# haproxy: tests/abuse/test_connections.py puts it in front of parleyd (send-proxy-v2).
TEST="python3 python3-pytest python3-websocket python3-protobuf sqlite3 procps
 ejabberd erlang-p1-sqlite3 prosody lua-dbi-sqlite3 mosquitto nats-server util-linux
 clang libclang-rt-14-dev coturn iproute2 strace"
# python3-matplotlib: only `make soak` (tests/faults/soak.py plots its figures); the short
# soak in `make test` writes its CSV without it.
SOAK="python3-matplotlib"
want="$BUILD"
[ "${1:-}" = "test" ] && want="$BUILD $TEST"
[ "${1:-}" = "soak" ] && want="$BUILD $TEST $SOAK"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Looked up by command, not package: another nodejs build may provide both.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ "${1:-}" = "test" ] && [ ! -x /usr/bin/chromium ]; then missing="$missing chromium"; fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "parley: missing Debian packages. Run as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
echo "parley: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Installing a server's package would start its daemon: a policy-rc.d that says no, for the
# duration of the install only (and only if there is none already).
# PARLEY_POLICY_RC_D is for tests/build/check_deps.py only: it runs this script with an
# apt-get that installs nothing, and must not put a file in /usr/sbin.
rcd=${PARLEY_POLICY_RC_D:-/usr/sbin/policy-rc.d}
guard=""
if [ ! -e "$rcd" ]; then
    printf '#!/bin/sh\n# temporary, from parley scripts/deps.sh\nexit 101\n' > "$rcd"
    chmod 755 "$rcd"
    guard=$rcd
    trap 'rm -f "$guard"' EXIT
    trap 'rm -f "$guard"; exit 1' INT TERM
fi
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
