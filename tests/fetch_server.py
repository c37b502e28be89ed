#!/usr/bin/env python3
# tests/fetch_server.py - the HTTP(S) server the payload-source tests fetch
# from, on 127.0.0.1 only. Prints the port it bound (an ephemeral one) on
# one line, then serves until killed.
#   fetch_server.py [--root DIR] [--tls DIR]
# --root DIR  serve DIR's files under /files/NAME
# --tls DIR   serve HTTPS with a certificate made now with openssl in DIR:
#             DIR/cert.pem (self-signed, CN and SAN 127.0.0.1, also the CA
#             to pass with --cacert), DIR/key.pem, and DIR/other-ca.pem (an
#             unrelated self-signed certificate: "the wrong CA").
# Routes:
#   /hello              "hello, payload\n"
#   /files/NAME         a file from --root
#   /status/N           an empty response with status N
#   /redirect/N         N redirects, then /hello
#   /redirect-file      a redirect to file:///etc/passwd
#   /redirect-to/URL    a redirect to URL (the rest of the path, as is)
#   /slow               sleeps 60 s before answering
#   /endless            200 without Content-Length, bytes until the client
#                       goes away; /endless-stats says "SENT DONE"
#   /huge-declared      Content-Length: 1 GiB, then nothing for 60 s
#   /count/NAME         "counted NAME\n"; /count-of/PATH gives how many
#                       requests PATH had so far
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

lock = threading.Lock()
counts = {}
endless = {"sent": 0, "done": 0}
root = None


def make_cert(d, name, cn):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", os.path.join(d, name + "-key.pem"),
         "-out", os.path.join(d, name + ".pem"), "-days", "2",
         "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_body(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if not p.startswith("/count-of/") and p != "/endless-stats":
            with lock:
                counts[p] = counts.get(p, 0) + 1
        if p == "/hello":
            self.send_body(b"hello, payload\n")
        elif p.startswith("/files/") and root:
            name = os.path.basename(p[len("/files/"):])
            try:
                with open(os.path.join(root, name), "rb") as f:
                    self.send_body(f.read())
            except OSError:
                self.send_body(b"", 404)
        elif p.startswith("/status/"):
            self.send_body(b"", int(p[len("/status/"):]))
        elif p.startswith("/redirect/"):
            n = int(p[len("/redirect/"):])
            self.send_response(302)
            self.send_header("Location",
                             "/redirect/%d" % (n - 1) if n > 1 else "/hello")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("Location", p[len("/redirect-to/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p == "/redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p == "/slow":
            time.sleep(60)
            self.send_body(b"too late\n")
        elif p == "/endless":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                       65536)
            self.send_response(200)
            self.end_headers()
            chunk = b"\xf4" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
                    with lock:
                        endless["sent"] += len(chunk)
            except OSError:
                pass
            with lock:
                endless["done"] = 1
        elif p == "/huge-declared":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            self.wfile.flush()
            time.sleep(60)
        elif p.startswith("/count/"):
            self.send_body(b"counted " + p[len("/count/"):].encode() + b"\n")
        elif p.startswith("/count-of/"):
            with lock:
                n = counts.get(p[len("/count-of"):], 0)
            self.send_body(b"%d\n" % n)
        elif p == "/endless-stats":
            with lock:
                self.send_body(b"%d %d\n" % (endless["sent"], endless["done"]))
        else:
            self.send_body(b"", 404)


def main():
    global root
    args = sys.argv[1:]
    tls = None
    while args:
        if args[0] == "--root":
            root = args[1]
        elif args[0] == "--tls":
            tls = args[1]
        else:
            sys.exit("fetch_server.py: unknown argument " + args[0])
        args = args[2:]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if tls:
        make_cert(tls, "cert", "127.0.0.1")
        make_cert(tls, "other-ca", "not the server")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(tls, "cert.pem"),
                            os.path.join(tls, "cert-key.pem"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    # One write(2) for the whole line: the test reads up to the newline.
    os.write(1, b"%d\n" % srv.server_address[1])
    srv.serve_forever()


main()
