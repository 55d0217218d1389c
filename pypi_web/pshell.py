"""``pshell development.ini``: an interactive shell with the database at hand.

development.ini names ``setup`` in its ``[pshell]`` section. The shell gets
``dbsession`` (joined to ``tm``, the request's transaction manager), ``tm``,
``models`` and every model class by name. Nothing is written until
``tm.commit()``; ``tm.abort()`` throws changes away.
"""

from __future__ import annotations

from pypi_web import models


def setup(env: dict) -> None:
    request = env["request"]
    # pyramid_tm's explicit manager needs a transaction begun before the
    # session is used, as a request would have.
    request.tm.begin()
    env["tm"] = request.tm
    env["dbsession"] = request.dbsession
    env["models"] = models
    for name in models.__all__:
        attribute = getattr(models, name)
        if isinstance(attribute, type) and issubclass(attribute, models.Base):
            env[name] = attribute
    env["package_classifiers"] = models.package_classifiers
