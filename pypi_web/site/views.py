from pyramid.view import view_config

from . import services


@view_config(route_name="home", renderer="pypi_web:templates/site/home.pt")
def home(request):
    return {"stats": services.site_stats(request.dbsession)}
