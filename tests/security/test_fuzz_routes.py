"""Generated input thrown at every route the app registers: nothing answers 5xx.

Paths fill each route's placeholders with generated text (any Unicode, raw
invalid UTF-8, real project names and versions, huge strings); query strings
and form bodies mix the parameter names the site uses with generated ones.
POSTs go out both anonymous and logged in, with and without a valid CSRF
token, so the views behind the token check run too.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pypi_web.models import OWNER, Package, Release, Role

from ..accounts.helpers import csrf_token, log_in
from .conftest import percent_encode, placeholders, site_routes

PARAMETER_NAMES = [
    "q",
    "page",
    "c",
    "o",
    "next",
    "name",
    "version",
    "username",
    "password",
    "password_confirm",
    "email",
    "display_name",
    "description",
    "project",
    "current_password",
    "new_password",
    "new_password_confirm",
    ":action",
    "content",
    "sha256_digest",
]
NUMBERS = ["0", "-1", "1", "2", "99999999999999999999999", "1e309", "NaN", "0x10", "", " 1"]
# Moderate for CI (2 cores, both backends); raise it locally with
# PYPI_WEB_FUZZ_EXAMPLES=2000 for a deeper (and then random) search.
DEFAULT_EXAMPLES = 120
EXAMPLES = int(os.environ.get("PYPI_WEB_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES == DEFAULT_EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(max_size=40)
# Content negotiation (the simple API) parses Accept: real types, junk, nothing.
ACCEPT = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/vnd.pypi.simple.v1+json",
            "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            "application/json",
            "*/*;q=abc",
            ";;;,,,",
            "text/html;q=2",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)
raw_bytes = st.binary(max_size=24)
huge = st.sampled_from(["x" * 5000, "é" * 3000, "%" * 2000, "/" * 1000])


def as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


@st.composite
def segment(draw, real_values: list[str]) -> bytes:
    """One path placeholder's bytes, as they arrive in PATH_INFO (already unquoted)."""
    value = draw(
        st.one_of(
            st.sampled_from(real_values),
            text,
            raw_bytes,
            st.sampled_from(NUMBERS),
            huge,
            text.map(lambda t: t + "/" + t),
        )
    )
    return as_bytes(value)


@st.composite
def encoded_pairs(draw) -> bytes:
    """``a=b&c=d`` with generated names and values, percent-encoded or raw."""
    pairs = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(PARAMETER_NAMES), text, raw_bytes),
                st.one_of(st.sampled_from(NUMBERS), text, raw_bytes, huge),
            ),
            max_size=6,
        )
    )
    encode = draw(st.sampled_from(["percent", "raw"]))
    parts = []
    for name, value in pairs:
        name, value = as_bytes(name), as_bytes(value)
        if encode == "percent":
            parts.append(percent_encode(name) + b"=" + percent_encode(value))
        else:
            parts.append(name + b"=" + value)
    joined = b"&".join(parts)
    return draw(st.one_of(st.just(joined), st.just(joined + b"&&=%"), raw_bytes))


@pytest.fixture
def fuzz_targets(app, dbsession):
    """Routes plus real values for their placeholders (projects, versions)."""
    packages = list(dbsession.scalars(select(Package.name).order_by(Package.id).limit(5)))
    release_versions = list(dbsession.scalars(select(Release.version).limit(5)))
    real = {
        "name": packages,
        "version": release_versions,
        "username": ["fuzzer", "FUZZER"],
        "token_id": ["1", "2"],
    }
    default = [*packages, "fuzzer"]
    return [
        (route, {n: real.get(n, default) for n in placeholders(route)})
        for route in site_routes(app)
    ]


@st.composite
def request_for(draw, targets) -> tuple[str, bytes, bytes]:
    route, values = draw(st.sampled_from(targets))
    path = route.pattern if route.pattern.startswith("/") else "/" + route.pattern
    path_bytes = path.encode("utf-8")
    for name in placeholders(route):
        filler = draw(segment(values[name]))
        for token in (b"{" + name.encode() + b"}", b"*" + name.encode()):
            if token in path_bytes:
                path_bytes = path_bytes.replace(token, filler, 1)
                break
        else:
            # {name:regex}: replace the whole braced placeholder.
            start = path_bytes.index(b"{" + name.encode())
            end = path_bytes.index(b"}", start)
            path_bytes = path_bytes[:start] + filler + path_bytes[end + 1 :]
    return route.name, path_bytes, draw(encoded_pairs())


def check(response, description):
    assert response.status_code < 500, f"{description} -> {response.status}"
    assert "Content-Security-Policy" in response.headers, description
    # What a real server (waitress) insists on, or it answers 500 itself.
    for name, value in response.headerlist:
        value.encode("latin-1")
        assert not any(ord(ch) < 0x20 for ch in value), (description, name, value)


def test_generated_gets_never_answer_5xx(raw_client, fuzz_targets):
    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data):
        name, path, query = data.draw(request_for(fuzz_targets))
        accept = data.draw(ACCEPT)
        headers = {"Accept": accept} if accept is not None else {}
        response = raw_client.request("GET", path, query, headers=headers)
        check(response, f"GET {name} {path!r}?{query!r} Accept: {accept!r}")

    run()


@pytest.fixture
def sessions(testapp, make_user, dbsession):
    """Cookie headers and CSRF tokens for an anonymous and a logged-in client."""
    anonymous = testapp.get("/account/login/")
    anonymous_pair = (f"session={testapp.cookies['session']}", csrf_token(anonymous))
    testapp.reset()
    fuzzer = make_user("fuzzer")
    # An owner of real projects, so the management views run past their permission check.
    for package in dbsession.scalars(select(Package).order_by(Package.id).limit(5)):
        dbsession.add(Role(user=fuzzer, package=package, role_name=OWNER))
    dbsession.flush()
    log_in(testapp, "fuzzer")
    logged_in = testapp.get("/account/")
    return [anonymous_pair, (f"session={testapp.cookies['session']}", csrf_token(logged_in))]


def test_generated_posts_never_answer_5xx(raw_client, fuzz_targets, sessions):
    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data):
        name, path, query = data.draw(request_for(fuzz_targets))
        cookie, token = data.draw(st.sampled_from(sessions))
        body = data.draw(encoded_pairs())
        if data.draw(st.booleans()):
            body = b"csrf_token=" + token.encode() + b"&" + body
        content_type = data.draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=xyz",
                    "application/json",
                    "text/plain; charset=latin-1",
                ]
            )
        )
        if content_type.startswith("multipart"):
            body = (
                b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n\r\n'
                + body
                + (b"\r\n--xyz--\r\n")
            )
        response = raw_client.request(
            "POST", path, query, body, content_type, headers={"Cookie": cookie}
        )
        check(response, f"POST {name} {path!r}?{query!r} {content_type} {body[:200]!r}")

    run()


def test_every_route_was_reachable(fuzz_targets):
    """Guard against the fuzzing silently covering nothing (e.g. no routes found)."""
    names = {route.name for route, _ in fuzz_targets}
    assert {"home", "project", "release", "login", "register", "account", "profile"} <= names
