"""pytest-alembic's own tests of the history, on SQLite and on Postgres.

The kit's built-in tests, imported rather than collected by its plugin (see
pytest.ini), with its ``alembic_config`` and ``alembic_engine`` fixtures from
tests/migrations/conftest.py: the project's migrations, env.py handed an
Engine (``config.attributes["connection"]``), an empty database per test.

  test_single_head_revision         exactly one head
  test_upgrade                      base to head on an empty database
  test_model_definitions_match_ddl  autogenerate finds nothing at head (`alembic check`)
  test_up_down_consistency          every revision down, then up again
  test_all_models_register_on_metadata  importing pypi_web.models registers every model
"""

from __future__ import annotations

from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from pytest_alembic.tests.experimental import (
    test_all_models_register_on_metadata as all_models_register_on_metadata,
)

from pypi_web.migrations import head_revision

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


def test_all_models_register_on_metadata(alembic_runner):
    all_models_register_on_metadata(alembic_runner, "pypi_web.models")


def test_the_kit_reaches_the_true_head(alembic_runner):
    """The kit's runs apply the whole history, or its tests would prove a part of it."""
    alembic_runner.migrate_up_to("heads", return_current=False)
    assert alembic_runner.current == head_revision(), (
        "pytest-alembic stopped short of the head: make full_history_config() "
        "(tests/migrations/conftest.py) apply every revision"
    )
