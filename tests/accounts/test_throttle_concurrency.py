"""Wrong passwords sent all at once, each request committing on its own connection."""

from __future__ import annotations

from pypi_web.accounts import throttle

from ..conftest import run_at_once
from ..factories import ACCOUNT_PASSWORD
from .helpers import csrf_token, log_in

ATTACKER = "203.0.113.66"
CONCURRENT_GUESSES = 40


def _guess(client, token: str):
    return client.post(
        "/account/login/",
        {"username": "besieged", "password": "wrong guess", "csrf_token": token},
        extra_environ={"REMOTE_ADDR": ATTACKER},
        expect_errors=True,
    )


def test_concurrent_guesses_check_no_more_than_the_limit(committing_site):
    site = committing_site
    site.make_user("besieged")
    clients = [site.client(ATTACKER) for _ in range(CONCURRENT_GUESSES)]
    tokens = [csrf_token(client.get("/account/login/")) for client in clients]
    results = run_at_once(
        *(lambda c=c, t=t: _guess(c, t) for c, t in zip(clients, tokens, strict=True))
    )
    statuses = [r.status_int for r in results]
    checked = statuses.count(400)
    assert checked == throttle.MAX_FAILURES_PER_USERNAME, statuses
    assert statuses.count(429) == CONCURRENT_GUESSES - checked, statuses

    # The owner, from an address of their own, is not locked out.
    assert log_in(site.client("192.0.2.10"), "besieged", ACCOUNT_PASSWORD).status_int == 303
    # The attacker's address still is, even with the right password.
    assert log_in(site.client(ATTACKER), "besieged", ACCOUNT_PASSWORD).status_int == 429
