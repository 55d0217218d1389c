"""The cache's store: rendered pages in a least-recently-used dict bounded in bytes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Bytes of Python objects per kept page besides its text (tuples, dict slot, key):
# about 2 kB by tracemalloc, so the bound holds for small pages too.
ENTRY_OVERHEAD = 2048
# One page may take at most this share of the cache: a huge page would evict everything.
MAX_ENTRY_SHARE = 16


@dataclass(frozen=True)
class UpstreamCopy:
    """What a view tells the cache of a page copied from an upstream index."""

    # time.time() when the upstream last confirmed the page: its Age counts from then.
    fetched_at: float
    # Seconds from now that the copy stays fresh (the upstream TTL left): kept no longer.
    fresh_for: float
    # Headers that differ when the page is served again from here (their new values).
    on_hit: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CachedPage:
    dependency: tuple
    expires: float | None
    status: str
    headerlist: tuple[tuple[str, str], ...]
    body: bytes
    # An upstream copy's fetch time (time.time()): its Age is added when served.
    fetched_at: float | None = None

    @property
    def size(self) -> int:
        # The body, the header text, and the Python objects around them and the key.
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headerlist) + ENTRY_OVERHEAD


class PageCache:
    """A byte-bounded LRU of rendered pages; safe to share between threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // MAX_ENTRY_SHARE
        self._entries: OrderedDict[tuple, CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def get_stale(self, key: tuple) -> CachedPage | None:
        """The page kept for ``key``, current or not (the database is away)."""
        with self._lock:
            return self._entries.get(key)

    def get(self, key: tuple, is_current: Callable[[tuple], bool]) -> CachedPage | None:
        """The page kept for ``key`` if ``is_current(its dependency)`` and not expired."""
        with self._lock:
            page = self._entries.get(key)
            if (
                page is not None
                and is_current(page.dependency)
                and (page.expires is None or time.monotonic() < page.expires)
            ):
                self._entries.move_to_end(key)
                return page
            return None

    def put(self, key: tuple, page: CachedPage) -> None:
        size = page.size
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
