from pypi_web import main
from pypi_web.templating import TEMPLATES, precompile_templates


def test_every_template_compiles(app):
    assert precompile_templates(app.registry) == len(list(TEMPLATES.rglob("*.pt")))


def test_production_setting_precompiles_at_start(dbengine, app_settings, monkeypatch):
    compiled = []
    monkeypatch.setattr("pypi_web.precompile_templates", lambda registry: compiled.append(registry))
    main({}, dbengine=dbengine, **app_settings, **{"templates.precompile": "true"})
    assert len(compiled) == 1


def test_no_template_is_compiled_while_serving(dbengine, app_settings, monkeypatch):
    """After the start-up compile, pages (layout included) render without compiling."""
    import webtest
    from chameleon.template import BaseTemplate

    app = main({}, dbengine=dbengine, **app_settings, **{"templates.precompile": "true"})
    compiled = []
    original = BaseTemplate.cook

    def cook(self, body):
        compiled.append(self.filename)
        return original(self, body)

    monkeypatch.setattr(BaseTemplate, "cook", cook)
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    for path in ("/", "/project/requests/", "/search/?q=web", "/classifiers/", "/about/"):
        client.get(path, status=200)
    client.get("/account/login/", status=200)
    client.get("/no/such/page/", status=404)
    assert compiled == []
