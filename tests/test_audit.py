"""request.client_address: the one address audit events, throttling and uploads record."""

from __future__ import annotations

from pyramid.interfaces import IRequestExtensions
from pyramid.request import Request, apply_request_extensions


def request_from(app, remote_addr: str | None) -> Request:
    environ = {} if remote_addr is None else {"REMOTE_ADDR": remote_addr}
    request = Request.blank("/", environ=environ)
    request.registry = app.registry
    apply_request_extensions(request, app.registry.queryUtility(IRequestExtensions))
    return request


def test_the_client_address_is_remote_addr_cut_to_the_column(app):
    assert request_from(app, "203.0.113.9").client_address == "203.0.113.9"
    long_address = "2001:db8:" + "1" * 60
    assert request_from(app, long_address).client_address == long_address[:45]


def test_no_address_is_none(app):
    request = request_from(app, None)
    request.environ.pop("REMOTE_ADDR", None)
    assert request.client_address is None
