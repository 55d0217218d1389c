"""A synthetic index of any size, for benchmarks and scale tests (not part of the app).

    python bench/synthetic.py development.ini [--packages 100000] [--releases 1000000]
                              [--files 2000000] [--seed N]
    python bench/synthetic.py --db-url URL ...

Made-up but realistic data, deterministic for a seed:

* names from technical words, with the prefixes and suffixes PyPI is full of
  (``django-``, ``pytest-``, ``py``, ``-client``, ``-utils``...), displayed in
  the spellings people use (``Flask_Login``, ``zope.foo``);
* releases per package Zipf-like (most have a few, some hundreds), versions
  that grow by patch/minor/major steps with pre-releases before some finals,
  a few legacy (non PEP 440) versions and yanked releases, dates spread over
  twenty years;
* summaries, keywords and a short description from a vocabulary; trove
  classifiers (a license, a development status, Python versions, topics,
  the framework named in the prefix);
* files: an sdist and wheels per release, with plausible names and sizes, and
  the sha256 of synthetic bytes; their URLs point at an ``.invalid`` host.

Rows go in bulk, with ids assigned here: executemany on SQLite, COPY on
Postgres. Everything is one transaction, committed at the end (an interrupted
run leaves nothing). The full-text index follows through its triggers
(SQLite) or index (Postgres). The database must be at the Alembic head; the
generated names skip any already in it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from pypi_web.importer.cli import (
    Refusal,
    database_error_reason,
    database_url,
    open_database,
    run_command,
    upgrade_hint,
)
from pypi_web.models import Classifier, JournalEntry, Package, Release, ReleaseFile
from pypi_web.packaging import versions as pep440
from pypi_web.packaging import writer
from pypi_web.packaging.journal import last_updated

PROG = "bench/synthetic.py"
UTC = datetime.UTC
EPOCH = datetime.datetime(2005, 3, 1, tzinfo=UTC)
END = datetime.datetime(2026, 10, 1, tzinfo=UTC)
# Packages written per batch: bounds memory whatever the size asked for.
BATCH_PACKAGES = 2000
MAX_RELEASES_PER_PACKAGE = 3000

WORDS = [
    "data",
    "http",
    "json",
    "yaml",
    "xml",
    "csv",
    "sql",
    "orm",
    "async",
    "web",
    "api",
    "rest",
    "graph",
    "cloud",
    "aws",
    "azure",
    "gcp",
    "storage",
    "cache",
    "queue",
    "task",
    "worker",
    "event",
    "stream",
    "log",
    "config",
    "env",
    "secret",
    "auth",
    "oauth",
    "token",
    "jwt",
    "crypto",
    "hash",
    "image",
    "video",
    "audio",
    "text",
    "nlp",
    "vision",
    "model",
    "train",
    "tensor",
    "array",
    "matrix",
    "stats",
    "plot",
    "chart",
    "dash",
    "test",
    "mock",
    "fixture",
    "lint",
    "format",
    "type",
    "check",
    "doc",
    "sphinx",
    "markdown",
    "html",
    "template",
    "render",
    "parse",
    "lex",
    "ast",
    "compile",
    "build",
    "pack",
    "wheel",
    "deploy",
    "docker",
    "k8s",
    "shell",
    "cli",
    "term",
    "color",
    "progress",
    "retry",
    "time",
    "date",
    "zone",
    "geo",
    "map",
    "route",
    "url",
    "socket",
    "net",
    "dns",
    "mail",
    "smtp",
    "ftp",
    "ssh",
    "proxy",
    "client",
    "server",
    "file",
    "path",
    "glob",
    "zip",
    "tar",
    "diff",
    "sync",
    "backup",
    "migrate",
    "schema",
    "db",
    "redis",
    "mongo",
    "kafka",
    "celery",
    "spark",
    "search",
    "index",
    "vector",
    "embed",
    "agent",
    "chat",
    "bot",
    "prompt",
    "llm",
    "quantum",
    "bio",
    "chem",
    "astro",
    "finance",
    "money",
    "invoice",
    "shop",
    "cart",
    "game",
    "sprite",
    "physics",
    "robot",
    "serial",
    "usb",
    "gpio",
    "sensor",
    "iot",
    "pdf",
    "excel",
    "word",
    "slack",
    "discord",
    "telegram",
    "twitter",
    "github",
    "gitlab",
    "jira",
    "notion",
    "calendar",
    "pandas",
    "numpy",
    "polars",
    "flux",
    "lattice",
    "nova",
    "orbit",
    "pixel",
    "quark",
    "ember",
    "atlas",
    "comet",
    "delta",
    "echo",
    "falcon",
    "harbor",
    "ion",
    "jade",
    "kite",
    "lumen",
    "maple",
    "nimbus",
    "onyx",
    "prism",
    "raven",
    "sable",
    "tango",
    "umbra",
    "vortex",
    "willow",
    "zephyr",
    "aurora",
]
ADJECTIVES = [
    "fast",
    "simple",
    "tiny",
    "modern",
    "robust",
    "lightweight",
    "pure",
    "minimal",
    "extensible",
    "typed",
    "async",
    "friendly",
    "portable",
    "powerful",
    "secure",
    "declarative",
    "composable",
    "pluggable",
    "efficient",
    "small",
    "reliable",
]
NOUNS = [
    "library",
    "toolkit",
    "framework",
    "client",
    "wrapper",
    "helper",
    "utilities",
    "engine",
    "parser",
    "bindings",
    "interface",
    "plugin",
    "extension",
    "backend",
    "adapter",
    "driver",
    "server",
    "generator",
    "validator",
]
PURPOSES = """
for humans|for Python|made easy|done right|with batteries included|for the command line|
for asyncio|for data pipelines|for the web|for testing|for scientific computing|
for distributed systems|for microservices|with zero dependencies
""".replace("\n", "").split("|")
PREFIXES = [
    ("py", ""),
    ("python-", ""),
    ("django-", "Framework :: Django"),
    ("flask-", "Framework :: Flask"),
    ("pytest-", "Framework :: Pytest"),
    ("sphinx-", "Framework :: Sphinx"),
    ("types-", "Typing :: Stubs Only"),
    ("azure-", ""),
    ("google-cloud-", ""),
    ("aws-", ""),
    ("jupyter-", "Framework :: Jupyter"),
    ("odoo-", "Framework :: Odoo"),
]
SUFFIXES = ["-utils", "-client", "-sdk", "-cli", "-tools", "lib", "-api", "-core", "-plugin", "2"]
LICENSES = [
    ("MIT", "License :: OSI Approved :: MIT License", 40),
    ("Apache-2.0", "License :: OSI Approved :: Apache Software License", 20),
    ("BSD-3-Clause", "License :: OSI Approved :: BSD License", 15),
    ("GPL-3.0", "License :: OSI Approved :: GNU General Public License v3 (GPLv3)", 8),
    ("LGPL", "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)", 3),
    ("MPL-2.0", "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)", 2),
    ("ISC", "License :: OSI Approved :: ISC License (ISCL)", 2),
    ("Proprietary", "License :: Other/Proprietary License", 3),
    (None, None, 7),
]
STATUSES = [
    "Development Status :: 1 - Planning",
    "Development Status :: 2 - Pre-Alpha",
    "Development Status :: 3 - Alpha",
    "Development Status :: 4 - Beta",
    "Development Status :: 5 - Production/Stable",
    "Development Status :: 6 - Mature",
    "Development Status :: 7 - Inactive",
]
PYTHONS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
TOPICS = [
    "Topic :: Software Development :: Libraries :: Python Modules",
    "Topic :: Internet :: WWW/HTTP",
    "Topic :: Scientific/Engineering",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Topic :: Utilities",
    "Topic :: Software Development :: Testing",
    "Topic :: System :: Networking",
    "Topic :: Database",
    "Topic :: Security :: Cryptography",
    "Topic :: Text Processing :: Markup",
    "Topic :: Multimedia :: Graphics",
    "Topic :: Office/Business :: Financial",
]
WHEEL_TAGS = [
    "py3-none-any",
    "py2.py3-none-any",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-macosx_11_0_arm64",
    "cp312-cp312-win_amd64",
    "cp310-cp310-musllinux_1_1_x86_64",
    "cp39-cp39-manylinux_2_17_aarch64.manylinux2014_aarch64",
]
LEGACY_VERSIONS = ["0.1-beta", "2004d", "1.0-final-r2", "0.9.dev-r123", "1.0.0-SNAPSHOT"]


def sqlite_timestamp(value: datetime.datetime) -> str:
    # What UTCDateTime stores on SQLite: naive UTC in SQLAlchemy's text format.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass
class Counts:
    packages: int = 0
    releases: int = 0
    files: int = 0
    classifier_links: int = 0


@dataclass
class Batch:
    packages: list[tuple] = field(default_factory=list)
    releases: list[tuple] = field(default_factory=list)
    files: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    journals: list[tuple] = field(default_factory=list)


PACKAGE_COLUMNS = [
    "id",
    "name",
    "normalized_name",
    "summary",
    "description",
    "description_content_type",
    "author",
    "author_email",
    "license",
    "keywords",
    "homepage_url",
    "project_urls",
    "requires_python",
    "created",
    "last_serial",
    "last_updated",
]
RELEASE_COLUMNS = [
    "id",
    "package_id",
    "version",
    "canonical_version",
    "is_prerelease",
    "sort_order",
    "created",
    "summary",
    "requires_python",
    "yanked",
    "yanked_reason",
]
FILE_COLUMNS = [
    "id",
    "release_id",
    "filename",
    "packagetype",
    "python_version",
    "requires_python",
    "size",
    "sha256_digest",
    "md5_digest",
    "upload_time",
    "url",
]
LINK_COLUMNS = ["package_id", "classifier_id"]
# One "new release" entry per release, as PyPI journals them: the serials behind ETags.
JOURNAL_COLUMNS = ["id", "package_name", "version", "action", "submitted_at"]
TIMESTAMPS = {"created", "last_updated", "upload_time", "submitted_at"}
JSON_COLUMNS = {"project_urls"}


def release_counts(rng: random.Random, packages: int, releases: int) -> list[int]:
    """Releases per package: Zipf-like (Pareto), at least one each, summing to ``releases``."""
    if releases < packages:
        raise Refusal(f"--releases ({releases:,}) must be at least --packages ({packages:,})")
    raw = [min(rng.paretovariate(1.2), 10_000.0) for _ in range(packages)]
    spare = releases - packages
    scale = spare / sum(raw)
    counts = [1 + min(int(r * scale), MAX_RELEASES_PER_PACKAGE - 1) for r in raw]
    # Hand out what rounding left over, one at a time, to random packages.
    missing = releases - sum(counts)
    while missing > 0:
        i = rng.randrange(packages)
        if counts[i] < MAX_RELEASES_PER_PACKAGE:
            counts[i] += 1
            missing -= 1
    return counts


def version_history(rng: random.Random, count: int) -> list[tuple[str, bool]]:
    """``count`` versions oldest first, as (version, is_prerelease)."""
    out: list[tuple[str, bool]] = []
    if count > 3 and rng.random() < 0.02:
        out.append((rng.choice(LEGACY_VERSIONS), False))
    major, minor, patch = (0, 1, 0) if rng.random() < 0.6 else (1, 0, 0)
    while len(out) < count:
        final = f"{major}.{minor}.{patch}"
        if rng.random() < 0.08 and len(out) + 1 < count:
            out.append((f"{final}{rng.choice(('a1', 'b1', 'rc1'))}", True))
        out.append((final, False))
        step = rng.random()
        if step < 0.7:
            patch += 1
        elif step < 0.95:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out[:count]


class NameMaker:
    def __init__(self, rng: random.Random, taken: set[str]):
        self.rng = rng
        self.taken = taken

    def make(self) -> tuple[str, str, str]:
        """(display name, normalized name, framework classifier or "")."""
        rng = self.rng
        for attempt in range(1000):
            framework = ""
            shape = rng.random()
            first, second = rng.choice(WORDS), rng.choice(WORDS)
            if shape < 0.2:
                parts = [first]
            elif shape < 0.45:
                parts = [first, second]
            elif shape < 0.7:
                prefix, framework = rng.choice(PREFIXES)
                if prefix.endswith("-"):
                    parts = [*prefix.rstrip("-").split("-"), first]
                else:
                    parts = [prefix + first]
            elif shape < 0.9:
                parts = [first, rng.choice(SUFFIXES).lstrip("-")]
            else:
                parts = [first, second, rng.choice(SUFFIXES).lstrip("-")]
            if attempt > 20:
                parts.append(str(rng.randrange(2, 10_000)))
            normalized = "-".join(parts)
            if normalized in self.taken:
                continue
            self.taken.add(normalized)
            style = rng.random()
            if style < 0.6:
                display = normalized
            elif style < 0.75:
                display = "_".join(parts)
            elif style < 0.9:
                display = "-".join(p.capitalize() for p in parts)
            else:
                display = ".".join(parts)
            return display, normalized, framework
        raise RuntimeError("could not find an unused package name")


class Generator:
    def __init__(self, seed: int, classifier_ids: dict[str, int], taken: set[str], start_ids):
        self.rng = random.Random(seed)
        self.seed = seed
        self.names = NameMaker(self.rng, taken)
        self.classifier_ids = classifier_ids
        self.next_package, self.next_release, self.next_file, self.next_serial = start_ids

    def summary(self) -> str:
        rng = self.rng
        return (
            f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(WORDS)} "
            f"{rng.choice(NOUNS)} {rng.choice(PURPOSES)}"
        )

    def classifiers(self, framework: str, license_classifier: str | None) -> list[str]:
        rng = self.rng
        chosen = [rng.choice(STATUSES), "Programming Language :: Python"]
        if license_classifier:
            chosen.append(license_classifier)
        oldest = rng.randrange(len(PYTHONS) - 2)
        chosen += [f"Programming Language :: Python :: {v}" for v in PYTHONS[oldest:]]
        if any(v.startswith("3") for v in PYTHONS[oldest:]):
            chosen.append("Programming Language :: Python :: 3")
        chosen += rng.sample(TOPICS, rng.randint(1, 2))
        if framework:
            chosen.append(framework)
        return chosen

    def package(self, release_count: int, files_per_release: float, batch: Batch) -> None:
        rng = self.rng
        display, normalized, framework = self.names.make()
        package_id = self.next_package
        self.next_package += 1
        license_text, license_classifier, _ = rng.choices(
            LICENSES, weights=[w for *_, w in LICENSES]
        )[0]
        created = EPOCH + (END - EPOCH) * (rng.random() ** 0.6)
        span = (END - created).total_seconds()
        summary = self.summary()
        author = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS).capitalize()}"
        history = version_history(rng, release_count)
        orders = pep440.sort_orders(v for v, _ in history)
        dist = normalized.replace("-", "_")
        moment = created
        requires_python = None
        for index, (version, _prerelease) in enumerate(history):
            # Release dates: ordered, spread over the package's life so far.
            moment = created + datetime.timedelta(
                seconds=span * (index / max(1, release_count)) * rng.uniform(0.9, 1.0)
            )
            if moment.year >= 2018 and requires_python is None:
                requires_python = rng.choice((">=3.6", ">=3.7", ">=3.8"))
            release_id = self.next_release
            self.next_release += 1
            yanked = rng.random() < 0.005
            # The rows the packaging writer would insert, written in bulk here.
            implied = writer.version_columns(version)
            batch.releases.append(
                (
                    release_id,
                    package_id,
                    version,
                    implied["canonical_version"],
                    implied["is_prerelease"],
                    orders[version],
                    moment,
                    summary,
                    requires_python,
                    yanked,
                    "Broken build" if yanked else None,
                )
            )
            file_count = max(1, int(files_per_release + rng.random()))
            upload = moment
            for n in range(file_count):
                if n == 0:
                    filename, packagetype, pyversion = (
                        f"{dist}-{version}.tar.gz",
                        "sdist",
                        "source",
                    )
                else:
                    tag = WHEEL_TAGS[(n - 1) % len(WHEEL_TAGS)]
                    if n > len(WHEEL_TAGS):
                        tag = f"{tag}.build{n}"
                    filename = f"{dist}-{version}-{tag}.whl"
                    packagetype, pyversion = "bdist_wheel", tag.split("-")[0]
                digest = hashlib.sha256(f"{self.seed}:{filename}".encode()).hexdigest()
                upload += datetime.timedelta(seconds=rng.randrange(5, 600))
                batch.files.append(
                    (
                        self.next_file,
                        release_id,
                        filename,
                        packagetype,
                        pyversion,
                        requires_python,
                        int(rng.lognormvariate(11, 1.5)) + 1000,
                        digest,
                        digest[:32],
                        upload,
                        f"https://files.example.invalid/packages/{digest[:2]}/{digest[2:4]}/"
                        f"{digest[4:]}/{filename}",
                    )
                )
                self.next_file += 1
            moment = upload
            batch.journals.append((self.next_serial, display, version, "new release", moment))
            self.next_serial += 1
        keywords = ",".join(rng.sample(WORDS, 3))
        batch.packages.append(
            (
                package_id,
                display,
                normalized,
                summary,
                f"# {display}\n\n{summary}.\n\n```\npip install {normalized}\n```\n",
                "text/markdown",
                author,
                f"{author.split()[0].lower()}@example.org",
                license_text,
                keywords,
                f"https://example.org/{normalized}",
                {"Source": f"https://example.org/{normalized}/source"},
                requires_python,
                created,
                self.next_serial - 1,
                last_updated(moment, None, created),
            )
        )
        for classifier in self.classifiers(framework, license_classifier):
            batch.links.append((package_id, self.classifier_ids[classifier]))


def _start_ids(connection: Connection) -> tuple[int, int, int, int]:
    def next_id(column) -> int:
        return (connection.execute(select(func.max(column))).scalar() or 0) + 1

    return (
        next_id(Package.id),
        next_id(Release.id),
        next_id(ReleaseFile.id),
        next_id(JournalEntry.id),
    )


def _classifier_ids(connection: Connection, wanted: set[str]) -> dict[str, int]:
    table = Classifier.__table__
    have = dict(connection.execute(select(table.c.classifier, table.c.id)).all())
    missing = sorted(wanted - have.keys())
    if missing:
        connection.execute(table.insert(), [{"classifier": c} for c in missing])
        have = dict(connection.execute(select(table.c.classifier, table.c.id)).all())
    return have


def _all_classifiers() -> set[str]:
    wanted = {c for _, c, _ in LICENSES if c} | set(STATUSES) | set(TOPICS)
    wanted |= {"Programming Language :: Python", "Programming Language :: Python :: 3"}
    wanted |= {f"Programming Language :: Python :: {v}" for v in PYTHONS}
    wanted |= {framework for _, framework in PREFIXES if framework}
    return wanted


class Writer:
    """Bulk rows into one backend, inside the connection's transaction."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(table, columns, rows)
        else:
            self._executemany(table, columns, rows)

    def _executemany(self, table, columns, rows):
        convert = [
            sqlite_timestamp if c in TIMESTAMPS else json.dumps if c in JSON_COLUMNS else None
            for c in columns
        ]
        if any(convert):
            rows = [
                tuple(
                    v if f is None or v is None else f(v) for f, v in zip(convert, row, strict=True)
                )
                for row in rows
            ]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.connection.exec_driver_sql(sql, rows)

    def _copy(self, table, columns, rows):
        json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
        cursor = self.connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = json.dumps(row[i])
                copy.write_row(row)

    def finish(self) -> None:
        if self.postgres:
            # Ids were assigned here: move the sequences past them.
            for table in ("packages", "releases", "release_files", "journals"):
                self.connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            for table in (
                "packages",
                "releases",
                "release_files",
                "package_classifiers",
                "journals",
            ):
                self.connection.exec_driver_sql(f"ANALYZE {table}")
        else:
            self.connection.exec_driver_sql("ANALYZE")


def generate(
    connection: Connection,
    packages: int,
    releases: int,
    files: int,
    seed: int = 0,
    progress: bool = False,
) -> Counts:
    """Add the synthetic packages in the connection's transaction (the caller commits)."""
    rng = random.Random(seed)
    per_package = release_counts(rng, packages, releases)
    files_per_release = max(1.0, files / releases)
    taken = set(connection.execute(select(Package.normalized_name)).scalars())
    generator = Generator(
        seed, _classifier_ids(connection, _all_classifiers()), taken, _start_ids(connection)
    )
    writer = Writer(connection)
    counts = Counts()
    with tqdm(
        total=packages, unit="pkg", file=sys.stderr, disable=not progress, smoothing=0.1
    ) as bar:
        for start in range(0, packages, BATCH_PACKAGES):
            batch = Batch()
            chunk = per_package[start : start + BATCH_PACKAGES]
            for count in chunk:
                generator.package(count, files_per_release, batch)
            writer.write("packages", PACKAGE_COLUMNS, batch.packages)
            writer.write("releases", RELEASE_COLUMNS, batch.releases)
            writer.write("release_files", FILE_COLUMNS, batch.files)
            writer.write("package_classifiers", LINK_COLUMNS, batch.links)
            writer.write("journals", JOURNAL_COLUMNS, batch.journals)
            counts.packages += len(batch.packages)
            counts.releases += len(batch.releases)
            counts.files += len(batch.files)
            counts.classifier_links += len(batch.links)
            bar.update(len(chunk))
            bar.set_postfix_str(f"{counts.releases:,} releases, {counts.files:,} files")
    writer.finish()
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Fill the database with a synthetic package index."
    )
    parser.add_argument(
        "config_uri", nargs="?", help="the app's configuration, e.g. development.ini"
    )
    parser.add_argument("--db-url", help="the database URL (instead of the configuration's)")
    parser.add_argument("--packages", type=int, default=100_000, metavar="N")
    parser.add_argument("--releases", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--files", type=int, default=2_000_000, metavar="N")
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    for name in ("packages", "releases", "files"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


GENERATED_TABLES = (
    "packages",
    "packages_search",
    "releases",
    "release_files",
    "package_classifiers",
    "journals",
)


def vacuum_after_bulk_load(engine) -> None:
    """On Postgres, VACUUM the tables just filled (it cannot run in their transaction).

    Rows written in bulk have no hint bits and no visibility map yet: until a
    vacuum, every reader checks each row's transaction, and index-only scans
    visit the heap. Autovacuum would get there eventually, under load; a bulk
    load is followed by a VACUUM, as PostgreSQL's own advice on populating a
    database has it. (SQLite needs nothing: ANALYZE ran in the transaction.)
    """
    if engine.dialect.name != "postgresql":
        return
    # The database is at the head revision (open_database and the benchmark
    # see to it), so every table, packages_search included, exists.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM {', '.join(GENERATED_TABLES)}")


def run(args: argparse.Namespace) -> int:
    engine = open_database(database_url(args), upgrade_hint(args))
    started = time.perf_counter()
    try:
        with engine.begin() as connection:
            counts = generate(
                connection,
                args.packages,
                args.releases,
                args.files,
                seed=args.seed,
                progress=sys.stderr.isatty(),
            )
        try:
            vacuum_after_bulk_load(engine)
        except SQLAlchemyError as exc:
            reason = database_error_reason(exc)
            print(
                f"{PROG}: warning: the rows are written, but VACUUM failed ({reason}); "
                "run VACUUM on the database before measuring it",
                file=sys.stderr,
            )
    except SQLAlchemyError as exc:
        reason = database_error_reason(exc)
        print(f"{PROG}: error: the database failed, nothing was written: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was written", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    print(
        f"Generated {counts.packages:,} packages, {counts.releases:,} releases, "
        f"{counts.files:,} files, {counts.classifier_links:,} classifier links "
        f"in {seconds:.1f} s ({counts.releases / max(seconds, 1e-9):,.0f} releases/s)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(PROG, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
