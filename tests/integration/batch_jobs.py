#!/usr/bin/env python3
# tests/integration/batch_jobs.py - the jobs of tests/integration/batch.sh
# and their expected results.
#
#   batch_jobs.py gen N GUESTS BASE_URL BACKEND EMU_JOBS JOBS EXPECT
#       writes N job lines mixing every status a guest can reach and every
#       code and input source (plus malformed lines) to JOBS, and what each
#       line must produce to EXPECT (one JSON object per line). Paths in
#       the jobs are relative to GUESTS (run them with --allow-paths
#       GUESTS), URLs under BASE_URL (--allow-urls). BACKEND is
#       "" (auto: the test expects kvm) or "emu" (every job says so);
#       EMU_JOBS 0 leaves out the insn_limit jobs, which need the emulator.
#   batch_jobs.py check RESULTS EXPECT KVM_OR_EMU
#       every expected result appears exactly once in RESULTS and matches;
#       nothing else is there. Prints what differs; exit 1 if anything does.
#   batch_jobs.py partial RESULTS
#       every line of RESULTS is a complete JSON object and no id or error
#       line appears twice; prints the number of lines.
import base64
import hashlib
import json
import sys

HELLO = b"Hello, World!\n"
SLOW_LANE_TIMEOUT_MS = 20000


def read(path):
    with open(path, "rb") as f:
        return f.read()


def gen(n, guests, base_url, backend, emu_jobs, jobs_path, expect_path):
    # Job paths are relative to GUESTS: the batch runs with --allow-paths.
    g = lambda name: "%s.bin" % name
    exit42 = read("%s/%s" % (guests, g("exit42")))
    hello_once = read("%s/%s" % (guests, g("hello_once")))
    sha_hello = hashlib.sha256(hello_once).hexdigest()
    zeros = "0" * 64

    # (job fields, expected fields); "input" is the bytes echo.bin returns.
    def kinds(i):
        data = bytes([(i * 7 + k) % 256 for k in range(1 + i % 40)])
        return [
            ({"path": g("hello_once")},
             {"status": "ok", "exit_code": 0, "output_bytes": 14,
              "output_b64": base64.b64encode(HELLO).decode()}),
            ({"code_hex": exit42.hex(" ")},
             {"status": "ok", "exit_code": 42, "output_bytes": 0}),
            ({"code_b64": base64.b64encode(exit42).decode()},
             {"status": "ok", "exit_code": 42}),
            ({"url": base_url + "/files/hello_once.bin", "sha256": sha_hello},
             {"status": "ok", "exit_code": 0,
              "output_b64": base64.b64encode(HELLO).decode()}),
            ({"path": g("echo"), "input_hex": data.hex()},
             {"status": "ok", "output_b64": base64.b64encode(data).decode()}),
            ({"path": g("echo"), "input_b64": base64.b64encode(data).decode()},
             {"status": "ok", "output_b64": base64.b64encode(data).decode()}),
            ({"path": g("echo"), "input_path": g("exit42")},
             {"status": "ok", "output_b64": base64.b64encode(exit42).decode()}),
            ({"path": g("echo"), "input_url": base_url + "/files/exit42.bin",
              "input_sha256": hashlib.sha256(exit42).hexdigest()},
             {"status": "ok", "output_b64": base64.b64encode(exit42).decode()}),
            ({"path": g("ud2")},
             {"status": "fault", "fault": {"vector": 6, "name": "#UD",
                                           "error_code": None,
                                           "rip": "0x10000", "cr2": None}}),
            ({"path": g("in_port")}, {"status": "unhandled_io"}),
            ({"path": g("unmapped")},
             {"status": "mmio", "mmio": {"address": "0xc0000000",
                                         "write": True, "size": 4}}),
            ({"path": g("triple_fault")}, {"status": "shutdown"}),
            ({"path": g("hello"), "max_output": 20},
             {"status": "output_limit", "output_bytes": 20,
              "output_b64": base64.b64encode((HELLO * 2)[:20]).decode()}),
            ({"code_hex": "f4", "mem": "1M", "format": "raw"},
             {"status": "ok", "exit_code": 0}),
        ] + ([
            ({"path": g("spin"), "backend": "emu", "max_insns": 1000},
             {"status": "insn_limit", "backend": "emu"}),
        ] if emu_jobs == "1" else []) + [
            # Loadable lines whose code cannot be had: error results.
            ({"code_hex": "f4", "sha256": zeros},
             {"status": "error",
              "message": "\"code_hex\": payload digest mismatch: expected "
                         "%s got %s" % (zeros, hashlib.sha256(b"\xf4")
                                        .hexdigest())}),
            ({"path": g("no-such-guest")},
             {"status": "error",
              "message": "\"path\": cannot open %s: No such file or "
                         "directory" % (guests + "/" + g("no-such-guest"))}),
        ]

    malformed = [
        ('{"id":"bad-json-%d","code_hex":"f4"', None,
         "bad JSON at column "),
        ('{"id":"unknown-%d","code_hex":"f4","timeout":5}', "unknown-%d",
         'unknown field "timeout"; a job has code_hex, code_b64, path or url '
         "(+ sha256), input_hex, input_b64, input_path or input_url (+ "
         "input_sha256), timeout_ms, mem, max_output, max_insns, format, "
         "backend, max_stderr, abi, args, env, name, seed, strict_syscalls, "
         "inputs"),
        ('{"id":"type-%d","code_hex":"f4","timeout_ms":"1s"}', "type-%d",
         '"timeout_ms" must be an integer, not a string'),
        ('{"id":"nocode-%d","timeout_ms":5}', "nocode-%d",
         'no code: give one of "code_hex", "code_b64", "path" or "url"'),
        ('{"id":"twocode-%d","code_hex":"f4","path":"x.bin"}', "twocode-%d",
         'two code sources, "code_hex" and "path": give one'),
        ('{"code_hex":"f4"}', None,
         'no "id": give each job a unique "id" (a string or an integer)'),
    ]

    with open(jobs_path, "w") as jobs, open(expect_path, "w") as expect:
        line = 0
        for i in range(n):
            line += 1
            if i % 50 == 7:
                text, eid, msg = malformed[(i // 50) % len(malformed)]
                jobs.write((text % i if "%d" in text else text) + "\n")
                e = {"line": line, "status": "error", "message": msg}
                if eid:
                    e["id"] = eid % i
                expect.write(json.dumps(e) + "\n")
                continue
            if i % 50 == 21:  # a repeated id: the first job's
                jobs.write(json.dumps({"id": "job-0", "code_hex": "f4"}) + "\n")
                expect.write(json.dumps({
                    "line": line, "status": "error", "duplicate_id": "job-0",
                    "message": 'duplicate id "job-0" (first on line 1); give '
                               "each job its own id"}) + "\n")
                continue
            if i % 25 == 13:  # a timeout now and then: keeps the batch busy
                job = {"path": g("spin"), "timeout_ms": 200}
                want = {"status": "timeout", "output_bytes": 0}
            else:
                ks = kinds(i)
                job, want = ks[i % len(ks)]
                job, want = dict(job), dict(want)
            job = dict({"id": "job-%d" % i}, **job)
            # A loaded lane can take over a second for one job: only the
            # spin jobs may time out.
            job.setdefault("timeout_ms", SLOW_LANE_TIMEOUT_MS)
            if backend and "backend" not in job:
                job["backend"] = backend
            want["id"] = job["id"]
            if want["status"] == "error":
                want["line"] = line
                want["message"] = "line %d: %s" % (line, want["message"])
            jobs.write(json.dumps(job) + "\n")
            expect.write(json.dumps(want) + "\n")
    return 0


def key_of(r):
    return ("id", json.dumps(r["id"])) if "id" in r else ("line", r["line"])


def check(results_path, expect_path, backend):
    problems = []
    seen = {}
    with open(results_path) as f:
        for n, text in enumerate(f, 1):
            r = json.loads(text)
            k = key_of(r)
            if k in seen:
                problems.append("%s %s appears on lines %d and %d"
                                % (k[0], k[1], seen[k][0], n))
            seen[k] = (n, r)
    expected = 0
    with open(expect_path) as f:
        for text in f:
            want = json.loads(text)
            expected += 1
            k = key_of(want)
            if k not in seen:
                problems.append("no result for %s %s" % k)
                continue
            got = seen.pop(k)[1]
            if want["status"] == "error":
                msg = want["message"]
                if not msg.startswith("line "):
                    msg = "line %d: %s" % (want["line"], msg)
                ok = got.get("status") == "error" and \
                    got.get("line") == want["line"] and \
                    (got.get("message") == msg or
                     (msg.endswith("column ") and
                      got.get("message", "").startswith(msg)))
                for f_ in ("id", "duplicate_id"):
                    ok = ok and got.get(f_) == want.get(f_)
                if not ok:
                    problems.append("%s %s: want %s, got %s"
                                    % (k[0], k[1], want, got))
                continue
            want.setdefault("backend", backend)
            for f_, v in want.items():
                if got.get(f_) != v:
                    problems.append("%s %s: %s is %r, want %r"
                                    % (k[0], k[1], f_, got.get(f_), v))
            for f_ in ("exit_code", "output_b64", "output_bytes", "exits",
                       "wall_us", "message"):
                if f_ not in got:
                    problems.append("%s %s: no %s" % (k[0], k[1], f_))
    for k, (n, _) in seen.items():
        problems.append("line %d of the results (%s %s) was not expected"
                        % (n, k[0], k[1]))
    for p in problems[:20]:
        print(p)
    if len(problems) > 20:
        print("... and %d more" % (len(problems) - 20))
    if not problems:
        print("all %d results present exactly once and as expected"
              % expected)
    return 1 if problems else 0


def partial(results_path):
    seen = set()
    n = 0
    with open(results_path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        print("the last line has no newline")
        return 1
    for n, text in enumerate(data.splitlines(), 1):
        try:
            r = json.loads(text)
        except ValueError:
            print("line %d is not JSON: %r" % (n, text[:80]))
            return 1
        k = key_of(r)
        if k in seen:
            print("%s %s appears twice" % k)
            return 1
        seen.add(k)
    print(n)
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        sys.exit(gen(int(sys.argv[2]), *sys.argv[3:9]))
    if cmd == "check":
        sys.exit(check(*sys.argv[2:5]))
    if cmd == "partial":
        sys.exit(partial(sys.argv[2]))
    sys.exit("unknown command " + cmd)
