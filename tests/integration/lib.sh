# tests/integration/lib.sh - what the CLI test scripts share: where the
# build is ($BUILD, default build: $TINCAN, guests in $G), a temporary
# directory $T removed at exit, ok/bad counting, usage_case for bad usage,
# and the closing "N passed, M failed" line. Source it with the script's
# short name:
#     . "$(dirname "$0")/lib.sh" cli
# A script that needs more at exit sets its own trap and removes $T there.

BUILD=${BUILD:-build}
TINCAN=$BUILD/tincan
G=$BUILD/guests

passed=0
failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/tincan-$1.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

ok() {
    echo "ok $1"
    passed=$((passed + 1))
}
bad() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}

# usage_case NAME ARGS...: runs tincan ARGS with no stdin and expects exit
# 125, empty stdout and one stderr line starting "tincan: " ($T/out,
# $T/err and $rc hold what happened).
usage_case() {
    local name=$1
    shift
    "$TINCAN" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    if [ $rc -ne 125 ]; then
        bad "$name" "exit $rc, want 125; stderr: $(cat "$T/err")"
    elif [ -s "$T/out" ]; then
        bad "$name" "stdout not empty: $(head -c 200 "$T/out")"
    elif [ "$(awk 'END { print NR }' "$T/err")" -ne 1 ]; then
        bad "$name" "want one stderr line: $(cat "$T/err")"
    elif ! grep -q '^tincan: ' "$T/err"; then
        bad "$name" "stderr does not start with 'tincan: ': $(cat "$T/err")"
    else
        ok "$name"
    fi
}

# backend_from_env: BACKEND from TINCAN_TEST_BACKEND (empty: KVM, or emu)
# and want_backend, what every result's "backend" must say; exits on any
# other value.
backend_from_env() {
    BACKEND=${TINCAN_TEST_BACKEND:-}
    case "$BACKEND" in
    "") want_backend=kvm ;;
    emu) want_backend=emu ;;
    *) echo "FAIL setup: TINCAN_TEST_BACKEND must be emu or empty"; exit 1 ;;
    esac
}

# finish: the closing line; returns 0 when nothing failed (end with it).
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ ! -x "$TINCAN" ]; then
    echo "FAIL setup: $TINCAN is missing; run make first (or set BUILD)"
    echo "0 passed, 1 failed"
    exit 1
fi
