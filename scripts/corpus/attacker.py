"""The corpus's attacker endpoint (runs in its own container): a payload server on 8080,
a reverse-shell catcher on 4444 (sends a few commands), a fake mining pool on 3333 and a
fake API server on 6443. Every connection is answered and closed, so scenarios finish."""
import socket
import threading

PAYLOAD = b"#!/bin/sh\nid\nuname -a\n"


def serve(port, handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def http(c):
    try:
        c.settimeout(5)
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD) + PAYLOAD)
    finally:
        c.close()


def shell(c):
    try:
        c.settimeout(5)
        c.sendall(b"id\nls /\ncat /etc/passwd\nexit\n")
        while c.recv(65536):
            pass
    except OSError:
        pass
    finally:
        c.close()


def sink(c):
    try:
        c.settimeout(5)
        c.recv(65536)
        c.sendall(b'{"id":1,"result":true}\n')
    except OSError:
        pass
    finally:
        c.close()


for port, h in ((8080, http), (4444, shell), (3333, sink), (6443, sink)):
    threading.Thread(target=serve, args=(port, h), daemon=True).start()
threading.Event().wait()
