#!/usr/bin/env bash
# tests/integration/batch.sh - tincan batch end to end: a 2,000-job batch
# mixing every status a guest can reach, every code and input source (files,
# hex, base64, URLs from a server on 127.0.0.1 that this script starts) and
# malformed lines, interrupted by SIGINT and finished with --resume; SIGTERM
# letting the running job end; --ordered; progress; bad usage.
# Needs a usable /dev/kvm (the lane: tests/vm/run tests/integration/batch.sh),
# or TINCAN_TEST_BACKEND=emu, which puts "backend": "emu" in every job (how
# tests/run-unit runs it on a host without KVM).
# Env: BUILD (default build), TINCAN_TEST_BACKEND. Prints "ok NAME" /
# "FAIL NAME: why" per test and "N passed, M failed"; exits 1 on a failure.
set -u

. "$(dirname "$0")/lib.sh" batch
backend_from_env
JOBS_PY=tests/integration/batch_jobs.py
N_JOBS=2000

lines() { # lines FILE: how many newlines
    if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}
# job ID FIELDS: one job line, with the backend under test and, unless
# FIELDS name one, a deadline a loaded lane cannot reach by accident.
job() {
    local b=
    [ -n "$BACKEND" ] && b=",\"backend\":\"$BACKEND\""
    case "$2" in
    *timeout_ms*) ;;
    *) b="$b,\"timeout_ms\":20000" ;;
    esac
    echo "{\"id\":\"$1\",$2$b}"
}

# GCC 12's ASan allocator is not fork-safe: a child forked while another
# thread holds its lock blocks in malloc, and the emulator's child still
# mallocs as Unicorn translates (seccomp then reports a futex call as
# sandbox_violation). Since b2e96c8 that is rare (1 of 16,000 sanitized emu
# jobs at -j 2 to 4) but a 2,000-job batch exact to the job cannot allow it,
# so a sanitized build runs only KVM jobs here: in the lane, without the
# emulator's insn_limit jobs; on the emulator, not at all.
EMU_JOBS=1
if grep -aq __asan_init "$TINCAN"; then
    if [ "$BACKEND" = emu ]; then
        echo "skip batch.sh: an ASan build forks threads unsafely for the emulator; the lane runs it on KVM"
        exit 0
    fi
    EMU_JOBS=0
fi

python3 tests/fetch_server.py --root "$G" >"$T/port" 2>"$T/server.err" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.1
done
PORT=$(head -n 1 "$T/port")
# What the jobs below may reach: the guests, and the test's server.
ALLOW="--allow-paths $G --allow-urls=127.0.0.1"

# --- the big batch: SIGINT partway, then --resume ---------------------------

t=batch_of_2000_interrupted_by_sigint_then_resumed_has_every_result_once
if [ -z "$PORT" ]; then
    bad $t "the test server did not start: $(cat "$T/server.err")"
else
    python3 $JOBS_PY gen $N_JOBS "$G" "http://127.0.0.1:$PORT" "$BACKEND" \
        $EMU_JOBS "$T/jobs" "$T/expect"
    "$TINCAN" batch -j 2 $ALLOW -o "$T/out" "$T/jobs" 2>"$T/err1" &
    pid=$!
    # Interrupt once a few hundred results are in (or give up after 10 min).
    for _ in $(seq 6000); do
        [ "$(lines "$T/out")" -ge 300 ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill -INT $pid
    wait $pid
    rc1=$?
    n1=$(lines "$T/out")
    partial=$(python3 $JOBS_PY partial "$T/out")
    # A batch killed mid-write leaves a partial line: --resume must drop it.
    printf '{"id":"job-1999","status":"o' >>"$T/out"
    "$TINCAN" batch -j 2 $ALLOW --resume -o "$T/out" "$T/jobs" 2>"$T/err2"
    rc2=$?
    if [ $rc1 -ne 130 ]; then
        bad $t "after SIGINT: exit $rc1, want 130; stderr: $(head -c 300 "$T/err1")"
    elif [ "$partial" != "$n1" ]; then
        bad $t "after SIGINT the results are not whole lines once each: $partial"
    elif [ "$n1" -ge $N_JOBS ]; then
        bad $t "the SIGINT came too late: $n1 results were already written"
    elif ! grep -q "^tincan: Interrupt: reading no more jobs" "$T/err1"; then
        bad $t "no interrupt notice on stderr: $(head -c 300 "$T/err1")"
    elif [ $rc2 -ne 1 ]; then
        bad $t "--resume: exit $rc2, want 1 (some lines are errors); stderr: $(head -c 300 "$T/err2")"
    elif ! grep -q "dropping an incomplete last line" "$T/err2"; then
        bad $t "--resume did not report the partial line: $(head -c 300 "$T/err2")"
    elif ! got=$(python3 $JOBS_PY check "$T/out" "$T/expect" $want_backend); then
        bad $t "$got"
    else
        ok $t
    fi
fi

# --- SIGTERM: the running job ends at its deadline and is written -----------

t=sigterm_lets_the_running_job_end_and_writes_its_result
{
    job slow '"path":"spin.bin","timeout_ms":3000'
    job after1 '"code_hex":"f4"'
    job after2 '"code_hex":"f4"'
} >"$T/jobs2"
"$TINCAN" batch -j 1 $ALLOW -o "$T/out2" "$T/jobs2" 2>"$T/err" &
pid=$!
# Signal once the slow job's child runs (tincan's startup varies in the lane).
for _ in $(seq 300); do
    [ -n "$(cat /proc/$pid/task/*/children 2>/dev/null)" ] && break
    sleep 0.1
done
sleep 0.2
kill -TERM $pid
wait $pid
rc=$?
got=$(python3 -c 'import json,sys; print([(j["id"], j["status"]) for j in map(json.loads, open(sys.argv[1]))])' "$T/out2" 2>&1)
if [ $rc -ne 143 ]; then
    bad $t "exit $rc, want 143; stderr: $(cat "$T/err")"
elif [ "$got" != "[('slow', 'timeout')]" ]; then
    bad $t "results $got, want only slow's timeout"
else
    ok $t
fi

# --- --ordered, progress and stdin -------------------------------------------

t=inputs_run_each_in_its_own_vm_and_keep_their_order
{
    job multi '"path":"echo.bin","inputs":[{"input_hex":"41 42"},{"input_b64":"aGk="},{"input_path":"exit42.bin"}]'
    job faults '"path":"ud2.bin","inputs":[{"input_hex":"00"},{"input_hex":"01"}]'
    job badinput '"path":"echo.bin","inputs":[{"input_hex":"41"},{"input_hex":"4"}]'
} >"$T/jobs_in"
"$TINCAN" batch -j 2 --ordered --allow-paths "$G" "$T/jobs_in" >"$T/out_in" 2>"$T/err"
rc=$?
got=$(python3 - "$T/out_in" "$G/exit42.bin" <<'PY'
import base64, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
exit42 = open(sys.argv[2], "rb").read()
m, f, b = lines
print(m["id"], m["status"], sorted(m),
      [base64.b64decode(r["output_b64"]) == want
       for r, want in zip(m["results"], [b"AB", b"hi", exit42])],
      len(m["results"]))
print(f["id"], f["status"], [r["status"] for r in f["results"]],
      [r["fault"]["name"] for r in f["results"]])
print(b["id"], b["status"], b["message"])
PY
)
want="multi ok ['id', 'results', 'status'] [True, True, True] 3
faults fault ['fault', 'fault'] ['#UD', '#UD']
badinput error line 3: \"inputs[1].input_hex\": bad hex: a lone digit at offset 0; write whole bytes like 'e6 10'"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1 (one error line); stderr: $(cat "$T/err")"
elif [ "$got" != "$(printf '%b' "$want" | sed 's/\\"/"/g')" ]; then
    bad $t "got: $got"
else
    ok $t
fi

t=ordered_writes_results_in_input_order
{
    job first '"path":"spin.bin","timeout_ms":300'
    for i in 2 3 4 5 6 7; do job "n$i" '"path":"hello_once.bin"'; done
} >"$T/jobs3"
"$TINCAN" batch -j 2 $ALLOW --ordered "$T/jobs3" >"$T/out3" 2>"$T/err"
rc=$?
got=$(python3 -c 'import json,sys; print(" ".join(j["id"] for j in map(json.loads, open(sys.argv[1]))))' "$T/out3" 2>&1)
if [ $rc -ne 0 ]; then
    bad $t "exit $rc, want 0; stderr: $(cat "$T/err")"
elif [ "$got" != "first n2 n3 n4 n5 n6 n7" ]; then
    bad $t "ids in the order '$got'"
elif [ -s "$T/err" ]; then
    bad $t "stderr is not a terminal but has: $(cat "$T/err")"
else
    ok $t
fi

t=progress_prints_a_summary_with_counts_and_percentiles
"$TINCAN" batch -j 2 $ALLOW --progress - <"$T/jobs3" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] || [ "$(lines "$T/out")" -ne 7 ]; then
    bad $t "exit $rc and $(lines "$T/out") results, want 0 and 7; stderr: $(cat "$T/err")"
elif ! tail -n 1 "$T/err" | grep -Eq '^tincan batch: 7 results in [0-9.]+m?s, [0-9.]+ jobs/s; ok 6, timeout 1; job wall time p50 [0-9.]+(us|ms|s), p95 [0-9.]+(us|ms|s), p99 [0-9.]+(us|ms|s)$'; then
    bad $t "summary: $(tail -n 1 "$T/err")"
else
    ok $t
fi

t=bad_lines_get_error_results_and_the_rest_runs
{
    echo '[1,2]'
    echo '{"id":["x"],"code_hex":"f4"}'
    job good '"code_hex":"b0 41 e6 10 f4"'
    echo '{"id":"neg","code_hex":"f4","mem":-1}'
} >"$T/jobs4"
"$TINCAN" batch -j 2 --ordered "$T/jobs4" >"$T/out" 2>"$T/err"
rc=$?
got=$(python3 -c 'import json,sys; print("|".join(j.get("message") if j["status"] == "error" else j["output"] for j in map(json.loads, open(sys.argv[1]))))' "$T/out" 2>&1)
want='line 1: a job must be a JSON object, not an array|line 2: "id" must be a string or an integer, not an array|A|line 4: "mem" -1 is out of range (1M to 1G)'
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1; stderr: $(cat "$T/err")"
elif [ "$got" != "$want" ]; then
    bad $t "got '$got'"
else
    ok $t
fi

t=line_over_64m_is_an_error_and_the_next_line_runs
python3 -c 'import sys; sys.stdout.write("{\"id\":\"big\",\"code_hex\":\"" + "f4" * (33 << 20) + "\"}\n")' >"$T/jobs6"
job after '"code_hex":"b0 41 e6 10 f4"' >>"$T/jobs6"
"$TINCAN" batch -j 1 --ordered "$T/jobs6" >"$T/out" 2>"$T/err"
rc=$?
got=$(python3 -c 'import json,sys; print("|".join(j["message"] if j["status"] == "error" else j["output"] for j in map(json.loads, open(sys.argv[1]))))' "$T/out" 2>&1)
rm -f "$T/jobs6"
if [ $rc -ne 1 ]; then
    bad $t "exit $rc, want 1; stderr: $(cat "$T/err")"
elif [ "$got" != 'line 1: the line is longer than 64 MiB; put large code in a file ("path") or behind a URL ("url")|A' ]; then
    bad $t "got '$got'"
else
    ok $t
fi

t=cache_dir_keeps_a_url_the_batch_fetched_once
sha=$(sha256sum "$G/exit42.bin" | cut -c1-64)
url="http://127.0.0.1:$PORT/files/exit42.bin"
requests() {
    python3 -c 'import sys,urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().strip())' \
        "http://127.0.0.1:$PORT/count-of/files/exit42.bin"
}
for i in 1 2 3; do job "u$i" '"url":"'"$url"'","sha256":"'"$sha"'"'; done >"$T/jobs5"
before=$(requests)
"$TINCAN" batch -j 1 $ALLOW --cache-dir "$T/cache" "$T/jobs5" >"$T/out" 2>"$T/err"
rc=$?
after=$(requests)
got=$(python3 -c 'import json,sys; print([(j["id"], j["exit_code"]) for j in map(json.loads, open(sys.argv[1]))])' "$T/out" 2>&1)
if [ $rc -ne 0 ] || [ "$got" != "[('u1', 42), ('u2', 42), ('u3', 42)]" ]; then
    bad $t "exit $rc, results $got; stderr: $(cat "$T/err")"
elif [ $((after - before)) -ne 1 ]; then
    bad $t "the server saw $((after - before)) requests for 3 jobs, want 1"
elif ! cmp -s "$T/cache/$sha" "$G/exit42.bin"; then
    bad $t "no cache entry $T/cache/$sha with exit42.bin's bytes"
else
    ok $t
fi

t=results_that_cannot_be_written_exit_123_with_one_line
"$TINCAN" batch -j 1 $ALLOW "$T/jobs3" >/dev/full 2>"$T/err"
rc=$?
if [ $rc -ne 123 ]; then
    bad $t "exit $rc, want 123; stderr: $(cat "$T/err")"
elif [ "$(cat "$T/err")" != "tincan: cannot write results to stdout: No space left on device" ]; then
    bad $t "stderr: $(cat "$T/err")"
else
    ok $t
fi

# --- what a job may reach on the host (issue 11, finding 6) -----------------
# messages FILE: "id|status|message", or "id|status|output" with the
# output as a JSON string, per result in input order.
messages() {
    python3 -c 'import json,sys
for j in map(json.loads, open(sys.argv[1])):
    print("%s|%s|%s" % (j.get("id"), j["status"], j.get("message")
                        if j["status"] == "error" else json.dumps(j["output"])))' "$1"
}
# want_results NAME: ok when the batch exited 1 (some lines are errors) and
# the messages of $T/out are exactly $T/want.
want_results() {
    if [ $rc -ne 1 ]; then
        bad "$1" "exit $rc, want 1 (124 is a hang); stderr: $(cat "$T/err")"
    elif ! messages "$T/out" | diff -u "$T/want" - >"$T/diff"; then
        bad "$1" "results differ: $(cat "$T/diff")"
    else
        ok "$1"
    fi
}

t=job_files_and_urls_are_refused_unless_the_batch_allows_them
{
    job p '"path":"hello_once.bin"'
    job ip '"code_hex":"f4","input_path":"/proc/self/environ"'
    job u '"url":"http://127.0.0.1:'"$PORT"'/files/exit42.bin"'
    job iu '"code_hex":"f4","input_url":"http://169.254.169.254/"'
    job inline '"code_hex":"b0 41 e6 10 f4"'
} >"$T/jobs7"
"$TINCAN" batch -j 2 --ordered "$T/jobs7" >"$T/out" 2>"$T/err"
rc=$?
cat >"$T/want" <<'EOF'
p|error|line 1: "path": host files are refused in a job description; allow those beneath a directory with --allow-paths DIR
ip|error|line 2: "input_path": host files are refused in a job description; allow those beneath a directory with --allow-paths DIR
u|error|line 3: "url": URLs are refused in a job description; allow fetching with --allow-urls (or --allow-urls=HOST,... for some hosts)
iu|error|line 4: "input_url": URLs are refused in a job description; allow fetching with --allow-urls (or --allow-urls=HOST,... for some hosts)
inline|ok|"A"
EOF
want_results $t

t=allow_paths_confines_job_files_beneath_its_directory
D=$T/jobdir
mkdir -p "$D/data"
cp "$G/echo.bin" "$D/echo.bin"
printf 'mine\n' >"$D/data/in.txt"
printf 'TOP SECRET\n' >"$T/secret"
ln -s ../secret "$D/leak.txt"
ln -s data/in.txt "$D/alias.txt"
mkfifo "$D/fifo.txt"
{
    job rel '"path":"echo.bin","input_path":"data/in.txt"'
    job abs '"path":"'"$D"'/echo.bin","input_path":"'"$D"'/data/in.txt"'
    job alias '"path":"echo.bin","input_path":"alias.txt"'
    job up '"path":"echo.bin","input_path":"../secret"'
    job out '"path":"echo.bin","input_path":"'"$T"'/secret"'
    job env '"path":"echo.bin","input_path":"/proc/self/environ"'
    job link '"path":"echo.bin","input_path":"leak.txt"'
    job fifo '"path":"echo.bin","input_path":"fifo.txt"'
} >"$T/jobs8"
TINCAN_CANARY=canary-7f3a timeout 120 "$TINCAN" batch -j 2 --ordered \
    --allow-paths "$D" "$T/jobs8" >"$T/out" 2>"$T/err"
rc=$?
not_beneath="is not beneath $D (--allow-paths DIR); name a file inside it"
cat >"$T/want" <<EOF
rel|ok|"mine\n"
abs|ok|"mine\n"
alias|ok|"mine\n"
up|error|line 4: "input_path": ../secret $not_beneath
out|error|line 5: "input_path": $T/secret $not_beneath
env|error|line 6: "input_path": /proc/self/environ $not_beneath
link|error|line 7: "input_path": leak.txt $not_beneath
fifo|error|line 8: "input_path": cannot open $D/fifo.txt: it is a FIFO, not a regular file
EOF
if grep -q -e "TOP SECRET" -e canary-7f3a -e VE9QIFNFQ1JFVA "$T/out"; then
    bad $t "a file outside the directory reached a result: $(cat "$T/out")"
else
    want_results $t
fi

t=allow_urls_with_hosts_refuses_other_hosts_their_redirects_and_bodies_past_mem
{
    job ok '"url":"http://127.0.0.1:'"$PORT"'/files/hello_once.bin"'
    job other '"url":"http://localhost:'"$PORT"'/count/other"'
    job bounce '"url":"http://127.0.0.1:'"$PORT"'/redirect-to/http://localhost:'"$PORT"'/count/other"'
    job file '"url":"file:///etc/passwd"'
    job big '"code_hex":"f4","mem":"1M","input_url":"http://127.0.0.1:'"$PORT"'/endless"'
} >"$T/jobs9"
"$TINCAN" batch -j 1 --ordered --allow-urls=127.0.0.1 "$T/jobs9" >"$T/out" 2>"$T/err"
rc=$?
other=$(python3 -c 'import sys,urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().strip())' \
    "http://127.0.0.1:$PORT/count-of/count/other")
cat >"$T/want" <<EOF
ok|ok|"Hello, World!\n"
other|error|line 2: "url": the host 'localhost' of 'http://localhost:$PORT/count/other' is not an allowed host; allow it with --allow-urls=HOST,...
bounce|error|line 3: "url": fetching http://127.0.0.1:$PORT/redirect-to/http://localhost:$PORT/count/other: refused a redirect to host 'localhost' ('http://localhost:$PORT/count/other'), which is not an allowed host
file|error|line 4: "url": file:// URLs are refused in a job description; name the file with "path" and --allow-paths DIR
big|error|line 5: "input_url": the body at http://127.0.0.1:$PORT/endless is larger than the 1048576 bytes of guest memory the job has ("mem")
EOF
if [ "$other" != 0 ]; then
    bad $t "the server saw $other requests for a host not on the list"
else
    want_results $t
fi

# --- bad usage: one "tincan: " line, exit 125 --------------------------------
usage_case resume_without_output_is_bad_usage batch --resume "$T/jobs3"
usage_case missing_jobs_file_is_bad_usage batch "$T/no-such.jsonl"
usage_case jobs_that_are_a_directory_is_bad_usage batch "$T"
usage_case zero_workers_is_bad_usage batch -j 0 "$T/jobs3"
usage_case results_over_the_jobs_is_bad_usage batch -o "$T/jobs3" "$T/jobs3"
usage_case fetch_timeout_without_unit_is_bad_usage batch --fetch-timeout 5 "$T/jobs3"
usage_case unknown_flag_is_bad_usage batch --frobnicate "$T/jobs3"
usage_case allow_paths_that_is_not_a_directory_is_bad_usage batch --allow-paths "$T/jobs3" "$T/jobs3"
usage_case allow_urls_with_a_url_for_a_host_is_bad_usage batch --allow-urls=https://example.org/ "$T/jobs3"
usage_case allow_file_urls_is_bad_usage_for_batch batch --allow-file-urls "$T/jobs3"

finish
