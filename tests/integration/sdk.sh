#!/usr/bin/env bash
# tests/integration/sdk.sh - the SDK as guests/README.md tells users to use
# it: its compile and link commands, taken from the README as written, build
# tests/sdk/printf_check.c without a single warning, and the guest prints
# exactly tests/sdk/printf_check.out (tc_printf's conversions, the refused
# one, tc_write order, .init_array) and its stderr line.
# Env: BUILD (default build), TINCAN_TEST_BACKEND (kvm, the default: needs
# /dev/kvm or the lane; emu: runs anywhere).
set -u

. "$(dirname "$0")/lib.sh" sdk
BACKEND=${TINCAN_TEST_BACKEND:-kvm}

# The README's two commands: the lines from "cc -std" and from "ld -T" to
# the first without a trailing backslash, for my.c -> the test's file.
readme_cmd() {
    awk -v start="$1" '
        index($0, start) == 1 { on = 1 }
        on { line = line $0 "\n"; if ($0 !~ /\\$/) { print line; exit } }
    ' guests/README.md | sed 's/\\$//' | tr -d '\n'
}
CC_CMD=$(readme_cmd "cc -std=gnu11")
LD_CMD=$(readme_cmd "ld -T guests/sdk/guest.ld")
if [ -z "$CC_CMD" ] || [ -z "$LD_CMD" ]; then
    bad readme_has_build_commands "no cc/ld lines found in guests/README.md"
    finish
    exit 1
fi
cp tests/sdk/printf_check.c "$T/my.c"
(cd "$T" && ln -s "$OLDPWD/guests" guests && mkdir -p build/guests &&
    ln -s "$OLDPWD/$BUILD/guests/sdk" build/guests/sdk &&
    eval "$CC_CMD" && eval "$LD_CMD") >"$T/build.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    bad readme_commands_build "exit $rc: $(cat "$T/build.out")"
elif [ -s "$T/build.out" ]; then
    bad readme_commands_build_without_warnings "$(cat "$T/build.out")"
else
    ok readme_commands_build_without_warnings
fi

"$TINCAN" run --backend "$BACKEND" --json "$T/my.elf" >"$T/run.json" 2>"$T/err"
if python3 - "$T/run.json" tests/sdk/printf_check.out <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
want = open(sys.argv[2]).read()
ok = (j["status"] == "ok" and j["abi"] == "tincan" and j["output"] == want
      and j["stderr"] == "to stderr\n")
if not ok:
    print(j["status"], j["message"], repr(j["output"]), repr(j["stderr"]))
sys.exit(0 if ok else 1)
PY
then
    ok sdk_printf_order_init_array_and_stderr
else
    bad sdk_printf_order_init_array_and_stderr "$(cat "$T/err")"
fi

finish
