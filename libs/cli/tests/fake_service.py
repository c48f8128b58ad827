"""A stand-in service for stack tests: ``python fake_service.py NAME``.

Serves ``/health`` as a Continuum service would (JSON naming itself) on
``CONTINUUM_HTTP_PORT``, or exits with code 3 at once when NAME is ``FAKE_FAIL``.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

NAME = sys.argv[1]


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "service": NAME}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    if os.environ.get("FAKE_FAIL") == NAME:
        print(f"{NAME}: failing on purpose", flush=True)
        sys.exit(3)
    HTTPServer(("127.0.0.1", int(os.environ["CONTINUUM_HTTP_PORT"])), Health).serve_forever()
