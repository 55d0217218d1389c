"""File storage: hash-addressed, atomic, and tied to the transaction that records the file."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time

import pytest
import transaction

from pypi_web.files import FileStorage, FileTooLarge, StoredUpload, storage_path


@pytest.fixture
def storage(tmp_path) -> FileStorage:
    return FileStorage(tmp_path / "files")


def received(storage: FileStorage, data: bytes = b"distribution bytes"):
    return storage.receive(io.BytesIO(data), max_bytes=1024)


def test_receive_hashes_and_spools(storage):
    data = b"distribution bytes"
    got = received(storage, data)
    assert got.size == len(data)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.md5 == hashlib.md5(data).hexdigest()
    assert got.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert got.temp_path.read_bytes() == data
    got.discard()
    assert not got.temp_path.exists()


def test_too_large_leaves_no_temporary_file(storage):
    with pytest.raises(FileTooLarge):
        storage.receive(io.BytesIO(b"x" * 2048), max_bytes=1024)
    assert list((storage.root / ".incoming").iterdir()) == []


def test_storage_path_is_hash_addressed():
    sha = "ab" * 32
    assert storage_path(sha, "p-1.0.tar.gz") == f"ab/ab/{sha}/p-1.0.tar.gz"


def written(storage, manager):
    got = received(storage)
    path = storage_path(got.sha256, "demo-1.0.tar.gz")
    upload = StoredUpload(storage)
    upload.bind(manager.get())
    upload.write(got, path)
    upload.write_bytes(path + ".metadata", b"Metadata-Version: 2.1\n")
    assert (storage.root / path).is_file()
    return path


def test_commit_keeps_the_files(storage):
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    path = written(storage, manager)
    manager.commit()
    assert storage.full_path(path) is not None
    assert storage.full_path(path + ".metadata") is not None


def test_abort_removes_the_files(storage):
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    path = written(storage, manager)
    manager.abort()
    assert not (storage.root / path).exists()
    assert not (storage.root / (path + ".metadata")).exists()
    # The empty hash directories went too.
    assert [p for p in storage.root.iterdir() if p.name != ".incoming"] == []


def test_failed_commit_removes_the_files(storage):
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    path = written(storage, manager)

    def refuse():
        raise RuntimeError("the database refused the commit")

    manager.get().addBeforeCommitHook(refuse)
    with pytest.raises(RuntimeError):
        manager.commit()
    manager.abort()
    assert not (storage.root / path).exists()


def test_the_same_file_placed_again_by_another_upload_is_kept_on_abort(storage):
    """Two identical uploads race: the loser's abort must not take the winner's file."""
    loser = transaction.TransactionManager(explicit=True)
    loser.begin()
    path = written(storage, loser)
    # The winner writes once the loser's rows are gone, before the loser's files are.
    winner = transaction.TransactionManager(explicit=True)
    winner.begin()
    StoredUpload(storage).write(received(storage), path)
    loser.abort()
    winner.commit()
    assert (storage.root / path).is_file()


def test_stale_incoming_files_are_removed(storage):
    """A killed process's temporary files go; a running one's, and another host's, stay."""
    incoming = storage.root / ".incoming"
    running = received(storage)  # this process's: still running
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = running.temp_path.name.split("-")[1]
    orphan = incoming / f"upload-{host}-{int(finished.stdout)}-abc123"
    orphan.write_bytes(b"half an upload")
    elsewhere = incoming / f"upload-otherhost-{os.getpid()}-def456"
    elsewhere.write_bytes(b"another host's upload in flight")
    old = incoming / "write-otherhost-1-old"
    old.write_bytes(b"another host's, from long ago")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert storage.remove_stale_incoming(max_age=3600) == 2
    left = sorted(p.name for p in incoming.iterdir() if not p.name.startswith("."))
    assert left == sorted([running.temp_path.name, elsewhere.name])
    # A worker pypi-web-serve saw die: its files only, whatever their age.
    assert storage.remove_stale_incoming(pid=os.getpid()) == 1
    assert not running.temp_path.exists() and elsewhere.exists()


def test_full_path_refuses_foreign_paths(storage):
    assert storage.full_path("../../etc/passwd") is None
    assert storage.full_path("ab/cd/not-a-hash/file.whl") is None
