#!/usr/bin/env bash
# tests/integration/linux.sh - ordinary static Linux programs end to end:
# the guests/linux corpus, built with musl and with glibc ($BUILD/linux,
# make linux-guests), run by `tincan check` against the expectations in
# guests/linux (NAME.out, NAME.err, NAME.json, NAME.in; NAME.LIBC.* where the
# two libcs print differently; variants/ for a program run with other
# options), and through `tincan run`: the refusals (dynamic, truncated, too
# big), the exit statuses of the new statuses, stderr in plain and JSON mode,
# --max-stderr, --seed, --abi.
# Env: BUILD (default build), TINCAN_PROGRAMS (where make put the corpus,
# default $BUILD), TINCAN_TEST_BACKEND (kvm, the default: needs
# /dev/kvm or the lane; emu: runs anywhere), LINUX_UPDATE=1 (write what the
# corpus printed back into guests/linux, for review). Prints "ok NAME" /
# "FAIL NAME: why" and "N passed, M failed"; exits 1 on a failure.
set -u

. "$(dirname "$0")/lib.sh" linux
BACKEND=${TINCAN_TEST_BACKEND:-kvm}
L=${TINCAN_PROGRAMS:-$BUILD}/linux
SRC=guests/linux

if [ ! -f "$L/hello.musl.elf" ] || [ ! -f "$L/hello.glibc.elf" ]; then
    bad setup "$L has no corpus; run make linux-guests"
    finish
    exit 1
fi

# first_of FILE...: the first that exists.
first_of() {
    for f in "$@"; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

# stage LIBC DIR: the check suite of one libc in DIR.
stage() {
    local libc=$1 dir=$2 elf name base src v case prog ext
    mkdir -p "$dir"
    for elf in "$L"/*."$libc".elf; do
        name=$(basename "$elf" ".$libc.elf")
        [ "$name" = hello_dynamic ] && continue
        base=${name%_pie}
        cp "$elf" "$dir/$name.$libc.elf" # check opens no symlinks
        for ext in out err json in; do
            src=$(first_of "$SRC/$name.$libc.$ext" "$SRC/$name.$ext" \
                "$SRC/$base.$libc.$ext" "$SRC/$base.$ext") &&
                cp "$src" "$dir/$name.$libc.$ext"
        done
    done
    for v in "$SRC"/variants/*.json; do
        case=$(basename "$v" .json)
        prog=${case%_*}
        cp "$L/$prog.$libc.elf" "$dir/$case.$libc.elf"
        cp "$v" "$dir/$case.$libc.json"
        for ext in out err in; do
            src=$(first_of "$SRC/variants/$case.$libc.$ext" \
                "$SRC/variants/$case.$ext" "$SRC/$prog.$ext") &&
                cp "$src" "$dir/$case.$libc.$ext"
        done
    done
}

# --- the corpus, per libc, through tincan check ---------------------------
for libc in musl glibc; do
    D=$T/$libc
    stage "$libc" "$D"
    if [ "${LINUX_UPDATE:-}" = 1 ]; then
        "$TINCAN" check -j 2 --backend "$BACKEND" --update "$D" >/dev/null
        for f in "$D"/*.out "$D"/*.err; do
            [ -L "$f" ] && continue
            n=$(basename "$f")
            cp "$f" "$T/update-$n"
        done
        echo "LINUX_UPDATE: results in $T/update-* (kept: $T)"
        trap - EXIT
    fi
    "$TINCAN" check -j 2 --backend "$BACKEND" "$D" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "corpus_$libc ($(grep -c '^ok' "$T/out") cases)"
    else
        bad "corpus_$libc" "tincan check exited $rc:
$(grep -v '^ok' "$T/out") $(cat "$T/err")"
    fi
done

# --- tincan check: a stderr that differs from NAME.err --------------------
mkdir "$T/errcase"
cp "$L/streams.musl.elf" "$T/errcase/s.elf"
cp "$SRC/streams.out" "$T/errcase/s.out"
printf 'err 0\nerr X\n' >"$T/errcase/s.err"
"$TINCAN" check --backend "$BACKEND" "$T/errcase" >"$T/out" 2>&1
rc=$?
cat >"$T/want" <<'WANT'
FAIL    s: stderr differs at offset 10
    status: ok (exit code 0), as wanted
    output: 50 bytes, as wanted
    stderr: want 12 bytes, got 50, first difference at offset 10
      want: "err 0\nerr X\n"
      got:  "err 0\nerr 1\nerr 2\nerr 3\ner"...
                        ^
1 cases: 0 passed, 1 failed, 0 errored
WANT
if [ $rc -eq 1 ] && diff -u "$T/want" "$T/out" >"$T/diff"; then
    ok check_shows_where_stderr_differs
else
    bad check_shows_where_stderr_differs "exit $rc: $(cat "$T/diff")"
fi

# --- tincan run ------------------------------------------------------------
run() {
    "$TINCAN" run --backend "$BACKEND" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}

# want NAME RC STDOUT STDERR: exit status and both streams exactly.
want() {
    if [ "$rc" -ne "$2" ]; then
        bad "$1" "exit $rc, want $2; stderr: $(cat "$T/err")"
    elif [ "$(cat "$T/out")" != "$3" ]; then
        bad "$1" "stdout: $(cat "$T/out")"
    elif [ "$(cat "$T/err")" != "$4" ]; then
        bad "$1" "stderr: $(cat "$T/err")"
    else
        ok "$1"
    fi
}

# json_is NAME EXPR: a python3 expression over the --json object j is true.
json_is() {
    if python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$T/out" "$2" 2>"$T/pyerr"; then
        ok "$1"
    else
        bad "$1" "not true: $2; got $(head -c 600 "$T/out") $(cat "$T/pyerr")"
    fi
}

run "$L/hello.musl.elf"
want plain_musl_hello_prints_its_line 0 "Hello, World! 2 + 3 = 5" ""
run "$L/hello_pie.glibc.elf"
want static_pie_runs 0 "Hello, World! 2 + 3 = 5" ""
run "$L/streams.glibc.elf"
want stderr_goes_to_stderr 0 "$(cat "$SRC/streams.out")" \
    "$(cat "$SRC/streams.err")"
run "$L/abort.musl.elf"
want abort_exits_128_plus_sigabrt 134 "before abort" \
    "aborting now
tincan: signal: the program was killed by signal 6 (SIGABRT)"
run "$L/deadlock.glibc.elf"
rc_dead=$rc
want_msg="tincan: deadlock: futex wait at"
if [ $rc_dead -eq 114 ] && grep -q "^$want_msg" "$T/err"; then
    ok deadlock_exits_114
else
    bad deadlock_exits_114 "exit $rc_dead: $(cat "$T/err")"
fi
run --strict-syscalls "$L/unsupported.musl.elf"
if [ $rc -eq 115 ] && [ "$(cat "$T/out")" = before ] &&
    grep -q '^tincan: unsupported_syscall: system call 41 (socket) at rip 0x[0-9a-f]* is not one tincan answers (--strict-syscalls)$' "$T/err"; then
    ok strict_syscalls_exit_115_naming_the_call
else
    bad strict_syscalls_exit_115_naming_the_call "exit $rc: $(cat "$T/err")"
fi
run --json --strict-syscalls "$L/unsupported.glibc.elf"
json_is strict_json_names_the_call \
    'j["status"] == "unsupported_syscall" and j["unsupported_syscall"] == {"number": 41, "name": "socket"} and j["unsupported_syscalls"] == 1 and j["abi"] == "linux"'
run --json "$L/unsupported.glibc.elf"
json_is enosys_is_counted \
    'j["status"] == "ok" and j["unsupported_syscalls"] == 2 and j["unsupported_syscall"]["name"] == "socket" and j["output"].endswith("Function not implemented\n")'
run --json "$L/streams.musl.elf"
json_is json_has_stderr \
    'j["stderr"] == open("'"$SRC"'/streams.err").read() and j["stderr_bytes"] == len(j["stderr"]) and j["output"] == open("'"$SRC"'/streams.out").read()'
run --json --max-stderr 10 "$L/streams.musl.elf"
json_is max_stderr_ends_with_output_limit \
    'j["status"] == "output_limit" and j["stderr"] == "err 0\nerr " and j["message"] == "stderr passed the limit of 10 bytes"'
run --json "$L/timerand.musl.elf"
r0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["output"].split("\n")[3])' "$T/out")
run --json --seed 42 "$L/timerand.musl.elf"
r42=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["output"].split("\n")[3])' "$T/out")
if [ -n "$r0" ] && [ "$r0" != "$r42" ] && [ "$r42" = "$(sed -n 4p "$SRC/timerand.musl.out")" ]; then
    ok seed_changes_getrandom
else
    bad seed_changes_getrandom "seed 0: $r0, seed 42: $r42"
fi
run --arg a --arg 'b c' --env K=V "$L/args.musl.elf"
want args_and_env_from_the_command_line 0 "argc=3
argv[0]=args.musl.elf
argv[1]=a
argv[2]=b c
env K=V
HOME (unset)
PATH (unset)" ""
run --json --abi linux "$G/hello_once.elf"
json_is abi_linux_runs_an_sdk_guest_in_ring_3 \
    'j["status"] == "fault" and j["fault"]["name"] == "#GP" and j["abi"] == "linux"'
run --json "$G/hello_once.elf"
json_is sdk_elf_with_its_note_is_a_tincan_guest \
    'j["status"] == "ok" and j["output"] == "Hello, World!\n" and j["abi"] == "tincan"'

# --- what tincan refuses: one line, exit 125 ------------------------------
usage_case dynamic_program_refused run "$L/hello_dynamic.glibc.elf"
grep -q 'link with -static$' "$T/err" && ok dynamic_refusal_says_link_statically ||
    bad dynamic_refusal_says_link_statically "$(cat "$T/err")"
head -c 100 "$L/hello.musl.elf" >"$T/trunc.elf"
usage_case truncated_elf_refused run "$T/trunc.elf"
usage_case too_big_for_mem_refused run --mem 1M "$L/hello.glibc.elf"
grep -q 'raise --mem$' "$T/err" && ok too_big_says_raise_mem ||
    bad too_big_says_raise_mem "$(cat "$T/err")"
usage_case flat_binary_as_linux_refused run --abi linux "$G/hello_once.bin"
usage_case env_without_equals_refused run --env NOEQUALS "$L/args.musl.elf"
usage_case bad_abi_refused run --abi windows "$L/hello.musl.elf"
usage_case bad_seed_refused run --seed -1 "$L/hello.musl.elf"

finish
