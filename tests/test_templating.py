from pypi_web import main
from pypi_web.templating import TEMPLATES, precompile_templates


def test_every_template_compiles(app):
    assert precompile_templates(app.registry) == len(list(TEMPLATES.rglob("*.pt")))


def test_production_setting_precompiles_at_start(dbengine, app_settings, monkeypatch):
    compiled = []
    monkeypatch.setattr("pypi_web.precompile_templates", lambda registry: compiled.append(registry))
    main({}, dbengine=dbengine, **app_settings, **{"templates.precompile": "true"})
    assert len(compiled) == 1
