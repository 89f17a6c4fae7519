#!/bin/sh
# run-tests.sh BUILD_DIR [unit|integration]: runs the unit test binaries of BUILD_DIR, then the
# integration, abuse and fault suites (pytest, Debian's python3) against BUILD_DIR/bin, then the web client's
# browser tests (node's test runner, playwright-core, Debian's chromium) against the same
# binaries. Exits non-zero on any failure.
set -u
B=${1:?build dir}
WHAT=${2:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
passed=0; failed=0
if [ "$WHAT" != integration ]; then
    for t in "$ROOT/$B"/tests/test_*; do
        [ -x "$t" ] || continue
        if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAILED: $t"; fi
    done
    echo "unit test binaries ($B): $passed passed, $failed failed"
fi
rc=0
[ "$failed" -eq 0 ] || rc=1
if [ "$WHAT" != unit ]; then
    PARLEY_BIN="$ROOT/$B/bin" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$ROOT/tests/integration" \
        "$ROOT/tests/abuse" "$ROOT/tests/faults" || rc=1
    if [ -f "$ROOT/web/dist/app.js" ] && [ -d "$ROOT/web/node_modules" ]; then
        (cd "$ROOT/web" && PARLEY_BIN="$ROOT/$B/bin" node --test --test-concurrency=1 \
            test/*.test.mjs) || rc=1
    else
        echo "web tests: web/dist or web/node_modules missing (run make web-deps all)"; rc=1
    fi
fi
exit $rc
