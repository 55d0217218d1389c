"""packages.license: link License classifiers inferred from free text

Data only. Many projects say "MIT" or "BSD" in their license field but carry
no ``License ::`` classifier, so /classifiers/ and ?c= searches miss them.
For every package with no License classifier whose license text is one of
the common spellings below, link the matching trove classifier(s).

* Batches of BATCH_SIZE packages, keyed on packages.id, so each statement
  stays small and quick under the migration's statement_timeout on a big
  table. They share the revision's one transaction: a failure rolls the
  whole revision back (the project's migrations are atomic).
* Idempotent: a package that already has a License classifier is never
  touched, so running it again (after `pypi-web-db adopt` stamped a revision
  before it, say) adds nothing.
* Every link it adds is recorded as a journal entry on the package (its
  history shows where the classifier came from) and bumps the package's
  last_serial, as any other change to a project does. downgrade() uses those
  entries to remove exactly the links this revision added, and the classifier
  rows it created if nothing else uses them; serials never go backwards, so
  last_serial is left alone.

Self-contained on purpose: migrations must not import app code that may
change later, so the tables are described with sa.table() here.

Revision ID: fd53010c18f5
Revises: 756594532db6
Create Date: 2026-11-23 22:08:49.083167

"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "fd53010c18f5"
down_revision: str | Sequence[str] | None = "756594532db6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

BATCH_SIZE = 500
# The journal action suffix that marks this revision's work (downgrade finds it).
MARKER = f" (inferred from the license text by migration {revision})"
ACTION_PREFIX = "add classifier "

MIT = "License :: OSI Approved :: MIT License"
BSD = "License :: OSI Approved :: BSD License"
APACHE = "License :: OSI Approved :: Apache Software License"
GPL = "License :: OSI Approved :: GNU General Public License (GPL)"
GPL2 = "License :: OSI Approved :: GNU General Public License v2 (GPLv2)"
GPL2_PLUS = "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)"
GPL3 = "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"
GPL3_PLUS = "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"
LGPL = "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)"
LGPL2 = "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)"
LGPL2_PLUS = "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)"
LGPL3 = "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)"
LGPL3_PLUS = "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)"
AGPL3 = "License :: OSI Approved :: GNU Affero General Public License v3"
AGPL3_PLUS = "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)"
MPL2 = "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)"
PSF = "License :: OSI Approved :: Python Software Foundation License"
ISC = "License :: OSI Approved :: ISC License (ISCL)"
UNLICENSE = "License :: OSI Approved :: The Unlicense (Unlicense)"
ZPL = "License :: OSI Approved :: Zope Public License"
PUBLIC_DOMAIN = "License :: Public Domain"
CC0 = "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication"

# Normalised license text (see normalize_license) -> classifiers. Only
# unambiguous spellings: anything else is left for the project to declare.
LICENSE_CLASSIFIERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(["mit", "mit/x11", "expat"], (MIT,)),
    **dict.fromkeys(
        [
            "bsd",
            "new bsd",
            "modified bsd",
            "revised bsd",
            "simplified bsd",
            "bsd 3-clause",
            "3-clause bsd",
            "bsd-3-clause",
            "bsd 2-clause",
            "2-clause bsd",
            "bsd-2-clause",
        ],
        (BSD,),
    ),
    **dict.fromkeys(
        [
            "apache",
            "apache 2",
            "apache2",
            "apache 2.0",
            "apache-2.0",
            "apache v2",
            "apache version 2.0",
            "apache software",
            "asl 2.0",
        ],
        (APACHE,),
    ),
    **dict.fromkeys(
        ["apache-2.0 or mit", "mit or apache-2.0", "apache 2.0 or mit", "mit or apache 2.0"],
        (APACHE, MIT),
    ),
    **dict.fromkeys(["gpl", "gnu gpl"], (GPL,)),
    **dict.fromkeys(["gplv2", "gpl v2", "gpl-2.0", "gpl-2.0-only", "gnu gplv2"], (GPL2,)),
    **dict.fromkeys(["gplv2+", "gpl-2.0+", "gpl-2.0-or-later"], (GPL2_PLUS,)),
    **dict.fromkeys(
        ["gplv3", "gpl v3", "gpl-3.0", "gpl-3.0-only", "gnu gplv3", "gnu gpl v3"], (GPL3,)
    ),
    **dict.fromkeys(["gplv3+", "gpl-3.0+", "gpl-3.0-or-later"], (GPL3_PLUS,)),
    **dict.fromkeys(["lgpl"], (LGPL,)),
    **dict.fromkeys(["lgplv2", "lgpl v2", "lgpl-2.1", "lgpl-2.1-only"], (LGPL2,)),
    **dict.fromkeys(["lgplv2+", "lgpl-2.1+", "lgpl-2.1-or-later"], (LGPL2_PLUS,)),
    **dict.fromkeys(["lgplv3", "lgpl v3", "lgpl-3.0", "lgpl-3.0-only"], (LGPL3,)),
    **dict.fromkeys(["lgplv3+", "lgpl-3.0+", "lgpl-3.0-or-later"], (LGPL3_PLUS,)),
    **dict.fromkeys(["agplv3", "agpl v3", "agpl-3.0", "agpl-3.0-only"], (AGPL3,)),
    **dict.fromkeys(["agplv3+", "agpl-3.0-or-later"], (AGPL3_PLUS,)),
    **dict.fromkeys(["mpl 2.0", "mpl-2.0", "mpl2", "mozilla public 2.0"], (MPL2,)),
    **dict.fromkeys(["psf", "psfl", "psf-2.0", "python software foundation"], (PSF,)),
    **dict.fromkeys(["isc", "iscl"], (ISC,)),
    **dict.fromkeys(["unlicense", "unlicensed"], (UNLICENSE,)),
    **dict.fromkeys(["zpl 2.1", "zpl-2.1", "zpl", "zope public"], (ZPL,)),
    **dict.fromkeys(["public domain"], (PUBLIC_DOMAIN,)),
    **dict.fromkeys(["cc0", "cc0 1.0", "cc0-1.0"], (CC0,)),
}


def normalize_license(text: str | None) -> str | None:
    """'The MIT License' -> 'mit'; 'Apache License, Version 2.0' -> 'apache version 2.0'.

    A full license text is judged by its first line ("MIT License", then the
    copyright notice).
    """
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    value = re.sub(r"[,()\"]", " ", lines[0].lower())
    value = re.sub(r"\s+", " ", value).strip()
    value = re.sub(r"^the ", "", value)
    value = re.sub(r" licen[cs]e$", "", value)
    value = re.sub(r"^licen[cs]e:? ", "", value)
    value = value.replace(" license ", " ").replace(" licence ", " ")
    return value


def classifiers_for(text: str | None) -> tuple[str, ...]:
    return LICENSE_CLASSIFIERS.get(normalize_license(text) or "", ())


packages = sa.table(
    "packages",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("license", sa.Text),
    sa.column("last_serial", sa.Integer),
)
classifiers = sa.table(
    "classifiers", sa.column("id", sa.Integer), sa.column("classifier", sa.String)
)
package_classifiers = sa.table(
    "package_classifiers",
    sa.column("package_id", sa.Integer),
    sa.column("classifier_id", sa.Integer),
)
journals = sa.table(
    "journals",
    sa.column("id", sa.Integer),
    sa.column("package_name", sa.String),
    sa.column("version", sa.String),
    sa.column("action", sa.Text),
)


def _has_license_classifier():
    return sa.exists().where(
        package_classifiers.c.package_id == packages.c.id,
        package_classifiers.c.classifier_id == classifiers.c.id,
        classifiers.c.classifier.like("License ::%"),
    )


def _classifier_ids(bind, names: set[str]) -> dict[str, int]:
    """Ids of ``names``, inserting the ones the database does not have yet."""
    found = dict(
        bind.execute(
            sa.select(classifiers.c.classifier, classifiers.c.id).where(
                classifiers.c.classifier.in_(sorted(names))
            )
        ).all()
    )
    missing = sorted(names - found.keys())
    if missing:
        bind.execute(sa.insert(classifiers), [{"classifier": name} for name in missing])
        return _classifier_ids(bind, names)
    return found


OFFLINE_NOTE = (
    f"-- {revision} is a data migration: it reads packages to decide what to link, so an\n"
    "-- offline (--sql) script cannot carry it. Apply this revision online instead: stop\n"
    f"-- this script at {down_revision}, then run `alembic upgrade {revision}`"
)


def upgrade() -> None:
    if op.get_context().as_sql:
        op.execute(OFFLINE_NOTE)
        return
    bind = op.get_bind()
    after_id = 0
    while True:
        batch = bind.execute(
            sa.select(packages.c.id, packages.c.name, packages.c.license)
            .where(
                packages.c.id > after_id,
                packages.c.license.is_not(None),
                ~_has_license_classifier(),
            )
            .order_by(packages.c.id)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            break
        after_id = batch[-1].id
        wanted = {row: classifiers_for(row.license) for row in batch}
        wanted = {row: names for row, names in wanted.items() if names}
        if not wanted:
            continue
        ids = _classifier_ids(bind, {name for names in wanted.values() for name in names})
        bind.execute(
            sa.insert(package_classifiers),
            [
                {"package_id": row.id, "classifier_id": ids[name]}
                for row, names in wanted.items()
                for name in names
            ],
        )
        bind.execute(
            sa.insert(journals),
            [
                {"package_name": row.name, "version": None, "action": ACTION_PREFIX + name + MARKER}
                for row, names in wanted.items()
                for name in names
            ],
        )
        # The change gets a serial like any other: mirrors pick it up.
        newest_serial = (
            sa.select(sa.func.max(journals.c.id))
            .where(journals.c.package_name == packages.c.name)
            .scalar_subquery()
        )
        bind.execute(
            sa.update(packages)
            .where(packages.c.id.in_([row.id for row in wanted]))
            .values(last_serial=newest_serial)
        )


def downgrade() -> None:
    if op.get_context().as_sql:
        op.execute(OFFLINE_NOTE)
        return
    bind = op.get_bind()
    recorded = bind.execute(
        sa.select(journals.c.id, journals.c.package_name, journals.c.action).where(
            journals.c.action.like(ACTION_PREFIX + "%" + MARKER)
        )
    ).all()
    touched_classifiers: set[str] = set()
    for entry in recorded:
        name = entry.action[len(ACTION_PREFIX) : -len(MARKER)]
        touched_classifiers.add(name)
        package_id = sa.select(packages.c.id).where(packages.c.name == entry.package_name)
        classifier_id = sa.select(classifiers.c.id).where(classifiers.c.classifier == name)
        bind.execute(
            sa.delete(package_classifiers).where(
                package_classifiers.c.package_id.in_(package_id),
                package_classifiers.c.classifier_id.in_(classifier_id),
            )
        )
    if recorded:
        bind.execute(sa.delete(journals).where(journals.c.id.in_([e.id for e in recorded])))
    if touched_classifiers:
        # Remove classifier rows this revision may have created, once nothing uses them.
        unused = ~sa.exists().where(package_classifiers.c.classifier_id == classifiers.c.id)
        bind.execute(
            sa.delete(classifiers).where(
                classifiers.c.classifier.in_(sorted(touched_classifiers)), unused
            )
        )
