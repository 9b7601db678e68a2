"""A scrape target in its own process (so serving it costs the test's event loop nothing):
`python bigtarget.py LINES` prints its port, then serves until its stdin closes.

- /metrics: a gauge family of LINES samples, with Content-Length;
- /chunked: the same body in chunks and without Content-Length (only streaming can see its size);
- /health: a tiny 200."""

from __future__ import annotations

import http.server
import sys
import threading


def main() -> None:
    lines = int(sys.argv[1])
    body = ("# TYPE big gauge\n" + "".join(f'big{{i="{i}"}} {i}\n' for i in range(lines))).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(b"ok")
            elif self.path == "/metrics":
                self._send(body)
            elif self.path == "/chunked":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 1 << 16):
                    chunk = body[start:start + (1 << 16)]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_error(404)

        def _send(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)


if __name__ == "__main__":
    main()
