"""The page cache's store: bounded in bytes, least recently used out, current or expired."""

from __future__ import annotations

import pypi_web.cache.store as store
from pypi_web.cache.store import CachedPage, PageCache


def page(body: bytes, dependency=("project", 1, 1), expires=None) -> CachedPage:
    return CachedPage(dependency, expires, "200 OK", (), body)


def test_cache_is_bounded_in_bytes_least_recently_used_out():
    cache = PageCache(max_bytes=160_000)
    body = b"x" * 3000
    for n in range(5):
        cache.put(("page", n), page(body))
    assert cache.get(("page", 0), ("project", 1, 1).__eq__) is not None  # now the most recent
    for n in range(5, 40):
        cache.put(("page", n), page(body))
    assert len(cache) < 40
    assert cache.size_bytes <= 160_000
    assert cache.get(("page", 1), ("project", 1, 1).__eq__) is None
    assert cache.get(("page", 0), ("project", 1, 1).__eq__) is None  # used, but long ago
    assert cache.get(("page", 39), ("project", 1, 1).__eq__) is not None
    # One page may not take more than a sixteenth of the whole.
    cache.put(("huge",), page(b"x" * 10_000))
    assert cache.get(("huge",), ("project", 1, 1).__eq__) is None


def test_entries_answer_only_for_their_serial_and_until_they_expire(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(store.time, "monotonic", lambda: now[0])
    cache = PageCache(max_bytes=100_000)
    cache.put(("home",), page(b"home", dependency=("index", 7), expires=1060.0))
    assert cache.get(("home",), ("index", 8).__eq__) is None
    assert cache.get(("home",), ("index", 7).__eq__).body == b"home"
    now[0] = 1060.0
    assert cache.get(("home",), ("index", 7).__eq__) is None
