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

# --- case files planted to leak, hang or exhaust (issue 11, findings 4-5) ---
# Symlinks out of the suite, FIFOs, a device and huge sparse files: each is
# an ERROR naming the file, nothing behind a link is read or written, the
# run does not hang (timeout bounds it) and reads no gigabyte into memory.
H=$T/hostile
mkdir "$H"
printf 'TOP SECRET\n' >"$T/secret"
chmod 600 "$T/secret"
cp "$G/hello_once.bin" "$H/fine.bin"
printf 'Hello, World!\n' >"$H/fine.out"
cp "$G/hello_once.bin" "$H/link_out.bin"
ln -s ../secret "$H/link_out.out"
cp "$G/echo.bin" "$H/link_in.bin"
ln -s "$T/secret" "$H/link_in.in"
: >"$H/link_in.out"
ln -s "$PWD/$G/hello_once.bin" "$H/link_code.bin"
: >"$H/link_code.out"
cp "$G/exit42.bin" "$H/link_json.bin"
ln -s ../secret "$H/link_json.json"
: >"$H/link_json.out"
cp "$G/echo.bin" "$H/fifo_in.bin"
mkfifo "$H/fifo_in.in"
: >"$H/fifo_in.out"
cp "$G/hello_once.bin" "$H/fifo_out.bin"
mkfifo "$H/fifo_out.out"
cp "$G/echo.bin" "$H/dev_zero.bin"
mknod "$H/dev_zero.in" c 1 5 2>"$T/mknod.err" # /dev/zero's numbers
: >"$H/dev_zero.out"
cp "$G/echo.bin" "$H/huge_in.bin"
truncate -s 1G "$H/huge_in.in"
: >"$H/huge_in.out"
cp "$G/hello_once.bin" "$H/huge_out.bin"
truncate -s 2G "$H/huge_out.out"
nofollow="it is a symbolic link (or its path has one), which is not followed here"
{
    echo "ERROR   dev_zero: cannot open $H/dev_zero.in: it is a character device, not a regular file"
    echo "ERROR   fifo_in: cannot open $H/fifo_in.in: it is a FIFO, not a regular file"
    echo "ERROR   fifo_out: cannot open $H/fifo_out.out: it is a FIFO, not a regular file"
    echo "ok      fine"
    echo "ERROR   huge_in: $H/huge_in.in is larger than the 16777216 bytes of guest memory the job has (\"mem\")"
    echo "ERROR   huge_out: $H/huge_out.out is larger than the case's max_output (1048576 bytes)"
    echo "ERROR   link_code: cannot open $H/link_code.bin: $nofollow"
    echo "ERROR   link_in: cannot open $H/link_in.in: $nofollow"
    echo "ERROR   link_json: cannot open $H/link_json.json: $nofollow"
    echo "ERROR   link_out: cannot open $H/link_out.out: $nofollow"
    echo "10 cases: 1 passed, 0 failed, 9 errored"
} >"$T/want_hostile"

# peak_kib ARGS...: runs ARGS (stdout in $T/out, stderr in $T/err) and
# prints its exit status and its peak RSS in KiB (ru_maxrss).
peak_kib() {
    python3 -c 'import resource, subprocess, sys
rc = subprocess.run(sys.argv[3:], stdout=open(sys.argv[1], "w"),
                    stderr=open(sys.argv[2], "w")).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
        "$T/out" "$T/err" "$@"
}

t=planted_links_fifos_devices_and_huge_files_are_errors_naming_the_file
if [ -s "$T/mknod.err" ]; then
    bad $t "setup: mknod (needs root): $(cat "$T/mknod.err")"
else
    # (No process substitution: the lane has no /dev/fd.)
    got=$(peak_kib timeout 120 "$TINCAN" check -j $JOBS --backend "$BACKEND" "$H")
    rc=${got% *}
    kib=${got#* }
    if [ "$rc" -ne 1 ]; then
        bad $t "exit $rc, want 1 (124 is a hang); stderr: $(cat "$T/err")"
    elif grep -q "TOP SECRET" "$T/out"; then
        bad $t "the secret behind a symlink was printed: $(cat "$T/out")"
    elif [ "$kib" -gt $((256 * 1024)) ]; then
        bad $t "check's peak RSS was $kib KiB: a huge file was read"
    else
        same $t "$T/want_hostile"
    fi
fi

t=update_never_writes_through_a_planted_symlink
before=$(ls -A "$H" | sort)
check --update --backend "$BACKEND" "$H"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1; stderr: $(cat "$T/err")"
elif [ "$(cat "$T/secret")" != "TOP SECRET" ] ||
    [ "$(stat -c %a "$T/secret")" != 600 ]; then
    bad $t "the secret was changed: $(stat -c %a "$T/secret") $(head -c 100 "$T/secret")"
elif [ ! -L "$H/link_out.out" ] || [ ! -L "$H/link_in.in" ]; then
    bad $t "a planted symlink was replaced or removed"
elif [ "$(ls -A "$H" | sort)" != "$before" ]; then
    bad $t "files changed in the suite: $(ls -A "$H")"
else
    ok $t
fi
rm -f "$H/fifo_in.in" "$H/fifo_out.out" "$H/huge_in.in" "$H/huge_out.out" \
    "$H/dev_zero.in"

t=update_keeps_a_files_mode_and_a_new_out_is_no_wider_than_its_input
M=$T/modes
mkdir "$M"
cp "$G/echo.bin" "$M/priv.bin"
printf 'private\n' >"$M/priv.in"
chmod 600 "$M/priv.in"
cp "$G/hello_once.bin" "$M/keep.bin"
printf 'stale\n' >"$M/keep.out"
chmod 640 "$M/keep.out"
(umask 022 && "$TINCAN" check --update --backend "$BACKEND" "$M" >"$T/out" 2>"$T/err")
rc=$?
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stdout: $(cat "$T/out") stderr: $(cat "$T/err")"
elif ! cmp -s "$M/priv.out" "$M/priv.in" || [ "$(cat "$M/keep.out")" != "Hello, World!" ]; then
    bad $t "NAME.out is not the output: $(od -c "$M/priv.out" "$M/keep.out" | head -4)"
elif [ "$(stat -c %a "$M/priv.out")" != 600 ] || [ "$(stat -c %a "$M/keep.out")" != 640 ]; then
    bad $t "modes: priv.out $(stat -c %a "$M/priv.out") (want 600), keep.out $(stat -c %a "$M/keep.out") (want 640)"
elif ls -A "$M" | grep -q '^\.'; then
    bad $t "a temporary file was left: $(ls -A "$M")"
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
