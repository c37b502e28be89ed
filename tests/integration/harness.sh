#!/usr/bin/env bash
# tests/integration/harness.sh - a compromised job child's text through the
# CLI: tincan-evil is the CLI built with the harness zygote, whose children
# run tests/harness/evil_child.c. A child that writes control bytes and
# ANSI escapes into its message must reach stderr, --json, TAP and JUnit as
# one escaped line. Env: BUILD, TINCAN_TEST_BACKEND (kvm or emu).
set -u

. "$(dirname "$0")/lib.sh" harness
EVIL=$BUILD/tests/tincan-evil
BACKEND=${TINCAN_TEST_BACKEND:-kvm}
# What the evil child writes, as the parent must pass it on.
WANT='line one\x0aline two\x0d\x1b[31mred\x1b[0m\x07 back\\slash'

if [ ! -x "$EVIL" ]; then
    bad setup "$EVIL is missing; run make test"
    finish
    exit 1
fi
printf 'message:ctl' >"$T/cmd"
printf '\364' >"$T/hlt.bin" # hlt: never reached

"$EVIL" run --backend "$BACKEND" --input "$T/cmd" "$T/hlt.bin" \
    >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 118 ]; then
    bad stderr_line_is_escaped "exit $rc, want 118 (fault); $(cat "$T/err")"
elif [ "$(cat "$T/err")" != "tincan: fault: $WANT" ]; then
    bad stderr_line_is_escaped "stderr: $(od -c "$T/err" | head -5)"
elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
    bad stderr_line_is_escaped "want one line"
else
    ok stderr_line_is_escaped
fi

"$EVIL" run --json --backend "$BACKEND" --input "$T/cmd" "$T/hlt.bin" \
    >"$T/out" 2>"$T/err"
if python3 - "$T/out" "$WANT" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
want = sys.argv[2]
assert r["status"] == "fault", r
assert r["message"] == want, repr(r["message"])
assert r["fault"]["name"] == "#\\x1b[1mX", repr(r["fault"]["name"])
PY
    ok json_message_is_escaped
else
    bad json_message_is_escaped "$(cat "$T/out")"
fi

S=$T/suite
mkdir "$S"
cp "$T/hlt.bin" "$S/evil.bin"
cp "$T/cmd" "$S/evil.in"
: >"$S/evil.out"
"$EVIL" check --backend "$BACKEND" --tap --junit "$T/junit.xml" "$S" \
    >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 1 ]; then
    bad tap_and_junit_are_escaped "exit $rc, want 1; $(cat "$T/out" "$T/err")"
elif grep -q $'\x1b' "$T/out" "$T/junit.xml" ||
    grep -q $'\r' "$T/out" "$T/junit.xml"; then
    bad tap_and_junit_are_escaped "a raw escape reached the report"
elif ! grep -qxF "#   status: want ok (exit code 0), got fault: $WANT" "$T/out"; then
    bad tap_and_junit_are_escaped "TAP: $(cat "$T/out")"
elif ! python3 - "$T/junit.xml" "$WANT" <<'PY'; then
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
failure = root.find("testsuite/testcase/failure")
assert failure is not None
assert sys.argv[2] in failure.text, failure.text
PY
    bad tap_and_junit_are_escaped "JUnit: $(cat "$T/junit.xml")"
else
    ok tap_and_junit_are_escaped
fi

finish
