#!/bin/sh
# run-local.sh PARLEYD: what `make run` starts: parleyd on https://127.0.0.1:8443 with its data
# in ./data and, when Debian's coturn (turnserver) is installed, a TURN relay on 127.0.0.1:3478
# for calls, sharing a fresh random secret with parleyd (TURN REST API, use-auth-secret). The
# secret and the generated config live in ./data/turn (0700); coturn is stopped by its pid
# when parleyd exits. Loopback only: for calls across machines see README ("Calls").
set -eu
PARLEYD=${1:?parleyd binary}
mkdir -p ./data
chmod 700 ./data
if ! command -v turnserver >/dev/null 2>&1; then
    echo "run-local: coturn not installed; calls work without a relay on this machine only" >&2
    exec "$PARLEYD" --data ./data --listen 127.0.0.1:8443
fi
T=./data/turn
mkdir -p "$T"
chmod 700 "$T"
umask 077
SECRET=$(openssl rand -hex 32)
printf 'listening-ip=127.0.0.1\nlistening-port=3478\nrelay-ip=127.0.0.1\nrealm=parley.local\nuse-auth-secret\nstatic-auth-secret=%s\nno-cli\nno-tls\nno-dtls\nfingerprint\nallow-loopback-peers\nlog-file=stdout\nsimple-log\npidfile=%s/turnserver.pid\nuserdb=%s/turndb\n' \
    "$SECRET" "$T" "$T" > "$T/turnserver.conf"
printf 'turn_urls = turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp\nturn_secret = %s\n' \
    "$SECRET" > "$T/parleyd.conf"
turnserver -c "$T/turnserver.conf" > "$T/turnserver.log" 2>&1 &
TURN_PID=$!
echo "run-local: coturn on 127.0.0.1:3478 (pid $TURN_PID, log $T/turnserver.log)" >&2
"$PARLEYD" --data ./data --listen 127.0.0.1:8443 --config "$T/parleyd.conf" &
PARLEYD_PID=$!
# Ctrl-C or a TERM reaches both children by pid; then wait for parleyd's own exit status.
trap 'kill "$PARLEYD_PID" 2>/dev/null || true' INT TERM
# A trapped signal ends `wait` early: wait again until parleyd itself has exited.
while :; do
    rc=0
    wait "$PARLEYD_PID" || rc=$?
    kill -0 "$PARLEYD_PID" 2>/dev/null || break
done
kill "$TURN_PID" 2>/dev/null || true
wait "$TURN_PID" 2>/dev/null || true
exit "$rc"
