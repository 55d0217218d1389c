"""Journey 2, publish with the other clients people use: uv, poetry, hatch and pdm.

Each publishes an sdist and a wheel of a project of its own to the loopback
server with an API token; the JSON API, /simple/ and the project page then
list exactly those files, with the hashes of the local ones.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from .conftest import run, tool

V1_JSON = "application/vnd.pypi.simple.v1+json"

pytestmark = pytest.mark.slow


# Each client's own command line (no argument holds a space).


def uv_publish(server, token, built):
    options = f"--publish-url {server.upload_url} --trusted-publishing never"
    return [[tool("uv"), "publish", *options.split(), "-u", "__token__", "-p", token, *built.files]]


def poetry_publish(server, token, built):
    # The repository is configured as a user would, in poetry's own config (a temp dir here).
    return [
        [tool("poetry"), "config", "repositories.journeys", server.upload_url],
        [tool("poetry"), "publish", "-r", "journeys", "-n", "-u", "__token__", "-p", token],
    ]


def hatch_publish(server, token, built):
    options = f"-r {server.upload_url} --no-prompt -u __token__ -a"
    return [[tool("hatch"), "publish", *options.split(), token, *built.files]]


def pdm_publish(server, token, built):
    # --no-build: the files already in dist/, built once for the session.
    options = f"--no-build -r {server.upload_url} -u __token__ -P"
    return [[tool("pdm"), "publish", *options.split(), token]]


# pdm 2.29's upload form carries the License field only, not License-Expression.
SENDS_LICENSE_EXPRESSION = {"uv", "poetry", "hatch"}
PUBLISHERS = {
    "uv": uv_publish,
    "poetry": poetry_publish,
    "hatch": hatch_publish,
    "pdm": pdm_publish,
}


@pytest.mark.parametrize("client", sorted(PUBLISHERS))
def test_publish_with(client, journey_server, journey_dists, client_env, client_versions):
    server = journey_server
    built = journey_dists[(f"journey-{client}", "1.0")]
    token = server.user_with_token("publishers")
    for command in PUBLISHERS[client](server, token, built):
        run(command, env=client_env, cwd=built.root)

    local = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in built.files}
    document = server.json(f"/pypi/journey-{client}/json")
    assert document["info"]["version"] == "1.0"
    assert document["info"]["summary"] == built.project.summary
    if client in SENDS_LICENSE_EXPRESSION:
        assert document["info"]["license_expression"] == "MIT"
    assert {f["filename"]: f["digests"]["sha256"] for f in document["urls"]} == local
    assert document["ownership"]["roles"] == [{"role": "Owner", "user": "publishers"}]

    status, content_type, body = server.get(f"/simple/journey-{client}/", accept=V1_JSON)
    assert (status, content_type) == (200, V1_JSON)
    simple = json.loads(body)
    assert {f["filename"]: f["hashes"]["sha256"] for f in simple["files"]} == local
    assert all(f["core-metadata"] for f in simple["files"] if f["filename"].endswith(".whl"))

    status, _, page = server.get(f"/project/journey-{client}/")
    assert status == 200
    for filename in local:
        assert filename.encode() in page
