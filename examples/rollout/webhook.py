"""A stand-in chat webhook for the walk-through: prints each POST, answers 204.

``python webhook.py [PORT]`` listens on 127.0.0.1 (default port 8765) until
it has answered one request.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        print(f"webhook: {self.command} {self.path} {body.decode('utf-8')}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # base signature
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    with HTTPServer(("127.0.0.1", port), Hook) as server:
        server.handle_request()
