#!/usr/bin/env bash
# tests/integration/cli.sh - the tincan command line, end to end: plain and
# JSON output, exit codes, code from a file, --hex, --b64, stdin and URLs
# (a server on 127.0.0.1 that this script starts), --input, and bad usage (exactly one "tincan: ..." line on stderr, exit 125).
# Needs a usable /dev/kvm (or the lane: tests/vm/run tests/integration/cli.sh).
# Env: BUILD (default build). Prints "ok NAME" / "FAIL NAME: why" per test
# and "N passed, M failed" at the end; exits 1 if anything failed.
set -u

. "$(dirname "$0")/lib.sh" cli
ABI_HDR=guests/sdk/tincan_abi.h

# run ARGS...: runs tincan with ARGS; stdout in $T/out, stderr in $T/err,
# exit status in $rc. Stdin is whatever the caller redirects.
run() {
    "$TINCAN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# Lines on stderr (a last line without newline counts too).
err_lines() {
    awk 'END { print NR }' "$T/err"
}

json_get() { # json_get PY-EXPR: evaluates EXPR with j = the JSON on stdout
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$T/out" "$1"
}

# --- plain mode ------------------------------------------------------------

t=hello_timeout_prints_hello_lines_and_exits_124
run run --timeout 1s "$G/hello.bin"
if [ $rc -ne 124 ]; then
    bad $t "exit $rc, want 124"
elif [ ! -s "$T/out" ]; then
    bad $t "no output on stdout"
elif ! python3 - "$T/out" <<'EOF'; then
import sys
d = open(sys.argv[1], "rb").read()
h = b"Hello, World!\n"
n = len(d) // len(h)
sys.exit(0 if d[: n * len(h)] == h * n and h.startswith(d[n * len(h):]) else 1)
EOF
    bad $t "stdout is not repeated 'Hello, World!\\n' lines: $(head -c 60 "$T/out" | od -c | head -2)"
elif [ "$(err_lines)" -ne 1 ] || ! grep -q '^tincan: timeout:' "$T/err"; then
    bad $t "stderr is not one 'tincan: timeout:' line: $(cat "$T/err")"
else
    ok $t
fi

t=hello_once_prints_exactly_hello_world_and_exits_0
run run "$G/hello_once.bin"
printf 'Hello, World!\n' >"$T/want"
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
elif ! cmp -s "$T/out" "$T/want"; then
    bad $t "stdout differs: $(od -c "$T/out" | head -3)"
elif [ -s "$T/err" ]; then
    bad $t "stderr not empty: $(cat "$T/err")"
else
    ok $t
fi

t=exit42_exits_42_silently
run run "$G/exit42.bin"
if [ $rc -ne 42 ]; then
    bad $t "exit $rc, want 42"
elif [ -s "$T/out" ] || [ -s "$T/err" ]; then
    bad $t "unexpected output: stdout '$(cat "$T/out")' stderr '$(cat "$T/err")'"
else
    ok $t
fi

t=fault_exits_118_with_one_status_line
run run "$G/ud2.bin"
if [ $rc -ne 118 ]; then
    bad $t "exit $rc, want 118"
elif [ "$(err_lines)" -ne 1 ] || ! grep -q '^tincan: fault: #UD' "$T/err"; then
    bad $t "stderr is not one 'tincan: fault: #UD' line: $(cat "$T/err")"
else
    ok $t
fi

# --- JSON ------------------------------------------------------------------

t=json_ud2_reports_the_fault
run run --json "$G/ud2.bin"
if [ $rc -ne 118 ]; then
    bad $t "exit $rc, want 118"
elif ! got=$(json_get '(j["status"], j["fault"]["vector"], j["fault"]["name"], j["fault"]["rip"], j["fault"]["error_code"])' 2>&1); then
    bad $t "stdout is not JSON: $got"
elif [ "$got" != "('fault', 6, '#UD', '0x10000', None)" ]; then
    bad $t "got $got"
else
    ok $t
fi

t=json_hello_once_has_output_and_bookkeeping
run run --json "$G/hello_once.bin"
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0"
elif ! got=$(json_get '(j["status"], j["exit_code"], j["output"], __import__("base64").b64decode(j["output_b64"]), j["output_bytes"], type(j["exits"]) is int and j["exits"] >= 1, type(j["wall_us"]) is int and j["wall_us"] > 0, j["backend"])' 2>&1); then
    bad $t "stdout is not JSON: $got"
elif [ "$got" != "('ok', 0, 'Hello, World!\\n', b'Hello, World!\\n', 14, True, True, 'kvm')" ]; then
    bad $t "got $got"
elif [ "$(wc -l <"$T/out")" -ne 1 ]; then
    bad $t "want exactly one line of JSON, got $(wc -l <"$T/out")"
else
    ok $t
fi

# --- where the code and input come from ------------------------------------

t=hex_code_runs
run run --hex 'b0 41 e6 10 f4'
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
elif [ "$(cat "$T/out")" != A ] || [ "$(wc -c <"$T/out")" -ne 1 ]; then
    bad $t "stdout '$(cat "$T/out")', want 'A'"
else
    ok $t
fi

t=code_from_stdin_runs
run run - <"$G/hello_once.bin"
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
elif ! cmp -s "$T/out" "$T/want"; then
    bad $t "stdout differs: $(od -c "$T/out" | head -3)"
else
    ok $t
fi

t=input_file_reaches_the_guest_byte_exact
printf 'abc\000xyz\377\n' >"$T/input"
run run --input "$T/input" "$G/echo.bin"
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
elif ! cmp -s "$T/out" "$T/input"; then
    bad $t "stdout differs from the input: $(od -c "$T/out" | head -3)"
else
    ok $t
fi

# --- code from a URL (tests/fetch_server.py on 127.0.0.1) -------------------

t=b64_code_runs
run run --b64 'sEHmEPQ='
if [ $rc -ne 0 ] || [ "$(cat "$T/out")" != A ]; then
    bad $t "exit $rc, stdout '$(cat "$T/out")', want 0 and 'A'; stderr: $(cat "$T/err")"
else
    ok $t
fi

python3 tests/fetch_server.py --root "$G" >"$T/port" 2>"$T/server.err" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.1
done
PORT=$(head -n 1 "$T/port")
BASE=http://127.0.0.1:$PORT
hello_sha=$(sha256sum "$G/hello_once.bin" | cut -c1-64)
requests_of() { # requests_of PATH: how many GETs the server saw for PATH
    python3 -c 'import sys,urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().strip())' \
        "$BASE/count-of$1"
}

t=url_code_pinned_by_sha256_prints_hello_world
if [ -z "$PORT" ]; then
    bad $t "the test server did not start: $(cat "$T/server.err")"
else
    run run "$BASE/files/hello_once.bin" --sha256 "$hello_sha"
    if [ $rc -ne 0 ]; then
        bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
    elif ! cmp -s "$T/out" "$T/want"; then
        bad $t "stdout differs: $(od -c "$T/out" | head -3)"
    elif [ -s "$T/err" ]; then
        bad $t "stderr not empty: $(cat "$T/err")"
    else
        ok $t
    fi
fi

t=url_input_reaches_the_guest
run run --input "$BASE/files/exit42.bin" "$G/echo.bin"
if [ $rc -ne 0 ] || ! cmp -s "$T/out" "$G/exit42.bin"; then
    bad $t "exit $rc, want 0 and exit42.bin's bytes; stderr: $(cat "$T/err")"
else
    ok $t
fi

t=url_digest_mismatch_is_refused_before_running
zeros=0000000000000000000000000000000000000000000000000000000000000000
run run "$BASE/files/hello_once.bin" --sha256 $zeros
if [ $rc -ne 125 ] || [ -s "$T/out" ]; then
    bad $t "exit $rc, want 125 and no stdout; stderr: $(cat "$T/err")"
elif [ "$(cat "$T/err")" != "tincan: payload digest mismatch: expected $zeros got $hello_sha" ]; then
    bad $t "stderr: $(cat "$T/err")"
else
    ok $t
fi

t=cache_without_a_dir_lives_under_xdg_cache_home
before=$(requests_of /files/exit42.bin)
exit42_sha=$(sha256sum "$G/exit42.bin" | cut -c1-64)
XDG_CACHE_HOME="$T/xdg" "$TINCAN" run --cache --sha256 "$exit42_sha" \
    "$BASE/files/exit42.bin" >"$T/out" 2>"$T/err"
rc1=$?
XDG_CACHE_HOME="$T/xdg" "$TINCAN" run --cache --sha256 "$exit42_sha" \
    "$BASE/files/exit42.bin" >"$T/out" 2>"$T/err"
rc=$?
after=$(requests_of /files/exit42.bin)
if [ $rc1 -ne 42 ] || [ $rc -ne 42 ]; then
    bad $t "exits $rc1 and $rc, want 42 twice; stderr: $(cat "$T/err")"
elif [ $((after - before)) -ne 1 ]; then
    bad $t "the server saw $((after - before)) requests for two runs, want 1"
elif ! cmp -s "$T/xdg/tincan/$exit42_sha" "$G/exit42.bin"; then
    bad $t "no cache entry $T/xdg/tincan/$exit42_sha"
else
    ok $t
fi

t=url_404_says_the_status
run run "$BASE/files/no-such.bin"
if [ $rc -ne 125 ] || [ "$(cat "$T/err")" != "tincan: fetching $BASE/files/no-such.bin: HTTP status 404" ]; then
    bad $t "exit $rc, stderr: $(cat "$T/err")"
else
    ok $t
fi

t=cache_dir_serves_a_pinned_url_on_the_second_run
before=$(requests_of /files/exit42.bin)
exit42_sha=$(sha256sum "$G/exit42.bin" | cut -c1-64)
run run --cache-dir "$T/cache" --sha256 "$exit42_sha" "$BASE/files/exit42.bin"
rc1=$rc
run run --cache-dir "$T/cache" --sha256 "$exit42_sha" "$BASE/files/exit42.bin"
after=$(requests_of /files/exit42.bin)
if [ $rc1 -ne 42 ] || [ $rc -ne 42 ]; then
    bad $t "exits $rc1 and $rc, want 42 twice; stderr: $(cat "$T/err")"
elif [ $((after - before)) -ne 1 ]; then
    bad $t "the server saw $((after - before)) requests for two runs, want 1"
elif ! cmp -s "$T/cache/$exit42_sha" "$G/exit42.bin"; then
    bad $t "no cache entry $T/cache/$exit42_sha with exit42.bin's bytes"
else
    ok $t
fi

# --- bad usage: one "tincan: " line on stderr, nothing on stdout, exit 125 --

: >"$T/empty"
head -c $((2 << 20)) /dev/zero | tr '\0' '\364' >"$T/big" # 2 MiB of hlt

usage_case missing_file_is_bad_usage run "$T/no-such-file.bin"
usage_case empty_file_is_bad_usage run "$T/empty"
usage_case code_larger_than_memory_is_bad_usage run --mem 1M "$T/big"
usage_case mem_with_trailing_garbage_is_bad_usage run --mem 3M7 "$G/exit42.bin"
usage_case mem_over_1g_is_bad_usage run --mem 2G "$G/exit42.bin"
usage_case timeout_without_unit_is_bad_usage run --timeout 5 "$G/exit42.bin"
usage_case timeout_not_a_number_is_bad_usage run --timeout abc "$G/exit42.bin"
usage_case unknown_flag_is_bad_usage run --frobnicate "$G/exit42.bin"
usage_case odd_hex_is_bad_usage run --hex 'e6 1'
usage_case no_code_is_bad_usage run
usage_case bad_b64_is_bad_usage run --b64 'sEH!'
usage_case short_sha256_is_bad_usage run --sha256 abc "$G/exit42.bin"
usage_case unknown_url_scheme_is_bad_usage run gopher://127.0.0.1/x
usage_case file_url_without_flag_is_bad_usage run "file://$PWD/$G/exit42.bin"
usage_case fetch_timeout_without_unit_is_bad_usage run --fetch-timeout 5 "$G/exit42.bin"
usage_case missing_cacert_is_bad_usage run --cacert "$T/no-such.pem" "$G/exit42.bin"

t=code_larger_than_memory_message_names_mem
run run --mem 1M "$T/big"
if grep -q -- '--mem' "$T/err"; then
    ok $t
else
    bad $t "stderr does not mention --mem: $(cat "$T/err")"
fi

# --- help and version ------------------------------------------------------

t=help_exits_0_and_lists_exit_codes
run --help
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0"
elif ! grep -q 'exit status' "$T/out"; then
    bad $t "no 'exit status' section on stdout"
else
    missing=
    for code in 117 118 119 120 121 122 123 124 125; do
        grep -qw $code "$T/out" || missing="$missing $code"
    done
    if [ -n "$missing" ]; then
        bad $t "exit codes missing from --help:$missing"
    else
        ok $t
    fi
fi

t=version_prints_the_abi_version
abi=$(sed -n 's/^#define TINCAN_ABI_VERSION \([0-9]*\).*/\1/p' "$ABI_HDR")
run --version
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0"
elif [ -z "$abi" ]; then
    bad $t "cannot read TINCAN_ABI_VERSION from $ABI_HDR"
elif ! head -n 1 "$T/out" | grep -q "^tincan [0-9][0-9.]* (guest ABI $abi)\$"; then
    bad $t "first line '$(head -n 1 "$T/out")', want 'tincan X.Y.Z (guest ABI $abi)'"
else
    ok $t
fi

# in_mount_ns SETUP ARGS...: runs ARGS in a private mount namespace after the
# shell command SETUP there (root and util-linux's unshare), like run().
in_mount_ns() {
    local setup=$1
    shift
    unshare --mount sh -c "$setup"' && exec "$@"' sh "$@" \
        >"$T/out" 2>"$T/err"
    rc=$?
}

# refused_in_one_line LABEL: the last command exited 125 with no stdout and
# one stderr line; else it counts as a failure of test $t, named by LABEL.
refused_in_one_line() {
    if [ $rc -ne 125 ]; then
        bad $t "$1: exit $rc, want 125 ($(cat "$T/err"))"
    elif [ -s "$T/out" ] || [ "$(err_lines)" != 1 ]; then
        bad $t "$1: want no stdout and one stderr line, got: $(cat "$T/out" "$T/err")"
    else
        return 0
    fi
    return 1
}

t=no_usable_kvm_backend_kvm_refuses_auto_falls_back_to_emu
# Hide /dev/kvm behind an empty /dev.
HIDE_KVM='mount -t tmpfs none /dev'
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
    bad $t "needs root and unshare to hide /dev/kvm"
else
    in_mount_ns "$HIDE_KVM" "$TINCAN" run --backend kvm "$G/hello_once.bin"
    if ! refused_in_one_line "--backend kvm"; then
        :
    elif ! grep -q "^tincan: KVM is not usable (cannot open /dev/kvm: No such file or directory); .*tests/vm/run" "$T/err"; then
        bad $t "--backend kvm: message: $(cat "$T/err")"
    else
        in_mount_ns "$HIDE_KVM" "$TINCAN" run "$G/hello_once.bin"
        if [ $rc -ne 0 ] || [ "$(cat "$T/out")" != "Hello, World!" ]; then
            bad $t "auto: exit $rc, stdout '$(cat "$T/out")', stderr '$(cat "$T/err")'"
        elif [ "$(cat "$T/err")" != "tincan: KVM is not usable here; running on the emulator (--backend emu)" ]; then
            bad $t "auto: want the one-line notice, got: $(cat "$T/err")"
        else
            ok $t
        fi
    fi
fi

t=without_libunicorn_emu_refuses_in_one_line_and_kvm_runs
# Hide libunicorn behind /dev/null: KVM jobs never load it, and the
# emulator says what is missing.
LIBUC=$(ldconfig -p 2>/dev/null | awk '/libunicorn\.so\.2 / { print $NF; exit }')
HIDE_UNICORN="mount --bind /dev/null '$LIBUC'"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || [ -z "$LIBUC" ]; then
    bad $t "needs root, unshare and libunicorn.so.2 in ldconfig's cache"
else
    in_mount_ns "$HIDE_UNICORN" "$TINCAN" run --backend emu "$G/hello_once.bin"
    if ! refused_in_one_line "--backend emu"; then
        :
    elif ! grep -q "^tincan: the emulator backend needs libunicorn.so.2 (Debian package libunicorn2; make deps installs it): " "$T/err"; then
        bad $t "--backend emu: message: $(cat "$T/err")"
    else
        in_mount_ns "$HIDE_UNICORN" "$TINCAN" run --backend kvm "$G/hello_once.bin"
        if [ $rc -ne 0 ] || [ "$(cat "$T/out")" != "Hello, World!" ] || [ -s "$T/err" ]; then
            bad $t "--backend kvm: exit $rc, stdout '$(cat "$T/out")', stderr '$(cat "$T/err")'"
        else
            ok $t
        fi
    fi
fi

finish
