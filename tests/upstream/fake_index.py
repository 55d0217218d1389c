"""A small PEP 691 index on loopback, standing in for pypi.org in the upstream tests.

It serves JSON project pages (with an ETag, answering If-None-Match with 304,
and X-PyPI-Last-Serial) and the files they list, built in the test: wheels
made with zipfile, their METADATA served beside them (PEP 658). It can be
stopped (connection refused afterwards) and told to tamper with a file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

V1_JSON = "application/vnd.pypi.simple.v1+json"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(name: str, version: str, value: str | None = None) -> tuple[str, bytes, bytes]:
    """(filename, wheel bytes, METADATA bytes) of a pure-Python wheel whose module has VALUE."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    members = {
        f"{module}/__init__.py": f"VALUE = {value or f'{name} {version}'!r}\n".encode(),
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue(), metadata


@dataclass
class UpstreamFileEntry:
    filename: str
    data: bytes
    metadata: bytes | None
    version: str
    upload_time: str = "2026-01-02T03:04:05.000000Z"
    yanked: bool | str = False
    requires_python: str | None = ">=3.8"

    def as_json(self, base: str) -> dict:
        entry = {
            "filename": self.filename,
            "url": f"{base}/files/{self.filename}",
            "hashes": {"sha256": hashlib.sha256(self.data).hexdigest()},
            "requires-python": self.requires_python,
            "size": len(self.data),
            "upload-time": self.upload_time,
            "yanked": self.yanked,
            "core-metadata": (
                {"sha256": hashlib.sha256(self.metadata).hexdigest()} if self.metadata else False
            ),
        }
        return entry


@dataclass
class FakeIndex:
    projects: dict[str, list[UpstreamFileEntry]] = field(default_factory=dict)
    tampered: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    # name -> the "info" its JSON API (/pypi/<name>/json, as pypi.org's) serves; others 404.
    infos: dict[str, dict] = field(default_factory=dict)
    serial: int = 41
    thread: threading.Thread | None = None

    def add_wheel(self, name: str, version: str, **kwargs) -> UpstreamFileEntry:
        filename, data, metadata = make_wheel(name, version)
        entry = UpstreamFileEntry(filename, data, metadata, version, **kwargs)
        self.projects.setdefault(name, []).append(entry)
        self.serial += 1
        return entry

    def page(self, name: str) -> bytes:
        files = self.projects[name]
        return json.dumps(
            {
                "meta": {"api-version": "1.1", "_last-serial": self.serial},
                "name": name,
                "versions": sorted({f.version for f in files}),
                "files": [f.as_json(self.url) for f in files],
            }
        ).encode()

    def file(self, filename: str) -> bytes | None:
        for files in self.projects.values():
            for entry in files:
                if filename == entry.filename:
                    data = entry.data
                    return data + b"tampered" if filename in self.tampered else data
                if entry.metadata and filename == entry.filename + ".metadata":
                    return entry.metadata
        return None

    # ---- serving ----

    def start(self) -> FakeIndex:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                index.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in index.projects:
                    body = index.page(parts[1])
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                    self._send(200, V1_JSON, body, {"ETag": etag, "X-PyPI-Last-Serial": "42"})
                    return
                if len(parts) == 3 and parts[0] == "pypi" and parts[1] in index.infos:
                    body = json.dumps({"info": index.infos[parts[1]]}).encode()
                    self._send(200, "application/json", body)
                    return
                data = index.file(parts[1]) if len(parts) == 2 and parts[0] == "files" else None
                if data is None:
                    self._send(404, "text/plain", b"not found\n")
                else:
                    self._send(200, "application/octet-stream", data)

            def _send(self, status, content_type, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def simple(self) -> str:
        return self.url + "/simple/"

    def stop(self) -> None:
        """Shut down: from now on its port refuses connections."""
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.thread = None
