#!/bin/sh
# run_srv_fuzz.sh FUZZ_DIR NAME SECONDS [MAX_LEN]: runs the libFuzzer target FUZZ_DIR/fuzz_srv_NAME
# for SECONDS over its committed seeds (tests/fuzz/corpus/srv_NAME/, only read) and its working
# corpus (FUZZ_DIR/corpus/srv_NAME/, where new inputs go), then prints one line of figures:
# executions, executions per second, coverage (edges) and features as libFuzzer reports them
# at the end, and the working corpus's size. A crash, leak, timeout or failed check exits
# non-zero with the log's tail; the input that caused it is in FUZZ_DIR/artifacts/.
set -u
D=${1:?fuzz dir}; N=${2:?name}; S=${3:?seconds}; L=${4:-8192}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$D/corpus/srv_$N" "$D/artifacts"
log="$D/srv_$N.log"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:quarantine_size_mb=64 UBSAN_OPTIONS=print_stacktrace=1 \
"$D/fuzz_srv_$N" -max_total_time="$S" -timeout=60 -rss_limit_mb=2048 -max_len="$L" \
    -print_final_stats=1 -artifact_prefix="$D/artifacts/srv_$N-" \
    "$D/corpus/srv_$N" "$ROOT/tests/fuzz/corpus/srv_$N" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz srv_$N: FAILED (exit $rc), log $log"
    exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(ls "$D/corpus/srv_$N" | wc -l)
echo "fuzz srv_$N: ${S}s, $execs execs ($((execs / (S > 0 ? S : 1)))/s), cov $cov, ft $ft, working corpus $corp"
