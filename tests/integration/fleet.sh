#!/usr/bin/env bash
# tests/integration/fleet.sh - the fleet on Redis Streams end to end: a real
# redis-server (appendonly yes) on a free loopback port in the temporary
# directory, tincan worker processes and tincan batch --redis as producer:
#   3 workers, 3,000 mixed jobs, every id once and equal to a local run's;
#   a worker SIGKILLed mid-run and another started: its pending jobs
#   reclaimed, nothing lost or duplicated; redis-server restarted mid-run:
#   everyone reconnects, nothing lost; a job no worker can decode reaches
#   P:dead after --max-deliveries, `tincan queue dead` shows it, requeue
#   puts it back; requirepass: the right password works, a wrong one is one
#   line and exit 125; SIGTERM lets a running job finish and be acked.
# Every job runs on the emulator with TINCAN_TEST_BACKEND=emu (tests/run-unit),
# on KVM otherwise (the lane). Env: BUILD, TINCAN_TEST_BACKEND,
# TINCAN_FLEET_JOBS (default 3000). Prints "ok NAME" / "FAIL NAME: why".
set -u

. "$(dirname "$0")/lib.sh" fleet
backend_from_env
JOBS_PY=tests/integration/batch_jobs.py
N_JOBS=${TINCAN_FLEET_JOBS:-3000}
# The restart test's jobs: 400 beside 3,000, at least 100.
MID=$((N_JOBS * 2 / 15 > 100 ? N_JOBS * 2 / 15 : 100))
PASS=fleet-test-pw

if ! command -v redis-server >/dev/null; then
    echo "FAIL setup: redis-server is missing; run scripts/install-deps"
    echo "0 passed, 1 failed"
    exit 1
fi
# As batch.sh: a sanitized build's emulator children are not fork-safe.
EMU_JOBS=1
if grep -aq __asan_init "$TINCAN"; then
    if [ "$BACKEND" = emu ]; then
        echo "skip fleet.sh: an ASan build forks threads unsafely for the emulator; the lane runs it on KVM"
        exit 0
    fi
    EMU_JOBS=0
fi

pids=()
redis_pid=
cleanup() {
    for p in "${pids[@]}" $redis_pid; do
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
RPORT=$(free_port)
URL=redis://:$PASS@127.0.0.1:$RPORT
mkdir -p "$T/redis"

# redis_start: redis-server on $RPORT with AOF in $T/redis, in the
# foreground of a background job ($redis_pid); waits until it answers.
redis_start() {
    redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$T/redis" \
        --appendonly yes --save '' --requirepass "$PASS" \
        --unixsocket "$T/redis/sock" --unixsocketperm 700 \
        --daemonize no --logfile "$T/redis/log" &
    redis_pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$RPORT" -a "$PASS" --no-auth-warning PING 2>/dev/null |
            grep -q PONG && return 0
        sleep 0.1
    done
    return 1
}
# redis_stop: SHUTDOWN (the AOF is synced), and wait for it to go.
redis_stop() {
    redis-cli -p "$RPORT" -a "$PASS" --no-auth-warning SHUTDOWN >/dev/null 2>&1
    wait "$redis_pid" 2>/dev/null
    redis_pid=
}
rcli() {
    redis-cli -p "$RPORT" -a "$PASS" --no-auth-warning "$@"
}
# pending: how many jobs the workers hold unacked; wait_pending N TRIES:
# until that is N, polling every 0.1 s at most TRIES times.
pending() { rcli XPENDING tincan:jobs tincan:workers | head -1; }
wait_pending() {
    for _ in $(seq "$2"); do
        [ "$(pending)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
# worker NAME ARGS...: a worker in the background; its pid in $wpid.
worker() {
    local name=$1
    shift
    "$TINCAN" worker --redis "$URL" --name "$name" "$@" 2>"$T/$name.err" &
    wpid=$!
    pids+=("$wpid")
}
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# The test server the URL jobs fetch from (batch_jobs.py's jobs use it).
python3 tests/fetch_server.py --root "$G" >"$T/port" 2>"$T/server.err" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.1
done
PORT=$(head -n 1 "$T/port")
ALLOW="--allow-paths $G --allow-urls=127.0.0.1"

if ! redis_start; then
    echo "FAIL setup: redis-server did not start: $(tail -5 "$T/redis/log")"
    echo "0 passed, 1 failed"
    exit 1
fi

python3 $JOBS_PY gen "$N_JOBS" "$G" "http://127.0.0.1:$PORT" "$BACKEND" \
    $EMU_JOBS "$T/jobs" "$T/expect"

# --- requirepass ------------------------------------------------------------

t=wrong_password_is_one_line_and_exit_125
usage_case $t worker --redis "redis://:nope@127.0.0.1:$RPORT" --name w0
if [ $rc -eq 125 ] && ! grep -q 'WRONGPASS\|invalid password' "$T/err"; then
    failed=$((failed + 1)) passed=$((passed - 1))
    echo "FAIL $t: the line does not name the problem: $(cat "$T/err")"
fi
usage_case batch_with_wrong_password_is_one_line_and_exit_125 batch \
    --redis "redis://:nope@127.0.0.1:$RPORT" -o "$T/x" "$T/jobs"
usage_case batch_without_password_says_to_give_one batch \
    --redis "redis://127.0.0.1:$RPORT" -o "$T/x" "$T/jobs"

t=unix_socket_and_user_password_urls_reach_the_queue
"$TINCAN" queue --redis "unix://:$PASS@$T/redis/sock" status >"$T/u1" 2>&1
rc1=$?
"$TINCAN" queue --redis "redis://default:$PASS@127.0.0.1:$RPORT/0" status >"$T/u2" 2>&1
rc2=$?
"$TINCAN" queue --redis "unix://:nope@$T/redis/sock" status >"$T/u3" 2>&1
rc3=$?
if [ $rc1 -ne 0 ] || ! grep -qx "queue tincan on unix://$T/redis/sock" "$T/u1"; then
    bad $t "unix:// exit $rc1: $(cat "$T/u1")"
elif [ $rc2 -ne 0 ] || ! grep -qx "queue tincan on redis://127.0.0.1:$RPORT/0" "$T/u2"; then
    bad $t "user:password exit $rc2: $(cat "$T/u2")"
elif [ $rc3 -ne 125 ] || grep -q nope "$T/u3"; then
    bad $t "a wrong password over unix://: exit $rc3 (want 125, no password in the line): $(cat "$T/u3")"
else
    ok $t
fi

# --- 3 workers, the whole batch, equal to a local run --------------------------

t=three_workers_run_${N_JOBS}_jobs_once_each_equal_to_a_local_run
worker w1 -j 1 $ALLOW
worker w2 -j 1 $ALLOW
worker w3 -j 1 $ALLOW
start=$(date +%s.%N)
"$TINCAN" batch --redis "$URL" $ALLOW -o "$T/fleet.out" "$T/jobs" \
    2>"$T/batch.err"
brc=$?
end=$(date +%s.%N)
"$TINCAN" batch -j 2 $ALLOW -o "$T/local.out" "$T/jobs" 2>/dev/null
lend=$(date +%s.%N)
if [ $brc -ne 1 ]; then
    bad $t "batch --redis exit $brc, want 1 (the malformed lines): $(tail -3 "$T/batch.err")"
elif ! python3 $JOBS_PY check "$T/fleet.out" "$T/expect" $want_backend >"$T/diff"; then
    bad $t "$(head -5 "$T/diff")"
elif ! python3 - "$T/fleet.out" "$T/local.out" >"$T/diff" <<'EOF'
import json, sys
def load(p):
    out = {}
    for text in open(p):
        r = json.loads(text)
        for f in ("wall_us", "peak_rss_kib", "exits"):
            r.pop(f, None)
        # How a deadline was enforced depends on the load, not the queue.
        if r.get("status") == "timeout":
            r.pop("message", None)
        out[json.dumps(r.get("id", r.get("line")))] = r
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
for k in bad[:5]:
    print(k, a.get(k), b.get(k))
sys.exit(1 if bad else 0)
EOF
then
    bad $t "differs from the local run: $(head -3 "$T/diff")"
else
    ok $t
    echo "  ($N_JOBS jobs through 3 workers in $(python3 -c "print(round($end - $start, 1))") s; locally with -j 2 in $(python3 -c "print(round($lend - $end, 1))") s)"
fi

# --- SIGKILL a worker mid-run, start another ----------------------------------

t=killed_worker_pending_jobs_are_reclaimed_nothing_lost_or_duplicated
for p in "${pids[@]:1}"; do # w1..w3 (not the file server)
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
done
pids=("${pids[0]}")
# Slow jobs, so that the killed worker surely holds some.
python3 - "$T/slow.jsonl" "$G" "$BACKEND" <<'EOF'
import json, sys
out, g, backend = sys.argv[1], sys.argv[2], sys.argv[3]
with open(out, "w") as f:
    for i in range(60):
        j = {"id": "slow-%d" % i, "path": "spin.bin", "timeout_ms": 300}
        if backend:
            j["backend"] = backend
        f.write(json.dumps(j) + "\n")
EOF
worker k1 -j 2 --claim-idle 2s --allow-paths "$G"
k1=$wpid
"$TINCAN" batch --redis "$URL" --allow-paths "$G" -o "$T/slow.out" \
    "$T/slow.jsonl" 2>"$T/slow.err" &
bpid=$!
pids+=("$bpid")
for _ in $(seq 300); do
    [ "$(lines "$T/slow.out")" -ge 10 ] && break
    sleep 0.1
done
pending=$(pending)
{ kill -9 "$k1"; wait "$k1"; } 2>/dev/null # (bash's "Killed" note too)
worker k2 -j 2 --claim-idle 2s --allow-paths "$G"
k2=$wpid
wait "$bpid"
brc=$?
n=$(lines "$T/slow.out")
uniq=$(python3 -c 'import json,sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$T/slow.out")
timeouts=$(grep -c '"status":"timeout"' "$T/slow.out")
if [ $brc -ne 0 ] || [ "$n" -ne 60 ] || [ "$uniq" -ne 60 ] || [ "$timeouts" -ne 60 ]; then
    bad $t "exit $brc, $n lines, $uniq ids, $timeouts timeouts (want 0, 60, 60, 60); pending at the kill: $pending; $(tail -2 "$T/slow.err")"
elif [ "${pending:-0}" -lt 1 ]; then
    bad $t "the killed worker held no pending job ($pending): the test proves nothing"
elif [ "$(rcli XINFO CONSUMERS tincan:jobs tincan:workers | grep -A2 -x k1 | sed -n 3p)" != 0 ]; then
    bad $t "k1 still has pending entries: $(rcli XINFO CONSUMERS tincan:jobs tincan:workers | tr '\n' ' ')"
else
    ok $t
fi

# --- restart redis-server mid-run (and a queue at its cap) ------------------------------------------------

t=redis_restarted_mid_run_with_the_queue_at_its_cap_everyone_reconnects_nothing_lost
kill -TERM "$k2" 2>/dev/null
wait "$k2" 2>/dev/null
worker r1 -j 2 --allow-paths "$G"
r1=$wpid
python3 - "$T/mid.jsonl" "$BACKEND" "$MID" <<'EOF'
import json, sys
out, backend, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, "w") as f:
    for i in range(n):
        # A deadline a loaded lane cannot reach (one job can take 3 s there).
        j = {"id": i, "path": "echo.bin", "input_hex": "%02x" % (i % 256),
             "timeout_ms": 20000}
        if backend:
            j["backend"] = backend
        f.write(json.dumps(j) + "\n")
EOF
# A small cap: the batch waits for the workers as well as for Redis.
"$TINCAN" batch --redis "$URL" --allow-paths "$G" --queue-cap 20 \
    -o "$T/mid.out" "$T/mid.jsonl" 2>"$T/mid.err" &
bpid=$!
pids+=("$bpid")
for _ in $(seq 300); do
    [ "$(lines "$T/mid.out")" -ge $((MID / 8)) ] && break
    sleep 0.1
done
before=$(lines "$T/mid.out")
redis_stop
sleep 1
redis_start
wait "$bpid"
brc=$?
n=$(lines "$T/mid.out")
good=$(python3 -c '
import json,sys
ok = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    import base64
    if r["status"] == "ok" and base64.b64decode(r["output_b64"]) == bytes([r["id"] % 256]):
        ok.add(r["id"])
print(len(ok))' "$T/mid.out")
if [ $brc -ne 0 ] || [ "$n" -ne $MID ] || [ "$good" -ne $MID ]; then
    bad $t "exit $brc, $n lines, $good right (want 0, $MID, $MID); $before before the restart; $(tail -3 "$T/mid.err"); $(grep -v '"status":"ok"' "$T/mid.out" | head -2)"
elif ! grep -q 'the queue is full (20 jobs); waiting for the workers' "$T/mid.err"; then
    bad $t "the batch never found the queue full: $(cat "$T/mid.err")"
elif [ "$before" -ge $MID ]; then
    bad $t "the batch ended before the restart: the test proves nothing"
elif ! grep -q 'tincan batch: lost Redis' "$T/mid.err" ||
    ! grep -q 'tincan batch: reconnected' "$T/mid.err"; then
    bad $t "the producer did not say it lost and regained Redis: $(cat "$T/mid.err")"
elif ! grep -q 'lost Redis' "$T/r1.err" || ! grep -q 'reconnected' "$T/r1.err"; then
    bad $t "the worker did not say it lost and regained Redis: $(cat "$T/r1.err")"
elif [ "$(grep -c 'lost Redis' "$T/r1.err")" -ne 1 ] ||
    [ "$(grep -c 'reconnected' "$T/r1.err")" -ne 1 ] ||
    [ "$(grep -E 'lost Redis|reconnected' "$T/r1.err" | sed -n 1p | grep -c 'lost Redis')" -ne 1 ]; then
    bad $t "the worker did not say one outage once, lost then reconnected: $(cat "$T/r1.err")"
else
    ok $t
fi

# --- Redis at maxmemory: a job's end waits for room for its result ----------------

t=a_redis_at_maxmemory_keeps_the_job_pending_until_its_result_is_stored
cp "$T/r1.err" "$T/r1.err.before"
# A job that runs into its 3 s deadline: long enough to fill Redis meanwhile.
if [ -n "$BACKEND" ]; then
    echo '{"id":"full","code_hex":"eb fe","timeout_ms":3000,"backend":"'"$BACKEND"'"}'
else
    echo '{"id":"full","code_hex":"eb fe","timeout_ms":3000}'
fi >"$T/full.jsonl"
"$TINCAN" batch --redis "$URL" -o "$T/full.out" "$T/full.jsonl" 2>"$T/full.err" &
bpid=$!
pids+=("$bpid")
wait_pending 1 300
claimed=$(pending)
rcli CONFIG SET maxmemory 1 >/dev/null # every write that takes memory: OOM
# The worker tries to end the job and Redis refuses (said as a lost Redis).
for _ in $(seq 600); do
    [ "$(grep -c 'OOM' "$T/r1.err")" -gt "$(grep -c 'OOM' "$T/r1.err.before")" ] && break
    sleep 0.1
done
refused=$(grep -c 'OOM' "$T/r1.err")
held=$(pending)
entries=$(rcli XLEN tincan:jobs)
rcli CONFIG SET maxmemory 0 >/dev/null
for _ in $(seq 1200); do
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$bpid" 2>/dev/null
wait "$bpid"
brc=$?
if [ "$claimed" != 1 ]; then
    bad $t "no worker took the job ($claimed pending): $(cat "$T/full.err")"
elif [ "$refused" = 0 ]; then
    bad $t "Redis never refused the job's end: $(tail -3 "$T/r1.err")"
elif [ "$held" != 1 ] || [ "$entries" != 1 ]; then
    bad $t "while Redis was full the entry was ended without its result ($held pending, $entries in the stream)"
elif [ $brc -ne 0 ] || ! grep -q '"id":"full".*"status":"timeout"' "$T/full.out"; then
    bad $t "exit $brc (want 0 and a timeout result); $(cat "$T/full.out" "$T/full.err")"
else
    ok $t
fi

# --- a poison job: dead-lettered after --max-deliveries ------------------------------

t=undecodable_job_reaches_dead_after_max_deliveries_and_queue_dead_shows_it
kill -TERM "$r1" 2>/dev/null
wait "$r1" 2>/dev/null
worker p1 -j 1 --claim-idle 300ms --max-deliveries 2
p1=$wpid
rcli XADD tincan:jobs '*' qid poison-1 job '{not json' reply ptag >/dev/null
for _ in $(seq 100); do
    [ "$(rcli XLEN tincan:dead)" -ge 1 ] && break
    sleep 0.1
done
"$TINCAN" queue --redis "$URL" dead >"$T/dead" 2>"$T/dead.err"
qrc=$?
"$TINCAN" queue --redis "$URL" --json status >"$T/status" 2>&1
if [ $qrc -ne 0 ] || ! grep -q 'qid=poison-1 deliveries=3 reason: delivered 3 times, more than --max-deliveries 2' "$T/dead"; then
    bad $t "exit $qrc: $(cat "$T/dead" "$T/dead.err")"
elif [ "$(grep -c 'cannot take it' "$T/p1.err")" -ne 2 ]; then
    bad $t "want 2 failed takes before the dead letter: $(cat "$T/p1.err")"
elif ! python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["dead"]==1 and s["depth"]==0 else 1)' "$T/status"; then
    bad $t "queue status: $(cat "$T/status")"
elif [ "$(rcli GET tincan:result:poison-1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" != error ]; then
    bad $t "the dead job has no error result for its producer: $(rcli GET tincan:result:poison-1)"
else
    ok $t
fi

t=requeue_puts_a_dead_letter_back_on_the_stream
id=$(awk 'NR==1 { print $1 }' "$T/dead")
"$TINCAN" queue --redis "$URL" requeue "$id" >"$T/rq" 2>&1
qrc=$?
"$TINCAN" queue --redis "$URL" requeue "$id" >"$T/rq2" 2>&1
qrc2=$?
for _ in $(seq 100); do
    [ "$(rcli XLEN tincan:dead)" -ge 1 ] && [ $qrc -eq 0 ] && break
    sleep 0.1
done
if [ $qrc -ne 0 ] || [ "$(cat "$T/rq")" != "requeued $id" ]; then
    bad $t "exit $qrc: $(cat "$T/rq")"
elif [ $qrc2 -ne 1 ] || ! grep -q "no dead letter $id" "$T/rq2"; then
    bad $t "a second requeue: exit $qrc2, $(cat "$T/rq2")"
elif [ "$(rcli XLEN tincan:dead)" -ne 1 ] ||
    ! "$TINCAN" queue --redis "$URL" dead | grep -q 'qid=poison-1 deliveries=3'; then
    bad $t "the requeued job did not go round again: $("$TINCAN" queue --redis "$URL" dead)"
else
    ok $t
fi

# --- SIGTERM: the running job finishes and is acked; exit 0 -----------------------

# The job runs 3 s after SIGTERM, past --claim-idle: the stopping worker
# keeps it claimed, and the other worker (s2) never takes it.
t=sigterm_finishes_and_acks_the_running_job_then_exits_0
printf '{"id":"long","path":"spin.bin","timeout_ms":3000%s}\n' \
    "${BACKEND:+,\"backend\":\"$BACKEND\"}" >"$T/long.jsonl"
kill -TERM "$p1" 2>/dev/null
wait "$p1" 2>/dev/null
worker s1 -j 1 --allow-paths "$G" --claim-idle 1s
s1=$wpid
"$TINCAN" batch --redis "$URL" --allow-paths "$G" -o "$T/long.out" \
    "$T/long.jsonl" 2>"$T/long.err" &
bpid=$!
pids+=("$bpid")
wait_pending 1 100
sleep 0.3
worker s2 -j 1 --allow-paths "$G" --claim-idle 1s
s2=$wpid
kill -TERM "$s1"
wait "$s1"
src=$?
wait "$bpid"
brc=$?
kill -TERM "$s2"
wait "$s2"
if [ $src -ne 0 ]; then
    bad $t "the worker exited $src: $(cat "$T/s1.err")"
elif ! grep -q 'stopped after 0 jobs' "$T/s2.err"; then
    bad $t "the other worker took the running job too: $(cat "$T/s2.err")"
elif ! grep -q 'taking no more jobs; finishing 1 running' "$T/s1.err"; then
    bad $t "SIGTERM came with no job running: $(cat "$T/s1.err")"
elif [ $brc -ne 0 ] || ! grep -q '"id":"long".*"status":"timeout"' "$T/long.out"; then
    bad $t "batch exit $brc, result $(cat "$T/long.out")"
elif [ "$(rcli XLEN tincan:jobs)" -ne 0 ] ||
    [ "$(pending)" -ne 0 ]; then
    bad $t "the job was left on the stream or pending"
else
    ok $t
fi

# --- bad usage ------------------------------------------------------------------------

usage_case worker_without_redis_is_usage worker -j 2
usage_case worker_bad_url_is_usage worker --redis http://127.0.0.1:1
usage_case worker_tls_url_is_usage worker --redis rediss://127.0.0.1:1
usage_case worker_bad_claim_idle_is_usage worker --redis "$URL" --claim-idle 5
usage_case worker_bad_prefix_is_usage worker --redis "$URL" --prefix 'a b'
usage_case queue_unknown_subcommand_is_usage queue --redis "$URL" frob
usage_case queue_requeue_without_id_is_usage queue --redis "$URL" requeue
usage_case batch_prefix_without_redis_is_usage batch --prefix x "$T/jobs"
usage_case queue_unreachable_redis_is_usage queue --redis "redis://127.0.0.1:1" status

redis_stop
finish
