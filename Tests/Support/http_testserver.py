#!/usr/bin/env python3
"""HTTP/1.1 test server for Lockstep's HTTP module tests (Python 3 stdlib only).

GET/POST/... /echo            -> 200, JSON {method, path, query, headers, body, connection}
ANY /status/<code>            -> that status, JSON body {"status": code}
ANY /delay/<ms>               -> sleeps, then 200
Keep-alive: one handler instance per TCP connection; `connection` is its id, so a client
can prove it reused a connection. With --cert/--key it serves HTTPS.
With --parent PID it exits when that process is gone (a crashed test leaves nothing).
With --routes FILE it plays a scripted (hostile) server first: FILE is a JSON list of
{"prefix": "/v1/...", "status": 200, "body": "text", "repeat": N, "chunked": false};
the first route whose prefix starts the path answers `body` repeated N times (streamed, so
a huge answer costs the server no memory), with Content-Length or chunked.
"""
import argparse
import itertools
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_ids = itertools.count(1)
_routes = []
_ids_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with _ids_lock:
            self.connection_id = next(_ids)

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Connection-Id", str(self.connection_id))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _route(self, route):
        chunk = route.get("body", "").encode()
        repeat = int(route.get("repeat", 1))
        self.send_response(int(route.get("status", 200)))
        self.send_header("Content-Type", "application/json")
        chunked = bool(route.get("chunked"))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(chunk) * repeat))
        self.end_headers()
        try:
            for _ in range(repeat):
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    self.wfile.write(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _handle(self):
        body = self._body()
        parts = urlsplit(self.path)
        for route in _routes:
            if parts.path.startswith(route["prefix"]):
                self._route(route)
                return
        segments = [s for s in parts.path.split("/") if s]
        if segments[:1] == ["status"] and len(segments) == 2:
            self._send(int(segments[1]), {"status": int(segments[1])})
            return
        if segments[:1] == ["delay"] and len(segments) == 2:
            time.sleep(int(segments[1]) / 1000)
        self._send(200, {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "body_length": len(body),
            "connection": self.connection_id,
        })

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_LIST = _handle


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--parent", type=int)
    parser.add_argument("--routes")
    args = parser.parse_args()
    if args.routes:
        with open(args.routes) as handle:
            _routes.extend(json.load(handle))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    if args.parent:
        def watch():
            while True:
                try:
                    os.kill(args.parent, 0)
                except OSError:
                    os._exit(0)
                time.sleep(1)
        threading.Thread(target=watch, daemon=True).start()
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
