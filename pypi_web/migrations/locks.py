"""What each statement of a migration does to a live Postgres: its lock, rewrites, scans.

The rules are squawk's (squawkhq.com/docs/rules), those that apply to what
Alembic emits, checked against the live database where squawk can only
guess: whether a default's function is volatile comes from ``pg_proc``,
whether a type change rewrites from the column's type and ``pg_cast``, the
table an index belongs to and each table's size from the catalog. Statements
are parsed by libpg_query (pglast), the parser Postgres itself uses.

Locks are held until the revision's transaction commits, so a revision that
takes ACCESS EXCLUSIVE on a table early and then updates every row keeps
every reader of that table waiting for the whole update: ``Transaction``
adds the locks up per revision.

Application queries take ACCESS SHARE (SELECT) and ROW EXCLUSIVE (INSERT,
UPDATE, DELETE); what a migration's lock means to them is what is printed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sqlalchemy as sa
from pglast import enums, parse_sql
from pglast.stream import RawStream
from pglast.visitors import Visitor

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE = "SHARE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
ROW_SHARE = "ROW SHARE"
# Weakest to strongest.
LOCK_ORDER = (ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE,
              "EXCLUSIVE", ACCESS_EXCLUSIVE)  # fmt: skip
# What the site's own queries meet while a lock is held.
WAITS = {
    ACCESS_EXCLUSIVE: "reads and writes wait",
    "EXCLUSIVE": "writes wait, reads go on",
    SHARE_ROW_EXCLUSIVE: "writes wait, reads go on",
    SHARE: "writes wait, reads go on",
    SHARE_UPDATE_EXCLUSIVE: "reads and writes go on",
    ROW_EXCLUSIVE: "reads and writes go on; the rows it changes stay locked",
    ROW_SHARE: "reads and writes go on",
}
# Volatile defaults Postgres evaluates per row (a rewrite), when no database says.
KNOWN_VOLATILE = frozenset(
    {"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "clock_timestamp",
     "timeofday", "nextval", "txid_current"}
)  # fmt: skip
SERIAL_TYPES = frozenset({"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"})
AT = enums.AlterTableType
CONSTR = enums.ConstrType
BOOKKEEPING = "alembic_"


def stronger(a: str | None, b: str) -> str:
    if a is None:
        return b
    return a if LOCK_ORDER.index(a) >= LOCK_ORDER.index(b) else b


@dataclass
class Finding:
    """What one statement does: the locks it takes, its cost, squawk's advice."""

    locks: dict[str, str] = field(default_factory=dict)  # table -> lock mode
    effects: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # "rule: what to do instead"

    def lock(self, table: str, mode: str) -> None:
        self.locks[table] = stronger(self.locks.get(table), mode)


class PostgresCatalog:
    """What the live database knows: sizes, volatility, column types, index owners."""

    def __init__(self, connection: sa.Connection | None):
        self.connection = connection
        self.sizes: dict[str, tuple[int, int]] = {}
        # Indexes that pending revisions create, and their tables.
        self.new_indexes: dict[str, str] = {}
        if connection is not None:
            rows = connection.execute(
                sa.text(
                    "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                )
            )
            self.sizes = {name: (rows_, size) for name, rows_, size in rows}

    def _scalar(self, sql: str, **params):
        if self.connection is None:
            return None
        try:
            with self.connection.begin_nested():
                return self.connection.execute(sa.text(sql), params).scalar()
        except sa.exc.DBAPIError:  # a type or relation this database does not have (yet)
            return None

    def rows(self, table: str) -> int | None:
        if table not in self.sizes:
            return None
        estimate, _ = self.sizes[table]
        if estimate < 0:  # never analysed: count them
            estimate = self._scalar(f'SELECT count(*) FROM "{table}"')
            self.sizes[table] = (estimate, self.sizes[table][1])
        return estimate

    def describe(self, table: str) -> str:
        """``packages (≈100,000 rows, 42 MB)``, or ``packages (new)``."""
        rows = self.rows(table)
        if rows is None:
            return f"{table} (not in the database yet)"
        megabytes = self.sizes[table][1] / 1_000_000
        return f"{table} (≈{rows:,} rows, {megabytes:,.0f} MB)"

    @functools.cache  # noqa: B019 (one catalog per plan)
    def volatility(self, function: str) -> str:
        """'v' (volatile), 's' (stable), 'i' (immutable); unknown ones count as volatile."""
        found = self._scalar("SELECT max(provolatile) FROM pg_proc WHERE proname = :f", f=function)
        if found is None:
            return "v" if self.connection is not None or function in KNOWN_VOLATILE else "s"
        return found

    def column_type(self, table: str, column: str) -> str | None:
        return self._scalar(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(:t) AND attname = :c AND NOT attisdropped",
            t=table,
            c=column,
        )

    def cast_method(self, old: str, new: str) -> str | None:
        return self._scalar(
            "SELECT castmethod FROM pg_cast WHERE castsource = CAST(:old AS regtype) "
            "AND casttarget = CAST(:new AS regtype)",
            old=old,
            new=new,
        )

    def index_table(self, index: str) -> str | None:
        if index in self.new_indexes:
            return self.new_indexes[index]
        return self._scalar("SELECT tablename FROM pg_indexes WHERE indexname = :i", i=index)


class _Calls(Visitor):
    """The names of the functions an expression calls."""

    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def visit_FuncCall(self, ancestors, node):
        self.names.append(node.funcname[-1].sval)


def _called(expr) -> list[str]:
    calls = _Calls()
    calls(expr)
    return calls.names


def _type_text(type_name) -> str:
    return RawStream()(type_name)


def _names(objects) -> list[str]:
    return [".".join(part.sval for part in obj) for obj in objects]


class Transaction:
    """The statements of one revision, analysed in order, and the locks held at COMMIT."""

    def __init__(self, catalog: PostgresCatalog):
        self.catalog = catalog
        self.in_transaction = False
        self.created: set[str] = set()  # tables made in this transaction: nobody else sees them
        self.held: dict[str, str] = {}  # table -> strongest lock, until COMMIT

    def analyse(self, sql: str) -> list[Finding]:
        """One Finding per statement in ``sql`` (a comment has none)."""
        findings = []
        for raw in parse_sql(sql):
            handler = getattr(self, f"_{type(raw.stmt).__name__}", None)
            finding = Finding()
            if handler is not None:
                handler(raw.stmt, finding)
            for table in [t for t in finding.locks if t.startswith(BOOKKEEPING)]:
                del finding.locks[table]  # Alembic's own tables: nobody else waits on them
            for table, mode in finding.locks.items():
                if self.in_transaction and table not in self.created:
                    self.held[table] = stronger(self.held.get(table), mode)
            findings.append(finding)
        return findings

    # -- transactions and settings

    def _TransactionStmt(self, stmt, finding: Finding) -> None:
        kind = enums.TransactionStmtKind
        if stmt.kind in (kind.TRANS_STMT_BEGIN, kind.TRANS_STMT_START):
            self.in_transaction = True
        elif stmt.kind in (kind.TRANS_STMT_COMMIT, kind.TRANS_STMT_ROLLBACK):
            self.in_transaction = False
            self.created.clear()

    def _VariableSetStmt(self, stmt, finding: Finding) -> None:
        if stmt.name in ("lock_timeout", "statement_timeout") and stmt.args:
            value = RawStream()(stmt.args[0]).strip("'")
            scope = "this transaction" if stmt.is_local else "the rest of the run"
            finding.effects.append(f"{stmt.name} is {value} for {scope}")

    # -- tables

    def _CreateStmt(self, stmt, finding: Finding) -> None:
        table = stmt.relation.relname
        self.created.add(table)
        finding.effects.append(f"a new table, {table}: nobody else sees it before COMMIT")
        for element in stmt.tableElts or ():
            constraints = getattr(element, "constraints", None) or (element,)
            for constraint in constraints:
                if getattr(constraint, "contype", None) == CONSTR.CONSTR_FOREIGN:
                    finding.lock(constraint.pktable.relname, SHARE_ROW_EXCLUSIVE)

    def _DropStmt(self, stmt, finding: Finding) -> None:
        kind = enums.ObjectType
        if stmt.removeType == kind.OBJECT_TABLE:
            for table in _names(stmt.objects):
                finding.lock(table, ACCESS_EXCLUSIVE)
                finding.advice.append(
                    "ban-drop-table: the release still running reads it; drop it only in a "
                    "release after the code stopped using it"
                )
        elif stmt.removeType == kind.OBJECT_INDEX:
            self._drop_index(stmt, finding)
        elif stmt.removeType == kind.OBJECT_TRIGGER:
            for obj in stmt.objects:
                finding.lock(obj[-2].sval, ACCESS_EXCLUSIVE)

    def _drop_index(self, stmt, finding: Finding) -> None:
        for index in _names(stmt.objects):
            table = self.catalog.index_table(index)
            if stmt.concurrent:
                finding.lock(table or f"the table of {index}", SHARE_UPDATE_EXCLUSIVE)
                continue
            finding.lock(table or f"the table of {index}", ACCESS_EXCLUSIVE)
            if table not in self.created:
                finding.advice.append(
                    "require-concurrent-index-deletion: DROP INDEX CONCURRENTLY, in "
                    "op.get_context().autocommit_block(), takes only SHARE UPDATE EXCLUSIVE"
                )

    def _RenameStmt(self, stmt, finding: Finding) -> None:
        kind = enums.ObjectType
        table = stmt.relation.relname if stmt.relation else None
        if stmt.renameType == kind.OBJECT_INDEX:
            finding.lock(self.catalog.index_table(table) or table, SHARE_UPDATE_EXCLUSIVE)
            return
        finding.lock(table, ACCESS_EXCLUSIVE)
        finding.effects.append("a catalog change: brief, once it has the lock")
        if stmt.renameType == kind.OBJECT_COLUMN:
            finding.advice.append(
                "renaming-column: the release still running uses the old name; add the new "
                "column, keep both in step, drop the old one a release later"
            )
        elif stmt.renameType == kind.OBJECT_TABLE:
            finding.advice.append("renaming-table: the release still running uses the old name")

    def _CreateTrigStmt(self, stmt, finding: Finding) -> None:
        finding.lock(stmt.relation.relname, SHARE_ROW_EXCLUSIVE)

    def _TruncateStmt(self, stmt, finding: Finding) -> None:
        for relation in stmt.relations:
            finding.lock(relation.relname, ACCESS_EXCLUSIVE)

    def _LockStmt(self, stmt, finding: Finding) -> None:
        modes = {1: "ACCESS SHARE", 2: ROW_SHARE, 3: ROW_EXCLUSIVE, 4: SHARE_UPDATE_EXCLUSIVE,
                 5: SHARE, 6: SHARE_ROW_EXCLUSIVE, 7: "EXCLUSIVE", 8: ACCESS_EXCLUSIVE}  # fmt: skip
        for relation in stmt.relations:
            finding.lock(relation.relname, modes.get(stmt.mode, ACCESS_EXCLUSIVE))

    # -- rows

    def _rows(self, table: str, where, finding: Finding, verb: str) -> None:
        finding.lock(table, ROW_EXCLUSIVE)
        if table.startswith(BOOKKEEPING) or table in self.created:
            return
        if where is None:
            finding.effects.append(
                f"{verb} every row of {self.catalog.describe(table)}, each locked until COMMIT"
            )
        else:
            finding.effects.append(
                f"{verb} the rows of {self.catalog.describe(table)} that match, each locked "
                "until COMMIT"
            )

    def _UpdateStmt(self, stmt, finding: Finding) -> None:
        self._rows(stmt.relation.relname, stmt.whereClause, finding, "updates")

    def _DeleteStmt(self, stmt, finding: Finding) -> None:
        self._rows(stmt.relation.relname, stmt.whereClause, finding, "deletes")

    def _InsertStmt(self, stmt, finding: Finding) -> None:
        finding.lock(stmt.relation.relname, ROW_EXCLUSIVE)

    def _VacuumStmt(self, stmt, finding: Finding) -> None:
        full = any(option.defname == "full" for option in stmt.options or ())
        for relation in stmt.rels or ():
            table = relation.relation.relname
            finding.lock(table, ACCESS_EXCLUSIVE if full else SHARE_UPDATE_EXCLUSIVE)
            if full:
                finding.effects.append(f"rewrites {self.catalog.describe(table)}")

    # -- indexes

    def _IndexStmt(self, stmt, finding: Finding) -> None:
        table = stmt.relation.relname
        if stmt.idxname:
            self.catalog.new_indexes[stmt.idxname] = table
        if table in self.created:
            return
        if stmt.concurrent:
            finding.lock(table, SHARE_UPDATE_EXCLUSIVE)
            finding.effects.append(f"builds the index over {self.catalog.describe(table)}")
            if self.in_transaction:
                finding.advice.append(
                    "ban-concurrent-index-creation-in-transaction: CONCURRENTLY cannot run "
                    "inside a transaction; put it in op.get_context().autocommit_block()"
                )
            return
        finding.lock(table, SHARE)
        finding.effects.append(
            f"builds the index over {self.catalog.describe(table)} while writes wait"
        )
        finding.advice.append(
            "require-concurrent-index-creation: for a big, busy table build it with "
            "postgresql_concurrently=True in op.get_context().autocommit_block()"
        )

    # -- ALTER TABLE

    def _AlterTableStmt(self, stmt, finding: Finding) -> None:
        table = stmt.relation.relname
        new = table in self.created
        for cmd in stmt.cmds:
            handler = ALTER_RULES.get(cmd.subtype, _alter_other)
            handler(self, table, cmd, finding)
        if new:  # nobody else can see the table: none of it matters to them
            finding.effects = [e for e in finding.effects if "brief" in e]
            finding.advice.clear()


def _alter_other(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, ACCESS_EXCLUSIVE)


def _brief(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, ACCESS_EXCLUSIVE)
    _note(finding, "a catalog change: brief, once it has the lock")


def _note(finding: Finding, effect: str) -> None:
    if effect not in finding.effects:
        finding.effects.append(effect)


def _add_column(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, ACCESS_EXCLUSIVE)
    column = cmd.def_
    kinds = {c.contype: c for c in column.constraints or ()}
    type_name = column.typeName.names[-1].sval
    default = kinds.get(CONSTR.CONSTR_DEFAULT)
    volatile = []
    if default is not None:
        volatile = [f for f in _called(default.raw_expr) if tx.catalog.volatility(f) == "v"]
    if volatile or type_name in SERIAL_TYPES:
        what = f"{', '.join(volatile)}()" if volatile else type_name
        finding.effects.append(
            f"rewrites {tx.catalog.describe(table)} and its indexes: a volatile default "
            f"({what}) is computed for every row"
        )
        finding.advice.append(
            "adding-field-with-default: add the column without the default, backfill it in "
            "batches, then SET DEFAULT"
        )
    elif CONSTR.CONSTR_IDENTITY in kinds or CONSTR.CONSTR_GENERATED in kinds:
        finding.effects.append(f"rewrites {tx.catalog.describe(table)} and its indexes")
        finding.advice.append(
            "adding-field-with-default: identity and stored generated columns rewrite"
        )
    else:
        _note(finding, "a catalog change: brief, once it has the lock (no rewrite)")
    if CONSTR.CONSTR_NOTNULL in kinds and default is None:
        finding.advice.append(
            "adding-required-field: NOT NULL without a default fails on a table with rows, and "
            "the release still running inserts without it"
        )
    if CONSTR.CONSTR_PRIMARY in kinds or CONSTR.CONSTR_UNIQUE in kinds:
        finding.effects.append("builds a unique index while reads and writes wait")
    if CONSTR.CONSTR_FOREIGN in kinds:
        finding.lock(kinds[CONSTR.CONSTR_FOREIGN].pktable.relname, SHARE_ROW_EXCLUSIVE)


def _set_not_null(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, ACCESS_EXCLUSIVE)
    finding.effects.append(
        f"scans every row of {tx.catalog.describe(table)} to check {cmd.name} has no NULL, "
        "while reads and writes wait"
    )
    finding.advice.append(
        f"adding-not-nullable-field: ADD CONSTRAINT ... CHECK ({cmd.name} IS NOT NULL) NOT "
        "VALID, VALIDATE CONSTRAINT it (reads and writes go on), then SET NOT NULL, which "
        "Postgres 12+ does without the scan"
    )


def _drop_not_null(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    _brief(tx, table, cmd, finding)
    finding.advice.append("ban-drop-not-null: code that expects a value may meet a NULL")


def _drop_column(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    _brief(tx, table, cmd, finding)
    finding.advice.append(
        "ban-drop-column: the release still running reads it; drop it a release after the "
        "code stopped using it"
    )


def _alter_type(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, ACCESS_EXCLUSIVE)
    column = cmd.def_
    new_type = _type_text(column.typeName)
    old_type = tx.catalog.column_type(table, cmd.name)
    if column.raw_default is None and old_type and _keeps_rows(tx.catalog, old_type, new_type):
        _note(finding, f"a catalog change ({old_type} to {new_type} needs no rewrite): brief")
        return
    was = f" from {old_type}" if old_type else ""
    finding.effects.append(
        f"rewrites {tx.catalog.describe(table)} and rebuilds its indexes ({cmd.name}{was} to "
        f"{new_type}) while reads and writes wait"
    )
    finding.advice.append(
        "changing-column-type: add a column of the new type, backfill it, switch the code "
        "over, drop the old one a release later"
    )


def _keeps_rows(catalog: PostgresCatalog, old: str, new: str) -> bool:
    """Whether Postgres changes ``old`` to ``new`` without touching a row."""
    old_base, _, old_mod = old.partition("(")
    new_base, _, new_mod = new.partition("(")
    if catalog.cast_method(old_base, new_base) == "b" and not new_mod:
        return True  # binary coercible, no limit to check (VARCHAR(n) to TEXT)
    if catalog.cast_method(old_base, new_base) is None and old_base.strip() != new_base.strip():
        return False
    try:
        old_limit = [int(p) for p in old_mod.rstrip(")").split(",")] if old_mod else None
        new_limit = [int(p) for p in new_mod.rstrip(")").split(",")] if new_mod else None
    except ValueError:
        return False
    if old_limit is None:
        return new_limit is None
    # A longer VARCHAR, or more digits before the point of a NUMERIC of the same scale.
    return new_limit is None or (new_limit[0] >= old_limit[0] and new_limit[1:] == old_limit[1:])


def _add_constraint(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    constraint = cmd.def_
    kind = constraint.contype
    if kind == CONSTR.CONSTR_FOREIGN:
        finding.lock(table, SHARE_ROW_EXCLUSIVE)
        finding.lock(constraint.pktable.relname, SHARE_ROW_EXCLUSIVE)
        if not constraint.skip_validation:
            finding.effects.append(
                f"scans {tx.catalog.describe(table)} to validate the foreign key while "
                "writes to both tables wait"
            )
            finding.advice.append(
                "adding-foreign-key-constraint: add it NOT VALID, then VALIDATE CONSTRAINT "
                "(reads and writes go on)"
            )
        return
    finding.lock(table, ACCESS_EXCLUSIVE)
    if kind == CONSTR.CONSTR_CHECK and not constraint.skip_validation:
        finding.effects.append(
            f"scans every row of {tx.catalog.describe(table)} to check it while reads and "
            "writes wait"
        )
        finding.advice.append(
            "constraint-missing-not-valid: add it NOT VALID, then VALIDATE CONSTRAINT "
            "(reads and writes go on)"
        )
    elif kind in (CONSTR.CONSTR_UNIQUE, CONSTR.CONSTR_PRIMARY) and not constraint.indexname:
        finding.effects.append(
            f"builds a unique index over {tx.catalog.describe(table)} while reads and writes wait"
        )
        finding.advice.append(
            "disallowed-unique-constraint: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD "
            "CONSTRAINT ... USING INDEX"
        )
    else:
        _note(finding, "a catalog change: brief, once it has the lock")


def _toggle_trigger(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, SHARE_ROW_EXCLUSIVE)


def _validate(tx: Transaction, table: str, cmd, finding: Finding) -> None:
    finding.lock(table, SHARE_UPDATE_EXCLUSIVE)
    finding.effects.append(f"scans {tx.catalog.describe(table)} while reads and writes go on")


ALTER_RULES = {
    AT.AT_AddColumn: _add_column,
    AT.AT_DropColumn: _drop_column,
    AT.AT_AlterColumnType: _alter_type,
    AT.AT_SetNotNull: _set_not_null,
    AT.AT_DropNotNull: _drop_not_null,
    AT.AT_ColumnDefault: _brief,
    AT.AT_AddConstraint: _add_constraint,
    AT.AT_DropConstraint: _brief,
    AT.AT_ValidateConstraint: _validate,
    AT.AT_EnableTrig: _toggle_trigger,
    AT.AT_DisableTrig: _toggle_trigger,
}
