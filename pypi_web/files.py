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
are removed again if the transaction does not commit (see ``bind``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

SETTING = "files.storage_dir"
CHUNK = 1024 * 1024
TEMP_DIR = ".incoming"
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

    def receive(self, stream: BinaryIO, max_bytes: int) -> Received:
        """Copy ``stream`` to a temporary file, hashing it; FileTooLarge past ``max_bytes``."""
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        blake2 = hashlib.blake2b(digest_size=32)
        fd, name = tempfile.mkstemp(dir=self._temp_dir(), prefix="upload-")
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

    def _place(self, source: Path, relative: str) -> bool:
        """Rename ``source`` to ``relative``; True when no file was there before."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        os.replace(source, target)
        _fsync_dir(target.parent)
        return not existed

    def write_bytes(self, relative: str, data: bytes) -> bool:
        fd, name = tempfile.mkstemp(dir=self._temp_dir(), prefix="write-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._place(Path(name), relative)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def store(self, received: Received, relative: str) -> bool:
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
    as far as writing (its rows are refused first: the upload flushes its
    rows before it writes), and ``still_referenced(path)`` is asked before
    anything is removed, in case a committed row points at the file after all.
    """

    storage: FileStorage
    still_referenced: Callable[[str], bool]
    paths: list[str] = field(default_factory=list)

    def bind(self, txn) -> None:
        txn.addAfterCommitHook(self._after_commit)
        txn.addAfterAbortHook(self._after_abort)

    # Only files this upload created are ever removed: a file that was already
    # there (the same bytes, placed by an upload that committed) is not ours.
    def write(self, received: Received, relative: str) -> None:
        if self.storage.store(received, relative):
            self.paths.append(relative)

    def write_bytes(self, relative: str, data: bytes) -> None:
        if self.storage.write_bytes(relative, data):
            self.paths.append(relative)

    def _after_commit(self, success: bool) -> None:
        if not success:
            self._remove()

    def _after_abort(self) -> None:
        self._remove()

    def _remove(self) -> None:
        for relative in self.paths:
            base = relative.removesuffix(METADATA_SUFFIX)
            try:
                if self.still_referenced(base):
                    continue
            except Exception:
                # Unsure: keeping an orphan file is harmless, losing a served one is not.
                log.exception("could not check whether %s is still referenced", base)
                continue
            self.storage.remove(relative)
        self.paths.clear()


def includeme(config):
    storage = FileStorage.from_settings(config.get_settings())
    config.registry["file_storage"] = storage
    config.add_request_method(
        lambda request: request.registry["file_storage"], "file_storage", reify=True
    )
