"""A local HTTP server for the download tests (DAIN's and the learned engines' weights): no network needed."""

from __future__ import annotations

import http.server
import socket
import threading


class BlobServer:
    """A local http.server serving one blob at any path, with (or without) Range support; records the Range header
    of each request (None without one). ``cut_after``: the first response stops after that many bytes."""

    def __init__(self, blob: bytes, ranges: bool = True, cut_after: int | None = None, name: str = "DAIN_weight.tar"):
        self.blob, self.ranges, self.cut_after = blob, ranges, cut_after
        self.requests: list[str | None] = []
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                outer.paths.append(self.path)
                data, start = outer.blob, 0
                if rng and outer.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_after is not None:
                    self.wfile.write(body[:outer.cut_after])
                    outer.cut_after = None  # only the first response is cut
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.url = self.base + name
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url(name: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (an offline machine, as far as a download can tell)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/{name}"
