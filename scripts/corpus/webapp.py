"""The corpus's Python web app: a small JSON API over SQLite (stdlib only)."""
import json
import os
import subprocess
from urllib.parse import parse_qs, urlparse
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB = "/tmp/app.db"


def db():
    c = sqlite3.connect(DB)
    c.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
    return c


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        # Quiet by default (the corpus records syscalls, not logs); WEBAPP_ACCESS_LOG=1 writes
        # http.server's access log to stderr, which `gatehouse netpol authz` reads.
        if os.environ.get("WEBAPP_ACCESS_LOG"):
            super().log_message(*args)

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with db() as c:
            if self.path.startswith("/items"):
                rows = c.execute("SELECT id, name, n FROM items ORDER BY id DESC LIMIT 20").fetchall()
                self._send(200, [{"id": r[0], "name": r[1], "n": r[2]} for r in rows])
            elif self.path.startswith("/debug"):
                # deliberately vulnerable (the corpus's "exploit public-facing application"):
                # runs a shell command from the query string
                cmd = parse_qs(urlparse(self.path).query).get("cmd", ["true"])[0]
                out = subprocess.run(cmd, shell=True, capture_output=True, timeout=20)
                self._send(200, {"rc": out.returncode})
            elif self.path == "/health":
                self._send(200, {"ok": True})
            else:
                self._send(404, {"error": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        with db() as c:
            c.execute("INSERT INTO items (name, n) VALUES (?, ?)", (str(body.get("name", "x")), int(body.get("n", 0))))
        self._send(201, {"ok": True})


if __name__ == "__main__":
    db().close()
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Handler).serve_forever()
