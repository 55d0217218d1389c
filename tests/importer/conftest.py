"""Fixtures for the importer tests: databases filled through the real command."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import re
from dataclasses import dataclass
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from pypi_web.importer.cli import main
from pypi_web.models import Package, Release, ReleaseFile, package_classifiers
from tests.conftest import upgrade

# Every table an import writes to; the fingerprint covers all of their rows.
IMPORT_TABLES = ("packages", "releases", "release_files", "classifiers", "package_classifiers")


@dataclass
class Run:
    """One run of ``pypi-web-import``: its exit status and what it printed."""

    code: int
    out: str
    err: str


def run_import(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


def summary(out: str) -> dict[str, tuple[int, int]]:
    """The command's summary table: {"packages": (created, updated), ...}."""
    return {
        m[1]: (int(m[2].replace(",", "")), int(m[3].replace(",", "")))
        for m in re.finditer(
            r"^\s+(packages|releases|files)\s+([\d,]+) created\s+([\d,]+) updated$", out, re.M
        )
    }


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "packages": conn.scalar(select(func.count()).select_from(Package)),
                "releases": conn.scalar(select(func.count()).select_from(Release)),
                "files": conn.scalar(select(func.count()).select_from(ReleaseFile)),
                "classifier_links": conn.scalar(
                    select(func.count()).select_from(package_classifiers)
                ),
            }
    finally:
        engine.dispose()


def fingerprint(url: str) -> dict[str, str]:
    """A digest of every row of every table the import writes, in key order."""
    engine = create_engine(url)
    result = {}
    try:
        with engine.connect() as conn:
            for table in (*IMPORT_TABLES, "journals"):
                digest = hashlib.sha256()
                order = "package_id, classifier_id" if table == "package_classifiers" else "id"
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}")):
                    digest.update(repr(tuple(row)).encode())
                result[table] = digest.hexdigest()
    finally:
        engine.dispose()
    return result


@pytest.fixture(scope="session")
def top100_documents(top100_dir) -> dict[str, dict[str, Any]]:
    """The top-100 documents by file name, parsed once."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(top100_dir.glob("*.json"))
    }


@pytest.fixture
def document(top100_documents):
    """``document("six.json")``: a deep copy of a real document to alter."""

    def get(name: str) -> dict[str, Any]:
        return copy.deepcopy(top100_documents[name])

    return get


@pytest.fixture(scope="module")
def top100_import(database_factory, top100_dir) -> tuple[str, Run]:
    """A fresh database with the top-100 set imported once by the command."""
    url = database_factory.create("top100")
    upgrade(url)
    return url, run_import("--db-url", url, "--json-dir", str(top100_dir))


def write_json(directory: Path, name: str, content: Any) -> Path:
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def fake_distribution(directory: Path, name: str, version: str, **headers: str):
    """An installed distribution (a .dist-info directory) with the given metadata."""
    dist_info = directory / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    body = headers.pop("body", "")
    for key, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key.replace('_', '-')}: {item}")
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n\n" + body)
    return PathDistribution(dist_info)


@pytest.fixture
def ini_file(tmp_path):
    """``ini_file(url)``: an app configuration naming the database ``url``."""

    def make(url: str) -> Path:
        path = tmp_path / "test-app.ini"
        path.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n")
        return path

    return make
