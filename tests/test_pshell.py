"""``pshell development.ini``: the shell's environment."""

from __future__ import annotations

from pyramid.scripting import prepare
from sqlalchemy import func, select

from pypi_web import models
from pypi_web.pshell import setup


def test_shell_has_a_session_in_a_transaction_and_the_models(app):
    env = prepare(registry=app.registry)
    try:
        setup(env)
        assert env["models"] is models
        assert env["Package"] is models.Package and env["Release"] is models.Release
        assert env["package_classifiers"] is models.package_classifiers
        assert env["tm"] is env["request"].tm
        # The session works and is joined to the shell's transaction manager.
        dbsession = env["dbsession"]
        assert dbsession.scalar(select(func.count()).select_from(env["Package"])) == 96
        assert env["tm"].get() is not None
    finally:
        env["tm"].abort()
        env["closer"]()
