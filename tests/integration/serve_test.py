#!/usr/bin/env python3
"""tests/integration/serve_test.py - tincan serve end to end, with real
clients (Python's http.client and raw sockets, and curl) against servers this
script starts on free loopback ports and always stops.

Every endpoint and every error status with exact bodies, inputs, async jobs
(long-poll, cancel, --keep), batches, metrics, 200 concurrent requests over
20 connections, 2,000 seeded malformed requests, SIGTERM with 20 jobs in
flight, SIGHUP reloading the tokens, unix sockets, the access log.

With TINCAN_TEST_REDIS=1 the same clients test `tincan serve --redis`: a
redis-server this script starts on a free loopback port in a temporary
directory (appendonly yes, stopped whatever happens), and each server with
its own key prefix and two `tincan worker -j 1` processes of its own. Then
the tests marked @both run (the local workers' expectations, unchanged) and
those marked @redis_only (the stream's cap, several servers on one Redis, a
Redis restart); the others are about HTTP alone and run without it.

Env: BUILD (default build), TINCAN_TEST_BACKEND ("emu" puts "backend": "emu"
in every job: how tests/run-unit runs it without KVM; empty: auto, which must
be kvm), TINCAN_TEST_FILTER (a glob of test names), TINCAN_TEST_REDIS. Prints
"ok NAME" / "FAIL NAME: why" and "N passed, M failed"; exits 1 on a failure.
"""
import base64
import fnmatch
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("BUILD") or "build"
TINCAN = os.path.join(BUILD, "tincan")
G = os.path.join(BUILD, "guests")
BACKEND = os.environ.get("TINCAN_TEST_BACKEND") or ""
WANT_BACKEND = BACKEND or "kvm"
OK_TIMEOUT_MS = 20000  # jobs that must end ok: a loaded lane cannot miss it
START_S = 60           # a server's startup, in the lane too
TMP = tempfile.mkdtemp(prefix="tincan-serve.")
TESTS = []
REDIS = os.environ.get("TINCAN_TEST_REDIS") == "1"
BOTH, REDIS_ONLY = set(), set()


def test(fn):
    """A test of serve with local workers (or of HTTP alone)."""
    TESTS.append(fn)
    return fn


def both(fn):
    """A test that holds as it is for serve --redis too."""
    BOTH.add(fn.__name__)
    return test(fn)


def redis_only(fn):
    REDIS_ONLY.add(fn.__name__)
    return test(fn)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """redis-server on 127.0.0.1:<free port>, appendonly, in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--appendonly", "yes", "--save", "",
             "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + START_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited %d" %
                                     self.proc.returncode)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not start")

    def integer(self, *args):
        """The answer of a command whose reply is an integer (XLEN, ...);
        args without spaces, sent as an inline command."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=30) as c:
            c.sendall((" ".join(args) + "\r\n").encode())
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = c.recv(64)
                if not chunk:
                    break
                reply += chunk
        if not reply.startswith(b":"):
            raise AssertionError("%s: %r" % (" ".join(args), reply))
        return int(reply[1:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


REDIS_SERVER = None
PREFIXES = iter(range(1, 1 << 30))


def guest(name):
    with open(os.path.join(G, name + ".bin"), "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


def job(**fields):
    """A job description with the backend under test, and a deadline no
    loaded lane reaches unless the test names one."""
    if BACKEND:
        fields.setdefault("backend", BACKEND)
    fields.setdefault("timeout_ms", OK_TIMEOUT_MS)
    return fields


def token_line(name, token, opts=""):
    return "%s %s %s\n" % (name, hashlib.sha256(token.encode()).hexdigest(),
                           opts)


class Server:
    """tincan serve on 127.0.0.1:<free port>, its access log in a file."""

    def __init__(self, *args, tokens=None, workers=2, prefix=None, url=None,
                 worker_args=()):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.log = os.path.join(self.dir, "access.log")
        self.args = list(args)
        self.workers = []
        if tokens is not None:
            self.tokens = os.path.join(self.dir, "tokens")
            with open(self.tokens, "w") as f:
                f.write(tokens)
            self.args += ["--tokens", self.tokens]
        if REDIS:
            # Each server its own prefix (a fresh queue) unless it shares
            # another's; its own workers unless workers=0.
            self.prefix = prefix or "t%d" % next(PREFIXES)
            self.args += ["--redis", url or REDIS_SERVER.url, "--prefix",
                          self.prefix]
            self.worker_args = list(worker_args)
            for n in range(workers):
                self.start_worker("%s-w%d" % (self.prefix, n))
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(
            [TINCAN, "serve", "--listen", "127.0.0.1:0", "--log", self.log]
            + self.args, stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = None
        deadline = time.time() + START_S
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise AssertionError("tincan serve exited %d: %s" %
                                     (self.proc.returncode, self.stderr()))
            for e in self.events():
                if e.get("event") == "listening":
                    self.port = int(e["detail"].rsplit(":", 1)[1])
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise AssertionError("tincan serve did not start: " +
                                 self.stderr())

    def start_worker(self, name):
        err = open(os.path.join(self.dir, name + ".stderr"), "w")
        self.workers.append(subprocess.Popen(
            [TINCAN, "worker", "--redis", REDIS_SERVER.url, "--prefix",
             self.prefix, "-j", "1", "--name", name] + self.worker_args,
            stdout=subprocess.DEVNULL, stderr=err))
        err.close()

    def stop_workers(self):
        # The fleet's own tests prove a worker's graceful stop; here a job
        # canceled on the server may still spin on a worker.
        for w in self.workers:
            if w.poll() is None:
                w.kill()
            w.wait()

    def stderr(self):
        self.err.seek(0)
        return self.err.read()[-2000:]

    def lines(self):
        try:
            with open(self.log) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def events(self):
        return [l for l in self.lines() if "event" in l]

    def requests(self):
        return [l for l in self.lines() if "event" not in l]

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """(status, headers, body bytes); body a dict is sent as JSON."""
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def json(self, method, path, body=None, headers=None, conn=None):
        st, h, data = self.request(method, path, body, headers, conn)
        return st, h, json.loads(data)

    def metrics(self):
        st, h, data = self.request("GET", "/metrics")
        assert st == 200, st
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self, sig=signal.SIGTERM, timeout=120):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.stop_workers()
                raise AssertionError("tincan serve did not stop on %s" % sig)
        self.stop_workers()
        if not self.err.closed:
            self.err.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stop_workers()
        if not self.err.closed:
            self.err.close()


def cli_json(*args):
    """tincan run --json ARGS, as the object it prints."""
    extra = ["--backend", BACKEND] if BACKEND else []
    r = subprocess.run([TINCAN, "run", "--json", "--timeout", "20s"] + extra +
                       list(args), stdout=subprocess.PIPE)
    return json.loads(r.stdout)


VARYING = ("wall_us", "peak_rss_kib")


def steady(o):
    """o without the fields that vary from run to run (recursively)."""
    if isinstance(o, dict):
        return {k: steady(v) for k, v in o.items() if k not in VARYING}
    if isinstance(o, list):
        return [steady(v) for v in o]
    return o


def eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


# --- POST /v1/run ----------------------------------------------------------

@both
def run_answers_the_run_json_object_plus_an_id():
    want = steady(cli_json(os.path.join(G, "hello_once.bin")))
    with Server() as s:
        st, h, res = s.json("POST", "/v1/run",
                            job(code_b64=b64(guest("hello_once"))))
        eq(st, 200, "status")
        eq(h["content-type"], "application/json", "content type")
        assert re.fullmatch(r"[0-9a-f]{32}", res["id"]), res["id"]
        eq(list(res)[0], "id", "first key")
        eq(steady({k: v for k, v in res.items() if k != "id"}), want, "body")
        eq(list(steady(res))[1:], list(want), "key order")
        st, h, res = s.json("POST", "/v1/run",
                            job(code_hex=guest("ud2").hex(), id="mine"))
        eq(steady(res), dict(id="mine", **steady(
            cli_json(os.path.join(G, "ud2.bin")))), "fault body")
        eq(res["fault"], {"vector": 6, "name": "#UD", "error_code": None,
                          "rip": "0x10000", "cr2": None}, "fault")
        s.stop()


@test
def curl_runs_a_job_and_reads_info():
    with Server() as s:
        base = "http://127.0.0.1:%d" % s.port
        out = subprocess.run(
            ["curl", "-s", "-H", "Content-Type: application/json", "-d",
             json.dumps(job(code_hex="b0 41 e6 10 f4")), base + "/v1/run"],
            stdout=subprocess.PIPE, check=True).stdout
        res = json.loads(out)
        eq((res["status"], res["output"], res["backend"]),
           ("ok", "A", WANT_BACKEND), "curl's run")
        info = json.loads(subprocess.run(["curl", "-s", base + "/v1/info"],
                                         stdout=subprocess.PIPE,
                                         check=True).stdout)
        eq(info["version"], "0.1.0", "version")
        # The version guests/ABI.md states, as `tincan --version` has it.
        abi = re.search(r"Version \*\*(\d+)\*\*",
                        open(os.path.join(os.path.dirname(__file__), "..", "..",
                                          "guests", "ABI.md")).read())
        eq(info["abi_version"], int(abi.group(1)), "abi_version")
        emu = subprocess.run([TINCAN, "run", "--backend", "emu", "--hex",
                              "f4"], stderr=subprocess.DEVNULL).returncode == 0
        eq(info["backends"]["emu"], emu, "emu usable (as tincan run finds)")
        # kvm as tincan run --backend kvm finds; auto as tincan --version
        # says (on kvm_pvm KVM runs, auto stays on the emulator).
        kvm = subprocess.run([TINCAN, "run", "--backend", "kvm", "--hex",
                              "f4"], stderr=subprocess.DEVNULL).returncode == 0
        eq(info["backends"]["kvm"], kvm, "kvm usable (as tincan run finds)")
        version = subprocess.run([TINCAN, "--version"], stdout=subprocess.PIPE,
                                 check=True, text=True).stdout
        eq(info["auto"], "kvm" if "auto runs jobs on KVM" in version else "emu",
           "auto (as tincan --version says)")
        eq(info["token"], None, "token")
        eq(info["caps"], {"max_timeout_ms": 86400000, "max_mem": 1 << 30,
                          "max_output": 1 << 30, "max_concurrent": None,
                          "rate_per_s": None, "burst": None,
                          "max_body": 16 << 20, "max_inputs": 256,
                          "workers": os.cpu_count(), "queue": 1024,
                          "keep_ms": 600000,
                          "allow_paths": False, "allow_urls": False}, "caps")
        s.stop()


@both
def inputs_run_each_in_its_own_vm_in_order():
    datas = [b"first", b"", bytes(range(256)), b"last"]
    with Server() as s:
        st, h, res = s.json("POST", "/v1/run", job(
            code_b64=b64(guest("echo")),
            inputs=[{"input_b64": b64(d)} for d in datas[:3]] +
            [{"input_hex": datas[3].hex()}]))
        eq(st, 200, "status")
        eq(sorted(res), ["id", "results", "status"], "keys")
        eq(res["status"], "ok", "status")
        eq([base64.b64decode(r["output_b64"]) for r in res["results"]], datas,
           "outputs in order")
        want = steady(cli_json("--input", "/dev/null",
                               os.path.join(G, "echo.bin")))
        eq(steady(res["results"][1]), want, "an element is tincan run's")
        st, h, res = s.json("POST", "/v1/run", job(
            code_b64=b64(guest("ud2")), inputs=[{"input_hex": "00"}] * 2))
        eq((res["status"], [r["status"] for r in res["results"]]),
           ("fault", ["fault", "fault"]), "first failing status")
        s.stop()


# --- errors ------------------------------------------------------------------

TOKENS = (token_line("alice", "alice-secret", "max_timeout=2s max_mem=8M "
                     "max_output=4K") +
          token_line("rated", "rated-secret", "rate=1/s burst=1") +
          token_line("one", "one-secret", "max_concurrent=1") +
          "# a comment\n" + token_line("bob", "bob-secret"))
ALICE = {"Authorization": "Bearer alice-secret"}
BOB = {"Authorization": "Bearer bob-secret"}


def expect_error(s, method, path, body, status, want, headers=None,
                 want_headers=None):
    st, h, data = s.request(method, path, body, headers)
    eq(st, status, "%s %s status (%s)" % (method, path, data[:200]))
    eq(h.get("content-type"), "application/json", "error content type")
    eq(json.loads(data), want, "%s %s body" % (method, path))
    eq(data.endswith(b"\n"), True, "one line")
    for k, v in (want_headers or {}).items():
        eq(h.get(k.lower()), v, "header " + k)


@both
def bad_requests_get_400_naming_the_field():
    with Server() as s:
        expect_error(s, "POST", "/v1/run", b"{\"code_hex\":",
                     400, {"error": "bad JSON at line 1, column 12: "
                           "unexpected token near end of file"},
                     {"Content-Type": "application/json"})
        expect_error(s, "POST", "/v1/run", [1], 400,
                     {"error": "the body must be one job, a JSON object"})
        expect_error(s, "POST", "/v1/run", job(code_hex="f4", timeout_ms="5"),
                     400, {"error": "\"timeout_ms\" must be an integer, not a "
                           "string", "field": "timeout_ms"})
        expect_error(s, "POST", "/v1/run", job(code_hex="f4", color=1), 400,
                     {"error": "unknown field \"color\"; a job has code_hex, "
                      "code_b64, path or url (+ sha256), input_hex, input_b64, "
                      "input_path or input_url (+ input_sha256), timeout_ms, "
                      "mem, max_output, max_insns, format, backend, "
                      "max_stderr, abi, args, env, name, seed, "
                      "strict_syscalls, inputs",
                      "field": "color"})
        expect_error(s, "POST", "/v1/run", job(code_hex="zz"), 400,
                     {"error": "\"code_hex\": bad hex: 'z' at offset 0 is not "
                      "a hex digit", "field": "code_hex"})
        expect_error(s, "POST", "/v1/run",
                     job(code_hex="f4", inputs=[{"input_b64": "@@"}]), 400,
                     {"error": "\"inputs[0].input_b64\": bad base64: '@' at "
                      "offset 0 is not a base64 character (A-Z a-z 0-9 + /)",
                      "field": "inputs[0].input_b64"})
        expect_error(s, "POST", "/v1/run", job(path="/etc/passwd"), 400,
                     {"error": "\"path\": host files are refused in a job "
                      "description; allow those beneath a directory with "
                      "--allow-paths DIR", "field": "path"})
        expect_error(s, "POST", "/v1/run",
                     job(code_hex="f4", input_url="http://127.0.0.1:9/x"), 400,
                     {"error": "\"input_url\": URLs are refused in a job "
                      "description; allow fetching with --allow-urls (or "
                      "--allow-urls=HOST,... for some hosts)",
                      "field": "input_url"})
        expect_error(s, "POST", "/v1/run", job(code_hex="f4", id=[1]), 400,
                     {"error": "\"id\" must be a string or an integer, "
                      "not an array", "field": "id"})
        expect_error(s, "POST", "/v1/jobs", job(code_hex="f4", id="x"), 400,
                     {"error": "the server names async jobs: leave out \"id\" "
                      "and use the one in the reply", "field": "id"})
        expect_error(s, "GET", "/v1/jobs/" + "0" * 32 + "?wait=forever",
                     None, 400, {"error": "wait: bad duration 'forever': "
                                 "write a number with a unit, e.g. 250ms or 2s",
                                 "field": "wait"})
        expect_error(s, "POST", "/v1/batch", b"\n \n", 400,
                     {"error": "the batch has 0 jobs; send 1 to 10000, one "
                      "JSON object a line"},
                     {"Content-Type": "application/x-ndjson"})
        s.stop()


@test
def allow_paths_and_allow_urls_open_files_and_hosts_as_given():
    import http.server
    import functools

    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=G)
    handler.log_message = lambda *a: None
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/" % files.server_address[1]
    try:
        with Server("--allow-paths", G, "--allow-urls=127.0.0.1") as s:
            st, h, res = s.json("POST", "/v1/run", job(path="hello_once.bin"))
            eq((st, res["output"]), (200, "Hello, World!\n"), "a file in DIR")
            st, h, res = s.json("POST", "/v1/run", job(
                path="echo.bin", inputs=[{"input_path": "exit42.bin"},
                                         {"input_url": url + "exit42.bin"}]))
            eq([base64.b64decode(r["output_b64"]) for r in res["results"]],
               [guest("exit42")] * 2, "inputs from a file and a URL")
            st, h, res = s.json("POST", "/v1/run",
                                job(url=url + "hello_once.bin"))
            eq((st, res["output"]), (200, "Hello, World!\n"), "a listed host")
            st, h, res = s.json("POST", "/v1/run",
                                job(path="../../../../../../etc/passwd"))
            eq((st, res["field"]), (400, "path"), "a path out of DIR")
            assert res["error"].startswith("\"path\": "), res
            st, h, res = s.json("POST", "/v1/run", job(
                code_hex="f4", inputs=[{"input_url": "http://localhost:%d/x"
                                        % files.server_address[1]}]))
            eq((st, res["field"]), (400, "inputs[0].input_url"),
               "a host off the list")
            st, h, info = s.json("GET", "/v1/info")
            eq((info["caps"]["allow_paths"], info["caps"]["allow_urls"]),
               (True, True), "info says so")
            s.stop()
    finally:
        files.shutdown()


@test
def not_found_method_and_media_type_errors():
    with Server() as s:
        expect_error(s, "GET", "/v2/run", None, 404,
                     {"error": "no such resource /v2/run; see GET /v1/info "
                      "and the README's Service section"})
        expect_error(s, "GET", "/v1/jobs/" + "0" * 32, None, 404,
                     {"error": "no job " + "0" * 32 + ": it never was, it was "
                      "deleted, or its result was dropped after --keep"})
        expect_error(s, "GET", "/v1/run", None, 405,
                     {"error": "GET is not allowed on /v1/run; use POST"},
                     want_headers={"Allow": "POST"})
        expect_error(s, "POST", "/healthz", b"", 405,
                     {"error": "POST is not allowed on /healthz; use GET"},
                     want_headers={"Allow": "GET, HEAD"})
        expect_error(s, "PUT", "/v1/jobs/abc", b"", 405,
                     {"error": "PUT is not allowed on /v1/jobs/; use GET or "
                      "DELETE"}, want_headers={"Allow": "GET, HEAD, DELETE"})
        expect_error(s, "POST", "/v1/run", b"{}", 415,
                     {"error": "the body must be JSON, not text/plain; send "
                      "the header 'Content-Type: application/json'"},
                     {"Content-Type": "text/plain"})
        expect_error(s, "POST", "/v1/run", b"{}", 415,
                     {"error": "the body must be JSON, not untyped; send the "
                      "header 'Content-Type: application/json'"})
        s.stop()


@test
def bodies_over_max_body_get_413_declared_or_streamed():
    with Server("--max-body", "1K") as s:
        big = json.dumps(job(code_hex="f4 " * 400)).encode()
        expect_error(s, "POST", "/v1/run", big, 413,
                     {"error": "the body (%d bytes) is over the server's "
                      "--max-body of 1024 bytes; send less" % len(big)},
                     {"Content-Type": "application/json"})
        c = s.conn()
        c.putrequest("POST", "/v1/run")
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for i in range(0, len(big), 100):
            part = big[i:i + 100]
            c.send(b"%x\r\n%s\r\n" % (len(part), part))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        eq(r.status, 413, "chunked status")
        eq(json.loads(r.read()), {"error": "the body is over the server's "
                                  "--max-body of 1024 bytes; send less"},
           "chunked body")
        c.close()
        eq(s.request("GET", "/healthz")[0], 200, "alive after")
        s.stop()


@test
def bodies_past_the_servers_budget_get_503_until_some_are_read():
    # --max-body 1K: 16 bodies (16 KiB) held at once, server-wide. What
    # counts is the room a body's Content-Length reserves, so 16 bodies
    # held with one byte sent each fill it as well as with 1,023.
    text = json.dumps(job(code_hex="b0 41 e6 10 f4"))[:-1]
    body = (text + " " * (1023 - len(text)) + "}").encode()
    assert len(body) == 1024
    head = (b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: 1024\r\n\r\n")
    for sent in (1023, 1):
        with Server("--max-body", "1K") as s:
            held = []
            try:
                for _ in range(16):
                    c = socket.create_connection(("127.0.0.1", s.port),
                                                 timeout=60)
                    c.sendall(head + body[:sent])
                    held.append(c)
                # Once the server has read them, the 17th's bytes are past
                # 16 KiB (until then it may still be answered).
                for _ in range(300):
                    if s.request("POST", "/v1/run", body, {
                            "Content-Type": "application/json"})[0] == 503:
                        break
                    time.sleep(0.1)
                expect_error(s, "POST", "/v1/run", body, 503,
                             {"error": "the server holds as many request "
                              "bodies as it may (16384 bytes); try again "
                              "shortly"},
                             {"Content-Type": "application/json"},
                             {"Retry-After": "1"})
                eq(s.metrics()['tincan_rejected_total{reason="bodies_full"}'],
                   2, "counted, %d bytes sent of each" % sent)
                held[0].sendall(body[sent:])  # one body whole: run, let go
                reply = b""
                while b"\r\n\r\n" not in reply:
                    chunk = held[0].recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                eq(reply.split(b"\r\n", 1)[0], b"HTTP/1.1 200 OK",
                   "a held one")
                st, h, res = s.json("POST", "/v1/run", json.loads(body),
                                    {"Content-Type": "application/json"})
                eq((st, res["output"]), (200, "A"), "room again")
            finally:
                for c in held:
                    c.close()
            eq(s.request("GET", "/healthz")[0], 200, "alive after")
            s.stop()


@test
def bodies_nobody_reads_hold_none_of_the_budget():
    # A body sent to a route that takes none (here without a token), or
    # with a token the server refused, is read and dropped: 24 of them
    # held open do not fill a budget of 16 bodies.
    with Server("--max-body", "1K", tokens=TOKENS) as s:
        heads = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "
                 b"1024\r\n\r\n",
                 b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nAuthorization: Bearer nobody\r\n"
                 b"Content-Length: 1024\r\n\r\n"]
        held = []
        try:
            for i in range(24):  # 20 GETs, 4 refused POSTs
                c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
                c.sendall(heads[i // 20] + b" " * 1023)
                held.append(c)
            time.sleep(0.5)  # the server has read what they sent
            st, h, res = s.json("POST", "/v1/run",
                                job(code_hex="b0 41 e6 10 f4",
                                    timeout_ms=2000), ALICE)
            eq((st, res.get("output")), (200, "A"), "a job with room")
            eq(s.metrics().get(
                'tincan_rejected_total{reason="bodies_full"}', 0), 0,
               "none refused for room")
        finally:
            for c in held:
                c.close()
        s.stop()


@both
def tokens_401_403_and_429_with_rate_headers():
    with Server(tokens=TOKENS) as s:
        ww = {"WWW-Authenticate": "Bearer realm=\"tincan\""}
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 401,
                     {"error": "no token: send the header 'Authorization: "
                      "Bearer TOKEN'"}, want_headers=ww)
        expect_error(s, "GET", "/v1/info", None, 401,
                     {"error": "unknown token: check the token you were "
                      "given"}, {"Authorization": "Bearer alice-secretX"}, ww)
        st, h, info = s.json("GET", "/v1/info", headers=ALICE)
        eq((info["token"], info["caps"]["max_timeout_ms"],
            info["caps"]["max_mem"], info["caps"]["max_output"]),
           ("alice", 2000, 8 << 20, 4096), "alice's caps")
        expect_error(s, "POST", "/v1/run", job(code_hex="f4", timeout_ms=5000),
                     403, {"error": "\"timeout_ms\" 5000 ms is above token "
                           "alice's cap of 2000 ms (max_timeout); ask for less",
                           "field": "timeout_ms"}, ALICE)
        j = job(code_hex="f4", mem="16M")
        del j["timeout_ms"]
        expect_error(s, "POST", "/v1/run", j, 403,
                     {"error": "\"mem\" 16777216 bytes is above token alice's "
                      "cap of 8388608 bytes (max_mem); ask for less",
                      "field": "mem"}, ALICE)
        # Left out, the defaults (1 s, 16M, 1M) come down to the caps.
        j = {"code_b64": b64(guest("hello_once"))}
        if BACKEND:
            j["backend"] = BACKEND
        st, h, res = s.json("POST", "/v1/run", j, ALICE)
        eq((st, res["status"], res["output"]), (200, "ok", "Hello, World!\n"),
           "under the caps")
        rated = {"Authorization": "Bearer rated-secret"}
        st, h, res = s.json("POST", "/v1/run", job(code_hex="f4"), rated)
        eq((st, h.get("ratelimit-limit"), h.get("ratelimit-remaining")),
           (200, "1", "0"), "first of rated")
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 429,
                     {"error": "token rated is over its rate (1 jobs/s, burst "
                      "1); try again in 1 s"}, rated,
                     {"Retry-After": "1", "RateLimit-Limit": "1",
                      "RateLimit-Remaining": "0", "RateLimit-Reset": "1"})
        one = {"Authorization": "Bearer one-secret"}
        # (On the fleet the canceled job runs to its end, and the drain
        # at s.stop() waits for it: 5 s, not more.)
        st, h, a = s.json("POST", "/v1/jobs", job(
            code_b64=b64(guest("spin")), timeout_ms=5000), one)
        eq(st, 202, "async for one")
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 429,
                     {"error": "token one has 1 jobs in flight, its "
                      "max_concurrent; wait for one to end"}, one,
                     {"Retry-After": "1"})
        eq(s.request("DELETE", "/v1/jobs/" + a["id"], headers=one)[0], 200,
           "cancel")
        m = s.metrics()
        eq((m['tincan_rejected_total{reason="unauthorized"}'],
            m['tincan_rejected_total{reason="over_cap"}'],
            m['tincan_rejected_total{reason="rate"}'],
            m['tincan_rejected_total{reason="concurrency"}']),
           (2, 2, 1, 1), "rejections counted")
        s.stop()


@test
def a_full_queue_gets_503_and_readyz_says_so():
    with Server("-j", "1", "--queue", "1") as s:
        spin = job(code_b64=b64(guest("spin")), timeout_ms=30000)
        ids = []
        for _ in range(2):
            st, h, a = s.json("POST", "/v1/jobs", spin)
            eq(st, 202, "accepted")
            ids.append(a["id"])
            # The first must be running (not queued) before the second.
            for _ in range(600):
                if s.json("GET", "/v1/jobs/" + ids[0])[2]["state"] == "running":
                    break
                time.sleep(0.05)
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 503,
                     {"error": "the queue is full (1 jobs wait); try again "
                      "shortly"}, want_headers={"Retry-After": "1"})
        st, h, body = s.json("GET", "/readyz")
        eq((st, body, h.get("retry-after")),
           (503, {"status": "queue_full"}, "1"), "readyz when full")
        st, h, body = s.json("DELETE", "/v1/jobs/" + ids[1])
        eq((st, body), (200, {"id": ids[1], "state": "canceled"}),
           "cancel the queued one")
        eq(s.json("GET", "/v1/jobs/" + ids[1])[2],
           {"id": ids[1], "state": "canceled"}, "a canceled queued job")
        eq(s.json("GET", "/readyz")[:3:2], (200, {"status": "ready"}),
           "ready again")
        t0 = time.time()
        st, h, body = s.json("DELETE", "/v1/jobs/" + ids[0])
        eq(body, {"id": ids[0], "state": "canceled"}, "cancel the running one")
        # Its worker is free again well before the job's 30 s deadline.
        st, h, res = s.json("POST", "/v1/run", job(code_hex="f4"))
        eq((st, res["status"]), (200, "ok"), "the worker runs the next job")
        assert time.time() - t0 < 15, "canceling did not free the worker"
        eq(s.json("GET", "/v1/jobs/" + ids[0])[2],
           {"id": ids[0], "state": "canceled"}, "a canceled running job")
        s.stop()


# --- async jobs --------------------------------------------------------------

@test
def async_jobs_queue_long_poll_and_keep():
    with Server("--keep", "1500ms", tokens=TOKENS) as s:
        st, h, a = s.json("POST", "/v1/jobs",
                          job(code_b64=b64(guest("hello_once"))), BOB)
        eq(st, 202, "status")
        eq(h["location"], "/v1/jobs/" + a["id"], "Location")
        eq(a, {"id": a["id"], "state": "queued"}, "body")
        st, h, done = s.json("GET", h["location"] + "?wait=30s", headers=BOB)
        eq((st, sorted(done), done["id"], done["state"]),
           (200, ["id", "result", "state"], a["id"], "done"), "long-poll")
        eq(steady(done["result"]),
           steady(cli_json(os.path.join(G, "hello_once.bin"))), "result")
        # Another token cannot see it.
        eq(s.request("GET", "/v1/jobs/" + a["id"],
                     headers=ALICE)[0], 404, "alice sees bob's job")
        # A long-poll that times out answers the state as it is.
        st, h, b = s.json("POST", "/v1/jobs", job(
            code_b64=b64(guest("spin")), timeout_ms=2000), BOB)
        t0 = time.time()
        st, h, now = s.json("GET", "/v1/jobs/%s?wait=300ms" % b["id"],
                            headers=BOB)
        eq((st, now), (200, {"id": b["id"], "state": "running"}),
           "a long-poll past its wait")
        assert 0.25 < time.time() - t0 < 10, time.time() - t0
        st, h, end = s.json("GET", "/v1/jobs/%s?wait=60s" % b["id"],
                            headers=BOB)
        eq((end["state"], end["result"]["status"]), ("done", "timeout"),
           "its end")
        # Deleting a finished job drops it.
        st, h, last = s.json("DELETE", "/v1/jobs/" + b["id"], headers=BOB)
        eq((st, last), (200, end), "delete answers the last look")
        eq(s.request("GET", "/v1/jobs/" + b["id"], headers=BOB)[0], 404,
           "deleted")
        # --keep 1500ms: the first result is gone within a sweep or two.
        for _ in range(100):
            if s.request("GET", "/v1/jobs/" + a["id"], headers=BOB)[0] == 404:
                break
            time.sleep(0.1)
        eq(s.request("GET", "/v1/jobs/" + a["id"], headers=BOB)[0], 404,
           "after --keep")
        # A job that cannot load ends done with its error.
        st, h, c = s.json("POST", "/v1/jobs", job(code_hex="4"), BOB)
        st, h, end = s.json("GET", "/v1/jobs/%s?wait=60s" % c["id"],
                            headers=BOB)
        eq(end, {"id": c["id"], "state": "done",
                 "error": "\"code_hex\": bad hex: a lone digit at offset 0; "
                 "write whole bytes like 'e6 10'", "field": "code_hex"},
           "a job that could not run")
        s.stop()


# --- batches -----------------------------------------------------------------

@both
def batch_streams_tincan_batch_lines():
    lines = [
        json.dumps(job(id="hello", code_b64=b64(guest("hello_once")))),
        json.dumps(job(id=7, code_b64=b64(guest("ud2")))),
        "not json",
        "",
        json.dumps(job(id="hello", code_hex="f4")),
        json.dumps(job(id="multi", code_b64=b64(guest("echo")),
                       inputs=[{"input_hex": "41"}, {"input_hex": "42"}])),
        json.dumps({"code_hex": "f4"}),
        json.dumps(job(id="bad", code_hex="f4", timeout=5)),
        "[1, 2]",
        json.dumps({"id": 1.5, "code_hex": "f4"}),
    ]
    body = ("\n".join(lines) + "\n").encode()
    jobs = os.path.join(TMP, "batch.jsonl")
    with open(jobs, "wb") as f:
        f.write(body)
    want = subprocess.run([TINCAN, "batch", "-j", "2", jobs],
                          stdout=subprocess.PIPE).stdout.decode()
    want = sorted(json.dumps(steady(json.loads(l)), sort_keys=True)
                  for l in want.splitlines())
    with Server() as s:
        c = s.conn()
        c.request("POST", "/v1/batch", body=body,
                  headers={"Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        eq((r.status, r.getheader("Content-Type"),
            r.getheader("Transfer-Encoding")),
           (200, "application/x-ndjson", "chunked"), "stream")
        got = r.read().decode()
        c.close()
        eq(got.endswith("\n"), True, "whole lines")
        got = sorted(json.dumps(steady(json.loads(l)), sort_keys=True)
                     for l in got.splitlines())
        eq(got, want, "the same lines as tincan batch")
        eq(len(got), 9, "one line per non-blank line")
        s.stop()


@test
def a_batch_client_that_never_reads_does_not_pin_its_results():
    bulk = b64(guest("bulk1m"))  # 1 MiB of output: about 1.4 MB a line
    body = "".join(json.dumps(job(id=i, code_b64=bulk, max_output="2M")) +
                   "\n" for i in range(60)).encode()
    with Server() as s:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/x-ndjson\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        # Never read: the server stops starting jobs at 4 MiB held, and the
        # connection times out (15 s without progress) and is closed.
        for _ in range(1200):
            if [r for r in s.requests() if r["path"] == "/v1/batch"]:
                break
            time.sleep(0.05)
        line = [r for r in s.requests() if r["path"] == "/v1/batch"]
        eq(len(line), 1, "the batch request ended")
        m = s.metrics()
        ran = sum(v for k, v in m.items() if k.startswith("tincan_jobs_total{"))
        assert ran < 30, "%d of 60 jobs ran for a client that reads nothing" \
            % ran
        eq((m["tincan_jobs_in_flight"], m["tincan_queue_depth"]), (0, 0),
           "nothing left running")
        sock.close()
        eq(s.stop(), 0, "exit status")


# --- health, metrics, the page, the log ----------------------------------

@test
def health_ready_metrics_and_the_page():
    with Server() as s:
        eq(s.json("GET", "/healthz")[::2], (200, {"status": "ok"}), "healthz")
        eq(s.json("GET", "/readyz")[::2], (200, {"status": "ready"}),
           "readyz")
        st, h, data = s.request("HEAD", "/healthz")
        eq((st, data), (200, b""), "HEAD")
        s.json("POST", "/v1/run", job(code_hex="f4"))
        st, h, data = s.request("GET", "/metrics")
        eq(h["content-type"], "text/plain; version=0.0.4; charset=utf-8",
           "exposition type")
        text = data.decode()
        for family, kind in [("tincan_jobs_total", "counter"),
                             ("tincan_job_duration_seconds", "histogram"),
                             ("tincan_jobs_in_flight", "gauge"),
                             ("tincan_queue_depth", "gauge"),
                             ("tincan_http_requests_total", "counter"),
                             ("tincan_rejected_total", "counter")]:
            assert "# TYPE %s %s\n" % (family, kind) in text, family
        for line in text.splitlines():
            assert line.startswith("#") or re.fullmatch(
                r'tincan_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                r'[0-9.e+-]+', line), line
        m = s.metrics()
        eq(m['tincan_jobs_total{status="ok",backend="%s"}' % WANT_BACKEND], 1,
           "jobs counted")
        eq(m['tincan_job_duration_seconds_count'], 1, "histogram count")
        eq(m['tincan_job_duration_seconds_bucket{le="+Inf"}'], 1, "+Inf")
        eq(m['tincan_http_requests_total{code="200"}'], 5, "200s so far")
        st, h, page = s.request("GET", "/")
        eq((st, h["content-type"]), (200, "text/html; charset=utf-8"), "page")
        assert b"tincan playground" in page
        assert not re.search(rb"(src|href)=\"?(https?:)?//", page), \
            "external resources"
        assert "default-src 'none'" in h["content-security-policy"]
        s.stop()


@test
def the_access_log_has_one_json_line_per_request():
    with Server(tokens=TOKENS) as s:
        s.json("POST", "/v1/run", job(code_hex="f4"), BOB)
        s.request("GET", "/nowhere")
        s.request("GET", "/v1/info", headers={"Authorization": "Bearer x"})
        s.stop()
        reqs = s.requests()
        eq([(r["method"], r["path"], r["status"], r["token"], r["job_status"])
            for r in reqs],
           [("POST", "/v1/run", 200, "bob", "ok"),
            ("GET", "/nowhere", 404, None, None),
            ("GET", "/v1/info", 401, None, None)], "log lines")
        for r in reqs:
            eq(sorted(r), sorted(["time", "client", "token", "method", "path",
                                  "status", "job_status", "duration_us"] +
                                 (["job_wall_us"] if r["job_status"] else [])),
               "log keys")
            assert re.fullmatch(r"127\.0\.0\.1:\d+", r["client"]), r
        with open(s.log) as f:
            assert "bob-secret" not in f.read(), "a token in the log"


@test
def a_unix_socket_serves_without_tokens():
    path = os.path.join(TMP, "tincan.sock")
    log = os.path.join(TMP, "unix.log")
    p = subprocess.Popen([TINCAN, "serve", "--listen", "unix:" + path, "--log",
                          log], stderr=subprocess.DEVNULL)
    try:
        for _ in range(START_S * 20):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        out = subprocess.run(
            ["curl", "-s", "--unix-socket", path, "-H",
             "Content-Type: application/json", "-d",
             json.dumps(job(code_hex="b0 42 e6 10 f4")), "http://x/v1/run"],
            stdout=subprocess.PIPE, check=True).stdout
        eq(json.loads(out)["output"], "B", "output over the socket")
        eq(oct(os.stat(path).st_mode & 0o777), "0o600", "socket mode")
    finally:
        p.send_signal(signal.SIGTERM)
        eq(p.wait(60), 0, "exit status")
    eq(os.path.exists(path), False, "socket removed at exit")


@test
def bad_usage_exits_125_with_one_line():
    bad_tokens = os.path.join(TMP, "bad-tokens")
    with open(bad_tokens, "w") as f:
        f.write("alice nothex\n")
    for args, want in [
        (["--listen", "0.0.0.0:0"], "tincan: --listen 0.0.0.0:0: without "
         "--tokens tincan serves only loopback addresses (127.0.0.1, ::1) or "
         "unix sockets; give --tokens FILE to serve others"),
        (["--tokens", bad_tokens], "tincan: %s line 1: after the name comes "
         "the token's SHA-256 (64 hex digits: printf %%s TOKEN | sha256sum), "
         "never the token itself" % bad_tokens),
        (["--queue", "0"], "tincan: --queue 0: give a number of jobs from 1 "
         "to 1000000"),
        (["--keep", "5"], "tincan: --keep: bad duration '5': add a unit; "
         "write e.g. 250ms or 2s"),
        (["--listen", "nonsense"], "tincan: --listen nonsense: give HOST:PORT "
         "(e.g. 127.0.0.1:8080 or [::1]:8080) or unix:PATH"),
        (["extra"], "tincan: unexpected argument 'extra'; see 'tincan serve "
         "--help'"),
    ]:
        r = subprocess.run([TINCAN, "serve"] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        eq((r.returncode, r.stdout, r.stderr.decode()), (125, b"", want + "\n"),
           " ".join(args))


# --- load ----------------------------------------------------------------------

@both
def two_hundred_requests_over_twenty_connections_all_answered_exactly():
    with Server() as s:
        before = s.metrics()
        echo = b64(guest("echo"))
        errors = []

        def client(n):
            c = s.conn()
            try:
                for i in range(10):
                    data = ("%d-%d" % (n, i)).encode() * (1 + i)
                    st, h, res = s.json("POST", "/v1/run", job(
                        code_b64=echo, input_b64=b64(data)), conn=c)
                    if (st, res["status"], base64.b64decode(
                            res["output_b64"])) != (200, "ok", data):
                        errors.append((n, i, st, res))
            except Exception as e:  # the assertion below reports it
                errors.append((n, repr(e)))
            finally:
                c.close()
        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(errors, [], "answers")
        after = s.metrics()
        k = 'tincan_jobs_total{status="ok",backend="%s"}' % WANT_BACKEND
        eq(after[k] - before.get(k, 0), 200, "jobs counted")
        k = 'tincan_http_requests_total{code="200"}'
        eq(after[k] - before.get(k, 0), 201, "200s counted (+ one scrape)")
        eq((after["tincan_jobs_in_flight"], after["tincan_queue_depth"]),
           (0, 0), "nothing left")
        s.stop()


def malformed(rng):
    """One malformed request: (name, bytes to send, how: "close" to shut
    the write side after sending, "abort" to hang up when no answer comes
    at once, "slow" to send it in small pieces)."""
    good = json.dumps(job(code_hex="f4")).encode()

    def post(body, ctype="application/json", extra=b""):
        return (b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: " +
                ctype.encode() + b"\r\nContent-Length: %d\r\n" % len(body) +
                extra + b"Connection: close\r\n\r\n" + body)
    kind = rng.randrange(14)
    if kind == 0:
        cut = good[:rng.randrange(1, len(good) - 1)]
        return "truncated JSON", post(cut), None
    if kind == 1:
        return "random bytes", post(bytes(rng.randrange(256) for _ in
                                          range(rng.randrange(1, 200)))), None
    if kind == 2:
        field = rng.choice(["timeout_ms", "mem", "max_output", "max_insns",
                            "code_hex", "inputs", "format", "backend"])
        val = rng.choice([[], {}, True, None, 1.5, "x", -1, [1]])
        return "wrong type", post(json.dumps(dict(job(code_hex="f4"),
                                                  **{field: val})).encode()), None
    if kind == 3:
        num = rng.choice(["1e400", "99999999999999999999999", "-0",
                          "18446744073709551616", "1" * 400])
        return "huge number", post(b'{"code_hex":"f4","timeout_ms":' +
                                   num.encode() + b"}"), None
    if kind == 4:
        return "NUL bytes", post(rng.choice([
            b'{"code_hex":"f4\\u0000"}', b'{"code_hex":"f4"\x00}',
            b'\x00{"code_hex":"f4"}', b'{"code\x00hex":"f4"}'])), None
    if kind == 5:
        return "invalid UTF-8", post(rng.choice([
            b'{"code_hex":"\xff\xfe"}', b'{"\xc3\x28":1}',
            b'{"code_hex":"f4","id":"\xed\xa0\x80"}'])), None
    if kind == 6:
        return "wrong content type", post(good, rng.choice([
            "text/plain", "application/xml", "multipart/form-data",
            "application/jsonx", "json", "application/x-www-form-urlencoded"])), None
    if kind == 7:
        n = len(good) + rng.randrange(1, 50)
        return "Content-Length too long", (
            b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n" % n + good), \
            "abort"
    if kind == 8:
        return "Content-Length short", (
            b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n" %
            rng.randrange(1, len(good) - 1) + good), None
    if kind == 9:
        chunk = rng.choice([b"zz\r\n", b"5\r\nabc\r\n", b"-1\r\n",
                            b"ffffffffffffffffff\r\n", b"3;x\r\nabcdef\r\n"])
        return "broken chunking", (
            b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
            b"0\r\n\r\n"), "close"
    if kind == 10:
        return "1 GB declared", (
            b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: 1073741824\r\n\r\n" +
            good), None
    if kind == 11:
        return "bad request line", rng.choice([
            b"GET\r\n\r\n", b"GET / HTTP/1.1 x\r\n\r\n",
            b"G\x00T / HTTP/1.1\r\n\r\n", b" / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"]), "close"
    if kind == 12:
        return "huge header", (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                               b"a" * 100000 + b"\r\n\r\n"), "close"
    return "slow client", post(rng.choice([b"{", b'{"code_hex":5}'])), "slow"


def send_raw(port, data, how):
    """The status code of the answer, or None when the server closed the
    connection without one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        if how == "slow":
            for i in range(0, len(data), 16):
                sock.sendall(data[i:i + 16])
                time.sleep(0.002)
        else:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
        if how == "abort":
            # The server waits for the rest of the body: hang up on it.
            sock.settimeout(0.3)
            try:
                return int(sock.recv(64)[9:12])
            except (socket.timeout, ValueError, ConnectionResetError):
                return None
        if how == "close":
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server closed it already
        buf = b""
        while b"\r\n" not in buf:
            try:
                got = sock.recv(4096)
            except ConnectionResetError:
                break
            if not got:
                break
            buf += got
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", buf)
        return int(m.group(1)) if m else None
    finally:
        sock.close()


@test
def two_thousand_malformed_requests_get_4xx_and_the_server_lives():
    rng = random.Random(13)
    cases = [malformed(rng) for _ in range(2000)]
    with Server("--max-body", "64K") as s:
        bad = []
        answered = {}
        lock = threading.Lock()

        def worker(part):
            for name, data, how in part:
                code = send_raw(s.port, data, how)
                with lock:
                    answered.setdefault(name, []).append(code)
                    # Without an answer only where the request never ends.
                    if code is None and name not in (
                            "Content-Length too long", "broken chunking",
                            "bad request line"):
                        bad.append((name, data[:120], code))
                    elif code is not None and not 400 <= code < 500:
                        bad.append((name, data[:120], code))
        threads = [threading.Thread(target=worker, args=(cases[i::8],))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(bad[:5], [], "answers that are not 4xx")
        eq(s.proc.poll(), None, "the server is alive")
        st, h, res = s.json("POST", "/v1/run", job(code_hex="b0 41 e6 10 f4"))
        eq((st, res["status"], res["output"]), (200, "ok", "A"),
           "a valid request right after")
        eq(len(answered), 14, "every kind was sent")
        eq(s.stop(), 0, "exit status")


@test
def slow_clients_cannot_hold_the_server():
    with Server() as s:
        slow = []
        for _ in range(70):  # more than the 64 allowed from one address
            c = socket.socket()
            c.bind(("127.0.0.2", 0))
            try:
                c.connect(("127.0.0.1", s.port))
                c.sendall(b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-")
                slow.append(c)
            except OSError:
                c.close()
        t0 = time.time()
        st, h, res = s.json("POST", "/v1/run", job(code_hex="b0 41 e6 10 f4"))
        eq((st, res["output"]), (200, "A"), "another client meanwhile")
        # Idle past the connection timeout (15 s), each is closed.
        open_ = 0
        for c in slow:
            c.settimeout(max(1, 60 - (time.time() - t0)))
            try:
                got = c.recv(4096)
                # An answer (503 for over the limit) or a close, never a hang.
                assert got == b"" or got.startswith(b"HTTP/1.1 "), got[:80]
            except socket.timeout:
                open_ += 1
            except ConnectionResetError:
                pass
            c.close()
        eq(open_, 0, "slow connections still open after 60 s")
        eq(s.stop(), 0, "exit status")


# --- signals -------------------------------------------------------------------

@both
def sigterm_lets_twenty_running_jobs_finish_and_answers_each():
    # In the lane a spinning KVM guest takes the one vCPU from the clients:
    # one worker there, and jobs long enough that most of the 20 still wait
    # or run when the last request is in.
    spin_ms, workers = (300, "2") if BACKEND else (2000, "1")
    with Server("-j", workers) as s:
        spin = job(code_b64=b64(guest("spin")), timeout_ms=spin_ms)
        keep = s.conn()
        eq(s.request("GET", "/healthz", conn=keep)[0], 200, "keep-alive")
        results = []

        def client():
            try:
                results.append(s.json("POST", "/v1/run", spin)[::2])
            except Exception as e:
                results.append(repr(e))
        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()

        def counts():
            m = s.metrics()
            # With --redis the depth is the stream's: jobs in flight too.
            pending = m["tincan_jobs_in_flight"] + \
                (0 if REDIS else m["tincan_queue_depth"])
            ended = sum(v for k, v in m.items()
                        if k.startswith("tincan_jobs_total{"))
            return pending, ended
        for _ in range(1200):
            pending, ended = counts()
            if pending + ended == 20:
                break
            time.sleep(0.05)
        eq(pending + ended, 20, "20 jobs accepted")
        assert pending >= 10, "only %d of 20 jobs left to drain" % pending
        s.proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if any(e.get("event") == "draining" for e in s.events()):
                break
            time.sleep(0.05)
        st, h, body = s.json("GET", "/readyz", conn=keep)
        eq((st, body), (503, {"status": "draining"}), "readyz while draining")
        st, h, body = s.json("POST", "/v1/run", job(code_hex="f4"), conn=keep)
        eq((st, h.get("retry-after"), body),
           (503, "1", {"error": "the server is shutting down; send the job "
                       "to another server or try again later"}), "new jobs")
        keep.close()
        for t in threads:
            t.join()
        eq(results, [(200, r[1]) for r in results], "every job answered 200")
        eq(sorted(r[1]["status"] for r in results), ["timeout"] * 20,
           "each ran to its deadline")
        eq(s.proc.wait(120), 0, "exit status after the drain")
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
            raise AssertionError("still accepting after the drain")
        except ConnectionRefusedError:
            pass


@test
def sighup_reloads_the_tokens_and_a_bad_file_keeps_them():
    with Server(tokens=token_line("old", "old-secret")) as s:
        old = {"Authorization": "Bearer old-secret"}
        new = {"Authorization": "Bearer new-secret"}
        eq(s.request("GET", "/v1/info", headers=old)[0], 200, "old before")
        eq(s.request("GET", "/v1/info", headers=new)[0], 401, "new before")
        with open(s.tokens, "w") as f:
            f.write(token_line("new", "new-secret"))

        def reload(event):
            n = len([e for e in s.events() if e["event"] == event])
            s.proc.send_signal(signal.SIGHUP)
            for _ in range(600):
                if len([e for e in s.events() if e["event"] == event]) > n:
                    return [e for e in s.events() if e["event"] == event][-1]
                time.sleep(0.05)
            raise AssertionError("no %s event" % event)
        eq(reload("tokens_reloaded")["detail"], "1 tokens from " + s.tokens,
           "reloaded")
        eq(s.request("GET", "/v1/info", headers=old)[0], 401, "old after")
        eq(s.json("GET", "/v1/info", headers=new)[2]["token"], "new",
           "new after")
        with open(s.tokens, "w") as f:
            f.write("broken line\n")
        eq(reload("tokens_reload_failed")["detail"],
           "kept the old tokens: %s line 1: after the name comes the token's "
           "SHA-256 (64 hex digits: printf %%s TOKEN | sha256sum), never the "
           "token itself" % s.tokens, "a bad file")
        eq(s.request("GET", "/v1/info", headers=new)[0], 200, "kept")
        eq(s.stop(), 0, "exit status")


# --- serve --redis: what the fleet's queue does differently -----------------

@redis_only
def async_jobs_on_the_fleet_long_poll_cancel_and_errors():
    with Server() as s:
        st, h, a = s.json("POST", "/v1/jobs",
                          job(code_b64=b64(guest("hello_once"))))
        eq((st, a), (202, {"id": a["id"], "state": "queued"}), "accepted")
        st, h, done = s.json("GET", h["location"] + "?wait=30s")
        eq((st, sorted(done), done["state"]),
           (200, ["id", "result", "state"], "done"), "long-poll")
        eq(steady(done["result"]),
           steady(cli_json(os.path.join(G, "hello_once.bin"))), "result")
        # The queue does not report starts: a job is queued until it ends.
        st, h, b = s.json("POST", "/v1/jobs", job(
            code_b64=b64(guest("spin")), timeout_ms=1500))
        t0 = time.time()
        eq(s.json("GET", "/v1/jobs/%s?wait=300ms" % b["id"])[2],
           {"id": b["id"], "state": "queued"}, "a long-poll past its wait")
        assert 0.25 < time.time() - t0 < 10, time.time() - t0
        end = s.json("GET", "/v1/jobs/%s?wait=60s" % b["id"])[2]
        eq((end["state"], end["result"]["status"]), ("done", "timeout"),
           "its end")
        # Canceled: answered at once, whatever a worker still does with it.
        st, h, c = s.json("POST", "/v1/jobs", job(
            code_b64=b64(guest("spin")), timeout_ms=1500))
        eq(s.json("DELETE", "/v1/jobs/" + c["id"])[::2],
           (200, {"id": c["id"], "state": "canceled"}), "cancel")
        eq(s.json("GET", "/v1/jobs/%s?wait=5s" % c["id"])[2],
           {"id": c["id"], "state": "canceled"}, "stays canceled")
        # A job the worker cannot load: its error and field, as locally.
        st, h, d = s.json("POST", "/v1/jobs", job(code_hex="4"))
        eq(s.json("GET", "/v1/jobs/%s?wait=60s" % d["id"])[2],
           {"id": d["id"], "state": "done",
            "error": "\"code_hex\": bad hex: a lone digit at offset 0; "
            "write whole bytes like 'e6 10'", "field": "code_hex"},
           "a job that could not run")
        expect_error(s, "POST", "/v1/run", job(code_hex="4"), 400,
                     {"error": "\"code_hex\": bad hex: a lone digit at offset "
                      "0; write whole bytes like 'e6 10'",
                      "field": "code_hex"})
        s.stop()


@redis_only
def a_canceled_fleet_job_holds_its_tokens_slot_until_its_worker_ends_it():
    # A worker cannot be told to stop: canceling a job it has taken must
    # not free its tenant's max_concurrent slot while it still runs.
    one = {"Authorization": "Bearer one-secret"}
    with Server(tokens=TOKENS) as s:
        st, h, a = s.json("POST", "/v1/jobs", job(
            code_b64=b64(guest("spin")), timeout_ms=1500), one)
        eq(st, 202, "accepted")
        wait_for("the job in P:jobs",
                 lambda: REDIS_SERVER.integer("XLEN", s.prefix + ":jobs"), 1)
        eq(s.json("DELETE", "/v1/jobs/" + a["id"], headers=one)[::2],
           (200, {"id": a["id"], "state": "canceled"}), "cancel")
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 429,
                     {"error": "token one has 1 jobs in flight, its "
                      "max_concurrent; wait for one to end"}, one,
                     {"Retry-After": "1"})
        # Its worker ends it at its 1.5 s deadline: then the slot is free.
        wait_for("the slot, once the worker ended it", lambda: s.request(
            "POST", "/v1/run", job(code_hex="f4"), one)[0], 200)
        eq(REDIS_SERVER.integer("XLEN", s.prefix + ":jobs"), 0,
           "the stream after it")
        st, h, data = s.request("GET", "/v1/jobs/" + a["id"], headers=one)
        eq((st, json.loads(data)), (200, {"id": a["id"], "state": "canceled"}),
           "it stays canceled")
        st, h, data = s.request("DELETE", "/v1/jobs/" + a["id"], headers=one)
        eq((st, data), (200, (json.dumps({"id": a["id"], "state": "canceled"},
                                         separators=(",", ":")) +
                              "\n").encode()),
           "deleting it again: its last look, one line")
        eq(s.request("GET", "/v1/jobs/" + a["id"], headers=one)[0], 404,
           "then it is gone")
        s.stop()


def wait_for(what, fn, want, tries=600):
    got = None
    for _ in range(tries):
        got = fn()
        if got == want:
            return
        time.sleep(0.05)
    eq(got, want, what)


@redis_only
def a_full_stream_gets_503_with_retry_after_until_it_drains():
    with Server("--queue", "2") as s:
        spin = job(code_b64=b64(guest("spin")), timeout_ms=2000)
        for _ in range(2):
            eq(s.json("POST", "/v1/jobs", spin)[0], 202, "accepted")
        # Both in P:jobs (each on a worker) until they end.
        wait_for("the stream's depth", lambda: s.metrics()[
            "tincan_queue_depth"], 2)
        expect_error(s, "POST", "/v1/run", job(code_hex="f4"), 503,
                     {"error": "the queue is full (2 jobs wait); try again "
                      "shortly"}, want_headers={"Retry-After": "1"})
        st, h, body = s.json("GET", "/readyz")
        eq((st, body, h.get("retry-after")),
           (503, {"status": "queue_full"}, "1"), "readyz when full")
        wait_for("ready once they end", lambda: s.json("GET", "/readyz")[::2],
                 (200, {"status": "ready"}))
        st, h, res = s.json("POST", "/v1/run", job(code_hex="f4"))
        eq((st, res["status"]), (200, "ok"), "a job after the drain")
        eq(s.metrics()['tincan_rejected_total{reason="queue_full"}'], 1,
           "the 503 counted")
        s.stop()


@redis_only
def two_servers_share_one_redis_and_its_workers():
    with Server() as a, Server(workers=0, prefix=a.prefix) as b:
        echo = b64(guest("echo"))
        errors = []

        def client(s, n):
            c = s.conn()
            try:
                for i in range(10):
                    data = ("%s-%d-%d" % (s.port, n, i)).encode()
                    st, h, res = s.json("POST", "/v1/run", job(
                        code_b64=echo, input_b64=b64(data)), conn=c)
                    if (st, res["status"], base64.b64decode(
                            res["output_b64"])) != (200, "ok", data):
                        errors.append((s.port, n, i, st, res))
            except Exception as e:  # the assertion below reports it
                errors.append((s.port, n, repr(e)))
            finally:
                c.close()
        threads = [threading.Thread(target=client, args=(s, n))
                   for s in (a, b) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(errors, [], "answers from both servers")
        k = 'tincan_jobs_total{status="ok",backend="%s"}' % WANT_BACKEND
        eq((a.metrics()[k], b.metrics()[k]), (50, 50), "each its own jobs")
        b.stop()
        a.stop()


@redis_only
def serve_rides_out_a_redis_restart():
    with Server() as s:
        st, h, res = s.json("POST", "/v1/run", job(code_hex="b0 41 e6 10 f4"))
        eq((st, res["output"]), (200, "A"), "before")
        REDIS_SERVER.stop()  # appendonly: the stream survives
        got = []
        t = threading.Thread(target=lambda: got.append(s.json(
            "POST", "/v1/run", job(code_hex="b0 42 e6 10 f4"))[::2]))
        t.start()
        time.sleep(1)
        REDIS_SERVER.start()
        t.join(120)
        eq([(st, r["status"], r["output"]) for st, r in got],
           [(200, "ok", "B")], "a job sent while Redis was down")
        lines = [l for l in s.stderr().splitlines() if "the queue at" in l]
        eq(len(lines), 2, "one line down, one back: %r" % lines)
        assert "failed" in lines[0] and lines[1].endswith(" is back"), lines
        s.stop()


@redis_only
def a_job_whose_worker_dies_is_run_by_another_and_answered():
    with Server(workers=1, worker_args=["--claim-idle", "1s"]) as s:
        got = []
        t = threading.Thread(target=lambda: got.append(s.json(
            "POST", "/v1/run", job(code_b64=b64(guest("spin")),
                                   timeout_ms=1500))[::2]))
        t.start()
        wait_for("the job on its worker", lambda: s.metrics()[
            "tincan_jobs_in_flight"], 1)
        time.sleep(0.5)  # past XREADGROUP: the entry is the worker's
        s.workers[0].kill()
        s.workers[0].wait()
        pending = subprocess.run(
            ["redis-cli", "-p", str(REDIS_SERVER.port), "XPENDING",
             s.prefix + ":jobs", s.prefix + ":workers"],
            stdout=subprocess.PIPE, check=True).stdout.decode().split()
        eq((pending[0], pending[-2:]), ("1", [s.prefix + "-w0", "1"]),
           "the dead worker's pending entry")
        s.start_worker(s.prefix + "-w1")  # claims it after --claim-idle
        t.join(120)
        eq([(st, r["status"]) for st, r in got], [(200, "timeout")],
           "answered once, by the second worker")
        s.stop()


@redis_only
def bad_redis_usage_exits_125_with_one_line():
    dead = "redis://127.0.0.1:%d" % free_port()
    url = REDIS_SERVER.url
    cases = [
        (["--prefix", "p"], "tincan: --prefix names the keys of a queue: "
         "give --redis URL too"),
        (["--redis", dead], "tincan: --redis: %s/0: Connection refused" %
         dead),
        (["--redis", "http://x"], "tincan: --redis: bad Redis URL "
         "'http://x': give redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or "
         "unix:///PATH[?db=N] (no TLS: hiredis in Debian is built without "
         "it)"),
        (["--redis", url, "--allow-paths", TMP], "tincan: --allow-paths with "
         "--redis: the fleet's workers run the jobs on their own hosts, where "
         "this directory is not; send code and input inline"),
    ]
    for args, want in cases:
        r = subprocess.run([TINCAN, "serve", "--listen", "127.0.0.1:0"] +
                           args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        eq((r.returncode, r.stdout, r.stderr.decode()), (125, b"", want + "\n"),
           " ".join(args))
    cli = ["redis-cli", "-p", str(REDIS_SERVER.port)]
    subprocess.run(cli + ["CONFIG", "SET", "requirepass", "s3cret"],
                   stdout=subprocess.DEVNULL, check=True)
    try:
        r = subprocess.run([TINCAN, "serve", "--listen", "127.0.0.1:0",
                            "--redis", "redis://:wrong@127.0.0.1:%d" %
                            REDIS_SERVER.port], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = r.stderr.decode()
        eq((r.returncode, err.count("\n"), "wrong" in err),
           (125, 1, False), "a wrong password: %r" % err)
        assert "WRONGPASS" in err, err
        good = "redis://:s3cret@127.0.0.1:%d" % REDIS_SERVER.port
        with Server(workers=0, url=good) as s:
            eq(s.json("GET", "/readyz")[::2], (200, {"status": "ready"}),
               "the right password")
            s.stop()
    finally:
        subprocess.run(cli + ["-a", "s3cret", "--no-auth-warning", "CONFIG",
                              "SET", "requirepass", ""],
                       stdout=subprocess.DEVNULL)


def main():
    global REDIS_SERVER
    pattern = os.environ.get("TINCAN_TEST_FILTER") or "*"
    if REDIS:
        try:
            REDIS_SERVER = Redis()
        except Exception as e:
            print("FAIL redis-server: %s" % e)
            shutil.rmtree(TMP, ignore_errors=True)
            print("0 passed, 1 failed")
            return 1
    try:
        return run_tests(pattern)
    finally:
        if REDIS_SERVER:
            REDIS_SERVER.stop()
        shutil.rmtree(TMP, ignore_errors=True)


def run_tests(pattern):
    passed = failed = 0
    for fn in TESTS:
        if not fnmatch.fnmatch(fn.__name__, pattern):
            continue
        if REDIS and fn.__name__ not in BOTH | REDIS_ONLY:
            continue  # HTTP alone, or what only local workers do
        if not REDIS and fn.__name__ in REDIS_ONLY:
            continue
        t0 = time.time()
        try:
            fn()
            print("ok %s (%.1f s)" % (fn.__name__, time.time() - t0),
                  flush=True)
            passed += 1
        except Exception as e:
            print("FAIL %s: %s" % (fn.__name__, str(e)[:2000]), flush=True)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
