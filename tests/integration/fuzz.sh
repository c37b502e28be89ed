#!/usr/bin/env bash
# tests/integration/fuzz.sh - `tincan fuzz` end to end, with fixed seeds and
# budgets of executions, on the planted-bug guests of guests/fuzz/ and on
# hostile ones. Env: BUILD (default build), TINCAN_TEST_BACKEND:
#   emu (tests/run-unit, on the host): each planted bug is found and
#       minimized, blind fuzzing with the same budget does not find the magic
#       (a dictionary does), two runs with one seed are byte-identical (-j 1
#       and -j 2), the --to-check cases pass `tincan check` and fail once the
#       bug is fixed, guests that fault on every input, never halt or flood
#       keep the fuzzer bounded, SIGINT saves what was found, --json-stats,
#       --progress, and every bad usage;
#   kvm (the default; tests/run-integration, in the KVM lane): --backend kvm
#       fuzzes on KVM, --confirm confirms a real crash and does not count an
#       emulator quirk, and `tincan check` runs an exported case on KVM.
# Prints "ok NAME" / "FAIL NAME: why" per test and "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh" fuzz
BACKEND=${TINCAN_TEST_BACKEND:-kvm}
F=$G/fuzz
FUZZ_PID=
trap '[ -n "$FUZZ_PID" ] && kill -KILL "$FUZZ_PID" 2>/dev/null; rm -rf "$T"' EXIT

# fuzz NAME ARGS...: `tincan fuzz ARGS`, stdout in $T/NAME.out, stderr in
# $T/NAME.err, the exit status in $rc. Every run gets its own directory
# $T/NAME for its crashes, corpus and statistics.
fuzz() {
    local name=$1
    shift
    mkdir -p "$T/$name"
    "$TINCAN" fuzz "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
    rc=$?
}

# dirs NAME: the --crashes, --corpus and --json-stats of run NAME.
dirs() {
    echo --crashes "$T/$1/crashes" --corpus "$T/$1/corpus" \
        --json-stats "$T/$1/stats.json"
}

# json FILE EXPR: a Python expression over the JSON document d.
json() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# want NAME COND WHY: ok when the shell condition holds, else FAIL with WHY
# and the run's output.
want() {
    if eval "$2"; then
        ok "$1"
    else
        bad "$1" "$3 (exit $rc); stdout: $(cat "$T/$1.out" 2>/dev/null);
stderr: $(head -c 600 "$T/$1.err" 2>/dev/null)"
    fi
}

# buckets NAME: the names of run NAME's buckets, one a line, sorted.
buckets() {
    ls "$T/$1/crashes" 2>/dev/null | sed -n 's/\.in$//p' | sort
}

# One bucket whose name matches GLOB, its input checked by a Python
# predicate over the bytes b: found_case NAME GLOB PREDICATE.
found_case() {
    local name=$1 glob=$2 pred=$3 list in
    list=$(buckets "$name")
    in=$T/$name/crashes/$list.in
    # shellcheck disable=SC2053
    if [ $rc -ne 1 ]; then
        bad "$name" "exit $rc, want 1 (a crash found): $(cat "$T/$name.out")"
    elif [ "$(echo "$list" | wc -l)" -ne 1 ] || [[ $list != $glob ]]; then
        bad "$name" "buckets '$list', want one named $glob"
    elif ! python3 -c 'import sys
b = open(sys.argv[1], "rb").read()
sys.exit(0 if ('"$pred"') else 1)' "$in"; then
        bad "$name" "minimized input $(xxd -p "$in" | head -c 200) fails: $pred"
    elif [ "$(json "$T/$name/crashes/$list.json" 'd["result"]["status"]')" != \
        "${list%%-*}" ]; then
        bad "$name" "$list.json: $(head -c 400 "$T/$name/crashes/$list.json")"
    else
        ok "$name"
    fi
}

if [ "$BACKEND" = emu ]; then
    # --- each planted bug, found and minimized -----------------------------
    # Budgets are about twice the execution that finds each with seed 1 and
    # -j 2 (magic 258, length 535, checksum 780, state 2006).
    S=$T/suite
    fuzz magic --execs 1000 -j 2 --seed 1 $(dirs magic) --to-check "$S" \
        "$F/magic.elf"
    found_case magic 'fault-pf-0x*' 'b == b"TCNK"'
    want magic_json \
        '[ "$(json "$T/magic/crashes/$(buckets magic).json" \
            "(d[\"seed\"], d[\"input_bytes\"], d[\"result\"][\"fault\"][\"cr2\"], \
              \"wall_us\" in d[\"result\"], d[\"found_at_exec\"] <= 1000)")" = \
            "(1, 4, '"'"'0x0'"'"', False, True)" ]' \
        "the bucket's JSON is not the seed, 4 bytes, cr2 0, no wall time"
    fuzz length --execs 1500 -j 2 --seed 1 $(dirs length) --to-check "$S" \
        "$F/length.elf"
    found_case length 'mmio-0x1000000' \
        'len(b) == 3 and b[0:1] == b"L" and b[2] >= 0x80'
    fuzz checksum --execs 2000 -j 2 --seed 1 $(dirs checksum) \
        --to-check "$S" "$F/checksum.elf"
    found_case checksum 'fault-pf-0x0' \
        'len(b) == 7 and b[:2] == b"CK" and b[2] % 8 >= 4 and
         __import__("functools").reduce(lambda h, c: ((h ^ c) * 16777619)
             & 0xffffffff, b[:-4], 2166136261) == int.from_bytes(b[-4:],
             "little")'
    fuzz state --execs 4000 -j 2 --seed 1 $(dirs state) --to-check "$S" \
        "$F/state.elf"
    found_case state 'unhandled_io-0x66' 'b == b"INITAUTHOPENSEEKBOOM"'
    want state_summary \
        'grep -q "^  crash    unhandled_io-0x66: 20 bytes" "$T/state.out" &&
         grep -q "^1 crash bucket, 0 hang buckets in .*; 1 check case in " \
            "$T/state.out"' "the summary does not list the bucket"

    # --- the feedback does the work -----------------------------------------
    fuzz blind --execs 1000 -j 2 --seed 1 --no-coverage $(dirs blind) \
        "$F/magic.elf"
    want blind '[ $rc -eq 0 ] && [ -z "$(buckets blind)" ] &&
        grep -q "emu, blind" "$T/blind.out"' \
        "blind fuzzing found the magic with the same budget"
    printf '# the magic\nmagic="TCNK"\n' >"$T/magic.dict"
    fuzz blind_dict --execs 1000 -j 2 --seed 1 --no-coverage \
        --dict "$T/magic.dict" $(dirs blind_dict) "$F/magic.elf"
    found_case blind_dict 'fault-pf-0x*' 'b == b"TCNK"'

    # --- determinism: same seed, same files ---------------------------------
    for j in 1 2; do
        for r in a b; do
            fuzz "det$j$r" --execs 1000 -j $j --seed 5 $(dirs "det$j$r") \
                "$F/state.elf"
            rm -f "$T/det$j$r/stats.json"
        done
        if ! diff -r "$T/det${j}a" "$T/det${j}b" >"$T/det.diff"; then
            bad "determinism_j$j" "two runs differ: $(head -20 "$T/det.diff")"
        elif [ "$(ls "$T/det${j}a/corpus" | wc -l)" -lt 3 ]; then
            bad "determinism_j$j" "a corpus of $(ls "$T/det${j}a/corpus" |
                wc -l) inputs proves little"
        else
            ok "determinism_j$j"
        fi
    done

    # --- --to-check: the findings as a regression suite ---------------------
    "$TINCAN" check --backend emu "$S" >"$T/check.out" 2>&1
    rc=$?
    want check '[ $rc -eq 0 ] && grep -q "^4 cases: 4 passed" "$T/check.out"' \
        "tincan check on the exported cases: $(cat "$T/check.out")"
    for g in magic length checksum state; do
        cp "$F/${g}_fixed.elf" "$S"/"$g"-*.elf
    done
    "$TINCAN" check --backend emu "$S" >"$T/check_fixed.out" 2>&1
    rc=$?
    want check_fixed '[ $rc -eq 1 ] &&
        grep -q "^4 cases: 0 passed, 4 failed" "$T/check_fixed.out" &&
        grep -q "^FAIL    magic-fault-pf-0x[0-9a-f]*: status ok, want fault" \
            "$T/check_fixed.out" &&
        grep -q "^FAIL    state-unhandled_io-0x66: status ok, want unhandled_io" \
            "$T/check_fixed.out"' \
        "with the bugs fixed the cases must fail: $(cat "$T/check_fixed.out")"

    # --- hostile guests: bounded, and the fuzzer goes on --------------------
    fuzz ud2 --execs 500 -j 2 --seed 1 $(dirs ud2) "$G/ud2.bin"
    want ud2 '[ $rc -eq 1 ] && [ "$(buckets ud2)" = fault-ud-0x10000 ] &&
        [ "$(ls "$T/ud2/crashes" | wc -l)" -eq 2 ] &&
        [ ! -s "$T/ud2/crashes/fault-ud-0x10000.in" ] &&
        [ "$(ls "$T/ud2/corpus" | wc -l)" -eq 0 ] &&
        [ "$(json "$T/ud2/stats.json" "(d[\"execs\"], d[\"crash_execs\"])")" = \
            "(500, 500)" ]' \
        "a guest that always faults is one bucket of an empty input"
    fuzz spin --execs 40 -j 2 --timeout 20ms $(dirs spin) "$G/spin.bin"
    want spin '[ $rc -eq 0 ] && [ -z "$(buckets spin)" ] &&
        [ "$(json "$T/spin/stats.json" "(d[\"execs\"], d[\"timeouts\"])")" = \
            "(40, 40)" ]' "timeouts are not crashes unless asked"
    fuzz spin_hang --execs 40 -j 2 --timeout 20ms --crash-on timeout \
        $(dirs spin_hang) "$G/spin.bin"
    want spin_hang '[ $rc -eq 1 ] && [ "$(buckets spin_hang)" = timeout ] &&
        grep -q "^  hang     timeout: 0 bytes" "$T/spin_hang.out" &&
        grep -q "^0 crash buckets, 1 hang bucket in " "$T/spin_hang.out"' \
        "--crash-on timeout keeps the timeout as a hang"
    fuzz insn_hang --execs 100 -j 2 --max-insns 5000 --crash-on insn_limit \
        $(dirs insn_hang) "$G/spin.bin"
    want insn_hang '[ $rc -eq 1 ] && [ "$(buckets insn_hang)" = insn_limit ]' \
        "--max-insns makes the hang deterministic"
    fuzz flood_short --execs 100 -j 2 $(dirs flood_short) "$G/flood.bin"
    fuzz flood --execs 1000 -j 2 $(dirs flood) "$G/flood.bin"
    want flood '[ $rc -eq 0 ] && [ -z "$(buckets flood)" ] &&
        [ $(( $(json "$T/flood/stats.json" "d[\"peak_rss_kib\"]") -
              $(json "$T/flood_short/stats.json" "d[\"peak_rss_kib\"]") )) \
          -lt 8192 ]' \
        "1000 flooding executions grew the fuzzer by 8 MiB or more than 100"

    fuzz until --until-crash --execs 100000 -j 2 --seed 1 $(dirs until) \
        "$F/magic.elf"
    want until '[ $rc -eq 1 ] && [ "$(json "$T/until/stats.json" \
        "(d[\"stopped_by\"], d[\"execs\"] < 1000)")" = "('"'"'crash'"'"', True)" ]' \
        "--until-crash must stop at the first crash"

    # --- seeds, statistics, progress -----------------------------------------
    mkdir -p "$T/seeded/corpus"
    printf 'TCNK' >"$T/seeded/corpus/magic"
    printf 'nothing' >"$T/seeded/corpus/other"
    fuzz seeded --execs 10 --seed 3 $(dirs seeded) "$F/magic.elf"
    want seeded '[ $rc -eq 1 ] &&
        [ "$(json "$T/seeded/stats.json" \
            "(d[\"execs\"], d[\"seed\"], d[\"stopped_by\"], d[\"coverage\"],
              d[\"buckets\"][0][\"found_at_exec\"], d[\"jobs\"])")" = \
            "(10, 3, '"'"'execs'"'"', True, 1, 1)" ] &&
        [ "$(ls "$T/seeded/corpus" | wc -l)" -eq 2 ]' \
        "a crashing seed is found at exec 1, seeds are not written again"
    fuzz progress --execs 15 --timeout 100ms --progress $(dirs progress) \
        "$G/spin.bin"
    want progress '[ $rc -eq 0 ] && grep -Eq "^tincan fuzz: [0-9]+ execs, \
[0-9]+/s, corpus [0-9]+, edges [0-9]+, buckets 0, last find [0-9.]+s ago$" \
        "$T/progress.err"' "no progress line on stderr"

    # --- SIGINT: stop, save, summarize --------------------------------------
    mkdir -p "$T/int"
    "$TINCAN" fuzz -j 2 --seed 1 $(dirs int) "$F/magic.elf" \
        >"$T/int.out" 2>"$T/int.err" </dev/null &
    FUZZ_PID=$!
    for _ in $(seq 600); do
        [ -e "$T/int/crashes/$(buckets int).json" ] && [ -n "$(buckets int)" ] &&
            break
        sleep 0.1
    done
    kill -INT "$FUZZ_PID"
    wait "$FUZZ_PID"
    rc=$?
    FUZZ_PID=
    want int '[ $rc -eq 1 ] &&
        grep -q "^tincan: Interrupt: stopping; what was found is saved$" \
            "$T/int.err" &&
        grep -q "stopped by signal" "$T/int.out" &&
        [ "$(json "$T/int/stats.json" "d[\"stopped_by\"]")" = signal ] &&
        [ -s "$T/int/crashes/$(buckets int).in" ]' \
        "SIGINT must stop the run with what it found saved"

    # --- bad usage: one line, exit 125, nothing run -------------------------
    printf 'ok="x"\nbad="\\q"\n' >"$T/bad.dict"
    : >"$T/file"
    usage_case usage_no_guest fuzz
    usage_case usage_two_guests fuzz "$F/magic.elf" "$F/magic.elf"
    usage_case usage_missing_guest fuzz "$T/missing.elf"
    usage_case usage_execs_and_duration fuzz --execs 10 --duration 1s \
        "$F/magic.elf"
    usage_case usage_jobs_0 fuzz -j 0 "$F/magic.elf"
    usage_case usage_jobs_257 fuzz -j 257 "$F/magic.elf"
    usage_case usage_crash_on_ok fuzz --crash-on ok "$F/magic.elf"
    usage_case usage_max_len_0 fuzz --max-len 0 "$F/magic.elf"
    usage_case usage_max_len_2m fuzz --max-len 2M "$F/magic.elf"
    usage_case usage_bad_dict fuzz --dict "$T/bad.dict" "$F/magic.elf"
    usage_case usage_missing_dict fuzz --dict "$T/missing.dict" "$F/magic.elf"
    usage_case usage_unknown_option fuzz --bogus "$F/magic.elf"
    usage_case usage_no_value fuzz "$F/magic.elf" --execs
    usage_case usage_timeout_0 fuzz --timeout 0ms "$F/magic.elf"
    usage_case usage_bad_duration fuzz --duration 5x "$F/magic.elf"
    usage_case usage_bad_seed fuzz --seed -1 "$F/magic.elf"
    usage_case usage_kvm_max_insns fuzz --backend kvm --max-insns 9 \
        "$F/magic.elf"
    usage_case usage_input_too_big fuzz --mem 1M --max-len 1M "$F/magic.elf"
    usage_case usage_corpus_is_a_file fuzz --corpus "$T/file" "$F/magic.elf"
    usage_case usage_crashes_under_a_file fuzz --crashes "$T/file/crashes" \
        "$F/magic.elf"
    "$TINCAN" fuzz --dict "$T/bad.dict" "$F/magic.elf" 2>"$T/dict.err"
    rc=$?
    want dict_error_names_the_line '[ $rc -eq 125 ] &&
        grep -q "^tincan: --dict $T/bad.dict: line 2: a backslash starts" \
            "$T/dict.err"' "$(cat "$T/dict.err")"
    "$TINCAN" fuzz --help >"$T/help.out" 2>&1
    rc=$?
    want help '[ $rc -eq 0 ] && grep -q "^usage: tincan fuzz" "$T/help.out"' \
        "tincan fuzz --help"
else
    # --- on KVM: blind fuzzing, confirming, a case checked on KVM -----------
    mkdir -p "$T/kvm/corpus" "$T/confirm/corpus"
    printf 'TCNK and more' >"$T/kvm/corpus/magic"
    printf 'TCNKtail' >"$T/confirm/corpus/magic"
    fuzz kvm --backend kvm --execs 40 --seed 1 $(dirs kvm) "$F/magic.elf"
    found_case kvm 'fault-pf-0x*' 'b == b"TCNK"'
    want kvm_backend '[ "$(json "$T/kvm/crashes/$(buckets kvm).json" \
        "d[\"result\"][\"backend\"]")" = kvm ] &&
        grep -q "kvm, blind" "$T/kvm.out"' "the crash did not run on KVM"
    fuzz confirm --confirm --execs 20 --seed 1 $(dirs confirm) \
        --to-check "$T/confirm/suite" "$F/magic.elf"
    found_case confirm 'fault-pf-0x*' 'b == b"TCNK"'
    want confirm_json '[ "$(json "$T/confirm/crashes/$(buckets confirm).json" \
        "(d[\"confirmed_on_kvm\"], d[\"result\"][\"backend\"],
          d[\"kvm_result\"][\"backend\"], d[\"kvm_result\"][\"status\"])")" = \
        "(True, '"'"'emu'"'"', '"'"'kvm'"'"', '"'"'fault'"'"')" ] &&
        grep -q ", 0 not confirmed on KVM" "$T/confirm.out"' \
        "the crash was not confirmed on KVM"
    "$TINCAN" check "$T/confirm/suite" >"$T/check.out" 2>&1
    rc=$?
    want check_on_kvm '[ $rc -eq 0 ] &&
        grep -q "^1 cases: 1 passed" "$T/check.out"' \
        "the exported case on KVM: $(cat "$T/check.out")"
    fuzz quirk --confirm --execs 10 --seed 1 $(dirs quirk) \
        --to-check "$T/quirk/suite" "$G/rex_r_mov.bin"
    want quirk '[ $rc -eq 0 ] && [ "$(buckets quirk)" = fault-ud-0x10004 ] &&
        [ "$(json "$T/quirk/crashes/fault-ud-0x10004.json" \
            "(d[\"confirmed_on_kvm\"], d[\"kvm_result\"][\"status\"])")" = \
            "(False, '"'"'ok'"'"')" ] &&
        grep -q "^  emu-only fault-ud-0x10004: " "$T/quirk.out" &&
        grep -q "^0 crash buckets, 0 hang buckets, 1 not confirmed on KVM" \
            "$T/quirk.out" &&
        [ -z "$(ls "$T/quirk/suite")" ]' \
        "an emulator-only crash must not count, nor become a check case"
fi

finish
