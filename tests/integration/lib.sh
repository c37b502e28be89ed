# tests/integration/lib.sh - what the CLI test scripts share: where the
# build is ($BUILD, default build: $TINCAN, guests in $G), a temporary
# directory $T removed at exit, ok/bad counting, and the closing
# "N passed, M failed" line. Source it with the script's short name:
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
