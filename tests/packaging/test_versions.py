"""Release ordering: PEP 440 as pip orders it, legacy versions below, exactly as published."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pypi_web.packaging import versions


def ordered(*items: str) -> list[str]:
    shuffled = list(items)
    random.Random(0).shuffle(shuffled)
    orders = versions.sort_orders(shuffled)
    return sorted(orders, key=orders.__getitem__)


def test_pre_releases_come_before_the_release():
    history = ["1.0.dev1", "1.0a1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.post1", "1.1"]
    assert ordered(*history) == history


def test_dev_releases_of_pre_and_post_releases():
    history = ["1.0a1.dev1", "1.0a1", "1.0", "1.0.post1.dev1", "1.0.post1"]
    assert ordered(*history) == history


def test_numbers_compare_numerically():
    assert ordered("1.10", "1.9", "1.2", "10.0") == ["1.2", "1.9", "1.10", "10.0"]


def test_epochs_win_over_everything():
    assert ordered("1!0.1", "2018.1", "2!0.0.1", "999") == ["999", "2018.1", "1!0.1", "2!0.0.1"]


def test_legacy_versions_sort_below_every_pep440_version():
    assert ordered("0.0.1", "2004d", "0.9-doduo", "0.1.dev0") == [
        "0.9-doduo",
        "2004d",
        "0.0.1",
        "0.1.dev0",
    ]


def test_legacy_versions_among_themselves():
    # pytz's old letter releases and paramiko's Pokémon: by number, then by letters.
    assert ordered("2005e", "2004d", "2004k", "2010h") == ["2004d", "2004k", "2005e", "2010h"]
    assert ordered("0.10d", "0.9d") == ["0.9d", "0.10d"]
    assert ordered("0.9-eevee", "0.9-doduo", "0.1-charmander") == [
        "0.1-charmander",
        "0.9-doduo",
        "0.9-eevee",
    ]


def test_equal_versions_keep_a_stable_order():
    # "0.12.01" and "0.12.1" are one PEP 440 version but two published releases.
    assert ordered("0.12.1", "0.12.01", "0.12.2") == ["0.12.01", "0.12.1", "0.12.2"]
    assert versions.sort_orders(["0.12.1", "0.12.01"]) == versions.sort_orders(
        ["0.12.01", "0.12.1"]
    )


@pytest.mark.parametrize(
    ("version", "canonical", "prerelease", "legacy"),
    [
        ("1.0.0-alpha1", "1.0.0a1", True, False),
        ("3.2.3-2", "3.2.3.post2", False, False),
        ("1.0.dev3", "1.0.dev3", True, False),
        ("V1.0", "1.0", False, False),
        ("2004d", "2004d", False, True),
        ("0.14.1rc1.dev-205726a", "0.14.1rc1.dev-205726a", False, True),
    ],
)
def test_canonical_form_and_kind(version, canonical, prerelease, legacy):
    assert versions.canonical_version(version) == canonical
    assert versions.is_prerelease(version) is prerelease
    assert versions.is_legacy(version) is legacy


def test_equality_key_matches_pep440_equal_versions_only():
    assert versions.equality_key("2.0") == versions.equality_key("2.0.0")
    assert versions.equality_key("v2.0") == versions.equality_key("2.0")
    assert versions.equality_key("2.0") != versions.equality_key("2.0.post0")
    assert versions.equality_key("2004d") == "2004d"


version_strings = st.one_of(
    st.from_regex(
        r"\A([0-9]!)?[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?(\.post[0-9])?"
        r"(\.dev[0-9])?\Z"
    ),
    st.text(alphabet="0123456789abcdz.-", min_size=1, max_size=8),
)


@given(st.lists(version_strings, min_size=1, max_size=12))
def test_sort_orders_is_a_total_order_independent_of_input_order(items):
    orders = versions.sort_orders(items)
    assert sorted(orders.values()) == list(range(len(set(items))))
    assert versions.sort_orders(list(reversed(items))) == orders
