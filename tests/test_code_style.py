"""The code base stays ruff-clean: lint and formatting are part of the suite."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_is_clean(args):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


MAX_FUNCTION_LINES = 60
PACKAGE = ROOT / "pypi_web"
# Generated migration scripts are kept as written when they were reviewed.
NOT_WALKED = PACKAGE / "alembic" / "versions"


def _long_functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(NOT_WALKED):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"


def test_no_function_runs_over_60_lines():
    too_long = list(_long_functions())
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)
