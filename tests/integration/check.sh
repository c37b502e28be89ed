#!/usr/bin/env bash
# tests/integration/check.sh - `tincan check DIR` end to end: a suite built
# here from the guests in $BUILD/guests, with passing, failing and broken
# cases, run with -j, --tap, --junit (parsed back with python3) and --update,
# and a suite tincan refuses. Asserts exit statuses and exact report text.
# Env: BUILD (default build), TINCAN_TEST_BACKEND (kvm, the default: needs
# /dev/kvm or the lane; emu: runs anywhere). Prints "ok NAME" / "FAIL NAME:
# why" per test and "N passed, M failed" at the end; exits 1 on a failure.
set -u

. "$(dirname "$0")/lib.sh" check
BACKEND=${TINCAN_TEST_BACKEND:-kvm}

# check ARGS...: runs `tincan check ARGS`; stdout in $T/out, stderr in
# $T/err, exit status in $rc.
check() {
    "$TINCAN" check "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# same NAME WANT-FILE: ok when stdout is exactly WANT-FILE and stderr empty.
same() {
    if ! diff -u "$2" "$T/out" >"$T/diff"; then
        bad "$1" "stdout differs from what is wanted:
$(cat "$T/diff")"
    elif [ -s "$T/err" ]; then
        bad "$1" "stderr not empty: $(cat "$T/err")"
    else
        ok "$1"
    fi
}

# -j for the runs that prove the report keeps name order.
JOBS=3

# --- the suite -------------------------------------------------------------
S=$T/suite
mkdir "$S"
# Passing: output, exit code, fault, input with odd bytes, timeout, an ELF.
cp "$G/hello_once.bin" "$S/hello.bin"
printf 'Hello, World!\n' >"$S/hello.out"
cp "$G/hello_once.elf" "$S/hello_elf.elf"
printf 'Hello, World!\n' >"$S/hello_elf.out"
cp "$G/exit42.bin" "$S/exit42.bin"
: >"$S/exit42.out"
echo '{"exit_code": 42}' >"$S/exit42.json"
cp "$G/div0.bin" "$S/div0.bin"
: >"$S/div0.out"
echo '{"status": "fault", "mem": "2M"}' >"$S/div0.json"
cp "$G/echo.bin" "$S/echo.bin"
printf 'abc\000xyz\377\n' >"$S/echo.in"
cp "$S/echo.in" "$S/echo.out"
# First by name, last to end: with -j its line must still come first.
cp "$G/spin.bin" "$S/a_spin.bin"
: >"$S/a_spin.out"
echo '{"timeout_ms": 300, "status": "timeout"}' >"$S/a_spin.json"
# Failing: wrong output, unexpected fault, odd bytes, a long line, no .out.
cp "$G/hello_once.bin" "$S/greet.bin"
printf 'Hello, Wurld!\n' >"$S/greet.out"
cp "$G/div0.bin" "$S/crash.bin"
: >"$S/crash.out"
cp "$G/echo.bin" "$S/bytes.bin"
printf 'ab\001\377cd' >"$S/bytes.in"
printf 'ab\001\376cd' >"$S/bytes.out"
cp "$G/echo.bin" "$S/long.bin"
printf '0123456789abcdefghijklmno"qrstuvwxyzABCDEFGHIJ' >"$S/long.in"
printf '0123456789abcdefghijKLMNO"QRSTUVWXYZABCDEFGHIJ' >"$S/long.out"
cp "$G/exit42.bin" "$S/new.bin"
# Cannot run: NAME.json asks for more memory than a job can have.
cp "$G/exit42.bin" "$S/broken.bin"
echo '{"mem": "2G"}' >"$S/broken.json"

cat >"$T/want_plain" <<'EOF'
ok      a_spin
ERROR   broken: broken.json: "mem" "2G" is out of range (1M to 1G)
FAIL    bytes: output differs at offset 3
    status: ok (exit code 0), as wanted
    output: want 6 bytes, got 6, first difference at offset 3
      want: "ab\x01\xfecd"
      got:  "ab\x01\xffcd"
                   ^
FAIL    crash: status fault, want ok
    status: want ok (exit code 0), got fault: #DE (vector 0) at rip 0x10009
    output: 0 bytes, as wanted
ok      div0
ok      echo
ok      exit42
FAIL    greet: output differs at offset 8
    status: ok (exit code 0), as wanted
    output: want 14 bytes, got 14, first difference at offset 8
      want: "Hello, Wurld!\n"
      got:  "Hello, World!\n"
                     ^
ok      hello
ok      hello_elf
FAIL    long: output differs at offset 20
    status: ok (exit code 0), as wanted
    output: want 46 bytes, got 46, first difference at offset 20
      want: ..."456789abcdefghijKLMNO\"QRSTUVWXYZ"...
      got:  ..."456789abcdefghijklmno\"qrstuvwxyz"...
                                ^
FAIL    new: exit code 42, want 0; no new.out: record it with --update
    status: want ok (exit code 0), got ok (exit code 42)
    output: 0 bytes, no new.out to compare with
12 cases: 6 passed, 5 failed, 1 errored
EOF

t=failing_suite_exits_1_with_the_diff_of_each_failure_in_name_order
check -j $JOBS --backend "$BACKEND" --junit "$T/junit.xml" "$S"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1; stderr: $(cat "$T/err")"
else
    same $t "$T/want_plain"
fi

t=junit_file_parses_and_counts_the_cases
if ! got=$(python3 - "$T/junit.xml" 2>&1 <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
cases = suite.findall("testcase")
print(root.tag, root.get("tests"), root.get("failures"), root.get("errors"))
print(suite.get("name"), suite.get("tests"), suite.get("failures"),
      suite.get("errors"), suite.get("skipped"))
print(" ".join(c.get("name") for c in cases))
print("".join("F" if c.find("failure") is not None else
               "E" if c.find("error") is not None else "." for c in cases))
print(all(c.get("classname") == "suite" and float(c.get("time")) >= 0
          for c in cases))
greet = [c for c in cases if c.get("name") == "greet"][0].find("failure")
print(greet.get("message"))
print(greet.text.splitlines()[3])
print([c for c in cases if c.get("name") == "broken"][0].find("error")
      .get("message")[:30])
EOF
); then
    bad $t "python3 could not read it: $got"
else
    cat >"$T/want" <<'EOF'
testsuites 12 5 1
suite 12 5 1 0
a_spin broken bytes crash div0 echo exit42 greet hello hello_elf long new
.EFF...F..FF
True
output differs at offset 8
  got:  "Hello, World!\n"
broken.json: "mem" "2G" is out
EOF
    if [ "$got" != "$(cat "$T/want")" ]; then
        bad $t "got:
$got"
    else
        ok $t
    fi
fi

cat >"$T/want_tap" <<'EOF'
TAP version 13
1..12
ok 1 - a_spin
not ok 2 - broken
# broken.json: "mem" "2G" is out of range (1M to 1G)
not ok 3 - bytes
# output differs at offset 3
#   status: ok (exit code 0), as wanted
#   output: want 6 bytes, got 6, first difference at offset 3
#     want: "ab\x01\xfecd"
#     got:  "ab\x01\xffcd"
#                  ^
not ok 4 - crash
# status fault, want ok
#   status: want ok (exit code 0), got fault: #DE (vector 0) at rip 0x10009
#   output: 0 bytes, as wanted
ok 5 - div0
ok 6 - echo
ok 7 - exit42
not ok 8 - greet
# output differs at offset 8
#   status: ok (exit code 0), as wanted
#   output: want 14 bytes, got 14, first difference at offset 8
#     want: "Hello, Wurld!\n"
#     got:  "Hello, World!\n"
#                    ^
ok 9 - hello
ok 10 - hello_elf
not ok 11 - long
# output differs at offset 20
#   status: ok (exit code 0), as wanted
#   output: want 46 bytes, got 46, first difference at offset 20
#     want: ..."456789abcdefghijKLMNO\"QRSTUVWXYZ"...
#     got:  ..."456789abcdefghijklmno\"qrstuvwxyz"...
#                               ^
not ok 12 - new
# exit code 42, want 0; no new.out: record it with --update
#   status: want ok (exit code 0), got ok (exit code 42)
#   output: 0 bytes, no new.out to compare with
# 12 cases: 6 passed, 5 failed, 1 errored
EOF

t=tap_reports_the_same_suite
check --tap --backend "$BACKEND" "$S"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1; stderr: $(cat "$T/err")"
else
    same $t "$T/want_tap"
fi

# --- --update --------------------------------------------------------------
cat >"$T/want_update" <<'EOF'
ok      a_spin
ERROR   broken: broken.json: "mem" "2G" is out of range (1M to 1G)
updated bytes: wrote bytes.out
updated crash: wrote crash.json
ok      div0
ok      echo
ok      exit42
updated greet: wrote greet.out
ok      hello
ok      hello_elf
updated long: wrote long.out
updated new: wrote new.out, wrote new.json
12 cases: 11 passed (5 updated), 0 failed, 1 errored
EOF

t=update_records_output_status_and_exit_code
echo '{"timeout_ms": 500}' >"$S/crash.json"
check --update -j $JOBS --backend "$BACKEND" "$S"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1 (broken still cannot run); stderr: $(cat "$T/err")"
elif ! diff -u "$T/want_update" "$T/out" >"$T/diff"; then
    bad $t "stdout differs: $(cat "$T/diff")"
elif ! cmp -s "$S/greet.out" "$S/hello.out" || ! cmp -s "$S/bytes.out" "$S/bytes.in" ||
    ! cmp -s "$S/long.out" "$S/long.in" || [ ! -f "$S/new.out" ] || [ -s "$S/new.out" ]; then
    bad $t "NAME.out is not the actual output: $(od -c "$S/greet.out" "$S/new.out" | head -4)"
elif [ "$(cat "$S/crash.json")" != '{
  "timeout_ms": 500,
  "status": "fault"
}' ] || [ "$(cat "$S/new.json")" != '{
  "exit_code": 42
}' ]; then
    bad $t "NAME.json: crash: $(cat "$S/crash.json") new: $(cat "$S/new.json")"
else
    ok $t
fi

t=updated_suite_passes
rm "$S/broken.bin" "$S/broken.json"
check -j $((JOBS + 1)) --backend "$BACKEND" "$S"
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stdout: $(cat "$T/out") stderr: $(cat "$T/err")"
elif [ "$(grep -c '^ok      ' "$T/out")" -ne 11 ] ||
    [ "$(tail -n 1 "$T/out")" != "11 cases: 11 passed, 0 failed, 0 errored" ]; then
    bad $t "want 11 ok lines and a summary: $(cat "$T/out")"
else
    ok $t
fi

# --- suites tincan refuses: one line on stderr, exit 125 -------------------
refused() { # refused NAME WANT-STDERR ARGS...
    local name=$1 want=$2
    shift 2
    check "$@"
    if [ $rc -ne 125 ] || [ -s "$T/out" ]; then
        bad "$name" "exit $rc, want 125 and no stdout; stdout: $(cat "$T/out") stderr: $(cat "$T/err")"
    elif [ "$(cat "$T/err")" != "$want" ]; then
        bad "$name" "stderr: $(cat "$T/err")"
    else
        ok "$name"
    fi
}

mkdir "$T/orphan"
cp "$G/exit42.bin" "$T/orphan/a.bin"
: >"$T/orphan/a.out"
: >"$T/orphan/b.out"
refused orphan_expectation_without_code_is_refused \
    "tincan: $T/orphan/b.out has no b.bin or b.elf beside it: add the code or remove the file" \
    "$T/orphan"
refused missing_dir_is_refused \
    "tincan: cannot read $T/nowhere: No such file or directory" \
    "$T/nowhere"
refused zero_jobs_is_refused \
    "tincan: -j 0: give a number of cases to run at a time, 1 to 256" \
    -j 0 "$S"

finish
