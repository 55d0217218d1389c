"""Flag dangerous operations in Alembic revision files.

Rules (the name is what an acknowledgement names):

=====================  ====================================================
drop_table             upgrade() or downgrade() drops a table: its rows go
drop_column            upgrade() or downgrade() drops a column: its values go
rename_as_drop_add     a function drops one column and adds another on the
                       same table with no data statement (``execute``) in
                       between: autogenerate's idea of a rename, which loses
                       the column's data
add_column             upgrade() adds a NOT NULL column without a
                       server_default: fails on any table that has rows
create_index           upgrade() builds an index on a table the revision did
                       not create, without ``postgresql_concurrently=True``:
                       on Postgres that blocks writes for the whole build
alter_column           upgrade() changes a column's type (``type_=``): a
                       table rewrite on Postgres, and values may not convert
=====================  ====================================================

And the phase (pypi_web.migrations.phases), rule ``phase``: every file
declares ``phase = "expand"`` or ``"contract"``; upgrade() doing contract work
(dropping a table, column, index or constraint, a rename, a column made NOT
NULL without a server_default, a type change not known to widen, a unique,
check or foreign key constraint added to an existing table, or SQL doing any
of these through ``op.execute``) in a file that declares expand is refused,
naming each such operation. Acknowledging ``phase`` above an operation says
it does not narrow what the previous release uses.

A finding is silenced by a comment in the block of comment lines directly
above the statement::

    # migration-lint: allow drop_column -- its data was copied to homepage_url above
    batch_op.drop_column("home_page")

Several rules may be named, comma-separated; the reason after ``--`` is
required. The files are parsed with ``ast`` and never imported.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .phases import CONTRACT, EXPAND, PHASES

RULES = {
    "drop_table": "drops a table and every row in it",
    "drop_column": "drops a column and every value in it",
    "rename_as_drop_add": (
        "drops column {old} and adds column {new} on {table} with no data copy in between "
        "(a rename done as drop+add loses the data: add, copy, then drop)"
    ),
    "add_column": "adds NOT NULL column {column} without a server_default (fails on existing rows)",
    "create_index": (
        "creates index {index} on existing table {table} without postgresql_concurrently=True "
        "(blocks writes on Postgres while it builds)"
    ),
    "alter_column": (
        "changes the type of column {column} (rewrites the table; values may not convert)"
    ),
}
# Rules that also apply to downgrade(): data loss is data loss in either direction.
DOWNGRADE_RULES = frozenset({"drop_table", "drop_column", "rename_as_drop_add"})

ACK = re.compile(r"#\s*migration-lint:\s*allow\s+(?P<rules>[\w\s,]+?)\s+--\s+(?P<reason>\S.*)$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str
    function: str

    def __str__(self) -> str:
        where = f"{self.function}() " if self.function else ""
        return f"{self.path}:{self.line}: {self.rule}: {where}{self.message}"


def _acknowledged(lines: list[str], lineno: int) -> set[str]:
    """Rules named by acknowledgements in the comment block right above line ``lineno``."""
    rules: set[str] = set()
    index = lineno - 2  # the line before, 0-based
    while index >= 0 and lines[index].strip().startswith("#"):
        match = ACK.search(lines[index].strip())
        if match:
            rules.update(r.strip() for r in match["rules"].split(",") if r.strip())
        index -= 1
    return rules


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args:  # op.f("name")
        return _string(node.args[0])
    return None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_none(node: ast.AST | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


class _FunctionScan(ast.NodeVisitor):
    """Collects the operations of one upgrade()/downgrade() with their tables."""

    def __init__(self):
        self.batch_tables: dict[str, str] = {}  # `as` name -> table
        self.operations: list[tuple[str, str | None, ast.Call]] = []
        self.executes: list[int] = []

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            call = item.context_expr
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)
            ):
                table = _string(call.args[0]) if call.args else None
                self.batch_tables[item.optional_vars.id] = table or "?"
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in ("execute", "exec_driver_sql"):
                self.executes.append(node.lineno)
            receiver = func.value.id if isinstance(func.value, ast.Name) else None
            if receiver in self.batch_tables:
                self.operations.append((func.attr, self.batch_tables[receiver], node))
            elif receiver == "op":
                self.operations.append((func.attr, None, node))
        self.generic_visit(node)


def _table_arg(op_name: str, table: str | None, call: ast.Call) -> str | None:
    """The table an op.* call works on (batch ops already know theirs)."""
    if table is not None:
        return table
    if op_name == "create_index":
        if len(call.args) > 1:
            return _string(call.args[1])
        return _string(_keyword(call, "table_name"))
    return _string(call.args[0]) if call.args else _string(_keyword(call, "table_name"))


def _column_of_add(op_name: str, table: str | None, call: ast.Call) -> ast.Call | None:
    args = call.args if table is not None else call.args[1:]
    column = args[0] if args else _keyword(call, "column")
    if isinstance(column, ast.Call):
        return column
    return None


def _check_function(path: str, func: ast.FunctionDef, lines: list[str]) -> list[Finding]:
    scan = _FunctionScan()
    for statement in func.body:
        scan.visit(statement)
    direction = func.name
    created_tables = {
        _table_arg(name, table, call)
        for name, table, call in scan.operations
        if name == "create_table"
    }
    raw: list[tuple[int, str, str]] = []
    drops: dict[str, list[tuple[str, int]]] = {}
    adds: dict[str, list[tuple[str, int]]] = {}
    for name, table, call in scan.operations:
        table_name = _table_arg(name, table, call) or "?"
        if name == "drop_table":
            raw.append((call.lineno, "drop_table", RULES["drop_table"]))
        elif name == "drop_column":
            args = call.args if table is not None else call.args[1:]
            column = _string(args[0]) if args else _string(_keyword(call, "column_name"))
            drops.setdefault(table_name, []).append((column or "?", call.lineno))
            raw.append((call.lineno, "drop_column", RULES["drop_column"]))
        elif name == "add_column":
            column_call = _column_of_add(name, table, call)
            column = _string(column_call.args[0]) if column_call and column_call.args else "?"
            adds.setdefault(table_name, []).append((column or "?", call.lineno))
            if column_call is not None and _not_null_without_default(column_call):
                raw.append((call.lineno, "add_column", RULES["add_column"].format(column=column)))
        elif name == "create_index":
            if table_name not in created_tables and not _is_true(
                _keyword(call, "postgresql_concurrently")
            ):
                index = _string(call.args[0]) if call.args else "?"
                raw.append(
                    (
                        call.lineno,
                        "create_index",
                        RULES["create_index"].format(index=index, table=table_name),
                    )
                )
        elif name == "alter_column" and _keyword(call, "type_") is not None:
            args = call.args if table is not None else call.args[1:]
            column = _string(args[0]) if args else "?"
            message = RULES["alter_column"].format(column=column)
            raw.append((call.lineno, "alter_column", message))
    raw.extend(_renames_as_drop_add(drops, adds, scan.executes))
    return _unacknowledged(path, direction, raw, lines)


def _not_null_without_default(column_call: ast.Call) -> bool:
    """A ``sa.Column(...)`` NOT NULL (explicitly, or as a primary key) without server_default."""
    nullable = _keyword(column_call, "nullable")
    not_null = (isinstance(nullable, ast.Constant) and nullable.value is False) or (
        nullable is None and _is_true(_keyword(column_call, "primary_key"))
    )
    return not_null and _is_none(_keyword(column_call, "server_default"))


def _renames_as_drop_add(
    drops: dict[str, list[tuple[str, int]]],
    adds: dict[str, list[tuple[str, int]]],
    executes: list[int],
) -> list[tuple[int, str, str]]:
    """A column dropped and another added on one table with no data statement between them."""
    raw = []
    for table_name, dropped in drops.items():
        for old, drop_line in dropped:
            for new, add_line in adds.get(table_name, []):
                low, high = sorted((drop_line, add_line))
                copied = any(low < line < high for line in executes)
                if not copied:
                    message = RULES["rename_as_drop_add"].format(old=old, new=new, table=table_name)
                    raw.append((drop_line, "rename_as_drop_add", message))
    return raw


def _unacknowledged(
    path: str, direction: str, raw: list[tuple[int, str, str]], lines: list[str]
) -> list[Finding]:
    """In line order, the findings of the rules for this direction that are not acknowledged."""
    findings = []
    for lineno, rule, message in sorted(set(raw)):
        if direction == "downgrade" and rule not in DOWNGRADE_RULES:
            continue
        if rule in _acknowledged(lines, lineno):
            continue
        findings.append(Finding(path, lineno, rule, message, direction))
    return findings


def lint_source(source: str, path: str = "<revision>") -> list[Finding]:
    tree = ast.parse(source, filename=path)
    lines = source.splitlines()
    findings = check_phase(path, tree, lines)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            findings.extend(_check_function(path, node, lines))
    return findings


def lint_paths(paths: list[Path]) -> list[Finding]:
    """Lint revision files; a directory means every ``*.py`` in it."""
    findings: list[Finding] = []
    for path in paths:
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            findings.extend(lint_source(file.read_text(encoding="utf-8"), str(file)))
    return findings


# ---------------------------------------------------------------- phase

# A placeholder the template writes when it cannot tell (no operations yet).
PHASE_PLACEHOLDER = "expand or contract"
CONSTRAINT_OPS = {
    "create_unique_constraint": "unique",
    "create_check_constraint": "check",
    "create_foreign_key": "foreign key",
    "create_primary_key": "primary key",
}
CONTRACT_SQL = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|INDEX|CONSTRAINT|VIEW|TRIGGER|FUNCTION)|RENAME\s+(COLUMN|TO)"
    r"|SET\s+NOT\s+NULL|ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE)\b",
    re.IGNORECASE,
)
# Type changes that keep every value and every write of the release before.
WIDENINGS = {
    ("String", "Text"),
    ("String", "String"),  # when the length grows (checked below)
    ("SmallInteger", "Integer"),
    ("SmallInteger", "BigInteger"),
    ("Integer", "BigInteger"),
}


def _type_name(node: ast.AST | None) -> tuple[str | None, int | None]:
    """("String", 200) for ``sa.String(length=200)``; (None, None) when not a type call."""
    if isinstance(node, ast.Attribute):
        return node.attr, None
    if not isinstance(node, ast.Call):
        return None, None
    name, _ = _type_name(node.func)
    length = node.args[0] if node.args else _keyword(node, "length")
    size = length.value if isinstance(length, ast.Constant) else None
    return name, size if isinstance(size, int) else None


def _widens(call: ast.Call) -> bool:
    new, new_size = _type_name(_keyword(call, "type_"))
    old, old_size = _type_name(_keyword(call, "existing_type"))
    if (old, new) not in WIDENINGS:
        return False
    if old == new == "String":
        return old_size is not None and (new_size is None or new_size >= old_size)
    return True


def _column_arg(table: str | None, call: ast.Call, keyword: str = "column_name") -> str:
    args = call.args if table is not None else call.args[1:]
    return (_string(args[0]) if args else _string(_keyword(call, keyword))) or "?"


def _sql_of(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return _string(node) if not isinstance(node, ast.Call) else None


def _contract_sql(sql: str | None) -> str | None:
    if not sql or re.match(r"\s*ALTER\s+INDEX\b", sql, re.IGNORECASE):
        return None  # renaming an index changes nothing code sees
    match = CONTRACT_SQL.search(sql)
    return " ".join(sql.split())[:70] if match else None


def _contract_work(
    name: str, table: str | None, call: ast.Call, created: set, constants: dict
) -> str | None:
    """What ``call`` narrows for the release before, or None when it does not."""
    table_name = _table_arg(name, table, call) or "?"
    if name == "drop_table":
        return f"drops table {table_name}"
    if name == "drop_column":
        return f"drops column {table_name}.{_column_arg(table, call)}"
    if name == "drop_index":
        return f"drops index {_string(call.args[0]) if call.args else '?'}"
    if name == "drop_constraint":
        return f"drops constraint {_string(call.args[0]) if call.args else '?'}"
    if name == "rename_table":
        return f"renames table {table_name}"
    if name in CONSTRAINT_OPS:
        # op.create_*_constraint(name, table, ...); a batch op knows its table.
        table_name = table or (_string(call.args[1]) if len(call.args) > 1 else "?")
    if name in CONSTRAINT_OPS and table_name not in created:
        return f"adds a {CONSTRAINT_OPS[name]} constraint to existing table {table_name}"
    if name == "alter_column":
        column = f"{table_name}.{_column_arg(table, call)}"
        if _keyword(call, "new_column_name") is not None:
            return f"renames column {column}"
        nullable = _keyword(call, "nullable")
        not_null = isinstance(nullable, ast.Constant) and nullable.value is False
        if not_null and _is_none(_keyword(call, "server_default")):
            return f"makes {column} NOT NULL without a server_default"
        if _keyword(call, "type_") is not None and not _widens(call):
            return f"changes the type of {column} (not known to widen)"
    if name in ("execute", "exec_driver_sql") and call.args:
        sql = _contract_sql(_sql_of(call.args[0], constants))
        return f"runs {sql!r}" if sql else None
    return None


def contract_operations(
    func: ast.FunctionDef, constants: dict[str, str], lines: list[str] | None = None
) -> list[tuple[int, str]]:
    """(line, what) of each operation in ``func`` that the release before may not survive."""
    scan = _FunctionScan()
    for statement in func.body:
        scan.visit(statement)
    created = {_table_arg(n, t, c) for n, t, c in scan.operations if n == "create_table"}
    found = []
    for name, table, call in scan.operations:
        what = _contract_work(name, table, call, created, constants)
        if what and not (lines and "phase" in _acknowledged(lines, call.lineno)):
            found.append((call.lineno, what))
    return found


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "..."`` strings (the SQL revisions keep in constants)."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], _string(node.value)
            if isinstance(target, ast.Name) and value is not None:
                constants[target.id] = value
    return constants


def declared_phase(tree: ast.Module) -> tuple[str | None, int]:
    """The module-level ``phase`` and its line ((None, 1) when there is none)."""
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "phase" for t in targets):
            value = node.value
            return (value.value if isinstance(value, ast.Constant) else repr(value)), node.lineno
    return None, 1


def check_phase(path: str, tree: ast.Module, lines: list[str]) -> list[Finding]:
    phase, line = declared_phase(tree)
    if phase is None:
        message = f'declares no phase: add phase = "{EXPAND}" or "{CONTRACT}" after depends_on'
        return [Finding(path, line, "phase", message, "")]
    if phase not in PHASES:
        message = f'phase = {phase!r} is neither "{EXPAND}" nor "{CONTRACT}": choose one'
        return [Finding(path, line, "phase", message, "")]
    if phase == CONTRACT:
        return []
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    if upgrade is None:
        return []
    return [
        Finding(
            path,
            lineno,
            "phase",
            f'{what}: contract work in a revision that declares phase = "{EXPAND}" '
            f'(line {line}); declare phase = "{CONTRACT}" (applied after the deploy), or '
            "split it: the expand part now, this part in a later release",
            "upgrade",
        )
        for lineno, what in contract_operations(upgrade, _module_constants(tree), lines)
    ]


def phase_for_template(upgrades: str) -> str:
    """The phase a new revision's operations call for (the revision template's ``phase``)."""
    body = textwrap.indent(upgrades.strip() or "pass", "    ")
    func = ast.parse(f"def upgrade():\n{body}\n").body[0]
    if all(isinstance(statement, ast.Pass) for statement in func.body):
        return PHASE_PLACEHOLDER  # nothing written yet: the author decides, the lint insists
    return CONTRACT if contract_operations(func, {}) else EXPAND
