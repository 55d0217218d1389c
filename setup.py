from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent

requires = [
    "alembic>=1.17.1",
    "argon2-cffi>=23.1",
    "packaging>=24",
    # Postgres' own SQL parser (libpg_query): `pypi-web-db plan` reads each statement's locks.
    "pglast>=7",
    "plaster>=1.0",
    "plaster_pastedeploy>=1.0",
    "psycopg[binary]>=3.1",
    "pyramid>=2.0",
    "pyramid_chameleon>=0.3",
    "pyramid_retry>=2.1",
    "pyramid_tm>=2.5",
    "readme_renderer[md]>=43",
    "SQLAlchemy>=2.0.30",
    "tqdm>=4.66",
    "trove-classifiers>=2024.1",
    "transaction>=4.0",
    "waitress>=3.0",
    "zope.sqlalchemy>=3.1",
]

dev_requires = [
    "pyramid_debugtoolbar>=4.12",
]

# The benchmark's comparison server (bench/servers.py): the site on gunicorn's gthread
# workers against pypi-web-serve's. Not what production runs (README "Serving").
bench_requires = [
    "gunicorn>=23",
]

tests_require = [
    "build>=1.2",
    # The real clients the journeys (tests/journeys/) publish, install and lock with; they
    # share this virtualenv without conflict (checked with pip check).
    "hatch>=1.14",
    # Build backends of the journeys' projects (with setuptools, below).
    "hatchling>=1.26",
    "poetry-core>=2.0",
    # pdm's requirement admits hishel 2, which it cannot use (its "locked" extra pins 1.4).
    "hishel[httpx2]>=1.4,<2",
    "pdm>=2.22",
    "pip-tools>=7.4",
    "poetry>=2.0",
    "uv>=0.8",
    "hypothesis>=6.100",
    # Browser tests drive the system's Chromium (apt: chromium); no browser download.
    "playwright>=1.45",
    # Parses the simple pages as clients do (PEP 708 tracks/alternate-locations, PEP 792).
    "pypi-simple>=1.6",
    "pytest>=8",
    # The standard test kit for Alembic histories (tests/migrations/test_alembic_kit.py).
    "pytest-alembic>=0.12",
    "ruff>=0.6",
    # The test projects' builds: 77+ writes PEP 639 License-Expression and names sdists
    # as PEP 625 (and pypi.org) require; from 80.9 every Pyramid import warns (pkg_resources).
    "setuptools>=77,<80.9",
    "twine>=5",
    # The real-client tests build a wheel offline (python -m build --no-isolation).
    "wheel>=0.40",
    "WebTest>=3.0",
]

setup(
    name="pypi_web",
    version="0.1.0",
    description="A package index web site in the style of pypi.org",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Pyramid",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Application",
    ],
    python_requires=">=3.11",
    # Namespace packages: templates/ and static/ hold data only, and are shipped as such.
    packages=find_namespace_packages(include=["pypi_web", "pypi_web.*"]),
    include_package_data=True,
    zip_safe=False,
    install_requires=requires,
    extras_require={
        "dev": dev_requires,
        "bench": bench_requires,
        "testing": dev_requires + tests_require + bench_requires,
    },
    entry_points={
        "paste.app_factory": ["main = pypi_web:main"],
        "console_scripts": [
            "pypi-web-import = pypi_web.importer.cli:main",
            "pypi-web-db = pypi_web.migrations.cli:main",
            "pypi-web-user = pypi_web.accounts.cli:main",
            "pypi-web-serve = pypi_web.serve:main",
            "pypi-web-upstream = pypi_web.upstream.cli:main",
        ],
    },
)
