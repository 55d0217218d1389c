"""The search page."""

from __future__ import annotations

from urllib.parse import urlencode

from pyramid.view import view_config

from . import services

RENDERER = "pypi_web:templates/search/results.pt"
MAX_QUERY_LENGTH = 1000


def _page_number(request) -> tuple[int, str | None]:
    """The requested page and, when it cannot be served, why."""
    raw = request.params.get("page", "").strip()
    if not raw:
        return 1, None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return 1, f"The page number must be a whole number from 1 to {services.MAX_PAGE}."
    page = int(raw)
    if not 1 <= page <= services.MAX_PAGE:
        return 1, (
            f"The page number must be from 1 to {services.MAX_PAGE}: "
            f"only the first {services.MAX_PAGE * services.PAGE_SIZE:,} results are shown."
        )
    return page, None


def page_url(
    request, results: services.SearchResults, page: int, without: str | None = None
) -> str:
    params = []
    if results.query.text:
        params.append(("q", results.query.text))
    params.extend(("c", c) for c in results.classifiers if c != without)
    if page > 1:
        params.append(("page", str(page)))
    return request.route_path("search") + ("?" + urlencode(params) if params else "")


@view_config(route_name="search", renderer=RENDERER)
def search(request):
    text = request.params.get("q", "")
    classifiers = [c.strip() for c in request.params.getall("c") if c.strip()]
    page, error = _page_number(request)
    if len(text) > MAX_QUERY_LENGTH:
        error = f"The search query is longer than {MAX_QUERY_LENGTH:,} characters."
        text = text[:MAX_QUERY_LENGTH]
    query = services.parse_query(text)
    results = services.SearchResults(query=query, classifiers=classifiers, page=page, total=0)
    if error:
        request.response.status = 400
    elif query.searchable or classifiers:
        results = services.search(request.dbsession, query, classifiers, page)
    return {
        "results": results,
        "error": error,
        # Words were typed but none can be searched ("%%%", a lone "-").
        "nothing_searchable": bool(query.text) and not query.searchable and not error,
        "ignored_classifiers": len(classifiers) > services.MAX_CLASSIFIERS,
        "page_url": lambda page: page_url(request, results, page),
        "without_classifier_url": lambda c: page_url(request, results, 1, without=c),
        "max_page": services.MAX_PAGE,
    }
