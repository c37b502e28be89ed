#!/usr/bin/env bash
# tests/integration/backend_auto.sh - which backend auto picks on this host,
# and --backend kvm, against what the host is: hardware KVM (vmx or svm in
# /proc/cpuinfo, no kvm_pvm) runs jobs on KVM; kvm_pvm runs auto on the
# emulator with one line saying why, and --backend kvm on its ring-3 path;
# another KVM without vmx/svm runs auto on the emulator with one line, and
# refuses --backend kvm in one line with exit 125. Runs on the host (a
# kvm_pvm machine) from tests/run-unit and in the lane (hardware KVM) from
# tests/run-integration.
# Env: BUILD (default build). Prints "ok NAME" / "FAIL NAME: why" per test.
set -u

. "$(dirname "$0")/lib.sh" backend_auto

run() {
    "$TINCAN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# What this host is, decided here independently of tincan.
if ! { exec 3<>/dev/kvm; } 2>/dev/null; then
    kind=none
elif [ -d /sys/module/kvm_pvm ]; then
    kind=pvm
elif grep -m1 '^flags' /proc/cpuinfo | tr ' \t' '\n\n' | grep -qx 'vmx\|svm'; then
    kind=hardware
else
    kind=software
fi
exec 3>&- 2>/dev/null
echo "# this host's KVM: $kind"

t=version_names_the_kind_of_kvm_and_what_auto_picks
run --version
if [ "$kind" = hardware ]; then want="kvm: hardware; auto runs jobs on KVM"
else want="kvm: $kind; auto runs jobs on the emulator"; fi
if [ $rc -ne 0 ]; then
    bad $t "exit $rc: $(cat "$T/err")"
elif ! grep -qxF "$want" "$T/out"; then
    bad $t "want the line '$want' in: $(tr '\n' '|' <"$T/out")"
else
    ok $t
fi

t=auto_runs_sha256_elf_with_the_right_digest
head -c 100000 /dev/urandom >"$T/in"
digest=$(sha256sum "$T/in" | cut -d' ' -f1)
run run --input "$T/in" "$G/sha256.elf"
case $kind in
hardware) want_err="" ;;
none) want_err="tincan: KVM is not usable here; running on the emulator (--backend emu)" ;;
pvm) want_err="tincan: KVM here is kvm_pvm (no vmx/svm): auto runs on the emulator, which starts short jobs faster and keeps the whole ABI; --backend kvm runs on kvm_pvm (see tincan-abi(7))" ;;
*) want_err="tincan: KVM here is a software KVM, not hardware (no vmx/svm), and cannot run the guest ABI; running on the emulator (--backend emu)" ;;
esac
if [ $rc -ne 0 ]; then
    bad $t "exit $rc: $(cat "$T/err")"
elif [ "$(cat "$T/out")" != "$digest" ]; then
    bad $t "stdout '$(head -c 100 "$T/out")', want $digest"
elif [ "$(cat "$T/err")" != "$want_err" ]; then
    bad $t "stderr '$(cat "$T/err")', want '$want_err'"
else
    ok $t
fi

t=auto_json_says_which_backend_ran
run run --json "$G/hello_sdk.elf"
if [ "$kind" = hardware ]; then want=kvm; else want=emu; fi
got=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["status"], j["backend"])' "$T/out" 2>&1)
if [ $rc -ne 0 ] || [ "$got" != "ok $want" ]; then
    bad $t "exit $rc, status and backend '$got', want 'ok $want'; stderr: $(cat "$T/err")"
elif [ -s "$T/err" ]; then
    bad $t "--json wrote to stderr: $(cat "$T/err")"
else
    ok $t
fi

t=backend_kvm_runs_on_hardware_and_pvm_and_is_refused_elsewhere
run run --json --backend kvm --input "$T/in" "$G/sha256.elf"
if [ "$kind" = hardware ] || [ "$kind" = pvm ]; then
    got=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["status"], j["backend"], j["output"].strip())' "$T/out" 2>&1)
    if [ $rc -ne 0 ] || [ "$got" != "ok kvm $digest" ] || [ -s "$T/err" ]; then
        bad $t "$kind: exit $rc, got '$got', want 'ok kvm $digest', stderr '$(cat "$T/err")'"
    else
        ok $t
    fi
elif [ $rc -ne 125 ] || [ -s "$T/out" ] || [ "$(awk 'END { print NR }' "$T/err")" != 1 ]; then
    bad $t "$kind: exit $rc (want 125), stdout $(wc -c <"$T/out") bytes, stderr: $(cat "$T/err")"
else
    ok $t
fi

t=check_backend_kvm_runs_on_hardware_and_pvm_and_is_refused_elsewhere
mkdir -p "$T/suite"
cp "$G/hello_once.bin" "$T/suite/h.bin"
printf 'Hello, World!\n' >"$T/suite/h.out"
run check --backend kvm "$T/suite"
if [ "$kind" = hardware ] || [ "$kind" = pvm ]; then
    if [ $rc -ne 0 ]; then
        bad $t "$kind: exit $rc: $(cat "$T/out" "$T/err")"
    else
        ok $t
    fi
elif [ $rc -ne 125 ] || [ -s "$T/out" ] || [ "$(awk 'END { print NR }' "$T/err")" != 1 ] ||
    ! grep -q '^tincan: --backend kvm: KVM ' "$T/err"; then
    bad $t "$kind: exit $rc (want 125), stdout '$(cat "$T/out")', stderr: $(cat "$T/err")"
else
    ok $t
fi

# Every SDK guest that uses SSE (the C ones) ends ok with auto: the first
# thing a user writes in C runs.
t=auto_runs_every_c_guest
fails=""
for g in hello_sdk fib primes bf mandelbrot; do
    "$TINCAN" run --json "$G/$g.elf" </dev/null >"$T/out" 2>"$T/err"
    st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/out" 2>&1)
    [ "$st" = ok ] || fails="$fails $g:$st"
done
if [ -n "$fails" ]; then
    bad $t "not ok:$fails"
else
    ok $t
fi

finish
