"""A TLS-terminating reverse proxy on loopback, as production runs behind one.

The browser speaks HTTPS to it; it forwards each request over plain HTTP to
the production server with the headers production.ini trusts from
127.0.0.1 (X-Forwarded-Proto, -For, -Host, -Port), so the site builds https
URLs and its Secure session cookie works. The certificate is made for the
test run by ``openssl`` and trusted by the test browser only.
"""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Not forwarded: they describe one connection, not the request.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"}


def self_signed_certificate(directory: Path) -> tuple[Path, Path] | None:
    """(certificate, key) for 127.0.0.1, or None without the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "proxy.crt", directory / "proxy.key"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class ForwardingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    backend: tuple[str, int]

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        host, port = self.server.server_address[:2]
        headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": self.client_address[0],
                "X-Forwarded-Host": self.headers.get("Host", f"{host}:{port}"),
                "X-Forwarded-Port": str(port),
            }
        )
        upstream = http.client.HTTPConnection(*self.backend, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            content = response.read()
        finally:
            upstream.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_HEAD = _forward

    def log_message(self, format, *args):
        pass


class TlsProxy:
    """``with TlsProxy(cert, key, backend_port) as proxy: proxy.url``"""

    def __init__(self, cert: Path, key: Path, backend_port: int):
        handler = type("Handler", (ForwardingHandler,), {"backend": ("127.0.0.1", backend_port)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TlsProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
