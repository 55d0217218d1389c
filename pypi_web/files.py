"""Uploaded distribution files on disk, addressed by their sha256.

A file lives at ``<storage_dir>/ab/cd/<sha256>/<filename>`` (``ab``, ``cd``:
the first two pairs of hex digits, so no directory grows huge), and the core
metadata of a wheel beside it as ``<filename>.metadata`` (PEP 658). The path
relative to the storage directory is what ``ReleaseFile.path`` holds and what
the download URL ``/files/<path>`` carries, so URLs never change.

Writes are atomic: the bytes go to a temporary file in the storage
directory, are fsynced, then renamed into place, so a reader sees the whole
file or none. The database row and the file must come and go together, so
``StoredUpload`` ties the files it wrote to the request's transaction: they
are removed again if the transaction does not commit (see ``bind``), without
asking the database (the reason it did not commit may be that it is away).

Temporary files live in ``<storage_dir>/.incoming/`` and are named after the
host and process writing them (``upload-<host>-<pid>-...``). A process killed
mid-upload (SIGKILL, a crash, the machine going down) leaves its own behind;
``remove_stale_incoming`` removes those of processes of this host that are no
longer running, and any older than ``files.incoming_max_age`` seconds (a
server on another host sharing the directory may have been killed too). The
site runs it when it starts, and pypi-web-serve for a worker that died.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

log = logging.getLogger(__name__)

SETTING = "files.storage_dir"
CHUNK = 1024 * 1024
TEMP_DIR = ".incoming"
# Held while a file is placed or removed: "was it there" and "is it still the
# one this upload placed" are each one step for every process sharing the directory.
PLACE_LOCK = ".place.lock"
INCOMING_MAX_AGE_SETTING = "files.incoming_max_age"
# An upload's temporary file lives for seconds (waitress has the whole body before
# the site reads it); a day is far beyond any upload still running.
DEFAULT_INCOMING_MAX_AGE = 24 * 3600
# A temporary file's name: its prefix, the host and the process that writes it.
TEMP_NAME = re.compile(r"^(?:upload|write)-(?P<host>[A-Za-z0-9.]+)-(?P<pid>[0-9]+)-")
METADATA_SUFFIX = ".metadata"
# What a stored path looks like; anything else in a /files/ URL is not ours.
STORED_PATH = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})/([^/\\]+)$")


class FileTooLarge(ValueError):
    pass


@dataclass
class Received:
    """An uploaded file spooled to a temporary file, with its digests."""

    temp_path: Path
    size: int
    sha256: str
    md5: str
    blake2_256: str

    def discard(self) -> None:
        self.temp_path.unlink(missing_ok=True)


def storage_path(sha256: str, filename: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}/{filename}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", ".", socket.gethostname()) or "host"


def _temp_prefix(kind: str) -> str:
    return f"{kind}-{_host()}-{os.getpid()}-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    # A killed process nobody has reaped yet (a container's init may never) is no writer.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once its directory is synced (POSIX).
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _older(path: Path, now: float, max_age: float) -> bool:
    try:
        return now - path.stat().st_mtime > max_age
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Placed:
    """A file put in place: its path and which file it is (device and inode)."""

    relative: str
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path, relative: str) -> Placed:
        stat = path.stat()
        return cls(relative, stat.st_dev, stat.st_ino)


@dataclass
class FileStorage:
    root: Path

    @classmethod
    def from_settings(cls, settings) -> FileStorage:
        directory = settings.get(SETTING)
        if not directory:
            raise ValueError(f"the setting {SETTING} (where uploaded files are kept) is not set")
        return cls(Path(directory))

    def _temp_dir(self) -> Path:
        directory = self.root / TEMP_DIR
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    @contextlib.contextmanager
    def _placing(self):
        with open(self._temp_dir() / PLACE_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def remove_stale_incoming(self, max_age: float = DEFAULT_INCOMING_MAX_AGE, pid=None) -> int:
        """Remove temporary files whose writer is gone; how many. ``pid``: that process's only.

        Gone: a process of this host no longer running (or ``pid``, which has
        exited), or a file older than ``max_age`` seconds, whoever wrote it.
        """
        directory = self.root / TEMP_DIR
        if not directory.is_dir():
            return 0
        host, now, removed = _host(), time.time(), 0
        for path in directory.iterdir():
            match = TEMP_NAME.match(path.name)
            if match is None:
                continue  # the lock file, or nothing of ours
            mine = match["host"] == host
            if pid is not None:
                stale = mine and int(match["pid"]) == pid
            else:
                stale = (mine and not _running(int(match["pid"]))) or _older(path, now, max_age)
            if stale:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.warning("removed %d temporary file(s) left by interrupted uploads", removed)
        return removed

    def receive(self, stream: BinaryIO, max_bytes: int) -> Received:
        """Copy ``stream`` to a temporary file, hashing it; FileTooLarge past ``max_bytes``."""
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        blake2 = hashlib.blake2b(digest_size=32)
        fd, name = tempfile.mkstemp(dir=self._temp_dir(), prefix=_temp_prefix("upload"))
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    sha256.update(chunk)
                    md5.update(chunk)
                    blake2.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Received(Path(name), size, sha256.hexdigest(), md5.hexdigest(), blake2.hexdigest())

    def _place(self, source: Path, relative: str) -> Placed | None:
        """Rename ``source`` to ``relative``; what was placed when no file was there before."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._placing():
            existed = target.exists()
            os.replace(source, target)
            placed = Placed.of(target, relative)
        _fsync_dir(target.parent)
        return None if existed else placed

    def remove_placed(self, placed: Placed) -> None:
        """Remove a file this process placed, unless another has been placed over it since."""
        target = self.root / placed.relative
        with self._placing():
            try:
                if Placed.of(target, placed.relative) != placed:
                    return  # another upload's (the same bytes, placed after ours)
            except FileNotFoundError:
                return
            self.remove(placed.relative)

    def write_bytes(self, relative: str, data: bytes) -> Placed | None:
        fd, name = tempfile.mkstemp(dir=self._temp_dir(), prefix=_temp_prefix("write"))
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._place(Path(name), relative)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def store(self, received: Received, relative: str) -> Placed | None:
        return self._place(received.temp_path, relative)

    def remove(self, relative: str) -> None:
        target = self.root / relative
        target.unlink(missing_ok=True)
        # Empty hash directories go too; a shared parent that is not empty stays.
        for parent in list(target.parents)[:3]:
            if parent == self.root:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def full_path(self, relative: str) -> Path | None:
        """The file for a ``/files/`` path, or None when it is not a stored file's path."""
        base = relative.removesuffix(METADATA_SUFFIX)
        if not STORED_PATH.match(base):
            return None
        path = self.root / relative
        return path if path.is_file() else None

    def clear(self) -> None:
        """Remove every stored file (tests only)."""
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class StoredUpload:
    """Files written for one upload, removed again unless the transaction commits.

    Two identical uploads racing use the same hash-addressed path, and the
    loser's failure must not remove the winner's file. The loser never gets
    as far as writing while the winner's rows stand (its own rows are refused
    first: the upload flushes its rows before it writes). A winner that writes
    after the loser aborted places a file of its own over the loser's, and the
    loser removes only the very file it placed (same inode): no question to
    the database, which may be what failed the transaction.
    """

    storage: FileStorage
    placed: list[Placed] = field(default_factory=list)

    def bind(self, txn) -> None:
        txn.addAfterCommitHook(self._after_commit)
        txn.addAfterAbortHook(self._after_abort)

    # Only files this upload created are ever removed: a file that was already
    # there (the same bytes, placed by an upload that committed) is not ours.
    def write(self, received: Received, relative: str) -> None:
        if placed := self.storage.store(received, relative):
            self.placed.append(placed)

    def write_bytes(self, relative: str, data: bytes) -> None:
        if placed := self.storage.write_bytes(relative, data):
            self.placed.append(placed)

    def _after_commit(self, success: bool) -> None:
        if not success:
            self._remove()

    def _after_abort(self) -> None:
        self._remove()

    def _remove(self) -> None:
        for placed in self.placed:
            self.storage.remove_placed(placed)
        self.placed.clear()


def download_url(prefix: str, url: str | None, path: str | None) -> str:
    """Where a file downloads from: this site's storage (``prefix``, the "file" route's
    URL, then the stored path) when it was uploaded, else its original URL (imported)."""
    if path is not None:
        return prefix + quote(path)
    return url or ""


def includeme(config):
    settings = config.get_settings()
    storage = FileStorage.from_settings(settings)
    # No upload of this process runs yet; those of processes killed before are orphans.
    storage.remove_stale_incoming(
        float(settings.get(INCOMING_MAX_AGE_SETTING, DEFAULT_INCOMING_MAX_AGE))
    )
    config.registry["file_storage"] = storage
    config.add_request_method(
        lambda request: request.registry["file_storage"], "file_storage", reify=True
    )
