"""A real HTTP server on 127.0.0.1 for download tests: serves files with Range support, and can
cut a transfer off after N bytes (to test resuming)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from pathlib import Path


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    cut_after: dict  # file name -> bytes to send before dropping the connection (once)
    requests: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append((self.path, self.headers.get("Range")))
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
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
        cut = self.cut_after.pop(path.name, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextlib.contextmanager
def serve_folder(root: Path, cut_after: dict | None = None):
    """Yields (base_url, requests seen); the server is stopped on exit."""
    handler = type("Handler", (_Handler,), {"root": Path(root), "cut_after": dict(cut_after or {}), "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
